// kernel/bpf/bpf_lru_list.c and bpf_lru_list.h (read at ≈v6.16-6.18, the
// 4.10 original and the 2026 bpf-next rqspinlock rework): the LRU behind
// BPF_MAP_TYPE_LRU_HASH and LRU_PERCPU_HASH.
//
// Two flavours:
//   common LRU  one global bpf_lru_list (active / inactive / free) under one
//               raw spinlock, plus a per-CPU bpf_lru_locallist (free and
//               pending lists, own lock). A pop refills the local free list
//               with target_free nodes from the global list (flushing the
//               local pending nodes into it, rotating, shrinking), then
//               steals round-robin from the CPUs' local lists.
//   percpu LRU  (BPF_F_NO_COMMON_LRU) every CPU owns a whole bpf_lru_list
//               with max_entries / ncpu nodes.
// Ref bits are the second chance: set by program-side lookups, cleared by
// every move. Shrinking asks the hash table to delete the victim
// (htab_lru_map_delete_node, which takes the bucket lock: lock order
// loc_l->lock -> l->lock -> bucket lock).
//
// The list_heads live in typed arrays indexed like the element arena: index
// i < nrHeads is a list head, index nrHeads + j is the lru_node of element j
// (at elems + j * elemSize + ELEM_LRU_NODE). next/prev move exactly like the
// kernel's list_add / list_del / list_move. The hash a pop records goes to
// the element's memory, as the kernel writes it through hash_offset.

import { COST } from "../kernel/cost.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { LockSet } from "../kernel/lockdep.ts";
import { definePoint } from "../kernel/points.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import {
  raw_spin_lock,
  raw_spin_lock_irqsave,
  raw_spin_unlock,
  raw_spin_unlock_irqrestore,
} from "../kernel/spinlock.ts";

/** enum bpf_lru_list_type */
export const BPF_LRU_LIST_T_ACTIVE = 0;
export const BPF_LRU_LIST_T_INACTIVE = 1;
export const BPF_LRU_LIST_T_FREE = 2;
export const BPF_LRU_LOCAL_LIST_T_FREE = 3;
export const BPF_LRU_LOCAL_LIST_T_PENDING = 4;
/** Lists of a bpf_lru_list, and how many of them keep counts. */
export const NR_BPF_LRU_LIST_T = 3;
export const NR_BPF_LRU_LIST_COUNT = 2;
const BPF_LOCAL_LIST_T_OFFSET = NR_BPF_LRU_LIST_T;

/** Refill target of the common LRU before 6.16, and the cap of the 6.16 clamp. */
export const LOCAL_FREE_TARGET = 128;
/** Nodes a common-LRU rotation or shrink may scan. */
export const LOCAL_NR_SCANS = LOCAL_FREE_TARGET;
/** Shrink target (and scan budget) of a per-CPU LRU. */
export const PERCPU_FREE_TARGET = 4;
export const PERCPU_NR_SCANS = PERCPU_FREE_TARGET;

/** sizeof(struct bpf_lru_list): three list heads, counts, rotation cursor, cacheline-aligned lock. */
const BPF_LRU_LIST_SIZE = 128;
const BPF_LRU_LIST_LOCK_OFF = 64;
/** sizeof(struct bpf_lru_locallist): two list heads, next_steal, lock. */
const BPF_LRU_LOCALLIST_SIZE = 40;
const BPF_LRU_LOCALLIST_LOCK_OFF = 36;

