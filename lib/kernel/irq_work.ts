// irq_work (kernel/irq_work.c): run a callback in hardirq context soon,
// from any context including NMI. On !PREEMPT_RT a self-IPI delivers it as
// soon as interrupts are enabled on this CPU. On PREEMPT_RT only
// IRQ_WORK_HARD_IRQ items run that way; the rest run in the per-CPU
// irq_work kthread (task context), which a busier high-priority task starves.

import { COST } from "./cost.ts";
import type { Kernel } from "./kernel.ts";
import { definePoint } from "./points.ts";
import { snapshotClasses } from "./snapshot.ts";

const P_QUEUE = definePoint("irq_work_queue", "kernel/irq_work.c", "queue work for hardirq (or kthread on RT)");

/** One irq_work item (struct irq_work); per CPU in most users. */
export class IrqWork {
  /** Pending on some CPU (IRQ_WORK_PENDING). */
  pending = false;
  /** Times the callback ran. */
  runs = 0;

  /** An item named `name` running `fn` (init_irq_work(); IRQ_WORK_INIT_HARD when `hard`). */
  constructor(
    readonly name: string,
    readonly fn: () => void,
    /** IRQ_WORK_HARD_IRQ: stays in hardirq even on PREEMPT_RT. */
    readonly hard = false,
  ) {}
}

/** irq_work_queue(): false when the item was already pending. */
export function irq_work_queue(k: Kernel, w: IrqWork): boolean {
  k.point(P_QUEUE);
  if (w.pending) return false;
  w.pending = true;
  const cpu = k.cur;
  cpu.clock += COST.queueWork;
  const run = () => {
    w.pending = false;
    w.runs++;
    w.fn();
  };
  if (k.config.preemptRt && !w.hard) {
    k.wakeThread(cpu, { name: `irq_work/${cpu.id}:${w.name}`, kind: "task", prio: 1, fn: run });
  } else {
    k.raiseIrq(cpu.id, cpu.clock, `irq_work:${w.name}`, run, { threadedOnRt: false });
  }
  return true;
}

/** irq_work_sync(): waits until the item is no longer pending. */
export function irq_work_sync(k: Kernel, w: IrqWork): boolean {
  return k.sleepUntil(() => !w.pending);
}

snapshotClasses(IrqWork);
