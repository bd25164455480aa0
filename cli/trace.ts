// bpfsim's `trace` object: record what the CPUs do and export it for
// Perfetto. `trace start [limit N]` begins recording (contexts, program
// runs, lock holds, map ops and kernel messages, per CPU), `trace stop`
// ends it, `trace export FILE` writes Chrome trace-event JSON (open it at
// ui.perfetto.dev), `trace show` says what is recorded.

import { type Args, badArg, type Cmd, cmdSelect, nextArg, objectHelp } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { parseUnsigned } from "./parse.ts";

/** trace start [limit N] */
function doStart(ctx: CliContext, args: Args): number {
  let limit = 1_000_000;
  if (args.argc) {
    if (args.cur !== "limit") return badArg(ctx, args);
    nextArg(ctx, args);
    const n = args.cur === undefined ? null : parseUnsigned(args.cur, 0, 32);
    if (n === null || n < 1 || n > 50_000_000) {
      ctx.out.pErr(`can't parse ${args.cur ?? ""} as an event limit (1-50000000)`);
      return -1;
    }
    limit = n;
    nextArg(ctx, args);
    if (args.argc) return badArg(ctx, args);
  }
  ctx.k.traceStart(limit);
  if (ctx.out.json) ctx.out.jsonNull();
  else ctx.out.pInfo(`recording a trace (at most ${limit} events); 'trace stop' ends it`);
  return 0;
}

/** trace stop */
function doStop(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const t = ctx.k.traceStop();
  if (!t) {
    ctx.out.pErr("no trace was started ('trace start')");
    return -1;
  }
  if (ctx.out.json) ctx.out.jsonNull();
  else ctx.out.pInfo(`trace stopped: ${t.count} events${t.dropped ? ` (${t.dropped} dropped at the limit)` : ""}`);
  return 0;
}

/** trace show */
function doShow(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const t = ctx.k.tracer;
  const state = !t ? "none" : t.recording ? "recording" : "stopped";
  if (ctx.out.json) {
    ctx.out.json.value({ state, events: t?.count ?? 0, dropped: t?.dropped ?? 0, limit: t?.limit ?? 0 });
  } else {
    ctx.out.print(
      t
        ? `trace ${state}: ${t.count} events${t.dropped ? `, ${t.dropped} dropped` : ""} (limit ${t.limit})\n`
        : "no trace\n",
    );
  }
  return 0;
}

/** trace export FILE */
function doExport(ctx: CliContext, args: Args): number {
  if (args.argc !== 1) {
    if (!args.argc) {
      ctx.out.pErr("expected a file to write the trace to");
      return -1;
    }
    return badArg(ctx, args.sub(1));
  }
  const t = ctx.k.tracer;
  if (!t) {
    ctx.out.pErr("no trace was recorded ('trace start', then run something, then 'trace stop')");
    return -1;
  }
  const file = args.cur!.startsWith("/") ? args.cur! : `${ctx.cwd}/${args.cur}`;
  const k = ctx.k;
  const title = `bpfsim ${k.release} (${k.config.profile.name}${k.config.preemptRt ? "-rt" : ""}, ${k.ncpu} CPUs)`;
  try {
    Deno.writeTextFileSync(file, t.toChromeJson(title));
  } catch (e) {
    ctx.out.pErr(`can't write ${args.cur}: ${(e as Error).message}`);
    return -1;
  }
  if (ctx.out.json) ctx.out.jsonNull();
  else ctx.out.pInfo(`wrote ${t.count} events to ${args.cur} (open it at https://ui.perfetto.dev)`);
  return 0;
}

const doHelp = objectHelp("trace", () => TRACE_CMDS);

/** The `trace` command table. */
export const TRACE_CMDS: readonly Cmd[] = [
  { name: "start", fn: doStart, args: "[limit N]", helpRank: 0 },
  { name: "stop", fn: doStop, helpRank: 1 },
  { name: "show", fn: doShow, helpRank: 2 },
  { name: "export", fn: doExport, args: "FILE", helpRank: 3 },
  { name: "help", fn: doHelp },
];

/** `trace ...` */
export function doTrace(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, TRACE_CMDS, args, doHelp);
}