const P_POP_FREE = definePoint("bpf_lru_pop_free", "kernel/bpf/bpf_lru_list.c", "take a free LRU node (may evict)");
const P_PUSH_FREE = definePoint(
  "bpf_lru_push_free",
  "kernel/bpf/bpf_lru_list.c",
  "return a node to the LRU free lists",
);
const P_POP_FREE_TO_LOCAL = definePoint(
  "bpf_lru_list_pop_free_to_local",
  "kernel/bpf/bpf_lru_list.c",
  "refill a CPU's local free list from the global LRU",
);
const P_ROTATE = definePoint("__bpf_lru_list_rotate", "kernel/bpf/bpf_lru_list.c", "second-chance rotation");
const P_SHRINK = definePoint("__bpf_lru_list_shrink", "kernel/bpf/bpf_lru_list.c", "evict old nodes from an LRU");
const P_POP_PENDING = definePoint(
  "__local_list_pop_pending",
  "kernel/bpf/bpf_lru_list.c",
  "steal (evict) a node pending on a CPU's local list",
);
const P_POPULATE = definePoint("bpf_lru_populate", "kernel/bpf/bpf_lru_list.c", "put every element on a free list");

/**
 * The hash table side of an LRU (lru->del_from_htab + lru->del_arg):
 * htab_lru_map_delete_node() unlinks the element owning `node` (an lru_node
 * address) and says whether it did.
 */
export interface LruDelFromHtab {
  /** htab_lru_map_delete_node(): unlinks the element owning lru_node `node`; false when it was already gone. */
  htabLruMapDeleteNode(node: number): boolean;
}

/** clamp(v, lo, hi) */
function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** struct bpf_lru (with its lists, nodes and locks). */
export class BpfLru {
  /** BPF_F_NO_COMMON_LRU: one bpf_lru_list per CPU. */
  readonly percpu: boolean;
  /** lru->nr_scans: nodes a rotation or shrink may scan (LOCAL_NR_SCANS or PERCPU_NR_SCANS). */
  readonly nrScans: number;
  /** Nodes a common-LRU refill moves to a local free list (lru->target_free). */
  targetFree: number = LOCAL_FREE_TARGET;
  /** Offset from an lru_node to the u32 hash of its element (lru->hash_offset). */
  readonly hashOffset: number;
  /** lru->del_arg with lru->del_from_htab: the hash table that evicts a node's element. */
  readonly delArg: LruDelFromHtab;
  /** bpf_lru_list instances: 1 (common) or ncpu (percpu). */
  readonly nLists: number;
  /** First list-head index of the local lists (common flavour). */
  readonly localBase: number;
  /** List heads before the first node. */
  readonly nrHeads: number;
  /** list_head links: heads, then one per node (filled by populate). */
  next: Int32Array;
  /** list_head prev links, same indexing as `next`. */
  prev: Int32Array;
  /** bpf_lru_node.cpu: the CPU whose local list (or per-CPU LRU) the node belongs to; same indexing as next/prev. */
  cpu = new Uint16Array(0);
  /** bpf_lru_node.type: the enum bpf_lru_list_type list the node is on. */
  type = new Uint8Array(0);
  /** bpf_lru_node.ref: set by a program-side lookup, cleared by every move (the second chance). */
  ref = new Uint8Array(0);
  /** counts[list * 2 + type] for ACTIVE and INACTIVE. */
  readonly counts: Uint32Array;
  /** next_inactive_rotation per list (a head or node index). */
  readonly nextInactiveRotation: Int32Array;
  /** bpf_lru_locallist.next_steal per CPU. */
  readonly nextSteal: Uint16Array;
  /** bpf_lru_list.lock: 1 (common, in struct bpf_htab) or per CPU. */
  readonly listLocks: LockSet;
  /** bpf_lru_locallist.lock per CPU (common flavour). */
  readonly localLocks: LockSet | null;
  /** alloc_percpu() area of the per-CPU lists (0 when it failed). */
  readonly area: number;
  /** Element arena the nodes live in (populate's buf, node_offset, elem_size). */
  buf = 0;
  /** Offset of the lru_node inside an element (populate's node_offset). */
  nodeOffset = 0;
  /** Bytes between elements (populate's elem_size). */
  elemSize = 0;
  /** Nodes populated (populate's nr_elems). */
  nrNodes = 0;
  /** Evictions (nodes taken from the hash table by shrink or steal). */
  evictions = 0;
  /** Steals of another CPU's local node. */
  steals = 0;

