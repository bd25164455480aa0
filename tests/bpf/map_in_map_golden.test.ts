// Replays tests/testdata/kernel/map_in_map.json (recorded from the real 6.18
// kernel by map_in_map_record.py) in bpfsim: every step's return value,
// which inner map a lookup names, ids and liveness of inner maps, and the
// memlock of array_of_maps / hash_of_maps for every size recorded.

import { assertEquals, assertTrue } from "../assert.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { readU32, u32, withKernel } from "../helpers.ts";

interface Step {
  op: string;
  as?: string;
  type?: string;
  key?: number;
  value?: number;
  entries?: number;
  flags?: number;
  inner?: string | number | null;
  map?: string;
  k?: number | null;
  r: number | string | boolean;
  memlock?: number;
  out_map?: string | null;
  out?: number | null;
}

interface Golden {
  env: { ncpu: number };
  scenarios: { name: string; steps: Step[] }[];
  memlock: { type: string; key: number; entries: number; flags: number; memlock: number }[];
}

const golden: Golden = JSON.parse(
  Deno.readTextFileSync(new URL("../testdata/kernel/map_in_map.json", import.meta.url)),
);

/** fd 0 is stdin: what libbpf sends as inner_map_fd when none is given. */
const STDIN = 0;

function replay(k: Kernel, name: string, steps: Step[]): void {
  const fds = new Map<string, number>();
  const ids = new Map<string, number>();
  const fdOf = (inner: string | number | null | undefined): number =>
    inner === null || inner === undefined ? STDIN : typeof inner === "number" ? inner : fds.get(inner)!;
  const nameOfId = (id: number): string | null => {
    for (const [n, i] of ids) if (i === id) return n;
    return null;
  };
  steps.forEach((st, i) => {
    const where = `${name}#${i} ${JSON.stringify(st)}`;
    switch (st.op) {
      case "create": {
        const mim = st.type!.endsWith("_of_maps");
        const r = k.sys.mapCreate({
          mapType: st.type!,
          keySize: st.key!,
          valueSize: st.value!,
          maxEntries: st.entries!,
          mapFlags: st.flags!,
          innerMapFd: mim ? fdOf(st.inner) : 0,
        });
        assertEquals(r >= 0 ? "fd" : r, st.r, where);
        if (r >= 0) {
          if (fds.has(st.as!)) k.sys.close(fds.get(st.as!)!);
          fds.set(st.as!, r);
          const info = k.sys.mapInfo(r);
          assertTrue(typeof info !== "number", where);
          ids.set(st.as!, info.id);
          assertEquals(info.memlock, st.memlock, `${where}: memlock`);
        }
        break;
      }
      case "update": {
        const r = k.sys.mapUpdateElem(fds.get(st.map!)!, u32(st.k!), u32(fdOf(st.inner)), st.flags!);
        assertEquals(r, st.r, where);
        break;
      }
      case "lookup": {
        const out = new Uint8Array(4);
        const r = k.sys.mapLookupElem(fds.get(st.map!)!, u32(st.k!), out);
        assertEquals(r, st.r, where);
        if (r === 0) assertEquals(nameOfId(readU32(out)), st.out_map, `${where}: inner map`);
        break;
      }
      case "delete":
        assertEquals(k.sys.mapDeleteElem(fds.get(st.map!)!, u32(st.k!)), st.r, where);
        break;
      case "getnext": {
        const next = new Uint8Array(4);
        const r = k.sys.mapGetNextKey(fds.get(st.map!)!, st.k === null ? null : u32(st.k!), next);
        assertEquals(r, st.r, where);
        if (r === 0) assertEquals(readU32(next), st.out, where);
        break;
      }
      case "close":
        assertEquals(k.sys.close(fds.get(st.map!)!), 0, where);
        fds.delete(st.map!);
        break;
      case "get_by_id": {
        const r = k.sys.mapGetFdById(ids.get(st.map!)!);
        if (r >= 0) k.sys.close(r);
        assertEquals(r >= 0 ? "fd" : r, st.r, where);
        break;
      }
      case "listed": {
        const want = ids.get(st.map!)!;
        let found = false;
        for (let id = k.sys.mapGetNextId(0); id > 0; id = k.sys.mapGetNextId(id)) if (id === want) found = true;
        assertEquals(found, st.r, where);
        break;
      }
      case "memlock": {
        const info = k.sys.mapInfo(fds.get(st.map!)!);
        assertTrue(typeof info !== "number", where);
        assertEquals(info.memlock, st.r, where);
        break;
      }
      default:
        throw new Error(`unknown op ${st.op}`);
    }
  });
}

for (const sc of golden.scenarios) {
  Deno.test(`map-in-map golden (6.18): ${sc.name}`, () => {
    withKernel({ cpus: golden.env.ncpu, profile: "v6.18" }, (k) => replay(k, sc.name, sc.steps));
  });
}

Deno.test("map-in-map golden (6.18): memlock of array_of_maps and hash_of_maps equals the real kernel's", () => {
  withKernel({ cpus: golden.env.ncpu, profile: "v6.18" }, (k) => {
    const ta = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 4, maxEntries: 4 });
    const th = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 4, maxEntries: 4 });
    assertTrue(golden.memlock.length > 60);
    for (const c of golden.memlock) {
      const fd = k.sys.mapCreate({
        mapType: c.type,
        keySize: c.key,
        valueSize: 4,
        maxEntries: c.entries,
        mapFlags: c.flags,
        innerMapFd: c.type === "array_of_maps" ? ta : th,
      });
      assertTrue(fd >= 0, `${JSON.stringify(c)}: ${fd}`);
      const info = k.sys.mapInfo(fd);
      assertTrue(typeof info !== "number");
      assertEquals(info.memlock, c.memlock, JSON.stringify(c));
      k.sys.close(fd);
      k.quiesce();
    }
  });
});
