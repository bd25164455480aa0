// bpfsim's `tracepoint` object: the static tracepoints the simulated kernel
// emits (lib/kernel/tracepoint.ts), their fields (a program's arg0..arg5),
// and whether raw_tp programs can attach by name (syscalls:* events are
// perf-only views of raw_syscalls:sys_enter/sys_exit, as in the kernel).

import { allTracepoints } from "../lib/kernel/tracepoint.ts";
import { type Args, badArg, type Cmd, cmdSelect, objectHelp } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { nameFilter } from "./kernel.ts";

/** tracepoint list [PATTERN] */
function doList(ctx: CliContext, args: Args): number {
  if (args.argc > 1) return badArg(ctx, args.sub(1));
  const pattern = args.cur;
  const match = nameFilter(pattern);
  const tps = allTracepoints().filter((t) => match(`${t.system}:${t.name}`));
  const jw = ctx.out.json;
  if (jw) {
    jw.value(tps.map((t) => ({
      name: `${t.system}:${t.name}`,
      raw_tp: t.raw ? t.name : null,
      fields: [...t.fields],
      doc: t.doc,
    })));
    return 0;
  }
  if (!tps.length) {
    ctx.out.pErr(`no tracepoint matches '${pattern}'`);
    return -1;
  }
  const w = Math.max(...tps.map((t) => t.system.length + t.name.length + 1));
  for (const t of tps) {
    const name = `${t.system}:${t.name}`;
    ctx.out.print(
      `${name.padEnd(w)}  ${(t.raw ? `raw_tp ${t.name}` : "perf only").padEnd(26)}  (${
        t.fields.join(", ")
      })  ${t.doc}\n`,
    );
  }
  return 0;
}

const doHelp = objectHelp("tracepoint", () => TRACEPOINT_CMDS, () => [
  "PATTERN is a substring, or a glob with * and ?, of CATEGORY:NAME.",
]);

/** The `tracepoint` command table. */
export const TRACEPOINT_CMDS: readonly Cmd[] = [
  { name: "list", fn: doList, args: "[PATTERN]", helpRank: 0 },
  { name: "help", fn: doHelp },
];

/** `tracepoint ...` */
export function doTracepoint(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, TRACEPOINT_CMDS, args, doHelp);
}
