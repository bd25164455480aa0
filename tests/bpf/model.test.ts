// Model-based tests (fast-check fc.commands) of hash, percpu_hash, array,
// percpu_array, queue and stack against plain reference models (a Map, an
// array, a deque). Every command goes through bpf(2) and its result, errno
// included, must match what the model predicts for the kernel release of the
// profile (KERNEL-NOTES 2.5, 2.9, 9.1; REAL-KERNEL-FINDINGS §4, §6, §8).
// Seeds are pinned so runs are reproducible; every run is a fresh kernel
// with the leak check of withKernel.

import fc from "fast-check";
import { assertEquals, assertTrue } from "../assert.ts";
import { withKernel } from "../helpers.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { E2BIG, EEXIST, EINVAL, ENOENT, ENOTSUPP } from "../../lib/kernel/errno.ts";
import { BPF_F_NO_PREALLOC } from "../../lib/bpf/uapi.ts";

/** Pinned fast-check settings: reproducible and a few seconds in total. */
const FC = { seed: 20250611, numRuns: 100, endOnFailure: true };
const MAX_COMMANDS = 80;

const ru8 = (x: number) => (x + 7) & ~7;

/** A deterministic byte pattern standing for "value #seed". */
function pattern(seed: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 131 + i * 7 + 1) & 0xff;
  return b;
}

function keyBytes(key: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size && i < 4; i++) b[i] = (key >>> (8 * i)) & 0xff;
  return b;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const flagsArb = fc.constantFrom(0, 0, 1, 1, 2, 2, 3, 4, -1);

// ------------------------------------------------------------------ hash

interface HashSpec {
  profile: string;
  version: number;
  mapType: "hash" | "percpu_hash";
  mapFlags: number;
  keySize: number;
  valueSize: number;
  cpus: number;
}

/** The reference model: key -> the bytes a syscall lookup returns. */
interface HashModel {
  spec: HashSpec;
  max: number;
  map: Map<number, Uint8Array>;
}

interface HashReal {
  k: Kernel;
  fd: number;
}

function hashValueLen(s: HashSpec): number {
  return s.mapType === "percpu_hash" ? ru8(s.valueSize) * s.cpus : s.valueSize;
}

/** What the model says a stored value reads back as. */
function stored(s: HashSpec, given: Uint8Array): Uint8Array {
  // per-CPU: round_up(value_size, 8) per CPU is copied (padding included);
  // plain: value_size bytes
  return given.slice(0, hashValueLen(s));
}

class HashUpdate implements fc.Command<HashModel, HashReal> {
  constructor(readonly key: number, readonly seed: number, readonly flags: number) {}
  check(): boolean {
    return true;
  }
  run(m: HashModel, r: HashReal): void {
    const s = m.spec;
    const val = pattern(this.seed, hashValueLen(s));
    const got = r.k.sys.mapUpdateElem(r.fd, keyBytes(this.key, s.keySize), val, this.flags);
    const present = m.map.has(this.key);
    const full = m.map.size >= m.max;
    let want = 0;
    if (this.flags < 0 || this.flags > 2) want = -EINVAL;
    else if (this.flags === 1 && present) want = -EEXIST;
    else if (this.flags === 2 && !present) want = -ENOENT;
    else if (!present && full) want = -E2BIG;
    // 4.6-4.9: a plain hash needs a fresh element even to replace a key, so a
    // full map refuses (freelist empty / count over max); per-CPU updates in place
    else if (present && full && s.version < 410 && s.mapType === "hash") want = -E2BIG;
    assertEquals(got, want, this.toString());
    if (want === 0) m.map.set(this.key, stored(s, val));
  }
  toString(): string {
    return `update(key ${this.key}, value #${this.seed}, flags ${this.flags})`;
  }
}

/**
 * A program's update on one CPU (the map op called in that CPU's context):
 * a per-CPU hash writes only that CPU's slot; a new element starts with the
 * other CPUs' slots zeroed (pcpu_init_value).
 */
