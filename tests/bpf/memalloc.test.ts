// bpf_mem_alloc on its own (kernel/bpf/memalloc.c): size classes,
// watermarks by release, the hidden header, per-CPU value holders, the
// `active` re-entry guard, refill and trim through irq_work, the RCU
// stages, destroy, and the allocator's invariants under random operation
// sequences in every context.

import fc from "fast-check";
import { assertEquals, assertTrue } from "../assert.ts";
import { liveBytes } from "../helpers.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import type { CtxKind } from "../../lib/kernel/cpu.ts";
import { GFP_KERNEL } from "../../lib/kernel/slab.ts";
import { local_irq_restore, local_irq_save } from "../../lib/kernel/context.ts";
import { bpf_mem_cache_idx, BPF_MEM_SIZES, BpfMemAlloc, LLIST_NODE_SZ, NUM_CACHES } from "../../lib/bpf/memalloc.ts";
import { freeCtxOf } from "../../lib/bpf/memalloc_rfc.ts";
import { checkInvariants, inContext, lists, walk } from "./memalloc_helpers.ts";

/** A kernel and an allocator initialised for `size` (0: size classes) from CPU 0's task context. */
function setup(
  opts: { profile?: string; rt?: boolean; cpus?: number; flavour?: BpfMemAlloc["flavour"] },
  size: number,
  percpu = false,
) {
  const k = new Kernel({ cpus: opts.cpus ?? 2, profile: opts.profile ?? "v6.18", preemptRt: opts.rt ?? false });
  const base = liveBytes(k);
  const ma = new BpfMemAlloc(k, opts.flavour ?? "bpf_ma");
  assertEquals(k.exec(0, () => ma.init(size, percpu)), 0);
  return { k, ma, base };
}

/** Destroys the allocator from a worker, runs the kernel idle, checks every byte is back. */
function destroyAndCheck(k: Kernel, ma: BpfMemAlloc, base: number): void {
  k.queueStep(0, () => ma.destroy(), { comm: "kworker/u:0" });
  k.quiesce();
  assertEquals(ma.area, 0, "the per-CPU caches were freed");
  assertEquals(ma.objects, 0, "every object went back to slab");
  assertEquals(liveBytes(k), base, `kernel memory back to its baseline: ${JSON.stringify(k.memoryUsage())}`);
}

Deno.test("memalloc: size classes (header included) as bpf_mem_cache_idx() maps them", () => {
  const cls = (size: number) => {
    const i = bpf_mem_cache_idx(size);
    return i < 0 ? -1 : BPF_MEM_SIZES[i];
  };
  const want: [number, number][] = [
    [0, -1],
    [1, 16],
    [16, 16],
    [17, 32],
    [33, 64],
    [64, 64],
    [65, 96],
    [96, 96],
    [97, 128],
    [129, 192],
    [192, 192],
    [193, 256],
    [257, 512],
    [513, 1024],
    [2049, 4096],
    [4096, 4096],
    [4097, -1],
  ];
  for (const [size, c] of want) assertEquals(cls(size), c, `size ${size}`);
  assertEquals(BPF_MEM_SIZES.length, NUM_CACHES);
});

Deno.test("memalloc: watermarks, batch and prefill by unit size and release", () => {
  const { k, ma, base } = setup({}, 0);
  const want: Record<number, [number, number, number, number]> = {
    16: [32, 96, 48, 4],
    96: [32, 96, 48, 4],
    256: [32, 96, 48, 4],
    512: [16, 48, 24, 1],
    1024: [8, 24, 12, 1],
    2048: [4, 12, 6, 1],
    4096: [2, 6, 3, 1],
  };
  for (const c of ma.allCaches()) {
    const w = want[c.unitSize];
    if (!w) continue;
    assertEquals([c.lowWatermark, c.highWatermark, c.batch, c.freeCnt], w, `unit ${c.unitSize}`);
  }
  destroyAndCheck(k, ma, base);
  // a per-CPU value cache: 1/3/1 and a prefill of 1 from 6.8; 6.1 treats it like any small unit
  for (const [profile, marks] of [["v6.18", [1, 3, 1, 1]], ["v6.1", [32, 96, 48, 4]]] as const) {
    const s = setup({ profile }, 8, true);
    const c = s.ma.cache![1];
    assertEquals([c.lowWatermark, c.highWatermark, c.batch, c.freeCnt], [...marks], profile);
    destroyAndCheck(s.k, s.ma, s.base);
  }
  // a fixed-size cache of hash elements: elem_size + 8
  const h = setup({}, 64);
  assertEquals(h.ma.cache![0].unitSize, 72);
  assertEquals([h.ma.cache![0].lowWatermark, h.ma.cache![0].highWatermark], [32, 96]);
  destroyAndCheck(h.k, h.ma, h.base);
});

