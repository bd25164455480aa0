// Same-CPU re-entry into a hash map (KERNEL-NOTES 2.3, 6.4): an NMI (or a
// nested program) updating the map while the interrupted code holds a
// bucket lock. By release: a real deadlock (raw spinlock), -EBUSY from the
// map_locked counters (5.11-6.14), -EDEADLK from rqspinlock (6.15+).

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { EBUSY, EDEADLK, ESIMHUNG } from "../../lib/kernel/errno.ts";
import { leakCheck, u32, u64 } from "../helpers.ts";
import type { Htab } from "../../lib/bpf/hashtab.ts";

/**
 * A kprobe inside the bucket-locked section (alloc_htab_elem, or
 * __pcpu_freelist_pop for 4.6) raises an NMI that is taken at the next
 * instrumented point, still under the lock; the NMI handler updates a key
 * of the same bucket.
 */
function nmiDuringUpdate(profile: string, probe: string) {
  const k = new Kernel({ cpus: 2, profile, seed: 3 });
  const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, name: "m" });
  assertTrue(fd > 0);
  const map = k.sys.mapOf(fd) as Htab;
  // replacing an existing key: the old element is released under the bucket lock in 4.6
  assertEquals(k.sys.mapUpdateElem(fd, u32(7), u64(0), 0), 0);
  let nmiResult: number | null = null;
  let armed = true;
  k.kprobes.register(probe, () => {
    if (!armed) return;
    armed = false;
    k.raiseNmi(k.cur.id, k.cur.clock, "perf NMI", () => {
      nmiResult = map.updateElem(u32(7), u64(2), 0); // the same key: the same bucket
    });
  });
  const r = k.sys.mapUpdateElem(fd, u32(7), u64(1), 0);
  return { k, r, nmiResult: nmiResult as number | null };
}

Deno.test("recursion: v4.6 raw bucket lock, NMI update of the same bucket deadlocks the CPU", () => {
  const { k, r, nmiResult } = nmiDuringUpdate("v4.6", "free_htab_elem");
  assertEquals(r, -ESIMHUNG);
  assertEquals(nmiResult, null);
  assertEquals(k.stuckCpus(), [0]);
  assertIncludes(k.dmesg.text(), "&htab->lockdep_key");
});

Deno.test("recursion: v5.11 map_locked makes the nested update fail with -EBUSY", () => {
  const { k, r, nmiResult } = nmiDuringUpdate("v5.11", "alloc_htab_elem");
  assertEquals(r, 0);
  assertEquals(nmiResult, -EBUSY);
  assertEquals(k.stuckCpus(), []);
  assertEquals((k.sys.mapOf(3) as Htab).lockFailures, 1);
  leakCheck(k);
});

Deno.test("recursion: v6.18 rqspinlock makes the nested update fail with -EDEADLK", () => {
  const { k, r, nmiResult } = nmiDuringUpdate("v6.18", "alloc_htab_elem");
  assertEquals(r, 0);
  assertEquals(nmiResult, -EDEADLK);
  assertEquals(k.stuckCpus(), []);
  leakCheck(k);
});

Deno.test("recursion: map_locked false positive - another bucket sharing the counter index also gets -EBUSY", () => {
  const k = new Kernel({ cpus: 1, profile: "v5.11", seed: 3 });
  const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64, name: "m" });
  const map = k.sys.mapOf(fd) as Htab;
  // find two keys in different buckets whose hashes share the low 3 bits
  const first = u32(1);
  const h1 = k.exec(0, () => map.hash(first)) as number;
  let other = 2;
  for (;; other++) {
    const h = k.exec(0, () => map.hash(u32(other))) as number;
    if ((h & 7) === (h1 & 7) && map.bucketOf(h) !== map.bucketOf(h1)) break;
  }
  let nested: number | null = null;
  let armed = true;
  k.kprobes.register("alloc_htab_elem", () => {
    if (!armed) return;
    armed = false;
    nested = map.updateElem(u32(other), u64(9), 0); // like an fentry program on the same CPU
  });
  assertEquals(k.sys.mapUpdateElem(fd, first, u64(1), 0), 0);
  assertEquals(nested, -EBUSY);
  leakCheck(k);
});

