// kernel/bpf/map_in_map.c: what array_of_maps and hash_of_maps share.
//  - bpf_map_meta_alloc(): the outer map keeps a copy of the template map
//    (type, sizes, flags, max_entries, and its ops), not a reference to it;
//  - bpf_map_meta_equal(): the generic inner-map compatibility check, which
//    each map type opts into through its map_meta_equal op (5.10+);
//  - bpf_map_fd_get_ptr() / bpf_map_fd_put_ptr(): the outer map holds a
//    kernel reference (bpf_map_inc, not a uref) on every inner map in a slot;
//    a removed one is freed only after an RCU grace period (6.7+);
//  - bpf_map_fd_sys_lookup_elem(): user space sees the inner map's id.
// The outer map types live in arraymap_of_maps.ts and hashtab_of_maps.ts.

import { EINVAL, ENOENT, ENOMEM, ENOTSUPP } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { GFP_KERNEL } from "../kernel/slab.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { ARRAY_STRUCT_SIZE, type BpfMap, type MapAttr } from "./map.ts";
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_CGROUP_STORAGE,
  BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
  BPF_MAP_TYPE_PROG_ARRAY,
} from "./uapi.ts";

/** sizeof(struct bpf_map) on the oracle kernel (the meta copy of a non-array template). */
export const BPF_MAP_STRUCT_SIZE = 296;

/** The fields bpf_map_meta_equal() compares (struct bpf_map, or a meta copy of one). */
export interface MapMetaFields {
  readonly k: Kernel;
  readonly mapType: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly mapFlags: number;
  readonly maxEntries: number;
}

/**
 * bpf_map_meta_equal(): type, key size, value size and flags must match;
 * before 5.10 max_entries too, for every type (map_meta_equal ops then let
 * each type decide, and only arrays without BPF_F_INNER_MAP kept it). There
 * is no BTF in bpfsim, so btf_record_equal() always holds.
 */
export function bpf_map_meta_equal(meta0: MapMetaFields, meta1: MapMetaFields): boolean {
  return meta0.mapType === meta1.mapType && meta0.keySize === meta1.keySize &&
    meta0.valueSize === meta1.valueSize && meta0.mapFlags === meta1.mapFlags &&
    (!meta0.k.features.metaEqualMaxEntries || meta0.maxEntries === meta1.maxEntries);
}

/**
 * The caller's fd table, for map_fd_get_ptr(): fdget(ufd) + __bpf_map_get()
 * of the process making the bpf(2) call. SysBpf implements it.
 */
export interface MapFdTable {
  /** The map behind `ufd`, -EBADF (no such fd) or -EINVAL (not a map). */
  fdGetMap(ufd: number): BpfMap | number;
}

/**
 * An outer map: map->inner_map_meta and the inner maps its slots hold.
 * Its syscall update stores an object given by fd (bpf_fd_array_map_update_elem,
 * bpf_fd_htab_map_update_elem), so bpf(2) hands it the caller's fd table.
 */
export interface OuterMap extends BpfMap {
  /** The template copy made by bpf_map_meta_alloc() (null only while being built or freed). */
  innerMapMeta: BpfMap | null;
  /** Inner maps by the pointer stored in the slots. */
  readonly innerMaps: InnerMapTable;
  /** The syscall update: `value` holds a u32 fd of the caller. */
  fdMapUpdateElem(key: Uint8Array, value: Uint8Array, flags: number, files: MapFdTable): number;
}

/** True for maps whose syscall update takes an fd (IS_FD_ARRAY / IS_FD_HASH map-in-map types). */
export function isOuterMap(map: BpfMap): map is OuterMap {
  return (map as Partial<OuterMap>).innerMaps instanceof InnerMapTable;
}

/**
 * Where each map class keeps the allocation that embeds struct bpf_map at
 * offset 0: struct bpf_htab (Htab.structAddr), struct bpf_ringbuf_map
 * (BpfRingbuf.mapAddr), struct bpf_array / bpf_queue_stack (.addr).
 */
const MAP_STRUCT_FIELDS = ["structAddr", "mapAddr", "addr"] as const;

