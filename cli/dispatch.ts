// tools/bpf/bpftool/main.c: the top-level command table (bpftool's order,
// so `p` is prog and `m` is map), the main help, `version`, and main()'s
// tail: cmd_select(), jsonw_destroy(), and the exit status (the int
// bpftool returns, modulo 256). bpfsim's own objects (kernel, fs, dmesg,
// ...) register after bpftool's.

import denoJson from "../deno.json" with { type: "json" };
import { Args, type Cmd, type CmdFn, cmdSelect, UsageExit } from "./cmd.ts";
import type { CliContext } from "./context.ts";
import { doBatch } from "./batch.ts";
import { doMap, MAP_CMDS, MAP_DEFS } from "./map.ts";
import { doProg, PROG_CMDS, PROG_DEFS } from "./prog.ts";
import { doLink, LINK_CMDS, LINK_DEFS } from "./link.ts";
import { doPerf, PERF_CMDS } from "./perf.ts";

/** The bpftool release bpfsim's interface follows (the oracle). */
export const BPFTOOL_VERSION = "7.1.0";
/** libbpf of that bpftool build. */
export const LIBBPF_VERSION = "1.1";
/** bpfsim's own version (deno.json). */
export const BPFSIM_VERSION: string = denoJson.version;

/** An object bpfsim adds to bpftool's (the lead's `kernel`, `fs`, `dmesg` ...). */
export interface SimObject {
  /** The word after the options; matched by prefix after bpftool's objects. */
  name: string;
  fn: CmdFn;
  /** One line for the main help's BPFSIM_OBJECT list and completion docs. */
  help?: string;
  /** Its command table, when it has one: completion offers and parses it. */
  cmds?: readonly Cmd[];
  /** Nonterminal definitions for completion (`NAME := { a | b }` lines). */
  defs?: readonly string[];
}

const simObjects: SimObject[] = [];

/**
 * Adds a bpfsim object to the top-level table (after bpftool's objects, so
 * bpftool's prefixes keep their meaning). Returns a function that removes it.
 */
export function registerObject(o: SimObject): () => void {
  if (TOP_NAMES.includes(o.name) || simObjects.some((s) => s.name === o.name)) {
    throw new Error(`object '${o.name}' is already registered`);
  }
  simObjects.push(o);
  return () => {
    const i = simObjects.indexOf(o);
    if (i >= 0) simObjects.splice(i, 1);
  };
}

/** The registered bpfsim objects, in registration order. */
export function simulatorObjects(): readonly SimObject[] {
  return simObjects;
}

/** An object bpftool has and bpfsim does not simulate: an honest refusal. */
function notSimulated(name: string): CmdFn {
  return (ctx) => {
    ctx.out.pErr(`${name} is not simulated by bpfsim yet`);
    return -1;
  };
}

/** do_help() of main.c: the main usage on stderr (`null` under -j). */
export function doMainHelp(ctx: CliContext, _args?: Args): number {
  if (ctx.out.json) {
    ctx.out.jsonNull();
    return 0;
  }
  const b = ctx.binName;
  const objs = BPFTOOL_OBJECTS.join(" | ");
  let s = `Usage: ${b} [OPTIONS] OBJECT { COMMAND | help }\n` +
    `       ${b} batch file FILE\n` +
    `       ${b} version\n` +
    `\n` +
    `       OBJECT := { ${objs} }\n`;
  if (simObjects.length) s += `       BPFSIM_OBJECT := { ${simObjects.map((o) => o.name).join(" | ")} }\n`;
  s += `       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} |\n` +
    `                    {-V|--version} }\n`;
  ctx.out.eprint(s);
  return 0;
}

/**
 * do_version(): bpftool's layout with bpfsim named on the first line;
 * the JSON keeps bpftool's keys and adds "bpfsim_version".
 */
