// The `netrx` workload: packets arriving on the simulated NIC (eth0). Its
// interrupt (threaded on PREEMPT_RT) schedules NAPI; NET_RX_SOFTIRQ polls a
// batch of packets, running the device's XDP program on each (in softirq,
// under rcu_read_lock, no recursion counter: bpf_prog_run_xdp) and, for
// packets XDP lets through, the tc ingress programs (tcx) before the stack
// (__netif_receive_skb_core).

import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { NET_RX_SOFTIRQ } from "../kernel/softirq.ts";
import { rcu_read_lock, rcu_read_unlock } from "../kernel/context.ts";
import { bpf_prog_run } from "../bpf/core.ts";
import type { EventCounter } from "./summary.ts";
import { inSpan, type Workload, type WorkloadParams, type WorkloadSpan } from "./workload.ts";

const P_NET_RX = definePoint("net_rx_action", "net/core/dev.c", "NET_RX_SOFTIRQ: poll the NAPI instances");
const P_RECEIVE = definePoint("__netif_receive_skb_core", "net/core/dev.c", "hand a packet to the stack");
const P_XDP = definePoint("bpf_prog_run_xdp", "include/net/xdp.h", "run the device's XDP program on a frame");

/** XDP_PASS */
const XDP_PASS = 2;

/** The workload. */
export const netrxWorkload: Workload = {
  name: "netrx",
  summary: "packets on eth0: NIC irq, NAPI in NET_RX_SOFTIRQ, XDP and tc ingress programs per packet",
  params: { pps: 1_000_000, batch: 8 },
  start(k: Kernel, span: WorkloadSpan, p: WorkloadParams, events: EventCounter): string | null {
    const pps = Number(p.pps ?? 1_000_000);
    const batch = Number(p.batch ?? 8);
    if (!Number.isInteger(pps) || pps < 1 || pps > 100_000_000) return `pps must be 1-100000000, got ${p.pps}`;
    if (!Number.isInteger(batch) || batch < 1 || batch > 64) return `batch must be 1-64 (NAPI weight), got ${p.batch}`;
    const period = (1e9 * batch) / pps;
    const hooks = k.bpf.hooks;
    const args = new Float64Array(6);
    for (const cpu of span.cpus) {
      let n = 0;
      const poll = () => {
        k.point(P_NET_RX);
        for (let i = 0; i < batch && inSpan(span, n, k.cur.clock); i++) {
          n++;
          events.n++;
          args[0] = 64; // frame length
          args[1] = n;
          let verdict = XDP_PASS;
          rcu_read_lock(k);
          for (const l of hooks.xdp) {
            if (l.detached) continue;
            k.point(P_XDP);
            l.hits++;
            // op programs return 0 (XDP_ABORTED would drop): bpfsim treats their result as XDP_PASS
            const r = bpf_prog_run(k, l.prog, args);
            if (l.prog.body.lang === "ts") verdict = r;
          }
          if (verdict === XDP_PASS) {
            for (const l of hooks.tc) {
              if (l.detached) continue;
              l.hits++;
              bpf_prog_run(k, l.prog, args);
            }
            k.point(P_RECEIVE);
          }
          rcu_read_unlock(k);
        }
      };
      const irq = (t: number) => {
        k.raiseIrq(cpu, t, "eth0", () => {
          k.softirq.raise(k.cur, NET_RX_SOFTIRQ, poll);
          if (inSpan(span, n + batch, t + period)) irq(t + period);
        });
      };
      irq(Math.max(span.start, k.cpus[cpu].clock) + period);
    }
    return null;
  },
};
