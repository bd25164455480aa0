// The `perf` workload: sampling perf events (kernel/events/core.c). For each
// attached perf_event link, an overflow on every sampled CPU at the link's
// frequency: a PMU NMI for hardware events (it lands wherever the CPU is,
// locks held or not), an hrtimer hardirq for software clock events. The
// overflow runs the link's program through bpf_overflow_handler().

import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { TP_HRTIMER_EXPIRE_ENTRY } from "../kernel/tracepoint.ts";
import { bpf_overflow_handler } from "../bpf/bpf_trace.ts";
import type { BpfLink } from "../bpf/link.ts";
import type { EventCounter } from "./summary.ts";
import { inSpan, type Workload, type WorkloadParams, type WorkloadSpan } from "./workload.ts";

const P_OVERFLOW = definePoint("perf_event_overflow", "kernel/events/core.c", "a perf event overflowed (a sample)");

/** Samples `link` on `cpu` every `period` ns while the span lasts. */
function sample(k: Kernel, link: BpfLink, cpu: number, period: number, span: WorkloadSpan, events: EventCounter): void {
  const sw = link.target.hook === "perf_event" && link.target.sw;
  let n = 0;
  const args = new Float64Array(6);
  const next = (t: number) => {
    const handler = () => {
      n++;
      events.n++;
      const c = k.cur;
      if (sw) k.tracepoint(TP_HRTIMER_EXPIRE_ENTRY, cpu, c.clock);
      k.point(P_OVERFLOW);
      args[0] = c.siteId; // the sampled instruction pointer: the function that was interrupted
      bpf_overflow_handler(k, link, args);
      if (!link.detached && inSpan(span, n, t + period)) next(t + period);
    };
    if (sw) k.raiseIrq(cpu, t, "perf-hrtimer", handler, { threadedOnRt: false });
    else k.raiseNmi(cpu, t, "perf NMI", handler);
  };
  if (inSpan(span, 0, span.start)) next(Math.max(span.start, k.cpus[cpu].clock) + period);
}

/**
 * A PMU's overflow NMIs on `cpu` every `period` ns from `at` while
 * `more(n, t)` holds: perf_event_overflow is entered in NMI context (where
 * kprobe programs can attach even on kernels without perf_event programs).
 */
export function startPmuNmis(
  k: Kernel,
  cpu: number,
  at: number,
  period: number,
  more: (n: number, t: number) => boolean,
  onNmi: () => void,
): void {
  let n = 0;
  const next = (t: number) => {
    k.raiseNmi(cpu, t, "perf NMI", () => {
      n++;
      onNmi();
      k.point(P_OVERFLOW);
      if (more(n, t + period)) next(t + period);
    });
  };
  if (more(0, at)) next(at);
}

/** The workload. */
export const perfWorkload: Workload = {
  name: "perf",
  summary: "sampling perf events: each perf_event link's NMIs (or hrtimer irqs) at its frequency",
  params: {},
  start(k: Kernel, span: WorkloadSpan, _p: WorkloadParams, events: EventCounter): string | null {
    const links = k.bpf.hooks.perf;
    if (!links.length) return "no perf_event link is attached (link create PROG perf_event [freq HZ] [cpu N])";
    for (const l of links) {
      if (l.target.hook !== "perf_event") continue;
      const period = 1e9 / l.target.freq;
      for (const cpu of span.cpus) {
        if (l.target.cpu >= 0 && l.target.cpu !== cpu) continue;
        sample(k, l, cpu, period, span, events);
      }
    }
    return null;
  },
};
