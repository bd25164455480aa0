// Entering and leaving execution contexts, and the primitives that change
// what a CPU may do: irq/bh/preempt/migrate disabling, RCU read-side
// sections, might_sleep(). Mirrors kernel/softirq.c (irq_enter/irq_exit,
// local_bh_*), include/linux/preempt.h, irqflags.h, rcupdate.h and
// kernel/sched/core.c (__might_resched) closely enough for the seeds.

import {
  type Cpu,
  type CtxKind,
  HARDIRQ_OFFSET,
  NMI_OFFSET,
  PREEMPT_OFFSET,
  SOFTIRQ_DISABLE_OFFSET,
  SOFTIRQ_OFFSET,
} from "./cpu.ts";
import { COST } from "./cost.ts";
import type { Kernel } from "./kernel.ts";
import { TP_IRQ_HANDLER_ENTRY } from "./tracepoint.ts";

/** Pushes a frame; the caller has already adjusted preempt_count. */
export function pushFrame(
  cpu: Cpu,
  kind: CtxKind,
  name: string,
  pid: number,
  threaded: boolean,
  prio = 0,
): void {
  // interrupts inherit the priority of what they interrupt: nothing preempts them
  const p = kind === "hardirq" || kind === "nmi" ? 1000 : prio;
  const n = cpu.frames.length;
  if (n !== 0) cpu.frames[n - 1].site = cpu.siteId;
  cpu.siteId = -1;
  const f = cpu.spareFrames.pop();
  if (f === undefined) {
    cpu.frames.push({ kind, name, pid, threaded, prio: p, savedIrqsOff: cpu.irqsOff, site: -1 });
    if (cpu.trace !== null) cpu.trace.begin(cpu.clock, cpu.id, kind, name);
    return;
  }
  f.kind = kind;
  f.name = name;
  f.pid = pid;
  f.threaded = threaded;
  f.prio = p;
  f.savedIrqsOff = cpu.irqsOff;
  f.site = -1;
  cpu.frames.push(f);
  if (cpu.trace !== null) cpu.trace.begin(cpu.clock, cpu.id, kind, name);
}

/** Pops the innermost frame and restores the interrupted irq state. */
export function popFrame(cpu: Cpu): void {
  if (cpu.trace !== null) cpu.trace.end(cpu.clock, cpu.id);
  const f = cpu.frames.pop()!;
  cpu.irqsOff = f.savedIrqsOff;
  cpu.spareFrames.push(f);
  const n = cpu.frames.length;
  cpu.siteId = n !== 0 ? cpu.frames[n - 1].site : -1;
}

/** Runs a hardirq handler: irq_enter, handler, irq_exit (may run softirqs). */
export function runHardirq(k: Kernel, cpu: Cpu, name: string, handler: () => void): void {
  cpu.clock += COST.irqEntry;
  pushFrame(cpu, "hardirq", name, -1, false);
  cpu.irqsOff = true;
  cpu.preemptCount += HARDIRQ_OFFSET;
  k.tracepoint(TP_IRQ_HANDLER_ENTRY, k.irqNumber(name));
  handler();
  cpu.preemptCount -= HARDIRQ_OFFSET;
  // irq_exit(): softirqs run here on !RT when not nested in another interrupt
  if (cpu.softirqPending !== 0 && !cpu.inInterrupt()) k.softirq.invoke(cpu);
  popFrame(cpu);
}

/** Runs an NMI handler: nmi_enter, handler, nmi_exit. */
export function runNmi(cpu: Cpu, name: string, handler: () => void): void {
  cpu.clock += COST.irqEntry;
  pushFrame(cpu, "nmi", name, -1, false);
  cpu.irqsOff = true;
  cpu.preemptCount += NMI_OFFSET + HARDIRQ_OFFSET;
  handler();
  cpu.preemptCount -= NMI_OFFSET + HARDIRQ_OFFSET;
  popFrame(cpu);
}

/** Runs kthread work nested as a preempting task frame (PREEMPT_RT threads). */
export function runThreaded(cpu: Cpu, kind: CtxKind, name: string, prio: number, fn: () => void): void {
  cpu.clock += COST.contextSwitch;
  pushFrame(cpu, kind, name, -1, true, prio);
  cpu.irqsOff = false;
  fn();
  popFrame(cpu);
}

/** local_irq_save(): returns the previous state for local_irq_restore(). */
export function local_irq_save(k: Kernel): boolean {
  const cpu = k.cur;
  const was = cpu.irqsOff;
  cpu.irqsOff = true;
  cpu.clock += COST.irqSave;
  return was;
}

/** local_irq_restore(): re-enabling delivers pending interrupts. */
export function local_irq_restore(k: Kernel, wasOff: boolean): void {
  const cpu = k.cur;
  cpu.irqsOff = wasOff;
  if (!wasOff) k.interruptWindow(cpu);
}

/** local_irq_disable() */
export function local_irq_disable(k: Kernel): void {
  k.cur.irqsOff = true;
}