  /**
   * bpf_lru_init(): `structAddr` is where struct bpf_lru sits inside the
   * map (the common list lock lives there). Check `failed` afterwards.
   */
  constructor(
    private readonly k: Kernel,
    percpu: boolean,
    hashOffset: number,
    delArg: LruDelFromHtab,
    structAddr: number,
  ) {
    const ncpu = k.ncpu;
    this.percpu = percpu;
    this.hashOffset = hashOffset;
    this.delArg = delArg;
    this.nrScans = percpu ? PERCPU_NR_SCANS : LOCAL_NR_SCANS;
    this.nLists = percpu ? ncpu : 1;
    this.localBase = this.nLists * NR_BPF_LRU_LIST_T;
    this.nrHeads = this.localBase + (percpu ? 0 : 2 * ncpu);
    this.next = new Int32Array(this.nrHeads);
    this.prev = new Int32Array(this.nrHeads);
    for (let h = 0; h < this.nrHeads; h++) this.next[h] = this.prev[h] = h; // INIT_LIST_HEAD
    this.counts = new Uint32Array(this.nLists * NR_BPF_LRU_LIST_COUNT);
    this.nextInactiveRotation = new Int32Array(this.nLists);
    for (let l = 0; l < this.nLists; l++) this.nextInactiveRotation[l] = this.head(l, BPF_LRU_LIST_T_INACTIVE);
    this.nextSteal = new Uint16Array(ncpu);
    for (let c = 0; c < ncpu; c++) this.nextSteal[c] = c;
    const size = percpu ? BPF_LRU_LIST_SIZE : BPF_LRU_LOCALLIST_SIZE;
    this.area = k.percpu.alloc(size, percpu ? 64 : 8);
    const stride = this.area ? k.percpu.stride(this.area) : size;
    const raw = "raw_spinlock_t";
    const listCls = k.lockdep.lockClass("&l->lock");
    if (percpu) {
      this.listLocks = new LockSet(listCls, raw, ncpu, this.area + BPF_LRU_LIST_LOCK_OFF, stride);
      this.localLocks = null;
    } else {
      this.listLocks = new LockSet(listCls, raw, 1, structAddr + BPF_LRU_LIST_LOCK_OFF, 64);
      const locCls = k.lockdep.lockClass("&loc_l->lock");
      this.localLocks = new LockSet(locCls, raw, ncpu, this.area + BPF_LRU_LOCALLIST_LOCK_OFF, stride);
    }
  }

  /** alloc_percpu() failed (-ENOMEM). */
  get failed(): boolean {
    return this.area === 0;
  }

  // ------------------------------------------------------------ addressing

  /** Head index of list `type` of bpf_lru_list `l`. */
  head(l: number, type: number): number {
    return l * NR_BPF_LRU_LIST_T + type;
  }

  /** Head index of a CPU's local free (type 3) or pending (type 4) list. */
  localHead(cpu: number, type: number): number {
    return this.localBase + cpu * 2 + (type - BPF_LOCAL_LIST_T_OFFSET);
  }

  /** Address of the lru_node with index n. */
  nodeAddr(n: number): number {
    return this.buf + (n - this.nrHeads) * this.elemSize + this.nodeOffset;
  }

  /** Index of the lru_node at `addr`. */
  nodeIdx(addr: number): number {
    return this.nrHeads + (addr - this.buf - this.nodeOffset) / this.elemSize;
  }

  // ------------------------------------------------------------ list_head

  /** list_del() */
  private listDel(n: number): void {
    const p = this.prev[n];
    const x = this.next[n];
    this.next[p] = x;
    this.prev[x] = p;
  }

  /** list_add(): right after the head. */
  private listAdd(n: number, h: number): void {
    const x = this.next[h];
    this.next[n] = x;
    this.prev[x] = n;
    this.prev[n] = h;
    this.next[h] = n;
  }

