// kernel/bpf/hashtab.c, the LRU parts: htab_lru_map_ops and
// htab_lru_percpu_map_ops (prealloc_lru_pop, htab_lru_map_update_elem,
// __htab_lru_percpu_map_update_elem, htab_lru_map_delete_elem,
// htab_lru_map_delete_node, htab_lru_push_free, the lookups). Read at
// ≈v6.18 and in the newest bpf-next tree.
//
// Every update takes a node from the LRU (bpf_lru_pop_free) before the
// bucket lock, because finding one may evict, and eviction takes bucket
// locks (lock order: LRU locks -> bucket lock). Only then are the flags
// checked, so an update of a full map evicts even when it replaces a key or
// fails; the unused node goes back to the free lists. The per-CPU flavour
// skips the pop for BPF_EXIST (values are updated in place).
// Program-side lookups set the node's ref bit (second chance); syscall
// lookups (htab_lru_map_lookup_elem_sys, bpf_percpu_hash_copy) do not.
// 5.11-≈6.2: a bucket-lock failure (-EBUSY) returned without giving the
// popped node back, leaking it (fixed in ≈6.3).

import { COST } from "../kernel/cost.ts";
import { EINVAL, ENOENT, ENOMEM } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { definePoint } from "../kernel/points.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import { BpfLru, type LruDelFromHtab } from "./bpf_lru_list.ts";
import { ELEM_HASH, ELEM_LRU_NODE, Htab, registerHtabVariant } from "./hashtab.ts";
import type { MapAttr } from "./map.ts";
import { BPF_EXIST, BPF_F_NO_COMMON_LRU, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH } from "./uapi.ts";

const P_LRU_POP = definePoint("prealloc_lru_pop", "kernel/bpf/hashtab.c", "take an LRU element for an update");
const P_LRU_UPDATE = definePoint(
  "htab_lru_map_update_elem",
  "kernel/bpf/hashtab.c",
  "insert or replace an LRU hash element",
);
const P_LRU_PERCPU_UPDATE = definePoint(
  "__htab_lru_percpu_map_update_elem",
  "kernel/bpf/hashtab.c",
  "insert or update a per-CPU LRU hash element",
);
const P_LRU_DELETE = definePoint("htab_lru_map_delete_elem", "kernel/bpf/hashtab.c", "delete an LRU hash element");
const P_LRU_DELETE_NODE = definePoint(
  "htab_lru_map_delete_node",
  "kernel/bpf/hashtab.c",
  "LRU eviction callback: unlink the victim under its bucket lock",
);
const P_LRU_PUSH_FREE = definePoint("htab_lru_push_free", "kernel/bpf/hashtab.c", "give an element back to the LRU");

/** Where struct bpf_lru sits in struct bpf_htab (the common list's lock line). */
const HTAB_LRU_OFF = 128;

/** struct bpf_htab of an LRU_HASH / LRU_PERCPU_HASH map. */
export class LruHtab extends Htab implements LruDelFromHtab {
  /** htab->lru (set by lruInit during preallocation). */
  lru: BpfLru | null = null;
  /** Nodes lost to the pre-≈6.3 bucket-lock-failure leak. */
  leakedNodes = 0;

  /** An LRU hash map whose struct bpf_htab is at `structAddr`; init() builds the LRU (lruInit). */
  constructor(k: Kernel, attr: MapAttr, structAddr: number) {
    super(k, attr, structAddr);
  }

  /** bpf_lru_init() + bpf_lru_populate() over the element arena (from prealloc_init). */
  protected override lruInit(): number {
    const k = this.k;
    const percpuLru = (this.mapFlags & BPF_F_NO_COMMON_LRU) !== 0;
    const lru = new BpfLru(k, percpuLru, ELEM_HASH - ELEM_LRU_NODE, this, this.structAddr + HTAB_LRU_OFF);
    if (lru.failed) return -ENOMEM;
    this.lru = lru;
    lru.populate(this.elems, ELEM_LRU_NODE, this.elemSize, this.numEntries);
    return 0;
  }

