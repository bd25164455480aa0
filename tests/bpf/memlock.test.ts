// fdinfo memlock (map_mem_usage, 6.4+) as the real kernel reports it
// (REAL-KERNEL-FINDINGS §5). Two parts: the table measured on this machine's
// 6.18 kernel with `bpftool map create ... && bpftool -j map show`
// (tests/testdata/kernel/memlock.json, record.py), replayed on a 2-CPU
// bpfsim kernel; and the formulas of §5 at many sizes and CPU counts.

import { assertEquals, assertTrue } from "../assert.ts";
import { createRecorded, type RecordedCreate, u32, withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { BPF_F_MMAPABLE, BPF_F_NO_PREALLOC } from "../../lib/bpf/uapi.ts";

/** A create recorded on the real kernel, and what it recorded. */
interface MemlockCase extends RecordedCreate {
  cmd: string;
  show: string;
  memlock: number;
}

/** A NO_PREALLOC create and the memlock recorded after each update or delete. */
interface GrowthCase extends RecordedCreate {
  steps: { cmd: string; op?: "update" | "delete"; key?: number; memlock: number }[];
}

const golden: { env: { uname: string; ncpu: number }; cases: MemlockCase[]; growth: GrowthCase[] } = JSON.parse(
  Deno.readTextFileSync(new URL("../testdata/kernel/memlock.json", import.meta.url)),
);

function memlock(k: Kernel, fd: number): number {
  const info = k.sys.mapInfo(fd);
  if (typeof info === "number") throw new Error(`map info: ${info}`);
  return info.memlock;
}

function le(n: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size && i < 6; i++) b[i] = Math.floor(n / 2 ** (8 * i)) & 0xff;
  return b;
}

// ------------------------------------------------------------- the goldens

Deno.test(`memlock golden (${golden.env.uname}, ${golden.env.ncpu} CPUs): ${golden.cases.length} creates`, () => {
  withKernel({ cpus: golden.env.ncpu }, (k) => {
    for (const c of golden.cases) {
      const fd = createRecorded(k, c, "zzconf");
      assertTrue(fd >= 0, `${c.cmd}: ${fd}`);
      assertEquals(memlock(k, fd), c.memlock, c.cmd);
      // the plain `bpftool map show` line carries the same number
      assertTrue(c.show.includes(`memlock ${c.memlock}B`));
      k.sys.close(fd);
      k.quiesce();
    }
  });
});

for (const g of golden.growth) {
  Deno.test(`memlock golden: ${g.type} k${g.key} v${g.value} NO_PREALLOC grows and shrinks with live elements`, () => {
    withKernel({ cpus: golden.env.ncpu }, (k) => {
      const fd = createRecorded(k, g);
      const percpu = g.type.startsWith("percpu");
      const vbytes = percpu ? ((g.value + 7) & ~7) * k.ncpu : g.value;
      for (const st of g.steps) {
        if (st.op === "update") {
          // bpftool: value = the key as LE bytes, copied to every CPU
          const one = le(st.key!, g.value);
          const v = new Uint8Array(vbytes);
          for (let off = 0; off < v.length; off += percpu ? (g.value + 7) & ~7 : g.value) v.set(one, off);
          assertEquals(k.sys.mapUpdateElem(fd, le(st.key!, g.key), v, 0), 0, st.cmd);
        } else if (st.op === "delete") {
          assertEquals(k.sys.mapDeleteElem(fd, le(st.key!, g.key)), 0, st.cmd);
        }
        assertEquals(memlock(k, fd), st.memlock, st.cmd);
      }
    });
  });
}

// ------------------------------------------------------------ the formulas

const ru8 = (x: number) => Math.ceil(x / 8) * 8;
const p2 = (x: number) => 2 ** Math.ceil(Math.log2(x));
const pageAlign = (x: number) => Math.ceil(x / 4096) * 4096;

/** §5 hash family, empty map. */
function htabExpected(percpu: boolean, prealloc: boolean, k: number, v: number, e: number, ncpu: number, live = 0) {
  const elem = 48 + ru8(k) + (percpu ? 8 : ru8(v));
  let m = 832 + 16 * p2(e) + 32 * ncpu;
  if (prealloc) {
    const n = percpu ? e : e + ncpu;
    m += elem * n;
    m += percpu ? ru8(v) * ncpu * n : 8 * ncpu;
  } else {
    m += live * (elem + 8);
    if (percpu) m += live * (16 + ru8(v) * ncpu);
  }
  return m;
}

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [4, 8, 2],
  [4, 8, 3],
  [3, 5, 7],
  [8, 16, 33],
  [16, 24, 100],
  [4, 4, 1024],
  [4, 4, 1025],
  [32, 64, 500],
  [64, 256, 17],
  [513, 3, 9],
  [4, 4096, 4],
  [12, 1000, 63],
];