  /** list_move(): unlink, then add right after head h. */
  private listMove(n: number, h: number): void {
    this.listDel(n);
    this.listAdd(n, h);
  }

  /** list_empty() */
  empty(h: number): boolean {
    return this.next[h] === h;
  }

  /** IS_LOCAL_LIST_TYPE(): a per-CPU local free or pending list. */
  private static isLocal(t: number): boolean {
    return t >= BPF_LOCAL_LIST_T_OFFSET;
  }

  /** WARN_ON_ONCE() in bpf_lru_list.c: a once-per-message warning in dmesg. */
  private warn(what: string): void {
    const k = this.k;
    const cpu = k.cur;
    k.dmesg.logOnce(
      `lru:${what}`,
      cpu.clock,
      cpu.id,
      "warn",
      "warn",
      `WARNING: CPU: ${cpu.id} at kernel/bpf/bpf_lru_list.c: ${what}`,
    );
  }

  /** bpf_lru_list_count_inc(): counts are kept for ACTIVE and INACTIVE only. */
  private countInc(l: number, t: number): void {
    if (t < NR_BPF_LRU_LIST_COUNT) this.counts[l * NR_BPF_LRU_LIST_COUNT + t]++;
  }

  /** bpf_lru_list_count_dec() */
  private countDec(l: number, t: number): void {
    if (t < NR_BPF_LRU_LIST_COUNT) this.counts[l * NR_BPF_LRU_LIST_COUNT + t]--;
  }

  /** A node visited by a scan: one pointer chase. */
  private step(): void {
    this.k.cur.clock += COST.chainStep;
  }

  // ------------------------------------------------------------ moves

  /** __bpf_lru_node_move_to_free() */
  private moveToFree(l: number, n: number, freeHead: number, tgtFreeType: number): void {
    if (BpfLru.isLocal(this.type[n])) return this.warn("__bpf_lru_node_move_to_free on a local node");
    if (n === this.nextInactiveRotation[l]) this.nextInactiveRotation[l] = this.prev[n];
    this.countDec(l, this.type[n]);
    this.type[n] = tgtFreeType;
    this.listMove(n, freeHead);
  }

  /** __bpf_lru_node_move_in(): from a local list into bpf_lru_list l. */
  private moveIn(l: number, n: number, tgt: number): void {
    if (!BpfLru.isLocal(this.type[n]) || BpfLru.isLocal(tgt)) return this.warn("__bpf_lru_node_move_in");
    this.countInc(l, tgt);
    this.type[n] = tgt;
    this.ref[n] = 0;
    this.listMove(n, this.head(l, tgt));
  }

  /** __bpf_lru_node_move(): within or between the lists of l (to the head). */
  private move(l: number, n: number, tgt: number): void {
    if (BpfLru.isLocal(this.type[n]) || BpfLru.isLocal(tgt)) return this.warn("__bpf_lru_node_move");
    if (this.type[n] !== tgt) {
      this.countDec(l, this.type[n]);
      this.countInc(l, tgt);
      this.type[n] = tgt;
    }
    this.ref[n] = 0;
    if (n === this.nextInactiveRotation[l]) this.nextInactiveRotation[l] = this.prev[n];
    this.listMove(n, this.head(l, tgt));
  }

  /** bpf_lru_list_inactive_low(): fewer inactive than active nodes (rotate the active list then). */
  private inactiveLow(l: number): boolean {
    const c = l * NR_BPF_LRU_LIST_COUNT;
    return this.counts[c + BPF_LRU_LIST_T_INACTIVE] < this.counts[c + BPF_LRU_LIST_T_ACTIVE];
  }

  /** __bpf_lru_list_rotate_active(): tail first; referenced back to active, others to inactive. */
  private rotateActive(l: number): void {
    const active = this.head(l, BPF_LRU_LIST_T_ACTIVE);
    const first = this.next[active];
    let i = 0;
    for (let n = this.prev[active]; n !== active;) {
      const tmp = this.prev[n];
      this.step();
      this.move(l, n, this.ref[n] ? BPF_LRU_LIST_T_ACTIVE : BPF_LRU_LIST_T_INACTIVE);
      if (++i === this.nrScans || n === first) break;
      n = tmp;
    }
  }