class HashProgUpdate implements fc.Command<HashModel, HashReal> {
  constructor(readonly key: number, readonly seed: number, readonly cpu: number, readonly flags: number) {}
  check(m: HashModel): boolean {
    // zero-filling of the other CPUs' slots is a later addition; values of
    // whole words keep the copy free of padding questions
    return m.spec.mapType === "percpu_hash" && m.spec.version >= 601 && m.spec.valueSize % 8 === 0;
  }
  run(m: HashModel, r: HashReal): void {
    const s = m.spec;
    const cpu = this.cpu % s.cpus;
    const val = pattern(this.seed, s.valueSize);
    const map = r.k.sys.mapOf(r.fd)!;
    const got = r.k.exec(cpu, () => map.updateElem(keyBytes(this.key, s.keySize), val, this.flags));
    const present = m.map.has(this.key);
    let want = 0;
    if (this.flags === 1 && present) want = -EEXIST;
    else if (this.flags === 2 && !present) want = -ENOENT;
    else if (!present && m.map.size >= m.max) want = -E2BIG;
    assertEquals(got, want, this.toString());
    if (want !== 0) return;
    const slot = ru8(s.valueSize);
    const cur = present ? m.map.get(this.key)!.slice() : new Uint8Array(slot * s.cpus);
    cur.set(val, cpu * slot);
    m.map.set(this.key, cur);
  }
  toString(): string {
    return `prog_update(key ${this.key}, value #${this.seed}, cpu ${this.cpu}, flags ${this.flags})`;
  }
}

class HashLookup implements fc.Command<HashModel, HashReal> {
  constructor(readonly key: number) {}
  check(): boolean {
    return true;
  }
  run(m: HashModel, r: HashReal): void {
    const out = new Uint8Array(hashValueLen(m.spec));
    const got = r.k.sys.mapLookupElem(r.fd, keyBytes(this.key, m.spec.keySize), out);
    const v = m.map.get(this.key);
    assertEquals(got, v ? 0 : -ENOENT, this.toString());
    if (v) assertEquals(hex(out), hex(v), this.toString());
  }
  toString(): string {
    return `lookup(key ${this.key})`;
  }
}

class HashDelete implements fc.Command<HashModel, HashReal> {
  constructor(readonly key: number) {}
  check(): boolean {
    return true;
  }
  run(m: HashModel, r: HashReal): void {
    const got = r.k.sys.mapDeleteElem(r.fd, keyBytes(this.key, m.spec.keySize));
    assertEquals(got, m.map.delete(this.key) ? 0 : -ENOENT, this.toString());
  }
  toString(): string {
    return `delete(key ${this.key})`;
  }
}

class HashLookupAndDelete implements fc.Command<HashModel, HashReal> {
  constructor(readonly key: number, readonly flags: number) {}
  check(m: HashModel): boolean {
    // BPF_MAP_LOOKUP_AND_DELETE_ELEM took flags (and worked on hash maps) in 5.14
    return m.spec.version >= 514 || this.flags === 0;
  }
  run(m: HashModel, r: HashReal): void {
    const out = new Uint8Array(hashValueLen(m.spec));
    const got = r.k.sys.mapLookupAndDeleteElem(r.fd, keyBytes(this.key, m.spec.keySize), out, this.flags);
    const v = m.map.get(this.key);
    let want: number;
    if (m.spec.version < 420) want = -EINVAL; // the command came with queue/stack maps in 4.20
    else if (m.spec.version < 514) want = -ENOTSUPP;
    else if (this.flags !== 0) want = -EINVAL; // only BPF_F_LOCK, and there is no spin lock
    else want = v ? 0 : -ENOENT;
    assertEquals(got, want, this.toString());
    if (want === 0) {
      assertEquals(hex(out), hex(v!), this.toString());
      m.map.delete(this.key);
    }
  }
  toString(): string {
    return `lookup_and_delete(key ${this.key}, flags ${this.flags})`;
  }
}

/** The full get_next_key walk from NULL, as keys. */
function hashWalk(m: HashModel, r: HashReal): number[] {
  const out: number[] = [];
  let cur: Uint8Array | null = null;
  const next = new Uint8Array(m.spec.keySize);
  for (let guard = 0; guard <= m.max + 1; guard++) {
    const rc = r.k.sys.mapGetNextKey(r.fd, cur, next);
    if (rc === -ENOENT) return out;
    assertEquals(rc, 0);
    out.push(next[0] | (next[1] << 8));
    cur = next.slice();
  }
  throw new Error("get_next_key walk does not end");
}

class HashWalk implements fc.Command<HashModel, HashReal> {
  check(): boolean {
    return true;
  }
  run(m: HashModel, r: HashReal): void {
    const keys = hashWalk(m, r);
    assertEquals(keys.length, m.map.size, "walk visits each key once");
    assertEquals([...keys].sort((a, b) => a - b), [...m.map.keys()].sort((a, b) => a - b));
  }
  toString(): string {
    return "walk()";
  }
}

