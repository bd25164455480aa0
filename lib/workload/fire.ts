// `sim fire HOOK`: a hook fires on a CPU in a chosen context, nested above
// whatever that CPU runs. In task context each firing is a step of its own
// task (its programs may stop between ops and let other CPUs run); in
// softirq context a step enters a softirq frame (a ksoftirqd-like thread on
// PREEMPT_RT); hardirq and NMI firings are interrupts raised on the CPU, so
// they land at the next instrumented point of whatever runs there — inside
// a map op, under a lock — exactly as the kernel's interrupts do.

import type { Kernel } from "../kernel/kernel.ts";
import { pointByName } from "../kernel/points.ts";
import { rawTracepointByName, tracepointByName } from "../kernel/tracepoint.ts";
import { enterSoftirq, leaveSoftirq } from "../kernel/context.ts";
import { bpf_overflow_handler } from "../bpf/bpf_trace.ts";
import type { BpfLink } from "../bpf/link.ts";
import { beginRun, type RunSummary } from "./summary.ts";

/** Execution contexts a hook can be fired in. */
export type FireContext = "task" | "softirq" | "hardirq" | "nmi";

/** A parsed hook: `kprobe:FUNC`, `kretprobe:FUNC`, `fentry:FUNC`, `fexit:FUNC`, `tracepoint:CAT:NAME`, `raw_tp:NAME`, `perf_event`. */
export type HookRef =
  | { kind: "entry" | "exit"; point: number; name: string }
  | { kind: "tp"; tp: number; name: string }
  | { kind: "perf" };

/** Parses a hook name; a string says what is wrong. */
export function parseHook(s: string): HookRef | string {
  const i = s.indexOf(":");
  const kind = i < 0 ? s : s.slice(0, i);
  const rest = i < 0 ? "" : s.slice(i + 1);
  switch (kind) {
    case "kprobe":
    case "fentry":
    case "kretprobe":
    case "fexit": {
      const p = pointByName(rest);
      if (!p) return `no probe-able kernel function '${rest}' (see 'kernel points')`;
      const exit = kind === "kretprobe" || kind === "fexit";
      if (exit && !p.ret) return `${rest} has no instrumented return (see 'kernel points': ret)`;
      return { kind: exit ? "exit" : "entry", point: p.id, name: rest };
    }
    case "tracepoint": {
      const tp = tracepointByName(rest);
      return tp ? { kind: "tp", tp: tp.id, name: rest } : `no tracepoint '${rest}' (see 'tracepoint list')`;
    }
    case "raw_tp": {
      const tp = rawTracepointByName(rest);
      return tp ? { kind: "tp", tp: tp.id, name: rest } : `no raw tracepoint '${rest}' (see 'tracepoint list')`;
    }
    case "perf_event":
      return rest ? `perf_event takes no name` : { kind: "perf" };
  }
  return `unknown hook '${s}': kprobe:FUNC, kretprobe:FUNC, fentry:FUNC, fexit:FUNC, tracepoint:CAT:NAME, ` +
    `raw_tp:NAME or perf_event`;
}

/** Options of fireHook(). */
export interface FireOptions {
  /** The CPU (default 0). */
  cpu?: number;
  /** The context (default: task; NMI for perf_event). */
  context?: FireContext;
  /** How many times (default 1). */
  count?: number;
  /** Simulated ns between firings (default 1000). */
  everyNs?: number;
  /** Step bound for the run (default 10,000,000). */
  maxSteps?: number;
}

/** Perf links that sample `cpu`. */
function perfLinksOn(k: Kernel, cpu: number): BpfLink[] {
  return k.bpf.hooks.perf.filter((l) => l.target.hook === "perf_event" && (l.target.cpu < 0 || l.target.cpu === cpu));
}

/** One firing of the hook on the current CPU, synchronously (in the context already entered). */
function fireNow(k: Kernel, h: HookRef): void {
  switch (h.kind) {
    case "entry":
      k.point(h.point);
      break;
    case "exit":
      k.pointRet(h.point, 0, 0);
      break;
    case "tp":
      k.tracepoint(h.tp);
      break;
    case "perf":
      for (const l of perfLinksOn(k, k.cur.id)) bpf_overflow_handler(k, l, null);
      break;
  }
}

/** One firing at the top of a task step: programs may yield between ops. */
function* fireYield(k: Kernel, h: HookRef): Generator<void, void, unknown> {
  const hooks = k.bpf.hooks;
  if (h.kind === "tp") {
    yield* hooks.tracepointYield(h.tp, ZERO_ARGS);
    return;
  }
  if (h.kind === "entry") {
    // the function is entered: its kprobes (yielding) and fentry programs
    const list = k.kprobes.byPoint[h.point];
    const links = list?.filter((kp) => kp.links).map((kp) => kp.links![0]) ?? [];
    if (links.length) yield* hooks.kprobeYield(links, ZERO_ARGS);
    const others = list?.filter((kp) => !kp.links) ?? [];
    for (const kp of others) kp.handler!(h.point, undefined);
    if (hooks.tramp[h.point] !== undefined) hooks.fentry(h.point, undefined);
    k.cur.siteId = h.point;
    return;
  }
  fireNow(k, h);
}

const ZERO_ARGS = new Float64Array(6);

/**
 * Fires `hook` `count` times on a CPU in a context, runs the kernel until
 * it is idle again, and reports what happened.
 */
export function fireHook(k: Kernel, hookName: string, opts: FireOptions = {}): RunSummary | string {
  const h = parseHook(hookName);
  if (typeof h === "string") return h;
  const cpu = opts.cpu ?? 0;
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= k.ncpu) return `no CPU ${cpu} (this kernel has ${k.ncpu})`;
  const ctx = opts.context ?? (h.kind === "perf" ? "nmi" : "task");
  const count = opts.count ?? 1;
  const every = opts.everyNs ?? 1000;
  const end = beginRun(k, `sim fire ${hookName} cpu ${cpu} context ${ctx}`, [cpu]);
  let events = 0;
  const c = k.cpus[cpu];
  const t0 = c.clock;
  for (let i = 0; i < count; i++) {
    const at = t0 + i * every;
    switch (ctx) {
      case "task":
        k.queueStep(cpu, function* () {
          if (k.cur.clock < at) k.cur.clock = at;
          events++;
          yield* fireYield(k, h);
        }, { comm: "sim-fire" });
        break;
      case "softirq":
        k.queueStep(cpu, () => {
          if (k.cur.clock < at) k.cur.clock = at;
          events++;
          const threaded = k.config.preemptRt;
          enterSoftirq(k.cur, "sim", threaded);
          fireNow(k, h);
          leaveSoftirq(k.cur);
        }, { comm: k.config.preemptRt ? `ksoftirqd/${cpu}` : "sim-fire" });
        break;
      case "hardirq":
        k.raiseIrq(cpu, at, "sim", () => {
          events++;
          fireNow(k, h);
        }, { threadedOnRt: false });
        break;
      case "nmi":
        k.raiseNmi(cpu, at, "sim", () => {
          events++;
          fireNow(k, h);
        });
        break;
    }
  }
  const finished = k.quiesce(opts.maxSteps ?? 10_000_000);
  return end(events, finished);
}
