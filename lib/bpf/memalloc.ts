// kernel/bpf/memalloc.c: bpf_mem_alloc, the any-context allocator behind
// dynamic (BPF_F_NO_PREALLOC) hash maps since 6.1 (seed 002). A per-CPU
// cache of free objects in front of kmalloc: unit_alloc()/unit_free() only
// touch this CPU's free_llist under the per-CPU `active` counter with
// interrupts off, never the slab allocator, so they work in NMI, in hardirq
// and under raw spinlocks on PREEMPT_RT. Refill and trim happen later in
// irq_work (bpf_mem_refill: hardirq on !RT, the irq_work kthread on RT);
// objects go back to slab only after an RCU tasks-trace grace period.
//
// Objects live in simulated memory and carry the kernel's hidden 8-byte
// header: the llist link while free, the owning cache's address while
// allocated (users get obj + 8). Every list is an llist threaded through
// those headers; the counts beside the heads are bpfsim's (the kernel keeps
// only free_cnt) so that `mem show` and the invariant tests can read them.
//
// Releases: 6.1 (first merge: one RCU stage, free_by_rcu/waiting_for_gp, a
// tasks-trace GP chained to a normal one), 6.2 (rcu_trace_implies_rcu_gp),
// 6.3 (zeroed objects), 6.5 (the _rcu free API and its stages, tgt hints,
// reuse of waiting_for_gp_ttrace, draining), 6.7 (irq_work raised before
// interrupts are re-enabled), 6.8 (per-CPU value caches 1/3/1, prefill 1).
// The 6.1 lists free_by_rcu/waiting_for_gp play the role of 6.5's *_ttrace
// lists and are shown under those names. Hou Tao's RFC flavours
// (reuse_after_rcu_gp, free_after_rcu_gp) are in memalloc_rfc.ts.

import { COST } from "../kernel/cost.ts";
import { E2BIG, EINVAL, ENOMEM } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { local_irq_restore, local_irq_save } from "../kernel/context.ts";
import { irq_work_queue, irq_work_sync, IrqWork } from "../kernel/irq_work.ts";
import { queue_work } from "../kernel/workqueue.ts";
import { __GFP_ZERO, GFP_KERNEL, GFP_NOWAIT } from "../kernel/slab.ts";
import type { MemallocFlavour } from "../kernel/config.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import {
  bpf_ma_get_reusable_obj,
  cancelReuseWork,
  drainReuseLists,
  reuseInProgress,
  wait_gp_direct_free,
  wait_gp_reuse_free,
} from "./memalloc_rfc.ts";

const FILE = "kernel/bpf/memalloc.c";
const P_INIT = definePoint("bpf_mem_alloc_init", FILE, "create the per-CPU caches and prefill them");
const P_DESTROY = definePoint("bpf_mem_alloc_destroy", FILE, "drain the caches, free them after the RCU barriers");
const P_CACHE_ALLOC = definePoint("bpf_mem_cache_alloc", FILE, "take an object from this CPU's fixed-size cache");
const P_CACHE_ALLOC_FLAGS = definePoint(
  "bpf_mem_cache_alloc_flags",
  FILE,
  "bpf_mem_cache_alloc(), falling back to kmalloc for GFP_KERNEL callers",
);
const P_CACHE_FREE = definePoint("bpf_mem_cache_free", FILE, "give an object back to this CPU's cache (reusable now)");
const P_CACHE_FREE_RCU = definePoint(
  "bpf_mem_cache_free_rcu",
  FILE,
  "give an object back, reusable after an RCU grace period",
);
const P_ALLOC = definePoint("bpf_mem_alloc", FILE, "take an object of a size class from this CPU's caches");
const P_FREE = definePoint("bpf_mem_free", FILE, "give a size-class object back to this CPU's cache");
const P_FREE_RCU = definePoint("bpf_mem_free_rcu", FILE, "give a size-class object back after an RCU grace period");
const P_UNIT_ALLOC = definePoint("unit_alloc", FILE, "pop free_llist under `active` with interrupts off");
const P_UNIT_FREE = definePoint("unit_free", FILE, "push free_llist (or free_llist_extra when `active` is busy)");
const P_UNIT_FREE_RCU = definePoint("unit_free_rcu", FILE, "push free_by_rcu (or free_llist_extra_rcu)");
const P_REFILL = definePoint("bpf_mem_refill", FILE, "irq_work: refill below the low watermark, trim above high");
const P_ALLOC_BULK = definePoint("alloc_bulk", FILE, "move objects to free_llist: recycled ones first, then kmalloc");
const P_FREE_BULK = definePoint("free_bulk", FILE, "move objects above the watermarks towards slab");
const P_CALL_RCU_TTRACE = definePoint(
  "do_call_rcu_ttrace",
  FILE,
  "start the RCU tasks-trace grace period for free_by_rcu_ttrace",
);
const P_FREE_RCU_TT = definePoint("__free_rcu_tasks_trace", FILE, "tasks-trace GP over: free (or chain a normal GP)");
const P_FREE_RCU_CB = definePoint("__free_rcu", FILE, "free waiting_for_gp_ttrace to slab");
const P_CHECK_FREE_BY_RCU = definePoint("check_free_by_rcu", FILE, "start the RCU grace period for free_by_rcu");
const P_FREE_BY_RCU = definePoint(
  "__free_by_rcu",
  FILE,
  "RCU GP over: send waiting_for_gp on to the tasks-trace stage",
);
const P_DRAIN = definePoint("drain_mem_cache", FILE, "free every object on every list of a cache");
const P_FREE_MEM_ALLOC = definePoint("free_mem_alloc", FILE, "RCU barriers, then free the per-CPU caches");
const P_FREE_MEM_ALLOC_DEFERRED = definePoint(
  "free_mem_alloc_deferred",
  FILE,
  "worker: free_mem_alloc() on the copy of a destroyed allocator",
);
const P_DESTROY_MEM_ALLOC = definePoint("destroy_mem_alloc", FILE, "free the caches now, or defer to a worker");
const P_PREFILL = definePoint("prefill_mem_cache", FILE, "fill a new cache with its first objects");

