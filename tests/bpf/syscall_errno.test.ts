// bpf(2) errno for bad input on hash, percpu_hash, array, percpu_array,
// queue and stack (KERNEL-NOTES 2.2, 2.5; REAL-KERNEL-FINDINGS §4, §9, §12).
// The first part replays tests/testdata/kernel/errno.json: scenarios recorded
// from the real 6.18 kernel through raw bpf(2) (tests/testdata/kernel/
// record.py), step by step, comparing every return value, every copied-out
// value, the memlock at creation and the id sequence. The second part checks
// the kernel's order of checks where the golden alone cannot tell.

import { assertEquals, assertTrue } from "../assert.ts";
import { withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import {
  E2BIG,
  EBADF,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOTSUPP,
  EOPNOTSUPP,
  EPERM,
} from "../../lib/kernel/errno.ts";
import { BPF_F_NO_PREALLOC, BPF_F_RDONLY, BPF_F_WRONLY, BPF_F_ZERO_SEED } from "../../lib/bpf/uapi.ts";

// ------------------------------------------------------------ golden replay

interface Step {
  op: "create" | "update" | "lookup" | "lookup_and_delete" | "delete" | "getnext" | "freeze";
  r: number | "fd";
  as?: string;
  type?: string | number;
  key?: number;
  value?: number;
  entries?: number;
  flags?: number;
  name?: string;
  id?: number;
  memlock?: number;
  map?: string | number;
  k?: string | null;
  v?: string;
  out?: string | null;
}

interface Golden {
  env: { uname: string; ncpu: number; bpftool: string };
  scenarios: { name: string; steps: Step[] }[];
}

const golden: Golden = JSON.parse(
  Deno.readTextFileSync(new URL("../testdata/kernel/errno.json", import.meta.url)),
);

function unhex(s: string | null | undefined): Uint8Array | null {
  if (s === null || s === undefined) return null;
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

interface SimMap {
  fd: number;
  type: string | number;
  keySize: number;
  valueSize: number;
  flags: number;
}

/**
 * Known differences between bpfsim and the real kernel that the golden
 * records: "<scenario>#<step index>" -> why. The replay asserts that these
 * still differ, so that fixing one makes this list shrink.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {};

function replay(k: Kernel, name: string, steps: Step[]): void {
  const maps = new Map<string, SimMap>();
  const ids: number[] = [];
  const realIds: number[] = [];
  const fdOf = (m: string | number | undefined): number => typeof m === "number" ? m : maps.get(m!)!.fd;
  const vsize = (m: string | number | undefined): number => {
    if (typeof m === "number") return 8;
    const s = maps.get(m!)!;
    const percpu = typeof s.type === "string" && s.type.startsWith("percpu");
    return percpu ? ((s.valueSize + 7) & ~7) * k.ncpu : s.valueSize;
  };
  const ksize = (m: string | number | undefined): number => typeof m === "number" ? 4 : maps.get(m!)!.keySize;
  steps.forEach((st, i) => {
    const where = `${name}#${i} ${JSON.stringify(st)}`;
    let r: number;
    let out: Uint8Array | null = null;
    switch (st.op) {
      case "create": {
        r = k.sys.mapCreate({
          mapType: st.type!,
          keySize: st.key!,
          valueSize: st.value!,
          maxEntries: st.entries!,
          mapFlags: st.flags! >>> 0,
          name: st.name,
        });
        if (r >= 0) {
          maps.set(st.as!, { fd: r, type: st.type!, keySize: st.key!, valueSize: st.value!, flags: st.flags! });
          const info = k.sys.mapInfo(r);
          assertTrue(typeof info !== "number");
          ids.push(info.id);
          realIds.push(st.id!);
          assertEquals(info.memlock, st.memlock, `memlock ${where}`);
        }
        break;
      }
      case "update":
        r = k.sys.mapUpdateElem(fdOf(st.map), unhex(st.k), unhex(st.v)!, st.flags);
        break;
      case "lookup":
        out = new Uint8Array(vsize(st.map));
        r = k.sys.mapLookupElem(fdOf(st.map), unhex(st.k), out, st.flags);
        break;
      case "lookup_and_delete":
        out = new Uint8Array(vsize(st.map));
        r = k.sys.mapLookupAndDeleteElem(fdOf(st.map), unhex(st.k), out, st.flags);
        break;
      case "delete":
        r = k.sys.mapDeleteElem(fdOf(st.map), unhex(st.k));
        break;
      case "getnext":
        out = new Uint8Array(ksize(st.map));
        r = k.sys.mapGetNextKey(fdOf(st.map), unhex(st.k), out);
        break;
      case "freeze":
        r = k.sys.mapFreeze(fdOf(st.map));
        break;
    }
    const got = st.op === "create" && r >= 0 ? "fd" : r;
    const known = KNOWN_DIFFERENCES[`${name}#${i}`];
    if (known) {
      assertTrue(got !== st.r, `${where}: listed as a known difference (${known}) but now matches; remove it`);
      return;
    }
    assertEquals(got, st.r, where);
    if (r === 0 && st.out !== undefined && st.out !== null && out) {
      const m = typeof st.map === "string" ? maps.get(st.map) : undefined;
      // a hash map without BPF_F_ZERO_SEED has a random seed: its first key
      // is not reproducible, only that it is one of the map's keys
      const randomOrder = st.op === "getnext" && m && String(m.type).endsWith("hash") &&
        !(m.flags & BPF_F_ZERO_SEED);
      if (!randomOrder) assertEquals(hex(out), st.out, `value ${where}`);
    }
  });
  // ids are sequential and failed creates do not use one
  const deltas = (a: number[]) => a.slice(1).map((x, i) => x - a[i]);
  assertEquals(deltas(ids), deltas(realIds), `${name}: id sequence`);
}

for (const sc of golden.scenarios) {
  Deno.test(`errno golden (${golden.env.uname}): ${sc.name}`, () => {
    withKernel({ cpus: golden.env.ncpu }, (k) => replay(k, sc.name, sc.steps));
  });
}

// ------------------------------------------------------- order of checks

const K4 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const V8 = new Uint8Array(8);

Deno.test("errno: create checks RDONLY|WRONLY before the map type, type before the name", () => {
  withKernel({ cpus: 2 }, (k) => {
    // bpf_get_file_flag() runs before the type is looked up
    assertEquals(
      k.sys.mapCreate({
        mapType: 9999,
        keySize: 4,
        valueSize: 4,
        maxEntries: 1,
        mapFlags: BPF_F_RDONLY | BPF_F_WRONLY,
      }),
      -EINVAL,
    );
    // map_alloc_check errors win over a bad name (the name is copied after alloc)
    assertEquals(
      k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 1 << 30, maxEntries: 1, mapFlags: 1, name: "a-b" }),
      -E2BIG,
    );
    assertEquals(
      k.sys.mapCreate({ mapType: "percpu_array", keySize: 4, valueSize: 32769, maxEntries: 1, name: "bad name" }),
      -E2BIG,
    );
    // unknown flags are EINVAL before the sizes are looked at
    assertEquals(
      k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 1 << 30, maxEntries: 1, mapFlags: 1 << 18 }),
      -EINVAL,
    );
    // a bad name after a good alloc frees the map: nothing leaks, no id used
    assertEquals(k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 4, maxEntries: 64, name: "x y" }), -EINVAL);
    assertEquals(k.bpf.allMaps().length, 0);
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 4, maxEntries: 64, name: "x_y" });
    assertEquals((k.sys.mapInfo(fd) as { id: number }).id, 1);
  });
});

Deno.test("errno: map_extra is EINVAL for every simulated type, before the type's own checks", () => {
  // recorded on the real 6.18 kernel with raw bpf(2): hash, array, queue and
  // ringbuf with map_extra = 1 are all -EINVAL, even a hash whose max_entries
  // alone gives -E2BIG (map_create() checks map_extra before map_alloc_check)
  withKernel({ cpus: 2 }, (k) => {
    const create = (mapType: string, keySize: number, valueSize: number, maxEntries: number, mapExtra: number) =>
      k.sys.mapCreate({ mapType, keySize, valueSize, maxEntries, mapExtra });
    assertEquals(create("hash", 4, 8, 16, 1), -EINVAL);
    assertEquals(create("hash", 4, 8, 0x80000001, 0), -E2BIG);
    assertEquals(create("hash", 4, 8, 0x80000001, 1), -EINVAL);
    assertEquals(create("array", 4, 8, 16, 1), -EINVAL);
    assertEquals(create("queue", 0, 8, 16, 1), -EINVAL);
    assertEquals(create("ringbuf", 0, 0, 4096, 1), -EINVAL);
    // bloom filters take map_extra: that type is refused as not simulated instead
    assertEquals(create("bloom_filter", 0, 8, 16, 1), -EOPNOTSUPP);
    assertEquals(k.bpf.allMaps().length, 0);
    const fd = create("hash", 4, 8, 16, 0);
    assertEquals((k.sys.mapInfo(fd) as { id: number }).id, 1);
  });
  // before 5.16 the field is past BPF_MAP_CREATE_LAST_FIELD: CHECK_ATTR refuses it
  withKernel({ cpus: 2, profile: "v5.11" }, (k) => {
    assertEquals(k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16, mapExtra: 1 }), -EINVAL);
  });
});

Deno.test("errno: MAP_GET_FD_BY_ID open_flags set the new fd's mode; RDONLY|WRONLY is EINVAL before the id lookup", () => {
  // recorded on the real 6.18 kernel with raw bpf(2): a read-only fd cannot
  // update (EPERM), a write-only fd cannot look up (EPERM), both flags are
  // EINVAL even for an id that does not exist (bpf_get_file_flag() first)
  withKernel({ cpus: 2 }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 4, maxEntries: 4 });
    const id = (k.sys.mapInfo(fd) as { id: number }).id;
    const key = new Uint8Array([1, 0, 0, 0]);
    const value = new Uint8Array([2, 0, 0, 0]);
    const ops = (openFlags: number) => {
      const nfd = k.sys.mapGetFdById(id, openFlags);
      if (nfd < 0) return [nfd];
      const r = [k.sys.mapUpdateElem(nfd, key, value, 0), k.sys.mapLookupElem(nfd, key, value, 0)];
      k.sys.close(nfd);
      return r;
    };
    assertEquals(ops(0), [0, 0]);
    assertEquals(ops(BPF_F_RDONLY), [-EPERM, 0]);
    assertEquals(ops(BPF_F_WRONLY), [0, -EPERM]);
    assertEquals(ops(BPF_F_RDONLY | BPF_F_WRONLY), [-EINVAL]);
    assertEquals(k.sys.mapGetFdById(0x7fffff00, BPF_F_RDONLY | BPF_F_WRONLY), -EINVAL);
    assertEquals(k.sys.mapGetFdById(0x7fffff00, 1 << 5), -EINVAL);
    assertEquals(k.sys.mapGetFdById(0x7fffff00, 0), -ENOENT);
  });
});

Deno.test("errno: element ops check the fd, then permissions, then flags, then the key", () => {
  withKernel({ cpus: 2 }, (k) => {
    const ro = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: BPF_F_RDONLY });
    const wo = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: BPF_F_WRONLY });
    // bad fd wins over everything but lookup's flag check (done before fdget)
    assertEquals(k.sys.mapUpdateElem(77, null, V8, -1), -EBADF);
    assertEquals(k.sys.mapLookupElem(77, null, V8, 8), -EINVAL);
    assertEquals(k.sys.mapLookupElem(77, null, V8, 0), -EBADF);
    // permission before flags and before the key copy
    assertEquals(k.sys.mapUpdateElem(ro, null, V8, -1), -EPERM);
    assertEquals(k.sys.mapLookupElem(wo, null, V8, 0), -EPERM);
    assertEquals(k.sys.mapGetNextKey(wo, null, new Uint8Array(4)), -EPERM);
    // BPF_F_LOCK without a spin lock field before the key copy; missing key is EFAULT
    const rw = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4 });
    assertEquals(k.sys.mapUpdateElem(rw, null, V8, 4), -EINVAL);
    assertEquals(k.sys.mapUpdateElem(rw, null, V8, 0), -EFAULT);
    assertEquals(k.sys.mapLookupElem(rw, null, V8, 0), -EFAULT);
    assertEquals(k.sys.mapDeleteElem(rw, null), -EFAULT);
    // get_next_key with a NULL key is "first key"
    assertEquals(k.sys.mapGetNextKey(rw, null, new Uint8Array(4)), -ENOENT);
    // update flag precedence in the map: flags > EXIST before existence
    assertEquals(k.sys.mapUpdateElem(rw, K4(1), V8, 3), -EINVAL);
    assertEquals(k.sys.mapUpdateElem(rw, K4(1), V8, 2), -ENOENT);
    assertEquals(k.sys.mapUpdateElem(rw, K4(1), V8, 1), 0);
    assertEquals(k.sys.mapUpdateElem(rw, K4(1), V8, 1), -EEXIST);
  });
});

Deno.test("errno: update flags on a full map: existence checks come before capacity", () => {
  for (const flags of [0, BPF_F_NO_PREALLOC]) {
    for (const mapType of ["hash", "percpu_hash"]) {
      withKernel({ cpus: 2 }, (k) => {
        const fd = k.sys.mapCreate({ mapType, keySize: 4, valueSize: 8, maxEntries: 1, mapFlags: flags });
        const v = new Uint8Array(mapType === "hash" ? 8 : 16);
        assertEquals(k.sys.mapUpdateElem(fd, K4(1), v, 0), 0);
        assertEquals(k.sys.mapUpdateElem(fd, K4(2), v, 2), -ENOENT, "EXIST on a missing key, full map");
        assertEquals(k.sys.mapUpdateElem(fd, K4(1), v, 1), -EEXIST, "NOEXIST on a present key, full map");
        assertEquals(k.sys.mapUpdateElem(fd, K4(2), v, 1), -E2BIG);
        assertEquals(k.sys.mapUpdateElem(fd, K4(2), v, 0), -E2BIG);
        assertEquals(k.sys.mapUpdateElem(fd, K4(1), v, 0), 0, "replace while full");
        assertEquals(k.sys.mapUpdateElem(fd, K4(1), v, 2), 0);
      });
    }
  }
});

Deno.test("errno: array lookup beyond max_entries is ENOENT, update E2BIG, delete EINVAL, pop ENOTSUPP", () => {
  withKernel({ cpus: 2 }, (k) => {
    for (const mapType of ["array", "percpu_array"]) {
      const fd = k.sys.mapCreate({ mapType, keySize: 4, valueSize: 4, maxEntries: 3 });
      const v = new Uint8Array(mapType === "array" ? 4 : 16);
      for (const i of [3, 4, 0x7fffffff, 0xffffffff]) {
        assertEquals(k.sys.mapLookupElem(fd, K4(i), v), -ENOENT);
        assertEquals(k.sys.mapUpdateElem(fd, K4(i), v, 0), -E2BIG);
        assertEquals(k.sys.mapUpdateElem(fd, K4(i), v, 1), -E2BIG, "index is checked before NOEXIST");
        assertEquals(k.sys.mapDeleteElem(fd, K4(i)), -EINVAL);
      }
      assertEquals(k.sys.mapDeleteElem(fd, K4(0)), -EINVAL);
      assertEquals(k.sys.mapLookupAndDeleteElem(fd, K4(0), v), -ENOTSUPP);
    }
  });
});

Deno.test("errno: queue/stack take no key; getnext is EINVAL; pop flags are EINVAL", () => {
  withKernel({ cpus: 2 }, (k) => {
    for (const mapType of ["queue", "stack"]) {
      const fd = k.sys.mapCreate({ mapType, keySize: 0, valueSize: 4, maxEntries: 2 });
      const v = new Uint8Array(4);
      assertEquals(k.sys.mapUpdateElem(fd, K4(0), v, 0), -EINVAL);
      assertEquals(k.sys.mapLookupElem(fd, K4(0), v), -EINVAL);
      assertEquals(k.sys.mapDeleteElem(fd, null), -EINVAL);
      assertEquals(k.sys.mapGetNextKey(fd, null, new Uint8Array(4)), -EINVAL);
      assertEquals(k.sys.mapGetNextKey(fd, K4(0), new Uint8Array(4)), -EINVAL);
      assertEquals(k.sys.mapUpdateElem(fd, null, v, 1), -EINVAL, "BPF_NOEXIST");
      assertEquals(k.sys.mapLookupAndDeleteElem(fd, null, v, 1), -EINVAL);
      assertEquals(k.sys.mapLookupAndDeleteElem(fd, null, v, 0), -ENOENT);
    }
  });
});

Deno.test("errno: freeze: EPERM afterwards for writers (and for a second freeze), reads still work", () => {
  withKernel({ cpus: 2 }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4 });
    assertEquals(k.sys.mapUpdateElem(fd, K4(1), V8, 0), 0);
    assertEquals(k.sys.mapFreeze(fd), 0);
    assertEquals(k.sys.mapFreeze(fd), -EPERM);
    assertEquals(k.sys.mapUpdateElem(fd, K4(2), V8, 0), -EPERM);
    assertEquals(k.sys.mapDeleteElem(fd, K4(1)), -EPERM);
    assertEquals(k.sys.mapLookupAndDeleteElem(fd, K4(1), V8), -EPERM);
    assertEquals(k.sys.mapLookupElem(fd, K4(1), V8), 0);
    const info = k.sys.mapInfo(fd);
    assertTrue(typeof info !== "number" && info.frozen);
    // a new fd on the frozen map cannot write either (map_get_sys_perms)
    const id = (info as { id: number }).id;
    const fd2 = k.sys.mapGetFdById(id);
    assertEquals(k.sys.mapUpdateElem(fd2, K4(1), V8, 0), -EPERM);
    // a RDONLY fd cannot freeze at all
    const ro = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: BPF_F_RDONLY });
    assertEquals(k.sys.mapFreeze(ro), -EPERM);
    assertEquals(k.sys.mapFreeze(1234), -EBADF);
  });
});

Deno.test("errno: RDONLY/WRONLY are fd modes, not map flags", () => {
  withKernel({ cpus: 2 }, (k) => {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 4, mapFlags: BPF_F_RDONLY });
    const info = k.sys.mapInfo(fd);
    assertTrue(typeof info !== "number");
    assertEquals(info.mapFlags, 0, "flags show 0x0 (REAL-KERNEL-FINDINGS §9)");
    assertEquals(k.sys.mapUpdateElem(fd, K4(1), V8, 0), -EPERM);
    // another fd on the same map has full access
    assertEquals(k.sys.objPin(fd, "/sys/fs/bpf/zz_errno_ro"), 0);
    const fd2 = k.sys.objGet("/sys/fs/bpf/zz_errno_ro");
    assertEquals(k.sys.mapUpdateElem(fd2, K4(1), V8, 0), 0);
    assertEquals(k.sys.mapLookupElem(fd, K4(1), V8), 0);
    // BPF_OBJ_GET with BPF_F_WRONLY gives a write-only fd
    const fd3 = k.sys.objGet("/sys/fs/bpf/zz_errno_ro", BPF_F_WRONLY);
    assertEquals(k.sys.mapLookupElem(fd3, K4(1), V8), -EPERM);
    assertEquals(k.sys.objGet("/sys/fs/bpf/zz_errno_ro", BPF_F_WRONLY | BPF_F_RDONLY), -EINVAL);
  });
});

Deno.test("errno: ids are sequential, failed creates (early or late) use none, closed maps keep theirs", () => {
  withKernel({ cpus: 2 }, (k) => {
    const id = (fd: number) => (k.sys.mapInfo(fd) as { id: number }).id;
    const a = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 4, maxEntries: 4 });
    assertEquals(k.sys.mapCreate({ mapType: "hash", keySize: 0, valueSize: 4, maxEntries: 4 }), -EINVAL);
    assertEquals(
      k.sys.mapCreate({ mapType: "queue", keySize: 0, valueSize: 4, maxEntries: 4, name: "no-dash" }),
      -EINVAL,
    );
    const b = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 4, maxEntries: 4 });
    assertEquals(id(b), id(a) + 1);
    k.sys.close(a);
    k.quiesce();
    const c = k.sys.mapCreate({ mapType: "stack", keySize: 0, valueSize: 4, maxEntries: 4 });
    assertEquals(id(c), id(b) + 1, "idr_alloc_cyclic does not reuse a freed id at once");
    assertEquals(k.sys.mapGetNextId(0), id(b));
    assertEquals(k.sys.mapGetFdById(1), -ENOENT);
  });
});

Deno.test("errno: ENOMEM when kernel memory runs out, at create and at NO_PREALLOC insert; nothing leaks", () => {
  withKernel({ cpus: 2, memoryLimit: 8 << 20 }, (k) => {
    const big: [string, number, number, number, number][] = [
      ["hash", 4, 8, 1 << 20, 0],
      ["hash", 4, 8, 1 << 20, BPF_F_NO_PREALLOC],
      ["percpu_hash", 4, 8, 1 << 18, 0],
      ["array", 4, 8, 1 << 20, 0],
      ["array", 4, 8, 1 << 20, 1024],
      ["percpu_array", 4, 8, 1 << 18, 0],
      ["queue", 0, 8, 1 << 20, 0],
      ["stack", 0, 8, 1 << 20, 0],
    ];
    for (const [mapType, keySize, valueSize, maxEntries, mapFlags] of big) {
      assertEquals(k.sys.mapCreate({ mapType, keySize, valueSize, maxEntries, mapFlags }), -ENOMEM, mapType);
    }
    assertEquals(k.bpf.allMaps().length, 0, "failed creates left no map behind");
    // a dynamic map fills memory: the insert that cannot get an element fails
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 1000, maxEntries: 1 << 16, mapFlags: 1 });
    let n = 0, r = 0;
    while ((r = k.sys.mapUpdateElem(fd, K4(n), new Uint8Array(1000), 0)) === 0) n++;
    assertEquals(r, -ENOMEM);
    assertTrue(n > 100);
    const info = k.sys.mapInfo(fd);
    assertTrue(typeof info !== "number" && info.elements === n, "the failed insert is not counted");
    // replacing needs a new element too (and fails the same way) ...
    assertEquals(k.sys.mapUpdateElem(fd, K4(0), new Uint8Array(1000), 0), -ENOMEM);
    // ... until a delete's grace period gives memory back
    assertEquals(k.sys.mapDeleteElem(fd, K4(1)), 0);
    k.quiesce();
    assertEquals(k.sys.mapUpdateElem(fd, K4(n), new Uint8Array(1000), 0), 0);
  });
});
