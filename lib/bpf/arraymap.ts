// kernel/bpf/arraymap.c: BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY.
// struct bpf_array (312 bytes on the oracle kernel) is followed by the values
// (round_up(value_size, 8) each) or, for per-CPU arrays, by one per-CPU
// pointer per index. Elements always exist, are zero-initialised, and cannot
// be deleted.

import { COST } from "../kernel/cost.ts";
import { E2BIG, EEXIST, EINVAL, ENOENT, ENOMEM } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { PAGE_SIZE } from "../kernel/memory.ts";
import { definePoint } from "../kernel/points.ts";
import {
  ARRAY_STRUCT_SIZE,
  bpf_map_area_alloc,
  bpf_map_area_free,
  BpfMap,
  bpfMapFlagsAccessOk,
  type MapAttr,
  percpuValueCopyIn,
  percpuValueCopyOut,
  roundUp8,
} from "./map.ts";
import { bpf_map_meta_equal } from "./map_in_map.ts";
import {
  BPF_EXIST,
  BPF_F_INNER_MAP,
  BPF_F_LOCK,
  BPF_F_MMAPABLE,
  BPF_F_NUMA_NODE,
  BPF_F_PRESERVE_ELEMS,
  BPF_F_RDONLY,
  BPF_F_RDONLY_PROG,
  BPF_F_WRONLY,
  BPF_F_WRONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_NOEXIST,
} from "./uapi.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";

const P_LOOKUP = definePoint("array_map_lookup_elem", "kernel/bpf/arraymap.c", "index into an array map");
const P_UPDATE = definePoint("array_map_update_elem", "kernel/bpf/arraymap.c", "overwrite an array element");
const P_PERCPU_UPDATE = definePoint(
  "bpf_percpu_array_update",
  "kernel/bpf/arraymap.c",
  "syscall update of all CPUs' copies",
);
const P_ALLOC = definePoint("array_map_alloc", "kernel/bpf/arraymap.c", "create an array map");
const P_FREE = definePoint("array_map_free", "kernel/bpf/arraymap.c", "destroy an array map");

const PCPU_MIN_UNIT_SIZE = 32768;
const INT_MAX = 0x7fffffff;

/** ARRAY_CREATE_FLAG_MASK as of a release. */
function arrayFlagMask(v: number): number {
  let m = 0;
  if (v >= 414) m |= BPF_F_NUMA_NODE;
  if (v >= 415) m |= BPF_F_RDONLY | BPF_F_WRONLY;
  if (v >= 502) m |= BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
  if (v >= 505) m |= BPF_F_MMAPABLE;
  if (v >= 510) m |= BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP;
  return m;
}

/** array_map_alloc_check() */
export function arrayMapAllocCheck(k: Kernel, attr: MapAttr): number {
  const percpu = attr.mapType === BPF_MAP_TYPE_PERCPU_ARRAY;
  if (
    attr.maxEntries === 0 || attr.keySize !== 4 || attr.valueSize === 0 ||
    (attr.mapFlags & ~arrayFlagMask(k.features.version)) !== 0 || !bpfMapFlagsAccessOk(attr.mapFlags) ||
    (percpu && (attr.mapFlags & BPF_F_NUMA_NODE) !== 0)
  ) return -EINVAL;
  if (attr.mapType !== BPF_MAP_TYPE_ARRAY && (attr.mapFlags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP))) return -EINVAL;
  if (attr.mapType !== BPF_MAP_TYPE_PERF_EVENT_ARRAY && (attr.mapFlags & BPF_F_PRESERVE_ELEMS)) return -EINVAL;
  if (attr.valueSize > INT_MAX) return -E2BIG;
  if (percpu && roundUp8(attr.valueSize) > PCPU_MIN_UNIT_SIZE) return -E2BIG;
  return 0;
}

