// Kernel memory sampled over simulated time, as htab-mem reads its cgroup's
// memory.current once per interval and memory.peak at the end: a kernel
// timer takes a sample every `intervalNs` (the average), and callers may add
// samples at interesting moments (the peak sees those too).

import type { Kernel } from "../kernel/kernel.ts";

/** Bytes of kernel memory in use: kmalloc objects, vmalloc, pages, per-CPU. */
export function kernelBytes(k: Kernel): number {
  const m = k.memoryUsage();
  return m.slabObjects + m.vmalloc + m.pages + m.percpu;
}

/** Samples kernel memory above a baseline from `start` to `end` (simulated ns). */
export class MemorySampler {
  private sum = 0;
  private n = 0;
  /** Highest sample, in bytes above the baseline. */
  peak = 0;

  /** Starts sampling kernel `k` every `intervalNs` until `end`, relative to `base` bytes. */
  constructor(
    private readonly k: Kernel,
    private readonly base: number,
    start: number,
    private readonly end: number,
    private readonly intervalNs: number,
  ) {
    this.arm(start + intervalNs);
  }

  private arm(at: number): void {
    if (at > this.end) return;
    this.k.addTimer(at, (t) => {
      const b = this.take();
      this.sum += b;
      this.n++;
      this.arm(t + this.intervalNs);
    });
  }

  /** One sample now (counts for the peak only). */
  take(): number {
    const b = kernelBytes(this.k) - this.base;
    if (b > this.peak) this.peak = b;
    return b;
  }

  /** Mean of the periodic samples, in bytes (0 before the first one). */
  average(): number {
    return this.n ? this.sum / this.n : 0;
  }
}
