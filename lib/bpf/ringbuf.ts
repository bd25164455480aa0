// kernel/bpf/ringbuf.c: BPF_MAP_TYPE_RINGBUF and BPF_MAP_TYPE_USER_RINGBUF.
// One ring shared by every CPU: a control page, the consumer_pos page, the
// producer_pos page (with pending_pos since 6.10), then the data pages,
// mapped twice back to back so that a record that wraps past the end is
// still contiguous. Positions are free-running u64 byte counters; a record
// is an 8-byte header {len | BUSY | DISCARD, pg_off} followed by the payload,
// round_up(len + 8, 8) bytes in all. Producers (BPF programs, any context
// including NMI) reserve under one lock and commit without it; the consumer
// (user space, over mmap) stops at the first BUSY record and skips
// DISCARDed ones. Commit wakes the consumer through irq_work.
//
// The double mapping: the vmap area holds the data pages twice. The first
// copy is the real memory; the second is a shadow that reserve fills from
// the first for the part of a record that wraps, and commit writes back, so
// that a record's bytes read the same through either address (see
// `syncShadow`). A writer uses the payload address it got, contiguously.

import { CacheLine, COST } from "../kernel/cost.ts";
import { E2BIG, EACCES, EAGAIN, EFAULT, EINVAL, ENOMEM, ENOTSUPP, EPERM } from "../kernel/errno.ts";
import { irq_work_queue, IrqWork } from "../kernel/irq_work.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { type LockKind, LockSet } from "../kernel/lockdep.ts";
import { PAGE_SIZE, PageFault } from "../kernel/memory.ts";
import { definePoint } from "../kernel/points.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import {
  raw_spin_lock_irqsave,
  raw_spin_trylock_irqsave,
  raw_spin_unlock_irqrestore,
  res_spin_lock_irqsave,
  res_spin_unlock_irqrestore,
  spin_lock_irqsave,
  spin_trylock,
  spin_unlock_irqrestore,
} from "../kernel/spinlock.ts";
import { bpf_map_area_alloc, bpf_map_area_free, BpfMap, type MapAttr } from "./map.ts";
import { bpf_map_meta_equal } from "./map_in_map.ts";
import {
  BPF_F_NUMA_NODE,
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_RINGBUF,
  BPF_RB_AVAIL_DATA,
  BPF_RB_CONS_POS,
  BPF_RB_FORCE_WAKEUP,
  BPF_RB_NO_WAKEUP,
  BPF_RB_PROD_POS,
  BPF_RB_RING_SIZE,
} from "./uapi.ts";

const FILE = "kernel/bpf/ringbuf.c";
const P_ALLOC = definePoint("ringbuf_map_alloc", FILE, "create a ring buffer map (pages, vmap, lock, irq_work)");
const P_FREE = definePoint("ringbuf_map_free", FILE, "free a ring buffer map");
const P_RESERVE = definePoint("bpf_ringbuf_reserve", FILE, "helper: reserve a record (under the ring lock)");
const P_RESERVE_DYNPTR = definePoint("bpf_ringbuf_reserve_dynptr", FILE, "helper: reserve a record as a dynptr");
const P_SUBMIT = definePoint("bpf_ringbuf_submit", FILE, "helper: commit a reserved record (no lock)");
const P_DISCARD = definePoint("bpf_ringbuf_discard", FILE, "helper: discard a reserved record (no lock)");
const P_OUTPUT = definePoint("bpf_ringbuf_output", FILE, "helper: reserve, copy and submit in one call");
const P_QUERY = definePoint("bpf_ringbuf_query", FILE, "helper: avail data, ring size, positions");
const P_NOTIFY = definePoint("bpf_ringbuf_notify", FILE, "irq_work: wake up the ring's poll waiters");

/** BPF_RINGBUF_BUSY_BIT (include/uapi/linux/bpf.h): record reserved, not committed. */
export const BPF_RINGBUF_BUSY_BIT = 0x80000000;
/** BPF_RINGBUF_DISCARD_BIT: record committed as discarded; consumers skip it. */
export const BPF_RINGBUF_DISCARD_BIT = 0x40000000;
/** BPF_RINGBUF_HDR_SZ: sizeof(struct bpf_ringbuf_hdr) {u32 len; u32 pg_off}. */
export const BPF_RINGBUF_HDR_SZ = 8;

