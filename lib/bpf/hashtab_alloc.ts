// kernel/bpf/hashtab.c: where a dynamic (BPF_F_NO_PREALLOC) hash map gets
// its elements and per-CPU value areas and how it gives them back, by the
// kernel's memalloc flavour (`kernel config memalloc`):
//   kmalloc        <= 6.0: kmalloc(GFP_ATOMIC) and __alloc_percpu_gfp() in
//                  the caller's context; free_htab_elem() -> call_rcu() ->
//                  htab_elem_free_rcu() frees both after a grace period
//   bpf_ma         6.1+: htab->ma (elements) and htab->pcpu_ma (per-CPU
//                  values, l->ptr_to_pptr); frees go back to the caches at
//                  once (bpf_mem_cache_free): immediate reuse
//   reuse_after_rcu_gp / free_after_rcu_gp   the same caches with the RFC's
//                  delayed frees (memalloc_rfc.ts)
//   call_rcu_free  the RFC's comparison: bpf_mem_cache_free() from a
//                  call_rcu() callback
// This seam is the only way a dynamic hash map allocates or frees memory.

import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import type { MemallocFlavour } from "../kernel/config.ts";
import { SlabPage } from "../kernel/slab.ts";
import { GFP_ATOMIC } from "../kernel/slab.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { BpfMemAlloc, LLIST_NODE_SZ, memallocOf } from "./memalloc.ts";

const P_ELEM_FREE = definePoint("htab_elem_free", "kernel/bpf/hashtab.c", "give a dynamic element and its value back");
const P_ELEM_FREE_RCU = definePoint(
  "htab_elem_free_rcu",
  "kernel/bpf/hashtab.c",
  "RCU callback: kfree a dynamic element (before 6.1)",
);

/** Offset of l->ptr_to_pptr in struct htab_elem (6.1+ dynamic per-CPU elements). */
const ELEM_PTR_TO_PPTR = 16;

/** True when the slab object at `addr` was given back to slab (or its slab is gone). */
function slabFreed(k: Kernel, addr: number): boolean {
  const r = k.mem.tryRegion(addr);
  if (r === undefined) return true;
  if (!(r.owner instanceof SlabPage)) return false;
  const s = r.owner;
  return s.state[Math.floor((addr >>> 0) / s.cache.size)] === 0;
}

/** What a hash map tells its allocator about its elements. */
export interface ElemGeometry {
  /** htab->elem_size */
  readonly elemSize: number;
  /** Offset of the value (per-CPU maps: of the __percpu pointer) in an element. */
  readonly valOff: number;
  /** round_up(value_size, 8) of a per-CPU map's value area; 0 for other maps. */
  readonly pcpuValueSize: number;
}

/**
 * Where dynamic (BPF_F_NO_PREALLOC) elements come from and how they go
 * back: the only way a dynamic hash map gets and returns memory.
 */
export interface ElemAllocator {
  /** The kernel's memalloc flavour this allocator follows. */
  readonly flavour: MemallocFlavour;
  /** Allocates what the allocator needs up front (bpf_mem_alloc_init): 0 or -errno. */
  init(): number;
  /** An element of elem_size bytes, or 0. */
  alloc(): number;
  /** A value area for per-CPU element `e`, linked into it: the __percpu pointer, or 0. */
  allocPcpu(e: number): number;
  /** Gives back an element that was never published (its value area could not be had). */
  discard(e: number): void;
  /** free_htab_elem(): an unlinked element and its value area; RCU readers may still hold it. */
  free(e: number): void;
  /** Waits for frees still in flight before teardown (rcu_barrier() where the flavour needs it). */
  barrier(): void;
  /** delete_all_elements(): an element nobody can reach any more (map destruction). */
  freeNow(e: number): void;
  /** The end of htab_map_free(): the allocator's own memory (bpf_mem_alloc_destroy()). */
  destroy(): void;
  /**
   * True when element `e`'s memory went back to slab (a read through it is a
   * use-after-free). An element waiting in an allocator cache or for a grace
   * period is still kernel memory of its type and counts as not free.
   */
  isFree(e: number): boolean;
}

/** The pre-6.1 design: kmalloc in the caller's context, kfree after a grace period. */
export class KmallocElemAllocator implements ElemAllocator {
  /** Always "kmalloc". */
  readonly flavour = "kmalloc" as const;
  /** Frees waiting for their grace period (htab_elem_free_rcu() callbacks queued, not run). */
  inFlight = 0;

  /** Elements of `geo` in kernel `k`. */
  constructor(private readonly k: Kernel, private readonly geo: ElemGeometry) {}

  /** Nothing to set up. */
  init(): number {
    return 0;
  }

  /** kmalloc(elem_size, GFP_ATOMIC | __GFP_NOWARN) */
  alloc(): number {
    return this.k.slab.kmalloc(this.geo.elemSize, GFP_ATOMIC, "alloc_htab_elem");
  }

  /** __alloc_percpu_gfp(size, 8, GFP_ATOMIC | __GFP_NOWARN) */
  allocPcpu(_e: number): number {
    return this.k.percpu.alloc(this.geo.pcpuValueSize, 8, false);
  }

  /** kfree(l_new) */
  discard(e: number): void {
    this.k.slab.kfree(e, "alloc_htab_elem");
  }

  /** call_rcu(&l->rcu, htab_elem_free_rcu): the value area and the element after a grace period. */
  free(e: number): void {
    const k = this.k;
    const pptr = this.geo.pcpuValueSize ? k.mem.readPtr(e + this.geo.valOff) : 0;
    this.inFlight++;
    k.rcu.call_rcu(() => {
      k.point(P_ELEM_FREE_RCU, e);
      this.inFlight--;
      if (pptr !== 0) k.percpu.free(pptr);
      k.slab.kfree(e, "htab_elem_free_rcu");
    });
  }

