// kernel/bpf/hashtab.c: BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_PERCPU_HASH.
// Buckets are hlist_nulls heads in simulated memory (16 bytes each, the
// terminator encodes the bucket index); elements are struct htab_elem with
// the key at +48 and the value (or per-CPU value pointer) after it. The
// flows follow the kernel release of the profile:
//   4.5      kmalloc before the lock, kfree_rcu, exact count under the lock
//   4.6-4.9  preallocation (percpu_freelist); no spare element, so a full
//            map cannot even replace an existing key (fixed in 4.10)
//   4.10+    per-CPU extra_elems for replacing; new elements under the lock
//   5.7-6.0  on PREEMPT_RT non-prealloc maps take a sleeping bucket lock
//   5.11-6.14 map_locked per-CPU counters -> -EBUSY on same-CPU re-entry
//   6.1+     check-then-increment count (percpu_counter for big maps)
//   6.15+    rqspinlock bucket locks -> -EDEADLK / -ETIMEDOUT
// Dynamic (BPF_F_NO_PREALLOC) elements and per-CPU value areas come from an
// ElemAllocator (hashtab_alloc.ts), by the kernel's memalloc flavour:
// kmalloc in the caller's context and call_rcu() to free before 6.1,
// bpf_mem_alloc (memalloc.ts) from 6.1, or one of the RFC's flavours.

import { COST } from "../kernel/cost.ts";
import { E2BIG, EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM, ENOTSUPP, EPERM } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { LockSet } from "../kernel/lockdep.ts";
import { PAGE_SIZE, type Region, REGION_SPAN } from "../kernel/memory.ts";
import { definePoint } from "../kernel/points.ts";
import { KMALLOC_MAX_SIZE } from "../kernel/slab.ts";
import {
  local_irq_restore,
  local_irq_save,
  migrate_disable,
  migrate_enable,
  preempt_disable,
  preempt_enable,
} from "../kernel/context.ts";
import {
  raw_spin_lock,
  raw_spin_lock_irqsave,
  raw_spin_unlock,
  raw_spin_unlock_irqrestore,
  res_spin_lock_irqsave,
  res_spin_unlock_irqrestore,
  spin_lock_irqsave,
  spin_unlock_irqrestore,
} from "../kernel/spinlock.ts";
import { jhash, jhash2 } from "./jhash.ts";
import {
  bpf_map_area_alloc,
  bpf_map_area_free,
  BpfMap,
  bpfMapFlagsAccessOk,
  type MapAttr,
  percpuValueCopyIn,
  percpuValueCopyOut,
  roundUp8,
  roundupPow2,
} from "./map.ts";
import { bpf_map_meta_equal } from "./map_in_map.ts";
import { PcpuFreelist } from "./percpu_freelist.ts";
import {
  BPF_EXIST,
  BPF_F_LOCK,
  BPF_F_NO_COMMON_LRU,
  BPF_F_NO_PREALLOC,
  BPF_F_NUMA_NODE,
  BPF_F_RDONLY,
  BPF_F_RDONLY_PROG,
  BPF_F_WRONLY,
  BPF_F_WRONLY_PROG,
  BPF_F_ZERO_SEED,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_NOEXIST,
} from "./uapi.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { type ElemAllocator, newElemAllocator } from "./hashtab_alloc.ts";

export type { ElemAllocator } from "./hashtab_alloc.ts";

const P_UPDATE = definePoint("htab_map_update_elem", "kernel/bpf/hashtab.c", "insert or replace a hash element", {
  ret: true,
});
const P_PERCPU_UPDATE = definePoint(
  "htab_percpu_map_update_elem",
  "kernel/bpf/hashtab.c",
  "update a per-CPU hash element in place",
);
const P_LOOKUP = definePoint("__htab_map_lookup_elem", "kernel/bpf/hashtab.c", "lockless hash lookup", { ret: true });
const P_DELETE = definePoint("htab_map_delete_elem", "kernel/bpf/hashtab.c", "delete a hash element", { ret: true });
const P_GET_NEXT = definePoint("htab_map_get_next_key", "kernel/bpf/hashtab.c", "iterate hash keys");
const P_ALLOC_ELEM = definePoint("alloc_htab_elem", "kernel/bpf/hashtab.c", "get an element for an update");
const P_FREE_ELEM = definePoint("free_htab_elem", "kernel/bpf/hashtab.c", "release a deleted element");
const P_LOCK_BUCKET = definePoint("htab_lock_bucket", "kernel/bpf/hashtab.c", "take a bucket lock");
const P_UNLOCK_BUCKET = definePoint("htab_unlock_bucket", "kernel/bpf/hashtab.c", "release a bucket lock");
const P_MAP_ALLOC = definePoint("htab_map_alloc", "kernel/bpf/hashtab.c", "create a hash map");
const P_MAP_FREE = definePoint("htab_map_free", "kernel/bpf/hashtab.c", "destroy a hash map");
const P_DELETE_ALL = definePoint("delete_all_elements", "kernel/bpf/hashtab.c", "free a dynamic map's elements");

/** sizeof(struct htab_elem) */
export const HTAB_ELEM_SIZE = 48;
/** Offsets inside struct htab_elem. */
export const ELEM_NEXT = 0;
export const ELEM_PPREV = 8;
export const ELEM_PTR_TO_PPTR = 16;
export const ELEM_LRU_NODE = 16;
export const ELEM_HASH = 40;
export const ELEM_KEY = 48;
/** sizeof(struct bucket) */
export const BUCKET_SIZE = 16;
/** sizeof(struct bpf_htab) on the oracle kernel (memlock base). */
export const HTAB_STRUCT_SIZE = 832;
/** HASHTAB_MAP_LOCK_COUNT (5.11-6.14) */
export const HASHTAB_MAP_LOCK_COUNT = 8;
/** PERCPU_COUNTER_BATCH */
export const PERCPU_COUNTER_BATCH = 32;
/** KMALLOC_MAX_SIZE - sizeof(struct htab_elem): key+value ceiling. */
const PCPU_MIN_UNIT_SIZE = 32768;
/** LLIST_NODE_SZ (bpf_mem_alloc header counted by mem_usage). */
const LLIST_NODE_SZ = 8;

