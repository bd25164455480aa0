// Running workloads (`sim run`): the registry of workloads, the span they
// share (a count of events spread over the CPUs, or a stretch of simulated
// time), the run to quiescence with a progress callback, and the summary.

import type { Kernel } from "../kernel/kernel.ts";
import { beginRun, EventCounter, type RunSummary } from "./summary.ts";
import type { Workload, WorkloadParams, WorkloadSpan } from "./workload.ts";
import { syscallWorkload } from "./syscall.ts";
import { timerWorkload } from "./timer.ts";
import { netrxWorkload } from "./netrx.ts";
import { perfWorkload } from "./perf.ts";
import { kmallocWorkload } from "./kmalloc.ts";
import { schedWorkload } from "./sched.ts";

/** Every workload, by name. */
export const WORKLOADS: readonly Workload[] = [
  syscallWorkload,
  timerWorkload,
  netrxWorkload,
  perfWorkload,
  kmallocWorkload,
  schedWorkload,
];

/** A workload by name, or undefined. */
export function findWorkload(name: string): Workload | undefined {
  return WORKLOADS.find((w) => w.name === name);
}

/** Options of runWorkloads(). */
export interface RunOptions {
  /** CPUs to run on (default: all). */
  cpus?: number[];
  /** Total events of the first workload, spread over the CPUs (default 1000 when no duration is given). */
  count?: number;
  /** Simulated time to run, ns (instead of a count). */
  durationNs?: number;
  /** Workload parameters (hz, name, pps, batch, size, tasks, rtprio). */
  params?: WorkloadParams;
  /** Called with the fraction done now and then. */
  progress?: (fraction: number) => void;
  /** Step bound (default 50,000,000). */
  maxSteps?: number;
}

/**
 * Runs one or more workloads together on the kernel until it is idle and
 * reports what happened. With a count, the first workload fires that many
 * events in total and the others run alongside until it is done.
 */
export function runWorkloads(k: Kernel, names: readonly string[], o: RunOptions = {}): RunSummary | string {
  const ws: Workload[] = [];
  for (const n of names) {
    const w = findWorkload(n);
    if (!w) return `unknown workload '${n}' (known: ${WORKLOADS.map((x) => x.name).join(", ")})`;
    ws.push(w);
  }
  if (!ws.length) return "no workload given";
  const cpus = o.cpus ?? k.cpus.map((c) => c.id);
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c >= k.ncpu) return `no CPU ${c} (this kernel has ${k.ncpu})`;
  }
  if (o.durationNs !== undefined && o.count !== undefined) return "give a count or a duration, not both";
  const params = o.params ?? {};
  const known = new Set(ws.flatMap((w) => Object.keys(w.params)));
  for (const p of Object.keys(params)) {
    if (!known.has(p)) {
      return `${names.join(",")} takes no parameter '${p}' (known: ${[...known].join(", ") || "none"})`;
    }
  }
  const start = k.now();
  const timed = o.durationNs !== undefined;
  const total = o.count ?? 1000;
  const events = new EventCounter();
  const end = beginRun(k, `sim run ${names.join(",")}`, cpus);
  // the first workload's count decides; the ones beside it run as long as it does
  const first = new EventCounter();
  for (let i = 0; i < ws.length; i++) {
    const span: WorkloadSpan = timed
      ? { cpus, count: null, start, end: start + o.durationNs! }
      : i === 0
      ? { cpus, count: Math.ceil(total / cpus.length), start, end: Infinity }
      : { cpus, count: null, start, end: Infinity };
    const err = ws[i].start(k, span, params, i === 0 ? first : events);
    if (err) {
      end(0, true);
      return err;
    }
  }
  // run in slices of simulated time so that progress can be reported and companions that never end on
  // their own (a timer or perf workload beside a counted one) stop when the counted workload is done
  const max = o.maxSteps ?? 50_000_000;
  const companions = !timed && ws.length > 1;
  let steps = 0;
  let t = start;
  while (steps < max) {
    t += SLICE_NS;
    steps += k.run({ until: t, maxSteps: max - steps });
    o.progress?.(timed ? Math.min(1, (t - start) / o.durationNs!) : Math.min(1, first.n / total));
    if (companions && first.n >= total && k.cpus.every((c) => c.pendingSteps() === 0 && c.cont === null)) {
      // drop the companions' pending interrupts: time goes no further
      for (const c of k.cpus) {
        c.events.length = 0;
        c.nextEventAt = Infinity;
      }
      break;
    }
    if (k.idleEverywhere()) break;
  }
  const finished = k.quiesce(Math.max(1, max - steps));
  return end(first.n + events.n, finished);
}

/** Simulated time between progress reports (and companion checks). */
const SLICE_NS = 1_000_000;
