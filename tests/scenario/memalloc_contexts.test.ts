// Scenario memalloc-contexts: seed 002's table of what bpf_mem_alloc gives
// a program in each context, RT off and on, from the mechanism.

import { assertEquals, assertTrue } from "../assert.ts";
import { CONTEXTS, runContextRow } from "../../lib/scenario/memalloc_contexts.ts";
import { findScenario } from "../../lib/scenario/all.ts";

Deno.test("memalloc-contexts: !RT task and softirq refill through the irq_work IPI inside the burst: no -ENOMEM", () => {
  for (const ctx of ["task", "softirq"] as const) {
    const r = runContextRow(ctx, false);
    assertEquals([r.ok, r.enomem], [64, 0], ctx);
    assertTrue(r.refillsDuring >= 1, `${ctx}: refilled during the burst`);
    assertEquals(r.refillIn, "hardirq (irq_work IPI), during the burst", ctx);
  }
});

Deno.test("memalloc-contexts: !RT hardirq and NMI get -ENOMEM once the prefill is gone; the refill runs after the handler", () => {
  for (const ctx of ["hardirq", "nmi"] as const) {
    const r = runContextRow(ctx, false);
    assertEquals([r.attempts, r.ok, r.enomem], [64, 4, 60], ctx);
    assertEquals(r.refillsDuring, 0, ctx);
    assertEquals(r.refills, 1, ctx);
    assertEquals(r.refillIn, "hardirq (irq_work IPI), after it", ctx);
  }
});

Deno.test("memalloc-contexts: RT refills in the irq_work kthread, which every busy context here starves: -ENOMEM from all four", () => {
  for (const ctx of CONTEXTS) {
    const r = runContextRow(ctx, true);
    assertEquals([r.ok, r.enomem], [4, 60], ctx);
    assertEquals(r.refillsDuring, 0, ctx);
    assertEquals(r.refillIn, "irq_work/0 kthread, after it", ctx);
  }
});

Deno.test("memalloc-contexts: -j gives one object per context and RT setting with the named fields", () => {
  const rep = findScenario("memalloc-contexts")!.run({});
  const rows = rep.data as Record<string, unknown>[];
  assertEquals(rows.length, 8);
  assertEquals(rows.map((r) => `${r.context}/${r.rt}`), [
    "task/false",
    "softirq/false",
    "hardirq/false",
    "nmi/false",
    "task/true",
    "softirq/true",
    "hardirq/true",
    "nmi/true",
  ]);
  for (const r of rows) {
    for (const f of ["attempts", "ok", "enomem", "refills"]) assertEquals(typeof r[f], "number", f);
    assertEquals((r.ok as number) + (r.enomem as number), r.attempts);
  }
  assertTrue(rep.text.some((l) => l.startsWith("context")));
});

Deno.test("memalloc-contexts: on RT a SCHED_OTHER task is preempted by the irq_work kthread, which refills in time", () => {
  const r = runContextRow("task", true, 1, 64, 0);
  assertEquals([r.ok, r.enomem], [64, 0]);
  assertEquals(r.refillIn, "irq_work/0 kthread, during the burst");
});