  /**
   * __bpf_lru_list_rotate_inactive(): from next_inactive_rotation towards
   * the head, referenced nodes go to active; the cursor remembers where it
   * stopped.
   */
  private rotateInactive(l: number): void {
    const inactive = this.head(l, BPF_LRU_LIST_T_INACTIVE);
    if (this.empty(inactive)) return;
    let last = this.next[this.nextInactiveRotation[l]];
    if (last === inactive) last = this.next[last];
    let cur = this.nextInactiveRotation[l];
    let nxt = inactive;
    let i = 0;
    while (i < this.nrScans) {
      if (cur === inactive) {
        cur = this.prev[cur];
        continue;
      }
      nxt = this.prev[cur];
      this.step();
      if (this.ref[cur]) this.move(l, cur, BPF_LRU_LIST_T_ACTIVE);
      if (cur === last) break;
      cur = nxt;
      i++;
    }
    this.nextInactiveRotation[l] = nxt;
  }

  /** __bpf_lru_list_rotate(): active only when inactive runs low; inactive always. */
  private rotate(l: number): void {
    this.k.point(P_ROTATE, l);
    if (this.inactiveLow(l)) this.rotateActive(l);
    this.rotateInactive(l);
  }

  /** __bpf_lru_list_shrink_inactive(): unreferenced nodes from the tail are deleted from the htab. */
  private shrinkInactive(l: number, tgtNshrink: number, freeHead: number, tgtFreeType: number): number {
    const inactive = this.head(l, BPF_LRU_LIST_T_INACTIVE);
    let nshrinked = 0;
    let i = 0;
    for (let n = this.prev[inactive]; n !== inactive;) {
      const tmp = this.prev[n];
      this.step();
      if (this.ref[n]) {
        this.move(l, n, BPF_LRU_LIST_T_ACTIVE);
      } else if (this.delFromHtab(n)) {
        this.moveToFree(l, n, freeHead, tgtFreeType);
        if (++nshrinked === tgtNshrink) break;
      }
      if (++i === this.nrScans) break;
      n = tmp;
    }
    return nshrinked;
  }

  /**
   * __bpf_lru_list_shrink(): shrink the inactive list; when that frees
   * nothing, force-evict the oldest deletable node of inactive (or active
   * when inactive is empty), ignoring ref bits.
   */
  private shrink(l: number, tgtNshrink: number, freeHead: number, tgtFreeType: number): number {
    this.k.point(P_SHRINK, l);
    const n = this.shrinkInactive(l, tgtNshrink, freeHead, tgtFreeType);
    if (n) return n;
    const inactive = this.head(l, BPF_LRU_LIST_T_INACTIVE);
    const force = this.empty(inactive) ? this.head(l, BPF_LRU_LIST_T_ACTIVE) : inactive;
    for (let x = this.prev[force]; x !== force;) {
      const tmp = this.prev[x];
      this.step();
      if (this.delFromHtab(x)) {
        this.moveToFree(l, x, freeHead, tgtFreeType);
        return 1;
      }
      x = tmp;
    }
    return 0;
  }

  /** lru->del_from_htab(lru->del_arg, node): evicts node n's element; counts successful evictions. */
  private delFromHtab(n: number): boolean {
    const ok = this.delArg.htabLruMapDeleteNode(this.nodeAddr(n));
    if (ok) this.evictions++;
    return ok;
  }

  /** __local_list_flush(): pending nodes (oldest first) into active (ref) or inactive. */
  private localListFlush(l: number, cpu: number): void {
    const pending = this.localHead(cpu, BPF_LRU_LOCAL_LIST_T_PENDING);
    for (let n = this.prev[pending]; n !== pending;) {
      const tmp = this.prev[n];
      this.step();
      this.moveIn(l, n, this.ref[n] ? BPF_LRU_LIST_T_ACTIVE : BPF_LRU_LIST_T_INACTIVE);
      n = tmp;
    }
  }

