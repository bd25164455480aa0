// Map-in-map rules that the 6.18 golden cannot show: behaviour by profile
// (max_entries before 5.10, BPF_F_INNER_MAP, in-place hash_of_maps updates
// from 6.16, deferred inner-map free from 6.7), types without a
// map_meta_equal op, the grace period before a removed inner map is freed,
// the inner map pointers programs will see, and snapshots.

import { assertEquals, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { ENOTSUPP } from "../../lib/kernel/errno.ts";
import { loadKernel, saveKernel } from "../../lib/kernel/kernel_state.ts";
import { BpfMap, type MapAttr } from "../../lib/bpf/map.ts";
import { bpf_map_meta_alloc, bpf_map_meta_free } from "../../lib/bpf/map_in_map.ts";
import { ArrayOfMaps } from "../../lib/bpf/arraymap_of_maps.ts";
import { HashOfMaps } from "../../lib/bpf/hashtab_of_maps.ts";
import { BpfArray } from "../../lib/bpf/arraymap.ts";
import { Htab } from "../../lib/bpf/hashtab.ts";
import { jhash2 } from "../../lib/bpf/jhash.ts";
import { BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_PROG_ARRAY } from "../../lib/bpf/uapi.ts";
import { keysU32, leakCheck, readU32, u32, withKernel } from "../helpers.ts";

const EINVAL = -22;
const ENOENT = -2;
const E2BIG = -7;
const BPF_F_ZERO_SEED = 0x40;
const BPF_F_INNER_MAP = 0x1000;

function create(k: Kernel, type: string, key: number, value: number, entries: number, flags = 0, inner?: number) {
  const fd = k.sys.mapCreate({
    mapType: type,
    keySize: key,
    valueSize: value,
    maxEntries: entries,
    mapFlags: flags,
    innerMapFd: inner,
  });
  return fd;
}

function mustCreate(k: Kernel, type: string, key: number, value: number, entries: number, flags = 0, inner?: number) {
  const fd = create(k, type, key, value, entries, flags, inner);
  assertTrue(fd >= 3, `create ${type} k${key} v${value} e${entries} f${flags}: ${fd}`);
  return fd;
}

function idOf(k: Kernel, fd: number): number {
  const info = k.sys.mapInfo(fd);
  assertTrue(typeof info !== "number");
  return info.id;
}

function lookupId(k: Kernel, outer: number, key: number): number {
  const out = new Uint8Array(4);
  const r = k.sys.mapLookupElem(outer, u32(key), out);
  return r === 0 ? readU32(out) : r;
}

/** A map type that never opted in as an inner map (no map_meta_equal op), e.g. prog_array. */
class NoMetaEqualMap extends BpfMap {
  lookupElem(): number {
    return 0;
  }
  memUsage(): number {
    return 0;
  }
  free(): void {
    this.freed = true;
  }
}

function fakeAttr(k: Kernel, mapType: number, inner: BpfMap | null): MapAttr {
  return {
    mapType,
    keySize: 4,
    valueSize: 4,
    maxEntries: 4,
    mapFlags: 0,
    name: "",
    numaNode: -1,
    innerMapFd: 100,
    resolveMapFd: () => inner ?? k.sys.fdGetMap(9999),
    mapExtra: 0,
  };
}

Deno.test("meta_equal: max_entries compared for every type before 5.10, only for arrays from 5.10", () => {
  for (const profile of ["v5.7", "v5.11", "v6.18"]) {
    withKernel({ profile }, (k) => {
      const old = profile === "v5.7";
      const th = mustCreate(k, "hash", 4, 4, 4);
      const ho = mustCreate(k, "hash_of_maps", 4, 4, 16, 0, th);
      const ta = mustCreate(k, "array", 4, 4, 4);
      const ao = mustCreate(k, "array_of_maps", 4, 4, 16, 0, ta);
      const tq = mustCreate(k, "queue", 0, 4, 4);
      const qo = mustCreate(k, "array_of_maps", 4, 4, 16, 0, tq);
      const cases: [number, string, number, number, number, number, number][] = [
        // outer, type, key, value, entries, flags, expected
        [ho, "hash", 4, 4, 4, 0, 0],
        [ho, "hash", 4, 4, 64, 0, old ? EINVAL : 0],
        [ho, "hash", 4, 4, 2, 0, old ? EINVAL : 0],
        [ho, "hash", 8, 4, 4, 0, EINVAL],
        [ho, "hash", 4, 8, 4, 0, EINVAL],
        [ho, "hash", 4, 4, 4, 1, EINVAL],
        [ho, "percpu_hash", 4, 4, 4, 0, EINVAL],
        [ho, "array", 4, 4, 4, 0, EINVAL],
        [ao, "array", 4, 4, 4, 0, 0],
        [ao, "array", 4, 4, 8, 0, EINVAL],
        [ao, "array", 4, 4, 2, 0, EINVAL],
        [ao, "percpu_array", 4, 4, 4, 0, EINVAL],
        [qo, "queue", 0, 4, 4, 0, 0],
        [qo, "queue", 0, 4, 16, 0, old ? EINVAL : 0],
        [qo, "stack", 0, 4, 4, 0, EINVAL],
      ];
      cases.forEach(([outer, type, key, value, entries, flags, want], i) => {
        const fd = mustCreate(k, type, key, value, entries, flags);
        assertEquals(k.sys.mapUpdateElem(outer, u32(i), u32(fd)), want, `${profile} case ${i}`);
        if (want === 0) assertEquals(lookupId(k, outer, i), idOf(k, fd), `${profile} case ${i}`);
        k.sys.close(fd);
      });
    });
  }
});

Deno.test("BPF_F_INNER_MAP (5.10+): an array template with it accepts any max_entries with the same flags", () => {
  withKernel({ profile: "v5.7" }, (k) => {
    // the flag does not exist yet
    assertEquals(create(k, "array", 4, 4, 4, BPF_F_INNER_MAP), EINVAL);
  });
  for (const profile of ["v5.11", "v6.18"]) {
    withKernel({ profile }, (k) => {
      const t = mustCreate(k, "array", 4, 4, 4, BPF_F_INNER_MAP);
      const o = mustCreate(k, "array_of_maps", 4, 4, 4, 0, t);
      const fit = mustCreate(k, "array", 4, 4, 1000, BPF_F_INNER_MAP);
      const noFlag = mustCreate(k, "array", 4, 4, 4);
      assertEquals(k.sys.mapUpdateElem(o, u32(0), u32(fit)), 0);
      assertEquals(k.sys.mapUpdateElem(o, u32(1), u32(noFlag)), EINVAL, "flags differ");
      // the flag is only for arrays, never for an outer map
      assertEquals(create(k, "array_of_maps", 4, 4, 4, BPF_F_INNER_MAP, t), EINVAL);
      assertEquals(create(k, "hash", 4, 4, 4, BPF_F_INNER_MAP), EINVAL);
    });
  }
});

Deno.test("template checks: no map_meta_equal op -> ENOTSUPP (5.10+), prog_array/cgroup storage by type before", () => {
  for (const profile of ["v5.7", "v6.18"]) {
    withKernel({ profile }, (k) => {
      const old = profile === "v5.7";
      k.exec(0, () => {
        const progArray = new NoMetaEqualMap(k, fakeAttr(k, BPF_MAP_TYPE_PROG_ARRAY, null));
        assertEquals(bpf_map_meta_alloc(k, fakeAttr(k, 12, progArray)), -ENOTSUPP, `${profile} prog_array`);
        const devmap = new NoMetaEqualMap(k, fakeAttr(k, BPF_MAP_TYPE_DEVMAP, null));
        const meta = bpf_map_meta_alloc(k, fakeAttr(k, 12, devmap));
        if (old) {
          // before 5.10 every other type could be an inner map
          assertTrue(typeof meta !== "number", "devmap template on 5.7");
          assertEquals(meta.mapType, BPF_MAP_TYPE_DEVMAP);
          bpf_map_meta_free(meta);
        } else {
          assertEquals(meta, -ENOTSUPP, "devmap never opted in");
        }
        // the template fd's own errno comes first
        assertEquals(bpf_map_meta_alloc(k, fakeAttr(k, 12, null)), -9);
      });
      // a map-in-map template: one level of nesting only
      const t = mustCreate(k, "array", 4, 4, 4);
      const ao = mustCreate(k, "array_of_maps", 4, 4, 4, 0, t);
      const ho = mustCreate(k, "hash_of_maps", 4, 4, 4, 0, t);
      for (const outer of [ao, ho]) {
        assertEquals(create(k, "array_of_maps", 4, 4, 4, 0, outer), EINVAL);
        assertEquals(create(k, "hash_of_maps", 4, 4, 4, 0, outer), EINVAL);
        // nor can an outer map go into a slot
        assertEquals(k.sys.mapUpdateElem(ao, u32(0), u32(outer)), EINVAL);
      }
      // outer maps have no map_meta_equal op themselves
      assertEquals(k.sys.mapOf(ao)!.metaEqual, undefined);
      assertEquals(k.sys.mapOf(ho)!.metaEqual, undefined);
      // value must be an fd (u32), in every release
      assertEquals(create(k, "array_of_maps", 4, 8, 4, 0, t), EINVAL);
      assertEquals(create(k, "hash_of_maps", 4, 8, 4, 0, t), EINVAL);
      assertEquals(create(k, "hash_of_maps", 4, 2, 4, 0, t), EINVAL);
      // no template: libbpf sends fd 0 (stdin), which is not a map
      assertEquals(k.sys.mapCreate({ mapType: "array_of_maps", keySize: 4, valueSize: 4, maxEntries: 4 }), EINVAL);
      assertEquals(create(k, "hash_of_maps", 4, 4, 4, 0, 4000), -9);
    });
  }
});

Deno.test("lifetime: an unreferenced inner map lives (and is listed) while a slot holds it; delete frees it", () => {
  for (const type of ["array_of_maps", "hash_of_maps"]) {
    withKernel({ profile: "v6.18" }, (k) => {
      const t = mustCreate(k, "array", 4, 4, 4);
      const o = mustCreate(k, type, 4, 4, 4, 0, t);
      const a = mustCreate(k, "array", 4, 4, 4);
      const idA = idOf(k, a);
      const inner = k.sys.mapOf(a)!;
      assertEquals(k.sys.mapUpdateElem(o, u32(1), u32(a)), 0);
      assertEquals(k.sys.mapUpdateElem(o, u32(2), u32(a)), 0);
      assertEquals(k.sys.close(a), 0);
      k.quiesce();
      // the outer map's two slots hold kernel references, not user ones
      assertEquals([inner.refcnt, inner.usercnt, inner.freed], [2, 0, false]);
      assertTrue(k.bpf.allMaps().includes(inner), "listed");
      assertEquals(lookupId(k, o, 1), idA);
      assertEquals(k.sys.mapDeleteElem(o, u32(1)), 0);
      k.quiesce();
      assertEquals([inner.refcnt, inner.freed], [1, false]);
      assertEquals(lookupId(k, o, 2), idA);
      assertEquals(k.sys.mapDeleteElem(o, u32(2)), 0);
      // the id goes with the last reference; the memory after a grace period
      assertEquals(k.bpf.mapById(idA), undefined);
      assertEquals(k.sys.mapGetFdById(idA), ENOENT);
      assertEquals(inner.freed, false);
      assertTrue(k.bpf.dying.has(inner));
      k.quiesce();
      assertEquals(inner.freed, true);
      assertEquals(lookupId(k, o, 2), ENOENT);
    });
  }
});

/** Empties slot `key` of `outer` straight from kernel code (no synchronize_rcu of the syscall). */
function deleteInKernel(k: Kernel, outerFd: number, key: number): number {
  const outer = k.sys.mapOf(outerFd)!;
  return k.exec(0, () => outer.deleteElem(u32(key))) as number;
}

Deno.test("6.7+: a removed inner map is freed only after an RCU grace period; before 6.7 at once", () => {
  for (const profile of ["v6.1", "v6.15", "v6.18"]) {
    for (const type of ["array_of_maps", "hash_of_maps"]) {
      withKernel({ profile }, (k) => {
        const deferred = profile !== "v6.1";
        const t = mustCreate(k, "hash", 4, 4, 4);
        const o = mustCreate(k, type, 4, 4, 4, 0, t);
        const a = mustCreate(k, "hash", 4, 4, 4);
        const inner = k.sys.mapOf(a)!;
        assertEquals(k.sys.mapUpdateElem(o, u32(0), u32(a)), 0);
        k.sys.close(a);
        k.quiesce();
        const queued = k.rcu.normal.queued;
        assertEquals(deleteInKernel(k, o, 0), 0);
        assertEquals(k.rcu.normal.queued - queued, deferred ? 1 : 0, `${profile} ${type}: call_rcu`);
        const t0 = k.cpus[0].clock;
        k.run({ until: t0 + k.config.rcuGpNs / 2 });
        assertEquals(inner.freed, !deferred, `${profile} ${type}: freed within half a grace period`);
        k.quiesce();
        assertEquals(inner.freed, true);
      });
    }
  }
});

Deno.test("free_after_rcu_gp sticks: an inner map still open elsewhere is freed after a GP when its fd closes", () => {
  withKernel({ profile: "v6.18" }, (k) => {
    const t = mustCreate(k, "array", 4, 4, 4);
    const o = mustCreate(k, "array_of_maps", 4, 4, 4, 0, t);
    const a = mustCreate(k, "array", 4, 4, 4);
    const inner = k.sys.mapOf(a)!;
    assertEquals(k.sys.mapUpdateElem(o, u32(3), u32(a)), 0);
    assertEquals(k.sys.mapDeleteElem(o, u32(3)), 0);
    k.quiesce();
    assertEquals(inner.freed, false, "the fd still holds it");
    const queued = k.rcu.normal.queued;
    k.sys.close(a);
    assertEquals(k.rcu.normal.queued - queued, 1, "the last put goes through call_rcu");
    k.quiesce();
    assertEquals(inner.freed, true);
    // a map never removed from a slot is freed without a grace period
    const b = mustCreate(k, "array", 4, 4, 4);
    const q2 = k.rcu.normal.queued;
    k.sys.close(b);
    assertEquals(k.rcu.normal.queued, q2);
  });
});

Deno.test("replacing a slot releases the old inner map only after a grace period", () => {
  for (const type of ["array_of_maps", "hash_of_maps"]) {
    withKernel({ profile: "v6.18" }, (k) => {
      const t = mustCreate(k, "array", 4, 4, 4);
      const o = mustCreate(k, type, 4, 4, 4, 0, t);
      const a = mustCreate(k, "array", 4, 4, 4);
      const b = mustCreate(k, "array", 4, 4, 4);
      const [ia, ib] = [k.sys.mapOf(a)!, k.sys.mapOf(b)!];
      const [idA, idB] = [idOf(k, a), idOf(k, b)];
      assertEquals(k.sys.mapUpdateElem(o, u32(0), u32(a)), 0);
      k.sys.close(a);
      k.quiesce();
      assertEquals(k.sys.mapUpdateElem(o, u32(0), u32(b)), 0);
      assertEquals(lookupId(k, o, 0), idB);
      assertEquals(k.bpf.mapById(idA), undefined);
      assertEquals(ia.freed, false);
      k.quiesce();
      assertEquals(ia.freed, true);
      assertEquals([ib.refcnt, ib.usercnt], [2, 1]);
    });
  }
});

Deno.test("the outer map holds its inner maps until it dies, then puts them without deferral", () => {
  for (const type of ["array_of_maps", "hash_of_maps"]) {
    withKernel({ profile: "v6.18" }, (k) => {
      const t = mustCreate(k, "array", 4, 4, 4);
      const o = mustCreate(k, type, 4, 4, 4, 0, t);
      // the template is copied: closing it frees it, the outer map keeps working
      const tmpl = k.sys.mapOf(t)!;
      k.sys.close(t);
      k.quiesce();
      assertEquals(tmpl.freed, true);
      const inners: BpfMap[] = [];
      for (let i = 0; i < 3; i++) {
        const fd = mustCreate(k, "array", 4, 4, 4);
        inners.push(k.sys.mapOf(fd)!);
        assertEquals(k.sys.mapUpdateElem(o, u32(i), u32(fd)), 0);
        k.sys.close(fd);
      }
      const bad = mustCreate(k, "array", 4, 4, 8);
      assertEquals(k.sys.mapUpdateElem(o, u32(3), u32(bad)), EINVAL, "the copy still checks max_entries");
      k.sys.close(bad);
      k.quiesce();
      assertEquals(inners.map((m) => m.freed), [false, false, false]);
      const outer = k.sys.mapOf(o)!;
      const queued = k.rcu.normal.queued;
      k.sys.close(o);
      k.quiesce();
      assertEquals(k.rcu.normal.queued, queued, "no grace period for a dying outer map's slots");
      assertEquals([outer.freed, ...inners.map((m) => m.freed)], [true, true, true, true]);
    });
  }
});

/** Two u32 keys in the same bucket of a 4-bucket zero-seed hash. */
function sameBucketKeys(): [number, number] {
  const bucket = (n: number) => jhash2(u32(n), 0, 1, 0) & 3;
  for (let b = 1; b < 100; b++) if (bucket(b) === bucket(0)) return [0, b];
  throw new Error("no collision");
}

Deno.test("hash_of_maps: 6.16+ updates a present key in place; before, a new element replaces it", () => {
  const [k1, k2] = sameBucketKeys();
  for (const profile of ["v6.15", "v6.18"]) {
    withKernel({ profile }, (k) => {
      const inPlace = profile === "v6.18";
      const t = mustCreate(k, "array", 4, 4, 4);
      const h = mustCreate(k, "hash_of_maps", 4, 4, 4, BPF_F_ZERO_SEED, t);
      // prealloc: no extra_elems from 6.16, max_entries + ncpu elements before
      const info = k.sys.mapInfo(h);
      assertTrue(typeof info !== "number");
      assertEquals(info.memlock, inPlace ? 1232 : 1360, `${profile} memlock`);
      const a = mustCreate(k, "array", 4, 4, 4);
      const b = mustCreate(k, "array", 4, 4, 4);
      assertEquals(k.sys.mapUpdateElem(h, u32(k1), u32(a)), 0);
      assertEquals(k.sys.mapUpdateElem(h, u32(k2), u32(a)), 0);
      assertEquals(keysU32(k, h), [k2, k1], "newest first in the bucket");
      assertEquals(k.sys.mapUpdateElem(h, u32(k1), u32(b)), 0);
      assertEquals(keysU32(k, h), inPlace ? [k2, k1] : [k1, k2], `${profile}: order after updating ${k1}`);
      assertEquals(lookupId(k, h, k1), idOf(k, b));
      // full: a new key fails, replacing a present one works (extra_elems or in place)
      assertEquals(k.sys.mapUpdateElem(h, u32(200), u32(a)), 0);
      assertEquals(k.sys.mapUpdateElem(h, u32(201), u32(a)), 0);
      assertEquals(k.sys.mapUpdateElem(h, u32(202), u32(a)), E2BIG);
      for (let i = 0; i < 10; i++) assertEquals(k.sys.mapUpdateElem(h, u32(k2), u32(i % 2 ? a : b)), 0);
      assertEquals(lookupId(k, h, k2), idOf(k, a));
      const ia = k.sys.mapOf(a)!;
      // slots k2, 200, 201 and the fd
      assertEquals(ia.refcnt, 4);
    });
  }
});

Deno.test("programs will see inner map pointers: the slot holds the inner map's struct address", () => {
  withKernel({ profile: "v6.18" }, (k) => {
    const ta = mustCreate(k, "array", 4, 4, 4);
    const th = mustCreate(k, "hash", 4, 4, 4);
    const ao = mustCreate(k, "array_of_maps", 4, 4, 4, 0, ta);
    const ho = mustCreate(k, "hash_of_maps", 8, 4, 4, 1, th);
    const a = mustCreate(k, "array", 4, 4, 4);
    const h = mustCreate(k, "hash", 4, 4, 4);
    assertEquals(k.sys.mapUpdateElem(ao, u32(2), u32(a)), 0);
    assertEquals(k.sys.mapUpdateElem(ho, new Uint8Array(8).fill(7), u32(h)), 0);
    const outerA = k.sys.mapOf(ao) as ArrayOfMaps;
    const outerH = k.sys.mapOf(ho) as HashOfMaps;
    assertTrue(outerA instanceof ArrayOfMaps && outerH instanceof HashOfMaps);
    k.exec(0, () => {
      const pa = outerA.lookupElem(u32(2));
      assertEquals(pa, (k.sys.mapOf(a) as BpfArray).addr, "struct bpf_array");
      assertEquals(k.mem.readPtr(outerA.slotAddr(u32(2))), pa);
      assertEquals(outerA.innerMap(pa), k.sys.mapOf(a));
      assertEquals(outerA.lookupElem(u32(1)), 0, "empty slot");
      assertEquals(outerA.lookupElem(u32(4)), 0, "past the end");
      const ph = outerH.lookupElem(new Uint8Array(8).fill(7));
      assertEquals(ph, (k.sys.mapOf(h) as Htab).structAddr, "struct bpf_htab");
      assertEquals(outerH.innerMap(ph), k.sys.mapOf(h));
      assertEquals(outerH.lookupElem(new Uint8Array(8)), 0);
    });
  });
});

Deno.test("outer maps survive a snapshot: slots, ids, the template copy and later updates", () => {
  for (const profile of ["v5.7", "v6.18"]) {
    const k = new Kernel({ profile, seed: 3 });
    const t = mustCreate(k, "array", 4, 4, 4);
    const o = mustCreate(k, "array_of_maps", 4, 4, 4, 0, t);
    const ht = mustCreate(k, "hash", 4, 4, 4);
    const h = mustCreate(k, "hash_of_maps", 4, 4, 4, 0, ht);
    const a = mustCreate(k, "array", 4, 4, 4);
    const hi = mustCreate(k, "hash", 4, 4, 4);
    assertEquals(k.sys.mapUpdateElem(o, u32(1), u32(a)), 0);
    assertEquals(k.sys.mapUpdateElem(h, u32(9), u32(hi)), 0);
    const ids = [idOf(k, a), idOf(k, hi)];
    assertEquals(k.sys.objPin(o, "/sys/fs/bpf/aom"), 0);
    assertEquals(k.sys.objPin(h, "/sys/fs/bpf/hom"), 0);
    k.sys.exit();
    k.quiesce();
    const k2 = loadKernel(saveKernel(k));
    const o2 = k2.sys.objGet("/sys/fs/bpf/aom");
    const h2 = k2.sys.objGet("/sys/fs/bpf/hom");
    assertEquals([lookupId(k2, o2, 1), lookupId(k2, h2, 9)], ids);
    const bad = mustCreate(k2, "array", 4, 4, 8);
    assertEquals(k2.sys.mapUpdateElem(o2, u32(0), u32(bad)), EINVAL);
    const good = mustCreate(k2, "hash", 4, 4, 64);
    assertEquals(k2.sys.mapUpdateElem(h2, u32(9), u32(good)), profile === "v5.7" ? EINVAL : 0);
    assertEquals(k2.sys.mapDeleteElem(o2, u32(1)), 0);
    assertEquals(k2.bpf.mapById(ids[0]), undefined);
    leakCheck(k2);
  }
});