class HashGetNext implements fc.Command<HashModel, HashReal> {
  constructor(readonly key: number | null) {}
  check(): boolean {
    return true;
  }
  run(m: HashModel, r: HashReal): void {
    const order = hashWalk(m, r);
    const next = new Uint8Array(m.spec.keySize);
    const got = r.k.sys.mapGetNextKey(r.fd, this.key === null ? null : keyBytes(this.key, m.spec.keySize), next);
    const at = this.key === null ? -1 : order.indexOf(this.key);
    // NULL or an absent key -> the first key; the last key -> ENOENT
    const wantKey = at < 0 ? order[0] : order[at + 1];
    assertEquals(got, wantKey === undefined ? -ENOENT : 0, this.toString());
    if (wantKey !== undefined) assertEquals(next[0] | (next[1] << 8), wantKey, this.toString());
  }
  toString(): string {
    return `get_next_key(${this.key})`;
  }
}

function hashCommands(keys: number) {
  const key = fc.integer({ min: 0, max: keys - 1 });
  return [
    fc.tuple(key, fc.nat(255), flagsArb).map(([k, s, f]) => new HashUpdate(k, s, f)),
    fc.tuple(key, fc.nat(255)).map(([k, s]) => new HashUpdate(k, s, 0)),
    fc.tuple(key, fc.nat(255), fc.nat(3), fc.constantFrom(0, 1, 2)).map(([k, s, c, f]) =>
      new HashProgUpdate(k, s, c, f)
    ),
    key.map((k) => new HashLookup(k)),
    key.map((k) => new HashDelete(k)),
    fc.tuple(key, fc.constantFrom(0, 0, 0, 1, 4)).map(([k, f]) => new HashLookupAndDelete(k, f)),
    fc.constant(new HashWalk()),
    fc.option(key, { nil: null }).map((k) => new HashGetNext(k)),
  ];
}

const HASH_PROFILES: [string, number][] = [["v4.6", 406], ["v5.11", 511], ["v6.1", 601], ["v6.18", 618]];

for (const [profile, version] of HASH_PROFILES) {
  for (const mapType of ["hash", "percpu_hash"] as const) {
    for (const mapFlags of [0, BPF_F_NO_PREALLOC]) {
      const what = `${mapType} ${mapFlags ? "NO_PREALLOC" : "prealloc"} on ${profile}`;
      Deno.test(`model: ${what} behaves like a Map with max_entries`, () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 10 }),
            fc.constantFrom(1, 3, 4, 8, 12, 16),
            fc.constantFrom(1, 2, 3),
            fc.commands(hashCommands(16), { maxCommands: MAX_COMMANDS, size: "max" }),
            (max, valueSize, cpus, cmds) => {
              const spec: HashSpec = { profile, version, mapType, mapFlags, keySize: 4, valueSize, cpus };
              withKernel({ cpus, profile }, (k) => {
                const fd = k.sys.mapCreate({ mapType, keySize: 4, valueSize, maxEntries: max, mapFlags });
                assertTrue(fd >= 0, `create ${what}: ${fd}`);
                fc.modelRun(() => ({ model: { spec, max, map: new Map() }, real: { k, fd } }), cmds);
              });
            },
          ),
          FC,
        );
      });
    }
  }
}

// ----------------------------------------------------------------- array

interface ArrayModel {
  percpu: boolean;
  valueSize: number;
  cpus: number;
  version: number;
  values: Uint8Array[];
}

interface ArrayReal {
  k: Kernel;
  fd: number;
}

function arrayValueLen(m: ArrayModel): number {
  return m.percpu ? ru8(m.valueSize) * m.cpus : m.valueSize;
}

class ArrayUpdate implements fc.Command<ArrayModel, ArrayReal> {
  constructor(readonly idx: number, readonly seed: number, readonly flags: number) {}
  check(): boolean {
    return true;
  }
  run(m: ArrayModel, r: ArrayReal): void {
    const val = pattern(this.seed, arrayValueLen(m));
    const got = r.k.sys.mapUpdateElem(r.fd, keyBytes(this.idx, 4), val, this.flags);
    let want = 0;
    if (this.flags < 0 || this.flags > 2) want = -EINVAL;
    else if (this.idx >= m.values.length) want = -E2BIG;
    else if (this.flags === 1) want = -EEXIST; // every element exists
    assertEquals(got, want, this.toString());
    if (want === 0) m.values[this.idx] = val.slice();
  }
  toString(): string {
    return `update(index ${this.idx}, value #${this.seed}, flags ${this.flags})`;
  }
}

