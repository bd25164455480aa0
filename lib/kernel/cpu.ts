// Per-CPU state: the clock, the context stack and preempt_count
// (include/linux/preempt.h bit layout), interrupt state, RCU read-side nesting
// and the queues the scheduler drains. One Cpu per simulated processor.

import { snapshotClasses } from "./snapshot.ts";
import { pointInfo } from "./points.ts";
import type { TraceRecorder } from "../trace/recorder.ts";

/** preempt_count bit layout (include/linux/preempt.h). */
export const PREEMPT_OFFSET = 1;
export const PREEMPT_MASK = 0xff;
export const SOFTIRQ_OFFSET = 1 << 8;
export const SOFTIRQ_DISABLE_OFFSET = 2 << 8;
export const SOFTIRQ_MASK = 0xff << 8;
export const HARDIRQ_OFFSET = 1 << 16;
export const HARDIRQ_MASK = 0xf << 16;
export const NMI_OFFSET = 1 << 20;
export const NMI_MASK = 0xf << 20;

/** Kinds of execution context, innermost last on the stack. */
export type CtxKind = "task" | "softirq" | "hardirq" | "nmi";

/** One level of the context stack. */
export interface Frame {
  /** Which context the frame is: task, softirq, hardirq or NMI. */
  kind: CtxKind;
  /** What runs there: the task comm, the irq or softirq name. */
  name: string;
  /** pid for task frames (0 for the idle task), -1 otherwise. */
  pid: number;
  /** True for work that is a kthread on PREEMPT_RT (threaded irq, softirq, irq_work). */
  threaded: boolean;
  /** irqs_disabled() of the interrupted frame, restored on exit. */
  savedIrqsOff: boolean;
  /** Scheduling priority (0 = SCHED_OTHER, 1..99 = SCHED_FIFO). */
  prio: number;
  /**
   * Innermost instrumented function (point id) this frame was in when it was
   * interrupted; the running frame's is Cpu.siteId. -1 when none.
   */
  site: number;
}

/** A queued unit of work for a CPU: one workload event or program op. */
export interface Step {
  /** Runs in task context of `comm`/`pid` (a fresh frame); a returned iterator is resumed until done. */
  readonly fn: () => unknown;
  /** Task comm the step runs as. */
  readonly comm: string;
  /** Task pid the step runs as. */
  readonly pid: number;
  /** Scheduling priority of the task (0 = SCHED_OTHER). */
  readonly prio: number;
}

/** A timed interrupt (hardirq or NMI) due on one CPU. */
export interface IrqEvent {
  /** Simulated time (ns) from which the interrupt is pending. */
  at: number;
  /** Order of raising, breaks ties between events due at the same time. */
  seq: number;
  /** A maskable hardirq, or an NMI (delivered even with interrupts off). */
  readonly kind: "hardirq" | "nmi";
  /** Interrupt name, shown as the frame name in context stacks. */
  readonly name: string;
  /** On PREEMPT_RT, run the handler as an irq thread (device irqs). */
  readonly threadedOnRt: boolean;
  /** The handler, run in hardirq or NMI context (or the irq thread). */
  readonly handler: () => void;
}

/** Deferred kthread work on PREEMPT_RT (irq threads, ksoftirqd, irq_work, rcuc). */
export interface ThreadWork {
  /** kthread name ("irq/<name>", "ksoftirqd/N", ...); one pending entry per name. */
  readonly name: string;
  /** Context the work is accounted as when it runs (the frame kind). */
  readonly kind: CtxKind;
  /** Priority of the kthread (irq threads 50, irq_work/rcuc 1, ksoftirqd 0). */
  readonly prio: number;
  /** The work, run in the kthread. */
  readonly fn: () => void;
}