/** RINGBUF_CREATE_FLAG_MASK */
const RINGBUF_CREATE_FLAG_MASK = BPF_F_NUMA_NODE;
/** RINGBUF_PGOFF: pages before consumer_pos (the non-mmap()able control part). */
export const RINGBUF_PGOFF = 1;
/** RINGBUF_POS_PAGES: consumer page and producer page. */
const RINGBUF_POS_PAGES = 2;
/** RINGBUF_NR_META_PAGES */
export const RINGBUF_NR_META_PAGES = RINGBUF_PGOFF + RINGBUF_POS_PAGES;
/** RINGBUF_MAX_RECORD_SZ: UINT_MAX / 4. */
export const RINGBUF_MAX_RECORD_SZ = 0x3fffffff;
/** RINGBUF_MAX_DATA_SZ: the 32-bit pg_off counts pages, 8 bits kept back (≈64 GiB). */
export const RINGBUF_MAX_DATA_SZ = ((1 << 24) - RINGBUF_POS_PAGES - RINGBUF_PGOFF) * PAGE_SIZE;
/** DYNPTR_MAX_SIZE (bpf_dynptr_check_size): 16 MiB - 1. */
export const DYNPTR_MAX_SIZE = (1 << 24) - 1;
/** sizeof(struct bpf_ringbuf_map) on the oracle kernel (REAL-KERNEL-FINDINGS §5). */
export const RINGBUF_MAP_STRUCT_SIZE = 304;

/** EPOLLIN | EPOLLRDNORM, EPOLLOUT | EPOLLWRNORM (ringbuf_map_poll_*). */
export const EPOLLIN = 0x001;
export const EPOLLRDNORM = 0x040;
export const EPOLLOUT = 0x004;
export const EPOLLWRNORM = 0x100;

// struct bpf_ringbuf control page: waitq, work, mask, pages, nr_pages, then
// the lock on its own cache line and the user-ringbuf busy word on the next.
const OFF_MASK = 56;
const OFF_PAGES = 64;
const OFF_NR_PAGES = 72;
const OFF_SPINLOCK = 128;
const OFF_BUSY = 192;

const TWO32 = 4294967296;
const TWO63 = 2 ** 63;

/** round_up(len + BPF_RINGBUF_HDR_SZ, 8): the space one record takes. */
export function ringbufRecordSize(len: number): number {
  return Math.ceil((len + BPF_RINGBUF_HDR_SZ) / 8) * 8;
}

/** (a - b) mod 2^64 for u64 values given as (hi, lo); exact below 2^53. */
export function sub64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  let lo = aLo - bLo;
  let borrow = 0;
  if (lo < 0) {
    lo += TWO32;
    borrow = 1;
  }
  return ((aHi - bHi - borrow) >>> 0) * TWO32 + lo;
}

/** Reads the u64 at `addr` as a number (exact below 2^53). */
export function readU64(k: Kernel, addr: number): number {
  return k.mem.readU32(addr + 4) * TWO32 + k.mem.readU32(addr);
}

/** Reads the u64 at `addr` as a bigint. */
export function readU64Big(k: Kernel, addr: number): bigint {
  return (BigInt(k.mem.readU32(addr + 4)) << 32n) | BigInt(k.mem.readU32(addr));
}

/** Stores a u64 (given as a number or bigint, taken mod 2^64) at `addr`. */
export function writeU64(k: Kernel, addr: number, v: number | bigint): void {
  const b = BigInt.asUintN(64, BigInt(v));
  k.mem.writeU32(addr, Number(b & 0xffffffffn));
  k.mem.writeU32(addr + 4, Number(b >> 32n));
}

/** The ring lock's flavour for a release: KERNEL-NOTES 4.3. */
export function ringbufLockKind(version: number): LockKind {
  if (version < 612) return "spinlock_t";
  if (version >= 615 && version < 617) return "rqspinlock_t";
  return "raw_spinlock_t";
}

/** A user-space mapping of the ring (struct vm_area_struct, the parts that matter). */
export interface RingbufVma {
  /** Address the mapping shows (inside the ring's vmap area). */
  readonly addr: number;
  /** Bytes mapped. */
  len: number;
  /** vm_pgoff: offset in pages from the consumer page. */
  readonly pgoff: number;
  /** VM_WRITE: currently writable (mprotect may change it). */
  write: boolean;
  /** VM_EXEC: currently executable. */
  exec: boolean;
  /** VM_MAYWRITE: mprotect(PROT_WRITE) is allowed (cleared for read-only ring pages). */
  mayWrite: boolean;
  /** VM_MAYEXEC: mprotect(PROT_EXEC) is allowed (never for ring pages). */
  mayExec: boolean;
  /** VM_DONTEXPAND (set by remap_vmalloc_range). */
  readonly dontExpand: boolean;
  /** Unmapped already. */
  closed: boolean;
}

/** PROT_READ / PROT_WRITE / PROT_EXEC */
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

/** An entry on the ring's wait queue (wait_queue_entry_t): epoll's callback. */
export type WaitFunc = () => void;

