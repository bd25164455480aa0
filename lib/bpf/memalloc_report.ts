// What `mem show` reports: per map, where its memory comes from (the
// preallocated arena, or a dynamic allocator of the kernel's memalloc
// flavour) with every bpf_mem_alloc cache's lists per CPU, the RFC
// flavours' queues, the slab caches and the kernel's memory totals. Plain
// data, so the CLI prints it as text or JSON and tests read it directly.

import type { Kernel } from "../kernel/kernel.ts";
import { MEMALLOC_FLAVOURS, type MemallocFlavour } from "../kernel/config.ts";
import type { BpfMap } from "./map.ts";
import { Htab } from "./hashtab.ts";
import { BpfMaElemAllocator, CallRcuFreeElemAllocator, KmallocElemAllocator } from "./hashtab_alloc.ts";
import { type BpfMemAlloc, memallocOf } from "./memalloc.ts";
import { freeCtxIfAny } from "./memalloc_rfc.ts";

/** One CPU's cache: the length of each of its lists and its counters. */
export interface CacheCpuReport {
  /** The CPU the cache belongs to. */
  cpu: number;
  /** free_llist (free_cnt) */
  free: number;
  /** free_llist_extra */
  free_extra: number;
  /** free_by_rcu (6.5+ _rcu frees before their RCU GP) */
  free_by_rcu: number;
  /** waiting_for_gp */
  waiting_for_gp: number;
  /** free_llist_extra_rcu */
  free_extra_rcu: number;
  /** free_by_rcu_ttrace: on the way to slab, before the tasks-trace GP */
  free_by_rcu_ttrace: number;
  /** waiting_for_gp_ttrace: inside the tasks-trace GP */
  waiting_for_gp_ttrace: number;
  /** RFC reuse_after_rcu_gp: prepare_reuse (waiting for the reuse kworker). */
  prepare_reuse: number;
  /** RFC reuse_after_rcu_gp: inside the RCU GP of a bpf_reuse_batch. */
  reuse_in_flight: number;
  /** RFC reuse_after_rcu_gp: reuse_ready (reusable). */
  reuse_ready: number;
  /** RFC reuse_after_rcu_gp: wait_for_free (reusable until its tasks-trace GP ends). */
  wait_for_free: number;
  /** `active` right now (0 between operations). */
  active: number;
  /** bpf_mem_refill() runs below the low watermark (a batch added). */
  refills: number;
  /** bpf_mem_refill() runs above the high watermark (a trim). */
  trims: number;
  /** unit_alloc() calls that returned NULL. */
  alloc_fails: number;
}

/** One bpf_mem_alloc (a map's element or per-CPU value allocator). */
export interface AllocReport {
  /** "elem" (htab->ma) or "pcpu_value" (htab->pcpu_ma). */
  kind: string;
  /** unit_size of its caches (size-class mode: 0). */
  unit_size: number;
  /** low_watermark of the caches. */
  low_watermark: number;
  /** high_watermark of the caches. */
  high_watermark: number;
  /** batch of the caches. */
  batch: number;
  /** Objects taken from slab and not given back. */
  objects: number;
  /** Of those, in use by the map. */
  in_use: number;
  /** Bytes of slab and per-CPU memory behind the objects. */
  bytes: number;
  /** The fixed-size caches, by CPU (empty in size-class mode). */
  cpus: CacheCpuReport[];
}

/** One map. */
export interface MapMemReport {
  /** Map id. */
  id: number;
  /** bpftool's type name. */
  type: string;
  /** Map name ("" when none). */
  name: string;
  /** "prealloc", "kmalloc", "bpf_ma", the RFC flavours, or "none" (maps without elements allocated one by one). */
  allocator: string;
  /** Elements in the map (-1 when the type does not count them). */
  elements: number;
  /** memlock as fdinfo shows it. */
  bytes_memlock: number;
  /** Frees waiting for an RCU grace period outside bpf_mem_alloc (kmalloc, call_rcu_free). */
  rcu_pending?: number;
  /** The map's bpf_mem_alloc allocators (elements, and per-CPU values for per-CPU maps). */
  allocs?: AllocReport[];
}

