// The slab allocator (mm/slub.c) as far as the seeds need it: kmalloc size
// classes with the slab geometry this machine reports in /proc/slabinfo,
// a per-CPU slab served without locks, and per-node partial lists under
// kmem_cache_node->list_lock taken on the slow paths of both kmalloc and
// kfree. That lock is what a kprobe on spin_unlock deadlocked on in 2016.
// Objects have states (free, live), so double frees and accesses to freed
// objects are reported KASAN-style. On PREEMPT_RT list_lock is a sleeping
// spinlock_t, and the per-CPU fast path is a local_lock (also sleeping):
// kmalloc in atomic context is a bug there.

import { COST } from "./cost.ts";
import type { Kernel } from "./kernel.ts";
import { LockSet } from "./lockdep.ts";
import { hexAddr, PAGE_SIZE, type Region } from "./memory.ts";
import { definePoint } from "./points.ts";
import { TP_KFREE, TP_KMALLOC } from "./tracepoint.ts";
import { spin_lock_irqsave, spin_unlock_irqrestore } from "./spinlock.ts";
import { might_sleep } from "./context.ts";
import { snapshotClasses } from "./snapshot.ts";

const P_KMALLOC = definePoint("__kmalloc", "mm/slub.c", "allocate a kernel object", { ret: true });
const P_KFREE = definePoint("kfree", "mm/slub.c", "free a kernel object", { ret: true });
const P_SLAB_ALLOC = definePoint("___slab_alloc", "mm/slub.c", "kmalloc slow path (node partial list)");
const P_SLAB_FREE = definePoint("__slab_free", "mm/slub.c", "kfree slow path (node partial list)");
const P_KMALLOC_LARGE = definePoint("__kmalloc_large_node", "mm/slub.c", "allocate pages for a big kmalloc");
const P_VMALLOC = definePoint("__vmalloc_node_range", "mm/vmalloc.c", "allocate virtually contiguous memory");
const P_VFREE = definePoint("vfree", "mm/vmalloc.c", "free vmalloc'd memory");

/** Allocation flags that matter here (include/linux/gfp_types.h). */
export const GFP_ATOMIC = 1;
/** May sleep (direct reclaim). */
export const GFP_KERNEL = 2;
/** Never sleeps, no atomic reserves. */
export const GFP_NOWAIT = 4;
/** __GFP_ZERO */
export const __GFP_ZERO = 8;

/** KMALLOC_MAX_CACHE_SIZE (SLUB: two pages). */
export const KMALLOC_MAX_CACHE_SIZE = 8192;
/** KMALLOC_MAX_SIZE = 1 << (MAX_PAGE_ORDER + PAGE_SHIFT). */
export const KMALLOC_MAX_SIZE = 4 << 20;

/** size, objects per slab, pages per slab (this machine's /proc/slabinfo). */
const GEOMETRY: readonly [number, number, number][] = [
  [8, 512, 1],
  [16, 256, 1],
  [32, 128, 1],
  [64, 64, 1],
  [96, 42, 1],
  [128, 32, 1],
  [192, 21, 1],
  [256, 16, 1],
  [512, 16, 2],
  [1024, 16, 4],
  [2048, 16, 8],
  [4096, 8, 8],
  [8192, 4, 8],
];

const FREE = 0;
const LIVE = 1;

/** One slab: a region of pages cut into equal objects. */
export class SlabPage {
  /** Stack of free object indices. */
  readonly free: Int32Array;
  /** Free objects (slab->objects - slab->inuse), the depth of `free`. */
  nfree: number;
  /** State of each object: free or live (KASAN-like checks). */
  readonly state: Uint8Array;
  /** CPU using it as its per-CPU slab, or -1 (slab->frozen). */
  frozen: number = -1;
  /** On the node's partial list. */
  onPartial = false;

  /** A slab of `cache` over `region`, all objects free. */
  constructor(readonly cache: KmemCache, readonly region: Region) {
    const n = cache.objPerSlab;
    this.free = new Int32Array(n);
    for (let i = 0; i < n; i++) this.free[i] = n - 1 - i; // lowest address first
    this.nfree = n;
    this.state = new Uint8Array(n);
  }
}