  /**
   * htab_lru_map_delete_node(): called by the LRU (under its locks) to
   * evict the element owning `node`. Takes the bucket lock; when that
   * fails (-EBUSY / -EDEADLK / -ETIMEDOUT) the node is skipped.
   */
  htabLruMapDeleteNode(node: number): boolean {
    const k = this.k;
    k.point(P_LRU_DELETE_NODE, node);
    const tgt = node - ELEM_LRU_NODE;
    const hash = this.elemHash(tgt);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return false;
    let found = false;
    for (let p = this.head(b); !Htab.isNulls(p); p = this.elemNext(p)) {
      if (p === tgt) {
        this.unlink(b, p);
        this.elemStats--; // bpf_map_dec_elem_count()
        found = true;
        break;
      }
    }
    this.unlockBucket(b, hash, fl);
    return found;
  }

  /** prealloc_lru_pop(): an element with `key` and `hash` written, or 0. */
  protected preallocLruPop(key: Uint8Array, hash: number): number {
    this.k.point(P_LRU_POP);
    const node = this.lru!.popFree(hash);
    if (node === 0) return 0;
    this.elemStats++; // bpf_map_inc_elem_count()
    const l = node - ELEM_LRU_NODE;
    this.writeKeyValue(l, key, null, hash);
    return l;
  }

  /** htab_lru_push_free() */
  protected htabLruPushFree(e: number): void {
    this.k.point(P_LRU_PUSH_FREE, e);
    this.elemStats--; // bpf_map_dec_elem_count()
    this.lru!.pushFree(e + ELEM_LRU_NODE);
  }

  /** free_htab_elem() of an LRU map is htab_lru_push_free() (lookup_and_delete). */
  protected override freeElem(e: number): void {
    this.htabLruPushFree(e);
  }

  /** Pre-≈6.3 kernels returned on a bucket-lock error without pushing the node back. */
  private leaksOnLockError(): boolean {
    return !this.k.features.atLeast(6, 3);
  }

  /** Program-side update (htab_lru_map_update_elem / htab_lru_percpu_map_update_elem). */
  override updateElem(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (this.isPercpu) return this.lruPercpuUpdate(key, value, flags, false);
    return this.lruUpdate(key, value, flags);
  }

