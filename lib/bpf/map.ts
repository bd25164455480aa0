// struct bpf_map and its ops (include/linux/bpf.h, kernel/bpf/syscall.c):
// the common part of every map type: attributes, ids, the two reference
// counts (refcnt for all holders, usercnt for user-space holders: fds and
// bpffs pins), freezing, memory accounting, and bpf_map_area_alloc().

import { COST } from "../kernel/cost.ts";
import { EINVAL, ENOENT, ENOTSUPP } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { GFP_KERNEL, KMALLOC_MAX_SIZE } from "../kernel/slab.ts";
import { PAGE_SIZE } from "../kernel/memory.ts";
import { BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG, mapTypeName } from "./uapi.ts";

/** BPF_MAP_CREATE attributes (union bpf_attr, map_create part). */
export interface MapAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  /** bpf_attr.map_name; validated by bpf_obj_name_cpy. */
  name: string;
  /** numa_node, used with BPF_F_NUMA_NODE. */
  numaNode: number;
  /** inner_map_fd for map-in-map types (-1 when absent). */
  innerMapFd: number;
  /** fdget + __bpf_map_get for inner_map_fd: the map or -EBADF. */
  resolveMapFd: (fd: number) => BpfMap | number;
  /** map_extra (bloom filter hashes); 0 otherwise. */
  mapExtra: number;
}

/** sizeof(struct bpf_array) on the oracle kernel (memlock base for arrays). */
export const ARRAY_STRUCT_SIZE = 312;

/** PAGE_ALLOC_COSTLY_ORDER */
const PAGE_ALLOC_COSTLY_ORDER = 3;