/** A kmalloc cache ("kmalloc-64"). */
export class KmemCache {
  /** Cache name as /proc/slabinfo shows it ("kmalloc-64", "kmalloc-1k"). */
  readonly name: string;
  /** Per-CPU slab (kmem_cache_cpu). */
  readonly cpuSlab: (SlabPage | null)[];
  /** Node partial list (one NUMA node). */
  readonly partial: SlabPage[] = [];
  /** kmem_cache_node->list_lock */
  readonly listLock: LockSet;
  /** s->min_partial: empty slabs kept on the partial list before they are discarded. */
  readonly minPartial: number;
  /** Objects allocated now (active_objs). */
  liveObjects = 0;
  /** Highest liveObjects seen. */
  peakObjects = 0;
  /** Slabs the cache holds (num_slabs). */
  slabs = 0;
  /** kmalloc() calls served. */
  allocs = 0;
  /** kfree() calls served. */
  frees = 0;
  /** Allocations that took the slow path (___slab_alloc, list_lock). */
  slowAllocs = 0;
  /** Frees that took the slow path (__slab_free, list_lock). */
  slowFrees = 0;

  /** The cache of `size`-byte objects, `objPerSlab` per slab of `pages` pages (/proc/slabinfo geometry). */
  constructor(k: Kernel, readonly size: number, readonly objPerSlab: number, readonly pages: number) {
    this.name = size >= 1024 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`;
    this.cpuSlab = k.cpus.map(() => null);
    this.listLock = k.slab.newLock(this.name);
    this.minPartial = Math.min(10, Math.max(5, Math.floor(Math.log2(size) / 2)));
  }
}

/** The slab allocator of one kernel. */
export class Slab {
  /** The kmalloc caches created so far, in creation order. */
  readonly caches: KmemCache[] = [];
  private readonly bySize: KmemCache[] = [];
  /** Bytes handed out by kmalloc_large / vmalloc, by address. */
  private readonly big = new Map<number, { region: Region; size: number; vmalloc: boolean }>();
  private lockAddr = 0x1000;
  /** KASAN-like reports made. */
  reports = 0;

  /** The allocator of kernel `k`; caches are created on first use. */
  constructor(private readonly k: Kernel) {}

  /** Creates a lock with its own class (used for each cache's list_lock). */
  newLock(cacheName: string): LockSet {
    const cls = this.k.lockdep.lockClass("&n->list_lock");
    void cacheName;
    return new LockSet(cls, "spinlock_t", 1, 0x8000_0000 + (this.lockAddr += 0x40), 64);
  }

  /** kmalloc_slab(): the kmalloc cache serving `size` (<= 8 KiB), created on first use. */
  private cacheFor(size: number): KmemCache {
    let idx: number;
    if (size <= 8) idx = 0;
    else if (size <= 16) idx = 1;
    else if (size <= 32) idx = 2;
    else if (size <= 64) idx = 3;
    else if (size <= 96) idx = 4;
    else if (size <= 128) idx = 5;
    else if (size <= 192) idx = 6;
    else idx = 7 + Math.max(0, Math.ceil(Math.log2(size)) - 8);
    let c = this.bySize[idx];
    if (!c) {
      const g = GEOMETRY[idx];
      c = new KmemCache(this.k, g[0], g[1], g[2]);
      this.bySize[idx] = c;
      this.caches.push(c);
    }
    return c;
  }

  /** The cache a size maps to (kmalloc_slab), undefined above 8 KiB. */
  cacheName(size: number): string | undefined {
    return size <= KMALLOC_MAX_CACHE_SIZE ? this.cacheFor(size).name : undefined;
  }

  /**
   * kmalloc(size, gfp). Returns an address or 0 (never fails in the
   * simulation unless size is too big). Runs in the caller's context.
   */
  kmalloc(size: number, gfp: number, site = "kmalloc"): number {
    const k = this.k;
    k.point(P_KMALLOC, size);
    const cpu = k.cur;
    if (gfp & GFP_KERNEL) might_sleep(k, "include/linux/sched/mm.h", 337);
    else if (k.config.preemptRt) might_sleep(k, "kernel/locking/spinlock_rt.c", 48); // local_lock
    if (size > KMALLOC_MAX_CACHE_SIZE) return this.kmallocLarge(size, site);
    const c = this.cacheFor(size);
    let s = c.cpuSlab[cpu.id];
    if (s === null || s.nfree === 0) {
      s = this.slowAlloc(c);
      if (s === null) return 0;
    } else {
      cpu.clock += COST.slabFast;
    }
    const idx = s.free[--s.nfree];
    s.state[idx] = LIVE;
    c.liveObjects++;
    c.allocs++;
    if (c.liveObjects > c.peakObjects) c.peakObjects = c.liveObjects;
    const addr = s.region.base + idx * c.size;
    if (gfp & __GFP_ZERO) s.region.u8.fill(0, idx * c.size, (idx + 1) * c.size);
    k.tracepoint(TP_KMALLOC, P_KMALLOC, addr, size, c.size, gfp);
    k.pointRet(P_KMALLOC, size, addr);
    return addr;
  }

  /** kzalloc() */
  kzalloc(size: number, gfp: number, site = "kzalloc"): number {
    return this.kmalloc(size, gfp | __GFP_ZERO, site);
  }

  /** ___slab_alloc(): a new per-CPU slab from the node partial list (under list_lock) or fresh pages; null when out of memory. */
  private slowAlloc(c: KmemCache): SlabPage | null {
    const k = this.k;
    const cpu = k.cur;
    k.point(P_SLAB_ALLOC, c);
    cpu.clock += COST.slabSlow;
    c.slowAllocs++;
    const old = c.cpuSlab[cpu.id];
    if (old) {
      // deactivate_slab(): the exhausted slab is full, on no list
      old.frozen = -1;
      c.cpuSlab[cpu.id] = null;
    }
    const flags = spin_lock_irqsave(k, c.listLock, 0, "___slab_alloc");
    let s: SlabPage | undefined;
    while ((s = c.partial.pop()) !== undefined) {
      s.onPartial = false;
      if (s.nfree > 0) break;
    }
    spin_unlock_irqrestore(k, c.listLock, 0, flags);
    if (!s) {
      cpu.clock += COST.pageAlloc;
      if (!k.mem.fits(c.pages * PAGE_SIZE)) return null;
      const region = k.mem.map(c.pages * PAGE_SIZE, "slab", c.name);
      s = new SlabPage(c, region);
      region.owner = s;
      c.slabs++;
    }
    s.frozen = cpu.id;
    c.cpuSlab[cpu.id] = s;
    return s;
  }

  /** __kmalloc_large_node(): sizes above KMALLOC_MAX_CACHE_SIZE get whole pages (power-of-two order). */
  private kmallocLarge(size: number, _site: string): number {
    const k = this.k;
    if (size > KMALLOC_MAX_SIZE) return 0;
    k.point(P_KMALLOC_LARGE, size);
    k.cur.clock += COST.pageAlloc;
    const pages = Math.ceil(size / PAGE_SIZE);
    const order = Math.ceil(Math.log2(pages));
    if (!k.mem.fits((1 << order) * PAGE_SIZE)) return 0;
    const region = k.mem.map((1 << order) * PAGE_SIZE, "pages", "kmalloc_large");
    this.big.set(region.base, { region, size, vmalloc: false });
    return region.base;
  }

  /** kfree(addr); kfree(0) is a no-op. Reports double and invalid frees. */
  kfree(addr: number, site = "kfree"): void {
    if (addr === 0) return;
    const k = this.k;
    k.point(P_KFREE, addr);
    k.tracepoint(TP_KFREE, P_KFREE, addr);
    this.kfreeBody(addr, site);
    k.pointRet(P_KFREE, addr, 0);
  }

  /** The body of kfree() between its entry and its return (both instrumented). */
  private kfreeBody(addr: number, site: string): void {
    const k = this.k;
    const cpu = k.cur;
    const big = this.big.get(addr);
    if (big && !big.vmalloc) {
      this.big.delete(addr);
      k.mem.unmap(big.region);
      cpu.clock += COST.pageAlloc / 2;
      return;
    }
    const r = k.mem.tryRegion(addr);
    const s = r?.owner instanceof SlabPage ? r.owner : undefined;
    if (!r || !s) {
      this.report("invalid-free", addr, site, "the address is not a kmalloc object");
      return;
    }
    const c = s.cache;
    const off = addr >>> 0;
    const idx = Math.floor(off / c.size);
    if (idx * c.size !== off || idx >= c.objPerSlab) {
      this.report("invalid-free", addr, site, `not the start of a ${c.name} object`);
      return;
    }
    if (s.state[idx] !== LIVE) {
      this.report("double-free", addr, site, `object in ${c.name} is already free`);
      return;
    }
    s.state[idx] = FREE;
    c.liveObjects--;
    c.frees++;
    if (s.frozen === cpu.id) {
      s.free[s.nfree++] = idx;
      cpu.clock += COST.slabFast;
      return;
    }
    if (s.frozen !== -1) {
      // another CPU's slab: lockless cmpxchg onto its freelist
      s.free[s.nfree++] = idx;
      cpu.clock += COST.atomic + COST.remoteMiss;
      return;
    }
    this.slowFree(s, idx);
  }

  /** __slab_free(): a free to a slab no CPU owns, under list_lock; a full slab joins the partial list, an empty one may be discarded. */
  private slowFree(s: SlabPage, idx: number): void {
    const k = this.k;
    const c = s.cache;
    k.point(P_SLAB_FREE, c);
    k.cur.clock += COST.slabSlow;
    c.slowFrees++;
    const flags = spin_lock_irqsave(k, c.listLock, 0, "__slab_free");
    const wasFull = s.nfree === 0;
    s.free[s.nfree++] = idx;
    let discard = false;
    if (wasFull && !s.onPartial) {
      c.partial.push(s);
      s.onPartial = true;
    }
    // !new.inuse && n->nr_partial >= s->min_partial: the emptied slab is on the list and counts
    if (s.nfree === c.objPerSlab && c.partial.length >= c.minPartial) {
      const i = c.partial.indexOf(s);
      if (i >= 0) c.partial.splice(i, 1);
      s.onPartial = false;
      discard = true;
    }
    spin_unlock_irqrestore(k, c.listLock, 0, flags);
    if (discard) {
      k.mem.unmap(s.region);
      c.slabs--;
    }
  }

  /** vmalloc(size): zeroed, page granular. */
  vmalloc(size: number, label = "vmalloc"): number {
    const k = this.k;
    k.point(P_VMALLOC, size);
    might_sleep(k, "mm/vmalloc.c", 3300);
    const bytes = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    if (!k.mem.fits(bytes)) return 0;
    k.cur.clock += COST.pageAlloc * Math.min(64, bytes / PAGE_SIZE);
    const region = k.mem.map(bytes, "vmalloc", label);
    this.big.set(region.base, { region, size, vmalloc: true });
    return region.base;
  }

  /** vfree() */
  vfree(addr: number): void {
    if (addr === 0) return;
    const k = this.k;
    k.point(P_VFREE, addr);
    const big = this.big.get(addr);
    if (!big || !big.vmalloc) {
      this.report("invalid-free", addr, "vfree", "not a vmalloc address");
      return;
    }
    this.big.delete(addr);
    k.mem.unmap(big.region);
  }

  /** kvfree(): kfree or vfree depending on the address. */
  kvfree(addr: number): void {
    const big = this.big.get(addr);
    if (big?.vmalloc) this.vfree(addr);
    else this.kfree(addr);
  }

  /** ksize(): usable size of an object. */
  ksize(addr: number): number {
    const big = this.big.get(addr);
    if (big) return big.region.size;
    const r = this.k.mem.tryRegion(addr);
    return r?.owner instanceof SlabPage ? r.owner.cache.size : 0;
  }

  /**
   * KASAN-style check of an access of `len` bytes at `addr` by `site`.
   * Returns false (and reports) when it touches a freed object.
   */
  check(addr: number, len: number, site: string, write = false): boolean {
    const r = this.k.mem.tryRegion(addr);
    if (!r) {
      this.report("use-after-free", addr, site, `${write ? "write" : "read"} of size ${len} to unmapped memory`);
      return false;
    }
    if (!(r.owner instanceof SlabPage)) return true;
    const s = r.owner;
    const idx = Math.floor((addr >>> 0) / s.cache.size);
    if (s.state[idx] !== LIVE) {
      this.report(
        "slab-use-after-free",
        addr,
        site,
        `${write ? "Write" : "Read"} of size ${len} at addr ${hexAddr(addr)} in freed ${s.cache.name} object`,
      );
      return false;
    }
    return true;
  }

  /** A KASAN-style report to dmesg ("BUG: KASAN: <kind> in <site>") with the context stack. */
  private report(kind: string, addr: number, site: string, detail: string): void {
    const k = this.k;
    const cpu = k.cur;
    this.reports++;
    k.dmesg.log(
      cpu.clock,
      cpu.id,
      "err",
      "kasan",
      [
        "==================================================================",
        `BUG: KASAN: ${kind} in ${site}`,
        `${detail} (address ${hexAddr(addr)})`,
        "",
        `CPU: ${cpu.id} PID: ${cpu.task()?.pid ?? 0} Comm: ${cpu.task()?.name ?? "swapper"} ${k.release}`,
        ...cpu.backtrace(),
        "==================================================================",
      ].join("\n"),
    );
  }

  /** Bytes of live kmalloc objects (object size x count) plus large allocations. */
  objectBytes(): number {
    let n = 0;
    for (const c of this.caches) n += c.liveObjects * c.size;
    for (const b of this.big.values()) if (!b.vmalloc) n += b.region.size;
    return n;
  }

  /** /proc/slabinfo-like rows. */
  info(): { name: string; active: number; total: number; size: number; objPerSlab: number; pages: number }[] {
    return this.caches.map((c) => ({
      name: c.name,
      active: c.liveObjects,
      total: c.slabs * c.objPerSlab,
      size: c.size,
      objPerSlab: c.objPerSlab,
      pages: c.pages,
    }));
  }
}

snapshotClasses(Slab, KmemCache, SlabPage);
