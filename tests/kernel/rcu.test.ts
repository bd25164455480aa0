import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { u32, u64, withKernel } from "../helpers.ts";
import { BPF_F_NO_PREALLOC } from "../../lib/bpf/uapi.ts";
import type { Htab } from "../../lib/bpf/hashtab.ts";

Deno.test("rcu: callbacks run only after every CPU passed a quiescent state and the minimum latency", () => {
  const k = new Kernel({ cpus: 2, rcuGpNs: 1_000_000 });
  let ranAt = -1;
  k.exec(0, () => k.rcu.call_rcu(() => (ranAt = k.cur.clock)));
  assertEquals(ranAt, -1);
  k.quiesce();
  assertTrue(ranAt >= 1_000_000, `callback ran at ${ranAt}`);
});

Deno.test("rcu: a long step on another CPU holds the grace period back", () => {
  const k = new Kernel({ cpus: 2, rcuGpNs: 1_000 });
  k.queueStep(1, () => (k.cur.clock += 5_000_000)); // a reader busy for 5 ms
  k.run({ maxSteps: 1 });
  let ranAt = -1;
  k.exec(0, () => k.rcu.call_rcu(() => (ranAt = k.cur.clock)));
  k.quiesce();
  assertTrue(ranAt >= 5_000_000, `callback ran at ${ranAt}, before the reader finished`);
});

Deno.test("rcu: a stuck CPU stalls grace periods forever and it is reported", () => {
  const k = new Kernel({ cpus: 2 });
  k.exec(1, () => k.hang(k.cur, "test lockup"));
  let ran = false;
  k.exec(0, () => k.rcu.call_rcu(() => (ran = true)));
  k.quiesce();
  assertEquals(ran, false);
  assertIncludes(k.dmesg.text(), "detected stalls on CPUs/tasks");
});

Deno.test("rcu: synchronize_rcu sleeps the caller until the grace period ends", () => {
  const k = new Kernel({ cpus: 4, rcuGpNs: 2_000_000 });
  let before = 0;
  let after = 0;
  k.exec(2, () => {
    before = k.cur.clock;
    k.rcu.synchronize_rcu();
    after = k.cur.clock;
  });
  assertTrue(after - before >= 2_000_000);
});

Deno.test("rcu: a freed dynamic hash element is not reused before the grace period (call_rcu)", () => {
  withKernel({ cpus: 2, profile: "v5.11", seed: 7 }, (k) => {
    const fd = k.sys.mapCreate({
      mapType: "hash",
      keySize: 4,
      valueSize: 8,
      maxEntries: 16,
      mapFlags: BPF_F_NO_PREALLOC,
    });
    assertTrue(fd > 0);
    const htab = k.sys.mapOf(fd) as Htab;
    assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(111), 0), 0);
    const old = k.exec(0, () => htab.lookupElemRaw(u32(1))) as number;
    assertEquals(k.sys.mapDeleteElem(fd, u32(1)), 0);
    assertEquals(k.sys.mapUpdateElem(fd, u32(2), u64(222), 0), 0);
    const fresh = k.exec(0, () => htab.lookupElemRaw(u32(2))) as number;
    assertTrue(fresh !== old, "the element was reused inside the grace period");
    // a reader that kept the old pointer still sees the old key: memory not yet freed
    assertTrue(k.exec(0, () => k.slab.check(old, 8, "reader")) as boolean);
    assertEquals(k.mem.readU32(old + 48), 1);
    k.quiesce();
    // after the grace period the object is free again
    assertEquals(k.exec(0, () => k.slab.check(old, 8, "late_reader")), false);
    assertIncludes(k.dmesg.text(), "BUG: KASAN: slab-use-after-free in late_reader");
  });
});

Deno.test("rcu: preallocated elements are reused at once (LIFO), before any grace period", () => {
  withKernel({ cpus: 2, seed: 7 }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16 });
    const htab = k.sys.mapOf(fd) as Htab;
    k.sys.mapUpdateElem(fd, u32(1), u64(111), 0);
    const old = k.exec(0, () => htab.lookupElemRaw(u32(1))) as number;
    k.sys.mapDeleteElem(fd, u32(1));
    k.sys.mapUpdateElem(fd, u32(2), u64(222), 0);
    const fresh = k.exec(0, () => htab.lookupElemRaw(u32(2))) as number;
    assertEquals(fresh, old);
    // a stale reader of key 1's element now reads key 2
    assertEquals(k.mem.readU32(old + 48), 2);
  });
});