class ArrayLookup implements fc.Command<ArrayModel, ArrayReal> {
  constructor(readonly idx: number) {}
  check(): boolean {
    return true;
  }
  run(m: ArrayModel, r: ArrayReal): void {
    const out = new Uint8Array(arrayValueLen(m));
    const got = r.k.sys.mapLookupElem(r.fd, keyBytes(this.idx, 4), out);
    const v = m.values[this.idx];
    assertEquals(got, v ? 0 : -ENOENT, this.toString());
    if (v) assertEquals(hex(out), hex(v), this.toString());
  }
  toString(): string {
    return `lookup(index ${this.idx})`;
  }
}

class ArrayDelete implements fc.Command<ArrayModel, ArrayReal> {
  constructor(readonly idx: number, readonly pop: boolean) {}
  check(m: ArrayModel): boolean {
    return !this.pop || m.version >= 420;
  }
  run(m: ArrayModel, r: ArrayReal): void {
    const key = keyBytes(this.idx, 4);
    if (this.pop) {
      const got = r.k.sys.mapLookupAndDeleteElem(r.fd, key, new Uint8Array(arrayValueLen(m)));
      assertEquals(got, -ENOTSUPP, this.toString());
    } else {
      assertEquals(r.k.sys.mapDeleteElem(r.fd, key), -EINVAL, this.toString());
    }
  }
  toString(): string {
    return `${this.pop ? "lookup_and_delete" : "delete"}(index ${this.idx})`;
  }
}

class ArrayGetNext implements fc.Command<ArrayModel, ArrayReal> {
  constructor(readonly idx: number | null) {}
  check(): boolean {
    return true;
  }
  run(m: ArrayModel, r: ArrayReal): void {
    const next = new Uint8Array(4);
    const got = r.k.sys.mapGetNextKey(r.fd, this.idx === null ? null : keyBytes(this.idx, 4), next);
    const n = m.values.length;
    const want = this.idx === null || this.idx >= n ? 0 : this.idx === n - 1 ? -1 : this.idx + 1;
    assertEquals(got, want < 0 ? -ENOENT : 0, this.toString());
    if (want >= 0) assertEquals(next[0] | (next[1] << 8), want, this.toString());
  }
  toString(): string {
    return `get_next_key(${this.idx})`;
  }
}

function arrayCommands(maxIdx: number) {
  const idx = fc.integer({ min: 0, max: maxIdx });
  return [
    fc.tuple(idx, fc.nat(255), flagsArb).map(([i, s, f]) => new ArrayUpdate(i, s, f)),
    idx.map((i) => new ArrayLookup(i)),
    fc.tuple(idx, fc.boolean()).map(([i, p]) => new ArrayDelete(i, p)),
    fc.option(idx, { nil: null }).map((i) => new ArrayGetNext(i)),
  ];
}

for (const [profile, version] of [["v4.6", 406], ["v6.1", 601], ["v6.18", 618]] as [string, number][]) {
  for (const mapType of ["array", "percpu_array"] as const) {
    Deno.test(`model: ${mapType} on ${profile} behaves like a zero-filled fixed array`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.constantFrom(1, 4, 8, 12),
          fc.constantFrom(1, 2, 3),
          fc.commands(arrayCommands(10), { maxCommands: MAX_COMMANDS, size: "max" }),
          (max, valueSize, cpus, cmds) => {
            withKernel({ cpus, profile }, (k) => {
              const fd = k.sys.mapCreate({ mapType, keySize: 4, valueSize, maxEntries: max });
              assertTrue(fd >= 0, `create: ${fd}`);
              const percpu = mapType === "percpu_array";
              const len = percpu ? ru8(valueSize) * cpus : valueSize;
              const values = Array.from({ length: max }, () => new Uint8Array(len));
              fc.modelRun(() => ({ model: { percpu, valueSize, cpus, version, values }, real: { k, fd } }), cmds);
            });
          },
        ),
        FC,
      );
    });
  }
}

// ----------------------------------------------------------- queue/stack

interface QsModel {
  stack: boolean;
  max: number;
  valueSize: number;
  items: Uint8Array[];
}

