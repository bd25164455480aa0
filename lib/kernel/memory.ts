// The simulated address space (mm/vmalloc.c, mm/page_alloc.c in spirit).
// Kernel memory is a set of regions, each backed by one ArrayBuffer. An
// address is a plain number: region id * 2^32 + offset, so pointers stored in
// simulated memory are float64 values and NULL is 0. Slabs, vmalloc areas and
// per-CPU chunks are regions; objects inside them hold real bytes, so a stale
// pointer reads whatever the memory holds now, exactly as in the kernel.

import { snapshotClasses } from "./snapshot.ts";

/** Span of one region's address range. */
export const REGION_SPAN = 4294967296;
/** PAGE_SIZE. */
export const PAGE_SIZE = 4096;

/** What a region backs; used for accounting and for fault reports. */
export type RegionKind = "slab" | "vmalloc" | "pages" | "percpu";

/** A contiguous, zero-initialised piece of simulated memory. */
export class Region {
  /** Address of the first byte. */
  readonly base: number;
  /** The backing bytes. */
  readonly u8: Uint8Array;
  /** The same bytes as 32-bit words (4-aligned accesses). */
  readonly u32: Uint32Array;
  /** The same bytes as float64 words (8-aligned pointers). */
  readonly f64: Float64Array;
  /** Owner object for slabs and per-CPU chunks (set by their allocator). */
  owner: unknown = undefined;

  /** Region `id` of `size` bytes (rounded up to 8 for the views), backing a `kind` allocation named `label`. */
  constructor(
    readonly id: number,
    readonly size: number,
    readonly kind: RegionKind,
    readonly label: string,
  ) {
    this.base = id * REGION_SPAN;
    const buf = new ArrayBuffer((size + 7) & ~7);
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
    this.f64 = new Float64Array(buf);
  }
}

/** Raised for an access to an address no region backs (an oops). */
export class PageFault extends Error {
  constructor(readonly addr: number) {
    super(`BUG: unable to handle page fault for address: ${hexAddr(addr)}`);
  }
}

/** Kernel-style address text (ffff8881...). */
export function hexAddr(addr: number): string {
  return "ffff8880" + Math.floor(addr).toString(16).padStart(8, "0").slice(-8).padStart(8, "0");
}

const QUARANTINE = 1024;

/** The address space: maps regions, resolves addresses, copies bytes. */
export class Memory {
  /** regions[id]; index 0 is never used so that address 0 is NULL. */
  readonly regions: (Region | undefined)[] = [undefined];
  private readonly freeIds: number[] = [];
  /** Bytes mapped per kind. */
  readonly mapped: Record<RegionKind, number> = { slab: 0, vmalloc: 0, pages: 0, percpu: 0 };

  /** Simulated RAM available to the kernel; maps beyond it fail. */
  limit = 2 * 1024 * 1024 * 1024;

  /** True when `size` more bytes can be mapped. */
  fits(size: number): boolean {
    return size > 0 && size <= REGION_SPAN && this.totalMapped() + size <= this.limit;
  }

  /** Maps a new zeroed region of `size` bytes; check fits() first. */
  map(size: number, kind: RegionKind, label: string): Region {
    if (!this.fits(size)) throw new RangeError(`cannot map ${size} bytes`);
    const id = this.freeIds.length > QUARANTINE ? this.freeIds.shift()! : this.regions.length;
    const r = new Region(id, size, kind, label);
    this.regions[id] = r;
    this.mapped[kind] += size;
    return r;
  }

  /** Unmaps a region; later accesses fault (ids are quarantined before reuse). */
  unmap(r: Region): void {
    if (this.regions[r.id] !== r) throw new Error(`double unmap of region ${r.id}`);
    this.regions[r.id] = undefined;
    this.mapped[r.kind] -= r.size;
    this.freeIds.push(r.id);
  }

  /** The region holding `addr`, or a PageFault. */
  region(addr: number): Region {
    const r = this.regions[(addr / REGION_SPAN) | 0];
    if (r === undefined || (addr >>> 0) >= r.size) throw new PageFault(addr);
    return r;
  }

  /** The region holding `addr`, or undefined. */
  tryRegion(addr: number): Region | undefined {
    const r = this.regions[(addr / REGION_SPAN) | 0];
    return r !== undefined && (addr >>> 0) < r.size ? r : undefined;
  }

  /** Total bytes mapped. */
  totalMapped(): number {
    const m = this.mapped;
    return m.slab + m.vmalloc + m.pages + m.percpu;
  }

  /** Byte load; throws PageFault where nothing is mapped. */
  readU8(addr: number): number {
    return this.region(addr).u8[addr >>> 0];
  }

  /** Byte store; throws PageFault where nothing is mapped. */
  writeU8(addr: number, v: number): void {
    this.region(addr).u8[addr >>> 0] = v;
  }

  /** 4-aligned 32-bit load. */
  readU32(addr: number): number {
    return this.region(addr).u32[(addr >>> 0) >>> 2];
  }

  /** 4-aligned 32-bit store. */
  writeU32(addr: number, v: number): void {
    this.region(addr).u32[(addr >>> 0) >>> 2] = v;
  }

  /** 8-aligned pointer load. */
  readPtr(addr: number): number {
    return this.region(addr).f64[(addr >>> 0) >>> 3];
  }

  /** 8-aligned pointer store. */
  writePtr(addr: number, v: number): void {
    this.region(addr).f64[(addr >>> 0) >>> 3] = v;
  }

  /** memcpy(addr, src, len). */
  copyIn(addr: number, src: Uint8Array, srcOff: number, len: number): void {
    const r = this.region(addr);
    const off = addr >>> 0;
    if (len <= 32) {
      const d = r.u8;
      for (let i = 0; i < len; i++) d[off + i] = src[srcOff + i];
    } else {
      r.u8.set(src.subarray(srcOff, srcOff + len), off);
    }
  }

  /** memcpy(dst, addr, len). */
  copyOut(addr: number, dst: Uint8Array, dstOff: number, len: number): void {
    const r = this.region(addr);
    const off = addr >>> 0;
    if (len <= 32) {
      const s = r.u8;
      for (let i = 0; i < len; i++) dst[dstOff + i] = s[off + i];
    } else {
      dst.set(r.u8.subarray(off, off + len), dstOff);
    }
  }

  /** memcpy between two simulated addresses. */
  move(dst: number, src: number, len: number): void {
    const rd = this.region(dst);
    const rs = this.region(src);
    rd.u8.set(rs.u8.subarray(src >>> 0, (src >>> 0) + len), dst >>> 0);
  }

  /** memset(addr, v, len). */
  fill(addr: number, v: number, len: number): void {
    const r = this.region(addr);
    r.u8.fill(v, addr >>> 0, (addr >>> 0) + len);
  }

  /** memcmp(addr, key, len) == 0. */
  equals(addr: number, key: Uint8Array, keyOff: number, len: number): boolean {
    const r = this.region(addr);
    const s = r.u8;
    const off = addr >>> 0;
    for (let i = 0; i < len; i++) if (s[off + i] !== key[keyOff + i]) return false;
    return true;
  }

  /** A copy of len bytes at addr. */
  bytes(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.copyOut(addr, out, 0, len);
    return out;
  }
}

snapshotClasses(Memory, Region);
