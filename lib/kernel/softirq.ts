// Softirqs (kernel/softirq.c): per-CPU pending bits raised from interrupts
// or tasks, run at irq_exit(), at local_bh_enable() and between steps on
// !PREEMPT_RT; on PREEMPT_RT they run in task context (ksoftirqd or the
// thread that raised them), so they are preemptible and may take sleeping locks.

import { COST } from "./cost.ts";
import { enterSoftirq, leaveSoftirq } from "./context.ts";
import type { Cpu } from "./cpu.ts";
import type { Kernel } from "./kernel.ts";
import { snapshotClasses } from "./snapshot.ts";
import { TP_SOFTIRQ_ENTRY } from "./tracepoint.ts";

/** Softirq vectors (include/linux/interrupt.h). */
export const HI_SOFTIRQ = 0;
export const TIMER_SOFTIRQ = 1;
export const NET_TX_SOFTIRQ = 2;
export const NET_RX_SOFTIRQ = 3;
export const BLOCK_SOFTIRQ = 4;
export const IRQ_POLL_SOFTIRQ = 5;
export const TASKLET_SOFTIRQ = 6;
export const SCHED_SOFTIRQ = 7;
export const HRTIMER_SOFTIRQ = 8;
export const RCU_SOFTIRQ = 9;
export const NR_SOFTIRQS = 10;

/** Names as /proc/softirqs prints them. */
export const SOFTIRQ_NAMES = [
  "HI",
  "TIMER",
  "NET_TX",
  "NET_RX",
  "BLOCK",
  "IRQ_POLL",
  "TASKLET",
  "SCHED",
  "HRTIMER",
  "RCU",
] as const;

/** MAX_SOFTIRQ_RESTART */
const MAX_SOFTIRQ_RESTART = 10;

/** The softirq subsystem of one kernel. */
export class Softirq {
  /** Work queued per CPU per vector by raise(): run by that vector's handler. */
  private readonly work: (() => void)[][][];
  /** Invocation counts per CPU per vector (/proc/softirqs). */
  readonly counts: number[][];

  /** Softirq state of kernel `k`: no work queued, all counts 0. */
  constructor(private readonly k: Kernel) {
    this.work = k.cpus.map(() => Array.from({ length: NR_SOFTIRQS }, () => []));
    this.counts = k.cpus.map(() => new Array(NR_SOFTIRQS).fill(0));
  }

  /**
   * raise_softirq() on `cpu`, optionally with a callback to run in that
   * vector (how workloads get code into softirq context).
   */
  raise(cpu: Cpu, vec: number, fn?: () => void): void {
    if (fn) this.work[cpu.id][vec].push(fn);
    const was = cpu.softirqPending;
    cpu.softirqPending |= 1 << vec;
    if (this.k.config.preemptRt && was === 0) {
      this.k.wakeThread(cpu, { name: `ksoftirqd/${cpu.id}`, kind: "softirq", prio: 0, fn: () => this.run(cpu, true) });
    }
  }

  /** invoke_softirq()/do_softirq(): runs what is pending on the current CPU. */
  invoke(cpu: Cpu): void {
    if (this.k.config.preemptRt) return; // the ksoftirqd thread work does it
    this.run(cpu, false);
  }

  /** __do_softirq(): run pending vectors, restarting a bounded number of times. */
  run(cpu: Cpu, threaded: boolean): void {
    for (let restart = 0; restart < MAX_SOFTIRQ_RESTART && cpu.softirqPending !== 0; restart++) {
      const pending = cpu.softirqPending;
      cpu.softirqPending = 0;
      for (let vec = 0; vec < NR_SOFTIRQS; vec++) {
        if ((pending & (1 << vec)) === 0) continue;
        cpu.clock += COST.softirqEntry;
        this.counts[cpu.id][vec]++;
        enterSoftirq(cpu, SOFTIRQ_NAMES[vec], threaded);
        this.k.tracepoint(TP_SOFTIRQ_ENTRY, vec);
        const q = this.work[cpu.id][vec];
        // work raised while running goes to the next round
        const batch = q.splice(0, q.length);
        for (const fn of batch) fn();
        // the open_softirq() actions the simulator has (kept as code, not closures)
        if (vec === RCU_SOFTIRQ) this.k.rcu.core(cpu);
        leaveSoftirq(cpu);
      }
    }
    if (cpu.softirqPending !== 0 && !threaded && !this.k.config.preemptRt) {
      // wakeup_softirqd(): leftovers run at the next boundary
      this.k.wakeThread(cpu, {
        name: `ksoftirqd/${cpu.id}`,
        kind: "softirq",
        prio: 0,
        fn: () => this.run(cpu, false),
      });
    }
  }

  /** Pending work of any kind on a CPU. */
  pending(cpu: Cpu): boolean {
    return cpu.softirqPending !== 0;
  }
}

snapshotClasses(Softirq);