// Functions never live on a map object (snapshots cannot hold them): the
// irq_work item and the wait queue of each ring hang off side tables.
const works = new WeakMap<BpfRingbuf, IrqWork>();
const waitqs = new WeakMap<BpfRingbuf, Set<WaitFunc>>();

/** struct bpf_ringbuf_map + struct bpf_ringbuf */
export class BpfRingbuf extends BpfMap {
  /** struct bpf_ringbuf_map (the map object itself). */
  mapAddr = 0;
  /** struct bpf_ringbuf: start of the vmap area (meta pages, data, data again). */
  rb = 0;
  /** struct page **pages: (meta + 2 * data) page pointers. */
  pages = 0;
  /** Pages really allocated: meta + data. */
  nrPages = 0;
  /** mask = data size - 1 */
  readonly mask: number;
  /** Data size (max_entries). */
  readonly size: number;
  /** &rb->consumer_pos (own page; user space may map it writable). */
  consumerPosAddr = 0;
  /** &rb->producer_pos (own page, read-only for user space). */
  producerPosAddr = 0;
  /** &rb->pending_pos (6.10+, next to producer_pos). */
  pendingPosAddr = 0;
  /** rb->data: first copy of the data pages; the second copy follows. */
  dataAddr = 0;
  /** rb->spinlock */
  readonly lock: LockSet;
  /** A kernel-producer ring (RINGBUF) or a user-producer one (USER_RINGBUF). */
  readonly kernelProducer: boolean;
  /** 6.10+: pending_pos guards uncommitted records against lapping. */
  readonly usePendingPos: boolean;
  /** Commits that decided to wake the consumer (irq_work_queue calls). */
  notifyRequests = 0;
  /** Of those, the ones that found the irq_work idle and queued it. */
  notifyQueued = 0;
  /** Times bpf_ringbuf_notify ran: wake_up_all on the wait queue. */
  wakeups = 0;
  /** Reservations that failed (no space, NMI trylock, rqspinlock error, bad size). */
  reserveFailures = 0;
  /** Records committed (submitted or discarded). */
  commits = 0;
  /** Cache line of consumer_pos, written by the consumer, read by producers. */
  readonly consLine: CacheLine = new CacheLine();
  /** Cache line of producer_pos and pending_pos. */
  readonly prodLine: CacheLine = new CacheLine();
  private readonly lockOut = { flags: false };

  /** The geometry of ringbuf_map_alloc() (data size = max_entries) and rb->spinlock's flavour for the release; init() allocates. */
  constructor(k: Kernel, attr: MapAttr) {
    super(k, attr);
    this.size = attr.maxEntries;
    this.mask = attr.maxEntries - 1;
    this.kernelProducer = attr.mapType === BPF_MAP_TYPE_RINGBUF;
    this.usePendingPos = k.features.ringbufPendingPos;
    this.lock = new LockSet(k.lockdep.lockClass("&rb->spinlock"), ringbufLockKind(k.features.version), 1, 0, 64);
  }

  /** Pages of the data area. */
  get nrDataPages(): number {
    return this.size / PAGE_SIZE;
  }

  /** bpf_ringbuf_alloc(): 0 or -ENOMEM. */
  init(): number {
    const k = this.k;
    this.mapAddr = bpf_map_area_alloc(k, RINGBUF_MAP_STRUCT_SIZE, "bpf_ringbuf_map");
    if (this.mapAddr === 0) return -ENOMEM;
    // bpf_ringbuf_area_alloc(): page array, pages, vmap of meta + 2 x data
    const nrData = this.nrDataPages;
    const nrVmap = RINGBUF_NR_META_PAGES + 2 * nrData;
    this.pages = bpf_map_area_alloc(k, nrVmap * 8, "bpf_ringbuf pages");
    if (this.pages === 0) return -ENOMEM;
    if (!k.mem.fits(nrVmap * PAGE_SIZE)) return -ENOMEM;
    this.rb = k.slab.vmalloc(nrVmap * PAGE_SIZE, "bpf_ringbuf");
    if (this.rb === 0) return -ENOMEM;
    k.mem.region(this.rb).owner = this; // container_of() for bpf_ringbuf_restore_from_rec()
    this.nrPages = RINGBUF_NR_META_PAGES + nrData;
    for (let i = 0; i < this.nrPages; i++) {
      const page = this.rb + i * PAGE_SIZE;
      k.mem.writePtr(this.pages + i * 8, page);
      if (i >= RINGBUF_NR_META_PAGES) k.mem.writePtr(this.pages + (nrData + i) * 8, page);
    }
    const rb = this.rb;
    k.mem.writePtr(rb + OFF_MASK, this.mask);
    k.mem.writePtr(rb + OFF_PAGES, this.pages);
    k.mem.writeU32(rb + OFF_NR_PAGES, this.nrPages);
    k.mem.writeU32(rb + OFF_BUSY, 0);
    this.lock.addr = rb + OFF_SPINLOCK;
    this.consumerPosAddr = rb + RINGBUF_PGOFF * PAGE_SIZE;
    this.producerPosAddr = rb + (RINGBUF_PGOFF + 1) * PAGE_SIZE;
    this.pendingPosAddr = this.producerPosAddr + 8;
    this.dataAddr = rb + RINGBUF_NR_META_PAGES * PAGE_SIZE;
    return 0;
  }