Deno.test("memlock formula: hash / percpu_hash, prealloc and NO_PREALLOC, at many sizes and CPU counts", () => {
  for (const ncpu of [1, 2, 3, 4, 8]) {
    withKernel({ cpus: ncpu }, (k) => {
      for (const mapType of ["hash", "percpu_hash"]) {
        const percpu = mapType === "percpu_hash";
        for (const [ks, vs, e] of SIZES) {
          for (const flags of [0, BPF_F_NO_PREALLOC]) {
            const fd = k.sys.mapCreate({ mapType, keySize: ks, valueSize: vs, maxEntries: e, mapFlags: flags });
            assertTrue(fd >= 0, `${mapType} ${ks}/${vs}/${e}: ${fd}`);
            const what = `${mapType} k${ks} v${vs} e${e} flags ${flags} cpus ${ncpu}`;
            assertEquals(memlock(k, fd), htabExpected(percpu, flags === 0, ks, vs, e, ncpu), what);
            k.sys.close(fd);
          }
        }
      }
      k.quiesce();
    });
  }
});

Deno.test("memlock formula: NO_PREALLOC grows by elem+8 per live element (+16+ru8(V)*NCPU per-CPU), replace does not", () => {
  for (const ncpu of [1, 2, 4]) {
    withKernel({ cpus: ncpu }, (k) => {
      for (const mapType of ["hash", "percpu_hash"]) {
        const percpu = mapType === "percpu_hash";
        for (const [ks, vs] of [[4, 8], [16, 100], [3, 1]]) {
          const e = 300;
          const fd = k.sys.mapCreate({
            mapType,
            keySize: ks,
            valueSize: vs,
            maxEntries: e,
            mapFlags: BPF_F_NO_PREALLOC,
          });
          const v = new Uint8Array(percpu ? ru8(vs) * ncpu : vs);
          const key = (i: number) => le(i, ks);
          for (let i = 0; i < 200; i++) {
            assertEquals(k.sys.mapUpdateElem(fd, key(i), v, 0), 0);
            if (i % 37 === 0) {
              assertEquals(memlock(k, fd), htabExpected(percpu, false, ks, vs, e, ncpu, i + 1));
            }
          }
          for (let i = 0; i < 50; i++) assertEquals(k.sys.mapUpdateElem(fd, key(i), v, 2), 0);
          assertEquals(memlock(k, fd), htabExpected(percpu, false, ks, vs, e, ncpu, 200), "replacing keeps the count");
          for (let i = 0; i < 120; i++) assertEquals(k.sys.mapDeleteElem(fd, key(i)), 0);
          assertEquals(memlock(k, fd), htabExpected(percpu, false, ks, vs, e, ncpu, 80));
          // prealloc memlock never moves with the element count
          const pfd = k.sys.mapCreate({ mapType, keySize: ks, valueSize: vs, maxEntries: e });
          for (let i = 0; i < 100; i++) assertEquals(k.sys.mapUpdateElem(pfd, key(i), v, 0), 0);
          assertEquals(memlock(k, pfd), htabExpected(percpu, true, ks, vs, e, ncpu));
          k.sys.close(fd);
          k.sys.close(pfd);
        }
      }
    });
  }
});

Deno.test("memlock formula: array (plain, MMAPABLE), percpu_array, queue, stack", () => {
  for (const ncpu of [1, 2, 3, 8]) {
    withKernel({ cpus: ncpu }, (k) => {
      for (const vs of [1, 3, 4, 8, 12, 100, 4095, 4096, 4097]) {
        for (const e of [1, 2, 3, 7, 100, 1025]) {
          const a = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: vs, maxEntries: e });
          assertEquals(memlock(k, a), 312 + e * ru8(vs), `array v${vs} e${e}`);
          const m = k.sys.mapCreate({
            mapType: "array",
            keySize: 4,
            valueSize: vs,
            maxEntries: e,
            mapFlags: BPF_F_MMAPABLE,
          });
          assertEquals(memlock(k, m), 4096 + pageAlign(e * ru8(vs)), `mmapable array v${vs} e${e}`);
          const pa = k.sys.mapCreate({ mapType: "percpu_array", keySize: 4, valueSize: vs, maxEntries: e });
          assertEquals(memlock(k, pa), 312 + 8 * e + e * ru8(vs) * ncpu, `percpu_array v${vs} e${e} cpus ${ncpu}`);
          for (const mapType of ["queue", "stack"]) {
            const q = k.sys.mapCreate({ mapType, keySize: 0, valueSize: vs, maxEntries: e });
            assertEquals(memlock(k, q), 312 + (e + 1) * vs, `${mapType} v${vs} e${e}`);
            // pushing does not change it
            assertEquals(k.sys.mapUpdateElem(q, null, new Uint8Array(vs), 0), 0);
            assertEquals(memlock(k, q), 312 + (e + 1) * vs);
            k.sys.close(q);
          }
          // writing elements does not change array memlock either
          assertEquals(k.sys.mapUpdateElem(a, u32(0), new Uint8Array(vs), 0), 0);
          assertEquals(memlock(k, a), 312 + e * ru8(vs));
          for (const fd of [a, m, pa]) k.sys.close(fd);
        }
      }
      k.quiesce();
    });
  }
});

Deno.test("memlock: §5 examples (hash k4 v8 at 16/1024/65536 entries, 2 CPUs)", () => {
  withKernel({ cpus: 2 }, (k) => {
    const expect: [number, number, number][] = [[16, 2320, 1152], [1024, 82960, 17280], [65536, 5243920, 1049472]];
    for (const [e, pre, dyn] of expect) {
      const a = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: e });
      const b = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: e, mapFlags: 1 });
      assertEquals([memlock(k, a), memlock(k, b)], [pre, dyn]);
      k.sys.close(a);
      k.sys.close(b);
    }
  });
});
