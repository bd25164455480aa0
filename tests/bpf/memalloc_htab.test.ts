// Dynamic hash maps on bpf_mem_alloc (6.1+) and the other memalloc
// flavours: the allocator seam, immediate reuse and its visibility to a
// program that keeps a value pointer, per-CPU values from pcpu_ma, the RT
// sleeping-in-atomic bug that bpf_mem_alloc removed (and that 5.7-rt kept),
// the experimental bpf_force_dyn_alloc, and snapshots.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { keysU32, leakCheck, readU64, u32, u64, withKernel } from "../helpers.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import type { MemallocFlavour } from "../../lib/kernel/config.ts";
import type { CtxKind } from "../../lib/kernel/cpu.ts";
import {
  migrate_disable,
  migrate_enable,
  preempt_disable,
  preempt_enable,
  rcu_read_lock,
  rcu_read_unlock,
} from "../../lib/kernel/context.ts";
import { loadKernel, saveKernel } from "../../lib/kernel/kernel_state.ts";
import type { Htab } from "../../lib/bpf/hashtab.ts";
import { BpfMaElemAllocator, KmallocElemAllocator } from "../../lib/bpf/hashtab_alloc.ts";
import { BPF_ANY, BPF_F_NO_PREALLOC, BPF_F_ZERO_SEED } from "../../lib/bpf/uapi.ts";
import { ENOMEM } from "../../lib/kernel/errno.ts";
import { inContext } from "./memalloc_helpers.ts";

const FLAVOURS: MemallocFlavour[] = ["bpf_ma", "reuse_after_rcu_gp", "free_after_rcu_gp", "call_rcu_free", "kmalloc"];
const CTXS: CtxKind[] = ["task", "softirq", "hardirq", "nmi"];

function dynHash(k: Kernel, type = "hash", entries = 4096): { fd: number; map: Htab } {
  const fd = k.sys.mapCreate({
    mapType: type,
    keySize: 4,
    valueSize: 8,
    maxEntries: entries,
    mapFlags: BPF_F_NO_PREALLOC,
  });
  assertTrue(fd > 0, `create ${type}: ${fd}`);
  return { fd, map: k.sys.mapOf(fd) as Htab };
}

/** A tracing program's guards around `fn` (kprobe: preemption off, RCU read side). */
function asProgram<T>(k: Kernel, fn: () => T): T {
  rcu_read_lock(k);
  preempt_disable(k);
  try {
    return fn();
  } finally {
    preempt_enable(k);
    rcu_read_unlock(k);
  }
}

Deno.test("memalloc htab: each release and flavour picks its allocator; kernel options refuse bpf_mem_alloc before 6.1", () => {
  const kind = (profile: string, memalloc?: MemallocFlavour) => {
    let a = "";
    withKernel({ profile, memalloc }, (k) => {
      const { map } = dynHash(k);
      a = map.allocator!.flavour;
      assertTrue(map.allocator instanceof (a === "kmalloc" ? KmallocElemAllocator : BpfMaElemAllocator));
    });
    return a;
  };
  assertEquals(kind("v5.11"), "kmalloc");
  assertEquals(kind("v6.1"), "bpf_ma");
  assertEquals(kind("v6.18"), "bpf_ma");
  for (const f of FLAVOURS) assertEquals(kind("v6.18", f), f);
  let msg = "";
  try {
    new Kernel({ profile: "v5.11", memalloc: "bpf_ma" });
  } catch (e) {
    msg = (e as Error).message;
  }
  assertIncludes(msg, "exists from v6.1");
  try {
    new Kernel({ memalloc: "slub" as MemallocFlavour });
  } catch (e) {
    msg = (e as Error).message;
  }
  assertIncludes(msg, "unknown memalloc flavour 'slub'");
});

Deno.test("memalloc htab: bpf_ma reuses a deleted element at once on that CPU; the other flavours wait for a grace period", () => {
  for (const f of FLAVOURS) {
    withKernel({ cpus: 2, memalloc: f }, (k) => {
      const { fd, map } = dynHash(k);
      assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(111), BPF_ANY), 0);
      const old = k.exec(0, () => map.lookupElemRaw(u32(1))) as number;
      assertEquals(k.sys.mapDeleteElem(fd, u32(1)), 0);
      assertEquals(k.sys.mapUpdateElem(fd, u32(2), u64(222), BPF_ANY), 0);
      const fresh = k.exec(0, () => map.lookupElemRaw(u32(2))) as number;
      assertEquals(fresh === old, f === "bpf_ma", `${f}: reused at once`);
      // a reader that kept the old pointer sees the new key only with immediate reuse
      assertEquals(k.mem.readU32(old + 48), f === "bpf_ma" ? 2 : 1, f);
      assertEquals(map.reusedSince(old + map.valOff, u32(1)), f === "bpf_ma", f);
    });
  }
});