/** Flags accepted at creation in a release (HTAB_CREATE_FLAG_MASK over time). */
function htabFlagMask(v: number): number {
  let m = 0;
  if (v >= 406) m |= BPF_F_NO_PREALLOC;
  if (v >= 410) m |= BPF_F_NO_COMMON_LRU;
  if (v >= 414) m |= BPF_F_NUMA_NODE;
  if (v >= 415) m |= BPF_F_RDONLY | BPF_F_WRONLY;
  if (v >= 500) m |= BPF_F_ZERO_SEED;
  if (v >= 502) m |= BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
  return m;
}

/** htab_map_alloc_check() (hashtab.c), in the kernel's order of checks. */
export function htabMapAllocCheck(k: Kernel, attr: MapAttr): number {
  const t = attr.mapType;
  const percpu = t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const lru = t === BPF_MAP_TYPE_LRU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  const percpuLru = (attr.mapFlags & BPF_F_NO_COMMON_LRU) !== 0;
  const prealloc = (attr.mapFlags & BPF_F_NO_PREALLOC) === 0;
  const v = k.features.version;
  // zero_seed && !capable(CAP_SYS_ADMIN): bpfsim runs as root
  if ((attr.mapFlags & ~htabFlagMask(v)) !== 0 || (v >= 415 && !bpfMapFlagsAccessOk(attr.mapFlags))) return -EINVAL;
  if (!lru && percpuLru) return -EINVAL;
  if (lru && !prealloc) return -ENOTSUPP;
  if ((attr.mapFlags & BPF_F_NUMA_NODE) && (percpu || percpuLru)) return -EINVAL;
  if (attr.maxEntries === 0 || attr.keySize === 0 || attr.valueSize === 0) return -EINVAL;
  if (v < 511) {
    // before c6bde958a62b (5.11) keys lived on the program stack: MAX_BPF_STACK
    if (attr.keySize > 512) return -E2BIG;
    if (attr.valueSize >= KMALLOC_MAX_SIZE - 512 - HTAB_ELEM_SIZE) return -E2BIG;
  }
  if (attr.keySize + attr.valueSize >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE) return -E2BIG;
  if (percpu && roundUp8(attr.valueSize) > PCPU_MIN_UNIT_SIZE) return -E2BIG;
  return 0;
}

/**
 * kernel.bpf_force_dyn_alloc (EXPERIMENTAL, never merged: v3/v4 of the
 * bpf_mem_alloc series, dropped in v5): with the sysctl set, htab_map_alloc()
 * makes every non-LRU hash map dynamic and says so in its flags. Applies
 * where bpf_mem_alloc exists (6.1+).
 */
function forceDynAlloc(k: Kernel, attr: MapAttr): MapAttr {
  const t = attr.mapType;
  const lru = t === BPF_MAP_TYPE_LRU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  if (lru || !k.sysctl.bpf_force_dyn_alloc || !k.features.bpfMemAlloc) return attr;
  return { ...attr, mapFlags: attr.mapFlags | BPF_F_NO_PREALLOC };
}

/** The percpu_counter behind element counting of big dynamic maps (6.1+). */
class PercpuCounter {
  count = 0;
  readonly delta: Int32Array;

  constructor(ncpu: number) {
    this.delta = new Int32Array(ncpu);
  }

  /** percpu_counter_add_batch() */
  add(cpu: number, amount: number, batch: number): void {
    const d = this.delta[cpu] + amount;
    if (d >= batch || d <= -batch) {
      this.count += d;
      this.delta[cpu] = 0;
    } else {
      this.delta[cpu] = d;
    }
  }

  /** percpu_counter_sum() */
  sum(): number {
    let s = this.count;
    for (const d of this.delta) s += d;
    return s;
  }

  /** __percpu_counter_compare(): <0, 0, >0. */
  compare(rhs: number, batch: number, online: number): number {
    const c = this.count;
    if (Math.abs(c - rhs) > batch * online) return c > rhs ? 1 : -1;
    const s = this.sum();
    return s > rhs ? 1 : s < rhs ? -1 : 0;
  }
}

/** struct bpf_htab */
export class Htab extends BpfMap {
  /** htab->n_buckets: roundup_pow_of_two(max_entries). */
  readonly nBuckets: number;
  /** htab->elem_size: struct htab_elem + round_up(key_size, 8) + the value (or a per-CPU pointer). */
  readonly elemSize: number;
  /** htab->hashrnd: the jhash seed (get_random_u32() since 5.0 unless BPF_F_ZERO_SEED, else 0). */
  readonly hashrnd: number;
  /** Offset of the value (or per-CPU pointer) in an element. */
  readonly valOff: number;
  /** htab_is_percpu(): PERCPU_HASH or LRU_PERCPU_HASH. */
  readonly isPercpu: boolean;
  /** htab_is_lru(): LRU_HASH or LRU_PERCPU_HASH. */
  readonly isLru: boolean;
  /** Effective preallocation (never before 4.6). */
  readonly isPrealloc: boolean;
  /** htab_has_extra_elems(): preallocated non-per-CPU, non-LRU maps keep a spare element per CPU (4.10+). */
  readonly hasExtra: boolean;
  /** Offset of the freelist link (pprev since 4.11, next before). */
  readonly flLink: number;
  /** The kzalloc'd struct bpf_htab. */
  readonly structAddr: number;
  /** Bucket array. */
  bucketsAddr = 0;
  /** Float64 view of the region holding the bucket array. */
  protected bf64!: Float64Array;
  /** Index in bf64 of bucket 0's head. */
  protected bIdx0 = 0;
  /** Bucket locks; created with the bucket array (empty until then). */
  locks: LockSet;
  /** Bucket locks are raw_spinlock_t (false only for non-prealloc maps on PREEMPT_RT, 5.7-6.0). */
  protected readonly useRawLock: boolean;
  /** Preallocated element arena (0 when dynamic). */
  elems = 0;
  /** Elements in the arena. */
  numEntries = 0;
  /** htab->freelist: the preallocated elements not in use (null for dynamic and LRU maps). */
  freelist: PcpuFreelist | null = null;
  /** Per-CPU spare element for replacing (extra_elems). */
  extraElems: Float64Array | null = null;
  /** The per-CPU allocation behind htab->extra_elems (0 when none). */
  protected extraArea = 0;
  /** map_locked counters (5.11-6.14), cpu * 8 + index. */
  protected mapLocked: Int32Array | null = null;
  /** The per-CPU allocation behind htab->map_locked (0 when none). */
  protected mapLockedArea = 0;
  /** Exact or atomic element count of dynamic maps. */
  count = 0;
  /** htab->pcount: percpu_counter element count of big dynamic maps (6.1+), null when `count` is used. */
  private pcount: PercpuCounter | null = null;
  /** bpf_map_{inc,dec}_elem_count (6.6+ statistics). */
  elemStats = 0;
  /** Source of dynamic (BPF_F_NO_PREALLOC) elements; null for preallocated maps. */
  allocator: ElemAllocator | null = null;
  private readonly lockOut = { flags: false };
  /** Lock failures returned to callers (-EBUSY/-EDEADLK/-ETIMEDOUT). */
  lockFailures = 0;
  /** Lockless walks that ended in another bucket's nulls and restarted. */
  nullsRestarts = 0;