/** local_irq_enable() */
export function local_irq_enable(k: Kernel): void {
  const cpu = k.cur;
  cpu.irqsOff = false;
  k.interruptWindow(cpu);
}

/** preempt_disable() */
export function preempt_disable(k: Kernel): void {
  k.cur.preemptCount += PREEMPT_OFFSET;
}

/** preempt_enable(): a preemption point when the count drops to zero. */
export function preempt_enable(k: Kernel): void {
  const cpu = k.cur;
  cpu.preemptCount -= PREEMPT_OFFSET;
  if (cpu.preemptCount === 0 && cpu.threadWork.length !== 0) k.preemptionPoint(cpu);
}

/** migrate_disable(): pins the task; preemption stays possible. */
export function migrate_disable(k: Kernel): void {
  k.cur.migrateDisabled++;
}

/** migrate_enable() */
export function migrate_enable(k: Kernel): void {
  k.cur.migrateDisabled--;
}

/** local_bh_disable(); on PREEMPT_RT a per-CPU lock, not a preempt_count bit. */
export function local_bh_disable(k: Kernel): void {
  const cpu = k.cur;
  if (k.config.preemptRt) {
    cpu.rtSoftirqCount += SOFTIRQ_DISABLE_OFFSET;
    cpu.migrateDisabled++;
  } else {
    cpu.preemptCount += SOFTIRQ_DISABLE_OFFSET;
  }
}

/** local_bh_enable(): runs pending softirqs when leaving the last BH-off section. */
export function local_bh_enable(k: Kernel): void {
  const cpu = k.cur;
  if (k.config.preemptRt) {
    cpu.rtSoftirqCount -= SOFTIRQ_DISABLE_OFFSET;
    cpu.migrateDisabled--;
  } else {
    cpu.preemptCount -= SOFTIRQ_DISABLE_OFFSET;
  }
  if (cpu.softirqPending !== 0 && !cpu.inInterrupt() && !cpu.irqsOff) k.softirq.invoke(cpu);
}

/** rcu_read_lock() */
export function rcu_read_lock(k: Kernel): void {
  k.cur.rcuDepth++;
}

/** rcu_read_unlock() */
export function rcu_read_unlock(k: Kernel): void {
  k.cur.rcuDepth--;
}

/** rcu_read_lock_trace() (sleepable programs). */
export function rcu_read_lock_trace(k: Kernel): void {
  k.cur.rcuTraceDepth++;
}

/** rcu_read_unlock_trace() */
export function rcu_read_unlock_trace(k: Kernel): void {
  k.cur.rcuTraceDepth--;
}

/** Softirq entry bookkeeping used by softirq.ts (threaded on PREEMPT_RT). */
export function enterSoftirq(cpu: Cpu, name: string, threaded: boolean): void {
  pushFrame(cpu, "softirq", name, -1, threaded);
  if (threaded) cpu.rtSoftirqCount += SOFTIRQ_OFFSET;
  else cpu.preemptCount += SOFTIRQ_OFFSET;
  cpu.irqsOff = false;
}

/** Softirq exit bookkeeping used by softirq.ts. */
export function leaveSoftirq(cpu: Cpu): void {
  if (cpu.top().threaded) cpu.rtSoftirqCount -= SOFTIRQ_OFFSET;
  else cpu.preemptCount -= SOFTIRQ_OFFSET;
  popFrame(cpu);
}

/**
 * __might_resched(): reports "BUG: sleeping function called from invalid
 * context" when the caller may sleep but the CPU is atomic. `offsets` is the
 * preempt count the caller itself legitimately holds (spinlock_rt passes its
 * own RCU nesting). Returns false when the report was made.
 */
export function might_sleep(k: Kernel, file: string, line: number, rcuOffset = 0): boolean {
  const cpu = k.cur;
  const rcuNest = cpu.rcuDepth - rcuOffset;
  const atomic = cpu.preemptCount !== 0 || cpu.irqsOff || (!k.config.preemptRt && rcuNest > 0);
  if (!atomic && (rcuNest <= 0 || k.config.preemptRt)) return true;
  const t = cpu.task();
  const text = [
    `BUG: sleeping function called from invalid context at ${file}:${line}`,
    `in_atomic(): ${cpu.preemptCount !== 0 ? 1 : 0}, irqs_disabled(): ${cpu.irqsOff ? 1 : 0}, non_block: 0, pid: ${
      t?.pid ?? 0
    }, name: ${t?.name ?? "swapper/" + cpu.id}`,
    `preempt_count: ${cpu.preemptCount.toString(16)}, expected: 0`,
    `RCU nest depth: ${cpu.rcuDepth}, expected: ${rcuOffset}`,
    ...k.heldLockLines(cpu),
    `CPU: ${cpu.id} PID: ${t?.pid ?? 0} Comm: ${t?.name ?? "swapper"} ${k.release}`,
    ...cpu.backtrace(),
  ].join("\n");
  k.dmesg.logOnce(`sleep:${file}:${cpu.describeStack()}`, cpu.clock, cpu.id, "err", "might_sleep", text);
  return false;
}