Deno.test("memalloc: the hidden header names the cache while allocated and links the list while free", () => {
  const { k, ma, base } = setup({}, 56);
  const p = k.exec(1, () => ma.cacheAlloc()) as number;
  assertTrue(p !== 0);
  assertEquals(k.mem.readPtr(p - LLIST_NODE_SZ), ma.cache![1].addr, "owner cache of CPU 1");
  assertTrue(ma.isAllocated(p));
  k.exec(1, () => ma.cacheFree(p));
  assertTrue(!ma.isAllocated(p), "a free object's header is an llist link");
  assertEquals(ma.cache![1].freeLlist, p - LLIST_NODE_SZ, "freed onto this CPU's free_llist, at its head");
  // immediate reuse: the next allocation on that CPU gets it back
  assertEquals(k.exec(1, () => ma.cacheAlloc()), p);
  k.exec(1, () => ma.cacheFree(p));
  destroyAndCheck(k, ma, base);
});

Deno.test("memalloc: a per-CPU value is a 16-byte holder whose second word is a zeroed __percpu area", () => {
  const { k, ma, base } = setup({ cpus: 4 }, 24, true);
  const p = k.exec(2, () => ma.cacheAlloc()) as number;
  const pptr = k.mem.readPtr(p);
  assertEquals(k.slab.ksize(p - LLIST_NODE_SZ), 16);
  for (let cpu = 0; cpu < 4; cpu++) {
    assertEquals([...k.mem.bytes(k.percpu.ptr(pptr, cpu), 24)], new Array(24).fill(0), `cpu ${cpu}`);
  }
  k.exec(2, () => ma.cacheFree(p));
  destroyAndCheck(k, ma, base);
});

Deno.test("memalloc: size-class mode allocates from the class of size + 8 and frees by the owner in the header", () => {
  const { k, ma, base } = setup({}, 0);
  for (const size of [1, 8, 56, 88, 100, 184, 200, 1000, 4088]) {
    const p = k.exec(0, () => ma.alloc(size)) as number;
    assertTrue(p !== 0, `size ${size}`);
    const want = BPF_MEM_SIZES[bpf_mem_cache_idx(size + 8)];
    assertEquals(k.slab.ksize(p - 8), want, `size ${size}`);
    k.exec(1, () => ma.free(p));
    assertEquals(ma.caches![1 * NUM_CACHES + bpf_mem_cache_idx(size + 8)].freeLlist, p - 8, "freed on CPU 1");
  }
  assertEquals(k.exec(0, () => ma.alloc(4089)), 0, "too big");
  assertEquals(k.exec(0, () => ma.alloc(0)), 0);
  destroyAndCheck(k, ma, base);
});

Deno.test("memalloc: an NMI inside unit_alloc() finds `active` held: its alloc fails, its free goes to free_llist_extra", () => {
  const { k, ma, base } = setup({}, 56);
  const spare = k.exec(0, () => ma.cacheAlloc()) as number;
  let inNmi = -1;
  let nested = -1;
  const kp = k.kprobes.register("unit_alloc", () => {
    if (nested >= 0) return;
    nested = 0;
    // due a moment later: it lands between local_inc_return(&c->active) and local_dec()
    k.raiseNmi(0, k.cur.clock + 1, "perf", () => {
      inNmi = ma.cacheAlloc();
      ma.cacheFree(spare);
    });
  });
  const got = k.exec(0, () => ma.cacheAlloc()) as number;
  k.kprobes.unregister(kp!);
  assertTrue(got !== 0, "the interrupted allocation itself succeeds");
  assertEquals(inNmi, 0, "the NMI's allocation failed although objects were there");
  const c = ma.cache![0];
  assertEquals(c.extraCnt, 1);
  assertEquals(c.freeLlistExtra, spare - 8);
  assertTrue(c.allocFails >= 1);
  checkInvariants(k, ma, [got], "after the NMI");
  k.exec(0, () => ma.cacheFree(got));
  destroyAndCheck(k, ma, base);
});

