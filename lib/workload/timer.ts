// The `timer` workload: the periodic tick on each CPU (kernel/time/
// tick-sched.c): a hardirq at HZ (never threaded, even on PREEMPT_RT) that
// runs the hrtimer (timer:hrtimer_expire_entry), lets the scheduler check for
// a task to preempt the current one (scheduler_tick), and raises
// TIMER_SOFTIRQ, whose handler runs at irq exit (ksoftirqd on PREEMPT_RT).

import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { TIMER_SOFTIRQ } from "../kernel/softirq.ts";
import { TP_HRTIMER_EXPIRE_ENTRY } from "../kernel/tracepoint.ts";
import type { EventCounter } from "./summary.ts";
import { inSpan, type Workload, type WorkloadParams, type WorkloadSpan } from "./workload.ts";

const P_TICK = definePoint("tick_sched_timer", "kernel/time/tick-sched.c", "the periodic scheduler tick (hardirq)");
const P_RUN_TIMERS = definePoint(
  "run_timer_softirq",
  "kernel/time/timer.c",
  "TIMER_SOFTIRQ: expired timer wheel entries",
);

/** Starts a tick on `cpu` every `period` ns from `at` while `more(n, t)` holds for the n-th tick at time t. */
export function startTick(
  k: Kernel,
  cpu: number,
  at: number,
  period: number,
  more: (n: number, t: number) => boolean,
  onTick: () => void,
): void {
  let n = 0;
  const tick = (t: number) => {
    k.raiseIrq(cpu, t, "timer", () => {
      const c = k.cur;
      n++;
      onTick();
      k.tracepoint(TP_HRTIMER_EXPIRE_ENTRY, cpu, c.clock);
      k.point(P_TICK);
      k.schedulerTick(c);
      k.softirq.raise(c, TIMER_SOFTIRQ, () => k.point(P_RUN_TIMERS));
      if (more(n, t + period)) tick(t + period);
    }, { threadedOnRt: false });
  };
  if (more(0, at)) tick(at);
}

/** The workload. */
export const timerWorkload: Workload = {
  name: "timer",
  summary: "the scheduler tick: a hardirq at HZ per CPU, its hrtimer and TIMER_SOFTIRQ",
  params: { hz: 1000 },
  start(k: Kernel, span: WorkloadSpan, p: WorkloadParams, events: EventCounter): string | null {
    const hz = Number(p.hz ?? 1000);
    if (!Number.isInteger(hz) || hz < 1 || hz > 100_000) return `hz must be 1-100000, got ${p.hz}`;
    const period = 1e9 / hz;
    for (const cpu of span.cpus) {
      const at = Math.max(span.start, k.cpus[cpu].clock) + period;
      startTick(k, cpu, at, period, (n, t) => inSpan(span, n, t), () => events.n++);
    }
    return null;
  },
};
