// What a simulation run did, collected around it: events fired, program
// runs, runs skipped by a recursion guard (and which), the results of the
// programs' map ops by errno, reads through reused elements, task
// preemptions, the kernel log lines it produced and CPUs that locked up.
// `sim fire` and `sim run` print it; the library returns it.

import type { Kernel } from "../kernel/kernel.ts";
import type { LogEntry } from "../kernel/dmesg.ts";
import { RunCounters } from "../bpf/bpf.ts";
import { errnoName } from "../kernel/errno.ts";

/** The outcome of one run. */
export interface RunSummary {
  /** What ran ("sim fire kprobe:kfree", "sim run syscall"). */
  readonly what: string;
  /** Events the hooks or workloads fired. */
  readonly events: number;
  /** CPUs the run used. */
  readonly cpus: readonly number[];
  /** Simulated time that passed (the latest clock moved by this much), ns. */
  readonly simNs: number;
  /** Program runs started. */
  readonly runs: number;
  /** Runs skipped, by guard. */
  readonly skipped: ReadonlyMap<string, number>;
  /** Program map-op results by errno (0 = success). */
  readonly opResults: ReadonlyMap<number, number>;
  /** Accesses through reused elements (use-after-reuse). */
  readonly reuseHits: number;
  /** Task preemptions during the run. */
  readonly preemptions: number;
  /** Kernel log entries written during the run. */
  readonly dmesg: readonly LogEntry[];
  /** CPUs stuck at the end (deadlocked). */
  readonly stuckCpus: readonly number[];
  /** False when the run stopped at its step bound before the kernel was idle. */
  readonly finished: boolean;
}

/** Counts by errno (0 or -errno keys) as {"ok": n, "EBUSY": n}, successes first, then by errno. */
export function errnoCounts(m: ReadonlyMap<number, number>): Record<string, number> {
  const o: Record<string, number> = {};
  for (const [e, n] of [...m].sort((a, b) => b[0] - a[0])) o[e === 0 ? "ok" : errnoName(-e)] = n;
  return o;
}

/** Counts events of a run (workloads and hooks increment it). */
export class EventCounter {
  /** Events so far. */
  n = 0;
}

/** Starts collecting: fresh program counters; returns the function that ends the run. */
export function beginRun(
  k: Kernel,
  what: string,
  cpus: readonly number[],
): (events: number, finished: boolean) => RunSummary {
  const prev = k.bpf.counters;
  const c = new RunCounters();
  k.bpf.counters = c;
  const t0 = k.now();
  const log0 = k.dmesg.printed;
  const pre0 = k.preemptions;
  return (events, finished) => {
    // fold the run's counts back into the kernel's running totals
    prev.runs += c.runs;
    prev.reuseHits += c.reuseHits;
    for (const [g, n] of c.skipped) prev.skipped.set(g, (prev.skipped.get(g) ?? 0) + n);
    for (const [e, n] of c.opResults) prev.opResults.set(e, (prev.opResults.get(e) ?? 0) + n);
    k.bpf.counters = prev;
    return {
      what,
      events,
      cpus,
      simNs: k.now() - t0,
      runs: c.runs,
      skipped: c.skipped,
      opResults: c.opResults,
      reuseHits: c.reuseHits,
      preemptions: k.preemptions - pre0,
      dmesg: k.dmesg.since(log0),
      stuckCpus: k.stuckCpus(),
      finished,
    };
  };
}