  /** The start of htab_map_alloc(): geometry, flags and hash seed of a map whose struct bpf_htab is at `structAddr`; init() allocates. */
  constructor(k: Kernel, attr: MapAttr, structAddr: number) {
    super(k, forceDynAlloc(k, attr));
    const f = k.features;
    const t = attr.mapType;
    this.structAddr = structAddr;
    this.isPercpu = t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
    this.isLru = t === BPF_MAP_TYPE_LRU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
    this.isPrealloc = f.htabPrealloc && (this.mapFlags & BPF_F_NO_PREALLOC) === 0;
    // htab_has_extra_elems(): hash of maps updates in place and has none since 6.16
    this.hasExtra = f.htabExtraElems && !this.isPercpu && !this.isLru &&
      !(t === BPF_MAP_TYPE_HASH_OF_MAPS && f.atLeast(6, 16));
    this.flLink = f.htabPaddingTrick ? ELEM_PPREV : ELEM_NEXT;
    if (this.isLru && (attr.mapFlags & BPF_F_NO_COMMON_LRU)) {
      const n = k.ncpu;
      let m = Math.ceil(attr.maxEntries / n) * n;
      if (m > 0xffffffff) m = Math.floor(attr.maxEntries / n) * n;
      this.maxEntries = m;
    }
    this.nBuckets = roundupPow2(this.maxEntries);
    this.valOff = ELEM_KEY + roundUp8(this.keySize);
    this.elemSize = this.valOff + (this.isPercpu ? 8 : roundUp8(this.valueSize));
    this.hashrnd = f.atLeast(5, 0) && (attr.mapFlags & BPF_F_ZERO_SEED) === 0 ? k.rng.u32() : 0;
    this.useRawLock = !(f.htabRtLockUnion && k.config.preemptRt && !this.isPrealloc);
    this.locks = new LockSet(k.lockdep.newClass("&htab->lockdep_key"), this.lockKind(), 0, 0, BUCKET_SIZE);
  }

  /** Type of the bucket locks in this release and config. */
  private lockKind(): "rqspinlock_t" | "raw_spinlock_t" | "spinlock_t" {
    return this.k.features.rqspinlock ? "rqspinlock_t" : this.useRawLock ? "raw_spinlock_t" : "spinlock_t";
  }

  /** htab_is_percpu() */
  override get percpu(): boolean {
    return this.isPercpu;
  }

  /** htab_is_prealloc() (never before 4.6) */
  override get prealloc(): boolean {
    return this.isPrealloc;
  }

  /** Allocates buckets, elements and counters (the rest of htab_map_alloc). */
  init(): number {
    const k = this.k;
    const f = k.features;
    if (this.maxEntries > 2 ** 31) return -E2BIG;
    if (this.nBuckets > Math.floor(0xffffffff / BUCKET_SIZE)) return -E2BIG;
    this.bucketsAddr = bpf_map_area_alloc(k, this.nBuckets * BUCKET_SIZE, "htab buckets");
    if (this.bucketsAddr === 0) return -ENOMEM;
    const r = k.mem.region(this.bucketsAddr);
    this.bf64 = r.f64;
    this.bIdx0 = (this.bucketsAddr >>> 0) >>> 3;
    // the lock words live in the buckets: only now that they fit, build their table
    // (struct bucket: the head at +0, the lock word at +8, on the head's cache line)
    this.locks = new LockSet(
      this.locks.cls,
      this.lockKind(),
      this.nBuckets,
      this.bucketsAddr + 8,
      BUCKET_SIZE,
      this.bf64,
      this.bIdx0 + 1,
      2,
    );
    for (let b = 0; b < this.nBuckets; b++) this.bf64[this.bIdx0 + 2 * b] = b * 2 + 1; // INIT_HLIST_NULLS_HEAD(b)
    if (f.htabMapLocked) {
      this.mapLockedArea = k.percpu.alloc(4 * HASHTAB_MAP_LOCK_COUNT, 4);
      if (this.mapLockedArea === 0) return -ENOMEM;
      this.mapLocked = new Int32Array(k.ncpu * HASHTAB_MAP_LOCK_COUNT);
    }
    if (!f.htabExactCount && this.maxEntries / 2 > k.ncpu * PERCPU_COUNTER_BATCH) {
      this.pcount = new PercpuCounter(k.ncpu);
    }
    if (this.isPrealloc) {
      const err = this.preallocInit();
      if (err) return err;
      if (this.hasExtra) {
        this.extraArea = k.percpu.alloc(8, 8);
        if (this.extraArea === 0) return -ENOMEM;
        this.extraElems = new Float64Array(k.ncpu);
        // alloc_extra_elems(): pops from the creating CPU, once per possible CPU
        for (let c = 0; c < k.ncpu; c++) this.extraElems[c] = this.freelist!.pop();
      }
    } else {
      this.allocator = newElemAllocator(k, {
        elemSize: this.elemSize,
        valOff: this.valOff,
        pcpuValueSize: this.isPercpu ? roundUp8(this.valueSize) : 0,
      });
      const err = this.allocator.init();
      if (err) return err;
    }
    if (f.memlock === "precharge") this.precharged = this.precharge();
    return 0;
  }

  /** prealloc_init(): the element arena, per-CPU value areas, and the freelist (or the LRU lists); 0 or -ENOMEM. */
  protected preallocInit(): number {
    const k = this.k;
    let n = this.maxEntries;
    if (this.hasExtra) n += k.ncpu;
    this.numEntries = n;
    this.elems = bpf_map_area_alloc(k, this.elemSize * n, "htab elems");
    if (this.elems === 0) return -ENOMEM;
    if (this.isPercpu) {
      const size = roundUp8(this.valueSize);
      for (let i = 0; i < n; i++) {
        const pptr = k.percpu.alloc(size, 8);
        if (pptr === 0) return -ENOMEM;
        k.mem.writePtr(this.elemAddr(i) + this.valOff, pptr);
      }
    }
    if (this.isLru) return this.lruInit();
    this.freelist = new PcpuFreelist(k, this.flLink, this.structAddr + 64);
    if (this.freelist.failed) return -ENOMEM;
    this.freelist.populate(this.elems + 0, this.elemSize, n);
    return 0;
  }

