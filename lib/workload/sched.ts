// The `sched` workload: several tasks sharing each CPU, each doing a short
// burst of kernel work (a system call) per step, with the tick (HZ) letting
// a runnable task of equal or higher priority preempt the running one at
// its next preemption point: task preemption nested on the CPU, with
// sched:sched_switch at every switch. Priorities (SCHED_FIFO) can be given
// per task to make one task preempt the others at once.

import type { Kernel } from "../kernel/kernel.ts";
import type { EventCounter } from "./summary.ts";
import { syscallStep } from "./syscall.ts";
import { startTick } from "./timer.ts";
import { inSpan, type Workload, type WorkloadParams, type WorkloadSpan } from "./workload.ts";

/** The workload. */
export const schedWorkload: Workload = {
  name: "sched",
  summary: "tasks sharing each CPU (system calls), the tick preempting them; sched_switch per switch",
  params: { tasks: 3, hz: 1000, name: "getpid", rtprio: 0 },
  start(k: Kernel, span: WorkloadSpan, p: WorkloadParams, events: EventCounter): string | null {
    const tasks = Number(p.tasks ?? 3);
    const hz = Number(p.hz ?? 1000);
    const rtprio = Number(p.rtprio ?? 0);
    const name = String(p.name ?? "getpid");
    if (!Number.isInteger(tasks) || tasks < 1 || tasks > 64) return `tasks must be 1-64, got ${p.tasks}`;
    if (!Number.isInteger(hz) || hz < 1 || hz > 100_000) return `hz must be 1-100000, got ${p.hz}`;
    if (!Number.isInteger(rtprio) || rtprio < 0 || rtprio > 99) return `rtprio must be 0-99, got ${p.rtprio}`;
    for (const cpu of span.cpus) {
      let n = 0;
      for (let t = 0; t < tasks; t++) {
        const comm = `wl-sched/${cpu}.${t}`;
        // the last task runs SCHED_FIFO at rtprio when one is given
        const prio = rtprio && t === tasks - 1 ? rtprio : 0;
        const step = function* (): Generator<void, void, unknown> {
          const c = k.cur;
          if (c.clock < span.start) c.clock = span.start;
          if (!inSpan(span, n, c.clock)) return;
          n++;
          events.n++;
          yield* syscallStep(k, name);
          if (inSpan(span, n, k.cur.clock)) k.queueStep(cpu, step, { comm, prio });
        };
        k.queueStep(cpu, step, { comm, prio });
      }
      const period = 1e9 / hz;
      // the tick runs while this CPU's tasks have work left
      const more = (_n: number, t: number) => inSpan(span, n, t);
      startTick(k, cpu, Math.max(span.start, k.cpus[cpu].clock) + period, period, more, () => {});
    }
    return null;
  },
};