Deno.test("memalloc htab: a program keeping a value pointer sees another CPU's delete and reuse (bpf_ma only)", () => {
  for (const f of FLAVOURS) {
    withKernel({ cpus: 2, memalloc: f }, (k) => {
      const { map } = dynHash(k);
      // key 1 is inserted on CPU 1: its element comes from CPU 1's cache
      assertEquals(k.exec(1, () => asProgram(k, () => map.updateElem(u32(1), u64(111), BPF_ANY))), 0);
      let reused: boolean | null = null;
      let seen = -1;
      // the reader: a program on CPU 0 that looks key 1 up, works a while, then reads through the pointer
      k.queueStep(0, () =>
        (function* () {
          rcu_read_lock(k);
          migrate_disable(k);
          const addr = map.lookupElem(u32(1));
          k.cur.clock += 50_000;
          yield;
          reused = map.reusedSince(addr, u32(1));
          seen = readU64(k.mem.bytes(addr, 8));
          migrate_enable(k);
          rcu_read_unlock(k);
        })());
      // meanwhile (10 us into the reader's run) CPU 1 deletes key 1 and inserts key 2
      k.cpus[1].clock = Math.max(k.cpus[1].clock, k.cpus[0].clock + 10_000);
      k.queueStep(1, () =>
        asProgram(k, () => {
          assertEquals(map.deleteElem(u32(1)), 0);
          assertEquals(map.updateElem(u32(2), u64(222), BPF_ANY), 0);
        }));
      k.quiesce();
      assertEquals(reused, f === "bpf_ma", `${f}: use-after-reuse`);
      assertEquals(seen, f === "bpf_ma" ? 222 : 111, `${f}: the value read`);
    });
  }
});

Deno.test("memalloc htab: per-CPU values come from pcpu_ma (l->ptr_to_pptr) and go back to it", () => {
  withKernel({ cpus: 4 }, (k) => {
    const { fd, map } = dynHash(k, "percpu_hash", 64);
    const a = map.allocator as BpfMaElemAllocator;
    const pcpu = a.pcpuMa!;
    const val = new Uint8Array(32);
    for (let c = 0; c < 4; c++) val.set(u64(10 + c), c * 8);
    assertEquals(k.sys.mapUpdateElem(fd, u32(7), val, BPF_ANY), 0);
    const e = k.exec(0, () => map.lookupElemRaw(u32(7))) as number;
    const holder = k.mem.readPtr(e + 16);
    assertEquals(k.mem.readPtr(holder), map.pptr(e), "ptr_to_pptr holds the __percpu pointer");
    assertTrue(pcpu.isAllocated(holder));
    const out = new Uint8Array(32);
    assertEquals(k.sys.mapLookupElem(fd, u32(7), out), 0);
    assertEquals([0, 1, 2, 3].map((c) => readU64(out, c * 8)), [10, 11, 12, 13]);
    // a program's insert writes its CPU's slot and zeroes the others
    k.exec(2, () => asProgram(k, () => map.updateElem(u32(8), u64(5), BPF_ANY)));
    assertEquals(k.sys.mapLookupElem(fd, u32(8), out), 0);
    assertEquals([0, 1, 2, 3].map((c) => readU64(out, c * 8)), [0, 0, 5, 0]);
    const before = pcpu.cache![0].freeCnt;
    assertEquals(k.sys.mapDeleteElem(fd, u32(7)), 0);
    assertEquals(pcpu.cache![0].freeCnt, before + 1, "the holder went back to this CPU's pcpu_ma cache");
    assertTrue(!pcpu.isAllocated(holder));
  });
});