  /**
   * bpf_lru_init() + bpf_lru_populate() for LRU maps: the LRU variant
   * (hashtab_lru.ts) overrides this. The plain hash map has no LRU.
   */
  protected lruInit(): number {
    return -ENOTSUPP;
  }

  /** Address of preallocated element i (get_htab_elem). */
  elemAddr(i: number): number {
    return this.elems + i * this.elemSize;
  }

  /** Pre-5.11 precharge in bytes (pages rounded), for fdinfo memlock. */
  protected precharge(): number {
    const ncpu = this.k.ncpu;
    let cost = this.nBuckets * BUCKET_SIZE + this.elemSize * this.maxEntries;
    if (this.isPercpu) cost += roundUp8(this.valueSize) * ncpu * this.maxEntries;
    else cost += this.elemSize * ncpu;
    return Math.ceil(cost / PAGE_SIZE) * PAGE_SIZE;
  }

  // ------------------------------------------------------------ hashing

  /** htab_map_hash(): jhash2 for keys of whole words, jhash otherwise. */
  hash(key: Uint8Array): number {
    const ks = this.keySize;
    this.k.cur.clock += COST.hashWord * ((ks + 3) >> 2);
    return (ks & 3) === 0 ? jhash2(key, 0, ks >> 2, this.hashrnd) : jhash(key, 0, ks, this.hashrnd);
  }

  /** Bucket index of a hash. */
  bucketOf(hash: number): number {
    return hash & (this.nBuckets - 1);
  }

  /** hlist_nulls head of bucket b. */
  head(b: number): number {
    return this.bf64[this.bIdx0 + 2 * b];
  }

  /** Stores the hlist_nulls head of bucket b. */
  protected setHead(b: number, v: number): void {
    this.bf64[this.bIdx0 + 2 * b] = v;
  }

  /** next pointer of an element. */
  elemNext(e: number): number {
    const r = this.k.mem.regions[(e / REGION_SPAN) | 0]!;
    return r.f64[(e >>> 0) >>> 3];
  }

  /** Stored hash of an element. */
  elemHash(e: number): number {
    const r = this.k.mem.regions[(e / REGION_SPAN) | 0]!;
    return r.u32[((e >>> 0) + ELEM_HASH) >>> 2];
  }

  /** Copies an element's key out. */
  elemKey(e: number, out: Uint8Array): void {
    this.k.mem.copyOut(e + ELEM_KEY, out, 0, this.keySize);
  }

  /** True when `p` is an hlist_nulls terminator. */
  static isNulls(p: number): boolean {
    return p % 2 === 1;
  }

  /** lookup_elem_raw() over bucket b; 0 when absent. Sets lastNulls. */
  lookupRaw(b: number, hash: number, key: Uint8Array): number {
    const regions = this.k.mem.regions;
    const ks = this.keySize;
    let p = this.head(b);
    let steps = 0;
    while (p % 2 === 0) {
      const r: Region = regions[(p / REGION_SPAN) | 0]!;
      const off = p >>> 0;
      steps++;
      if (r.u32[(off + ELEM_HASH) >>> 2] === hash) {
        const u8 = r.u8;
        const ko = off + ELEM_KEY;
        let i = 0;
        while (i < ks && u8[ko + i] === key[i]) i++;
        if (i === ks) {
          this.k.cur.clock += COST.chainStep * steps + COST.copyWord * ((ks + 7) >> 3);
          return p;
        }
      }
      p = r.f64[off >>> 3];
    }
    this.lastNulls = p;
    this.k.cur.clock += COST.chainStep * steps;
    return 0;
  }

  /** The nulls value where the last failed walk ended. */
  lastNulls = 0;

  /**
   * The lockless walk of lookup_nulls_elem_raw(): as lookupRaw(), but the
   * reader holds no lock, so an interrupt (an NMI even with interrupts off)
   * may land between two elements; a delete and immediate reuse of the
   * element it stands on can then carry the walk into another bucket.
   */
  private walkRcu(b: number, hash: number, key: Uint8Array): number {
    const k = this.k;
    const cpu = k.cur;
    const regions = k.mem.regions;
    const ks = this.keySize;
    let p = this.head(b);
    while (p % 2 === 0) {
      const r: Region = regions[(p / REGION_SPAN) | 0]!;
      const off = p >>> 0;
      cpu.clock += COST.chainStep;
      if (r.u32[(off + ELEM_HASH) >>> 2] === hash) {
        const u8 = r.u8;
        const ko = off + ELEM_KEY;
        let i = 0;
        while (i < ks && u8[ko + i] === key[i]) i++;
        if (i === ks) {
          cpu.clock += COST.copyWord * ((ks + 7) >> 3);
          return p;
        }
      }
      if (cpu.nextEventAt <= cpu.clock) k.interruptWindow(cpu);
      p = r.f64[off >>> 3];
    }
    this.lastNulls = p;
    return 0;
  }

  /** lookup_nulls_elem_raw(): restarts when the walk ended in another bucket. */
  lookupNulls(b: number, hash: number, key: Uint8Array): number {
    for (let tries = 0; tries < 1000; tries++) {
      const l = this.walkRcu(b, hash, key);
      if (l !== 0) return l;
      if (!this.k.features.htabNulls || (this.lastNulls - 1) / 2 === b) return 0;
      this.nullsRestarts++;
    }
    return 0;
  }

  /** hlist_nulls_add_head_rcu() */
  protected addHead(b: number, e: number): void {
    this.k.mem.writePtr(e + ELEM_NEXT, this.head(b));
    this.setHead(b, e);
  }

  /** hlist_nulls_del_rcu(): unlink, leaving e->next intact for readers. */
  protected unlink(b: number, e: number): void {
    const mem = this.k.mem;
    let p = this.head(b);
    if (p === e) {
      this.setHead(b, mem.readPtr(e + ELEM_NEXT));
      return;
    }
    while (p % 2 === 0) {
      const n = mem.readPtr(p + ELEM_NEXT);
      if (n === e) {
        mem.writePtr(p + ELEM_NEXT, mem.readPtr(e + ELEM_NEXT));
        return;
      }
      p = n;
    }
  }

  // ------------------------------------------------------------ locking

