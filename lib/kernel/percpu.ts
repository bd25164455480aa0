// The per-CPU allocator (mm/percpu.c): an allocation is one offset valid in
// every CPU's unit of a chunk; per_cpu_ptr(p, cpu) = p + cpu * unit_size.
// Chunks are regions of unit_size x nr_cpus bytes, managed in 8-byte
// granules with a first-fit scan from a hint (pcpu's bitmap allocator).

import { COST } from "./cost.ts";
import type { Kernel } from "./kernel.ts";
import type { Region } from "./memory.ts";
import { definePoint } from "./points.ts";
import { might_sleep } from "./context.ts";
import { snapshotClasses } from "./snapshot.ts";

const P_PCPU_ALLOC = definePoint("pcpu_alloc_noprof", "mm/percpu.c", "allocate a per-CPU area");
const P_PCPU_FREE = definePoint("free_percpu", "mm/percpu.c", "free a per-CPU area");

const GRANULE = 8;

class Chunk {
  readonly granules: number;
  readonly used: Uint8Array;
  /** Allocation length in granules, stored at its first granule. */
  readonly len: Uint32Array;
  hint = 0;
  freeGranules: number;

  constructor(readonly region: Region, readonly unit: number) {
    this.granules = unit / GRANULE;
    this.used = new Uint8Array(this.granules);
    this.len = new Uint32Array(this.granules);
    this.freeGranules = this.granules;
  }

  alloc(n: number, alignG: number): number {
    if (n > this.freeGranules) return -1;
    const G = this.granules;
    let i = Math.ceil(this.hint / alignG) * alignG;
    while (i + n <= G) {
      let j = i;
      while (j < i + n && this.used[j] === 0) j++;
      if (j === i + n) {
        this.used.fill(1, i, i + n);
        this.len[i] = n;
        this.freeGranules -= n;
        if (i === this.hint) this.hint = i + n;
        return i;
      }
      i = Math.ceil((j + 1) / alignG) * alignG;
    }
    return -1;
  }

  free(g: number): number {
    const n = this.len[g];
    if (n === 0) return 0;
    this.used.fill(0, g, g + n);
    this.len[g] = 0;
    this.freeGranules += n;
    if (g < this.hint) this.hint = g;
    return n;
  }
}

/** The per-CPU allocator of one kernel. */
export class Percpu {
  private readonly chunks: Chunk[] = [];
  private nextUnit = 64 * 1024;
  private inUse = 0;
  /** Failed allocations. */
  failures = 0;

  /** The allocator of kernel `k`; chunks are mapped on demand. */
  constructor(private readonly k: Kernel) {}

  /**
   * __alloc_percpu_gfp(size, align, gfp): zeroed on every CPU. `mayBlock`
   * is GFP_KERNEL (pcpu_alloc_mutex may sleep). Returns 0 on failure.
   */
  alloc(size: number, align = 8, mayBlock = true): number {
    const k = this.k;
    k.point(P_PCPU_ALLOC, size);
    if (mayBlock) might_sleep(k, "mm/percpu.c", 1763);
    k.cur.clock += COST.slabFast * 2;
    const n = Math.max(1, Math.ceil(size / GRANULE));
    const alignG = Math.max(1, Math.ceil(align / GRANULE));
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const ch = this.chunks[c];
      const g = ch.alloc(n, alignG);
      if (g >= 0) return this.done(ch, g, n);
    }
    let unit = this.nextUnit;
    while (unit < n * GRANULE) unit *= 2;
    if (unit * k.ncpu > 0xffff_0000 || !k.mem.fits(unit * k.ncpu)) {
      this.failures++;
      return 0;
    }
    this.nextUnit = Math.min(unit * 2, 8 << 20);
    k.cur.clock += COST.pageAlloc;
    const region = k.mem.map(unit * k.ncpu, "percpu", "pcpu chunk");
    const ch = new Chunk(region, unit);
    region.owner = ch;
    this.chunks.push(ch);
    return this.done(ch, ch.alloc(n, alignG), n);
  }

  /** Accounts and zeroes (on every CPU) the n granules at g of chunk ch; returns their address. */
  private done(ch: Chunk, g: number, n: number): number {
    this.inUse += n * GRANULE * this.k.ncpu;
    const off = g * GRANULE;
    const r = ch.region;
    for (let cpu = 0; cpu < this.k.ncpu; cpu++) {
      r.u8.fill(0, cpu * ch.unit + off, cpu * ch.unit + off + n * GRANULE);
    }
    return r.base + off;
  }

  /** free_percpu(p) */
  free(p: number): void {
    if (p === 0) return;
    this.k.point(P_PCPU_FREE, p);
    const ch = this.chunkOf(p);
    const n = ch.free((p >>> 0) / GRANULE);
    this.inUse -= n * GRANULE * this.k.ncpu;
  }

  /** per_cpu_ptr(p, cpu) */
  ptr(p: number, cpu: number): number {
    return p + cpu * this.chunkOf(p).unit;
  }

  /** Unit size of the chunk holding p (per_cpu_ptr stride). */
  stride(p: number): number {
    return this.chunkOf(p).unit;
  }

  /** The chunk holding per-CPU address p (pcpu_chunk_addr_search). */
  private chunkOf(p: number): Chunk {
    const r = this.k.mem.region(p);
    return r.owner as Chunk;
  }

  /** Bytes in use across all CPUs. */
  bytesInUse(): number {
    return this.inUse;
  }
}

snapshotClasses(Percpu, Chunk);
