// Spinning and sleeping locks (kernel/locking/spinlock.c, spinlock_rt.c,
// rqspinlock.c). raw_spinlock_t always spins with preemption disabled;
// spinlock_t is the same off PREEMPT_RT and an rt_mutex-based sleeping lock
// on it; rqspinlock_t (6.15+) detects AA/ABBA and times out, returning
// -EDEADLK/-ETIMEDOUT instead of hanging.
//
// A CPU that spins on a lock it already holds, or on a lock held by a CPU
// that will never release it, stops making progress: Kernel.hang() records a
// soft lockup and unwinds that CPU; the rest of the kernel goes on.

import { COST } from "./cost.ts";
import { EDEADLK, ETIMEDOUT } from "./errno.ts";
import { type Kernel, TaskBlocked } from "./kernel.ts";
import { type LockSet, Verdict } from "./lockdep.ts";
import { definePoint } from "./points.ts";
import { TP_CONTENTION_BEGIN } from "./tracepoint.ts";
import { might_sleep } from "./context.ts";
import { type Cpu, PREEMPT_OFFSET } from "./cpu.ts";

const P_LOCK = definePoint("_raw_spin_lock", "kernel/locking/spinlock.c", "take a spinning lock", { ret: true });
const P_LOCK_IRQSAVE = definePoint(
  "_raw_spin_lock_irqsave",
  "kernel/locking/spinlock.c",
  "disable interrupts and take a spinning lock",
  { ret: true },
);
const P_TRYLOCK = definePoint("_raw_spin_trylock", "kernel/locking/spinlock.c", "try a spinning lock once", {
  ret: true,
});
const P_UNLOCK = definePoint(
  "_raw_spin_unlock",
  "kernel/locking/spinlock.c",
  "release a spinning lock (a kprobe here fires while it is still held)",
  { ret: true },
);
const P_UNLOCK_IRQRESTORE = definePoint(
  "_raw_spin_unlock_irqrestore",
  "kernel/locking/spinlock.c",
  "release a spinning lock and restore interrupts",
  { ret: true },
);
const P_RT_LOCK = definePoint("rt_spin_lock", "kernel/locking/spinlock_rt.c", "PREEMPT_RT sleeping spinlock_t", {
  ret: true,
});
const P_RT_UNLOCK = definePoint("rt_spin_unlock", "kernel/locking/spinlock_rt.c", "PREEMPT_RT spinlock_t release", {
  ret: true,
});
const P_RES_LOCK = definePoint(
  "resilient_queued_spin_lock_slowpath",
  "kernel/bpf/rqspinlock.c",
  "rqspinlock acquisition (AA/ABBA detection, timeout)",
);

/** A lock hold ends while a trace records: one complete slice from acquisition to release. */
function traceLockHold(cpu: Cpu, set: LockSet, i: number): void {
  const addr = set.addr + i * set.stride;
  const t0 = cpu.lockSince.get(addr);
  if (t0 === undefined) return;
  cpu.lockSince.delete(addr);
  cpu.trace!.complete(t0, cpu.clock, cpu.id, "lock", set.cls.name);
}

/** Spins for `set[i]`; the caller already did lockdep. */
function spinAcquire(k: Kernel, set: LockSet, i: number, site: string): void {
  const cpu = k.cur;
  const w = set.base + i * set.step;
  const v = set.words[w];
  if (v < 0) {
    // Only a CPU that is stuck can hold a lock between steps.
    k.hang(cpu, `spinning on ${set.describe(i)} held by CPU#${-v - 1} (stuck) at ${site}`);
  }
  if (cpu.clock < v) {
    set.contended++;
    set.waitNs += v - cpu.clock;
    k.tracepoint(TP_CONTENTION_BEGIN, set.addr + i * set.stride, 0);
    cpu.clock = Math.max(cpu.clock, v);
  }
  const line = i >> set.lineShift;
  const lo = set.lineOwner[line];
  cpu.clock += COST.lock + (lo !== cpu.id && lo !== -1 ? COST.remoteMiss : 0);
  set.lineOwner[line] = cpu.id;
  set.words[w] = -(cpu.id + 1);
  if (cpu.trace !== null) cpu.lockSince.set(set.addr + i * set.stride, cpu.clock);
}

function spinRelease(k: Kernel, set: LockSet, i: number): void {
  const cpu = k.cur;
  cpu.clock += COST.unlock;
  if (cpu.trace !== null) traceLockHold(cpu, set, i);
  set.words[set.base + i * set.step] = cpu.clock;
  k.lockdep.release(cpu, set, i);
}

function lockRaw(k: Kernel, set: LockSet, i: number, site: string): void {
  const cpu = k.cur;
  cpu.preemptCount += PREEMPT_OFFSET;
  if (k.lockdep.acquire(cpu, set, i, site, false) === Verdict.SelfDeadlock) {
    k.hang(cpu, `spinning on ${set.describe(i)} which this CPU already holds (AA) at ${site}`);
  }
  spinAcquire(k, set, i, site);
}

