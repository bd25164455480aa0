// Workloads shared by the hash map benchmarks: the same key work done
// through the simulated bpf(2) path and through a plain JS Map.

import { Kernel } from "../lib/kernel/kernel.ts";

/** A 64k-entry hash map with k4/v8 and buffers for the loop. */
export function setupSim(entries = 65536) {
  const k = new Kernel({ cpus: 2, seed: 1 });
  const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: entries, name: "bench" });
  if (fd < 0) throw new Error(`map create failed: ${fd}`);
  return { k, fd, entries, key: new Uint8Array(4), val: new Uint8Array(8), out: new Uint8Array(8) };
}

/** update all keys, look each up, delete each, through kernel.sys. */
export function simRound(s: ReturnType<typeof setupSim>): number {
  const { k, fd, entries, key, val, out } = s;
  let errs = 0;
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    val[0] = i;
    errs += k.sys.mapUpdateElem(fd, key, val, 0) !== 0 ? 1 : 0;
  }
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    errs += k.sys.mapLookupElem(fd, key, out, 0) !== 0 ? 1 : 0;
  }
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    errs += k.sys.mapDeleteElem(fd, key) !== 0 ? 1 : 0;
  }
  if (errs) throw new Error(`${errs} failed operations`);
  return entries * 3;
}

/** The same key work with a JS Map: key bytes -> number, value copied in and out. */
export function mapRound(m: Map<number, Uint8Array>, entries = 65536): number {
  const key = new Uint8Array(4);
  const val = new Uint8Array(8);
  const out = new Uint8Array(8);
  const keyOf = (b: Uint8Array) => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    val[0] = i;
    m.set(keyOf(key), val.slice());
  }
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    const v = m.get(keyOf(key));
    if (v) out.set(v);
  }
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    m.delete(keyOf(key));
  }
  return entries * 3;
}

/**
 * The strongest plain-JS equivalent (issue 13's baseline): an integer-keyed
 * Map from key to a slot in one typed-array arena of values, with a stack of
 * free slots, so values are copied in and out without allocation.
 */
export class ArenaMap {
  readonly index: Map<number, number> = new Map();
  readonly arena: Uint8Array;
  readonly freeSlots: Int32Array;
  top: number;
  constructor(readonly entries: number, readonly valueSize: number) {
    this.arena = new Uint8Array(entries * valueSize);
    this.freeSlots = new Int32Array(entries);
    for (let i = 0; i < entries; i++) this.freeSlots[i] = entries - 1 - i;
    this.top = entries;
  }
}

/** The same key work on the arena map: update (copy in), lookup (copy out), delete (slot back). */
export function arenaRound(a: ArenaMap): number {
  const entries = a.entries;
  const vs = a.valueSize;
  const key = new Uint8Array(4);
  const val = new Uint8Array(vs);
  const out = new Uint8Array(vs);
  const keyOf = (b: Uint8Array) => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    val[0] = i;
    const kk = keyOf(key);
    let slot = a.index.get(kk);
    if (slot === undefined) {
      if (a.top === 0) throw new Error("arena full");
      slot = a.freeSlots[--a.top];
      a.index.set(kk, slot);
    }
    a.arena.set(val, slot * vs);
  }
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    const slot = a.index.get(keyOf(key));
    if (slot !== undefined) out.set(a.arena.subarray(slot * vs, slot * vs + vs));
  }
  for (let i = 0; i < entries; i++) {
    key[0] = i;
    key[1] = i >> 8;
    const kk = keyOf(key);
    const slot = a.index.get(kk);
    if (slot !== undefined) {
      a.index.delete(kk);
      a.freeSlots[a.top++] = slot;
    }
  }
  return entries * 3;
}