Deno.test("memalloc: frees above the high watermark are trimmed to (high + low) / 2 and reach slab after a tasks-trace GP", () => {
  for (const profile of ["v6.1", "v6.18"]) {
    const { k, ma, base } = setup({ profile }, 56);
    const c = ma.cache![0];
    const held: number[] = [];
    k.exec(0, () => {
      for (let i = 0; i < 150; i++) held.push(ma.cacheAlloc());
    });
    assertEquals(held.filter((p) => p === 0).length, 0, `${profile}: refills kept up`);
    const slabFrees = ma.slabFrees;
    const t0 = k.cpus[0].clock;
    k.exec(0, () => {
      for (const p of held) ma.cacheFree(p);
    });
    // the trim runs in the irq_work (hardirq) as soon as interrupts are on
    // (6.7+: already inside unit_free(); before, at the next interrupt window)
    k.run({ until: k.now() + 10_000 });
    assertTrue(c.trims >= 1, `${profile}: trimmed`);
    assertTrue(c.freeCnt <= c.highWatermark, `${profile}: free_cnt ${c.freeCnt}`);
    assertEquals(ma.slabFrees, slabFrees, `${profile}: nothing back in slab before the grace period`);
    checkInvariants(k, ma, [], profile);
    let at = -1;
    const kp = k.kprobes.register("__free_rcu", () => {
      if (at < 0) at = k.cur.clock;
    });
    k.quiesce();
    k.kprobes.unregister(kp!);
    assertTrue(ma.slabFrees > slabFrees, `${profile}: trimmed objects went back to slab`);
    assertTrue(at - t0 >= k.config.rcuTasksTraceGpNs, `${profile}: only after the tasks-trace grace period`);
    destroyAndCheck(k, ma, base);
  }
});

Deno.test("memalloc: 6.1 chains a normal RCU GP after the tasks-trace one; 6.2+ knows the tasks-trace GP implies it", () => {
  const freeTime: Record<string, number> = {};
  for (const profile of ["v6.1", "v6.18"]) {
    const k = new Kernel({ cpus: 1, profile, rcuGpNs: 5_000_000, rcuTasksTraceGpNs: 10_000_000 });
    const ma = new BpfMemAlloc(k);
    k.exec(0, () => ma.init(56, false));
    const held = k.exec(0, () => Array.from({ length: 120 }, () => ma.cacheAlloc())) as number[];
    const slabFrees = ma.slabFrees;
    const start = k.now();
    k.exec(0, () => held.forEach((p) => ma.cacheFree(p)));
    k.kprobes.register("__free_rcu", () => (freeTime[profile] ??= k.cur.clock - start));
    k.quiesce();
    assertTrue(ma.slabFrees > slabFrees);
    k.exec(0, () => ma.destroy());
    k.quiesce();
  }
  assertTrue(freeTime["v6.18"] >= 10_000_000 && freeTime["v6.18"] < 15_000_000, `6.18: ${freeTime["v6.18"]}`);
  assertTrue(freeTime["v6.1"] >= 15_000_000, `6.1: ${freeTime["v6.1"]}`);
});