Deno.test("recursion: 4 tasks on one CPU doing 1000 updates never fail (htab_update concurrent_update)", () => {
  for (const profile of ["v5.11", "v6.1", "v6.18"]) {
    const k = new Kernel({ cpus: 2, profile, seed: 5 });
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 1, name: "m" });
    const procs = [0, 1, 2, 3].map((i) => k.spawn(`upd${i}`, 0));
    const fds = procs.map((p) => p.objGet("/sys/fs/bpf/none"));
    void fds;
    assertEquals(k.sys.objPin(fd, "/sys/fs/bpf/m"), 0);
    const pfds = procs.map((p) => p.objGet("/sys/fs/bpf/m"));
    let failures = 0;
    for (let i = 0; i < 1000; i++) {
      procs.forEach((p, j) => {
        k.queueStep(0, () => {
          if (p.mapUpdateElem(pfds[j], u32(0), u64(i), 0) !== 0) failures++;
        }, { comm: `upd${j}` });
      });
    }
    k.run();
    assertEquals(failures, 0, profile);
    procs.forEach((p) => p.exit());
    leakCheck(k);
  }
});

Deno.test("recursion: NMI pop from a percpu_freelist whose lock the interrupted code holds (5.10-6.14)", () => {
  // prealloc map, 2 CPUs: the NMI lands in __pcpu_freelist_pop's unlock on
  // CPU 0 (a kprobe there fires while the lock is still held)
  const k = new Kernel({ cpus: 2, profile: "v5.11", seed: 1 });
  const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16, name: "m" });
  const map = k.sys.mapOf(fd) as Htab;
  // a key whose map_locked counter differs from key 1's, so only the freelist is contended
  const h1 = k.exec(0, () => map.hash(u32(1))) as number;
  let key2 = 100;
  while (((k.exec(0, () => map.hash(u32(key2))) as number) & 7) === (h1 & 7)) key2++;
  let nmi: number | null = null;
  let armed = true;
  k.kprobes.register("_raw_spin_unlock", (_id, lock) => {
    if (!armed || lock !== map.freelist!.locks) return;
    armed = false;
    k.raiseNmi(0, k.cur.clock, "perf NMI", () => {
      nmi = map.updateElem(u32(key2), u64(1), 0);
    });
  });
  assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(1), 0), 0);
  // the NMI's pop skipped CPU 0's busy list and stole from CPU 1 instead
  assertEquals(nmi, 0);
  assertEquals(k.stuckCpus(), []);
  assertEquals(map.freelist!.nmiMisses, 1);
  leakCheck(k);
  // the same NMI on v4.6 spins on the lock its own CPU holds
  const k46 = new Kernel({ cpus: 2, profile: "v4.6", seed: 1 });
  const fd46 = k46.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16, name: "m" });
  const m46 = k46.sys.mapOf(fd46) as Htab;
  let armed46 = true;
  k46.kprobes.register("_raw_spin_unlock", (_id, lock) => {
    if (!armed46 || lock !== m46.freelist!.locks) return;
    armed46 = false;
    k46.raiseNmi(0, k46.cur.clock, "perf NMI", () => m46.updateElem(u32(key2), u64(1), 0));
  });
  k46.sys.mapUpdateElem(fd46, u32(1), u64(1), 0);
  assertEquals(k46.stuckCpus(), [0]);
});

Deno.test("free_htab_elem ran under the bucket lock before 6.13 (81eef03cbf70), after it since", () => {
  for (const [profile, underLock] of [["v6.1", true], ["v6.18", false]] as const) {
    const k = new Kernel({ cpus: 2, profile, seed: 3 });
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, name: "m" });
    assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(1), 0), 0);
    let held: string[] = [];
    k.kprobes.register("free_htab_elem", () => (held = k.lockdep.heldNames(k.cur.id)));
    assertEquals(k.sys.mapDeleteElem(fd, u32(1)), 0);
    assertEquals(held.some((h) => h.startsWith("&htab->lockdep_key")), underLock, profile);
    leakCheck(k);
  }
});
