// bpfsim's `dmesg` object: the simulated kernel log (lockdep splats,
// sleeping-in-atomic BUGs, KASAN reports, soft lockups, RCU stalls).

import { type Args, badArg, type Cmd, cmdSelect, renderUsage } from "./cmd.ts";
import type { CliContext } from "./context.ts";

/** dmesg [show] */
function doShow(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const d = ctx.k.dmesg;
  const jw = ctx.out.json;
  if (jw) {
    jw.startArray();
    for (const e of d.entries) {
      jw.startObject();
      jw.uintField("time_ns", Math.round(e.time));
      jw.uintField("cpu", e.cpu);
      jw.textField("level", e.level);
      jw.textField("kind", e.kind);
      jw.textField("text", e.text);
      jw.endObject();
    }
    jw.endArray();
    return 0;
  }
  if (d.entries.length) ctx.out.print(d.text() + "\n");
  return 0;
}

/** dmesg clear (dmesg -C) */
function doClear(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  ctx.k.dmesg.clear();
  if (ctx.out.json) ctx.out.jsonNull();
  return 0;
}

function doHelp(ctx: CliContext, _args: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  ctx.out.eprint(renderUsage(ctx.binName, "dmesg", DMESG_CMDS) + `       ${ctx.binName} dmesg help\n`);
  return 0;
}

/** The `dmesg` command table. */
export const DMESG_CMDS: readonly Cmd[] = [
  { name: "show", fn: doShow, helpRank: 0 },
  { name: "clear", fn: doClear, helpRank: 1 },
  { name: "help", fn: doHelp },
];

/** `dmesg ...` */
export function doDmesg(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, DMESG_CMDS, args, doHelp);
}