  /**
   * This CPU's map_locked counter for `hash` (5.11-6.14): hash &
   * HASHTAB_MAP_LOCK_MASK; the 6.1+ profiles also mask by n_buckets - 1
   * ("bpf: hash map, avoid deadlock with suitable hash mask", 6.2, in 6.1.y).
   */
  private mapLockedSlot(hash: number): number {
    const mask = this.k.features.atLeast(6, 1)
      ? Math.min(HASHTAB_MAP_LOCK_COUNT - 1, this.nBuckets - 1)
      : HASHTAB_MAP_LOCK_COUNT - 1;
    return this.k.cur.id * HASHTAB_MAP_LOCK_COUNT + (hash & mask);
  }

  /** htab_lock_bucket(): saved irq flag (0/1) or a negative errno. */
  lockBucket(b: number, hash: number): number {
    const k = this.k;
    const f = k.features;
    k.point(P_LOCK_BUCKET, b);
    if (f.rqspinlock) {
      const r = res_spin_lock_irqsave(k, this.locks, b, "htab_lock_bucket", this.lockOut);
      if (r !== 0) {
        this.lockFailures++;
        return r;
      }
      return this.lockOut.flags ? 1 : 0;
    }
    if (this.mapLocked !== null) {
      const modern = f.atLeast(6, 1);
      const slot = this.mapLockedSlot(hash);
      if (modern) {
        preempt_disable(k);
        const flags = local_irq_save(k);
        if (++this.mapLocked[slot] !== 1) {
          this.mapLocked[slot]--;
          local_irq_restore(k, flags);
          preempt_enable(k);
          this.lockFailures++;
          return -EBUSY;
        }
        raw_spin_lock(k, this.locks, b, "htab_lock_bucket");
        return flags ? 1 : 0;
      }
      migrate_disable(k);
      if (++this.mapLocked[slot] !== 1) {
        this.mapLocked[slot]--;
        migrate_enable(k);
        this.lockFailures++;
        return -EBUSY;
      }
    }
    const flags = this.useRawLock
      ? raw_spin_lock_irqsave(k, this.locks, b, "htab_lock_bucket")
      : spin_lock_irqsave(k, this.locks, b, "htab_lock_bucket");
    return flags ? 1 : 0;
  }

  /** htab_unlock_bucket() */
  unlockBucket(b: number, hash: number, flags: number): void {
    const k = this.k;
    const f = k.features;
    k.point(P_UNLOCK_BUCKET, b);
    if (f.rqspinlock) {
      res_spin_unlock_irqrestore(k, this.locks, b, flags === 1);
      return;
    }
    if (this.mapLocked !== null) {
      const modern = f.atLeast(6, 1);
      const slot = this.mapLockedSlot(hash);
      if (modern) {
        raw_spin_unlock(k, this.locks, b);
        this.mapLocked[slot]--;
        local_irq_restore(k, flags === 1);
        preempt_enable(k);
        return;
      }
      if (this.useRawLock) raw_spin_unlock_irqrestore(k, this.locks, b, flags === 1);
      else spin_unlock_irqrestore(k, this.locks, b, flags === 1);
      this.mapLocked[slot]--;
      migrate_enable(k);
      return;
    }
    if (this.useRawLock) raw_spin_unlock_irqrestore(k, this.locks, b, flags === 1);
    else spin_unlock_irqrestore(k, this.locks, b, flags === 1);
  }

  // ------------------------------------------------------------ counting

  /** is_map_full(): the element count reached max_entries (approximate with a percpu_counter). */
  protected isMapFull(): boolean {
    if (this.pcount) return this.pcount.compare(this.maxEntries, PERCPU_COUNTER_BATCH, this.k.ncpu) >= 0;
    return this.count >= this.maxEntries;
  }

  /** inc_elem_count() (6.1+) */
  protected incElemCount(): void {
    this.elemStats++;
    if (this.pcount) this.pcount.add(this.k.cur.id, 1, PERCPU_COUNTER_BATCH);
    else this.count++;
  }

  /**
   * dec_elem_count() (6.1+); before 6.1 atomic_dec(&htab->count), which is
   * the same here: those releases never use the percpu_counter.
   */
  protected decElemCount(): void {
    this.elemStats--;
    if (this.pcount) this.pcount.add(this.k.cur.id, -1, PERCPU_COUNTER_BATCH);
    else this.count--;
  }

  /** Elements in the map (count of dynamic maps, statistics of prealloc ones). */
  override elemCount(): number {
    if (!this.isPrealloc) return this.pcount ? this.pcount.sum() : this.count;
    return this.elemStats;
  }

  // ------------------------------------------------------------ elements

  /** Writes key, hash and (unless null) value into element e, as alloc_htab_elem() does. */
  protected writeKeyValue(e: number, key: Uint8Array, value: Uint8Array | null, hash: number): void {
    const mem = this.k.mem;
    const r = mem.region(e);
    const off = e >>> 0;
    const ks = this.keySize;
    for (let i = 0; i < ks; i++) r.u8[off + ELEM_KEY + i] = key[i];
    r.u32[(off + ELEM_HASH) >>> 2] = hash;
    if (value !== null) mem.copyIn(e + this.valOff, value, 0, this.valueSize);
    this.k.cur.clock += COST.copyWord * ((ks + this.valueSize + 7) >> 3);
  }

  /** Per-CPU value pointer stored in an element. */
  pptr(e: number): number {
    return this.k.mem.readPtr(e + this.valOff);
  }

  /** Address of cpu's copy of a per-CPU element's value. */
  percpuValue(e: number, cpu: number): number {
    return this.k.percpu.ptr(this.pptr(e), cpu);
  }

  /** pcpu_copy_value(): one CPU (program) or all CPUs from a user buffer. */
  protected pcpuCopyValue(pptr: number, value: Uint8Array, onallcpus: boolean): void {
    const k = this.k;
    if (!onallcpus) {
      k.mem.copyIn(pptr + k.cur.id * k.percpu.stride(pptr), value, 0, this.valueSize);
      return;
    }
    // bpf_long_memcpy() of the rounded size: the padding bytes are kept too
    percpuValueCopyIn(k, pptr, value, roundUp8(this.valueSize));
  }

  /** pcpu_init_value(): the program path zeroes the other CPUs' copies. */
  protected pcpuInitValue(pptr: number, value: Uint8Array, onallcpus: boolean): void {
    const k = this.k;
    if (onallcpus) {
      this.pcpuCopyValue(pptr, value, true);
      return;
    }
    const stride = k.percpu.stride(pptr);
    for (let cpu = 0; cpu < k.ncpu; cpu++) {
      if (cpu === k.cur.id) k.mem.copyIn(pptr + cpu * stride, value, 0, this.valueSize);
      else k.mem.fill(pptr + cpu * stride, 0, this.valueSize);
    }
  }