  // ------------------------------------------------------ element syscalls

  /** ringbuf_map_lookup_elem(): ERR_PTR(-ENOTSUPP); a program never gets here. */
  lookupElem(_key: Uint8Array): number {
    return 0;
  }

  /** The syscall lookup: ringbuf_map_lookup_elem() returns ERR_PTR(-ENOTSUPP). */
  override sysLookup(_key: Uint8Array, _out: Uint8Array, _flags: number): number {
    return -ENOTSUPP;
  }

  /** ringbuf_map_update_elem() */
  override sysUpdate(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -ENOTSUPP;
  }

  /** ringbuf_map_update_elem() */
  override updateElem(_key: Uint8Array, _value: Uint8Array, _flags: number): number {
    return -ENOTSUPP;
  }

  /** ringbuf_map_delete_elem() */
  override deleteElem(_key: Uint8Array): number {
    return -ENOTSUPP;
  }

  /** ringbuf_map_get_next_key() */
  override getNextKey(_key: Uint8Array | null, _next: Uint8Array): number {
    return -ENOTSUPP;
  }

  /** map_meta_equal = bpf_map_meta_equal: rings can be inner maps. */
  override metaEqual(inner: BpfMap): boolean {
    return bpf_map_meta_equal(this, inner);
  }

  /** ringbuf_map_mem_usage() */
  memUsage(): number {
    return RINGBUF_MAP_STRUCT_SIZE + this.nrPages * PAGE_SIZE +
      (RINGBUF_NR_META_PAGES + 2 * this.nrDataPages) * 8;
  }

  /** ringbuf_map_free(): vunmap, free the pages, the page array, the map. */
  free(): void {
    const k = this.k;
    k.point(P_FREE);
    if (this.rb !== 0) k.slab.vfree(this.rb);
    if (this.pages !== 0) bpf_map_area_free(k, this.pages);
    if (this.mapAddr !== 0) bpf_map_area_free(k, this.mapAddr);
    this.rb = this.pages = this.mapAddr = 0;
    this.freed = true;
    waitqs.delete(this);
    works.delete(this);
  }

  // -------------------------------------------------------------- producer
  // Every producer call runs on a CPU (inside Kernel.exec or an interrupt
  // handler), in any context: these are the helpers BPF programs call.

  /** Takes rb->spinlock the way this release does; saved flags (0/1) or -1. */
  private lockRb(): number {
    const k = this.k;
    const kind = this.lock.kind;
    if (kind === "rqspinlock_t") {
      // 6.15-6.16: raw_res_spin_lock_irqsave(), any error -> NULL
      if (res_spin_lock_irqsave(k, this.lock, 0, "__bpf_ringbuf_reserve", this.lockOut) !== 0) return -1;
      return this.lockOut.flags ? 1 : 0;
    }
    if (kind === "raw_spinlock_t") {
      if (k.cur.inNmi()) {
        const f = raw_spin_trylock_irqsave(k, this.lock, 0, "__bpf_ringbuf_reserve");
        return f === null ? -1 : f ? 1 : 0;
      }
      return raw_spin_lock_irqsave(k, this.lock, 0, "__bpf_ringbuf_reserve") ? 1 : 0;
    }
    // <6.12: spinlock_t (a sleeping lock on PREEMPT_RT)
    if (k.cur.inNmi()) {
      if (!k.config.preemptRt) {
        const f = raw_spin_trylock_irqsave(k, this.lock, 0, "__bpf_ringbuf_reserve");
        return f === null ? -1 : f ? 1 : 0;
      }
      const flags = k.cur.irqsOff;
      return spin_trylock(k, this.lock, 0, "__bpf_ringbuf_reserve") ? (flags ? 1 : 0) : -1;
    }
    return spin_lock_irqsave(k, this.lock, 0, "__bpf_ringbuf_reserve") ? 1 : 0;
  }