  /** bpf_lru_list_push_free(): a node of the global lists back to its free list. */
  private listPushFree(l: number, n: number): void {
    if (BpfLru.isLocal(this.type[n])) return this.warn("bpf_lru_list_push_free on a local node");
    const k = this.k;
    const flags = raw_spin_lock_irqsave(k, this.listLocks, l, "bpf_lru_list_push_free");
    this.move(l, n, BPF_LRU_LIST_T_FREE);
    raw_spin_unlock_irqrestore(k, this.listLocks, l, flags);
  }

  /**
   * bpf_lru_list_pop_free_to_local(): under the global lock, flush this
   * CPU's pending nodes, rotate, move up to target_free free nodes to the
   * local free list and shrink for the rest. Interrupts are already off.
   */
  private popFreeToLocal(cpu: number): void {
    const k = this.k;
    k.point(P_POP_FREE_TO_LOCAL, cpu);
    raw_spin_lock(k, this.listLocks, 0, "bpf_lru_list_pop_free_to_local");
    this.localListFlush(0, cpu);
    this.rotate(0);
    const free = this.head(0, BPF_LRU_LIST_T_FREE);
    const localFree = this.localHead(cpu, BPF_LRU_LOCAL_LIST_T_FREE);
    let nfree = 0;
    for (let n = this.next[free]; n !== free;) {
      const tmp = this.next[n];
      this.moveToFree(0, n, localFree, BPF_LRU_LOCAL_LIST_T_FREE);
      if (++nfree === this.targetFree) break;
      n = tmp;
    }
    if (nfree < this.targetFree) {
      this.shrink(0, this.targetFree - nfree, localFree, BPF_LRU_LOCAL_LIST_T_FREE);
    }
    raw_spin_unlock(k, this.listLocks, 0);
  }

  /** Stores the element's hash through lru->hash_offset, as bpf_lru_pop_free() does. */
  private writeHash(n: number, hash: number): void {
    this.k.mem.writeU32(this.nodeAddr(n) + this.hashOffset, hash);
  }

  /** __local_list_add_pending() */
  private localListAddPending(cpu: number, n: number, hash: number): void {
    this.writeHash(n, hash);
    this.cpu[n] = cpu;
    this.type[n] = BPF_LRU_LOCAL_LIST_T_PENDING;
    this.ref[n] = 0;
    this.listAdd(n, this.localHead(cpu, BPF_LRU_LOCAL_LIST_T_PENDING));
  }

  /** __local_list_pop_free(): the first local free node, or -1. */
  private localListPopFree(cpu: number): number {
    const h = this.localHead(cpu, BPF_LRU_LOCAL_LIST_T_FREE);
    const n = this.next[h];
    if (n === h) return -1;
    this.listDel(n);
    return n;
  }

  /**
   * __local_list_pop_pending(): the oldest pending node the hash table lets
   * go, unreferenced ones first, then any. -1 when none.
   */
  private localListPopPending(cpu: number): number {
    this.k.point(P_POP_PENDING, cpu);
    const pending = this.localHead(cpu, BPF_LRU_LOCAL_LIST_T_PENDING);
    for (let force = 0; force < 2; force++) {
      for (let n = this.prev[pending]; n !== pending; n = this.prev[n]) {
        this.step();
        if ((!this.ref[n] || force) && this.delFromHtab(n)) {
          this.listDel(n);
          return n;
        }
      }
    }
    return -1;
  }

