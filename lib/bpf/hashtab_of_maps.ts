// kernel/bpf/hashtab.c, the fd-htab part: BPF_MAP_TYPE_HASH_OF_MAPS. A hash
// map whose values are struct bpf_map pointers: an element's value area is
// round_up(4, 8) = 8 bytes and holds the whole pointer
// (fd_htab_map_needs_adjust). User space writes a map fd
// (bpf_fd_htab_map_update_elem) and reads the inner map's id
// (bpf_fd_htab_map_lookup_elem). Updating a present key:
//   < 6.16  a new element replaces the old one (per-CPU extra_elems), and the
//           old element's map is put (6.7+: after unlocking, deferred);
//   6.16+   the pointer is swapped in place; fd htabs have no extra_elems.
// Deleting an element puts its map (free_htab_elem -> htab_put_fd_value).

import { EINVAL } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { Htab, htabMapAlloc, htabMapAllocCheck, registerHtabVariant } from "./hashtab.ts";
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
import { BPF_EXIST, BPF_MAP_TYPE_HASH_OF_MAPS } from "./uapi.ts";

const P_UPDATE = definePoint(
  "bpf_fd_htab_map_update_elem",
  "kernel/bpf/hashtab.c",
  "store a map given by fd in a hash of maps",
);
const P_LOOKUP = definePoint("htab_of_map_lookup_elem", "kernel/bpf/hashtab.c", "the inner map of a key");
const P_ALLOC = definePoint("htab_of_map_alloc", "kernel/bpf/hashtab.c", "create a hash of maps");
const P_FREE = definePoint("htab_of_map_free", "kernel/bpf/hashtab.c", "destroy a hash of maps");

/** fd_htab_map_alloc_check(): the value is an fd (u32). */
export function fdHtabMapAllocCheck(k: Kernel, attr: MapAttr): number {
  if (attr.valueSize !== 4) return -EINVAL;
  return htabMapAllocCheck(k, attr);
}

/** struct bpf_htab of BPF_MAP_TYPE_HASH_OF_MAPS (htab_of_maps_map_ops). */
export class HashOfMaps extends Htab implements OuterMap {
  /** map->inner_map_meta: the template copy. */
  innerMapMeta: BpfMap | null = null;
  /** The inner maps the elements hold, by pointer. */
  readonly innerMaps: InnerMapTable = new InnerMapTable();
  /** The value handed to alloc_htab_elem: &ptr, 8 bytes. */
  private readonly ptrBuf = new Float64Array(1);
  private readonly ptrBytes = new Uint8Array(this.ptrBuf.buffer);

  /** A hash of maps whose struct bpf_htab is at `structAddr`; it has no map_meta_equal, so it cannot be an inner map. */
  constructor(k: Kernel, attr: MapAttr, structAddr: number) {
    super(k, attr, structAddr);
    // htab_of_maps_map_ops has no map_meta_equal: it cannot be an inner map
    (this as BpfMap).metaEqual = undefined;
  }

  /** fd_htab_map_needs_adjust(): the value copied into an element is the whole 8-byte pointer. */
  protected override writeKeyValue(e: number, key: Uint8Array, value: Uint8Array | null, hash: number): void {
    super.writeKeyValue(e, key, null, hash);
    if (value !== null) this.k.mem.copyIn(e + this.valOff, value, 0, 8);
  }

  /** fd_htab_map_get_ptr() */
  fdPtr(e: number): number {
    return this.k.mem.readPtr(e + this.valOff);
  }

  /** free_htab_elem(): htab_put_fd_value() first (deferred), then the element. */
  protected override freeElem(e: number): void {
    bpf_map_fd_put_ptr(this, this.fdPtr(e), true);
    super.freeElem(e);
  }

  /** htab_of_map_lookup_elem(): the inner map pointer, or 0. */
  override lookupElem(key: Uint8Array): number {
    this.k.point(P_LOOKUP);
    const l = this.lookupElemRaw(key);
    return l === 0 ? 0 : this.fdPtr(l);
  }

  /** The inner map a pointer from lookupElem() refers to. */
  innerMap(ptr: number): BpfMap | undefined {
    return this.innerMaps.get(ptr);
  }

  /** bpf_fd_htab_map_lookup_elem(): the inner map's id as a u32. */
  override sysLookup(key: Uint8Array, out: Uint8Array, _flags: number): number {
    const l = this.lookupElemRaw(key);
    return fdSysLookupValue(this, l === 0 ? 0 : this.fdPtr(l), out);
  }

