// Behaviour that differs by kernel profile (KERNEL-NOTES 0.1, 1.2-1.3,
// 2.3-2.5, 2.11): which types and flags exist, whether a full map can
// replace a key, how the percpu_freelist is populated, what fdinfo memlock
// reports, and the PREEMPT_RT bucket lock of 5.7-6.0.

import { assertEquals, assertTrue } from "../assert.ts";
import { keysU32, u32, u64, withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { preempt_disable, preempt_enable } from "../../lib/kernel/context.ts";
import { E2BIG, EINVAL, ENOENT, ENOTSUPP } from "../../lib/kernel/errno.ts";
import type { Htab } from "../../lib/bpf/hashtab.ts";
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY,
  BPF_F_ZERO_SEED,
  BPF_NOEXIST,
} from "../../lib/bpf/uapi.ts";

const ru8 = (x: number) => (x + 7) & ~7;
const p2 = (x: number) => 2 ** Math.ceil(Math.log2(x));
const pageUp = (x: number) => Math.ceil(x / 4096) * 4096;

function memlock(k: Kernel, fd: number): number {
  const info = k.sys.mapInfo(fd);
  if (typeof info === "number") throw new Error(`map info: ${info}`);
  return info.memlock;
}

function htab(k: Kernel, fd: number): Htab {
  return k.sys.mapOf(fd) as Htab;
}

// ------------------------------------------------------------- 4.5 / 4.6

Deno.test("profile v4.5: no per-CPU types, no map_flags, no queue/stack", () => {
  withKernel({ cpus: 2, profile: "v4.5" }, (k) => {
    const mk = (mapType: string, mapFlags = 0, keySize = 4) =>
      k.sys.mapCreate({ mapType, keySize, valueSize: 8, maxEntries: 4, mapFlags });
    assertEquals(mk("percpu_hash"), -EINVAL);
    assertEquals(mk("percpu_array"), -EINVAL);
    assertEquals(mk("queue", 0, 0), -EINVAL);
    assertEquals(mk("hash", BPF_F_NO_PREALLOC), -EINVAL, "map_flags did not exist yet");
    const h = mk("hash");
    const a = mk("array");
    assertTrue(h >= 0 && a >= 0);
    // kmalloc'd elements; a full map still replaces, but the capacity check
    // comes before the flag checks: EXIST on a missing key says E2BIG
    for (let i = 0; i < 4; i++) assertEquals(k.sys.mapUpdateElem(h, u32(i), u64(i), BPF_NOEXIST), 0);
    assertEquals(k.sys.mapUpdateElem(h, u32(1), u64(9), BPF_EXIST), 0);
    assertEquals(k.sys.mapUpdateElem(h, u32(7), u64(9), BPF_EXIST), -E2BIG);
    assertEquals(k.sys.mapUpdateElem(h, u32(7), u64(9), BPF_ANY), -E2BIG);
    assertFalse(htab(k, h).isPrealloc);
  });
});

function assertFalse(v: unknown, msg?: string): void {
  assertTrue(!v, msg);
}

Deno.test("profile v4.6: preallocation by default, BPF_F_NO_PREALLOC; per-CPU types; newer flags refused", () => {
  withKernel({ cpus: 2, profile: "v4.6" }, (k) => {
    const h = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4 });
    const d = k.sys.mapCreate({
      mapType: "hash",
      keySize: 4,
      valueSize: 8,
      maxEntries: 4,
      mapFlags: BPF_F_NO_PREALLOC,
    });
    assertTrue(htab(k, h).isPrealloc && !htab(k, d).isPrealloc);
    assertTrue(k.sys.mapCreate({ mapType: "percpu_hash", keySize: 4, valueSize: 8, maxEntries: 4 }) >= 0);
    assertTrue(k.sys.mapCreate({ mapType: "percpu_array", keySize: 4, valueSize: 8, maxEntries: 4 }) >= 0);
    for (const flags of [BPF_F_ZERO_SEED, BPF_F_RDONLY, 2]) {
      assertEquals(
        k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: flags }),
        -EINVAL,
      );
    }
    assertEquals(k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: 4 }), -EINVAL);
    // BPF_MAP_LOOKUP_AND_DELETE_ELEM only exists from 4.20 (an unknown command before)
    assertEquals(k.sys.mapUpdateElem(h, u32(1), u64(1), BPF_ANY), 0);
    assertEquals(k.sys.mapLookupAndDeleteElem(h, u32(1), new Uint8Array(8)), -EINVAL);
  });
});