/** raw_spin_lock() */
export function raw_spin_lock(k: Kernel, set: LockSet, i: number, site: string): void {
  k.point(P_LOCK, set);
  lockRaw(k, set, i, site);
  k.pointRet(P_LOCK, set, 0);
}

/** raw_spin_unlock() */
export function raw_spin_unlock(k: Kernel, set: LockSet, i: number): void {
  k.point(P_UNLOCK, set);
  spinRelease(k, set, i);
  k.cur.preemptCount -= PREEMPT_OFFSET;
  if (k.cur.preemptCount === 0 && k.cur.threadWork.length !== 0) k.preemptionPoint(k.cur);
  k.pointRet(P_UNLOCK, set, 0);
}

/** raw_spin_lock_irqsave(): returns the saved irq state. */
export function raw_spin_lock_irqsave(k: Kernel, set: LockSet, i: number, site: string): boolean {
  k.point(P_LOCK_IRQSAVE, set);
  const cpu = k.cur;
  const flags = cpu.irqsOff;
  cpu.irqsOff = true;
  cpu.clock += COST.irqSave;
  lockRaw(k, set, i, site);
  k.pointRet(P_LOCK_IRQSAVE, set, 0);
  return flags;
}

/** raw_spin_unlock_irqrestore() */
export function raw_spin_unlock_irqrestore(k: Kernel, set: LockSet, i: number, flags: boolean): void {
  k.point(P_UNLOCK_IRQRESTORE, set);
  spinRelease(k, set, i);
  const cpu = k.cur;
  cpu.preemptCount -= PREEMPT_OFFSET;
  cpu.irqsOff = flags;
  if (!flags) k.interruptWindow(cpu);
  k.pointRet(P_UNLOCK_IRQRESTORE, set, 0);
}

/** raw_spin_trylock(): true when taken. Never deadlocks. */
export function raw_spin_trylock(k: Kernel, set: LockSet, i: number, site: string): boolean {
  k.point(P_TRYLOCK, set);
  const cpu = k.cur;
  cpu.clock += COST.atomic;
  if (cpu.clock < set.freeAtOf(i)) {
    // held (by this CPU's interrupted context, or by a stuck CPU), or still
    // held in simulated time by the CPU that released it later
    k.pointRet(P_TRYLOCK, set, 0);
    return false;
  }
  cpu.preemptCount += PREEMPT_OFFSET;
  k.lockdep.acquire(cpu, set, i, site, true);
  spinAcquire(k, set, i, site);
  k.pointRet(P_TRYLOCK, set, 1);
  return true;
}

/** raw_spin_trylock_irqsave(): returns the saved flags, or null when not taken. */
export function raw_spin_trylock_irqsave(k: Kernel, set: LockSet, i: number, site: string): boolean | null {
  const cpu = k.cur;
  const flags = cpu.irqsOff;
  cpu.irqsOff = true;
  if (raw_spin_trylock(k, set, i, site)) return flags;
  cpu.irqsOff = flags;
  return null;
}

/**
 * spin_lock(): a raw spinlock off PREEMPT_RT; on RT an rt_mutex based
 * sleeping lock (rt_spin_lock) that may not be taken in atomic context.
 */
export function spin_lock(k: Kernel, set: LockSet, i: number, site: string): void {
  if (!k.config.preemptRt) {
    raw_spin_lock(k, set, i, site);
    return;
  }
  rtSpinLock(k, set, i, site);
}

/** spin_unlock() */
export function spin_unlock(k: Kernel, set: LockSet, i: number): void {
  if (!k.config.preemptRt) {
    raw_spin_unlock(k, set, i);
    return;
  }
  rtSpinUnlock(k, set, i);
}

/** spin_lock_irqsave(): on RT interrupts stay enabled. */
export function spin_lock_irqsave(k: Kernel, set: LockSet, i: number, site: string): boolean {
  if (!k.config.preemptRt) return raw_spin_lock_irqsave(k, set, i, site);
  rtSpinLock(k, set, i, site);
  return k.cur.irqsOff;
}

/** spin_unlock_irqrestore() */
export function spin_unlock_irqrestore(k: Kernel, set: LockSet, i: number, flags: boolean): void {
  if (!k.config.preemptRt) {
    raw_spin_unlock_irqrestore(k, set, i, flags);
    return;
  }
  rtSpinUnlock(k, set, i);
}

/** spin_trylock() */
export function spin_trylock(k: Kernel, set: LockSet, i: number, site: string): boolean {
  if (!k.config.preemptRt) return raw_spin_trylock(k, set, i, site);
  const cpu = k.cur;
  k.point(P_RT_LOCK, set);
  if (cpu.clock < set.freeAtOf(i)) return false;
  k.lockdep.acquire(cpu, set, i, site, true);
  spinAcquire(k, set, i, site);
  k.rtOwners.set(set.addr + i * set.stride, currentPid(cpu));
  cpu.rcuDepth++;
  cpu.migrateDisabled++;
  return true;
}

