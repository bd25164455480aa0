// tools/bpf/bpftool/perf.c: `perf { show | list }` lists the perf events
// (kprobes, tracepoints, perf samplers) with a BPF program that processes
// hold open fds to, found by walking /proc/PID/fd and asking
// BPF_TASK_FD_QUERY. In bpfsim a program is attached to a perf event only
// through a bpf_link, which holds the event itself (no process fd), so the
// walk finds nothing, as bpftool finds nothing for pinned links on a real
// kernel; `link show` lists them.

import { type Args, badArg, type Cmd, cmdSelect, renderUsage } from "./cmd.ts";
import type { CliContext } from "./context.ts";

/** do_show() */
function doShow(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  // no process holds a perf event fd: nothing to print
  if (ctx.out.json) {
    ctx.out.json.startArray();
    ctx.out.json.endArray();
  }
  return 0;
}

/** do_help() of perf.c (its stray brace included). */
function doHelp(ctx: CliContext, args: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  const word = args.at(-2) ?? "perf";
  ctx.out.eprint(
    renderUsage(ctx.binName, word, PERF_CMDS) + `       ${ctx.binName} ${word} help }\n\n` +
      "       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} }\n",
  );
  return 0;
}

/** The `perf` command table. */
export const PERF_CMDS: readonly Cmd[] = [
  { name: "show", fn: doShow, label: "{ show | list }", helpRank: 0 },
  { name: "list", fn: doShow },
  { name: "help", fn: doHelp },
];

/** do_perf() */
export function doPerf(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, PERF_CMDS, args, doHelp);
}