Deno.test("profile: a full map replaces a key from 4.10 (extra_elems); 4.6-4.9 could not (E2BIG)", () => {
  for (const [profile, canReplace] of [["v4.6", false], ["v5.7", true], ["v6.1", true], ["v6.18", true]] as const) {
    for (const mapFlags of [0, BPF_F_NO_PREALLOC]) {
      withKernel({ cpus: 4, profile }, (k) => {
        const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 8, mapFlags });
        for (let i = 0; i < 8; i++) assertEquals(k.sys.mapUpdateElem(fd, u32(i), u64(i), BPF_NOEXIST), 0);
        const what = `${profile} flags ${mapFlags}`;
        assertEquals(k.sys.mapUpdateElem(fd, u32(3), u64(33), BPF_ANY), canReplace ? 0 : -E2BIG, what);
        assertEquals(k.sys.mapUpdateElem(fd, u32(3), u64(33), BPF_EXIST), canReplace ? 0 : -E2BIG, what);
        // the flag checks come first in every release since 4.6
        assertEquals(k.sys.mapUpdateElem(fd, u32(9), u64(9), BPF_EXIST), -ENOENT, what);
        assertEquals(k.sys.mapUpdateElem(fd, u32(9), u64(9), BPF_ANY), -E2BIG, what);
        // once there is room, replacing works everywhere
        assertEquals(k.sys.mapDeleteElem(fd, u32(0)), 0);
        assertEquals(k.sys.mapUpdateElem(fd, u32(3), u64(34), BPF_ANY), 0, what);
        const v = new Uint8Array(8);
        assertEquals(k.sys.mapLookupElem(fd, u32(3), v), 0);
        assertEquals(v[0], 34);
        // per-CPU hashes always updated in place
        const p = k.sys.mapCreate({ mapType: "percpu_hash", keySize: 4, valueSize: 8, maxEntries: 2, mapFlags });
        const pv = new Uint8Array(8 * 4);
        assertEquals(k.sys.mapUpdateElem(p, u32(1), pv, BPF_ANY), 0);
        assertEquals(k.sys.mapUpdateElem(p, u32(2), pv, BPF_ANY), 0);
        assertEquals(k.sys.mapUpdateElem(p, u32(1), pv, BPF_EXIST), 0, `percpu ${what}`);
      });
    }
  }
});

Deno.test("profile: the jhash seed is 0 before 5.0; random per map after (unless BPF_F_ZERO_SEED)", () => {
  const orders = (profile: string, flags: number) => {
    let out: number[][] = [];
    withKernel({ cpus: 2, profile }, (k) => {
      out = [0, 1].map(() => {
        const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64, mapFlags: flags });
        for (let i = 0; i < 40; i++) k.sys.mapUpdateElem(fd, u32(i), u64(i), BPF_ANY);
        return keysU32(k, fd);
      });
    });
    return out;
  };
  const [a, b] = orders("v4.6", 0);
  assertEquals(a, b);
  const [c, d] = orders("v6.18", 0);
  assertTrue(JSON.stringify(c) !== JSON.stringify(d));
  const [e, f] = orders("v6.18", BPF_F_ZERO_SEED);
  assertEquals(e, f);
  assertEquals(e, a, "seed 0 is seed 0");
});