  /** bpf_percpu_lru_pop_free() */
  private percpuPopFree(hash: number): number {
    const k = this.k;
    const cpu = k.cur.id;
    const flags = raw_spin_lock_irqsave(k, this.listLocks, cpu, "bpf_percpu_lru_pop_free");
    this.rotate(cpu);
    const free = this.head(cpu, BPF_LRU_LIST_T_FREE);
    if (this.empty(free)) this.shrink(cpu, PERCPU_FREE_TARGET, free, BPF_LRU_LIST_T_FREE);
    let n = -1;
    if (!this.empty(free)) {
      n = this.next[free];
      this.writeHash(n, hash);
      this.ref[n] = 0;
      this.move(cpu, n, BPF_LRU_LIST_T_INACTIVE);
    }
    raw_spin_unlock_irqrestore(k, this.listLocks, cpu, flags);
    return n;
  }

  /** bpf_common_lru_pop_free() */
  private commonPopFree(hash: number): number {
    const k = this.k;
    const cpu = k.cur.id;
    const loc = this.localLocks!;
    let flags = raw_spin_lock_irqsave(k, loc, cpu, "bpf_common_lru_pop_free");
    let n = this.localListPopFree(cpu);
    if (n < 0) {
      this.popFreeToLocal(cpu);
      n = this.localListPopFree(cpu);
    }
    if (n >= 0) this.localListAddPending(cpu, n, hash);
    raw_spin_unlock_irqrestore(k, loc, cpu, flags);
    if (n >= 0) return n;
    // Nothing local and nothing from the global LRU: steal round-robin from
    // the local free/pending lists, starting at this CPU's next_steal.
    const firstSteal = this.nextSteal[cpu];
    let steal = firstSteal;
    do {
      flags = raw_spin_lock_irqsave(k, loc, steal, "bpf_common_lru_pop_free");
      n = this.localListPopFree(steal);
      if (n < 0) n = this.localListPopPending(steal);
      raw_spin_unlock_irqrestore(k, loc, steal, flags);
      if (n >= 0 && steal !== cpu) this.steals++;
      steal = (steal + 1) % k.ncpu; // cpumask_next_wrap() over cpu_possible_mask
    } while (n < 0 && steal !== firstSteal);
    this.nextSteal[cpu] = steal;
    if (n >= 0) {
      flags = raw_spin_lock_irqsave(k, loc, cpu, "bpf_common_lru_pop_free");
      this.localListAddPending(cpu, n, hash);
      raw_spin_unlock_irqrestore(k, loc, cpu, flags);
    }
    return n;
  }

  /**
   * bpf_lru_pop_free(): a free node for an element whose key hashes to
   * `hash` (recorded in the element), taken on the current CPU; may evict.
   * Returns the lru_node address, or 0.
   */
  popFree(hash: number): number {
    this.k.point(P_POP_FREE, hash);
    const n = this.percpu ? this.percpuPopFree(hash) : this.commonPopFree(hash);
    return n < 0 ? 0 : this.nodeAddr(n);
  }

  /** bpf_common_lru_push_free() */
  private commonPushFree(n: number): void {
    const t = this.type[n];
    if (t === BPF_LRU_LIST_T_FREE || t === BPF_LRU_LOCAL_LIST_T_FREE) {
      return this.warn("bpf_common_lru_push_free of a free node");
    }
    if (t === BPF_LRU_LOCAL_LIST_T_PENDING) {
      const k = this.k;
      const c = this.cpu[n];
      const loc = this.localLocks!;
      const flags = raw_spin_lock_irqsave(k, loc, c, "bpf_common_lru_push_free");
      if (this.type[n] === BPF_LRU_LOCAL_LIST_T_PENDING) {
        this.type[n] = BPF_LRU_LOCAL_LIST_T_FREE;
        this.ref[n] = 0;
        this.listMove(n, this.localHead(c, BPF_LRU_LOCAL_LIST_T_FREE));
        raw_spin_unlock_irqrestore(k, loc, c, flags);
        return;
      }
      raw_spin_unlock_irqrestore(k, loc, c, flags);
    }
    this.listPushFree(0, n);
  }

