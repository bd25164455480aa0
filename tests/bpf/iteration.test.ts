// get_next_key order (KERNEL-NOTES 2.9, REAL-KERNEL-FINDINGS §6). Hash maps
// walk buckets 0..n_buckets-1 (n = roundup_pow_of_two(max_entries)), newest
// first within a bucket; the bucket is jhash(key, seed) & (n-1). With
// BPF_F_ZERO_SEED the seed is 0, so the order is reproducible: the goldens in
// tests/testdata/kernel/zero_seed_order.json were recorded on the real
// kernel with bpftool (record.py, order_cases) and are replayed here.

import { assertEquals, assertTrue } from "../assert.ts";
import { createRecorded, keysU32, readU32, type RecordedCreate, u32, u64, withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { E2BIG, EEXIST, ENOENT } from "../../lib/kernel/errno.ts";
import type { Htab } from "../../lib/bpf/hashtab.ts";
import { BPF_ANY, BPF_EXIST, BPF_F_NO_PREALLOC, BPF_F_ZERO_SEED, BPF_NOEXIST } from "../../lib/bpf/uapi.ts";

/** A create recorded on the real kernel, and what it recorded. */
interface OrderCase extends RecordedCreate {
  name: string;
  create: string;
  phases: { ops: [string, number[]][]; rc: number[]; order: number[][] }[];
  getnext: { from: number[] | null; rc: number; next: number[] | null }[];
}

const golden: {
  env: { uname: string; ncpu: number };
  cases: OrderCase[];
  array: { order: number[][]; getnext: { from: number[] | null; rc: number; next: number[] | null }[] };
} = JSON.parse(Deno.readTextFileSync(new URL("../testdata/kernel/zero_seed_order.json", import.meta.url)));

/** Little-endian bytes of n (record.py's le()). */
function le(n: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt(n);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** bpftool's exit status for a bpf(2) result (-errno mod 256). */
function bpftoolRc(r: number): number {
  return r < 0 ? (256 + r) & 0xff : 0;
}

/** Every key in get_next_key order, as byte arrays. */
function walk(k: Kernel, fd: number, keySize: number): number[][] {
  const out: number[][] = [];
  let cur: Uint8Array | null = null;
  for (let guard = 0; guard < 1e6; guard++) {
    const next = new Uint8Array(keySize);
    if (k.sys.mapGetNextKey(fd, cur, next) !== 0) break;
    out.push(Array.from(next));
    cur = next;
  }
  return out;
}

for (const c of golden.cases) {
  Deno.test(`zero-seed order golden: ${c.name} (${c.create.replace(/^.*type /, "")})`, () => {
    withKernel({ cpus: golden.env.ncpu }, (k) => {
      const fd = createRecorded(k, c);
      assertTrue(fd >= 0, `create: ${fd}`);
      const percpu = c.type.startsWith("percpu");
      c.phases.forEach((ph, pi) => {
        ph.ops.forEach(([op, keyBytes], oi) => {
          const kb = Uint8Array.from(keyBytes);
          const key = kb.reduce((a, b, i) => (i < 4 ? a + b * 2 ** (8 * i) : a), 0);
          let r: number;
          if (op === "d") {
            r = k.sys.mapDeleteElem(fd, kb);
          } else {
            // value = the key's low 32 bits as a u64; bpftool copies it to every CPU
            const one = le(key, c.value);
            const v = new Uint8Array(percpu ? ((c.value + 7) & ~7) * k.ncpu : c.value);
            for (let off = 0; off < v.length; off += (c.value + 7) & ~7) v.set(one, off);
            r = k.sys.mapUpdateElem(fd, kb, v, { u: BPF_ANY, n: BPF_NOEXIST, x: BPF_EXIST }[op]!);
          }
          assertEquals(bpftoolRc(r), ph.rc[oi], `phase ${pi} op ${oi} ${op} ${key}`);
        });
        assertEquals(walk(k, fd, c.key), ph.order, `order after phase ${pi}`);
      });
      for (const p of c.getnext) {
        const next = new Uint8Array(c.key);
        const r = k.sys.mapGetNextKey(fd, p.from ? Uint8Array.from(p.from) : null, next);
        assertEquals(bpftoolRc(r), p.rc, `getnext from ${JSON.stringify(p.from)}`);
        if (p.next) assertEquals(Array.from(next), p.next, `getnext from ${JSON.stringify(p.from)}`);
      }
    });
  });
}

Deno.test("array order golden: 0..E-1; getnext from E-1 is ENOENT, from >= E is 0", () => {
  withKernel({ cpus: golden.env.ncpu }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 4, maxEntries: 5 });
    assertEquals(walk(k, fd, 4), golden.array.order);
    for (const p of golden.array.getnext) {
      const next = new Uint8Array(4);
      const r = k.sys.mapGetNextKey(fd, p.from ? Uint8Array.from(p.from) : null, next);
      assertEquals(bpftoolRc(r), p.rc, `getnext from ${JSON.stringify(p.from)}`);
      if (p.next) assertEquals(Array.from(next), p.next);
    }
  });
});

