// Workqueues (kernel/workqueue.c): deferred work in kworker task context.
// Work runs as a step on the chosen CPU (the queuing CPU for per-CPU queues,
// round-robin for unbound ones), in simulated-time order like any task.

import { COST } from "./cost.ts";
import type { Kernel } from "./kernel.ts";
import { definePoint } from "./points.ts";

const P_QUEUE_WORK = definePoint("queue_work_on", "kernel/workqueue.c", "queue work for a kworker");

/** queue_work(): runs fn later in a kworker on this CPU (or unbound). */
export function queue_work(k: Kernel, name: string, fn: () => void, unbound = false): void {
  k.point(P_QUEUE_WORK);
  k.cur.clock += COST.queueWork;
  // unbound work goes to the least loaded CPU (smallest clock, lowest id)
  let cpu = k.cur.id;
  if (unbound) {
    for (const c of k.cpus) if (c.stuck === null && c.clock < k.cpus[cpu].clock) cpu = c.id;
  }
  k.queueStep(cpu, fn, { comm: unbound ? "kworker/u:0" : `kworker/${cpu}:1` });
  void name;
}
