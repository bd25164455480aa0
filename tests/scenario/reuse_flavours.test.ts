// Scenario reuse-flavours: seed 003's comparison of the memalloc flavours
// under the htab-mem use cases, on short runs (the shapes, not the numbers).

import { assertEquals, assertTrue } from "../assert.ts";
import { runFlavourCase } from "../../lib/scenario/reuse_flavours.ts";
import type { MemallocFlavour } from "../../lib/kernel/config.ts";

const MS = 1_000_000;

Deno.test("reuse-flavours: a kept pointer meets another key only with immediate reuse (bpf_ma overwrite)", () => {
  const rcu: MemallocFlavour[] = ["kmalloc", "reuse_after_rcu_gp", "free_after_rcu_gp", "call_rcu_free"];
  const ma = runFlavourCase("bpf_ma", "overwrite", { durationNs: 3 * MS });
  assertTrue(ma.reads > 0 && ma.reuseHits === ma.reads, `bpf_ma: ${ma.reuseHits}/${ma.reads}`);
  for (const f of rcu) {
    const r = runFlavourCase(f, "overwrite", { durationNs: 3 * MS });
    assertTrue(r.reads > 0, f);
    assertEquals(r.reuseHits, 0, `${f}: no use-after-reuse while the reader holds RCU`);
  }
  // deletes on another CPU are not reused by the adder's cache: none there either
  assertEquals(runFlavourCase("bpf_ma", "add_del_on_diff_cpu", { durationNs: 3 * MS }).reuseHits, 0);
});

Deno.test("reuse-flavours: immediate reuse keeps memory flat under churn; free-after-GP grows with the grace period", () => {
  const ma = runFlavourCase("bpf_ma", "overwrite", { durationNs: 10 * MS });
  const free = runFlavourCase("free_after_rcu_gp", "overwrite", { durationNs: 10 * MS });
  const reuse = runFlavourCase("reuse_after_rcu_gp", "overwrite", { durationNs: 10 * MS });
  assertTrue(ma.peakMiB < 0.5, `bpf_ma peak ${ma.peakMiB}`);
  assertTrue(free.avgMiB > 10 * ma.avgMiB, `free_after ${free.avgMiB} vs bpf_ma ${ma.avgMiB}`);
  assertTrue(reuse.avgMiB > 10 * ma.avgMiB, `reuse_after ${reuse.avgMiB} vs bpf_ma ${ma.avgMiB}`);
  // and immediate reuse is the fastest: no kmalloc, no callbacks
  assertTrue(ma.loopsK > free.loopsK && ma.loopsK > reuse.loopsK, `${ma.loopsK} ${free.loopsK} ${reuse.loopsK}`);
});

Deno.test("reuse-flavours: bpf_ma's add_del_on_diff_cpu grows on 6.1 and stays flat since 6.5 (frees return to the owner's cache)", () => {
  const old = runFlavourCase("bpf_ma", "add_del_on_diff_cpu", { durationNs: 10 * MS, profile: "v6.1" });
  const now = runFlavourCase("bpf_ma", "add_del_on_diff_cpu", { durationNs: 10 * MS, profile: "v6.18" });
  assertTrue(old.peakMiB > 5 * now.peakMiB, `6.1 ${old.peakMiB} vs 6.18 ${now.peakMiB}`);
});

Deno.test("reuse-flavours: the no_op baseline is the same for every flavour", () => {
  const a = runFlavourCase("kmalloc", "no_op", { durationNs: MS });
  const b = runFlavourCase("reuse_after_rcu_gp", "no_op", { durationNs: MS });
  assertTrue(Math.abs(a.loopsK - b.loopsK) / a.loopsK < 0.01, `${a.loopsK} vs ${b.loopsK}`);
  assertEquals([a.reads, a.reuseHits], [0, 0]);
});
