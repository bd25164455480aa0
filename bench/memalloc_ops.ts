// Workloads of the bpf_mem_alloc benchmark: alloc+free pairs on one CPU's
// cache (the hash map's fixed-size mode, 72-byte units), in task context
// with interrupts going on and off around every call as in the kernel.

import { Kernel } from "../lib/kernel/kernel.ts";
import { BpfMemAlloc } from "../lib/bpf/memalloc.ts";

/** A kernel and an allocator of 64-byte objects (hash elements of key 4, value 8). */
export function setupMa() {
  const k = new Kernel({ cpus: 2, seed: 1 });
  const ma = new BpfMemAlloc(k);
  if (k.exec(0, () => ma.init(64, false)) !== 0) throw new Error("bpf_mem_alloc_init failed");
  return { k, ma, held: new Float64Array(64) };
}

/**
 * `n` alloc+free pairs: bursts of 64 allocations then 64 frees (so that the
 * cache drains below the low watermark and fills past the high one: refills
 * and trims run through irq_work as they would), inside one task step.
 * Returns the pairs done.
 */
export function maRound(s: ReturnType<typeof setupMa>, n = 65536): number {
  const { k, ma, held } = s;
  let fails = 0;
  k.exec(0, () => {
    for (let i = 0; i < n; i += 64) {
      for (let j = 0; j < 64; j++) {
        const p = ma.cacheAlloc();
        if (p === 0) fails++;
        held[j] = p;
      }
      for (let j = 0; j < 64; j++) ma.cacheFree(held[j]);
    }
  });
  // the trims' grace periods end and their objects go back to slab
  k.quiesce();
  if (fails) throw new Error(`${fails} allocations failed`);
  return n;
}

/** The same bookkeeping on a plain JS free list (push/pop of numbers): the baseline. */
export function jsRound(free: number[], n = 65536): number {
  const held = new Float64Array(64);
  for (let i = 0; i < n; i += 64) {
    for (let j = 0; j < 64; j++) held[j] = free.pop() ?? i + j;
    for (let j = 0; j < 64; j++) free.push(held[j]);
  }
  return n;
}