Deno.test("memalloc: _rcu frees pass free_by_rcu, waiting_for_gp and the tasks-trace stage; not reused before the GP (6.5+)", () => {
  const { k, ma, base } = setup({}, 56);
  const c = ma.cache![0];
  const p = k.exec(0, () => ma.cacheAlloc()) as number;
  // with interrupts off the refill work cannot run yet: free_by_rcu is visible first
  k.exec(0, () => {
    const flags = local_irq_save(k);
    ma.cacheFreeRcu(p);
    assertEquals(c.freeByRcuCnt, 1, "on free_by_rcu");
    local_irq_restore(k, flags);
  });
  // the irq_work ran check_free_by_rcu(): the object waits for the RCU GP
  assertEquals(c.waitingForGpCnt, 1);
  assertTrue(c.callRcuInProgress);
  const again = k.exec(0, () => ma.cacheAlloc()) as number;
  assertTrue(again !== p, "not reusable inside the grace period");
  k.exec(0, () => ma.cacheFree(again));
  checkInvariants(k, ma, [], "in the RCU GP");
  // after the normal GP it joins the tasks-trace stage, then slab (or a refill picks it up)
  k.run({ until: k.now() + k.config.rcuGpNs + 1_000_000 });
  assertEquals(c.waitingForGpCnt, 0);
  assertTrue(!c.callRcuInProgress);
  checkInvariants(k, ma, [], "after the RCU GP");
  destroyAndCheck(k, ma, base);
});

Deno.test("memalloc: alloc_bulk() recycles objects waiting for the tasks-trace GP from 6.5, not in 6.1", () => {
  for (const [profile, recycles] of [["v6.1", false], ["v6.18", true]] as const) {
    const { k, ma, base } = setup({ profile, cpus: 2 }, 56);
    const c1 = ma.cache![1];
    // CPU 0 allocates, CPU 1 frees: CPU 1 trims into the tasks-trace stage
    const held = k.exec(0, () => Array.from({ length: 200 }, () => ma.cacheAlloc())) as number[];
    k.exec(1, () => held.forEach((p) => ma.cacheFree(p)));
    const staged = ma.allCaches().reduce((n, c) => n + c.waitingForGpTtraceCnt + c.freeByRcuTtraceCnt, 0);
    assertTrue(staged > 0, `${profile}: objects on their way to slab`);
    // 6.5+: they went to the owner's (CPU 0's) stage (the tgt hint), 6.1: to CPU 1's own
    const owner = ma.cache![0].waitingForGpTtraceCnt + ma.cache![0].freeByRcuTtraceCnt;
    assertEquals(owner > 0, recycles, `${profile}: staged on the allocating CPU`);
    assertEquals(c1.waitingForGpTtraceCnt + c1.freeByRcuTtraceCnt > 0, !recycles, `${profile}: on the freeing CPU`);
    const allocs = ma.slabAllocs;
    const more = k.exec(0, () => Array.from({ length: 100 }, () => ma.cacheAlloc())) as number[];
    assertEquals(ma.slabAllocs === allocs, recycles, `${profile}: refills without kmalloc`);
    k.exec(0, () => more.forEach((p) => ma.cacheFree(p)));
    destroyAndCheck(k, ma, base);
  }
});

Deno.test("memalloc: GFP_KERNEL callers fall back to kmalloc when the cache is empty", () => {
  const { k, ma, base } = setup({}, 56);
  const held: number[] = [];
  // an NMI takes the prefill, and nothing refills inside it
  k.exec(0, () => {
    inContext(k, 0, "nmi", () => {
      for (let i = 0; i < 4; i++) held.push(ma.cacheAlloc());
      assertEquals(ma.cacheAlloc(), 0, "empty");
      const allocs = ma.slabAllocs;
      // (an NMI may not sleep; this only checks the fallback's bookkeeping)
      const p = ma.cacheAllocFlags(0);
      assertEquals(p, 0, "without GFP_KERNEL no fallback");
      assertEquals(ma.slabAllocs, allocs);
    });
  });
  const p = k.exec(0, () => ma.cacheAllocFlags(GFP_KERNEL)) as number;
  assertTrue(p !== 0 && ma.isAllocated(p));
  held.push(p);
  checkInvariants(k, ma, held, "fallback");
  k.exec(0, () => held.forEach((x) => ma.cacheFree(x)));
  destroyAndCheck(k, ma, base);
});