  /** Releases rb->spinlock (whichever flavour it is) and restores the saved interrupt state. */
  private unlockRb(flags: number): void {
    const k = this.k;
    const kind = this.lock.kind;
    if (kind === "rqspinlock_t") res_spin_unlock_irqrestore(k, this.lock, 0, flags === 1);
    else if (kind === "raw_spinlock_t") raw_spin_unlock_irqrestore(k, this.lock, 0, flags === 1);
    else spin_unlock_irqrestore(k, this.lock, 0, flags === 1);
  }

  /**
   * __bpf_ringbuf_reserve(): the payload address of a new BUSY record of
   * `size` bytes, or 0 when it does not fit, the size is too big, or the
   * lock cannot be had (NMI trylock, rqspinlock error). Runs on a CPU
   * (inside Kernel.exec), in any context.
   */
  __reserve(size: number): number {
    const k = this.k;
    const mem = k.mem;
    if (!(size >= 0 && size <= RINGBUF_MAX_RECORD_SZ) || !Number.isInteger(size)) return this.failReserve();
    const len = ringbufRecordSize(size);
    if (len > this.size) return this.failReserve();
    const cpu = k.cur;
    // cons_pos = smp_load_acquire(&rb->consumer_pos)
    cpu.clock += this.consLine.read(cpu.id);
    const consLo = mem.readU32(this.consumerPosAddr);
    const consHi = mem.readU32(this.consumerPosAddr + 4);
    const flags = this.lockRb();
    if (flags < 0) return this.failReserve();
    cpu.clock += this.prodLine.write(cpu.id);
    const prodLo = mem.readU32(this.producerPosAddr);
    const prodHi = mem.readU32(this.producerPosAddr + 4);
    let newLo = prodLo + len;
    let newHi = prodHi;
    if (newLo >= TWO32) {
      newLo -= TWO32;
      newHi = (newHi + 1) >>> 0;
    }
    let full = sub64(newHi, newLo, consHi, consLo) > this.mask;
    if (this.usePendingPos) {
      // advance pending_pos over records no longer BUSY, stop at the first busy one
      let pLo = mem.readU32(this.pendingPosAddr);
      let pHi = mem.readU32(this.pendingPosAddr + 4);
      while (pHi < prodHi || (pHi === prodHi && pLo < prodLo)) {
        const hdrLen = mem.readU32(this.dataAddr + ((pLo & this.mask) >>> 0));
        if (hdrLen & BPF_RINGBUF_BUSY_BIT) break;
        const t = ringbufRecordSize((hdrLen & ~BPF_RINGBUF_DISCARD_BIT) >>> 0);
        pLo += t;
        if (pLo >= TWO32) {
          pLo -= TWO32;
          pHi = (pHi + 1) >>> 0;
        }
      }
      mem.writeU32(this.pendingPosAddr, pLo);
      mem.writeU32(this.pendingPosAddr + 4, pHi);
      if (sub64(newHi, newLo, pHi, pLo) > this.mask) full = true;
    }
    if (full) {
      this.unlockRb(flags);
      return this.failReserve();
    }
    const off = (prodLo & this.mask) >>> 0;
    const hdr = this.dataAddr + off;
    mem.writeU32(hdr, (size | BPF_RINGBUF_BUSY_BIT) >>> 0);
    mem.writeU32(hdr + 4, Math.floor((hdr - this.rb) / PAGE_SIZE));
    if (off + len > this.size) this.syncShadow(off + len - this.size, false);
    // smp_store_release(&rb->producer_pos, new_prod_pos)
    mem.writeU32(this.producerPosAddr, newLo);
    mem.writeU32(this.producerPosAddr + 4, newHi);
    this.unlockRb(flags);
    return hdr + BPF_RINGBUF_HDR_SZ;
  }

  /** A reservation that failed: counts it and returns NULL (0). */
  private failReserve(): number {
    this.reserveFailures++;
    return 0;
  }

  /**
   * The double mapping for the first `n` bytes of the data pages: fill the
   * second copy from the first (at reserve, so the shadow shows the pages'
   * real contents), or write it back (at commit, so the bytes a writer put
   * there through the contiguous address land in the real pages).
   */
  syncShadow(n: number, writeBack: boolean): void {
    const first = this.dataAddr;
    const second = this.dataAddr + this.size;
    if (writeBack) this.k.mem.move(first, second, n);
    else this.k.mem.move(second, first, n);
    this.k.cur.clock += COST.copyWord * Math.ceil(n / 8);
  }

  /** bpf_ringbuf_reserve(map, size, flags): payload address or 0 (NULL). */
  reserve(size: number, flags = 0): number {
    this.k.point(P_RESERVE, this);
    if (flags !== 0) return 0;
    return this.__reserve(size);
  }