  /**
   * alloc_htab_elem() for 4.10+: an element for `key` or a negative errno.
   * `oldElem` is the element being replaced (0 for a new key).
   */
  protected allocElem(key: Uint8Array, value: Uint8Array, hash: number, onallcpus: boolean, oldElem: number): number {
    const k = this.k;
    k.point(P_ALLOC_ELEM);
    let lNew: number;
    if (this.isPrealloc) {
      if (oldElem !== 0 && this.extraElems !== null) {
        const cpu = k.cur.id;
        lNew = this.extraElems[cpu];
        this.extraElems[cpu] = oldElem;
      } else {
        lNew = this.freelist!.__pop();
        if (lNew === 0) return -E2BIG;
        this.elemStats++;
      }
    } else {
      if (k.features.htabExactCount) {
        this.count++;
        if (this.count > this.maxEntries && oldElem === 0) {
          this.count--;
          return -E2BIG;
        }
        this.elemStats++;
      } else {
        if (this.isMapFull() && oldElem === 0) return -E2BIG;
        this.incElemCount();
      }
      lNew = this.allocator!.alloc();
      if (lNew === 0) {
        this.decElemCount();
        return -ENOMEM;
      }
    }
    return this.fillElem(lNew, key, value, hash, onallcpus);
  }

  /**
   * The end of alloc_htab_elem() once l_new is chosen (every release): a
   * dynamic per-CPU element gets its value area first (none: the element and
   * its count are given back, -ENOMEM), then key, hash and value are
   * written. Returns l_new or -ENOMEM.
   */
  private fillElem(lNew: number, key: Uint8Array, value: Uint8Array, hash: number, onallcpus: boolean): number {
    const k = this.k;
    if (!this.isPercpu) {
      this.writeKeyValue(lNew, key, value, hash);
      return lNew;
    }
    if (!this.isPrealloc) {
      const pptr = this.allocator!.allocPcpu(lNew);
      if (pptr === 0) {
        this.allocator!.discard(lNew);
        this.decElemCount();
        return -ENOMEM;
      }
      k.mem.writePtr(lNew + this.valOff, pptr);
    }
    this.writeKeyValue(lNew, key, null, hash);
    this.pcpuInitValue(this.pptr(lNew), value, onallcpus);
    return lNew;
  }

  /** free_htab_elem(): back to the freelist now, or to the allocator (RCU). */
  protected freeElem(e: number): void {
    const k = this.k;
    k.point(P_FREE_ELEM, e);
    if (this.isPrealloc) {
      this.elemStats--;
      this.freelist!.push(e);
      return;
    }
    this.decElemCount();
    this.freeDynamic(e);
  }

  /** Frees a dynamic element (and its per-CPU value area) through the allocator. */
  protected freeDynamic(e: number): void {
    this.allocator!.free(e);
  }

  // ------------------------------------------------------------ map ops

  /** __htab_map_lookup_elem(): the element, or 0. */
  lookupElemRaw(key: Uint8Array): number {
    const k = this.k;
    k.point(P_LOOKUP);
    const hash = this.hash(key);
    const l = this.lookupNulls(this.bucketOf(hash), hash, key);
    k.pointRet(P_LOOKUP, this, l);
    return l;
  }

  /** htab_map_lookup_elem() / htab_percpu_map_lookup_elem(): value address or 0. */
  lookupElem(key: Uint8Array): number {
    const l = this.lookupElemRaw(key);
    if (l === 0) return 0;
    if (this.isPercpu) return this.percpuValue(l, this.k.cur.id);
    return l + this.valOff;
  }

  /**
   * bpfsim's use-after-reuse check: the element holding the value at
   * `valueAddr` (what a lookup of `key` returned) now holds another key, or
   * is free (its memory went back to slab). A deleted element still waiting
   * in an allocator cache, on a freelist or for a grace period holds the old
   * key and is not counted; per-CPU values live outside the element and are
   * not checked here.
   */
  override reusedSince(valueAddr: number, key: Uint8Array): boolean {
    if (this.isPercpu) return false;
    const mem = this.k.mem;
    const e = valueAddr - this.valOff;
    if (mem.tryRegion(e) === undefined) return true;
    if (this.allocator !== null && this.allocator.isFree(e)) return true;
    return !mem.equals(e + ELEM_KEY, key, 0, this.keySize);
  }

  /** The syscall lookup: bpf_percpu_hash_copy() for per-CPU maps. */
  override sysLookup(key: Uint8Array, out: Uint8Array, _flags: number): number {
    const l = this.lookupElemRaw(key);
    if (l === 0) return -ENOENT;
    const k = this.k;
    if (this.isPercpu) {
      percpuValueCopyOut(k, this.pptr(l), out, roundUp8(this.valueSize));
      return 0;
    }
    k.mem.copyOut(l + this.valOff, out, 0, this.valueSize);
    return 0;
  }

  /** bpf_map_value_size(): round_up(value_size, 8) per CPU for per-CPU maps. */
  override sysValueSize(): number {
    return this.isPercpu ? roundUp8(this.valueSize) * this.k.ncpu : this.valueSize;
  }

  /** htab_map_update_elem() from a program (or the syscall for plain hashes). */
  override updateElem(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (this.isPercpu) return this.percpuUpdate(key, value, flags, false);
    const r = this.update(key, value, flags);
    this.k.pointRet(P_UPDATE, this, r);
    return r;
  }

