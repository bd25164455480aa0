// `mem show [MAP]` and `kernel config memalloc FLAVOUR` through the one-shot
// entry point (a state directory per test), plain and JSON.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { oneShot } from "./e2e_replay.ts";

async function withState(fn: (run: (line: string) => ReturnType<typeof oneShot>) => Promise<void>): Promise<void> {
  const st = await Deno.makeTempDir({ prefix: "bpfsim-mem-" });
  try {
    await fn((line) => oneShot(["--state", st, ...line.split(" ")]));
  } finally {
    await Deno.remove(st, { recursive: true });
  }
}

Deno.test("mem show: per map its allocator, bpf_mem_alloc caches per CPU, slab and totals; -j the same as data", async () => {
  await withState(async (run) => {
    assertEquals((await run("map create /sys/fs/bpf/d type hash key 4 value 8 entries 64 name d flags 1")).rc, 0);
    assertEquals((await run("map create /sys/fs/bpf/p type hash key 4 value 8 entries 64 name p")).rc, 0);
    assertEquals((await run("map update pinned /sys/fs/bpf/d key 1 0 0 0 value 1 0 0 0 0 0 0 0")).rc, 0);
    let r = await run("mem show");
    assertEquals(r.rc, 0, r.stderr);
    assertIncludes(r.stdout, "memalloc bpf_ma: bpf_mem_alloc, immediate reuse (6.1+)\n");
    assertIncludes(r.stdout, "kernel.bpf_force_dyn_alloc 0 (experimental");
    assertIncludes(r.stdout, "1: hash name d  allocator bpf_ma  1 element");
    assertIncludes(r.stdout, "\telem: unit 72B  low 32 high 96 batch 48");
    assertIncludes(r.stdout, "2: hash name p  allocator prealloc  0 elements");
    assertIncludes(r.stdout, "\tkmalloc-96 ");
    assertIncludes(r.stdout, "memory: slab objects ");
    r = await run("-j mem show pinned /sys/fs/bpf/d");
    assertEquals(r.rc, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assertEquals(j.memalloc, "bpf_ma");
    assertEquals(j.maps.length, 1);
    const m = j.maps[0];
    assertEquals([m.name, m.allocator, m.elements], ["d", "bpf_ma", 1]);
    const elem = m.allocs[0];
    assertEquals([elem.kind, elem.unit_size, elem.in_use], ["elem", 72, 1]);
    assertEquals(elem.cpus.length, 2);
    // the insert took one of CPU 0's four prefilled elements and queued a refill of 48
    assertEquals(elem.cpus[0].free, 51);
    assertEquals(elem.cpus[0].refills, 1);
    assertEquals(elem.cpus[1].free, 4);
    assertEquals(elem.objects, elem.in_use + elem.cpus.reduce((n: number, c: { free: number }) => n + c.free, 0));
    r = await run("mem show id 99");
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "Error: get map by id (99)");
    r = await run("mem show pinned /sys/fs/bpf/d extra");
    assertEquals(r.rc, 255);
  });
});

Deno.test("kernel config memalloc: chosen per kernel, refused where bpf_mem_alloc does not exist, shown by mem show", async () => {
  await withState(async (run) => {
    let r = await run("kernel config memalloc free_after_rcu_gp");
    assertEquals(r.rc, 0, r.stderr);
    assertIncludes(r.stderr + r.stdout, "memalloc free_after_rcu_gp");
    assertIncludes((await run("kernel show")).stdout, "memalloc free_after_rcu_gp");
    assertEquals(JSON.parse((await run("-j kernel show")).stdout).memalloc, "free_after_rcu_gp");
    await run("map create /sys/fs/bpf/d type hash key 4 value 8 entries 64 name d flags 1");
    r = await run("mem show");
    assertIncludes(r.stdout, "memalloc free_after_rcu_gp: RFC v3 (never merged)");
    assertIncludes(r.stdout, "allocator free_after_rcu_gp");
    r = await run("kernel config profile v5.11 --yes");
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "memalloc free_after_rcu_gp needs bpf_mem_alloc, which exists from v6.1");
    r = await run("kernel config profile v5.11 memalloc kmalloc --yes");
    assertEquals(r.rc, 0, r.stderr);
    assertIncludes((await run("kernel show")).stdout, "profile v5.11  cpus 2  preempt_rt no  seed 1  memalloc kmalloc");
    r = await run("kernel config memalloc bogus");
    assertEquals(r.rc, 255);
    assertIncludes(r.stderr, "unknown memalloc flavour 'bogus'");
    assertTrue((await run("kernel help")).stderr.includes("FLAVOUR := { kmalloc | bpf_ma |"));
  });
});

Deno.test("kernel sysctl bpf_force_dyn_alloc: labelled experimental; new hash maps become dynamic and say so", async () => {
  await withState(async (run) => {
    let r = await run("kernel sysctl bpf_force_dyn_alloc 1");
    assertEquals(r.rc, 0, r.stderr);
    assertEquals(r.stdout, "kernel.bpf_force_dyn_alloc = 1  (experimental: never merged)\n");
    assertEquals((await run("map create /sys/fs/bpf/h type hash key 4 value 8 entries 8 name h")).rc, 0);
    assertIncludes((await run("map show name h")).stdout, "flags 0x1");
    r = await run("mem show name h");
    assertIncludes(r.stdout, "kernel.bpf_force_dyn_alloc 1 (experimental");
    assertIncludes(r.stdout, "allocator bpf_ma");
  });
});
