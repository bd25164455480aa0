// The `syscall` workload: a task on each CPU making one system call after
// another (getpid by default), in task context: raw_syscalls:sys_enter and
// syscalls:sys_enter_NAME, the syscall function (a probe-able point), then
// the exit tracepoints. Programs on the tracepoints run at the top of the
// step, so they can stop between ops and let other CPUs run.

import { COST } from "../kernel/cost.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { SYSCALL_TPS, SYSCALLS, TP_SYS_ENTER, TP_SYS_EXIT } from "../kernel/tracepoint.ts";
import type { EventCounter } from "./summary.ts";
import { inSpan, type Workload, type WorkloadParams, type WorkloadSpan } from "./workload.ts";

/** __x64_sys_NAME points, one per simulated syscall (kprobe:__x64_sys_getpid ...). */
const SYS_POINTS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.keys(SYSCALLS).filter((n) => n !== "bpf").map((n) => [
    n,
    definePoint(`__x64_sys_${n}`, "arch/x86/entry/syscall_64.c", `the ${n}(2) system call`, { ret: true }),
  ]),
);

/** One system call in task context, as a step that may yield inside tracepoint programs. */
export function* syscallStep(k: Kernel, name: string): Generator<void, number, unknown> {
  const nr = SYSCALLS[name];
  const tps = SYSCALL_TPS[name];
  const hooks = k.bpf.hooks;
  const hooked = (id: number) => hooks.tpRaw[id] !== undefined || hooks.tpPerf[id] !== undefined;
  const args = new Float64Array(6);
  args[0] = nr;
  if (hooked(TP_SYS_ENTER)) yield* hooks.tracepointYield(TP_SYS_ENTER, args);
  if (hooked(tps.enter)) yield* hooks.tracepointYield(tps.enter, args);
  const p = SYS_POINTS[name];
  k.point(p);
  const cpu = k.cur;
  cpu.clock += COST.syscall;
  const ret = name === "getpid" ? (cpu.frames[0]?.pid ?? 0) : 0;
  k.pointRet(p, 0, ret);
  args[1] = ret;
  if (hooked(tps.exit)) yield* hooks.tracepointYield(tps.exit, args);
  if (hooked(TP_SYS_EXIT)) yield* hooks.tracepointYield(TP_SYS_EXIT, args);
  return ret;
}

/** The workload. */
export const syscallWorkload: Workload = {
  name: "syscall",
  summary: "a task per CPU making system calls (task context; syscalls:* and raw_syscalls tracepoints)",
  params: { name: "getpid" },
  start(k: Kernel, span: WorkloadSpan, p: WorkloadParams, events: EventCounter): string | null {
    const name = String(p.name ?? "getpid");
    if (!(name in SYS_POINTS)) return `unknown syscall '${name}' (known: ${Object.keys(SYS_POINTS).join(", ")})`;
    for (const cpu of span.cpus) {
      let n = 0;
      const comm = `wl-syscall/${cpu}`;
      const step = function* (): Generator<void, void, unknown> {
        const c = k.cur;
        if (c.clock < span.start) c.clock = span.start;
        if (!inSpan(span, n, c.clock)) return;
        n++;
        events.n++;
        yield* syscallStep(k, name);
        if (inSpan(span, n, k.cur.clock)) k.queueStep(cpu, step, { comm });
      };
      k.queueStep(cpu, step, { comm });
    }
    return null;
  },
};