  /** rcu_barrier(): htab_elem_free_rcu() callbacks still in flight finish first. */
  barrier(): void {
    this.k.rcu.rcu_barrier();
  }

  /** free_percpu() + kfree() */
  freeNow(e: number): void {
    const k = this.k;
    if (this.geo.pcpuValueSize) k.percpu.free(k.mem.readPtr(e + this.geo.valOff));
    k.slab.kfree(e, "delete_all_elements");
  }

  /** Nothing of its own. */
  destroy(): void {}

  /** Freed to slab; an element waiting for its grace period is not. */
  isFree(e: number): boolean {
    return slabFreed(this.k, e);
  }
}

/**
 * 6.1+: htab->ma for elements, htab->pcpu_ma for per-CPU value areas
 * (holders whose second word is the __percpu pointer, kept in
 * l->ptr_to_pptr). The frees follow the allocator's flavour.
 */
export class BpfMaElemAllocator implements ElemAllocator {
  /** htab->ma */
  readonly ma: BpfMemAlloc;
  /** htab->pcpu_ma (per-CPU maps only). */
  readonly pcpuMa: BpfMemAlloc | null;

  /** Elements of `geo` in kernel `k`, freed the `flavour` way. */
  constructor(
    protected readonly k: Kernel,
    protected readonly geo: ElemGeometry,
    readonly flavour: "bpf_ma" | "reuse_after_rcu_gp" | "free_after_rcu_gp" | "call_rcu_free",
  ) {
    const f = flavour === "call_rcu_free" ? "bpf_ma" : flavour;
    this.ma = new BpfMemAlloc(k, f);
    this.pcpuMa = geo.pcpuValueSize ? new BpfMemAlloc(k, f) : null;
  }

  /** bpf_mem_alloc_init(&htab->ma, elem_size, false) and, per-CPU, (&htab->pcpu_ma, round_up(value_size, 8), true). */
  init(): number {
    const err = this.ma.init(this.geo.elemSize, false);
    if (err) return err;
    return this.pcpuMa ? this.pcpuMa.init(this.geo.pcpuValueSize, true) : 0;
  }

  /** bpf_mem_cache_alloc(&htab->ma) */
  alloc(): number {
    return this.ma.cacheAlloc();
  }

  /** bpf_mem_cache_alloc(&htab->pcpu_ma); l_new->ptr_to_pptr = ptr; the __percpu pointer is *ptr. */
  allocPcpu(e: number): number {
    const ptr = this.pcpuMa!.cacheAlloc();
    if (ptr === 0) return 0;
    const mem = this.k.mem;
    mem.writePtr(e + ELEM_PTR_TO_PPTR, ptr);
    return mem.readPtr(ptr);
  }

  /** bpf_mem_cache_free(&htab->ma, l_new) */
  discard(e: number): void {
    this.ma.cacheFree(e);
  }

  /** htab_elem_free(): the value holder to pcpu_ma, the element to ma. */
  free(e: number): void {
    this.k.point(P_ELEM_FREE, e);
    if (this.pcpuMa !== null) this.pcpuMa.cacheFree(this.k.mem.readPtr(e + ELEM_PTR_TO_PPTR));
    this.ma.cacheFree(e);
  }

  /** Nothing in flight outside bpf_mem_alloc, which waits for its own callbacks. */
  barrier(): void {}

  /** htab_elem_free() from delete_all_elements() */
  freeNow(e: number): void {
    BpfMaElemAllocator.prototype.free.call(this, e);
  }

  /** bpf_mem_alloc_destroy(&htab->pcpu_ma); bpf_mem_alloc_destroy(&htab->ma) */
  destroy(): void {
    this.pcpuMa?.destroy();
    this.ma.destroy();
  }

  /** Freed to slab (its object starts at the hidden header); one in a cache or an RCU stage is not. */
  isFree(e: number): boolean {
    return slabFreed(this.k, e - LLIST_NODE_SZ);
  }
}

/**
 * The RFC's "extra call_rcu + bpf ma" comparison: free_htab_elem() defers
 * bpf_mem_cache_free() to a call_rcu() callback (as bpf_cpumask does), so
 * nothing is reused before a grace period, at the price of one callback per
 * free.
 */
export class CallRcuFreeElemAllocator extends BpfMaElemAllocator {
  /** Frees waiting for their grace period. */
  inFlight = 0;

  /** Elements of `geo` in kernel `k`. */
  constructor(k: Kernel, geo: ElemGeometry) {
    super(k, geo, "call_rcu_free");
  }

  /** call_rcu(), then htab_elem_free() in the callback. */
  override free(e: number): void {
    const k = this.k;
    this.inFlight++;
    k.rcu.call_rcu(() => {
      this.inFlight--;
      BpfMaElemAllocator.prototype.free.call(this, e);
    });
  }

  /** rcu_barrier(): the deferred frees reach the caches before they are destroyed. */
  override barrier(): void {
    this.k.rcu.rcu_barrier();
  }
}

/** The allocator dynamic elements of `geo` use in kernel `k` (its memalloc flavour). */
export function newElemAllocator(k: Kernel, geo: ElemGeometry): ElemAllocator {
  const f = memallocOf(k);
  if (f === "kmalloc") return new KmallocElemAllocator(k, geo);
  if (f === "call_rcu_free") return new CallRcuFreeElemAllocator(k, geo);
  return new BpfMaElemAllocator(k, geo, f);
}

snapshotClasses(KmallocElemAllocator, BpfMaElemAllocator, CallRcuFreeElemAllocator);
