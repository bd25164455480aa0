// kernel/bpf/arraymap.c, the fd-array part used by BPF_MAP_TYPE_ARRAY_OF_MAPS:
// a struct bpf_array whose 8-byte values (array->ptrs[]) hold struct bpf_map
// pointers. User space writes a map fd (bpf_fd_array_map_update_elem) and
// reads the inner map's id (bpf_fd_array_map_lookup_elem); a program's
// lookup (array_of_map_lookup_elem) yields the inner map pointer. memlock is
// array_map_mem_usage(): 312 + 8 * max_entries.

import { E2BIG, EINVAL, ENOENT } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { arrayMapAllocCheck, BpfArray } from "./arraymap.ts";
import type { BpfMap, MapAttr } from "./map.ts";
import {
  bpf_map_fd_get_ptr,
  bpf_map_fd_put_ptr,
  bpf_map_meta_alloc,
  bpf_map_meta_free,
  fdSysLookupValue,
  InnerMapTable,
  type MapFdTable,
  type OuterMap,
  valueMapFd,
} from "./map_in_map.ts";
import { BPF_ANY, BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG } from "./uapi.ts";

const P_UPDATE = definePoint(
  "bpf_fd_array_map_update_elem",
  "kernel/bpf/arraymap.c",
  "store a map given by fd in an array of maps",
);
const P_DELETE = definePoint("fd_array_map_delete_elem", "kernel/bpf/arraymap.c", "empty a slot of an fd array");
const P_LOOKUP = definePoint("array_of_map_lookup_elem", "kernel/bpf/arraymap.c", "the inner map in a slot");
const P_ALLOC = definePoint("array_of_map_alloc", "kernel/bpf/arraymap.c", "create an array of maps");
const P_FREE = definePoint("array_of_map_free", "kernel/bpf/arraymap.c", "destroy an array of maps");

/** fd_array_map_alloc_check(): the value is an fd (u32); no program access flags. */
export function fdArrayMapAllocCheck(k: Kernel, attr: MapAttr): number {
  if (attr.valueSize !== 4) return -EINVAL;
  if (attr.mapFlags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) return -EINVAL;
  return arrayMapAllocCheck(k, attr);
}

/** struct bpf_array of BPF_MAP_TYPE_ARRAY_OF_MAPS (array_of_maps_map_ops). */
export class ArrayOfMaps extends BpfArray implements OuterMap {
  /** map->inner_map_meta: the template copy (set by arrayOfMapAlloc). */
  innerMapMeta: BpfMap | null = null;
  /** The inner maps the slots hold, by pointer. */
  readonly innerMaps: InnerMapTable = new InnerMapTable();

  /** An array of maps without its template; arrayOfMapAlloc() sets innerMapMeta and allocates. */
  constructor(k: Kernel, attr: MapAttr) {
    super(k, attr);
    // array_of_maps_map_ops has no map_meta_equal: it cannot be an inner map
    (this as BpfMap).metaEqual = undefined;
  }

  /** &array->ptrs[index] (array_map_lookup_elem on the fd array), or 0 past the end. */
  slotAddr(key: Uint8Array): number {
    const i = this.index(key);
    if (i >= this.maxEntries) return 0;
    return this.valueAddr(i);
  }

  /** array_of_map_lookup_elem(): the inner map pointer in the slot (0 when empty). */
  override lookupElem(key: Uint8Array): number {
    this.k.point(P_LOOKUP);
    const slot = this.slotAddr(key);
    if (slot === 0) return 0;
    return this.k.mem.readPtr(slot);
  }

  /** The inner map a pointer from lookupElem() refers to. */
  innerMap(ptr: number): BpfMap | undefined {
    return this.innerMaps.get(ptr);
  }

  /** bpf_fd_array_map_lookup_elem(): the inner map's id as a u32. */
  override sysLookup(key: Uint8Array, out: Uint8Array, _flags: number): number {
    const slot = this.slotAddr(key);
    return fdSysLookupValue(this, slot === 0 ? 0 : this.k.mem.readPtr(slot), out);
  }

  /** No map_update_elem op: programs cannot store maps, and user space goes through fdMapUpdateElem. */
  override updateElem(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -EINVAL;
  }

  /** Without the caller's fd table there is nothing to store (see fdMapUpdateElem). */
  override sysUpdate(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -EINVAL;
  }

  /** bpf_fd_array_map_update_elem(): store the map behind the u32 fd in `value`. */
  fdMapUpdateElem(key: Uint8Array, value: Uint8Array, flags: number, files: MapFdTable): number {
    const k = this.k;
    k.point(P_UPDATE);
    if (flags !== BPF_ANY) return -EINVAL;
    const i = this.index(key);
    if (i >= this.maxEntries) return -E2BIG;
    const newPtr = bpf_map_fd_get_ptr(this, valueMapFd(value), files);
    if (newPtr < 0) return newPtr;
    const slot = this.valueAddr(i);
    const oldPtr = k.mem.readPtr(slot); // xchg(array->ptrs + index, new_ptr)
    k.mem.writePtr(slot, newPtr);
    if (oldPtr !== 0) bpf_map_fd_put_ptr(this, oldPtr, true);
    return 0;
  }

  /** __fd_array_map_delete_elem() */
  private fdDelete(i: number, needDefer: boolean): number {
    if (i >= this.maxEntries) return -E2BIG;
    const slot = this.valueAddr(i);
    const oldPtr = this.k.mem.readPtr(slot);
    this.k.mem.writePtr(slot, 0);
    if (oldPtr === 0) return -ENOENT;
    bpf_map_fd_put_ptr(this, oldPtr, needDefer);
    return 0;
  }

  /** fd_array_map_delete_elem(): empty a slot; the old map is freed after a grace period. */
  override deleteElem(key: Uint8Array): number {
    this.k.point(P_DELETE);
    return this.fdDelete(this.index(key), true);
  }

  /** array_of_map_free(): meta, then bpf_fd_array_map_clear() (no deferral), then the array. */
  override free(): void {
    this.k.point(P_FREE);
    if (this.innerMapMeta !== null) bpf_map_meta_free(this.innerMapMeta);
    this.innerMapMeta = null;
    if (this.addr !== 0) { for (let i = 0; i < this.maxEntries; i++) this.fdDelete(i, false); }
    super.free();
  }
}

/** array_of_map_alloc(): the template copy first, then the array. */
export function arrayOfMapAlloc(k: Kernel, attr: MapAttr): ArrayOfMaps | number {
  k.point(P_ALLOC);
  const meta = bpf_map_meta_alloc(k, attr);
  if (typeof meta === "number") return meta;
  const a = new ArrayOfMaps(k, attr);
  const err = a.init();
  if (err) {
    a.free();
    bpf_map_meta_free(meta);
    return err;
  }
  a.innerMapMeta = meta;
  return a;
}

snapshotClasses(ArrayOfMaps);