/** LLIST_NODE_SZ: the hidden header in front of every object. */
export const LLIST_NODE_SZ = 8;
/** NUM_CACHES: size classes of the size-class mode. */
export const NUM_CACHES = 11;
/** BPF_MEM_ALLOC_SIZE_MAX */
export const BPF_MEM_ALLOC_SIZE_MAX = 4096;
/** The size classes, in the kernel's array order. */
export const BPF_MEM_SIZES: readonly number[] = [96, 192, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/** size_index[]: class + 1 for sizes up to 192, by (size - 1) / 8. */
const SIZE_INDEX = [3, 3, 4, 4, 5, 5, 5, 5, 1, 1, 1, 1, 6, 6, 6, 6, 2, 2, 2, 2, 2, 2, 2, 2];
/** sizeof(struct bpf_mem_cache) on x86-64 (6.5+ layout, computed from its fields). */
export const BPF_MEM_CACHE_SIZE = 208;
/** sizeof(struct bpf_mem_alloc) (the copy kmemdup'd for a deferred destroy). */
const BPF_MEM_ALLOC_SIZE = 64;
/** percpu_size: a per-CPU object's holder is an llist node plus the __percpu pointer. */
export const PERCPU_HOLDER_SIZE = LLIST_NODE_SZ + 8;

/** bpf_mem_cache_idx(): the size class of `size` (header included), -1 above 4096 or for 0. */
export function bpf_mem_cache_idx(size: number): number {
  if (!size || size > BPF_MEM_ALLOC_SIZE_MAX) return -1;
  if (size <= 192) return SIZE_INDEX[(size - 1) >> 3] - 1;
  return 32 - Math.clz32(size - 1) - 2;
}

/** bpf_mem_alloc_check_size(): 0 or -E2BIG. */
export function bpf_mem_alloc_check_size(percpu: boolean, size: number): number {
  if ((percpu && size > BPF_MEM_ALLOC_SIZE_MAX) || (!percpu && size > BPF_MEM_ALLOC_SIZE_MAX - LLIST_NODE_SZ)) {
    return -E2BIG;
  }
  return 0;
}

/** The flavour dynamic hash maps of kernel `k` use (kernels saved without one: the release's default). */
export function memallocOf(k: Kernel): MemallocFlavour {
  return k.config.memalloc ?? (k.features.bpfMemAlloc ? "bpf_ma" : "kmalloc");
}

/** struct bpf_mem_cache: one CPU's cache of one unit size. */
export class BpfMemCache {
  /** free_llist.first: the objects ready for unit_alloc(). */
  freeLlist = 0;
  /** free_cnt: objects on free_llist. */
  freeCnt = 0;
  /** active: per-CPU re-entry counter around free_llist accesses. */
  active = 0;
  /** free_llist_extra.first: frees that found `active` busy (an NMI inside unit_alloc/unit_free). */
  freeLlistExtra = 0;
  /** Objects on free_llist_extra (bpfsim's count). */
  extraCnt = 0;
  /** low_watermark: below it unit_alloc() queues a refill. */
  lowWatermark = 0;
  /** high_watermark: above it unit_free() queues a trim. */
  highWatermark = 0;
  /** batch: objects one refill adds. */
  batch = 0;
  /** draining: set by bpf_mem_alloc_destroy(); callbacks then free straight to slab. */
  draining = false;
  /** tgt: the cache freed objects return to (6.5+ hint from the object's header). */
  tgt: BpfMemCache;
  /** free_by_rcu.first (6.5+): objects freed with the _rcu API, before their RCU GP. */
  freeByRcu = 0;
  /** free_by_rcu_tail */
  freeByRcuTail = 0;
  /** Objects on free_by_rcu. */
  freeByRcuCnt = 0;
  /** waiting_for_gp.first (6.5+): objects inside an RCU GP. */
  waitingForGp = 0;
  /** waiting_for_gp_tail */
  waitingForGpTail = 0;
  /** Objects on waiting_for_gp. */
  waitingForGpCnt = 0;
  /** call_rcu_in_progress (6.5+). */
  callRcuInProgress = false;
  /** free_llist_extra_rcu.first (6.5+): _rcu frees that found `active` busy. */
  freeLlistExtraRcu = 0;
  /** Objects on free_llist_extra_rcu. */
  extraRcuCnt = 0;
  /** free_by_rcu_ttrace.first: objects on their way to slab, before the tasks-trace GP (6.1: free_by_rcu). */
  freeByRcuTtrace = 0;
  /** Objects on free_by_rcu_ttrace. */
  freeByRcuTtraceCnt = 0;
  /** waiting_for_gp_ttrace.first: objects inside the tasks-trace GP (6.1: waiting_for_gp). */
  waitingForGpTtrace = 0;
  /** Objects on waiting_for_gp_ttrace. */
  waitingForGpTtraceCnt = 0;
  /** call_rcu_ttrace_in_progress (6.1: call_rcu_in_progress). */
  callRcuTtraceInProgress = false;

  // Hou Tao's BPF_MA_REUSE_AFTER_RCU_GP (memalloc_rfc.ts)
  /** prepare_reuse_head.first: freed objects waiting for the reuse kworker. */
  prepareReuse = 0;
  /** prepare_reuse_tail */
  prepareReuseTail = 0;
  /** prepare_reuse_cnt (zeroed early by the kernel when it queues the work). */
  prepareReuseCnt = 0;
  /** Objects on prepare_reuse_head (bpfsim's count). */
  prepareReuseObjs = 0;
  /** Objects inside the RCU GP of a bpf_reuse_batch. */
  reuseInFlight = 0;
  /** reuse_ready_head.first: reusable after their RCU GP. */
  reuseReady = 0;
  /** reuse_ready_tail */
  reuseReadyTail = 0;
  /** Objects on reuse_ready_head. */
  reuseReadyCnt = 0;
  /** wait_for_free.first: still reusable, freed to slab after a tasks-trace GP. */
  waitForFree = 0;
  /** Objects on wait_for_free. */
  waitForFreeCnt = 0;
  /** reuse_cb_in_progress: queued kworkers and RCU callbacks of this cache. */
  reuseCbInProgress = 0;
  /** free_cb_in_progress: a tasks-trace callback frees wait_for_free. */
  freeCbInProgress = false;
  /** abort_reuse: set while draining, callbacks then free directly. */
  abortReuse = false;
  /** work_pending(&c->reuse_work) */
  reuseWorkPending = false;

  /** bpf_mem_refill() runs below the low watermark (alloc_bulk of a batch). */
  refills = 0;
  /** bpf_mem_refill() runs above the high watermark (free_bulk). */
  trims = 0;
  /** unit_alloc() calls that returned NULL. */
  allocFails = 0;

  /** The cache of CPU `cpu` at per-CPU address `addr`, `idx` in its allocator, for objects of `unitSize`. */
  constructor(
    readonly ma: BpfMemAlloc,
    readonly cpu: number,
    readonly idx: number,
    readonly addr: number,
    readonly unitSize: number,
    readonly percpuSize: number,
  ) {
    this.tgt = this;
  }

  /** Objects this cache holds on all its lists (free, extra, RCU stages, RFC lists). */
  cached(): number {
    return this.freeCnt + this.extraCnt + this.freeByRcuCnt + this.waitingForGpCnt + this.extraRcuCnt +
      this.freeByRcuTtraceCnt + this.waitingForGpTtraceCnt + this.prepareReuseObjs + this.reuseInFlight +
      this.reuseReadyCnt + this.waitForFreeCnt;
  }
}

/** The refill irq_work of each cache (a side table: functions stay out of snapshots). */
const refillWorks = new WeakMap<BpfMemCache, IrqWork>();

/** c->refill_work (init_irq_work(&c->refill_work, bpf_mem_refill)). */
function refillWork(c: BpfMemCache): IrqWork {
  let w = refillWorks.get(c);
  if (w === undefined) {
    w = new IrqWork(`bpf_mem_refill@${c.addr.toString(16)}`, () => bpf_mem_refill(c));
    refillWorks.set(c, w);
  }
  return w;
}

/** Bytes one object of cache `c` takes from slab and the per-CPU allocator. */
function objectBytes(c: BpfMemCache, k: Kernel): number {
  return c.percpuSize ? c.percpuSize + c.unitSize * k.ncpu : c.unitSize;
}

/**
 * struct bpf_mem_alloc: either one fixed-size cache per CPU (`cache`, hash
 * map elements and per-CPU values) or NUM_CACHES size classes per CPU
 * (`caches`). The flavour decides what a free does (immediate reuse, or one
 * of the RFC's delayed ones).
 */
export class BpfMemAlloc {
  /** ma->cache: the fixed-size caches, by CPU (null in size-class mode or before init). */
  cache: BpfMemCache[] | null = null;
  /** ma->caches: the size classes, cpu * NUM_CACHES + class (null in fixed-size mode). */
  caches: BpfMemCache[] | null = null;
  /** The __percpu allocation holding the struct bpf_mem_cache(s) (0 once freed). */
  area = 0;
  /** Bytes of one CPU's part of `area`. */
  areaSize = 0;
  /** ma->percpu: objects are holders of a per-CPU area. */
  percpu = false;
  /** Objects taken from slab and not yet given back (in use, cached or in an RCU stage). */
  objects = 0;
  /** Objects ever taken from slab (kmalloc calls of alloc_bulk and the GFP_KERNEL fallback). */
  slabAllocs = 0;
  /** Objects given back to slab. */
  slabFrees = 0;
  /** Highest `objects` seen. */
  peakObjects = 0;
  /** per_cpu_ptr() stride of `area`. */
  private stride = 0;
  /** 6.2+: rcu_trace_implies_rcu_gp() (release behaviours are fixed per kernel; hot paths test these). */
  readonly traceImpliesRcu: boolean;
  /** 6.3+: objects from slab are zeroed. */
  readonly zeroed: boolean;
  /** 6.5+: tgt hints, the _rcu free API, reuse of waiting_for_gp_ttrace, leak check, draining. */
  readonly rcuApi: boolean;
  /** 6.7+: the refill irq_work is queued before interrupts are re-enabled. */
  readonly raiseEarly: boolean;
  /** 6.8+: per-CPU value caches 1/3/1, prefill 1. */
  readonly percpuMarks: boolean;

  /**
   * An allocator of kernel `k` whose frees follow `flavour` (bpf_ma:
   * immediate reuse; the RFC's reuse_after_rcu_gp / free_after_rcu_gp).
   * Empty until init().
   */
  constructor(
    readonly k: Kernel,
    readonly flavour: "bpf_ma" | "reuse_after_rcu_gp" | "free_after_rcu_gp" = "bpf_ma",
  ) {
    const f = k.features;
    this.traceImpliesRcu = f.atLeast(6, 2);
    this.zeroed = f.atLeast(6, 3);
    this.rcuApi = f.atLeast(6, 5);
    this.raiseEarly = f.atLeast(6, 7);
    this.percpuMarks = f.atLeast(6, 8);
  }

  /** Every cache (all CPUs, all classes). */
  allCaches(): BpfMemCache[] {
    return this.cache ?? this.caches ?? [];
  }

  /** This CPU's fixed-size cache (this_cpu_ptr(ma->cache)). */
  private thisCache(): BpfMemCache {
    return this.cache![this.k.cur.id];
  }

  /**
   * bpf_mem_alloc_init(): `size` > 0 makes one cache of size + 8 (or a
   * per-CPU value of `size` behind a 16-byte holder when `percpu`) per CPU;
   * 0 makes the 11 size classes. Each cache is prefilled. 0 or -errno.
   */
  init(size: number, percpu: boolean): number {
    const k = this.k;
    k.point(P_INIT, size);
    if (percpu && size === 0) return -EINVAL;
    this.percpu = percpu;
    const n = size ? 1 : NUM_CACHES;
    this.areaSize = BPF_MEM_CACHE_SIZE * n;
    this.area = k.percpu.alloc(this.areaSize, 8, true);
    if (this.area === 0) return -ENOMEM;
    const stride = k.percpu.stride(this.area);
    this.stride = stride;
    const list: BpfMemCache[] = [];
    for (let cpu = 0; cpu < k.ncpu; cpu++) {
      for (let i = 0; i < n; i++) {
        const unit = size ? (percpu ? size : size + LLIST_NODE_SZ) : BPF_MEM_SIZES[i];
        const c = new BpfMemCache(
          this,
          cpu,
          cpu * n + i,
          this.area + cpu * stride + i * BPF_MEM_CACHE_SIZE,
          unit,
          percpu ? PERCPU_HOLDER_SIZE : 0,
        );
        init_refill_work(c);
        list.push(c);
      }
    }
    if (size) this.cache = list;
    else this.caches = list;
    for (const c of list) prefill_mem_cache(c);
    return 0;
  }

  /** The cache whose struct lives at `addr` (an allocated object's header), or undefined. */
  cacheAt(addr: number): BpfMemCache | undefined {
    if (this.area === 0 || addr < this.area) return undefined;
    const stride = this.stride;
    const off = addr - this.area;
    const cpu = Math.floor(off / stride);
    const inUnit = off - cpu * stride;
    if (cpu >= this.k.ncpu || inUnit >= this.areaSize || inUnit % BPF_MEM_CACHE_SIZE !== 0) return undefined;
    const list = this.allCaches();
    const n = this.cache ? 1 : NUM_CACHES;
    return list[cpu * n + inUnit / BPF_MEM_CACHE_SIZE];
  }

  /**
   * True when the object behind `ptr` (what alloc returned) is handed out:
   * its header names one of this allocator's caches, not an llist link
   * (every release writes the owner there; only 6.5+ reads it back).
   */
  isAllocated(ptr: number): boolean {
    const mem = this.k.mem;
    const hdr = ptr - LLIST_NODE_SZ;
    if (mem.tryRegion(hdr) === undefined) return false;
    return this.cacheAt(mem.readPtr(hdr)) !== undefined;
  }

  /** bpf_mem_cache_alloc(): an object of the fixed size (its address past the header), or 0. */
  cacheAlloc(): number {
    this.k.point(P_CACHE_ALLOC);
    const obj = unit_alloc(this.thisCache());
    return obj === 0 ? 0 : obj + LLIST_NODE_SZ;
  }

  /**
   * bpf_mem_cache_alloc_flags(): with GFP_KERNEL a sleepable caller falls
   * back to kmalloc when the cache is empty.
   */
  cacheAllocFlags(gfp: number): number {
    this.k.point(P_CACHE_ALLOC_FLAGS, gfp);
    const c = this.thisCache();
    let obj = unit_alloc(c);
    if (obj === 0 && gfp === GFP_KERNEL) {
      obj = __alloc(c, GFP_KERNEL);
      if (obj !== 0) this.k.mem.writePtr(obj, c.addr);
    }
    return obj === 0 ? 0 : obj + LLIST_NODE_SZ;
  }

  /** bpf_mem_cache_free(): the object becomes reusable at once on this CPU (the flavour may delay it). */
  cacheFree(ptr: number): void {
    if (ptr === 0) return;
    this.k.point(P_CACHE_FREE, ptr);
    unit_free(this.thisCache(), ptr);
  }

  /** bpf_mem_cache_free_rcu() (6.5+): reusable after a normal RCU GP, to slab after a tasks-trace GP. */
  cacheFreeRcu(ptr: number): void {
    if (ptr === 0) return;
    this.k.point(P_CACHE_FREE_RCU, ptr);
    unit_free_rcu(this.thisCache(), ptr);
  }

  /** bpf_mem_alloc(): an object of at least `size` bytes from its size class, or 0. */
  alloc(size: number): number {
    const k = this.k;
    k.point(P_ALLOC, size);
    if (!size) return 0;
    const idx = bpf_mem_cache_idx(this.percpu ? size : size + LLIST_NODE_SZ);
    if (idx < 0) return 0;
    const obj = unit_alloc(this.caches![k.cur.id * NUM_CACHES + idx]);
    return obj === 0 ? 0 : obj + LLIST_NODE_SZ;
  }

  /** The size class of an allocated object, from the cache its header names (-1 when it names none). */
  private classOf(ptr: number): number {
    const c = this.cacheAt(this.k.mem.readPtr(ptr - LLIST_NODE_SZ));
    return c === undefined ? -1 : bpf_mem_cache_idx(c.unitSize);
  }

  /** bpf_mem_free(): back to this CPU's cache of the object's class. */
  free(ptr: number): void {
    const k = this.k;
    if (ptr === 0) return;
    k.point(P_FREE, ptr);
    const idx = this.classOf(ptr);
    if (idx < 0) {
      warnOnce(k, "bpf_mem_free", "object does not belong to this allocator");
      return;
    }
    unit_free(this.caches![k.cur.id * NUM_CACHES + idx], ptr);
  }

  /** bpf_mem_free_rcu() (6.5+) */
  freeRcu(ptr: number): void {
    const k = this.k;
    if (ptr === 0) return;
    k.point(P_FREE_RCU, ptr);
    const idx = this.classOf(ptr);
    if (idx < 0) {
      warnOnce(k, "bpf_mem_free_rcu", "object does not belong to this allocator");
      return;
    }
    unit_free_rcu(this.caches![k.cur.id * NUM_CACHES + idx], ptr);
  }

  /**
   * bpf_mem_alloc_destroy(): for each cache set `draining`, wait for its
   * refill work, free every list to slab; then free the caches at once, or
   * after rcu_barrier()s in a worker when RCU callbacks are in flight.
   */
  destroy(): void {
    const k = this.k;
    if (this.area === 0) return;
    k.point(P_DESTROY);
    let inProgress = 0;
    for (const c of this.allCaches()) {
      c.draining = true;
      const w = refillWorks.get(c);
      if (w !== undefined && w.pending) irq_work_sync(k, w);
      drain_mem_cache(c);
      if (c.callRcuTtraceInProgress) inProgress++;
      if (c.callRcuInProgress) inProgress++;
      inProgress += reuseInProgress(c);
    }
    destroy_mem_alloc(this, inProgress);
  }

  /** Objects of this allocator in use by its owner (taken from slab, on no list). */
  inUse(): number {
    let cached = 0;
    for (const c of this.allCaches()) cached += c.cached();
    return this.objects - cached;
  }

  /** Bytes of slab and per-CPU memory behind this allocator's objects (the caches' structs excluded). */
  objectBytes(): number {
    const list = this.allCaches();
    return list.length ? this.objects * objectBytes(list[0], this.k) : 0;
  }
}

/** WARN_ON_ONCE(): one warning per site in dmesg. */
function warnOnce(k: Kernel, site: string, what: string): void {
  const cpu = k.cur;
  k.dmesg.logOnce(
    `memalloc:${site}`,
    cpu.clock,
    cpu.id,
    "warn",
    "warn",
    [`WARNING: CPU: ${cpu.id} PID: ${cpu.task()?.pid ?? 0} at ${FILE} ${site}`, what, ...cpu.backtrace()].join("\n"),
  );
}

/** An NMI may land between any two instructions: take one that is due (interrupts are off here). */
function nmiWindow(k: Kernel): void {
  const cpu = k.cur;
  if (cpu.nextEventAt <= cpu.clock) k.interruptWindow(cpu);
}

/** inc_active(): on RT interrupts go off too (the refill runs in a preemptible kthread). */
function inc_active(c: BpfMemCache): boolean {
  const k = c.ma.k;
  const flags = k.config.preemptRt ? local_irq_save(k) : false;
  k.cur.clock += COST.localOp;
  if (++c.active !== 1) warnOnce(k, "inc_active", "WARN_ON_ONCE(local_inc_return(&c->active) != 1)");
  return flags;
}

/** dec_active() */
function dec_active(c: BpfMemCache, flags: boolean): void {
  const k = c.ma.k;
  c.active--;
  if (k.config.preemptRt) local_irq_restore(k, flags);
}

/** add_obj_to_free_list() */
export function add_obj_to_free_list(c: BpfMemCache, obj: number): void {
  const k = c.ma.k;
  const flags = inc_active(c);
  nmiWindow(k);
  k.mem.writePtr(obj, c.freeLlist);
  c.freeLlist = obj;
  c.freeCnt++;
  k.cur.clock += COST.llistOp;
  dec_active(c, flags);
}

/**
 * __alloc(): a new object from slab: kmalloc(unit_size) (zeroed from 6.3),
 * or for per-CPU caches a 16-byte holder plus __alloc_percpu_gfp(unit_size)
 * whose pointer goes into the holder's second word. 0 on failure.
 */
export function __alloc(c: BpfMemCache, gfp: number): number {
  const ma = c.ma;
  const k = ma.k;
  let obj: number;
  if (c.percpuSize) {
    obj = k.slab.kmalloc(c.percpuSize, gfp, "__alloc");
    const pptr = k.percpu.alloc(c.unitSize, 8, (gfp & GFP_KERNEL) !== 0);
    if (obj === 0 || pptr === 0) {
      k.percpu.free(pptr);
      k.slab.kfree(obj, "__alloc");
      return 0;
    }
    k.mem.writePtr(obj + LLIST_NODE_SZ, pptr);
  } else {
    obj = k.slab.kmalloc(c.unitSize, ma.zeroed ? gfp | __GFP_ZERO : gfp, "__alloc");
    if (obj === 0) return 0;
  }
  ma.objects++;
  ma.slabAllocs++;
  if (ma.objects > ma.peakObjects) ma.peakObjects = ma.objects;
  return obj;
}

/** free_one(): the per-CPU area and its holder, or the object, back to slab. */
export function free_one(ma: BpfMemAlloc, obj: number, percpu: boolean): void {
  const k = ma.k;
  if (percpu) k.percpu.free(k.mem.readPtr(obj + LLIST_NODE_SZ));
  k.slab.kfree(obj, "free_one");
  ma.objects--;
  ma.slabFrees++;
}

/** free_all(): every object of an llist to slab; returns how many. */
export function free_all(ma: BpfMemAlloc, first: number, percpu: boolean): number {
  const mem = ma.k.mem;
  let n = 0;
  for (let pos = first; pos !== 0;) {
    const next = mem.readPtr(pos);
    free_one(ma, pos, percpu);
    pos = next;
    n++;
  }
  return n;
}

/**
 * alloc_bulk(): `cnt` objects onto free_llist, taken first from the objects
 * already on their way to slab (free_by_rcu_ttrace, then from 6.5
 * waiting_for_gp_ttrace; the RFC's reuse lists), then from kmalloc
 * (GFP_NOWAIT from the irq_work, GFP_KERNEL at prefill). Stops early when
 * kmalloc fails: the cache simply stays low.
 */
function alloc_bulk(c: BpfMemCache, cnt: number, atomic: boolean): void {
  const ma = c.ma;
  const k = ma.k;
  const mem = k.mem;
  k.point(P_ALLOC_BULK, cnt);
  let i = 0;
  if (ma.flavour === "reuse_after_rcu_gp") {
    for (; i < cnt; i++) {
      const obj = bpf_ma_get_reusable_obj(c);
      if (obj === 0) break;
      add_obj_to_free_list(c, obj);
    }
  } else {
    for (; i < cnt && c.freeByRcuTtrace !== 0; i++) {
      const obj = c.freeByRcuTtrace;
      c.freeByRcuTtrace = mem.readPtr(obj);
      c.freeByRcuTtraceCnt--;
      k.cur.clock += COST.atomic;
      add_obj_to_free_list(c, obj);
    }
    if (ma.rcuApi) {
      for (; i < cnt && c.waitingForGpTtrace !== 0; i++) {
        const obj = c.waitingForGpTtrace;
        c.waitingForGpTtrace = mem.readPtr(obj);
        c.waitingForGpTtraceCnt--;
        k.cur.clock += COST.atomic;
        add_obj_to_free_list(c, obj);
      }
    }
  }
  const gfp = atomic ? GFP_NOWAIT : GFP_KERNEL;
  for (; i < cnt; i++) {
    const obj = __alloc(c, gfp);
    if (obj === 0) break;
    add_obj_to_free_list(c, obj);
  }
}

/** __free_rcu(): the tasks-trace stage is over, waiting_for_gp_ttrace goes to slab. */
function __free_rcu(c: BpfMemCache): void {
  const ma = c.ma;
  ma.k.point(P_FREE_RCU_CB);
  const first = c.waitingForGpTtrace;
  c.waitingForGpTtrace = 0;
  c.waitingForGpTtraceCnt = 0;
  free_all(ma, first, c.percpuSize !== 0);
  c.callRcuTtraceInProgress = false;
}

/**
 * __free_rcu_tasks_trace(): when a tasks-trace GP implies a normal one
 * (rcu_trace_implies_rcu_gp(), 6.2+) free now, else chain a call_rcu().
 */
function __free_rcu_tasks_trace(c: BpfMemCache): void {
  const k = c.ma.k;
  k.point(P_FREE_RCU_TT);
  if (c.ma.traceImpliesRcu) __free_rcu(c);
  else k.rcu.call_rcu(() => __free_rcu(c));
}

/** enque_to_free(): llist_add() onto the target's free_by_rcu_ttrace. */
function enque_to_free(c: BpfMemCache, obj: number): void {
  const k = c.ma.k;
  k.mem.writePtr(obj, c.freeByRcuTtrace);
  c.freeByRcuTtrace = obj;
  c.freeByRcuTtraceCnt++;
  k.cur.clock += COST.atomic;
}

/**
 * do_call_rcu_ttrace(): unless a tasks-trace callback is already in flight,
 * move free_by_rcu_ttrace to waiting_for_gp_ttrace and call_rcu_tasks_trace();
 * a draining cache frees at once.
 */
function do_call_rcu_ttrace(c: BpfMemCache): void {
  const ma = c.ma;
  const k = ma.k;
  const mem = k.mem;
  k.point(P_CALL_RCU_TTRACE);
  if (c.callRcuTtraceInProgress) {
    if (c.draining) {
      const first = c.freeByRcuTtrace;
      c.freeByRcuTtrace = 0;
      c.freeByRcuTtraceCnt = 0;
      free_all(ma, first, c.percpuSize !== 0);
    }
    return;
  }
  c.callRcuTtraceInProgress = true;
  if (c.waitingForGpTtrace !== 0) {
    warnOnce(k, "do_call_rcu_ttrace", "WARN_ON_ONCE(!llist_empty(&c->waiting_for_gp_ttrace))");
  }
  // llist_for_each_safe(llist_del_all()) + llist_add(): the order reverses
  let pos = c.freeByRcuTtrace;
  c.freeByRcuTtrace = 0;
  c.freeByRcuTtraceCnt = 0;
  while (pos !== 0) {
    const next = mem.readPtr(pos);
    mem.writePtr(pos, c.waitingForGpTtrace);
    c.waitingForGpTtrace = pos;
    c.waitingForGpTtraceCnt++;
    k.cur.clock += COST.atomic;
    pos = next;
  }
  if (c.draining) {
    __free_rcu(c);
    return;
  }
  k.rcu.call_rcu_tasks_trace(() => __free_rcu_tasks_trace(c));
}

/**
 * free_bulk(): objects above (high + low) / 2 and all of free_llist_extra
 * go to the target cache's free_by_rcu_ttrace, then its tasks-trace GP.
 */
function free_bulk(c: BpfMemCache): void {
  const k = c.ma.k;
  const mem = k.mem;
  k.point(P_FREE_BULK);
  const tgt = c.tgt;
  const half = Math.trunc((c.highWatermark + c.lowWatermark) / 2);
  let cnt: number;
  do {
    const flags = inc_active(c);
    const llnode = c.freeLlist;
    if (llnode !== 0) {
      c.freeLlist = mem.readPtr(llnode);
      cnt = --c.freeCnt;
      k.cur.clock += COST.llistOp;
    } else {
      cnt = 0;
    }
    dec_active(c, flags);
    if (llnode !== 0) enque_to_free(tgt, llnode);
  } while (cnt > half);
  // and drain free_llist_extra
  let pos = c.freeLlistExtra;
  c.freeLlistExtra = 0;
  c.extraCnt = 0;
  while (pos !== 0) {
    const next = mem.readPtr(pos);
    enque_to_free(tgt, pos);
    pos = next;
  }
  do_call_rcu_ttrace(tgt);
}

/** __free_by_rcu() (6.5+): after the RCU GP, waiting_for_gp joins the target's tasks-trace stage. */
function __free_by_rcu(c: BpfMemCache): void {
  const k = c.ma.k;
  const mem = k.mem;
  k.point(P_FREE_BY_RCU);
  const tgt = c.tgt;
  const first = c.waitingForGp;
  if (first !== 0) {
    // llist_add_batch(first, waiting_for_gp_tail, &tgt->free_by_rcu_ttrace)
    mem.writePtr(c.waitingForGpTail, tgt.freeByRcuTtrace);
    tgt.freeByRcuTtrace = first;
    tgt.freeByRcuTtraceCnt += c.waitingForGpCnt;
    c.waitingForGp = 0;
    c.waitingForGpTail = 0;
    c.waitingForGpCnt = 0;
    k.cur.clock += COST.atomic;
    do_call_rcu_ttrace(tgt);
  }
  c.callRcuInProgress = false;
}

/**
 * check_free_by_rcu() (6.5+): free_llist_extra_rcu joins free_by_rcu; then,
 * unless a callback is in flight (the kernel asks RCU to hurry then),
 * free_by_rcu becomes waiting_for_gp and call_rcu_hurry() starts its GP.
 */
function check_free_by_rcu(c: BpfMemCache): void {
  const ma = c.ma;
  const k = ma.k;
  const mem = k.mem;
  k.point(P_CHECK_FREE_BY_RCU);
  if (c.freeLlistExtraRcu !== 0) {
    const flags = inc_active(c);
    let pos = c.freeLlistExtraRcu;
    c.freeLlistExtraRcu = 0;
    c.extraRcuCnt = 0;
    while (pos !== 0) {
      const next = mem.readPtr(pos);
      if (c.freeByRcu === 0) c.freeByRcuTail = pos;
      mem.writePtr(pos, c.freeByRcu);
      c.freeByRcu = pos;
      c.freeByRcuCnt++;
      k.cur.clock += COST.llistOp;
      pos = next;
    }
    dec_active(c, flags);
  }
  if (c.freeByRcu === 0) return;
  // rcu_request_urgent_qs_task(): grace periods here already end as soon as every CPU passed a quiescent state
  if (c.callRcuInProgress) return;
  c.callRcuInProgress = true;
  if (c.waitingForGp !== 0) warnOnce(k, "check_free_by_rcu", "WARN_ON_ONCE(!llist_empty(&c->waiting_for_gp))");
  const flags = inc_active(c);
  c.waitingForGp = c.freeByRcu;
  c.waitingForGpTail = c.freeByRcuTail;
  c.waitingForGpCnt = c.freeByRcuCnt;
  c.freeByRcu = 0;
  c.freeByRcuTail = 0;
  c.freeByRcuCnt = 0;
  dec_active(c, flags);
  if (c.draining) {
    const first = c.waitingForGp;
    c.waitingForGp = 0;
    c.waitingForGpTail = 0;
    c.waitingForGpCnt = 0;
    free_all(ma, first, c.percpuSize !== 0);
    c.callRcuInProgress = false;
  } else {
    k.rcu.call_rcu(() => __free_by_rcu(c));
  }
}

/**
 * bpf_mem_refill(): the refill irq_work. Below the low watermark add a
 * batch, above the high one trim; then (6.5+) move the _rcu frees along.
 */
function bpf_mem_refill(c: BpfMemCache): void {
  const ma = c.ma;
  const k = ma.k;
  k.point(P_REFILL, c);
  // bpfsim: irq_work_sync() at destroy means this never runs on a draining
  // cache; should the simulator's wait give up (its CPU is suspended), skip
  if (ma.area === 0 || c.draining) return;
  const cnt = c.freeCnt;
  if (cnt < c.lowWatermark) {
    c.refills++;
    alloc_bulk(c, c.batch, true);
  } else if (cnt > c.highWatermark) {
    c.trims++;
    free_bulk(c);
  }
  if (ma.rcuApi) check_free_by_rcu(c);
}

/** irq_work_raise() */
function irq_work_raise(c: BpfMemCache): void {
  irq_work_queue(c.ma.k, refillWork(c));
}

/**
 * init_refill_work(): the watermarks. Units up to 256 B: 32/96; larger:
 * scaled by 256 / unit (at least 1/3); per-CPU value caches (6.8+) 1/3.
 * batch = max((high - low) / 4 * 3, 1).
 */
function init_refill_work(c: BpfMemCache): void {
  if (c.percpuSize && c.ma.percpuMarks) {
    c.lowWatermark = 1;
    c.highWatermark = 3;
  } else if (c.unitSize <= 256) {
    c.lowWatermark = 32;
    c.highWatermark = 96;
  } else {
    c.lowWatermark = Math.max(Math.trunc((32 * 256) / c.unitSize), 1);
    c.highWatermark = Math.max(Math.trunc((96 * 256) / c.unitSize), 3);
  }
  c.batch = Math.max(Math.trunc((c.highWatermark - c.lowWatermark) / 4) * 3, 1);
}

/**
 * prefill_mem_cache(): assume the first program run does few allocations
 * with interrupts off: 4 objects for units up to 256 B, else 1 (per-CPU
 * value caches 1 from 6.8). GFP_KERNEL: this runs at map creation.
 */
function prefill_mem_cache(c: BpfMemCache): void {
  const k = c.ma.k;
  k.point(P_PREFILL, c);
  const small = c.unitSize <= 256 && (!c.percpuSize || !c.ma.percpuMarks);
  alloc_bulk(c, small ? 4 : 1, false);
}

/**
 * unit_alloc(): with interrupts off, if `active` was free pop free_llist and
 * record the cache in the object's header; queue a refill below the low
 * watermark (6.7+ before interrupts come back on). 0 when the list is empty
 * or `active` is held on this CPU (an NMI inside unit_alloc/unit_free).
 */
export function unit_alloc(c: BpfMemCache): number {
  const k = c.ma.k;
  const mem = k.mem;
  k.point(P_UNIT_ALLOC, c);
  const cpu = k.cur;
  const flags = local_irq_save(k);
  let llnode = 0;
  let cnt = 0;
  cpu.clock += COST.localOp;
  if (++c.active === 1) {
    nmiWindow(k);
    llnode = c.freeLlist;
    if (llnode !== 0) {
      c.freeLlist = mem.readPtr(llnode);
      cnt = --c.freeCnt;
      mem.writePtr(llnode, c.addr);
      cpu.clock += COST.llistOp;
    }
  }
  c.active--;
  if (llnode === 0) c.allocFails++;
  const early = c.ma.raiseEarly;
  if (early && cnt < c.lowWatermark) irq_work_raise(c);
  local_irq_restore(k, flags);
  if (!early && cnt < c.lowWatermark) irq_work_raise(c);
  return llnode;
}

/**
 * unit_free(): an object (what alloc returned) back to this CPU's cache;
 * the flavour decides: immediate reuse (the kernel), or the RFC's delayed
 * reuse or free. Never fails.
 */
export function unit_free(c: BpfMemCache, ptr: number): void {
  const ma = c.ma;
  const k = ma.k;
  k.point(P_UNIT_FREE, ptr);
  const llnode = ptr - LLIST_NODE_SZ;
  if (ma.flavour === "reuse_after_rcu_gp") wait_gp_reuse_free(c, llnode);
  else if (ma.flavour === "free_after_rcu_gp") wait_gp_direct_free(c, llnode);
  else immediate_reuse_free(c, llnode);
}

/**
 * immediate_reuse_free() (unit_free() of the kernel): remember the owning
 * cache as the free target (6.5+), push free_llist if `active` is free, else
 * llist_add() free_llist_extra; queue a trim above the high watermark.
 */
function immediate_reuse_free(c: BpfMemCache, llnode: number): void {
  const ma = c.ma;
  const k = ma.k;
  const mem = k.mem;
  const cpu = k.cur;
  if (ma.rcuApi) {
    const hdr = mem.readPtr(llnode);
    c.tgt = hdr === c.addr ? c : ma.cacheAt(hdr) ?? c;
  }
  const flags = local_irq_save(k);
  let cnt = 0;
  cpu.clock += COST.localOp;
  if (++c.active === 1) {
    nmiWindow(k);
    mem.writePtr(llnode, c.freeLlist);
    c.freeLlist = llnode;
    cnt = ++c.freeCnt;
    cpu.clock += COST.llistOp;
  } else {
    mem.writePtr(llnode, c.freeLlistExtra);
    c.freeLlistExtra = llnode;
    c.extraCnt++;
    cpu.clock += COST.atomic;
  }
  c.active--;
  const early = c.ma.raiseEarly;
  if (early && cnt > c.highWatermark) irq_work_raise(c);
  local_irq_restore(k, flags);
  if (!early && cnt > c.highWatermark) irq_work_raise(c);
}

/**
 * unit_free_rcu() (6.5+): onto free_by_rcu (free_llist_extra_rcu when
 * `active` is busy); the refill work starts the GP unless one is running.
 */
function unit_free_rcu(c: BpfMemCache, ptr: number): void {
  const ma = c.ma;
  const k = ma.k;
  const mem = k.mem;
  const cpu = k.cur;
  k.point(P_UNIT_FREE_RCU, ptr);
  const llnode = ptr - LLIST_NODE_SZ;
  c.tgt = ma.cacheAt(mem.readPtr(llnode)) ?? c;
  const flags = local_irq_save(k);
  cpu.clock += COST.localOp;
  if (++c.active === 1) {
    nmiWindow(k);
    if (c.freeByRcu === 0) c.freeByRcuTail = llnode;
    mem.writePtr(llnode, c.freeByRcu);
    c.freeByRcu = llnode;
    c.freeByRcuCnt++;
    cpu.clock += COST.llistOp;
  } else {
    mem.writePtr(llnode, c.freeLlistExtraRcu);
    c.freeLlistExtraRcu = llnode;
    c.extraRcuCnt++;
    cpu.clock += COST.atomic;
  }
  c.active--;
  if (!c.callRcuInProgress) irq_work_raise(c);
  local_irq_restore(k, flags);
}

/** drain_mem_cache(): every list of a cache to slab (nothing uses the cache any more). */
function drain_mem_cache(c: BpfMemCache): void {
  const ma = c.ma;
  ma.k.point(P_DRAIN);
  const percpu = c.percpuSize !== 0;
  const heads = [
    c.freeByRcuTtrace,
    c.waitingForGpTtrace,
    c.freeLlist,
    c.freeLlistExtra,
    c.freeByRcu,
    c.freeLlistExtraRcu,
    c.waitingForGp,
  ];
  c.freeByRcuTtrace =
    c.waitingForGpTtrace =
    c.freeLlist =
    c.freeLlistExtra =
      0;
  c.freeByRcu =
    c.freeByRcuTail =
    c.freeLlistExtraRcu =
    c.waitingForGp =
    c.waitingForGpTail =
      0;
  c.freeByRcuTtraceCnt =
    c.waitingForGpTtraceCnt =
    c.freeCnt =
    c.extraCnt =
      0;
  c.freeByRcuCnt = c.extraRcuCnt = c.waitingForGpCnt = 0;
  for (const h of heads) free_all(ma, h, percpu);
  drainReuseLists(c);
}

/** check_leaked_objs() (6.5+): every list must be empty when the caches go. */
function check_leaked_objs(ma: BpfMemAlloc): void {
  for (const c of ma.allCaches()) {
    if (c.cached() !== 0) warnOnce(ma.k, "check_mem_cache", "WARN_ON_ONCE(!llist_empty(...)): objects left in a cache");
  }
}

/** free_mem_alloc_no_barrier(): the per-CPU caches themselves. */
function free_mem_alloc_no_barrier(ma: BpfMemAlloc): void {
  if (ma.rcuApi) check_leaked_objs(ma);
  ma.k.percpu.free(ma.area);
  ma.area = 0;
}

/**
 * free_mem_alloc(): wait for the callbacks still in flight (rcu_barrier()
 * for __free_by_rcu, rcu_barrier_tasks_trace() for __free_rcu, and a
 * second rcu_barrier() where tasks-trace does not imply RCU), then free.
 */
function free_mem_alloc(ma: BpfMemAlloc): void {
  const k = ma.k;
  k.point(P_FREE_MEM_ALLOC);
  if (ma.flavour === "reuse_after_rcu_gp") cancelReuseWork(ma);
  if (ma.rcuApi) k.rcu.rcu_barrier();
  k.rcu.rcu_barrier_tasks_trace();
  if (!ma.traceImpliesRcu || ma.flavour === "reuse_after_rcu_gp") k.rcu.rcu_barrier();
  free_mem_alloc_no_barrier(ma);
}

/**
 * destroy_mem_alloc(): no callbacks in flight: free now; else defer the
 * barriers to a worker on a kmemdup()'d copy (inline when that fails).
 */
function destroy_mem_alloc(ma: BpfMemAlloc, rcuInProgress: number): void {
  const k = ma.k;
  k.point(P_DESTROY_MEM_ALLOC, rcuInProgress);
  if (!rcuInProgress) {
    free_mem_alloc_no_barrier(ma);
    return;
  }
  const copy = k.slab.kmalloc(BPF_MEM_ALLOC_SIZE, GFP_KERNEL, "destroy_mem_alloc");
  if (copy === 0) {
    free_mem_alloc(ma);
    return;
  }
  // free_mem_alloc_deferred(): the copy owns the caches now
  queue_work(k, "free_mem_alloc_deferred", () => {
    k.point(P_FREE_MEM_ALLOC_DEFERRED);
    free_mem_alloc(ma);
    k.slab.kfree(copy, "free_mem_alloc_deferred");
  }, true);
}

snapshotClasses(BpfMemAlloc, BpfMemCache);