/** One simulated processor. */
export class Cpu {
  /** Simulated time on this CPU, ns. */
  clock = 0;
  /** preempt_count(): preemption, softirq, hardirq and NMI nesting in the include/linux/preempt.h layout. */
  preemptCount = 0;
  /** irqs_disabled(): local interrupts are off on this CPU. */
  irqsOff = false;
  /** migrate_disable() nesting of the running task (current->migration_disabled). */
  migrateDisabled = 0;
  /** rcu_read_lock() nesting. */
  rcuDepth = 0;
  /** rcu_read_lock_trace() nesting. */
  rcuTraceDepth = 0;
  /** Context stack, task at the bottom. */
  readonly frames: Frame[] = [];
  /** Point id of the innermost kernel function entered in the running frame (-1: none). */
  siteId: number = -1;
  /** Popped frames kept for reuse (no allocation per syscall). */
  readonly spareFrames: Frame[] = [];
  /** Set when the CPU deadlocked: it never makes progress again. */
  stuck: string | null = null;
  /** Pending timed interrupts, kept sorted by (at, seq). */
  readonly events: IrqEvent[] = [];
  /** Time of the earliest event (Infinity when none). */
  nextEventAt: number = Infinity;
  /** Raised softirq vectors (bit per vector). */
  softirqPending = 0;
  /** Queued steps (FIFO); the ones before stepHead already ran. */
  readonly steps: Step[] = [];
  /** Index in `steps` of the next step to run. */
  stepHead = 0;
  /** RT: pending kthread work, run at the next preemption point. */
  readonly threadWork: ThreadWork[] = [];
  /** Clock at this CPU's latest quiescent state (RCU). */
  lastQs = 0;
  /** Clock when the latest step began (RCU: the read-side span before lastQs). */
  lastStepStart = 0;
  /** Set while a step or syscall runs on this CPU. */
  busy = false;
  /** kprobe_running(): a kprobe handler is active on this CPU. */
  kprobeActive = false;
  /** Kprobe handlers running: pairs of (frame index, point id), for backtraces. */
  readonly probeStack: number[] = [];
  /** Per-CPU bpf_prog_active (kernel/trace/bpf_trace.c). */
  bpfProgActive = 0;
  /** BPF programs running nested on this CPU right now (bpfsim: stack depth of program runs). */
  progDepth = 0;
  /**
   * A step that stopped between two program ops to let other CPUs catch up
   * (its generator and start time); the CPU stays busy in that step's
   * context until the scheduler resumes it to the end. Null between steps.
   */
  cont: { it: Iterator<unknown>; start: number } | null = null;
  /** need_resched: a tick found a runnable task that may preempt the current one. */
  needResched = false;
  /** pid of the task whose step ran last on this CPU (a new pid is a context switch). */
  lastPid = 0;
  /** The trace being recorded (null: none); contexts, program runs, locks and map ops go to it. */
  trace: TraceRecorder | null = null;
  /** Acquisition times of the locks this CPU holds while a trace records (by lock address). */
  readonly lockSince: Map<number, number> = new Map();
  /**
   * PREEMPT_RT: softirq nesting of the current task (current->softirq_disable_cnt),
   * kept out of preempt_count so that threaded softirqs are not atomic.
   */
  rtSoftirqCount = 0;

  /** CPU number `id` (smp_processor_id()), idle with its clock at 0. */
  constructor(readonly id: number) {}

  /** in_nmi() */
  inNmi(): boolean {
    return (this.preemptCount & NMI_MASK) !== 0;
  }

  /** in_hardirq() */
  inHardirq(): boolean {
    return (this.preemptCount & HARDIRQ_MASK) !== 0;
  }

  /** in_serving_softirq() */
  inServingSoftirq(): boolean {
    return ((this.preemptCount | this.rtSoftirqCount) & SOFTIRQ_OFFSET) !== 0;
  }

  /** in_interrupt(): NMI, hardirq, or softirq served or BH disabled. */
  inInterrupt(): boolean {
    return ((this.preemptCount | this.rtSoftirqCount) & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK)) !== 0;
  }

  /** in_task() */
  inTask(): boolean {
    return ((this.preemptCount | this.rtSoftirqCount) & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET)) === 0;
  }

  /** in_atomic(): preempt_count != 0. */
  inAtomic(): boolean {
    return this.preemptCount !== 0;
  }

  /** The innermost frame. */
  top(): Frame {
    return this.frames[this.frames.length - 1];
  }

  /** The task frame at the bottom (the interrupted task). */
  task(): Frame {
    return this.frames[0];
  }

  /** Context name of the innermost frame. */
  context(): CtxKind {
    return this.frames.length ? this.top().kind : "task";
  }

  /** Schedules a timed interrupt. */
  addEvent(ev: IrqEvent): void {
    const q = this.events;
    let i = q.length;
    while (i > 0 && (q[i - 1].at > ev.at || (q[i - 1].at === ev.at && q[i - 1].seq > ev.seq))) i--;
    q.splice(i, 0, ev);
    this.nextEventAt = q[0].at;
  }

  /** Removes and returns the earliest event. */
  shiftEvent(): IrqEvent | undefined {
    const ev = this.events.shift();
    this.nextEventAt = this.events.length ? this.events[0].at : Infinity;
    return ev;
  }

  /** Steps waiting to run. */
  pendingSteps(): number {
    return this.steps.length - this.stepHead;
  }

  /** The function frame i was last in ("" when unknown). */
  frameSite(i: number): string {
    const id = i === this.frames.length - 1 ? this.siteId : this.frames[i].site;
    return id >= 0 ? pointInfo(id).name : "";
  }

  /** Human-readable context stack, innermost last: "task(bpftool) > nmi(perf)". */
  describeStack(): string {
    return this.frames.map((f, i) => `${f.kind}(${f.name})${this.frameSite(i) ? " in " + this.frameSite(i) : ""}`)
      .join(" > ");
  }

  /**
   * The context stack as report lines, innermost last, with kprobe handlers
   * shown where they run ("kprobe  _raw_spin_unlock  handler").
   */
  backtrace(): string[] {
    const lines = ["context stack (innermost last):"];
    this.frames.forEach((f, i) => {
      const site = this.frameSite(i);
      lines.push(`  ${f.kind.padEnd(7)} ${f.name}${site ? "  at " + site : ""}`);
      for (let j = 0; j < this.probeStack.length; j += 2) {
        if (this.probeStack[j] === i) lines.push(`  kprobe  ${pointInfo(this.probeStack[j + 1]).name} handler`);
      }
    });
    return lines;
  }
}

snapshotClasses(Cpu);