  /**
   * bpf_ringbuf_reserve_dynptr(map, size, flags, ptr): 0 and the record, or
   * -EINVAL (flags, no space) / -E2BIG (size) with a null dynptr (addr 0).
   */
  reserveDynptr(size: number, flags = 0): { err: number; addr: number; size: number } {
    this.k.point(P_RESERVE_DYNPTR, this);
    if (flags !== 0) return { err: -EINVAL, addr: 0, size: 0 };
    if (size > DYNPTR_MAX_SIZE) return { err: -E2BIG, addr: 0, size: 0 };
    const addr = this.__reserve(size);
    if (addr === 0) return { err: -EINVAL, addr: 0, size: 0 };
    return { err: 0, addr, size };
  }

  /** bpf_ringbuf_submit(sample, flags); the ring is found from the record header. */
  submit(sample: number, flags = 0): void {
    bpf_ringbuf_submit(this.k, sample, flags);
  }

  /** bpf_ringbuf_discard(sample, flags) */
  discard(sample: number, flags = 0): void {
    bpf_ringbuf_discard(this.k, sample, flags);
  }

  /** bpf_ringbuf_output(map, data, size, flags): 0, -EINVAL (flags) or -EAGAIN (no space). */
  output(data: Uint8Array, flags = 0): number {
    const k = this.k;
    k.point(P_OUTPUT, this);
    if (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) return -EINVAL;
    const rec = this.__reserve(data.length);
    if (rec === 0) return -EAGAIN;
    k.mem.copyIn(rec, data, 0, data.length);
    k.cur.clock += COST.copyWord * Math.ceil(data.length / 8);
    bpf_ringbuf_commit(k, rec, flags, false);
    return 0;
  }

  /** bpf_ringbuf_query(map, flags): u64 (as a number, exact below 2^53); 0 for unknown flags. */
  query(flags: number): number {
    this.k.point(P_QUERY, this);
    switch (flags) {
      case BPF_RB_AVAIL_DATA:
        return this.availData();
      case BPF_RB_RING_SIZE:
        return this.size;
      case BPF_RB_CONS_POS:
        return readU64(this.k, this.consumerPosAddr);
      case BPF_RB_PROD_POS:
        return readU64(this.k, this.producerPosAddr);
      default:
        return 0;
    }
  }

  /** ringbuf_avail_data_sz(): producer_pos - consumer_pos (mod 2^64). */
  availData(): number {
    const mem = this.k.mem;
    return sub64(
      mem.readU32(this.producerPosAddr + 4),
      mem.readU32(this.producerPosAddr),
      mem.readU32(this.consumerPosAddr + 4),
      mem.readU32(this.consumerPosAddr),
    );
  }

  // -------------------------------------------------------------- consumer

  /**
   * User-space consumption as libbpf does it (ringbuf_process_ring), over
   * this ring's consumer page, producer page and data: `cb(sample, len,
   * addr)` per committed record, in order, BUSY stops, DISCARD skipped.
   * `sample` views the mapped bytes (valid until the space is reused).
   * Returns the records delivered, or a negative callback result.
   */
  consume(cb: (sample: Uint8Array, len: number, addr: number) => number, max = Infinity): number {
    return ringbuf_process_ring(this.k, this.consumerPosAddr, this.producerPosAddr, this.dataAddr, this.mask, cb, max);
  }

  /** Consumes up to `max` records and returns copies of their payloads. */
  drain(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.consume((s) => {
      out.push(s.slice());
      return 0;
    }, max);
    return out;
  }

  /** The three positions as u64 bigints (pending_pos is 0 before 6.10). */
  positions(): { consumer: bigint; producer: bigint; pending: bigint } {
    return {
      consumer: readU64Big(this.k, this.consumerPosAddr),
      producer: readU64Big(this.k, this.producerPosAddr),
      pending: readU64Big(this.k, this.pendingPosAddr),
    };
  }

  // -------------------------------------------------------- wakeup / poll

  /** rb->work: the irq_work whose handler is bpf_ringbuf_notify(). */
  get work(): IrqWork {
    let w = works.get(this);
    if (w === undefined) {
      w = new IrqWork(`bpf_ringbuf_notify`, () => this.notify());
      works.set(this, w);
    }
    return w;
  }

  /** bpf_ringbuf_notify(): wake_up_all(&rb->waitq). */
  private notify(): void {
    this.k.point(P_NOTIFY, this);
    this.wakeups++;
    const q = waitqs.get(this);
    if (q) { for (const fn of [...q]) fn(); }
  }

  /** add_wait_queue(&rb->waitq): `fn` runs on every wake_up_all (epoll's callback). */
  addWaiter(fn: WaitFunc): void {
    let q = waitqs.get(this);
    if (q === undefined) waitqs.set(this, q = new Set());
    q.add(fn);
  }

