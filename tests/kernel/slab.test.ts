// mm/slub.c as simulated in lib/kernel/slab.ts: what happens to slabs on
// the node partial list when their last object is freed.

import { assertEquals, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { GFP_KERNEL, type KmemCache, SlabPage } from "../../lib/kernel/slab.ts";

Deno.test("slab: an emptied slab is discarded once the node has min_partial partial slabs (nr_partial >= min_partial)", () => {
  const k = new Kernel({ cpus: 1 });
  assertTrue(k.slab.caches.every((c) => c.size !== 2048), "kmalloc-2k unused at boot");
  const objs: number[] = [];
  k.exec(0, () => {
    // 5 slabs of 16 filled (each deactivated full when the next is taken), one object in a 6th
    for (let i = 0; i < 5 * 16 + 1; i++) objs.push(k.slab.kmalloc(2048, GFP_KERNEL));
  });
  const c = k.slab.caches.find((x) => x.size === 2048) as KmemCache;
  const slabOf = (a: number) => k.mem.region(a).owner as SlabPage;
  assertEquals([c.objPerSlab, c.minPartial, c.slabs], [16, 5, 6]);
  k.exec(0, () => {
    // one free in each full slab puts it on the node partial list
    for (let s = 0; s < 5; s++) k.slab.kfree(objs[16 * s]);
  });
  assertEquals(c.partial.length, 5);
  const first = slabOf(objs[1]);
  k.exec(0, () => {
    for (let i = 1; i < 16; i++) k.slab.kfree(objs[i]);
  });
  // __slab_free(): !new.inuse && n->nr_partial >= s->min_partial -> slab_empty
  assertEquals(first.nfree, 16);
  assertEquals([c.slabs, c.partial.length, c.partial.includes(first)], [5, 4, false]);
  // with fewer partial slabs than min_partial an empty slab stays on the list
  const second = slabOf(objs[17]);
  k.exec(0, () => {
    for (let i = 17; i < 32; i++) k.slab.kfree(objs[i]);
  });
  assertEquals([c.slabs, c.partial.length, c.partial.includes(second)], [5, 4, true]);
});