export function doVersion(ctx: CliContext, _args?: Args): number {
  const jw = ctx.out.json;
  if (jw) {
    jw.startObject();
    jw.name("version");
    jw.printf(`"${BPFTOOL_VERSION}"`);
    jw.name("libbpf_version");
    jw.printf(`"${LIBBPF_VERSION}"`);
    jw.name("features");
    jw.startObject();
    jw.boolField("libbfd", false);
    jw.boolField("libbpf_strict", true);
    jw.boolField("skeletons", false);
    jw.endObject();
    jw.stringField("bpfsim_version", BPFSIM_VERSION);
    jw.endObject();
  } else {
    ctx.out.print(
      // bpftool prints bin_name here; bpfsim keeps "bpftool" so the line reads as the interface it follows
      `bpftool v${BPFTOOL_VERSION} (bpfsim ${BPFSIM_VERSION})\n` +
        `using libbpf v${LIBBPF_VERSION}\n` +
        `features: libbpf_strict\n`,
    );
  }
  return 0;
}

/** bpftool 7.1.0's objects, in its table order (main help lists them so). */
export const BPFTOOL_OBJECTS: readonly string[] = [
  "prog",
  "map",
  "link",
  "cgroup",
  "perf",
  "net",
  "feature",
  "btf",
  "gen",
  "struct_ops",
  "iter",
];

const TOP_NAMES = ["help", "batch", ...BPFTOOL_OBJECTS, "version"];

/** bpftool's objects that bpfsim simulates: their command function and tables (help and completion). */
export const BPFTOOL_IMPL: Readonly<
  Record<string, { fn: CmdFn; cmds: readonly Cmd[]; defs: readonly string[] }>
> = {
  map: { fn: doMap, cmds: MAP_CMDS, defs: MAP_DEFS },
  prog: { fn: doProg, cmds: PROG_CMDS, defs: PROG_DEFS },
  link: { fn: doLink, cmds: LINK_CMDS, defs: LINK_DEFS },
  perf: { fn: doPerf, cmds: PERF_CMDS, defs: [] },
};

/** The top-level table: bpftool's rows, then the registered bpfsim objects. */
export function topCmds(): Cmd[] {
  const rows: Cmd[] = [
    { name: "help", fn: doMainHelp },
    { name: "batch", fn: (ctx, a) => doBatch(ctx, a, topCmds(), doMainHelp), args: "file FILE" },
  ];
  for (const o of BPFTOOL_OBJECTS) {
    rows.push({ name: o, fn: BPFTOOL_IMPL[o]?.fn ?? notSimulated(o) });
  }
  rows.push({ name: "version", fn: doVersion });
  for (const o of simObjects) rows.push({ name: o.name, fn: o.fn, summary: o.help });
  return rows;
}

/** The exit status of a bpftool return value (exit() keeps the low 8 bits). */
export function exitStatus(ret: number): number {
  const st = ret & 0xff;
  // bpfsim's ESIMHUNG (4096) would wrap to 0: a failure never exits 0
  return ret !== 0 && st === 0 ? 255 : st;
}

/**
 * Runs one bpftool command line (argv after the global options) and ends
 * the output (JSON: the final newline). Returns the exit status.
 *
 * A usage error exits the whole process with 255, even inside a batch. In
 * JSON batch mode bpftool then aborts on a json_writer assertion (rc 134,
 * stdout lost); bpfsim closes the open JSON containers instead and exits 255.
 */
export function dispatch(ctx: CliContext, argv: readonly string[]): number {
  let ret: number;
  try {
    ret = cmdSelect(ctx, topCmds(), new Args(argv), doMainHelp);
  } catch (e) {
    if (!(e instanceof UsageExit)) throw e;
    ctx.out.json?.closeAll();
    ret = e.rc;
  }
  ctx.out.finish();
  return exitStatus(ret);
}

/**
 * main()'s answer to an unknown option: `unrecognized option '-x'`, then the
 * main help (plain) or nothing more (JSON). Ends the output; returns 255.
 */
export function unrecognizedOption(ctx: CliContext, opt: string): number {
  ctx.out.pErr(`unrecognized option '${opt}'`);
  if (!ctx.out.json) doMainHelp(ctx);
  ctx.out.finish();
  return 255;
}

/**
 * -V / --version: bpftool returns from main() before jsonw_destroy(), so
 * the JSON form has no trailing newline. Do not call finish() after it.
 */
export function optionVersion(ctx: CliContext): number {
  return doVersion(ctx);
}

/** -h / --help: like -V, no jsonw_destroy() (JSON prints `null` without a newline). */
export function optionHelp(ctx: CliContext): number {
  return doMainHelp(ctx);
}