/** bpf_map_flags_access_ok(): not both BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG. */
export function bpfMapFlagsAccessOk(flags: number): boolean {
  return (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !== (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
}

/** round_up(x, 8) */
export function roundUp8(x: number): number {
  return (x + 7) & ~7;
}

/** roundup_pow_of_two() for x >= 1. */
export function roundupPow2(x: number): number {
  if (x <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(x));
}

/**
 * A map. Subclasses implement the ops of one family (hashtab.c,
 * arraymap.c, ...). Element ops return 0 or a negative errno and never throw
 * for bad input, like the kernel's.
 */
export abstract class BpfMap {
  /** The kernel the map lives in. */
  readonly k: Kernel;
  /** Map id (idr), 0 until published. */
  id = 0;
  /** map->map_type (enum bpf_map_type). */
  readonly mapType: number;
  /** map->key_size in bytes. */
  readonly keySize: number;
  /** map->value_size in bytes (one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  /** map->max_entries; some types adjust it at creation (e.g. per-CPU LRU rounds up to a multiple of the CPUs). */
  maxEntries: number;
  /** map->map_flags (BPF_F_* creation flags). */
  readonly mapFlags: number;
  /** map->numa_node (meaningful with BPF_F_NUMA_NODE). */
  readonly numaNode: number;
  /** map->name, set from bpf_attr.map_name ("" when none). */
  name = "";
  /** All references (fds, pins, programs, outer maps). */
  refcnt = 1;
  /** User references (fds and pins). */
  usercnt = 1;
  /** map->frozen: BPF_MAP_FREEZE was called; syscall writes fail with -EPERM. */
  frozen = false;
  /** Writable mmaps/fds in flight (freeze refuses when > 0). */
  writecnt = 0;
  /** True once map_free has run. */
  freed = false;
  /** Bytes precharged against RLIMIT_MEMLOCK (pre-5.11 profiles). */
  precharged = 0;
  /** bpffs: what kind of object a pin of this is. */
  readonly pinKind = "map" as const;

  /** bpf_map_init_from_attr(): copies the creation attributes; the subclass allocates the rest. */
  constructor(k: Kernel, attr: MapAttr) {
    this.k = k;
    this.mapType = attr.mapType;
    this.keySize = attr.keySize;
    this.valueSize = attr.valueSize;
    this.maxEntries = attr.maxEntries;
    this.mapFlags = attr.mapFlags;
    this.numaNode = attr.numaNode;
  }

  /** bpftool's type name. */
  get typeName(): string {
    return mapTypeName(this.mapType);
  }

  /** True for maps whose values are per-CPU (syscall buffers are ncpu slots). */
  get percpu(): boolean {
    return false;
  }

  /** True when elements are preallocated (BPF_F_NO_PREALLOC clear). */
  get prealloc(): boolean {
    return (this.mapFlags & BPF_F_NO_PREALLOC) === 0;
  }

  /**
   * map_lookup_elem(): the address of the value in kernel memory, or 0.
   * Called by programs (with RCU held) and by the syscall path.
   */
  abstract lookupElem(key: Uint8Array): number;

  /** map_update_elem() */
  updateElem(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -EINVAL;
  }

  /** map_delete_elem() */
  deleteElem(_key: Uint8Array): number {
    return -EINVAL;
  }

  /** map_get_next_key(): key null means "first". */
  getNextKey(_key: Uint8Array | null, _next: Uint8Array): number {
    return -EINVAL;
  }

  /** map_lookup_and_delete_elem(); -ENOTSUPP when the type has none. */
  lookupAndDeleteElem(_key: Uint8Array | null, _value: Uint8Array, _flags: number): number {
    return -ENOTSUPP;
  }

  /** map_push_elem() (queue/stack). */
  pushElem(_value: Uint8Array, _flags: number): number {
    return -ENOTSUPP;
  }

  /** map_pop_elem() (queue/stack). */
  popElem(_value: Uint8Array): number {
    return -ENOTSUPP;
  }

  /** map_peek_elem() (queue/stack). */
  peekElem(_value: Uint8Array): number {
    return -ENOTSUPP;
  }

  /**
   * bpf_map_copy_value(): the syscall lookup. Copies the value (all CPUs
   * for per-CPU maps) into `out`. Types override this where the kernel does.
   */
  sysLookup(key: Uint8Array, out: Uint8Array, _flags: number): number {
    const addr = this.lookupElem(key);
    if (addr === 0) return -ENOENT;
    this.k.mem.copyOut(addr, out, 0, this.valueSize);
    return 0;
  }

  /** bpf_map_update_value(): the syscall update. */
  sysUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.updateElem(key, value, flags);
  }

  /** Size of the user buffer for one value (bpf_map_value_size). */
  sysValueSize(): number {
    return this.valueSize;
  }

  /** map_mem_usage(): bytes, as fdinfo's memlock reports them (6.4+). */
  abstract memUsage(): number;

  /**
   * fdinfo's memlock. 6.4+: map_mem_usage(); the per-type formulas were fitted
   * on the real 6.18 kernel (2 CPUs) and match it exactly, error 0 bytes, for
   * every create recorded in tests/testdata/kernel/{memlock,lru_memlock,
   * ringbuf_memlock,map_in_map}.json (several hundred sizes). Before 6.4 it is
   * the precharge (<5.11) or bpf_map_memory_footprint() (5.11-6.3) as the
   * sources compute them; those eras were not checked on a real kernel.
   */
  memlockBytes(): number {
    const mode = this.k.features.memlock;
    if (mode === "mem_usage") return this.memUsage();
    if (mode === "footprint") {
      // bpf_map_memory_footprint(): a crude estimate, page aligned; the value
      // is bpf_map_value_size() (round_up(value_size, 8) per CPU for per-CPU maps)
      const size = roundUp8(this.keySize + this.sysValueSize());
      return Math.ceil((size * this.maxEntries) / PAGE_SIZE) * PAGE_SIZE;
    }
    return this.precharged;
  }

  /** map_free(): releases every byte the map holds. */
  abstract free(): void;

  /**
   * map_meta_equal(): whether `inner` may replace a map created from this
   * template in an outer map. Types without the op cannot be inner maps.
   */
  metaEqual?(inner: BpfMap): boolean;

  /**
   * True when the element whose value a program found at `valueAddr` under
   * `key` now holds another key: it was freed and reused since the lookup
   * (bpfsim's use-after-reuse check). Types whose values never move say no.
   */
  reusedSince(_valueAddr: number, _key: Uint8Array): boolean {
    return false;
  }

  /** Number of elements (iterator statistics); -1 when not tracked. */
  elemCount(): number {
    return -1;
  }

  /** bpf_any_get() for a bpffs pin: a user reference. */
  pinGet(): void {
    this.k.bpf.mapIncWithUref(this);
  }

  /** bpf_any_put() when a pin is unlinked. */
  pinPut(): void {
    this.k.bpf.mapPutWithUref(this);
  }
}

/** The ops table entry of a map type (bpf_types.h + *_map_ops). */
export interface MapTypeOps {
  /** map_alloc_check(): 0 or -errno before anything is allocated. */
  allocCheck?(k: Kernel, attr: MapAttr): number;
  /** map_alloc(): the map, or -errno. */
  alloc(k: Kernel, attr: MapAttr): BpfMap | number;
}

/**
 * bpf_map_area_alloc(): kmalloc for small areas, vmalloc above
 * PAGE_SIZE << PAGE_ALLOC_COSTLY_ORDER. Returns 0 on failure (-ENOMEM).
 */
export function bpf_map_area_alloc(k: Kernel, size: number, label: string): number {
  if (size <= 0) return 0;
  if (size <= PAGE_SIZE << PAGE_ALLOC_COSTLY_ORDER && size <= KMALLOC_MAX_SIZE) {
    const p = k.slab.kzalloc(size, GFP_KERNEL, label);
    if (p !== 0) return p;
  }
  return k.slab.vmalloc(size, label);
}

/**
 * A per-CPU value out to user space: for_each_possible_cpu(cpu)
 * copy_map_value_long(map, value + off, per_cpu_ptr(pptr, cpu)), off += size
 * (bpf_percpu_hash_copy, bpf_percpu_array_copy, the per-CPU lookup_and_delete).
 * `size` is round_up(value_size, 8): the padding goes out too.
 */
export function percpuValueCopyOut(k: Kernel, pptr: number, out: Uint8Array, size: number): void {
  const stride = k.percpu.stride(pptr);
  for (let cpu = 0; cpu < k.ncpu; cpu++) k.mem.copyOut(pptr + cpu * stride, out, cpu * size, size);
}

/**
 * A user buffer into every CPU's copy: bpf_long_memcpy(per_cpu_ptr(pptr,
 * cpu), value + off, size) for each CPU (bpf_percpu_array_update,
 * pcpu_copy_value() with onallcpus), charged as the words copied.
 */
export function percpuValueCopyIn(k: Kernel, pptr: number, value: Uint8Array, size: number): void {
  const stride = k.percpu.stride(pptr);
  for (let cpu = 0; cpu < k.ncpu; cpu++) k.mem.copyIn(pptr + cpu * stride, value, cpu * size, size);
  k.cur.clock += COST.copyWord * ((size * k.ncpu) >> 3);
}

/** bpf_map_area_free() */
export function bpf_map_area_free(k: Kernel, addr: number): void {
  k.slab.kvfree(addr);
}