  /** bpf_map_update_value(): per-CPU maps take all CPUs' values. */
  override sysUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (this.isPercpu) return this.percpuUpdate(key, value, flags, true);
    const r = this.update(key, value, flags);
    this.k.pointRet(P_UPDATE, this, r);
    return r;
  }

  /** check_flags(): -EEXIST for BPF_NOEXIST on an existing key, -ENOENT for BPF_EXIST on a missing one. */
  protected checkFlags(lOld: number, flags: number): number {
    const f = flags & ~BPF_F_LOCK;
    if (lOld !== 0 && f === BPF_NOEXIST) return -EEXIST;
    if (lOld === 0 && f === BPF_EXIST) return -ENOENT;
    return 0;
  }

  /** htab_map_update_elem() for non-per-CPU maps, in the flow of the profile's release. */
  protected update(key: Uint8Array, value: Uint8Array, flags: number): number {
    const k = this.k;
    if (((flags & ~BPF_F_LOCK) >>> 0) > BPF_EXIST || flags < 0) return -EINVAL;
    k.point(P_UPDATE);
    const v = k.features.version;
    if (flags & BPF_F_LOCK) return -EINVAL; // no bpf_spin_lock field without BTF
    if (v < 406) return this.updateV45(key, value, flags);
    if (!k.features.htabExtraElems) return this.updateV46(key, value, flags, false);
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const lOld = this.lookupRaw(b, hash, key);
    let ret = this.checkFlags(lOld, flags);
    if (ret === 0) {
      const lNew = this.allocElem(key, value, hash, false, lOld);
      if (lNew < 0) {
        ret = lNew;
      } else {
        this.addHead(b, lNew);
        if (lOld !== 0) this.unlink(b, lOld);
        // before 6.13 (81eef03cbf70) the old element was freed under the bucket lock
        const late = k.features.htabFreeAfterUnlock;
        if (lOld !== 0 && !this.isPrealloc && !late) this.freeElem(lOld);
        this.unlockBucket(b, hash, fl);
        if (lOld !== 0 && !this.isPrealloc && late) this.freeElem(lOld);
        return 0;
      }
    }
    this.unlockBucket(b, hash, fl);
    return ret;
  }

  /** 4.5: kmalloc(GFP_ATOMIC) first, count checked under the lock, kfree_rcu. */
  protected updateV45(key: Uint8Array, value: Uint8Array, flags: number): number {
    const lNew = this.allocator!.alloc();
    if (lNew === 0) return -ENOMEM;
    const hash = this.hash(key);
    this.writeKeyValue(lNew, key, value, hash);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    const lOld = this.lookupRaw(b, hash, key);
    let ret = 0;
    if (lOld === 0 && this.count >= this.maxEntries) ret = -E2BIG;
    else if (lOld !== 0 && flags === BPF_NOEXIST) ret = -EEXIST;
    else if (lOld === 0 && flags === BPF_EXIST) ret = -ENOENT;
    if (ret !== 0) {
      this.unlockBucket(b, hash, fl);
      this.allocator!.discard(lNew);
      return ret;
    }
    this.addHead(b, lNew);
    if (lOld !== 0) {
      this.unlink(b, lOld);
      this.allocator!.free(lOld);
    } else {
      this.count++;
      this.elemStats++;
    }
    this.unlockBucket(b, hash, fl);
    return 0;
  }

  /**
   * 4.6-4.9 (hashtab.c of 6c9059817432): lock the bucket, check the flags,
   * then alloc_htab_elem() still under the lock. There is no spare element,
   * so replacing a key of a full plain hash fails with -E2BIG (fixed in
   * 4.10); per-CPU hashes overwrite an existing element in place.
   */
  protected updateV46(key: Uint8Array, value: Uint8Array, flags: number, onallcpus: boolean): number {
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const lOld = this.lookupRaw(b, hash, key);
    let ret = this.checkFlags(lOld, flags);
    if (ret === 0) {
      if (lOld !== 0 && this.isPercpu) {
        this.pcpuCopyValue(this.pptr(lOld), value, onallcpus);
      } else {
        const lNew = this.allocElemV46(key, value, hash, onallcpus);
        if (lNew < 0) {
          ret = lNew;
        } else {
          this.addHead(b, lNew);
          if (lOld !== 0) {
            this.unlink(b, lOld);
            this.freeElem(lOld);
          }
        }
      }
    }
    this.unlockBucket(b, hash, fl);
    return ret;
  }

  /** alloc_htab_elem() of 4.6-4.9 (under the bucket lock): an element or -errno. */
  protected allocElemV46(key: Uint8Array, value: Uint8Array, hash: number, onallcpus: boolean): number {
    const k = this.k;
    k.point(P_ALLOC_ELEM);
    let lNew: number;
    if (this.isPrealloc) {
      lNew = this.freelist!.pop();
      if (lNew === 0) return -E2BIG;
      this.elemStats++;
    } else {
      // atomic_inc_return(&htab->count) > max_entries: a replacement counts too
      if (++this.count > this.maxEntries) {
        this.count--;
        return -E2BIG;
      }
      this.elemStats++;
      lNew = this.allocator!.alloc();
      if (lNew === 0) {
        this.decElemCount();
        return -ENOMEM;
      }
    }
    return this.fillElem(lNew, key, value, hash, onallcpus);
  }

  /** htab_map_update_elem_in_place() for per-CPU hashes. */
  protected percpuUpdate(key: Uint8Array, value: Uint8Array, flags: number, onallcpus: boolean): number {
    const k = this.k;
    if (flags < 0 || flags > BPF_EXIST) return -EINVAL;
    k.point(P_PERCPU_UPDATE);
    if (!k.features.htabExtraElems) return this.updateV46(key, value, flags, onallcpus);
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const lOld = this.lookupRaw(b, hash, key);
    let ret = this.checkFlags(lOld, flags);
    if (ret === 0) {
      if (lOld !== 0) {
        this.pcpuCopyValue(this.pptr(lOld), value, onallcpus);
      } else {
        const lNew = this.allocElem(key, value, hash, onallcpus, 0);
        if (lNew < 0) ret = lNew;
        else this.addHead(b, lNew);
      }
    }
    this.unlockBucket(b, hash, fl);
    return ret;
  }

  /** htab_map_delete_elem(): its entry and return are instrumented (kretprobe, fexit). */
  override deleteElem(key: Uint8Array): number {
    const k = this.k;
    k.point(P_DELETE);
    const r = this.delete(key);
    k.pointRet(P_DELETE, this, r);
    return r;
  }

  /** The body of htab_map_delete_elem(). */
  private delete(key: Uint8Array): number {
    const k = this.k;
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const l = this.lookupRaw(b, hash, key);
    if (l !== 0) this.unlink(b, l);
    // before 6.13 (81eef03cbf70) free_htab_elem() ran under the bucket lock
    const late = k.features.htabFreeAfterUnlock;
    if (l !== 0 && !late) this.deleteFree(l);
    this.unlockBucket(b, hash, fl);
    if (l === 0) return -ENOENT;
    if (late) this.deleteFree(l);
    return 0;
  }

  /** Frees a deleted element: 4.5 drops the count and frees after a grace period; later releases free_htab_elem(). */
  private deleteFree(l: number): void {
    if (this.k.features.version < 406) {
      this.count--;
      this.elemStats--;
      this.allocator!.free(l);
    } else {
      this.freeElem(l);
    }
  }

  /** __htab_map_lookup_and_delete_elem() (5.14+). */
  override lookupAndDeleteElem(key: Uint8Array | null, out: Uint8Array, flags: number): number {
    const k = this.k;
    if (!k.features.htabLookupAndDelete) return -ENOTSUPP;
    if (key === null) return -EINVAL;
    if (flags & ~BPF_F_LOCK) return -EINVAL;
    if (flags & BPF_F_LOCK) return -EINVAL;
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const l = this.lookupRaw(b, hash, key);
    if (l === 0) {
      this.unlockBucket(b, hash, fl);
      return -ENOENT;
    }
    if (this.isPercpu) {
      percpuValueCopyOut(k, this.pptr(l), out, roundUp8(this.valueSize));
    } else {
      k.mem.copyOut(l + this.valOff, out, 0, this.valueSize);
    }
    this.unlink(b, l);
    const late = k.features.htabFreeAfterUnlock;
    if (!late) this.freeElem(l);
    this.unlockBucket(b, hash, fl);
    if (late) this.freeElem(l);
    return 0;
  }

  /** htab_map_get_next_key() */
  override getNextKey(key: Uint8Array | null, next: Uint8Array): number {
    const k = this.k;
    k.point(P_GET_NEXT);
    let i = 0;
    if (key !== null) {
      const hash = this.hash(key);
      const b = this.bucketOf(hash);
      const l = this.lookupNulls(b, hash, key);
      if (l !== 0) {
        const n = this.elemNext(l);
        if (n % 2 === 0) {
          this.elemKey(n, next);
          return 0;
        }
        i = b + 1;
      }
    }
    for (; i < this.nBuckets; i++) {
      const h = this.head(i);
      if (h % 2 === 0) {
        this.elemKey(h, next);
        return 0;
      }
    }
    k.cur.clock += COST.chainStep * 0.1 * this.nBuckets;
    return -ENOENT;
  }

  /** Hash maps opted in as inner maps with the generic check. */
  override metaEqual(inner: BpfMap): boolean {
    return bpf_map_meta_equal(this, inner);
  }

  /** htab_map_mem_usage() (6.4+). */
  memUsage(): number {
    const ncpu = this.k.ncpu;
    const vs = roundUp8(this.valueSize);
    let usage = HTAB_STRUCT_SIZE + BUCKET_SIZE * this.nBuckets + 4 * ncpu * HASHTAB_MAP_LOCK_COUNT;
    if (this.isPrealloc) {
      let n = this.maxEntries;
      if (this.hasExtra) n += ncpu;
      usage += this.elemSize * n;
      if (this.isPercpu) usage += vs * ncpu * n;
      else if (!this.isLru) usage += 8 * ncpu;
    } else {
      const n = this.elemCount();
      usage += (this.elemSize + LLIST_NODE_SZ) * n;
      if (this.isPercpu) {
        usage += (LLIST_NODE_SZ + 8) * n;
        usage += vs * ncpu * n;
      }
    }
    return usage;
  }

  /** htab_map_free() */
  free(): void {
    const k = this.k;
    k.point(P_MAP_FREE);
    const alloc = this.allocator;
    if (!this.isPrealloc && alloc !== null) {
      // pre-6.1: wait for htab_elem_free_rcu() callbacks still in flight
      // (6.1+: bpf_mem_alloc_destroy() waits for its own callbacks)
      alloc.barrier();
      // delete_all_elements(): runs in a worker with migration disabled
      // (a create that failed allocating the buckets has none to walk)
      k.point(P_DELETE_ALL);
      migrate_disable(k);
      for (let b = 0; this.bucketsAddr !== 0 && b < this.nBuckets; b++) {
        let p = this.head(b);
        while (p % 2 === 0) {
          const n = this.elemNext(p);
          alloc.freeNow(p);
          p = n;
        }
        this.setHead(b, b * 2 + 1);
      }
      migrate_enable(k);
    } else if (this.elems !== 0) {
      if (this.isPercpu) {
        for (let i = 0; i < this.numEntries; i++) {
          const p = k.mem.readPtr(this.elemAddr(i) + this.valOff);
          if (p !== 0) k.percpu.free(p);
        }
      }
      bpf_map_area_free(k, this.elems);
      this.elems = 0;
    }
    this.freelist?.destroy();
    if (this.extraArea) k.percpu.free(this.extraArea);
    if (this.mapLockedArea) k.percpu.free(this.mapLockedArea);
    if (this.bucketsAddr) bpf_map_area_free(k, this.bucketsAddr);
    this.bucketsAddr = 0;
    alloc?.destroy();
    k.slab.kfree(this.structAddr);
    this.freed = true;
  }
}