/** struct bpf_array */
export class BpfArray extends BpfMap {
  /** array->elem_size: round_up(value_size, 8). */
  readonly elemSize: number;
  /** BPF_MAP_TYPE_PERCPU_ARRAY: the array holds per-CPU pointers (array->pptrs). */
  readonly isPercpu: boolean;
  /** The allocation holding struct bpf_array and the values/pointers. */
  addr = 0;
  /** BPF_F_MMAPABLE: the values start on their own page of a vmalloc'd area. */
  protected mmapable: boolean;

  /** The attributes of array_map_alloc(); init() allocates. */
  constructor(k: Kernel, attr: MapAttr) {
    super(k, attr);
    this.elemSize = roundUp8(attr.valueSize);
    this.isPercpu = attr.mapType === BPF_MAP_TYPE_PERCPU_ARRAY;
    this.mmapable = (attr.mapFlags & BPF_F_MMAPABLE) !== 0;
  }

  /** True for BPF_MAP_TYPE_PERCPU_ARRAY. */
  override get percpu(): boolean {
    return this.isPercpu;
  }

  /** Offset of the value area from the start of the allocation. */
  protected get valueBase(): number {
    return this.mmapable ? PAGE_SIZE : ARRAY_STRUCT_SIZE;
  }

  /** Allocates the array (array_map_alloc after the checks). */
  init(): number {
    const k = this.k;
    const n = this.maxEntries;
    let size: number;
    if (this.isPercpu) size = ARRAY_STRUCT_SIZE + n * 8;
    else if (this.mmapable) size = PAGE_SIZE + Math.ceil((n * this.elemSize) / PAGE_SIZE) * PAGE_SIZE;
    else size = ARRAY_STRUCT_SIZE + n * this.elemSize;
    if (!k.mem.fits(size)) return -ENOMEM;
    this.addr = this.mmapable ? k.slab.vmalloc(size, "array mmapable") : bpf_map_area_alloc(k, size, "bpf_array");
    if (this.addr === 0) return -ENOMEM;
    if (this.isPercpu) {
      if (!k.mem.fits(this.elemSize * n * k.ncpu)) return -ENOMEM;
      for (let i = 0; i < n; i++) {
        const p = k.percpu.alloc(this.elemSize, 8);
        if (p === 0) return -ENOMEM;
        k.mem.writePtr(this.addr + ARRAY_STRUCT_SIZE + i * 8, p);
      }
    }
    if (k.features.memlock === "precharge") {
      let cost = size;
      if (this.isPercpu) cost += n * this.elemSize * k.ncpu;
      this.precharged = Math.ceil(cost / PAGE_SIZE) * PAGE_SIZE;
    }
    return 0;
  }

  /** The u32 index a 4-byte key holds (host order, little endian). */
  protected index(key: Uint8Array): number {
    return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
  }

  /** Per-CPU pointer of index i. */
  pptr(i: number): number {
    return this.k.mem.readPtr(this.addr + ARRAY_STRUCT_SIZE + i * 8);
  }

  /** Address of value i (this CPU's copy for per-CPU arrays). */
  valueAddr(i: number, cpu = this.k.cur.id): number {
    if (this.isPercpu) return this.k.percpu.ptr(this.pptr(i), cpu);
    return this.addr + this.valueBase + i * this.elemSize;
  }

  /** array_map_lookup_elem() / percpu_array_map_lookup_elem() */
  lookupElem(key: Uint8Array): number {
    this.k.point(P_LOOKUP);
    const i = this.index(key);
    if (i >= this.maxEntries) return 0;
    return this.valueAddr(i);
  }

  /** bpf_percpu_array_copy() for per-CPU arrays; plain copy otherwise. */
  override sysLookup(key: Uint8Array, out: Uint8Array, _flags: number): number {
    const k = this.k;
    k.point(P_LOOKUP);
    const i = this.index(key);
    if (i >= this.maxEntries) return -ENOENT;
    if (!this.isPercpu) {
      k.mem.copyOut(this.valueAddr(i), out, 0, this.valueSize);
      return 0;
    }
    percpuValueCopyOut(k, this.pptr(i), out, this.elemSize);
    return 0;
  }

