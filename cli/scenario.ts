// bpfsim's `scenario` object: named reproductions of the seeds' and the
// selftests' claims (lib/scenario/). `scenario list` names them, `scenario
// run NAME [seed N]` runs one and prints what happened (plain, or -j data).

import { findScenario, scenarios } from "../lib/scenario/all.ts";
import { type Args, badArg, type Cmd, cmdSelect, nextArg, objectHelp } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { isPrefix, parseUnsigned } from "./parse.ts";

/** scenario list */
function doList(ctx: CliContext, args: Args): number {
  if (args.argc) return badArg(ctx, args);
  const jw = ctx.out.json;
  if (jw) {
    jw.startArray();
    for (const s of scenarios()) {
      jw.startObject();
      jw.textField("name", s.name);
      jw.textField("summary", s.summary);
      jw.endObject();
    }
    jw.endArray();
    return 0;
  }
  const w = Math.max(0, ...scenarios().map((s) => s.name.length));
  for (const s of scenarios()) ctx.out.print(`${s.name.padEnd(w)}  ${s.summary}\n`);
  return 0;
}

/** scenario run NAME [seed N] */
function doRun(ctx: CliContext, args: Args): number {
  if (!args.argc) {
    ctx.out.pErr("expected a scenario name (see 'scenario list')");
    return -1;
  }
  const name = args.cur!;
  const s = findScenario(name);
  if (!s) {
    ctx.out.pErr(`unknown scenario '${name}' (known: ${scenarios().map((x) => x.name).join(", ")})`);
    return -1;
  }
  nextArg(ctx, args);
  let seed: number | undefined;
  while (args.argc) {
    if (isPrefix(args.cur, "seed") && args.cur!.length) {
      nextArg(ctx, args);
      const n = args.cur === undefined ? null : parseUnsigned(args.cur, 0, 32);
      if (n === null) {
        ctx.out.pErr(`can't parse ${args.cur ?? ""} as seed`);
        return -1;
      }
      seed = n;
      nextArg(ctx, args);
    } else {
      return badArg(ctx, args);
    }
  }
  const report = s.run({ seed });
  const jw = ctx.out.json;
  if (jw) jw.value(report.data);
  else ctx.out.print(report.text.map((l) => l + "\n").join(""));
  return 0;
}

const doHelp = objectHelp("scenario", () => SCENARIO_CMDS, () => [
  `NAME := { ${scenarios().map((s) => s.name).join(" | ")} }`,
]);

/** The `scenario` command table. */
export const SCENARIO_CMDS: readonly Cmd[] = [
  { name: "list", fn: doList, helpRank: 0 },
  { name: "run", fn: doRun, args: "NAME [seed SEED]", helpRank: 1 },
  { name: "help", fn: doHelp },
];

/** `scenario ...` */
export function doScenario(ctx: CliContext, args: Args): number {
  return cmdSelect(ctx, SCENARIO_CMDS, args, doHelp);
}