Deno.test("memalloc: destroy with callbacks in flight defers the barriers to a worker; every object returns to slab", () => {
  for (const flavour of ["bpf_ma", "reuse_after_rcu_gp", "free_after_rcu_gp"] as const) {
    const { k, ma, base } = setup({ flavour }, 56);
    const held = k.exec(0, () => Array.from({ length: 300 }, () => ma.cacheAlloc())) as number[];
    k.exec(0, () => held.forEach((p) => ma.cacheFree(p)));
    let deferred = false;
    const kp = k.kprobes.register("free_mem_alloc", () => (deferred = true));
    destroyAndCheck(k, ma, base);
    k.kprobes.unregister(kp!);
    if (flavour !== "free_after_rcu_gp") assertTrue(deferred, `${flavour}: barriers in a worker`);
  }
});

/** One step of a random sequence. */
type Cmd =
  | { op: "alloc"; cpu: number; ctx: CtxKind }
  | { op: "free"; cpu: number; ctx: CtxKind; pick: number; rcu: boolean }
  | { op: "run"; ns: number };

const CTXS: CtxKind[] = ["task", "softirq", "hardirq", "nmi"];

const cmdArb = (ncpu: number) =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({ op: fc.constant("alloc" as const), cpu: fc.nat(ncpu - 1), ctx: fc.constantFrom(...CTXS) }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant("free" as const),
        cpu: fc.nat(ncpu - 1),
        ctx: fc.constantFrom(...CTXS),
        pick: fc.nat(),
        rcu: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant("run" as const), ns: fc.integer({ min: 1000, max: 30_000_000 }) }),
    },
  );

Deno.test("memalloc: random operation sequences keep the invariants; destroy returns everything to slab", () => {
  const configs = [
    { profile: "v6.18", rt: false, flavour: "bpf_ma" },
    { profile: "v6.18", rt: true, flavour: "bpf_ma" },
    { profile: "v6.1", rt: false, flavour: "bpf_ma" },
    { profile: "v6.1", rt: false, flavour: "reuse_after_rcu_gp" },
    { profile: "v6.18", rt: true, flavour: "free_after_rcu_gp" },
  ] as const;
  for (const cfg of configs) {
    fc.assert(
      fc.property(fc.array(cmdArb(2), { minLength: 1, maxLength: 120 }), fc.boolean(), (cmds, percpu) => {
        const { k, ma, base } = setup(cfg, percpu ? 16 : 40, percpu);
        const held: number[] = [];
        const v61 = cfg.profile === "v6.1";
        for (const c of cmds) {
          if (c.op === "alloc") {
            // bursts, so that caches run dry and refill
            for (let i = 0; i < 20; i++) {
              const p = inContext(k, c.cpu, c.ctx, () => ma.cacheAlloc());
              if (p !== 0) held.push(p);
            }
          } else if (c.op === "free" && held.length) {
            const n = 1 + (c.pick % Math.min(held.length, 40));
            const ps = held.splice(c.pick % held.length, n);
            inContext(k, c.cpu, c.ctx, () => {
              for (const p of ps) c.rcu && !v61 ? ma.cacheFreeRcu(p) : ma.cacheFree(p);
            });
          } else if (c.op === "run") {
            k.run({ until: k.now() + c.ns });
          }
          const ctx = cfg.flavour === "free_after_rcu_gp" ? freeCtxOf(k) : [];
          const away = ctx.reduce((n, x) => n + x.held(), 0);
          checkInvariants(k, ma, held, `${JSON.stringify(cfg)} after ${JSON.stringify(c)}`);
          assertTrue(away >= 0);
        }
        k.exec(0, () => held.forEach((p) => ma.cacheFree(p)));
        destroyAndCheck(k, ma, base);
        assertEquals(k.dmesg.ofKind("warn").length, 0, k.dmesg.text());
        assertEquals(k.dmesg.ofKind("might_sleep").length, 0, k.dmesg.text());
      }),
      { seed: 8, numRuns: 12 },
    );
  }
});

Deno.test("memalloc: every list is an llist through the objects' headers (walk agrees with the counts)", () => {
  const { k, ma, base } = setup({}, 56);
  const held = k.exec(0, () => Array.from({ length: 130 }, () => ma.cacheAlloc())) as number[];
  k.exec(0, () => held.forEach((p) => ma.cacheFree(p)));
  for (const c of ma.allCaches()) {
    for (const [name, first, cnt] of lists(c)) assertEquals(walk(k, first).length, cnt, name);
  }
  destroyAndCheck(k, ma, base);
});