Deno.test("profile: lookup_and_delete on hash maps from 5.14", () => {
  for (const [profile, works] of [["v5.11", false], ["v6.1", true]] as const) {
    withKernel({ cpus: 2, profile }, (k) => {
      const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4 });
      assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(5), BPF_ANY), 0);
      const v = new Uint8Array(8);
      assertEquals(k.sys.mapLookupAndDeleteElem(fd, u32(1), v), works ? 0 : -ENOTSUPP);
      assertEquals(k.sys.mapLookupElem(fd, u32(1), v), works ? -ENOENT : 0);
      // queue/stack pop works wherever the types exist (4.20+)
      const q = k.sys.mapCreate({ mapType: "queue", keySize: 0, valueSize: 8, maxEntries: 4 });
      assertEquals(k.sys.mapUpdateElem(q, null, u64(7), BPF_ANY), 0);
      assertEquals(k.sys.mapLookupAndDeleteElem(q, null, v), 0);
    });
  }
});

// ------------------------------------------------- percpu_freelist populate

Deno.test("profile: freelist populate, 256 elements over 32 CPUs: greedy before 6.1, even split from 6.1", () => {
  const greedy = [...Array(28).fill(9), 4, 0, 0, 0];
  const even = Array(32).fill(8);
  for (const [profile, want] of [["v4.6", greedy], ["v5.11", greedy], ["v6.1", even], ["v6.18", even]] as const) {
    withKernel({ cpus: 32, profile }, (k) => {
      // percpu_hash has no extra elements: exactly max_entries are populated
      const fd = k.sys.mapCreate({ mapType: "percpu_hash", keySize: 4, valueSize: 8, maxEntries: 256 });
      const h = htab(k, fd);
      assertEquals(h.numEntries, 256);
      assertEquals(h.freelist!.counts().perCpu, want, profile);
      assertEquals(h.freelist!.counts().extra, 0);
    });
  }
});

Deno.test("profile: plain hash populates max_entries + ncpu, then pops one extra element per CPU on the creating CPU", () => {
  // 224 + 32 = 256 elements: an even split of 8, then 32 pops from CPU 0,
  // which empties CPU 0 and steals CPUs 1-3 dry (pop walks CPUs upward)
  withKernel({ cpus: 32, profile: "v6.18" }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 224 });
    const h = htab(k, fd);
    assertEquals(h.numEntries, 256);
    assertEquals(h.freelist!.counts().perCpu, [0, 0, 0, 0, ...Array(28).fill(8)]);
    assertEquals(new Set(h.extraElems!).size, 32);
  });
  // the same map created by a process on CPU 17
  withKernel({ cpus: 32, profile: "v6.18" }, (k) => {
    const p = k.spawn("creator", 17);
    const fd = p.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 224 });
    const counts = (p.mapOf(fd) as Htab).freelist!.counts().perCpu;
    assertEquals(counts, [...Array(17).fill(8), 0, 0, 0, 0, ...Array(11).fill(8)]);
    p.exit();
  });
  // 4.6 had no extra elements
  withKernel({ cpus: 32, profile: "v4.6" }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 256 });
    assertEquals(htab(k, fd).numEntries, 256);
    assertEquals(htab(k, fd).extraElems, null);
  });
});

Deno.test("profile: per-CPU lists are LIFO; an insert on a CPU takes the highest address of its chunk", () => {
  for (const profile of ["v5.11", "v6.18"]) {
    withKernel({ cpus: 4, profile }, (k) => {
      const fd = k.sys.mapCreate({ mapType: "percpu_hash", keySize: 4, valueSize: 8, maxEntries: 16 });
      const h = htab(k, fd);
      const v = new Uint8Array(8 * 4);
      // even split (6.1+): 4 per CPU; greedy (5.11): 5,5,5,1
      const chunk = profile === "v6.18" ? [4, 4, 4, 4] : [5, 5, 5, 1];
      const start = (cpu: number) => chunk.slice(0, cpu).reduce((a, b) => a + b, 0);
      for (const cpu of [0, 2, 3]) {
        const p = k.spawn(`cpu${cpu}`, cpu);
        const key = u32(100 + cpu);
        // the process shares the map through an fd of its own
        assertEquals(k.sys.objPin(fd, `/sys/fs/bpf/zz_profiles_${cpu}`), 0);
        const mine = p.objGet(`/sys/fs/bpf/zz_profiles_${cpu}`);
        assertEquals(p.mapUpdateElem(mine, key, v, BPF_ANY), 0);
        const elem = k.exec(cpu, () => h.lookupElemRaw(key)) as number;
        assertEquals(elem, h.elemAddr(start(cpu) + chunk[cpu] - 1), `${profile} cpu ${cpu}`);
        // delete pushes it back on this CPU's list: the next insert reuses it
        assertEquals(p.mapDeleteElem(mine, key), 0);
        assertEquals(p.mapUpdateElem(mine, u32(200 + cpu), v, BPF_ANY), 0);
        assertEquals(k.exec(cpu, () => h.lookupElemRaw(u32(200 + cpu))), elem);
        p.exit();
      }
    });
  }
});

