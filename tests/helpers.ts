// Shared test helpers: kernels with a leak check, byte helpers.

import { assertEquals } from "./assert.ts";
import { Kernel } from "../lib/kernel/kernel.ts";
import type { KernelOptions } from "../lib/kernel/config.ts";

/** Bytes of kernel memory that must return to baseline: objects, vmalloc, pages, per-CPU. */
export function liveBytes(k: Kernel): number {
  const m = k.memoryUsage();
  return m.slabObjects + m.vmalloc + m.pages + m.percpu;
}

/**
 * Runs `fn` with a fresh kernel, then closes the default process' fds,
 * removes every pin, runs the kernel to quiescence (RCU callbacks, deferred
 * frees) and checks that kernel memory is back to its boot baseline.
 */
export function withKernel(opts: KernelOptions, fn: (k: Kernel) => void): void {
  const k = new Kernel(opts);
  const base = liveBytes(k);
  fn(k);
  leakCheck(k, base);
}

/** The leak check of withKernel, usable on its own. */
export function leakCheck(k: Kernel, base = 0): void {
  k.sys.exit();
  for (const p of k.bpf.fs.pins()) k.exec(0, () => k.bpf.fs.unlink(p.path));
  k.quiesce();
  if (k.stuckCpus().length === 0) {
    assertEquals(k.bpf.allMaps().length, 0, "maps still alive after close");
    assertEquals(liveBytes(k), base, `kernel memory leaked: ${JSON.stringify(k.memoryUsage())}`);
  }
}

/** The fields of a create recorded on the real kernel (tests/testdata/kernel/*.json). */
export interface RecordedCreate {
  type: string;
  key: number;
  value: number;
  entries: number;
  flags: number;
}

/** BPF_MAP_CREATE of a recorded case through k.sys: the fd or -errno. */
export function createRecorded(k: Kernel, c: RecordedCreate, name?: string): number {
  return k.sys.mapCreate({
    mapType: c.type,
    keySize: c.key,
    valueSize: c.value,
    maxEntries: c.entries,
    mapFlags: c.flags,
    name,
  });
}

/** A u32 little-endian key/value. */
export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** A u64 little-endian value. */
export function u64(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** Reads a u32 LE. */
export function readU32(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(off, true);
}

/** Reads a u64 LE as a number. */
export function readU64(b: Uint8Array, off = 0): number {
  return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(off, true));
}

/** All keys of a map fd in get_next_key order, as u32. */
export function keysU32(k: Kernel, fd: number): number[] {
  const out: number[] = [];
  let cur: Uint8Array | null = null;
  const next = new Uint8Array(4);
  for (let guard = 0; guard < 1e7; guard++) {
    if (k.sys.mapGetNextKey(fd, cur, next) !== 0) break;
    out.push(readU32(next));
    cur = next.slice();
  }
  return out;
}
