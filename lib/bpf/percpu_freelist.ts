// kernel/bpf/percpu_freelist.c: the allocator behind preallocated hash maps.
// One LIFO list per CPU with its own lock; pop steals from the other CPUs in
// order (wrapping) when the local list is empty. Three designs by release:
//   4.6-5.9   raw spinlocks everywhere;
//   5.10-6.14 NMI paths use trylock (a busy list is skipped, so a pop can
//             fail while elements exist) plus a global "extralist";
//   6.15+     rqspinlock: lock attempts can fail (AA/timeout) and are skipped.
// Populate: pre-6.1 greedy nr/ncpu+1 per CPU; 6.1+ an even split.
// The link of a free element lives inside the element (fnode), at the
// offset the hash map gives (pprev since 4.11, next before: the old race).

import { COST } from "../kernel/cost.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { LockSet } from "../kernel/lockdep.ts";
import { definePoint } from "../kernel/points.ts";
import { local_irq_restore, local_irq_save } from "../kernel/context.ts";
import {
  raw_spin_lock,
  raw_spin_trylock,
  raw_spin_unlock,
  res_spin_lock,
  res_spin_unlock,
} from "../kernel/spinlock.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";

const P_PUSH = definePoint(
  "__pcpu_freelist_push",
  "kernel/bpf/percpu_freelist.c",
  "return an element to a per-CPU list",
);
const P_POP = definePoint("__pcpu_freelist_pop", "kernel/bpf/percpu_freelist.c", "take an element, stealing if needed");
const P_PUSH_IRQ = definePoint(
  "pcpu_freelist_push",
  "kernel/bpf/percpu_freelist.c",
  "__pcpu_freelist_push() with interrupts saved around it",
  { ret: true },
);
const P_POP_IRQ = definePoint(
  "pcpu_freelist_pop",
  "kernel/bpf/percpu_freelist.c",
  "__pcpu_freelist_pop() with interrupts saved around it",
  { ret: true },
);

/** Rounds a livelocked NMI push may spin before the simulator calls it a hang. */
const PUSH_SPIN_LIMIT = 1000;

/** struct pcpu_freelist */
export class PcpuFreelist {
  /** head->first per CPU (element address, 0 = empty). */
  readonly first: Float64Array;
  /** head->lock per CPU (each head on its own cache line). */
  readonly locks: LockSet;
  /** extralist.first (5.10-6.14): where NMI pushes go when every per-CPU lock is busy. */
  extraFirst = 0;
  /** extralist.lock (5.10-6.14). */
  readonly extraLock: LockSet;
  /** Per-CPU heads as the kernel allocates them (alloc_percpu), for accounting. */
  private readonly headsArea: number;
  /** Pops that returned NULL. */
  failedPops = 0;
  /** NMI pops that skipped a busy list which held elements (5.10-6.14 trylock). */
  nmiMisses = 0;

  /**
   * `linkOff`: offset of fnode.next inside an element; `structAddr`: where
   * struct pcpu_freelist lives (inside the map), for the extralist lock.
   */
  constructor(private readonly k: Kernel, private readonly linkOff: number, structAddr: number) {
    const n = k.ncpu;
    this.first = new Float64Array(n);
    this.headsArea = k.percpu.alloc(16, 8);
    const stride = this.headsArea ? k.percpu.stride(this.headsArea) : 64;
    const cls = k.lockdep.lockClass("&head->lock");
    const kind = k.features.rqspinlock ? "rqspinlock_t" : "raw_spinlock_t";
    this.locks = new LockSet(cls, kind, n, this.headsArea + 8, stride);
    this.extraLock = new LockSet(k.lockdep.lockClass("&s->extralist.lock"), "raw_spinlock_t", 1, structAddr + 8, 64);
  }

  /** True when the allocation of the per-CPU heads failed. */
  get failed(): boolean {
    return this.headsArea === 0;
  }

  /** fnode.next of a free element. */
  private next(node: number): number {
    return this.k.mem.readPtr(node + this.linkOff);
  }

  /** Sets fnode.next of a free element. */
  private link(node: number, next: number): void {
    this.k.mem.writePtr(node + this.linkOff, next);
  }

  /**
   * pcpu_freelist_populate(): `n` elements of `elemSize` bytes at `base`,
   * pushed without locks (the map is not visible yet).
   */
  populate(base: number, elemSize: number, n: number): void {
    const ncpu = this.k.ncpu;
    let p = base;
    if (this.k.features.freelistEvenPopulate) {
      const per = Math.floor(n / ncpu);
      const extra = n % ncpu;
      for (let cpu = 0; cpu < ncpu; cpu++) {
        const j = per + (cpu < extra ? 1 : 0);
        for (let i = 0; i < j; i++, p += elemSize) {
          this.link(p, this.first[cpu]);
          this.first[cpu] = p;
        }
      }
    } else {
      const per = Math.floor(n / ncpu) + 1;
      let i = 0;
      for (let cpu = 0; cpu < ncpu && i < n; cpu++) {
        do {
          this.link(p, this.first[cpu]);
          this.first[cpu] = p;
          i++;
          p += elemSize;
        } while (i < n && i % per !== 0);
      }
    }
  }

  /** pcpu_freelist_push(): with interrupts saved around it. */
  push(node: number): void {
    this.k.point(P_PUSH_IRQ, node);
    const flags = local_irq_save(this.k);
    this.__push(node);
    local_irq_restore(this.k, flags);
    this.k.pointRet(P_PUSH_IRQ, node, 0);
  }