// ------------------------------------------------------------------ memlock

Deno.test("profile: memlock is the page-rounded precharge before 5.11 and never moves", () => {
  withKernel({ cpus: 2, profile: "v5.7" }, (k) => {
    for (const mapType of ["hash", "percpu_hash"]) {
      for (const [ks, vs, e] of [[4, 8, 1], [4, 8, 1024], [16, 24, 100], [3, 100, 7]]) {
        for (const mapFlags of [0, BPF_F_NO_PREALLOC]) {
          const fd = k.sys.mapCreate({ mapType, keySize: ks, valueSize: vs, maxEntries: e, mapFlags });
          const percpu = mapType === "percpu_hash";
          const elem = 48 + ru8(ks) + (percpu ? 8 : ru8(vs));
          // bpf_map_charge_init(cost): buckets + elements (+ values per CPU,
          // or the per-CPU extra elements), whether preallocated or not
          const cost = 16 * p2(e) + elem * e + (percpu ? ru8(vs) * 2 * e : elem * 2);
          const what = `${mapType} k${ks} v${vs} e${e} flags ${mapFlags}`;
          assertEquals(memlock(k, fd), pageUp(cost), what);
          const v = new Uint8Array(percpu ? ru8(vs) * 2 : vs);
          for (let i = 0; i < Math.min(e, 5); i++) k.sys.mapUpdateElem(fd, new Uint8Array(ks).fill(i + 1), v, 0);
          assertEquals(memlock(k, fd), pageUp(cost), `${what} after inserts`);
          k.sys.close(fd);
        }
      }
    }
    for (const [mapType, ks] of [["array", 4], ["percpu_array", 4], ["queue", 0]] as const) {
      const fd = k.sys.mapCreate({ mapType, keySize: ks, valueSize: 24, maxEntries: 1000 });
      const m = memlock(k, fd);
      assertEquals(m % 4096, 0, `${mapType} charge is whole pages`);
      const payload = mapType === "percpu_array" ? 1000 * (8 + 24 * 2) : mapType === "queue" ? 1001 * 24 : 1000 * 24;
      assertTrue(m >= payload && m < payload + 4096 + 1024, `${mapType} ${m}: struct + payload, whole pages`);
    }
  });
});

Deno.test("profile: memlock is bpf_map_memory_footprint() in 5.11-6.3 (max_entries x round_up(key + value))", () => {
  for (const profile of ["v5.11", "v6.1"]) {
    withKernel({ cpus: 3, profile }, (k) => {
      const cases: [string, number, number, number, number][] = [
        ["hash", 4, 8, 1024, 0],
        ["hash", 4, 8, 1024, BPF_F_NO_PREALLOC],
        ["hash", 3, 5, 7, 0],
        ["percpu_hash", 4, 12, 100, 0],
        ["percpu_hash", 4, 12, 100, BPF_F_NO_PREALLOC],
        ["array", 4, 100, 1000, 0],
        ["percpu_array", 4, 4, 50, 0],
        ["queue", 0, 24, 1000, 0],
        ["stack", 0, 3, 5, 0],
      ];
      for (const [mapType, ks, vs, e, mapFlags] of cases) {
        const fd = k.sys.mapCreate({ mapType, keySize: ks, valueSize: vs, maxEntries: e, mapFlags });
        // bpf_map_value_size(): per-CPU maps count round_up(value, 8) per CPU
        const value = mapType.startsWith("percpu") ? ru8(vs) * 3 : vs;
        const want = pageUp(e * ru8(ks + value));
        assertEquals(memlock(k, fd), want, `${profile} ${mapType} k${ks} v${vs} e${e} flags ${mapFlags}`);
        if (mapType.endsWith("hash")) {
          k.sys.mapUpdateElem(fd, new Uint8Array(ks).fill(1), new Uint8Array(value), 0);
          assertEquals(memlock(k, fd), want, "does not move with elements");
        }
      }
    });
  }
});

