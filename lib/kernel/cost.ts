// The cost model: every simulated nanosecond comes from this one table, from
// cache-line transfers between CPUs, or from waiting for a lock another CPU
// released later in simulated time. Nothing else advances a CPU's clock.
// Values are rough x86 server figures; the benchmark issue calibrates them
// once against the seeds' tables (never against their results directly).

import { snapshotClasses } from "./snapshot.ts";

/** Per-operation costs in simulated nanoseconds. */
export const COST = {
  /** Entry of an instrumented kernel function (call + return). */
  call: 2,
  /** An uncontended atomic read-modify-write on a local line. */
  atomic: 6,
  /** Taking an uncontended spinlock whose line is local. */
  lock: 8,
  /** Releasing a spinlock. */
  unlock: 3,
  /** local_irq_save/restore pair cost charged at save. */
  irqSave: 2,
  /** preempt_disable/enable, migrate_disable/enable. */
  preempt: 1,
  /** Reading a line another CPU modified (remote miss, transfer). */
  remoteMiss: 60,
  /** Hashing: per 4 bytes of key. */
  hashWord: 1,
  /** memcpy/memcmp: per 8 bytes. */
  copyWord: 0.5,
  /** Following one pointer in a hash chain (likely cache miss on big maps). */
  chainStep: 3,
  /** kmalloc/kfree fast path (per-CPU freelist). */
  slabFast: 15,
  /** kmalloc/kfree slow path work besides the list_lock. */
  slabSlow: 120,
  /** Allocating fresh pages for a slab. */
  pageAlloc: 400,
  /** Entering or leaving an interrupt (hardirq/NMI) frame. */
  irqEntry: 60,
  /** Running the softirq loop once. */
  softirqEntry: 30,
  /** One BPF instruction of a program (a JITed instruction; helpers charge their own calls). */
  insn: 0.5,
  /** bpf(2) entry + exit, fd lookup, copies from user. */
  syscall: 150,
  /** One RCU callback invocation. */
  rcuCallback: 20,
  /**
   * __llist_add() / __llist_del_first() on a per-CPU list whose head is in
   * this CPU's cache (bpf_mem_alloc's free_llist; the link is in the object).
   */
  llistOp: 1,
  /** local_inc_return() / local_dec() on a per-CPU counter (bpf_mem_cache->active). */
  localOp: 0.5,
  /** Queueing an RCU callback / irq_work. */
  queueWork: 10,
  /** A context switch to a kthread (RT threaded irq_work, rcuc). */
  contextSwitch: 1500,
  /** Sleeping-lock (rt_mutex) slow path: block and wake. */
  rtMutexSlow: 2500,
  /** rqspinlock gives up after this long (RES_DEF_TIMEOUT, 0.25 s). */
  rqspinlockTimeout: 250_000_000,
} as const;

/** Nanoseconds in one second. */
export const NSEC_PER_SEC = 1_000_000_000;

/**
 * A shared cache line: lock words, freelist heads, counters. A write by a CPU
 * that does not own the line exclusively, or a read of a line another CPU
 * modified, costs a remote miss and moves the line (a MESI-like sketch).
 */
export class CacheLine {
  /** CPU holding the line modified/exclusive, or -1 when shared/clean. */
  owner: number = -1;
  /** CPUs holding a shared copy (bit per CPU, two words for 64 CPUs). */
  sharedLo = 0;
  /** Shared-copy bits of CPUs 32-63. */
  sharedHi = 0;
  /** Remote misses taken on this line (for reports). */
  misses = 0;

  /** Charge of a read by `cpu`: 0 or COST.remoteMiss. */
  read(cpu: number): number {
    if (this.owner === cpu) return 0;
    const hit = cpu < 32 ? (this.sharedLo >>> cpu) & 1 : (this.sharedHi >>> (cpu - 32)) & 1;
    if (hit && this.owner === -1) return 0;
    if (this.owner !== -1) {
      // the modified copy is written back and shared with the reader
      const o = this.owner;
      this.owner = -1;
      this.sharedLo = 0;
      this.sharedHi = 0;
      this.addSharer(o);
    }
    this.addSharer(cpu);
    if (hit) return 0;
    this.misses++;
    return COST.remoteMiss;
  }

  /** Charge of a write by `cpu`: 0 or COST.remoteMiss. */
  write(cpu: number): number {
    if (this.owner === cpu) return 0;
    const onlyMe = this.owner === -1 &&
      (cpu < 32
        ? this.sharedLo === (1 << cpu) >>> 0 && this.sharedHi === 0
        : this.sharedHi === (1 << (cpu - 32)) >>> 0 && this.sharedLo === 0);
    const untouched = this.owner === -1 && this.sharedLo === 0 && this.sharedHi === 0;
    this.owner = cpu;
    this.sharedLo = 0;
    this.sharedHi = 0;
    if (onlyMe || untouched) return 0;
    this.misses++;
    return COST.remoteMiss;
  }

  /** Sets `cpu`'s shared-copy bit. */
  private addSharer(cpu: number): void {
    if (cpu < 32) this.sharedLo = (this.sharedLo | (1 << cpu)) >>> 0;
    else this.sharedHi = (this.sharedHi | (1 << (cpu - 32))) >>> 0;
  }
}

snapshotClasses(CacheLine);