  /** __pcpu_freelist_push(): caller has interrupts disabled. */
  __push(node: number): void {
    const k = this.k;
    k.point(P_PUSH, node);
    const cpu = k.cur;
    if (k.features.rqspinlock) {
      if (this.tryPushRes(cpu.id, node)) return;
      for (let round = 0; round < PUSH_SPIN_LIMIT; round++) {
        for (let i = 1; i < k.ncpu; i++) {
          if (this.tryPushRes((cpu.id + i) % k.ncpu, node)) return;
        }
      }
      k.hang(cpu, "__pcpu_freelist_push() cannot lock any per-CPU list (rqspinlock livelock)");
    }
    if (k.features.freelistNmi && cpu.inNmi()) {
      for (let round = 0; round < PUSH_SPIN_LIMIT; round++) {
        for (let i = 0; i < k.ncpu; i++) {
          const c = (cpu.id + i) % k.ncpu;
          if (raw_spin_trylock(k, this.locks, c, "___pcpu_freelist_push_nmi")) {
            this.pushNode(c, node);
            raw_spin_unlock(k, this.locks, c);
            return;
          }
        }
        if (raw_spin_trylock(k, this.extraLock, 0, "pcpu_freelist_try_push_extra")) {
          this.link(node, this.extraFirst);
          this.extraFirst = node;
          raw_spin_unlock(k, this.extraLock, 0);
          return;
        }
      }
      k.hang(cpu, "___pcpu_freelist_push_nmi() spins: every list and the extralist are locked");
    }
    raw_spin_lock(k, this.locks, cpu.id, "___pcpu_freelist_push");
    this.pushNode(cpu.id, node);
    raw_spin_unlock(k, this.locks, cpu.id);
  }

  /** 6.15+: push onto CPU c's list if its rqspinlock can be taken; false when the attempt failed. */
  private tryPushRes(c: number, node: number): boolean {
    const k = this.k;
    if (res_spin_lock(k, this.locks, c, "___pcpu_freelist_push") !== 0) return false;
    this.pushNode(c, node);
    res_spin_unlock(k, this.locks, c);
    return true;
  }

  /** pcpu_freelist_push_node(): node->next = head->first; head->first = node (lock held). */
  private pushNode(c: number, node: number): void {
    this.link(node, this.first[c]);
    this.first[c] = node;
    this.k.cur.clock += COST.copyWord;
  }

  /** pcpu_freelist_pop(): with interrupts saved around it. */
  pop(): number {
    this.k.point(P_POP_IRQ);
    const flags = local_irq_save(this.k);
    const n = this.__pop();
    local_irq_restore(this.k, flags);
    this.k.pointRet(P_POP_IRQ, null, n);
    return n;
  }

  /** __pcpu_freelist_pop(): 0 when nothing could be taken. */
  __pop(): number {
    const k = this.k;
    k.point(P_POP);
    const cpu = k.cur;
    const ncpu = k.ncpu;
    const nmi = cpu.inNmi();
    const legacy = !k.features.freelistNmi && !k.features.rqspinlock;
    for (let i = 0; i < ncpu; i++) {
      const c = (cpu.id + i) % ncpu;
      // READ_ONCE(head->first) (the v4.6 code locked every list it visited)
      if (!legacy) {
        this.touch(c);
        if (this.first[c] === 0) continue;
      }
      if (k.features.rqspinlock) {
        if (res_spin_lock(k, this.locks, c, "___pcpu_freelist_pop") !== 0) continue;
      } else if (nmi && k.features.freelistNmi) {
        if (!raw_spin_trylock(k, this.locks, c, "___pcpu_freelist_pop_nmi")) {
          if (this.first[c] !== 0) this.nmiMisses++;
          continue;
        }
      } else {
        raw_spin_lock(k, this.locks, c, "___pcpu_freelist_pop");
      }
      const node = this.first[c];
      if (node !== 0) {
        this.first[c] = this.next(node);
        this.unlock(c);
        return node;
      }
      this.unlock(c);
    }
    if (k.features.freelistNmi) {
      if (this.extraFirst === 0) return this.fail();
      if (nmi) {
        if (!raw_spin_trylock(k, this.extraLock, 0, "___pcpu_freelist_pop_nmi")) return this.fail();
      } else {
        raw_spin_lock(k, this.extraLock, 0, "___pcpu_freelist_pop");
      }
      const node = this.extraFirst;
      if (node !== 0) this.extraFirst = this.next(node);
      raw_spin_unlock(k, this.extraLock, 0);
      return node !== 0 ? node : this.fail();
    }
    return this.fail();
  }

  /** Releases CPU c's list lock (rqspinlock on 6.15+, raw spinlock before). */
  private unlock(c: number): void {
    if (this.k.features.rqspinlock) res_spin_unlock(this.k, this.locks, c);
    else raw_spin_unlock(this.k, this.locks, c);
  }

  /** Charges the READ_ONCE(head->first) of CPU c's list: half a remote miss when another CPU owns its cache line. */
  private touch(c: number): void {
    const cpu = this.k.cur;
    const line = c >> this.locks.lineShift;
    const o = this.locks.lineOwner[line];
    if (o !== cpu.id && o !== -1) cpu.clock += COST.remoteMiss / 2;
  }

  /** A pop that found nothing: counts it and returns NULL (0). */
  private fail(): number {
    this.failedPops++;
    return 0;
  }

  /** Elements on each CPU's list and the extralist (walks the lists). */
  counts(): { perCpu: number[]; extra: number } {
    const walk = (p: number) => {
      let n = 0;
      while (p !== 0) {
        n++;
        p = this.next(p);
      }
      return n;
    };
    return { perCpu: Array.from(this.first, walk), extra: walk(this.extraFirst) };
  }

  /** pcpu_freelist_destroy() */
  destroy(): void {
    this.k.percpu.free(this.headsArea);
  }
}

snapshotClasses(PcpuFreelist);