Deno.test("memalloc htab: no sleeping-in-atomic BUG for NO_PREALLOC maps on v6.1+ RT, from syscalls and from programs", () => {
  for (const profile of ["v6.1", "v6.15", "v6.18"]) {
    for (const type of ["hash", "percpu_hash"]) {
      withKernel({ cpus: 2, profile, preemptRt: true }, (k) => {
        const { fd, map } = dynHash(k, type);
        const vs = type === "hash" ? 8 : 16;
        // enough churn for refills and trims
        for (let i = 0; i < 300; i++) assertEquals(k.sys.mapUpdateElem(fd, u32(i), new Uint8Array(vs), BPF_ANY), 0);
        for (let i = 0; i < 300; i++) assertEquals(k.sys.mapUpdateElem(fd, u32(i), new Uint8Array(vs), BPF_ANY), 0);
        for (let i = 0; i < 300; i++) assertEquals(k.sys.mapDeleteElem(fd, u32(i)), 0);
        for (const ctx of CTXS) {
          inContext(k, 1, ctx, () =>
            asProgram(k, () => {
              for (let i = 0; i < 40; i++) {
                const r = map.updateElem(u32(1000 + i), u64(i), BPF_ANY);
                assertTrue(r === 0 || r === -ENOMEM, `${ctx}: ${r}`);
              }
              for (let i = 0; i < 40; i++) map.deleteElem(u32(1000 + i));
            }));
          k.quiesce();
        }
        assertEquals(k.dmesg.ofKind("might_sleep").length, 0, `${profile} ${type}: ${k.dmesg.text()}`);
      });
    }
  }
});

Deno.test("memalloc htab: the same update with kmalloc under the raw bucket lock is a BUG on 6.18-rt; 5.7-rt had it only from atomic context", () => {
  withKernel({ cpus: 2, profile: "v6.18", preemptRt: true, memalloc: "kmalloc" }, (k) => {
    const { fd } = dynHash(k);
    assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(1), BPF_ANY), 0);
    const bugs = k.dmesg.ofKind("might_sleep");
    assertTrue(bugs.length > 0, "kmalloc under a raw lock on RT");
    assertIncludes(bugs[0].text, "BUG: sleeping function called from invalid context");
  });
  withKernel({ cpus: 2, profile: "v5.7", preemptRt: true }, (k) => {
    const { fd, map } = dynHash(k);
    assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(1), BPF_ANY), 0);
    assertEquals(k.dmesg.ofKind("might_sleep").length, 0, "a syscall may take the sleeping bucket lock");
    k.exec(1, () => asProgram(k, () => map.updateElem(u32(2), u64(2), BPF_ANY)));
    assertTrue(k.dmesg.ofKind("might_sleep").length > 0, "a program may not");
  });
});

Deno.test("memalloc htab: teardown goes through the allocator for every flavour, with elements and per-CPU values left", () => {
  for (const f of FLAVOURS) {
    for (const type of ["hash", "percpu_hash"]) {
      withKernel({ cpus: 3, memalloc: f }, (k) => {
        const { fd, map } = dynHash(k, type, 512);
        const vs = map.sysValueSize();
        for (let i = 0; i < 400; i++) k.sys.mapUpdateElem(fd, u32(i), new Uint8Array(vs), BPF_ANY);
        for (let i = 0; i < 400; i += 3) k.sys.mapDeleteElem(fd, u32(i));
        for (let cpu = 0; cpu < 3; cpu++) {
          k.exec(cpu, () => asProgram(k, () => map.updateElem(u32(500 + cpu), u64(cpu), BPF_ANY)));
        }
        assertEquals(keysU32(k, fd).length, 400 - 134 + 3);
        // withKernel closes, quiesces and checks that every byte came back
      });
    }
  }
});

Deno.test("memalloc htab: kernel.bpf_force_dyn_alloc (experimental) makes non-LRU hash maps dynamic on 6.1+", () => {
  withKernel({ sysctl: { bpf_force_dyn_alloc: 1 } }, (k) => {
    for (const [type, dyn] of [["hash", true], ["percpu_hash", true], ["lru_hash", false]] as const) {
      const fd = k.sys.mapCreate({ mapType: type, keySize: 4, valueSize: 8, maxEntries: 64 });
      const map = k.sys.mapOf(fd) as Htab;
      assertEquals(map.allocator !== null, dyn, type);
      assertEquals((map.mapFlags & BPF_F_NO_PREALLOC) !== 0, dyn, `${type}: the flag shows it`);
      assertEquals(k.sys.mapUpdateElem(fd, u32(1), new Uint8Array(map.sysValueSize()), BPF_ANY), 0);
    }
  });
  withKernel({ profile: "v5.11", sysctl: { bpf_force_dyn_alloc: 1 } }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64 });
    assertEquals((k.sys.mapOf(fd) as Htab).allocator, null, "before bpf_mem_alloc the knob does nothing");
  });
});