  /** No map_update_elem op: programs cannot store maps, and user space goes through fdMapUpdateElem. */
  override updateElem(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -EINVAL;
  }

  /** Without the caller's fd table there is nothing to store (see fdMapUpdateElem). */
  override sysUpdate(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -EINVAL;
  }

  /** bpf_fd_htab_map_update_elem(): the fd is resolved first, then the element is updated. */
  fdMapUpdateElem(key: Uint8Array, value: Uint8Array, flags: number, files: MapFdTable): number {
    const k = this.k;
    k.point(P_UPDATE);
    const ptr = bpf_map_fd_get_ptr(this, valueMapFd(value), files);
    if (ptr < 0) return ptr;
    const ret = k.features.atLeast(6, 16) ? this.updateInPlace(key, ptr, flags) : this.updateReplace(key, ptr, flags);
    if (ret !== 0) bpf_map_fd_put_ptr(this, ptr, false);
    return ret;
  }

  /** htab_map_update_elem_in_place(map, key, &ptr, flags, percpu = false, onallcpus = false), 6.16+. */
  private updateInPlace(key: Uint8Array, ptr: number, flags: number): number {
    const k = this.k;
    if (flags < 0 || flags > BPF_EXIST) return -EINVAL;
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const lOld = this.lookupRaw(b, hash, key);
    let ret = this.checkFlags(lOld, flags);
    let oldPtr = 0;
    if (ret === 0) {
      if (lOld !== 0) {
        oldPtr = this.fdPtr(lOld);
        k.mem.writePtr(lOld + this.valOff, ptr); // WRITE_ONCE(*inner_map_pptr, ptr)
      } else {
        this.ptrBuf[0] = ptr;
        const lNew = this.allocElem(key, this.ptrBytes, hash, false, 0);
        if (lNew < 0) ret = lNew;
        else this.addHead(b, lNew);
      }
    }
    this.unlockBucket(b, hash, fl);
    if (oldPtr !== 0) bpf_map_fd_put_ptr(this, oldPtr, true);
    return ret;
  }

  /** htab_map_update_elem(map, key, &ptr, flags) before 6.16: a new element replaces the old one. */
  private updateReplace(key: Uint8Array, ptr: number, flags: number): number {
    if (flags < 0 || flags > BPF_EXIST) return -EINVAL;
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const lOld = this.lookupRaw(b, hash, key);
    const ret = this.checkFlags(lOld, flags);
    if (ret !== 0) {
      this.unlockBucket(b, hash, fl);
      return ret;
    }
    this.ptrBuf[0] = ptr;
    const lNew = this.allocElem(key, this.ptrBytes, hash, false, lOld);
    if (lNew < 0) {
      this.unlockBucket(b, hash, fl);
      return lNew;
    }
    this.addHead(b, lNew);
    // a preallocated l_old went to extra_elems: keep its map pointer to put
    let oldPtr = 0;
    if (lOld !== 0) {
      this.unlink(b, lOld);
      if (this.isPrealloc) oldPtr = this.fdPtr(lOld);
    }
    this.unlockBucket(b, hash, fl);
    if (oldPtr !== 0) bpf_map_fd_put_ptr(this, oldPtr, true);
    if (lOld !== 0 && !this.isPrealloc) this.freeElem(lOld);
    return 0;
  }

  /** htab_of_map_free(): meta, then fd_htab_map_free() puts every inner map (no deferral), then the htab. */
  override free(): void {
    this.k.point(P_FREE);
    if (this.innerMapMeta !== null) bpf_map_meta_free(this.innerMapMeta);
    this.innerMapMeta = null;
    if (this.bucketsAddr !== 0) {
      for (let b = 0; b < this.nBuckets; b++) {
        for (let l = this.head(b); l % 2 === 0; l = this.elemNext(l)) bpf_map_fd_put_ptr(this, this.fdPtr(l), false);
      }
    }
    super.free();
  }
}

/** htab_of_map_alloc(): the template copy first, then htab_map_alloc(). */
export function htabOfMapAlloc(k: Kernel, attr: MapAttr): Htab | number {
  k.point(P_ALLOC);
  const meta = bpf_map_meta_alloc(k, attr);
  if (typeof meta === "number") return meta;
  const map = htabMapAlloc(k, attr);
  if (typeof map === "number") {
    bpf_map_meta_free(meta);
    return map;
  }
  (map as HashOfMaps).innerMapMeta = meta;
  return map;
}

registerHtabVariant(BPF_MAP_TYPE_HASH_OF_MAPS, HashOfMaps);
snapshotClasses(HashOfMaps);