  /** remove_wait_queue() */
  removeWaiter(fn: WaitFunc): void {
    waitqs.get(this)?.delete(fn);
  }

  /** ringbuf_map_poll_kern() / _user(): the ready mask. */
  poll(): number {
    const avail = this.availData();
    if (this.kernelProducer) return avail !== 0 ? EPOLLIN | EPOLLRDNORM : 0;
    return avail < this.size ? EPOLLOUT | EPOLLWRNORM : 0;
  }

  // ----------------------------------------------------------------- mmap

  /**
   * bpf_map_mmap() (kernel/bpf/syscall.c, generic part) then
   * ringbuf_map_mmap_kern() / _user(): maps `len` bytes at page offset
   * `pgoff` (from the consumer page) with `prot`. Takes a user reference
   * on the map like the vma's file does; release it with munmap().
   */
  mmap(pgoff: number, len: number, prot: number): RingbufVma | number {
    const write = (prot & PROT_WRITE) !== 0;
    if (write) {
      if (this.frozen) return -EPERM;
      if (this.mapFlags & BPF_F_RDONLY_PROG) return -EACCES;
    }
    if (len <= 0 || pgoff < 0 || !Number.isInteger(pgoff)) return -EINVAL;
    len = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
    if (write) {
      if (this.kernelProducer) {
        // allow a writable mapping of consumer_pos only
        if (pgoff !== 0 || len !== PAGE_SIZE) return -EPERM;
      } else if (pgoff === 0) {
        // user ringbuf: consumer_pos stays read-only
        return -EPERM;
      }
    }
    // remap_vmalloc_range(): the range must lie inside the vmap area
    const vmapPages = RINGBUF_NR_META_PAGES + 2 * this.nrDataPages;
    if (pgoff + RINGBUF_PGOFF + len / PAGE_SIZE > vmapPages) return -EINVAL;
    if (write) this.writecnt++;
    this.k.bpf.mapIncWithUref(this);
    return {
      addr: this.rb + (pgoff + RINGBUF_PGOFF) * PAGE_SIZE,
      len,
      pgoff,
      write,
      exec: false,
      mayWrite: write,
      mayExec: false,
      dontExpand: true,
      closed: false,
    };
  }

  /** munmap() of a mapping made by mmap(): bpf_map_mmap_close + fput. */
  munmap(vma: RingbufVma): number {
    if (vma.closed) return -EINVAL;
    vma.closed = true;
    if (vma.write) this.writecnt--;
    this.k.bpf.mapPutWithUref(this);
    return 0;
  }
}

/** mprotect() on a ring mapping: -EACCES when VM_MAYWRITE / VM_MAYEXEC are gone. */
export function mprotect(vma: RingbufVma, prot: number): number {
  if (vma.closed) return -ENOMEM;
  if ((prot & PROT_WRITE) && !vma.mayWrite) return -EACCES;
  if ((prot & PROT_EXEC) && !vma.mayExec) return -EACCES;
  vma.write = (prot & PROT_WRITE) !== 0;
  vma.exec = (prot & PROT_EXEC) !== 0;
  return 0;
}

/** mremap(): growing a VM_DONTEXPAND mapping fails with -EFAULT (vma_to_resize). */
export function mremap(vma: RingbufVma, oldLen: number, newLen: number): number {
  if (vma.closed) return -EFAULT;
  if (newLen > oldLen && vma.dontExpand) return -EFAULT;
  if (newLen < oldLen) vma.len = Math.ceil(newLen / PAGE_SIZE) * PAGE_SIZE;
  return 0;
}

/** bpf_ringbuf_restore_from_rec(): the ring from a record header's pg_off, or a page fault. */
function restoreFromRec(k: Kernel, hdr: number): BpfRingbuf {
  const pgOff = k.mem.readU32(hdr + 4);
  const rbAddr = hdr - (hdr % PAGE_SIZE) - pgOff * PAGE_SIZE;
  const owner = k.mem.tryRegion(rbAddr)?.owner;
  if (owner instanceof BpfRingbuf && owner.rb === rbAddr) return owner;
  // a clobbered header sends the kernel to some other address: an oops
  throw new PageFault(rbAddr);
}

/**
 * bpf_ringbuf_commit(): flips the header (clear BUSY, set DISCARD for a
 * discard) without a lock, then wakes the consumer: always with
 * BPF_RB_FORCE_WAKEUP, never with BPF_RB_NO_WAKEUP, and otherwise only if
 * the consumer has caught up with exactly this record.
 */
