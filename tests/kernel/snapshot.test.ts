import { assertEquals, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { loadKernel, saveKernel } from "../../lib/kernel/kernel_state.ts";
import { loadSnapshot, saveSnapshot, SnapshotError } from "../../lib/kernel/snapshot.ts";
import { keysU32, leakCheck, readU64, u32, u64 } from "../helpers.ts";

Deno.test("snapshot: shared references, cycles, typed arrays over one buffer, maps and sets survive", () => {
  const buf = new ArrayBuffer(16);
  const a = { u8: new Uint8Array(buf), f64: new Float64Array(buf), self: null as unknown, m: new Map(), s: new Set() };
  a.self = a;
  a.f64[1] = 2.5;
  a.m.set("x", a);
  a.s.add(-0);
  a.s.add(Infinity);
  const b = loadSnapshot<typeof a>(saveSnapshot(a));
  assertTrue(b.self === b);
  assertTrue(b.m.get("x") === b);
  assertTrue(b.u8.buffer === b.f64.buffer);
  assertEquals(b.f64[1], 2.5);
  b.u8.fill(0, 8, 16); // the views still share one buffer
  assertEquals(b.f64[1], 0);
  assertTrue(b.s.has(Infinity));
});

Deno.test("snapshot: functions are refused with their path", () => {
  let msg = "";
  try {
    saveSnapshot({ a: { b: () => 1 } });
  } catch (e) {
    msg = (e as SnapshotError).message;
  }
  assertEquals(msg, "cannot save a function at root.a.b");
});

Deno.test("snapshot: damaged files give clear errors", () => {
  const good = saveSnapshot({ x: 1 });
  for (const bad of [new Uint8Array([1, 2, 3]), good.subarray(0, 14), good.map((b, i) => (i === 20 ? 0 : b))]) {
    let err: unknown;
    try {
      loadSnapshot(bad);
    } catch (e) {
      err = e;
    }
    assertTrue(err instanceof SnapshotError, String(err));
  }
});

Deno.test("snapshot: a kernel with pinned maps of every type continues after a save/load", () => {
  for (const profile of ["v4.6", "v5.11", "v6.18"]) {
    const k = new Kernel({ cpus: 4, profile, seed: 9 });
    const types = profile === "v4.6"
      ? ["hash", "percpu_hash", "array", "percpu_array"]
      : ["hash", "percpu_hash", "array", "percpu_array", "queue", "stack"];
    for (const t of types) {
      const qs = t === "queue" || t === "stack";
      for (const flags of t.includes("hash") ? [0, 1] : [0]) {
        const fd = k.sys.mapCreate({ mapType: t, keySize: qs ? 0 : 4, valueSize: 8, maxEntries: 64, mapFlags: flags });
        assertTrue(fd > 0, `${profile} ${t} ${fd}`);
        for (let i = 0; i < 10; i++) {
          const val = new Uint8Array(t.startsWith("percpu") ? 8 * 4 : 8);
          val.set(u64(i * 3));
          k.sys.mapUpdateElem(fd, qs ? null : u32(i), val, 0);
        }
        assertEquals(k.sys.objPin(fd, `/sys/fs/bpf/${t}_${flags}`), 0);
        k.sys.close(fd);
      }
    }
    const before = k.memoryUsage();
    const data = saveKernel(k);
    const k2 = loadKernel(data);
    assertEquals(k2.memoryUsage(), before);
    const fd = k2.sys.objGet("/sys/fs/bpf/hash_1");
    assertEquals(keysU32(k2, fd).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const out = new Uint8Array(8);
    assertEquals(k2.sys.mapLookupElem(fd, u32(4), out), 0);
    assertEquals(readU64(out), 12);
    assertEquals(k2.sys.mapUpdateElem(fd, u32(50), u64(1), 0), 0);
    k2.sys.close(fd);
    // the restored kernel frees everything it holds
    leakCheck(k2);
  }
});