  /** Syscall update: bpf_percpu_hash_update() takes every CPU's value. */
  override sysUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (this.isPercpu) return this.lruPercpuUpdate(key, value, flags, true);
    return this.lruUpdate(key, value, flags);
  }

  /** htab_lru_map_update_elem() */
  protected lruUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    const k = this.k;
    if (flags < 0 || flags > BPF_EXIST) return -EINVAL;
    k.point(P_LRU_UPDATE);
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    // The node comes first: getting one may evict, which takes bucket locks.
    const lNew = this.preallocLruPop(key, hash);
    if (lNew === 0) return -ENOMEM;
    // copy_map_value()
    k.mem.copyIn(lNew + this.valOff, value, 0, this.valueSize);
    k.cur.clock += COST.copyWord * ((this.valueSize + 7) >> 3);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) {
      if (this.leaksOnLockError()) {
        this.leakedNodes++;
        return fl;
      }
      this.htabLruPushFree(lNew);
      return fl;
    }
    const lOld = this.lookupRaw(b, hash, key);
    const ret = this.checkFlags(lOld, flags);
    if (ret === 0) {
      this.addHead(b, lNew);
      if (lOld !== 0) {
        this.lru!.setRef(lNew + ELEM_LRU_NODE);
        this.unlink(b, lOld);
      }
    }
    this.unlockBucket(b, hash, fl);
    if (ret !== 0) this.htabLruPushFree(lNew);
    else if (lOld !== 0) this.htabLruPushFree(lOld);
    return ret;
  }

  /** __htab_lru_percpu_map_update_elem(): values of an existing key are updated in place. */
  protected lruPercpuUpdate(key: Uint8Array, value: Uint8Array, flags: number, onallcpus: boolean): number {
    const k = this.k;
    if (flags < 0 || flags > BPF_EXIST) return -EINVAL;
    k.point(P_LRU_PERCPU_UPDATE);
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    let lNew = 0;
    if (flags !== BPF_EXIST) {
      lNew = this.preallocLruPop(key, hash);
      if (lNew === 0) return -ENOMEM;
    }
    const fl = this.lockBucket(b, hash);
    if (fl < 0) {
      if (lNew !== 0 && this.leaksOnLockError()) {
        this.leakedNodes++;
        return fl;
      }
      if (lNew !== 0) this.htabLruPushFree(lNew);
      return fl;
    }
    const lOld = this.lookupRaw(b, hash, key);
    const ret = this.checkFlags(lOld, flags);
    if (ret === 0) {
      if (lOld !== 0) {
        this.lru!.setRef(lOld + ELEM_LRU_NODE);
        this.pcpuCopyValue(this.pptr(lOld), value, onallcpus);
      } else {
        this.pcpuInitValue(this.pptr(lNew), value, onallcpus);
        this.addHead(b, lNew);
        lNew = 0;
      }
    }
    this.unlockBucket(b, hash, fl);
    if (lNew !== 0) this.htabLruPushFree(lNew);
    return ret;
  }

  /** htab_lru_map_delete_elem() */
  override deleteElem(key: Uint8Array): number {
    const k = this.k;
    k.point(P_LRU_DELETE);
    const hash = this.hash(key);
    const b = this.bucketOf(hash);
    const fl = this.lockBucket(b, hash);
    if (fl < 0) return fl;
    const l = this.lookupRaw(b, hash, key);
    if (l !== 0) this.unlink(b, l);
    this.unlockBucket(b, hash, fl);
    if (l === 0) return -ENOENT;
    this.htabLruPushFree(l);
    return 0;
  }

  /**
   * htab_lru_map_lookup_elem() / htab_lru_percpu_map_lookup_elem(): the
   * program-side lookup. Marks the element referenced (second chance).
   */
  override lookupElem(key: Uint8Array): number {
    const l = this.lookupElemRaw(key);
    if (l === 0) return 0;
    this.lru!.setRef(l + ELEM_LRU_NODE);
    if (this.isPercpu) return this.percpuValue(l, this.k.cur.id);
    return l + this.valOff;
  }

  /**
   * htab_lru_percpu_map_lookup_percpu_elem() (bpf_map_lookup_percpu_elem):
   * another CPU's copy, also marking the element referenced.
   */
  lookupPercpuElem(key: Uint8Array, cpu: number): number {
    if (!this.isPercpu || cpu < 0 || cpu >= this.k.ncpu) return 0;
    const l = this.lookupElemRaw(key);
    if (l === 0) return 0;
    this.lru!.setRef(l + ELEM_LRU_NODE);
    return this.percpuValue(l, cpu);
  }

  /** htab_lru_map_lookup_elem_sys(): the value address, ref bit untouched. */
  lookupElemSys(key: Uint8Array): number {
    const l = this.lookupElemRaw(key);
    return l === 0 ? 0 : l + this.valOff;
  }

  /**
   * The syscall lookup: map_lookup_elem_sys_only (plain LRU) or
   * bpf_percpu_hash_copy() (per-CPU); neither sets the ref bit, so a
   * user-space map walk does not disturb eviction.
   */
  override sysLookup(key: Uint8Array, out: Uint8Array, flags: number): number {
    if (this.isPercpu) return super.sysLookup(key, out, flags);
    const v = this.lookupElemSys(key);
    if (v === 0) return -ENOENT;
    this.k.mem.copyOut(v, out, 0, this.valueSize);
    return 0;
  }

  /** htab_map_free() of a preallocated LRU map: prealloc_destroy() + bpf_lru_destroy(). */
  override free(): void {
    this.lru?.destroy();
    this.lru = null;
    super.free();
  }
}

registerHtabVariant(BPF_MAP_TYPE_LRU_HASH, LruHtab);
registerHtabVariant(BPF_MAP_TYPE_LRU_PERCPU_HASH, LruHtab);
snapshotClasses(LruHtab);