/** The whole report. */
export interface MemReport {
  /** The kernel's memalloc flavour and what it is. */
  memalloc: MemallocFlavour;
  /** One line on that flavour. */
  memalloc_summary: string;
  /** kernel.bpf_force_dyn_alloc (experimental, never merged). */
  force_dyn_alloc: number;
  /** The maps reported. */
  maps: MapMemReport[];
  /** free_after_rcu_gp: the global per-CPU free queues (when that flavour ran). */
  free_queues?: { cpu: number; to_free: number; to_free_extra: number; in_flight: number }[];
  /** The kmalloc caches: objects in use, object slots, object size. */
  slab: { name: string; active: number; total: number; size: number }[];
  /** Kernel memory in bytes (Kernel.memoryUsage()). */
  memory: { slab_objects: number; slab_pages: number; vmalloc: number; pages: number; percpu: number };
}

function allocReport(kind: string, ma: BpfMemAlloc): AllocReport {
  const caches = ma.allCaches();
  const c0 = caches[0];
  const fixed = ma.cache !== null;
  return {
    kind,
    unit_size: fixed && c0 ? c0.unitSize : 0,
    low_watermark: c0?.lowWatermark ?? 0,
    high_watermark: c0?.highWatermark ?? 0,
    batch: c0?.batch ?? 0,
    objects: ma.objects,
    in_use: ma.inUse(),
    bytes: ma.objectBytes(),
    cpus: (fixed ? caches : []).map((c) => ({
      cpu: c.cpu,
      free: c.freeCnt,
      free_extra: c.extraCnt,
      free_by_rcu: c.freeByRcuCnt,
      waiting_for_gp: c.waitingForGpCnt,
      free_extra_rcu: c.extraRcuCnt,
      free_by_rcu_ttrace: c.freeByRcuTtraceCnt,
      waiting_for_gp_ttrace: c.waitingForGpTtraceCnt,
      prepare_reuse: c.prepareReuseObjs,
      reuse_in_flight: c.reuseInFlight,
      reuse_ready: c.reuseReadyCnt,
      wait_for_free: c.waitForFreeCnt,
      active: c.active,
      refills: c.refills,
      trims: c.trims,
      alloc_fails: c.allocFails,
    })),
  };
}

/** The report of one map. */
export function mapMemReport(map: BpfMap): MapMemReport {
  const r: MapMemReport = {
    id: map.id,
    type: map.typeName,
    name: map.name,
    allocator: "none",
    elements: map.elemCount(),
    bytes_memlock: map.memlockBytes(),
  };
  if (!(map instanceof Htab)) return r;
  const a = map.allocator;
  if (a === null) {
    r.allocator = "prealloc";
    return r;
  }
  r.allocator = a.flavour;
  if (a instanceof KmallocElemAllocator) r.rcu_pending = a.inFlight;
  if (a instanceof CallRcuFreeElemAllocator) r.rcu_pending = a.inFlight;
  if (a instanceof BpfMaElemAllocator) {
    r.allocs = [allocReport("elem", a.ma)];
    if (a.pcpuMa) r.allocs.push(allocReport("pcpu_value", a.pcpuMa));
  }
  return r;
}

/** `mem show`: every map (or the given ones), the slab caches and the totals. */
export function memReport(k: Kernel, maps: readonly BpfMap[] = k.bpf.allMaps()): MemReport {
  const flavour = memallocOf(k);
  const mem = k.memoryUsage();
  const report: MemReport = {
    memalloc: flavour,
    memalloc_summary: MEMALLOC_FLAVOURS.find((f) => f.name === flavour)?.summary ?? "",
    force_dyn_alloc: k.sysctl.bpf_force_dyn_alloc,
    maps: maps.map(mapMemReport),
    slab: k.slab.info().map((c) => ({ name: c.name, active: c.active, total: c.total, size: c.size })),
    memory: {
      slab_objects: mem.slabObjects,
      slab_pages: mem.slabPages,
      vmalloc: mem.vmalloc,
      pages: mem.pages,
      percpu: mem.percpu,
    },
  };
  const ctx = freeCtxIfAny(k);
  if (ctx) {
    report.free_queues = ctx.map((c) => ({
      cpu: c.cpu,
      to_free: c.toFreeCnt[0] + c.toFreeCnt[1],
      to_free_extra: c.extraCnt[0] + c.extraCnt[1],
      in_flight: c.inFlight,
    }));
  }
  return report;
}
