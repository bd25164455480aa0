// Instrumented points: the kernel functions a kprobe can attach to
// (kernel/kprobes.c, the ftrace function table). Each simulated kernel
// function calls its point on entry. A point (1) runs the kprobe handlers
// attached there, nested on the same CPU in whatever context the CPU is in,
// (2) delivers interrupts that are due and allowed, (3) charges its cost.
// Ids are global and stable so hot paths compare small integers.

import type { BpfLink } from "../bpf/link.ts";

/** Static description of one probe-able function. */
export interface PointInfo {
  /** Index in the point registry, the value Kernel.point() is called with. */
  readonly id: number;
  /** Kernel symbol, e.g. "htab_map_update_elem". */
  readonly name: string;
  /** Kernel source file the function lives in. */
  readonly file: string;
  /** One line on what it does. */
  readonly doc: string;
  /** Its return is instrumented too (Kernel.pointRet): kretprobe and fexit can attach. */
  readonly ret: boolean;
  /** It runs in process context and may sleep: sleepable fentry/fexit programs may attach. */
  readonly sleepable: boolean;
}

/** Options of definePoint(). */
export interface PointOptions {
  /** The function's return calls Kernel.pointRet(). */
  ret?: boolean;
  /** The function may sleep (sleepable programs may attach). */
  sleepable?: boolean;
}

const registry: PointInfo[] = [];
const byName = new Map<string, PointInfo>();

/** Declares a probe-able function; returns its id (call at module load). */
export function definePoint(name: string, file: string, doc: string, opts: PointOptions = {}): number {
  const have = byName.get(name);
  if (have) return have.id;
  const info = { id: registry.length, name, file, doc, ret: opts.ret ?? false, sleepable: opts.sleepable ?? false };
  registry.push(info);
  byName.set(name, info);
  return info.id;
}

/** Every declared point, in declaration order. */
export function allPoints(): readonly PointInfo[] {
  return registry;
}

/** A point by kernel symbol name. */
export function pointByName(name: string): PointInfo | undefined {
  return byName.get(name);
}

/** A point by id. */
export function pointInfo(id: number): PointInfo {
  return registry[id];
}

/** Arguments a handler sees (a tiny pt_regs). */
export interface ProbeArgs {
  /** The lock for lock functions, the size for allocations, ... */
  readonly arg?: unknown;
}

/**
 * A kprobe handler. Runs nested on the CPU that hit the point, with
 * preemption disabled, like kprobe_ftrace_handler -> pre_handler.
 */
export type ProbeHandler = (pointId: number, arg: unknown) => void;

/** One attached kprobe or kretprobe. */
export interface Kprobe {
  /** Registration number, unique per kernel (1, 2, ...). */
  readonly id: number;
  /** Id of the point (kernel function) it is attached to. */
  readonly point: number;
  /** A kretprobe: runs when the function returns. */
  readonly ret: boolean;
  /** The library handler run when the function is entered (or returns); absent for BPF links. */
  readonly handler?: ProbeHandler;
  /** The BPF link whose program the probe runs (one element, so the run path needs no array per hit). */
  readonly links?: BpfLink[];
  /** Times the handler ran. */
  nhit: number;
  /** Times it was skipped because a kprobe was already running on that CPU. */
  nmissed: number;
}