  /** bpf_percpu_lru_push_free(): back to the free list of the node's CPU. */
  private percpuPushFree(n: number): void {
    const k = this.k;
    const l = this.cpu[n];
    const flags = raw_spin_lock_irqsave(k, this.listLocks, l, "bpf_percpu_lru_push_free");
    this.move(l, n, BPF_LRU_LIST_T_FREE);
    raw_spin_unlock_irqrestore(k, this.listLocks, l, flags);
  }

  /** bpf_lru_push_free(): `node` is an lru_node address. */
  pushFree(node: number): void {
    this.k.point(P_PUSH_FREE, node);
    const n = this.nodeIdx(node);
    if (this.percpu) this.percpuPushFree(n);
    else this.commonPushFree(n);
  }

  /** bpf_lru_node_set_ref(): only writes when the bit is clear. */
  setRef(node: number): void {
    const n = this.nodeIdx(node);
    if (!this.ref[n]) this.ref[n] = 1;
  }

  /** The ref bit of an lru_node. */
  isRef(node: number): boolean {
    return this.ref[this.nodeIdx(node)] !== 0;
  }

  /**
   * bpf_lru_populate(): every element's node onto a free list: the global
   * one (common), or nr/ncpu per CPU in element order (percpu). Sets the
   * refill target: LOCAL_FREE_TARGET, or since 6.16
   * clamp(nr / num_possible_cpus() / 2, 1, LOCAL_FREE_TARGET).
   */
  populate(buf: number, nodeOffset: number, elemSize: number, nrElems: number): void {
    const k = this.k;
    k.point(P_POPULATE, nrElems);
    this.buf = buf;
    this.nodeOffset = nodeOffset;
    this.elemSize = elemSize;
    this.nrNodes = nrElems;
    const total = this.nrHeads + nrElems;
    const next = new Int32Array(total);
    const prev = new Int32Array(total);
    next.set(this.next);
    prev.set(this.prev);
    this.next = next;
    this.prev = prev;
    this.cpu = new Uint16Array(total);
    this.type = new Uint8Array(total);
    this.ref = new Uint8Array(total);
    const ncpu = k.ncpu;
    if (!this.percpu) {
      const free = this.head(0, BPF_LRU_LIST_T_FREE);
      for (let i = 0; i < nrElems; i++) {
        const n = this.nrHeads + i;
        this.type[n] = BPF_LRU_LIST_T_FREE;
        this.ref[n] = 0;
        this.listAdd(n, free);
      }
      this.targetFree = k.features.lruTargetClamp
        ? clamp(Math.floor(Math.floor(nrElems / ncpu) / 2), 1, LOCAL_FREE_TARGET)
        : LOCAL_FREE_TARGET;
      return;
    }
    const pcpuEntries = Math.floor(nrElems / ncpu);
    let i = 0;
    for (let c = 0; c < ncpu && i < nrElems; c++) {
      const free = this.head(c, BPF_LRU_LIST_T_FREE);
      do {
        const n = this.nrHeads + i;
        this.cpu[n] = c;
        this.type[n] = BPF_LRU_LIST_T_FREE;
        this.ref[n] = 0;
        this.listAdd(n, free);
        i++;
      } while (i < nrElems && i % pcpuEntries !== 0);
    }
  }

  /** bpf_lru_destroy(): frees the per-CPU lists. */
  destroy(): void {
    if (this.area) this.k.percpu.free(this.area);
  }

  // ------------------------------------------------------------ inspection

  /** Element indexes on a list, head to tail (for tests and `sim` dumps). */
  listElems(h: number): number[] {
    const out: number[] = [];
    for (let n = this.next[h]; n !== h; n = this.next[n]) out.push(n - this.nrHeads);
    return out;
  }

  /** List type and owning CPU of element j's node. */
  nodeState(j: number): { type: number; cpu: number; ref: boolean } {
    const n = this.nrHeads + j;
    return { type: this.type[n], cpu: this.cpu[n], ref: this.ref[n] !== 0 };
  }
}

snapshotClasses(BpfLru);