/** A struct bpf_htab flavour with its own bpf_map_ops (LRU, hash of maps). */
export type HtabCtor = new (k: Kernel, attr: MapAttr, structAddr: number) => Htab;

const HTAB_VARIANTS: (HtabCtor | undefined)[] = [];

/** Makes htab_map_alloc() build `ctor` for maps of `type` (htab_lru_map_ops, ...). */
export function registerHtabVariant(type: number, ctor: HtabCtor): void {
  HTAB_VARIANTS[type] = ctor;
}

/** htab_map_alloc(): a hash map or a negative errno. */
export function htabMapAlloc(k: Kernel, attr: MapAttr): Htab | number {
  k.point(P_MAP_ALLOC);
  // max_entries > 1UL << 31, or n_buckets * sizeof(struct bucket) > U32_MAX:
  // checked before any per-bucket state exists (init() checks again after
  // the NO_COMMON_LRU rounding)
  if (attr.maxEntries > 2 ** 31 || roundupPow2(attr.maxEntries) > Math.floor(0xffffffff / BUCKET_SIZE)) return -E2BIG;
  const structAddr = k.slab.kzalloc(HTAB_STRUCT_SIZE, 2, /* GFP_KERNEL */ "htab_map_alloc");
  if (structAddr === 0) return -ENOMEM;
  const htab = new (HTAB_VARIANTS[attr.mapType] ?? Htab)(k, attr, structAddr);
  const err = htab.init();
  if (err) {
    htab.free();
    return err;
  }
  if (k.features.memlock === "precharge" && htab.precharged > k.config.rlimitMemlock) {
    htab.free();
    return -EPERM;
  }
  return htab;
}

snapshotClasses(Htab, PercpuCounter);
