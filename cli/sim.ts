// bpfsim's `sim` object: drive the kernel. `sim fire HOOK` fires one hook
// on a CPU in a chosen context; `sim run WORKLOAD` runs event sources
// (syscall, timer, netrx, perf, kmalloc, sched) for a count of events or a
// stretch of simulated time. Both print what happened: events, program runs,
// runs skipped and why, the programs' map op results by errno, reads through
// reused elements, preemptions and the new kernel log lines (plain or -j).

import { errnoName, strerror } from "../lib/kernel/errno.ts";
import { type FireContext, fireHook } from "../lib/workload/fire.ts";
import { runWorkloads, WORKLOADS } from "../lib/workload/run.ts";
import { errnoCounts, type RunSummary } from "../lib/workload/summary.ts";
import { type Args, badArg, type Cmd, cmdSelect, nextArg, objectHelp } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { parseUnsigned } from "./parse.ts";
import { progressLine } from "./progress.ts";

/** "10ms", "1.5s", "200us", "1000ns" or a bare number of ns: nanoseconds, or null. */
export function parseDuration(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)?$/.exec(s);
  if (!m) return null;
  const v = Number(m[1]) * { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[m[2] ?? "ns"]!;
  return Number.isFinite(v) && v > 0 && v <= 3600e9 ? Math.round(v) : null;
}

/** "0-3,5": CPU numbers, or null. */
export function parseCpuList(s: string): number[] | null {
  const out: number[] = [];
  for (const part of s.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > 63) return null;
    for (let i = a; i <= b; i++) if (!out.includes(i)) out.push(i);
  }
  return out;
}

/** Prints a run summary (plain or JSON). */
export function printSummary(ctx: CliContext, s: RunSummary): void {
  const jw = ctx.out.json;
  if (jw) {
    jw.value({
      what: s.what,
      events: s.events,
      cpus: [...s.cpus],
      sim_ns: Math.round(s.simNs),
      runs: s.runs,
      skipped: Object.fromEntries(s.skipped),
      map_ops: errnoCounts(s.opResults),
      use_after_reuse: s.reuseHits,
      preemptions: s.preemptions,
      stuck_cpus: [...s.stuckCpus],
      finished: s.finished,
      dmesg: s.dmesg.map((e) => e.text),
    });
    return;
  }
  const lines: string[] = [];
  lines.push(
    `${s.what}: ${s.events} events on CPU${s.cpus.length === 1 ? "" : "s"} ${s.cpus.join(",")}, ${
      (s.simNs / 1e6).toFixed(3)
    } ms simulated`,
  );
  let skipped = 0;
  for (const n of s.skipped.values()) skipped += n;
  lines.push(
    `  programs: ${s.runs} runs, ${skipped} skipped${
      skipped ? ` (${[...s.skipped].map(([g, n]) => `${g}: ${n}`).join(", ")})` : ""
    }`,
  );
  if (s.opResults.size) {
    lines.push(
      `  map ops: ${
        [...s.opResults].sort((a, b) => b[0] - a[0]).map(([e, n]) =>
          e === 0 ? `ok ${n}` : `-${errnoName(-e)} (${strerror(-e)}) ${n}`
        ).join(", ")
      }`,
    );
  }
  if (s.reuseHits) lines.push(`  use-after-reuse: ${s.reuseHits} accesses through reused elements`);
  if (s.preemptions) lines.push(`  preemptions: ${s.preemptions}`);
  if (s.stuckCpus.length) lines.push(`  stuck CPUs: ${s.stuckCpus.join(",")} (see dmesg)`);
  if (!s.finished) lines.push(`  stopped at the step bound before the kernel was idle`);
  if (s.dmesg.length) {
    lines.push(`  dmesg: ${s.dmesg.length} new entr${s.dmesg.length === 1 ? "y" : "ies"}:`);
    for (const e of s.dmesg) for (const l of e.text.split("\n")) lines.push(`    ${l}`);
  } else lines.push(`  dmesg: nothing new`);
  ctx.out.print(lines.join("\n") + "\n");
}

const CONTEXTS: readonly FireContext[] = ["task", "softirq", "hardirq", "nmi"];

