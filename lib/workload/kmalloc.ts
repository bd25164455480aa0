// The `kmalloc` workload: kmalloc/kfree churn in task context on each CPU.
// Objects allocated on one CPU are freed by the next (by itself when it runs
// alone), oldest first while more than `live` are held, so frees land in
// slabs the freeing CPU no longer owns and allocations exhaust per-CPU slabs: both
// slab slow paths run, each under the node's list_lock (where the 2016
// kprobe deadlock of seed 000 lives). Everything is freed by the end.

import type { Kernel } from "../kernel/kernel.ts";
import { GFP_KERNEL } from "../kernel/slab.ts";
import type { EventCounter } from "./summary.ts";
import { inSpan, type Workload, type WorkloadParams, type WorkloadSpan } from "./workload.ts";

/** The workload. */
export const kmallocWorkload: Workload = {
  name: "kmalloc",
  summary: "kmalloc/kfree churn across CPUs through the slab slow paths (node list_lock)",
  params: { size: 64, batch: 16, live: 512 },
  start(k: Kernel, span: WorkloadSpan, p: WorkloadParams, events: EventCounter): string | null {
    const size = Number(p.size ?? 64);
    const batch = Number(p.batch ?? 16);
    const live = Number(p.live ?? 512);
    if (!Number.isInteger(live) || live < 0 || live > 1 << 20) return `live must be 0-1048576, got ${p.live}`;
    if (!Number.isInteger(size) || size < 1 || size > 8192) return `size must be 1-8192, got ${p.size}`;
    if (!Number.isInteger(batch) || batch < 1 || batch > 4096) return `batch must be 1-4096, got ${p.batch}`;
    const cpus = span.cpus;
    // objects each CPU allocated, waiting for the next CPU to free them
    const pools: number[][] = cpus.map(() => []);
    const counts = cpus.map(() => 0);
    let active = cpus.length;
    cpus.forEach((cpu, idx) => {
      const comm = `wl-kmalloc/${cpu}`;
      const step = () => {
        const c = k.cur;
        if (c.clock < span.start) c.clock = span.start;
        const running = inSpan(span, counts[idx], c.clock);
        if (running) {
          counts[idx]++;
          events.n++;
          for (let i = 0; i < batch; i++) {
            const a = k.slab.kmalloc(size, GFP_KERNEL, "wl_kmalloc");
            if (a !== 0) pools[idx].push(a);
          }
        }
        // free the oldest of what the previous CPU allocated, keeping `live` objects (all once done):
        // they sit in slabs no CPU owns any more, so the frees take __slab_free's list_lock
        const from = pools[(idx + cpus.length - 1) % cpus.length];
        const n = running ? Math.max(0, from.length - live) : from.length;
        for (const a of from.splice(0, n)) k.slab.kfree(a, "wl_kfree");
        if (running) k.queueStep(cpu, step, { comm });
        else if (--active === 0) {
          // the last CPU to finish frees whatever is left anywhere
          for (const pool of pools) for (const a of pool.splice(0)) k.slab.kfree(a, "wl_kfree");
        }
      };
      k.queueStep(cpu, step, { comm });
    });
    return null;
  },
};