Deno.test("iteration: buckets in index order, newest first in a bucket; n_buckets = roundup_pow_of_two", () => {
  for (const flags of [0, BPF_F_NO_PREALLOC]) {
    withKernel({ cpus: 2 }, (k) => {
      for (const [entries, nb] of [[1, 1], [2, 2], [3, 4], [5, 8], [100, 128], [1024, 1024], [1025, 2048]]) {
        const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: entries, mapFlags: flags });
        const h = k.sys.mapOf(fd) as Htab;
        assertEquals(h.nBuckets, nb, `n_buckets for max_entries ${entries}`);
        const n = Math.min(entries, 300);
        const inserted: number[] = [];
        for (let i = 0; i < n; i++) {
          const key = (i * 2654435761) >>> 0;
          assertEquals(k.sys.mapUpdateElem(fd, u32(key), u64(i), BPF_NOEXIST), 0);
          inserted.push(key);
        }
        const order = keysU32(k, fd);
        assertEquals(order.length, n);
        const bucket = (key: number) => h.hash(u32(key)) & (nb - 1);
        for (let i = 1; i < order.length; i++) {
          const a = bucket(order[i - 1]), b = bucket(order[i]);
          assertTrue(a <= b, "bucket indices never go down");
          if (a === b) assertTrue(inserted.indexOf(order[i - 1]) > inserted.indexOf(order[i]), "newest first");
        }
        k.sys.close(fd);
      }
    });
  }
});

Deno.test("iteration: updating an existing key moves it to the head of its bucket", () => {
  withKernel({ cpus: 2 }, (k) => {
    // keys that share bucket 0 of 4: the walk shows the chain order
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: BPF_F_ZERO_SEED });
    const h = k.sys.mapOf(fd) as Htab;
    // find 3 keys sharing a bucket
    const same: number[] = [];
    for (let key = 0; same.length < 3; key++) if ((h.hash(u32(key)) & 3) === 0) same.push(key);
    for (const key of same) assertEquals(k.sys.mapUpdateElem(fd, u32(key), u64(key), BPF_ANY), 0);
    assertEquals(keysU32(k, fd), [same[2], same[1], same[0]]);
    assertEquals(k.sys.mapUpdateElem(fd, u32(same[0]), u64(7), BPF_EXIST), 0);
    assertEquals(keysU32(k, fd), [same[0], same[2], same[1]]);
    // a failed update leaves the order alone
    assertEquals(k.sys.mapUpdateElem(fd, u32(same[1]), u64(7), BPF_NOEXIST), -EEXIST);
    assertEquals(keysU32(k, fd), [same[0], same[2], same[1]]);
    // percpu hash updates in place: no move
    const pfd = k.sys.mapCreate({
      mapType: "percpu_hash",
      keySize: 4,
      valueSize: 8,
      maxEntries: 4,
      mapFlags: BPF_F_ZERO_SEED,
    });
    const pv = new Uint8Array(16);
    for (const key of same) assertEquals(k.sys.mapUpdateElem(pfd, u32(key), pv, BPF_ANY), 0);
    assertEquals(k.sys.mapUpdateElem(pfd, u32(same[0]), pv, BPF_EXIST), 0);
    assertEquals(keysU32(k, pfd), [same[2], same[1], same[0]]);
  });
});