/** sim fire HOOK [cpu N] [context C] [count N] [every DURATION] */
function doFire(ctx: CliContext, args: Args): number {
  if (!args.argc) {
    ctx.out.pErr(
      "expected a hook: kprobe:FUNC, kretprobe:FUNC, fentry:FUNC, fexit:FUNC, tracepoint:CAT:NAME, raw_tp:NAME, perf_event",
    );
    return -1;
  }
  const hook = args.cur!;
  nextArg(ctx, args);
  const o: { cpu?: number; context?: FireContext; count?: number; everyNs?: number } = {};
  while (args.argc) {
    const w = args.cur!;
    nextArg(ctx, args);
    const v = args.cur;
    if (v === undefined) {
      ctx.out.pErr(`expected a value after ${w}`);
      return -1;
    }
    if (w === "cpu" || w === "count") {
      const n = parseUnsigned(v, 0, 32);
      if (n === null || (w === "count" && (n < 1 || n > 10_000_000))) {
        ctx.out.pErr(`can't parse ${v} as ${w === "cpu" ? "CPU" : "count (1-10000000)"}`);
        return -1;
      }
      o[w] = n;
    } else if (w === "context") {
      if (!(CONTEXTS as string[]).includes(v)) {
        ctx.out.pErr(`expected a context (${CONTEXTS.join(", ")}), got: '${v}'`);
        return -1;
      }
      o.context = v as FireContext;
    } else if (w === "every") {
      const d = parseDuration(v);
      if (d === null) {
        ctx.out.pErr(`can't parse ${v} as a duration (e.g. 10us, 1ms)`);
        return -1;
      }
      o.everyNs = d;
    } else {
      args.i--;
      return badArg(ctx, args);
    }
    nextArg(ctx, args);
  }
  const s = fireHook(ctx.k, hook, o);
  if (typeof s === "string") {
    ctx.out.pErr(s);
    return -1;
  }
  printSummary(ctx, s);
  return 0;
}

/** sim run WORKLOAD[,WORKLOAD...] [cpus LIST] [count N | duration D] [PARAM VALUE]... */
function doRun(ctx: CliContext, args: Args): number {
  if (!args.argc) {
    ctx.out.pErr(`expected a workload (${WORKLOADS.map((w) => w.name).join(", ")})`);
    return -1;
  }
  const names = args.cur!.split(",");
  nextArg(ctx, args);
  let cpus: number[] | undefined;
  let count: number | undefined;
  let durationNs: number | undefined;
  const params: Record<string, number | string> = {};
  while (args.argc) {
    const w = args.cur!;
    nextArg(ctx, args);
    const v = args.cur;
    if (v === undefined) {
      ctx.out.pErr(`expected a value after ${w}`);
      return -1;
    }
    if (w === "cpus") {
      const l = parseCpuList(v);
      if (!l) {
        ctx.out.pErr(`can't parse ${v} as a CPU list (e.g. 0-3,5)`);
        return -1;
      }
      cpus = l;
    } else if (w === "count") {
      const n = parseUnsigned(v, 0, 32);
      if (n === null || n < 1 || n > 100_000_000) {
        ctx.out.pErr(`can't parse ${v} as count (1-100000000)`);
        return -1;
      }
      count = n;
    } else if (w === "duration") {
      const d = parseDuration(v);
      if (d === null) {
        ctx.out.pErr(`can't parse ${v} as a duration (e.g. 10ms, 1s)`);
        return -1;
      }
      durationNs = d;
    } else if (/^[a-z]+$/.test(w)) {
      params[w] = /^\d+$/.test(v) ? Number(v) : v;
    } else {
      args.i--;
      return badArg(ctx, args);
    }
    nextArg(ctx, args);
  }
  const progress = progressLine(`sim run ${names.join(",")}`);
  const s = runWorkloads(ctx.k, names, { cpus, count, durationNs, params, progress: progress.update });
  progress.done();
  if (typeof s === "string") {
    ctx.out.pErr(s);
    return -1;
  }
  printSummary(ctx, s);
  return 0;
}

/** Grammar definitions after the command lines of `sim help` (completion reads them). */
export const SIM_DEFS: readonly string[] = [
  `CONTEXT := { ${CONTEXTS.join(" | ")} }`,
];

/** The notes `sim help` prints after the definitions. */
function simNotes(): string[] {
  return [
    "HOOK is kprobe:FUNC, kretprobe:FUNC, fentry:FUNC, fexit:FUNC, tracepoint:CAT:NAME, raw_tp:NAME or perf_event.",
    `WORKLOAD is ${WORKLOADS.map((w) => w.name).join(", ")} (several joined with commas run together):`,
    ...WORKLOADS.map((w) =>
      `  ${w.name.padEnd(8)} ${w.summary}${
        Object.keys(w.params).length ? ` [${Object.entries(w.params).map(([p, d]) => `${p} ${d}`).join(", ")}]` : ""
      }`
    ),
    "DURATION is a number with ns, us, ms or s; count N is the first workload's events over all CPUs.",
  ];
}

const doHelp = objectHelp("sim", () => SIM_CMDS, () => [...SIM_DEFS, "", ...simNotes()]);

/** The `sim` command table. */
export const SIM_CMDS: readonly Cmd[] = [
  {
    name: "fire",
    fn: doFire,
    args: "HOOK [cpu N] [context CONTEXT] [count N] [every DURATION]",
    helpRank: 0,
  },
  {
    name: "run",
    fn: doRun,
    args: "WORKLOAD [cpus LIST] [count N | duration DURATION] [PARAM VALUE]...",
    helpRank: 1,
  },
  { name: "help", fn: doHelp },
];

/** `sim ...` */
export function doSim(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, SIM_CMDS, args, doHelp);
}