Deno.test("memalloc htab: a quiescent kernel with dynamic maps of every flavour saves, loads and goes on", () => {
  for (const f of FLAVOURS) {
    const k = new Kernel({ cpus: 2, memalloc: f, seed: 3 });
    for (const type of ["hash", "percpu_hash"]) {
      const { fd, map } = dynHash(k, type, 256);
      const vs = map.sysValueSize();
      for (let i = 0; i < 200; i++) k.sys.mapUpdateElem(fd, u32(i), new Uint8Array(vs).fill(i), BPF_ANY);
      for (let i = 0; i < 200; i += 2) k.sys.mapDeleteElem(fd, u32(i));
      assertEquals(k.sys.objPin(fd, `/sys/fs/bpf/${type}`), 0);
      k.sys.close(fd);
    }
    k.quiesce();
    const before = k.memoryUsage();
    const k2 = loadKernel(saveKernel(k));
    assertEquals(k2.memoryUsage(), before, f);
    for (const type of ["hash", "percpu_hash"]) {
      const fd = k2.sys.objGet(`/sys/fs/bpf/${type}`);
      assertEquals(keysU32(k2, fd).length, 100, `${f} ${type}`);
      const vs = (k2.sys.mapOf(fd) as Htab).sysValueSize();
      const out = new Uint8Array(vs);
      assertEquals(k2.sys.mapLookupElem(fd, u32(7), out), 0);
      assertEquals(out[0], 7);
      for (let i = 300; i < 400; i++) assertEquals(k2.sys.mapUpdateElem(fd, u32(i), new Uint8Array(vs), BPF_ANY), 0);
      for (let i = 300; i < 400; i++) assertEquals(k2.sys.mapDeleteElem(fd, u32(i)), 0);
      k2.sys.close(fd);
    }
    leakCheck(k2);
  }
});

Deno.test("memalloc htab: a lockless lookup carried into another bucket by immediate reuse restarts on the nulls mismatch", () => {
  for (const f of ["bpf_ma", "kmalloc"] as const) {
    withKernel({ cpus: 1, memalloc: f }, (k) => {
      const fd = k.sys.mapCreate({
        mapType: "hash",
        keySize: 4,
        valueSize: 8,
        maxEntries: 4,
        mapFlags: BPF_F_NO_PREALLOC | BPF_F_ZERO_SEED,
      });
      const map = k.sys.mapOf(fd) as Htab;
      const bucket = (n: number) => map.bucketOf(map.hash(u32(n)));
      // two keys of one bucket, one of another (zero seed: fixed)
      const a = [...Array(64).keys()].filter((n) => bucket(n) === bucket(0)).slice(0, 2);
      const other = [...Array(64).keys()].find((n) => bucket(n) !== bucket(0))!;
      // chain of bucket A: a[1] (head, inserted last) -> a[0] -> nulls(A)
      assertEquals(k.sys.mapUpdateElem(fd, u32(a[0]), u64(100), BPF_ANY), 0);
      assertEquals(k.sys.mapUpdateElem(fd, u32(a[1]), u64(101), BPF_ANY), 0);
      // while the reader stands on a[1]'s element, an NMI deletes a[1] and inserts `other`
      let armed = true;
      const kp = k.kprobes.register("__htab_map_lookup_elem", () => {
        if (!armed) return;
        armed = false;
        k.raiseNmi(0, k.cur.clock + 2, "perf", () => {
          assertEquals(map.deleteElem(u32(a[1])), 0);
          assertEquals(map.updateElem(u32(other), u64(7), BPF_ANY), 0);
        });
      });
      const restarts = map.nullsRestarts;
      const v = k.exec(0, () => {
        rcu_read_lock(k);
        const addr = map.lookupElem(u32(a[0]));
        rcu_read_unlock(k);
        return addr;
      }) as number;
      k.kprobes.unregister(kp!);
      assertTrue(!armed, "the NMI was scheduled");
      assertTrue(v !== 0, `${f}: the lookup still finds a[0]`);
      assertEquals(readU64(k.mem.bytes(v, 8)), 100);
      // bpf_ma: a[1]'s element now heads bucket B, its next is B's nulls: the walk restarts;
      // kmalloc: the unlinked element keeps its next until the grace period: no restart
      assertEquals(map.nullsRestarts - restarts, f === "bpf_ma" ? 1 : 0, f);
    });
  }
});