Deno.test("iteration: get_next_key of a deleted key restarts from the first key (duplicates possible)", () => {
  for (const flags of [BPF_F_ZERO_SEED, BPF_F_ZERO_SEED | BPF_F_NO_PREALLOC]) {
    withKernel({ cpus: 2 }, (k) => {
      const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16, mapFlags: flags });
      for (let i = 0; i < 10; i++) k.sys.mapUpdateElem(fd, u32(i), u64(i), BPF_ANY);
      const order = keysU32(k, fd);
      const next = new Uint8Array(4);
      // walk to the 4th key, delete it, continue: back to the first key
      const cur = u32(order[3]);
      assertEquals(k.sys.mapDeleteElem(fd, cur), 0);
      assertEquals(k.sys.mapGetNextKey(fd, cur, next), 0);
      assertEquals(readU32(next), order[0]);
      // the classic "delete while walking" loop still terminates and sees every key
      const seen = new Set<number>();
      let key: Uint8Array | null = null;
      let steps = 0;
      while (k.sys.mapGetNextKey(fd, key, next) === 0) {
        seen.add(readU32(next));
        if (key) k.sys.mapDeleteElem(fd, key);
        key = next.slice();
        steps++;
      }
      if (key) k.sys.mapDeleteElem(fd, key);
      assertEquals(seen.size, 9);
      assertTrue(steps >= 9);
      assertEquals(k.sys.mapGetNextKey(fd, null, next), -ENOENT);
    });
  }
});

Deno.test("iteration: empty map, absent key, last key", () => {
  for (const mapType of ["hash", "percpu_hash"]) {
    for (const flags of [0, BPF_F_NO_PREALLOC]) {
      withKernel({ cpus: 2 }, (k) => {
        const fd = k.sys.mapCreate({ mapType, keySize: 4, valueSize: 8, maxEntries: 8, mapFlags: flags });
        const next = new Uint8Array(4);
        assertEquals(k.sys.mapGetNextKey(fd, null, next), -ENOENT, "empty, NULL key");
        assertEquals(k.sys.mapGetNextKey(fd, u32(5), next), -ENOENT, "empty, absent key");
        const v = new Uint8Array(mapType === "hash" ? 8 : 16);
        for (const key of [11, 22, 33]) assertEquals(k.sys.mapUpdateElem(fd, u32(key), v, BPF_ANY), 0);
        const order = keysU32(k, fd);
        assertEquals(order.length, 3);
        assertEquals(k.sys.mapGetNextKey(fd, u32(99), next), 0);
        assertEquals(readU32(next), order[0], "absent key -> first key");
        assertEquals(k.sys.mapGetNextKey(fd, u32(order[2]), next), -ENOENT, "last key");
        assertEquals(k.sys.mapUpdateElem(fd, u32(44), v, BPF_ANY), 0);
        assertEquals(keysU32(k, fd).length, 4);
      });
    }
  }
});

Deno.test("iteration: two zero-seed maps with the same inserts iterate identically; random seeds differ", () => {
  withKernel({ cpus: 2, seed: 7 }, (k) => {
    const mk = (flags: number) => {
      const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 512, mapFlags: flags });
      for (let i = 0; i < 300; i++) assertEquals(k.sys.mapUpdateElem(fd, u32(i), u64(i), BPF_NOEXIST), 0);
      return keysU32(k, fd);
    };
    const z1 = mk(BPF_F_ZERO_SEED), z2 = mk(BPF_F_ZERO_SEED), z3 = mk(BPF_F_ZERO_SEED | BPF_F_NO_PREALLOC);
    assertEquals(z1, z2);
    assertEquals(z1, z3);
    const r1 = mk(0), r2 = mk(0);
    assertEquals([...r1].sort((a, b) => a - b), [...z1].sort((a, b) => a - b));
    assertTrue(JSON.stringify(r1) !== JSON.stringify(r2), "per-map random seeds give different orders");
    assertTrue(JSON.stringify(r1) !== JSON.stringify(z1));
  });
  // the per-map seed comes from the kernel's seeded PRNG: same kernel seed, same order
  const run = () => {
    let order: number[] = [];
    withKernel({ cpus: 2, seed: 42 }, (k) => {
      const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64 });
      for (let i = 0; i < 50; i++) k.sys.mapUpdateElem(fd, u32(i), u64(i), BPF_ANY);
      order = keysU32(k, fd);
    });
    return order;
  };
  assertEquals(run(), run());
});

Deno.test("iteration: a full prealloc map walks exactly max_entries keys; E2BIG beyond", () => {
  withKernel({ cpus: 4 }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 100 });
    for (let i = 0; i < 100; i++) assertEquals(k.sys.mapUpdateElem(fd, u32(i), u64(i), BPF_NOEXIST), 0);
    assertEquals(k.sys.mapUpdateElem(fd, u32(100), u64(0), BPF_NOEXIST), -E2BIG);
    assertEquals(new Set(keysU32(k, fd)).size, 100);
  });
});