function rtSpinLock(k: Kernel, set: LockSet, i: number, site: string): void {
  k.point(P_RT_LOCK, set);
  const cpu = k.cur;
  // rtlock_might_resched(): a sleeping lock in atomic context is a bug
  might_sleep(k, "kernel/locking/spinlock_rt.c", 48);
  const addr = set.addr + i * set.stride;
  const ownerPid = k.rtOwners.get(addr);
  if (ownerPid !== undefined && set.ownerOf(i) === cpu.id && ownerPid !== currentPid(cpu)) {
    // held by the task this one preempted: sleep on the rt_mutex (the owner inherits our priority)
    throw new TaskBlocked(addr, `${set.describe(i)} held by pid ${ownerPid}`);
  }
  if (k.lockdep.acquire(cpu, set, i, site, false) === Verdict.SelfDeadlock) {
    k.hang(cpu, `task blocked on ${set.describe(i)} which it already owns (AA) at ${site}`, true);
  }
  const owner = set.ownerOf(i);
  if (owner !== -1) {
    k.hang(cpu, `task blocked on ${set.describe(i)} owned by a task on stuck CPU#${owner}`, true);
  }
  const freeAt = set.freeAtOf(i);
  if (cpu.clock < freeAt) {
    // the owner ran later in simulated time: block, then get woken
    set.contended++;
    set.waitNs += freeAt - cpu.clock;
    cpu.clock = freeAt + COST.rtMutexSlow;
  }
  cpu.clock += COST.lock;
  set.setOwner(i, cpu.id);
  set.lineOwner[i >> set.lineShift] = cpu.id;
  k.rtOwners.set(addr, currentPid(cpu));
  cpu.rcuDepth++;
  cpu.migrateDisabled++;
  k.pointRet(P_RT_LOCK, set, 0);
}

/** pid of the innermost task frame (current). */
function currentPid(cpu: Cpu): number {
  for (let j = cpu.frames.length - 1; j >= 0; j--) if (cpu.frames[j].kind === "task") return cpu.frames[j].pid;
  return 0;
}

function rtSpinUnlock(k: Kernel, set: LockSet, i: number): void {
  k.point(P_RT_UNLOCK, set);
  const cpu = k.cur;
  spinRelease(k, set, i);
  k.rtUnlocked(cpu, set.addr + i * set.stride);
  cpu.migrateDisabled--;
  cpu.rcuDepth--;
  if (cpu.threadWork.length !== 0) k.preemptionPoint(cpu);
  k.pointRet(P_RT_UNLOCK, set, 0);
}

/**
 * raw_res_spin_lock() (6.15+): preemption off, then the lock (0), or
 * -EDEADLK when this CPU already holds it (AA, found in its held-locks
 * table) or -ETIMEDOUT after spinning RES_DEF_TIMEOUT on a lock that never
 * frees, with preemption back on. `point` is the entry the caller is
 * charged as on success.
 */
function resSpinLock(k: Kernel, set: LockSet, i: number, site: string, point: number): number {
  const cpu = k.cur;
  cpu.preemptCount += PREEMPT_OFFSET;
  const owner = set.ownerOf(i);
  if (owner !== -1) {
    k.point(P_RES_LOCK, set);
    const err = owner === cpu.id ? -EDEADLK : -ETIMEDOUT;
    if (err === -ETIMEDOUT) cpu.clock += COST.rqspinlockTimeout;
    cpu.preemptCount -= PREEMPT_OFFSET;
    return err;
  }
  k.point(point, set);
  // rqspinlock has no lockdep annotations: held (for reports), but no dependencies
  k.lockdep.acquire(cpu, set, i, site, false, false, false);
  spinAcquire(k, set, i, site);
  return 0;
}

/**
 * raw_res_spin_lock_irqsave() (6.15+): local_irq_save(), then
 * raw_res_spin_lock(); on an error interrupts are restored. On success
 * `out.flags` holds the saved irq state.
 */
export function res_spin_lock_irqsave(
  k: Kernel,
  set: LockSet,
  i: number,
  site: string,
  out: { flags: boolean },
): number {
  const cpu = k.cur;
  out.flags = cpu.irqsOff;
  cpu.irqsOff = true;
  const err = resSpinLock(k, set, i, site, P_LOCK_IRQSAVE);
  if (err !== 0) cpu.irqsOff = out.flags;
  return err;
}

/** raw_res_spin_unlock_irqrestore() */
export function res_spin_unlock_irqrestore(k: Kernel, set: LockSet, i: number, flags: boolean): void {
  raw_spin_unlock_irqrestore(k, set, i, flags);
}

/** res_spin_lock() without touching interrupts (percpu_freelist 6.15+). */
export function res_spin_lock(k: Kernel, set: LockSet, i: number, site: string): number {
  return resSpinLock(k, set, i, site, P_LOCK);
}

/** res_spin_unlock() */
export function res_spin_unlock(k: Kernel, set: LockSet, i: number): void {
  raw_spin_unlock(k, set, i);
}
