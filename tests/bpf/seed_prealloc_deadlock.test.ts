// Seed 000 (bpf: pre-allocate hash map elements, 4.6): with a kprobe on
// spin_unlock, kfree -> spin_lock(n->list_lock) ... spin_unlock -> kprobe ->
// bpf prog -> map_update -> kmalloc -> spin_lock(same list_lock) deadlocks.
// Preallocation removes the kmalloc from the program path.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { GFP_KERNEL } from "../../lib/kernel/slab.ts";
import { u32, u64 } from "../helpers.ts";
import type { BpfMap } from "../../lib/bpf/map.ts";

/** Drives the chain of the commit message on a kernel of `profile`. */
function scenario(profile: string) {
  const k = new Kernel({ cpus: 2, profile, seed: 1 });
  // hash k4/v8 elements are 64 bytes: kmalloc-64, the same cache we churn
  const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 1024, name: "counts" });
  assertTrue(fd > 0, `create failed: ${fd}`);
  const map = k.sys.mapOf(fd) as BpfMap;
  const cache = () => k.slab.caches.find((c) => c.name === "kmalloc-64")!;
  let runs = 0;
  let seq = 0;
  const result = k.exec(0, () => {
    // fill two slabs so that the first one is full and not the CPU's slab
    const objs: number[] = [];
    while (!cache() || cache().slabs < 2 || cache().cpuSlab[0]!.nfree !== 0) {
      objs.push(k.slab.kmalloc(64, GFP_KERNEL));
    }
    // the "BPF program": a kprobe on spin_unlock updating the map
    k.kprobes.register("_raw_spin_unlock_irqrestore", (_id, lock) => {
      if (lock !== cache().listLock) return;
      runs++;
      map.updateElem(u32(seq++), u64(1), 0);
    });
    // kfree of an object in the older, full slab takes the slow path under list_lock
    k.slab.kfree(objs[0]);
    return "returned";
  }, { comm: "kworker" });
  return { k, runs, result };
}

Deno.test("seed 000: v4.5 kmalloc'ing hash map under a kprobe on spin_unlock deadlocks the CPU", () => {
  const { k, runs, result } = scenario("v4.5");
  assertEquals(runs, 1);
  assertEquals(typeof result, "symbol"); // the call never returned
  assertEquals(k.stuckCpus(), [0]);
  const text = k.dmesg.text();
  assertIncludes(text, "WARNING: possible recursive locking detected");
  assertIncludes(text, "(&n->list_lock)");
  assertIncludes(text, "at: ___slab_alloc");
  assertIncludes(text, "at: __slab_free");
  assertIncludes(text, "soft lockup - CPU#0 stuck");
  assertIncludes(text, "kprobe  _raw_spin_unlock_irqrestore");
  // the other CPU keeps running
  assertEquals(k.exec(1, () => "alive"), "alive");
});

Deno.test("seed 000: v4.6 preallocated hash map survives the same kprobe", () => {
  const { k, runs, result } = scenario("v4.6");
  assertEquals(runs, 1);
  assertEquals(result, "returned");
  assertEquals(k.stuckCpus(), []);
  assertEquals(k.dmesg.ofKind("lockdep").length, 0);
});