  /** bpf_map_value_size(): round_up(value_size, 8) per CPU for per-CPU arrays. */
  override sysValueSize(): number {
    return this.isPercpu ? this.elemSize * this.k.ncpu : this.valueSize;
  }

  /** array_map_update_elem(): a program writes its CPU's copy of per-CPU values. */
  override updateElem(key: Uint8Array, value: Uint8Array, flags: number): number {
    const k = this.k;
    k.point(P_UPDATE);
    if (flags < 0 || ((flags & ~BPF_F_LOCK) >>> 0) > BPF_EXIST) return -EINVAL;
    const i = this.index(key);
    if (i >= this.maxEntries) return -E2BIG;
    if (flags & BPF_NOEXIST) return -EEXIST;
    if (flags & BPF_F_LOCK) return -EINVAL;
    k.mem.copyIn(this.valueAddr(i), value, 0, this.valueSize);
    k.cur.clock += COST.copyWord * (this.elemSize >> 3);
    return 0;
  }

  /** bpf_percpu_array_update() for per-CPU arrays. */
  override sysUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (!this.isPercpu) return this.updateElem(key, value, flags);
    const k = this.k;
    k.point(P_PERCPU_UPDATE);
    if (flags < 0 || flags > BPF_EXIST) return -EINVAL;
    const i = this.index(key);
    if (i >= this.maxEntries) return -E2BIG;
    if (flags === BPF_NOEXIST) return -EEXIST;
    // bpf_long_memcpy() of round_up(value_size, 8): the padding is copied too
    percpuValueCopyIn(k, this.pptr(i), value, this.elemSize);
    return 0;
  }

  /** array_map_delete_elem(): arrays cannot delete. */
  override deleteElem(_key: Uint8Array): number {
    return -EINVAL;
  }

  /** array_map_get_next_key() */
  override getNextKey(key: Uint8Array | null, next: Uint8Array): number {
    const i = key === null ? 0xffffffff : this.index(key);
    let n: number;
    if (i >= this.maxEntries) n = 0;
    else if (i === this.maxEntries - 1) return -ENOENT;
    else n = i + 1;
    next[0] = n & 0xff;
    next[1] = (n >>> 8) & 0xff;
    next[2] = (n >>> 16) & 0xff;
    next[3] = (n >>> 24) & 0xff;
    return 0;
  }

  /** array_map_meta_equal(): max_entries matters unless BPF_F_INNER_MAP. */
  override metaEqual(inner: BpfMap): boolean {
    if (!bpf_map_meta_equal(this, inner)) return false;
    if (this.k.features.metaEqualMaxEntries) return true; // already compared
    return (this.mapFlags & BPF_F_INNER_MAP) !== 0 || this.maxEntries === inner.maxEntries;
  }

  /** array_map_mem_usage() */
  memUsage(): number {
    const n = this.maxEntries;
    if (this.isPercpu) return ARRAY_STRUCT_SIZE + n * 8 + n * this.elemSize * this.k.ncpu;
    if (this.mmapable) return PAGE_SIZE + Math.ceil((n * this.elemSize) / PAGE_SIZE) * PAGE_SIZE;
    return ARRAY_STRUCT_SIZE + n * this.elemSize;
  }

  /** array_map_free() */
  free(): void {
    const k = this.k;
    k.point(P_FREE);
    if (this.addr !== 0) {
      if (this.isPercpu) {
        for (let i = 0; i < this.maxEntries; i++) {
          const p = this.pptr(i);
          if (p !== 0) k.percpu.free(p);
        }
      }
      if (this.mmapable) k.slab.vfree(this.addr);
      else bpf_map_area_free(k, this.addr);
      this.addr = 0;
    }
    this.freed = true;
  }
}

/** array_map_alloc() */
export function arrayMapAlloc(k: Kernel, attr: MapAttr): BpfArray | number {
  k.point(P_ALLOC);
  const a = new BpfArray(k, attr);
  const err = a.init();
  if (err) {
    a.free();
    return err;
  }
  return a;
}

snapshotClasses(BpfArray);
