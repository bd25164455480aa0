// The workload interface: an event source that drives the kernel on a set
// of CPUs for a number of events or a stretch of simulated time, each
// deterministic from the kernel's seed. Workloads queue steps (task context)
// or raise interrupts (timer ticks, NIC interrupts, perf NMIs) and count
// what they fire.

import type { Kernel } from "../kernel/kernel.ts";
import type { EventCounter } from "./summary.ts";

/** Where and how long a workload runs. */
export interface WorkloadSpan {
  /** CPUs it runs on. */
  readonly cpus: readonly number[];
  /** Events per CPU, when counting. */
  readonly count: number | null;
  /** Simulated time window [start, end), when timed. */
  readonly start: number;
  /** End of the window (Infinity when counting). */
  readonly end: number;
}

/** A workload's parameters (hz, name, pps, size, tasks ...) as given on the command line. */
export type WorkloadParams = Readonly<Record<string, number | string>>;

/** One kind of workload. */
export interface Workload {
  /** Its name on the command line. */
  readonly name: string;
  /** One line on what it does. */
  readonly summary: string;
  /** Parameters it takes, with their defaults (numbers or strings). */
  readonly params: Readonly<Record<string, number | string>>;
  /** Schedules its events; `events` counts them as they fire. Returns an error text for bad parameters. */
  start(k: Kernel, span: WorkloadSpan, p: WorkloadParams, events: EventCounter): string | null;
}

/** True while a workload on `cpu` should fire its `n`-th event (0-based) at simulated time `t`. */
export function inSpan(span: WorkloadSpan, n: number, t: number): boolean {
  return span.count !== null ? n < span.count : t < span.end;
}
