// Helpers shared by the ring buffer tests.

import { assertTrue } from "../assert.ts";
import type { Kernel } from "../../lib/kernel/kernel.ts";
import { HUNG } from "../../lib/kernel/kernel.ts";
import { BpfRingbuf } from "../../lib/bpf/ringbuf.ts";

/** Creates a ring of `size` bytes through bpf(2); its fd and map object. */
export function makeRing(k: Kernel, size = 4096, type: "ringbuf" | "user_ringbuf" = "ringbuf") {
  const fd = k.sys.mapCreate({ mapType: type, keySize: 0, valueSize: 0, maxEntries: size, name: "rb" });
  assertTrue(fd > 0, `create failed: ${fd}`);
  const rb = k.sys.mapOf(fd);
  assertTrue(rb instanceof BpfRingbuf);
  return { fd, rb };
}

/** Runs `fn` on `cpu` in task context (like a program run by a syscall) and returns its result. */
export function onCpu<T>(k: Kernel, fn: () => T, cpu = 0): T {
  const r = k.exec(cpu, fn, { comm: "producer" });
  if (r === HUNG) throw new Error(`CPU ${cpu} hung: ${k.dmesg.text()}`);
  return r as T;
}

/** A payload of `n` bytes derived from `seed`. */
export function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Moves every position of an empty ring to `pos` (as if that many bytes had gone through it). */
export function setPositions(k: Kernel, rb: BpfRingbuf, pos: bigint): void {
  for (const a of [rb.consumerPosAddr, rb.producerPosAddr, rb.pendingPosAddr]) {
    k.mem.writeU32(a, Number(pos & 0xffffffffn));
    k.mem.writeU32(a + 4, Number((pos >> 32n) & 0xffffffffn));
  }
}