interface QsReal {
  k: Kernel;
  fd: number;
}

class QsPush implements fc.Command<QsModel, QsReal> {
  constructor(readonly seed: number, readonly flags: number) {}
  check(): boolean {
    return true;
  }
  run(m: QsModel, r: QsReal): void {
    const val = pattern(this.seed, m.valueSize);
    const got = r.k.sys.mapUpdateElem(r.fd, null, val, this.flags);
    let want = 0;
    if (this.flags < 0 || this.flags > 2 || this.flags === 1) want = -EINVAL;
    else if (m.items.length >= m.max && this.flags !== 2) want = -E2BIG;
    assertEquals(got, want, this.toString());
    if (want === 0) {
      // BPF_EXIST on a full map drops the oldest element, for queue and stack
      if (m.items.length >= m.max) m.items.shift();
      m.items.push(val);
    }
  }
  toString(): string {
    return `push(value #${this.seed}, flags ${this.flags})`;
  }
}

class QsPop implements fc.Command<QsModel, QsReal> {
  constructor(readonly peek: boolean, readonly flags: number) {}
  check(): boolean {
    return true;
  }
  run(m: QsModel, r: QsReal): void {
    const out = new Uint8Array(m.valueSize);
    const got = this.peek
      ? r.k.sys.mapLookupElem(r.fd, null, out, this.flags)
      : r.k.sys.mapLookupAndDeleteElem(r.fd, null, out, this.flags);
    const top = m.stack ? m.items[m.items.length - 1] : m.items[0];
    const want = this.flags !== 0 ? -EINVAL : top ? 0 : -ENOENT;
    assertEquals(got, want, this.toString());
    if (want === 0) {
      assertEquals(hex(out), hex(top!), this.toString());
      if (!this.peek) {
        if (m.stack) m.items.pop();
        else m.items.shift();
      }
    }
  }
  toString(): string {
    return `${this.peek ? "peek" : "pop"}(flags ${this.flags})`;
  }
}

class QsUnsupported implements fc.Command<QsModel, QsReal> {
  constructor(readonly op: "delete" | "getnext" | "keyed-push" | "keyed-peek") {}
  check(): boolean {
    return true;
  }
  run(m: QsModel, r: QsReal): void {
    const s = r.k.sys;
    const v = new Uint8Array(m.valueSize);
    const got = this.op === "delete"
      ? s.mapDeleteElem(r.fd, null)
      : this.op === "getnext"
      ? s.mapGetNextKey(r.fd, null, new Uint8Array(4))
      : this.op === "keyed-push"
      ? s.mapUpdateElem(r.fd, keyBytes(0, 4), v, 0)
      : s.mapLookupElem(r.fd, keyBytes(0, 4), v);
    assertEquals(got, -EINVAL, this.toString());
  }
  toString(): string {
    return this.op;
  }
}

function qsCommands() {
  return [
    fc.tuple(fc.nat(255), fc.constantFrom(0, 0, 0, 2, 2, 1, 3)).map(([s, f]) => new QsPush(s, f)),
    fc.tuple(fc.boolean(), fc.constantFrom(0, 0, 0, 0, 1, 4)).map(([p, f]) => new QsPop(p, f)),
    fc.constantFrom("delete", "getnext", "keyed-push", "keyed-peek").map((op) =>
      new QsUnsupported(op as "delete" | "getnext" | "keyed-push" | "keyed-peek")
    ),
  ];
}

for (const profile of ["v5.11", "v6.1", "v6.18"]) {
  for (const mapType of ["queue", "stack"] as const) {
    Deno.test(`model: ${mapType} on ${profile} behaves like a bounded ${mapType === "queue" ? "FIFO" : "LIFO"}`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.constantFrom(1, 4, 7, 16),
          fc.commands(qsCommands(), { maxCommands: MAX_COMMANDS, size: "max" }),
          (max, valueSize, cmds) => {
            withKernel({ cpus: 2, profile }, (k) => {
              const fd = k.sys.mapCreate({ mapType, keySize: 0, valueSize, maxEntries: max });
              assertTrue(fd >= 0, `create: ${fd}`);
              const model: QsModel = { stack: mapType === "stack", max, valueSize, items: [] };
              fc.modelRun(() => ({ model, real: { k, fd } }), cmds);
            });
          },
        ),
        FC,
      );
    });
  }
}