/**
 * The struct bpf_map pointer of a map (see MAP_STRUCT_FIELDS). A map type
 * without such an allocation gets a handle in the never-mapped region 0
 * (8 * id), which is unique while the map lives and faults if read.
 */
export function bpf_map_kptr(map: BpfMap): number {
  const m = map as unknown as Record<string, unknown>;
  for (const f of MAP_STRUCT_FIELDS) {
    const a = m[f];
    if (typeof a === "number" && a > 0) return a;
  }
  return 8 * map.id;
}

/**
 * The inner maps an outer map holds, by pointer: the slots in simulated
 * memory hold the pointers (what programs load), this resolves them. One
 * inner map may sit in several slots, so each pointer counts its slots.
 */
export class InnerMapTable {
  /** The inner map behind each struct bpf_map pointer held. */
  readonly maps: Map<number, BpfMap> = new Map();
  /** How many slots hold each pointer. */
  readonly slots: Map<number, number> = new Map();

  /** Records one more slot holding `map`; returns its pointer. */
  hold(map: BpfMap): number {
    const ptr = bpf_map_kptr(map);
    this.maps.set(ptr, map);
    this.slots.set(ptr, (this.slots.get(ptr) ?? 0) + 1);
    return ptr;
  }

  /** Forgets one slot holding `ptr`; returns the map. */
  release(ptr: number): BpfMap {
    const map = this.maps.get(ptr);
    if (map === undefined) throw new Error(`inner map pointer ${ptr} is not held by this outer map`);
    const n = this.slots.get(ptr)! - 1;
    if (n === 0) {
      this.maps.delete(ptr);
      this.slots.delete(ptr);
    } else {
      this.slots.set(ptr, n);
    }
    return map;
  }

  /** The inner map a slot pointer refers to (READ_ONCE(*slot) in a program), or undefined. */
  get(ptr: number): BpfMap | undefined {
    return this.maps.get(ptr);
  }

  /** Slots in use. */
  get size(): number {
    let n = 0;
    for (const c of this.slots.values()) n += c;
    return n;
  }
}

/** The meta copy: a struct bpf_map (or bpf_array) with the template's ops. */
interface MetaCopy {
  k: Kernel;
  mapType: number;
  keySize: number;
  valueSize: number;
  mapFlags: number;
  maxEntries: number;
  numaNode: number;
  /** The kzalloc'd meta (bpf_map_meta_free frees it). */
  metaAddr: number;
  elemSize?: number;
}

/** map->inner_map_meta, or null for maps that are not map-in-map. */
export function innerMapMetaOf(map: BpfMap): BpfMap | null {
  return (map as Partial<OuterMap>).innerMapMeta ?? null;
}

/**
 * bpf_map_meta_alloc(attr->inner_map_fd): the template copy, or -errno.
 * Errors: the fd's errno; a map-in-map template (one level only) -EINVAL;
 * a type that never opted in as an inner map (no map_meta_equal op; before
 * 5.10 prog_array and the cgroup storages) -ENOTSUPP.
 */
export function bpf_map_meta_alloc(k: Kernel, attr: MapAttr): BpfMap | number {
  const inner = attr.resolveMapFd(attr.innerMapFd);
  if (typeof inner === "number") return inner;
  if (k.features.metaEqualMaxEntries) {
    // prog_array->aux->{type,jited} is a runtime binding: no static check
    const t = inner.mapType;
    if (
      t === BPF_MAP_TYPE_PROG_ARRAY || t === BPF_MAP_TYPE_CGROUP_STORAGE || t === BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    ) {
      return -ENOTSUPP;
    }
    if (innerMapMetaOf(inner) !== null) return -EINVAL;
  } else {
    if (innerMapMetaOf(inner) !== null) return -EINVAL;
    if (typeof inner.metaEqual !== "function") return -ENOTSUPP;
  }
  // the verifier reads past struct bpf_map for array templates
  const isArray = inner.mapType === BPF_MAP_TYPE_ARRAY;
  const metaAddr = k.slab.kzalloc(isArray ? ARRAY_STRUCT_SIZE : BPF_MAP_STRUCT_SIZE, GFP_KERNEL, "bpf_map_meta_alloc");
  if (metaAddr === 0) return -ENOMEM;
  // inner_map_meta->ops = inner_map->ops: the copy dispatches like the template
  const meta = Object.create(Object.getPrototypeOf(inner)) as BpfMap;
  const fields: MetaCopy = {
    k,
    mapType: inner.mapType,
    keySize: inner.keySize,
    valueSize: inner.valueSize,
    mapFlags: inner.mapFlags,
    maxEntries: inner.maxEntries,
    numaNode: -1,
    metaAddr,
  };
  if (isArray) fields.elemSize = (inner as unknown as { elemSize: number }).elemSize;
  Object.assign(meta, fields);
  return meta;
}

