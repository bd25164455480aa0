// Helpers for the bpf_mem_alloc tests: running allocator calls in a chosen
// context of a CPU, and the invariant walk over every cache list.

import { assertEquals, assertTrue } from "../assert.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { runHardirq, runNmi } from "../../lib/kernel/context.ts";
import type { CtxKind } from "../../lib/kernel/cpu.ts";
import { NET_RX_SOFTIRQ } from "../../lib/kernel/softirq.ts";
import { type BpfMemAlloc, type BpfMemCache, LLIST_NODE_SZ } from "../../lib/bpf/memalloc.ts";
import { SlabPage } from "../../lib/kernel/slab.ts";

/**
 * Runs `fn` on CPU `cpu` in context `ctx` (a task, a softirq raised by it, a
 * hardirq or an NMI interrupting it) and returns its result.
 */
export function inContext<T>(k: Kernel, cpu: number, ctx: CtxKind, fn: () => T): T {
  let out: T | undefined;
  const r = k.exec(cpu, () => {
    const c = k.cur;
    switch (ctx) {
      case "task":
        out = fn();
        break;
      case "softirq":
        // as do_softirq() / ksoftirqd (threaded on RT) would run it
        k.softirq.raise(c, NET_RX_SOFTIRQ, () => (out = fn()));
        k.softirq.run(c, k.config.preemptRt);
        break;
      case "hardirq":
        runHardirq(k, c, "test", () => (out = fn()));
        break;
      case "nmi":
        runNmi(c, "test", () => (out = fn()));
        break;
    }
    return out;
  });
  return r as T;
}

/** The objects on an llist starting at `first`. */
export function walk(k: Kernel, first: number): number[] {
  const out: number[] = [];
  for (let p = first; p !== 0; p = k.mem.readPtr(p)) {
    out.push(p);
    if (out.length > 1e6) throw new Error("llist cycle");
  }
  return out;
}

/** Every list of a cache with its recorded count. */
export function lists(c: BpfMemCache): [string, number, number][] {
  return [
    ["free_llist", c.freeLlist, c.freeCnt],
    ["free_llist_extra", c.freeLlistExtra, c.extraCnt],
    ["free_by_rcu", c.freeByRcu, c.freeByRcuCnt],
    ["waiting_for_gp", c.waitingForGp, c.waitingForGpCnt],
    ["free_llist_extra_rcu", c.freeLlistExtraRcu, c.extraRcuCnt],
    ["free_by_rcu_ttrace", c.freeByRcuTtrace, c.freeByRcuTtraceCnt],
    ["waiting_for_gp_ttrace", c.waitingForGpTtrace, c.waitingForGpTtraceCnt],
    ["prepare_reuse", c.prepareReuse, c.prepareReuseObjs],
    ["reuse_ready", c.reuseReady, c.reuseReadyCnt],
    ["wait_for_free", c.waitForFree, c.waitForFreeCnt],
  ];
}

/** True when the slab object at `addr` is allocated. */
export function slabLive(k: Kernel, addr: number): boolean {
  const r = k.mem.tryRegion(addr);
  if (!r || !(r.owner instanceof SlabPage)) return false;
  return r.owner.state[Math.floor((addr >>> 0) / r.owner.cache.size)] === 1;
}

/**
 * The allocator's invariants: no object on two lists (or on a list and
 * handed out), every count equal to its list's length, every listed object
 * a live slab object, and objects = handed out + listed (+ in RCU batches).
 * `inUse` are the pointers the test holds.
 */
export function checkInvariants(k: Kernel, ma: BpfMemAlloc, inUse: Iterable<number>, what = ""): void {
  const seen = new Map<number, string>();
  let handed = 0;
  for (const p of inUse) {
    const obj = p - LLIST_NODE_SZ;
    assertTrue(!seen.has(obj), `${what}: pointer held twice`);
    seen.set(obj, "in use");
    assertTrue(ma.isAllocated(p), `${what}: a held object's header does not name its cache`);
    handed++;
  }
  let listed = 0;
  let inFlight = 0;
  for (const c of ma.allCaches()) {
    assertEquals(c.active, 0, `${what}: active left raised on cpu ${c.cpu}`);
    inFlight += c.reuseInFlight;
    for (const [name, first, cnt] of lists(c)) {
      const objs = walk(k, first);
      assertEquals(objs.length, cnt, `${what}: cpu ${c.cpu} ${name} count`);
      for (const o of objs) {
        assertTrue(!seen.has(o), `${what}: object on ${name} is also ${seen.get(o)}`);
        seen.set(o, `on cpu ${c.cpu} ${name}`);
        assertTrue(slabLive(k, o), `${what}: object on ${name} is not a live slab object`);
      }
      listed += objs.length;
    }
  }
  assertEquals(ma.objects, handed + listed + inFlight, `${what}: objects = handed out + cached`);
}