Deno.test("profile: memlock is map_mem_usage() from 6.4 and follows live elements of NO_PREALLOC maps", () => {
  for (const profile of ["v6.15", "v6.18"]) {
    withKernel({ cpus: 2, profile }, (k) => {
      const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16, mapFlags: 1 });
      assertEquals(memlock(k, fd), 1152);
      for (let i = 0; i < 3; i++) k.sys.mapUpdateElem(fd, u32(i), u64(i), 0);
      assertEquals(memlock(k, fd), 1152 + 3 * 72);
      const pre = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16 });
      assertEquals(memlock(k, pre), 2320);
      const q = k.sys.mapCreate({ mapType: "queue", keySize: 0, valueSize: 8, maxEntries: 16 });
      assertEquals(memlock(k, q), 312 + 17 * 8);
    });
  }
});

// ------------------------------------------------------------ PREEMPT_RT

Deno.test("profile: v5.7 on PREEMPT_RT gives NO_PREALLOC maps a sleeping bucket lock (spinlock_t)", () => {
  const lockKind = (profile: string, preemptRt: boolean, mapFlags: number) => {
    let kind = "";
    withKernel({ cpus: 2, profile, preemptRt }, (k) => {
      const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 8, mapFlags });
      kind = htab(k, fd).locks.kind;
    });
    return kind;
  };
  assertEquals(lockKind("v5.7", true, BPF_F_NO_PREALLOC), "spinlock_t");
  assertEquals(lockKind("v5.7", true, 0), "raw_spinlock_t");
  assertEquals(lockKind("v5.7", false, BPF_F_NO_PREALLOC), "raw_spinlock_t");
  assertEquals(lockKind("v5.11", true, BPF_F_NO_PREALLOC), "spinlock_t");
  assertEquals(lockKind("v6.1", true, BPF_F_NO_PREALLOC), "raw_spinlock_t", "6.1: bpf_mem_alloc, raw lock again");
  assertEquals(lockKind("v6.18", true, BPF_F_NO_PREALLOC), "rqspinlock_t");
  assertEquals(lockKind("v6.18", false, 0), "rqspinlock_t");
});

Deno.test("profile: v5.7-rt: the sleeping lock is fine from a syscall, a BUG from atomic (program) context", () => {
  for (const mapFlags of [BPF_F_NO_PREALLOC, 0]) {
    withKernel({ cpus: 2, profile: "v5.7", preemptRt: true }, (k) => {
      const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 8, mapFlags });
      assertEquals(k.sys.mapUpdateElem(fd, u32(1), u64(1), BPF_ANY), 0);
      assertEquals(k.dmesg.ofKind("might_sleep").length, 0, "syscall path is preemptible");
      // a tracing program runs with preemption disabled
      const map = htab(k, fd);
      const r = k.exec(1, () => {
        preempt_disable(k);
        const r = map.updateElem(u32(2), u64(2), BPF_ANY);
        preempt_enable(k);
        return r;
      });
      assertEquals(r, 0);
      const bugs = k.dmesg.ofKind("might_sleep");
      if (mapFlags) {
        assertTrue(bugs.length > 0, "spinlock_t in atomic context on RT");
        assertTrue(bugs[0].text.includes("BUG: sleeping function called from invalid context"));
      } else {
        assertEquals(bugs.length, 0, "preallocated maps keep the raw lock");
      }
    });
  }
});