/** bpf_map_meta_free() */
export function bpf_map_meta_free(meta: BpfMap): void {
  const m = meta as unknown as MetaCopy;
  if (m.metaAddr !== 0) m.k.slab.kfree(m.metaAddr, "bpf_map_meta_free");
  m.metaAddr = 0;
}

/**
 * bpf_map_fd_get_ptr(): the map behind `ufd` if it matches the template
 * (inner_map_meta->ops->map_meta_equal; before 5.10 the generic check with
 * max_entries), with a kernel reference taken for the slot. Returns the
 * pointer to store, or -errno (the fd's errno, -EINVAL on a mismatch).
 */
export function bpf_map_fd_get_ptr(outer: OuterMap, ufd: number, files: MapFdTable): number {
  const k = outer.k;
  const inner = files.fdGetMap(ufd);
  if (typeof inner === "number") return inner;
  const meta = outer.innerMapMeta!;
  const equal = k.features.metaEqualMaxEntries ? bpf_map_meta_equal(meta, inner) : meta.metaEqual!(inner);
  if (!equal) return -EINVAL;
  k.bpf.mapInc(inner);
  return outer.innerMaps.hold(inner);
}

/**
 * bpf_map_fd_put_ptr(): drops the slot's reference. With need_defer (a slot
 * emptied or overwritten while programs may still use the old map) 6.7+
 * sets free_after_rcu_gp, so the last put frees the map only after an RCU
 * grace period; its id goes at once. Before 6.7 the put was plain (the
 * use-after-free window fixed by "bpf: Defer the free of inner map when
 * necessary"). Sleepable programs (free_after_mult_rcu_gp) are not
 * simulated.
 */
export function bpf_map_fd_put_ptr(outer: OuterMap, ptr: number, needDefer: boolean): void {
  const k = outer.k;
  const inner = outer.innerMaps.release(ptr);
  if (needDefer && k.features.atLeast(6, 7)) k.bpf.freeAfterRcuGp.add(inner);
  k.bpf.mapPut(inner);
}

/** bpf_map_fd_sys_lookup_elem(): what user space reads from a slot (the inner map's id). */
export function bpf_map_fd_sys_lookup_elem(outer: OuterMap, ptr: number): number {
  return outer.innerMaps.get(ptr)!.id;
}

/**
 * The common end of bpf_fd_array_map_lookup_elem() and
 * bpf_fd_htab_map_lookup_elem(): for the pointer read from the slot,
 * `*value = map_fd_sys_lookup_elem(ptr)` (a u32), or -ENOENT when there is
 * no slot or it is empty.
 */
export function fdSysLookupValue(outer: OuterMap, ptr: number, out: Uint8Array): number {
  if (ptr === 0) return -ENOENT;
  const id = bpf_map_fd_sys_lookup_elem(outer, ptr);
  out[0] = id & 0xff;
  out[1] = (id >>> 8) & 0xff;
  out[2] = (id >>> 16) & 0xff;
  out[3] = (id >>> 24) & 0xff;
  return 0;
}

/** `*(int *)value`: the map fd user space writes as an outer map's value. */
export function valueMapFd(value: Uint8Array): number {
  return value[0] | (value[1] << 8) | (value[2] << 16) | (value[3] << 24);
}

snapshotClasses(InnerMapTable);