export function bpf_ringbuf_commit(k: Kernel, sample: number, flags: number, discard: boolean): void {
  const mem = k.mem;
  const hdr = sample - BPF_RINGBUF_HDR_SZ;
  const rb = restoreFromRec(k, hdr);
  let newLen = (mem.readU32(hdr) ^ BPF_RINGBUF_BUSY_BIT) >>> 0;
  if (discard) newLen = (newLen | BPF_RINGBUF_DISCARD_BIT) >>> 0;
  const recPos = hdr - rb.dataAddr;
  const end = recPos + ringbufRecordSize((newLen & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) >>> 0);
  if (end > rb.size) rb.syncShadow(end - rb.size, true);
  // xchg(&hdr->len, new_len)
  mem.writeU32(hdr, newLen);
  const cpu = k.cur;
  cpu.clock += COST.atomic;
  rb.commits++;
  cpu.clock += rb.consLine.read(cpu.id);
  const consPos = (mem.readU32(rb.consumerPosAddr) & rb.mask) >>> 0;
  if ((flags & BPF_RB_FORCE_WAKEUP) || (consPos === recPos && !(flags & BPF_RB_NO_WAKEUP))) {
    rb.notifyRequests++;
    if (irq_work_queue(k, rb.work)) rb.notifyQueued++;
  }
}

/** bpf_ringbuf_submit(sample, flags) */
export function bpf_ringbuf_submit(k: Kernel, sample: number, flags = 0): void {
  k.point(P_SUBMIT, sample);
  bpf_ringbuf_commit(k, sample, flags, false);
}

/** bpf_ringbuf_discard(sample, flags) */
export function bpf_ringbuf_discard(k: Kernel, sample: number, flags = 0): void {
  k.point(P_DISCARD, sample);
  bpf_ringbuf_commit(k, sample, flags, true);
}

/**
 * The consumer protocol of libbpf's ringbuf_process_ring()
 * (tools/lib/bpf/ringbuf.c), over the mapped positions and data: from
 * consumer_pos up to producer_pos, stop at a BUSY record, skip DISCARDed
 * ones, hand the others to `cb` (payload view, length), store consumer_pos
 * after each record. A negative callback result is returned at once (after
 * storing the position); at most `max` records are delivered. Returns the
 * number delivered.
 */
export function ringbuf_process_ring(
  k: Kernel,
  consumerPos: number,
  producerPos: number,
  data: number,
  mask: number,
  cb: (sample: Uint8Array, len: number, addr: number) => number,
  max = Infinity,
): number {
  const mem = k.mem;
  let cnt = 0;
  let cLo = mem.readU32(consumerPos);
  let cHi = mem.readU32(consumerPos + 4);
  const store = () => {
    mem.writeU32(consumerPos, cLo);
    mem.writeU32(consumerPos + 4, cHi);
  };
  let gotNew: boolean;
  do {
    gotNew = false;
    const pLo = mem.readU32(producerPos);
    const pHi = mem.readU32(producerPos + 4);
    // (long)(cons_pos - prod_pos) < 0, robust to the counters wrapping
    while (sub64(cHi, cLo, pHi, pLo) >= TWO63) {
      const lenPtr = data + ((cLo & mask) >>> 0);
      const len = mem.readU32(lenPtr);
      if (len & BPF_RINGBUF_BUSY_BIT) return cnt;
      gotNew = true;
      cLo += ringbufRecordSize((len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) >>> 0);
      if (cLo >= TWO32) {
        cLo -= TWO32;
        cHi = (cHi + 1) >>> 0;
      }
      if ((len & BPF_RINGBUF_DISCARD_BIT) === 0) {
        const sample = lenPtr + BPF_RINGBUF_HDR_SZ;
        const r = mem.region(sample);
        const off = sample >>> 0;
        const err = cb(r.u8.subarray(off, off + len), len, sample);
        if (err < 0) {
          store();
          return err;
        }
        if (++cnt >= max) {
          store();
          return cnt;
        }
      }
      store();
    }
  } while (gotNew);
  return cnt;
}

/** ringbuf_map_alloc(): the checks in the kernel's order, then the allocation. */
export function ringbufMapAlloc(k: Kernel, attr: MapAttr): BpfRingbuf | number {
  k.point(P_ALLOC);
  if (attr.mapFlags & ~RINGBUF_CREATE_FLAG_MASK) return -EINVAL;
  const e = attr.maxEntries;
  const pow2 = e > 0 && 2 ** Math.round(Math.log2(e)) === e;
  if (attr.keySize || attr.valueSize || !pow2 || e % PAGE_SIZE !== 0) return -EINVAL;
  if (e > RINGBUF_MAX_DATA_SZ) return -E2BIG;
  const rb = new BpfRingbuf(k, attr);
  const err = rb.init();
  if (err) {
    rb.free();
    return err;
  }
  return rb;
}

snapshotClasses(BpfRingbuf);
