// tools/bpf/bpftool/main.c and main.h: command tables, cmd_select() with
// prefix matching in table order, detect_common_prefix(), and the argv
// helpers NEXT_ARG / GET_ARG / REQ_ARGS / BAD_ARG / usage(). A command table
// row also carries its usage text, from which both the object's help and
// the shell's completion are generated.

import type { CliContext, HelpFn } from "./context.ts";
import { isPrefix } from "./parse.ts";

/**
 * C's `argc, argv` as a cursor over one argv array, so that argv[-1] and
 * argv[-2] (which bpftool's messages print) stay reachable.
 */
export class Args {
  constructor(readonly v: readonly string[], public i = 0) {}

  /** argc */
  get argc(): number {
    return this.v.length - this.i;
  }

  /** *argv (undefined when argc <= 0: C's NULL). */
  get cur(): string | undefined {
    return this.v[this.i];
  }

  /** argv[n]; n may be negative. */
  at(n: number): string | undefined {
    const j = this.i + n;
    return j >= 0 ? this.v[j] : undefined;
  }

  /** argv + n as a new cursor. */
  sub(n: number): Args {
    return new Args(this.v, this.i + n);
  }

  /** The words left. */
  rest(): string[] {
    return this.v.slice(this.i);
  }
}

/** A command: `(argc, argv)` after its own word; returns bpftool's int. */
export type CmdFn = (ctx: CliContext, args: Args) => number;

/** One row of a command table (struct cmd, plus what help and completion need). */
export interface Cmd {
  /** The word matched by prefix. */
  name: string;
  fn: CmdFn;
  /**
   * Usage syntax after the command word, as the help prints it
   * (`MAP [key DATA] [value VALUE] [UPDATE_FLAGS]`); `\\\n` marks a help
   * line break. Completion parses the same text.
   */
  args?: string;
  /** Help label instead of the padded name (e.g. `{ show | list }  `). */
  label?: string;
  /** Position in the object's help; rows without one (aliases) are not listed. */
  helpRank?: number;
  /** One-line description (bpfsim's own objects). */
  summary?: string;
}

/** Thrown by usage(): the process exits with 255 after printing help. */
export class UsageExit extends Error {
  constructor(readonly rc = 255) {
    super("usage");
  }
}

/**
 * usage(): prints the help of the last table cmd_select() used, with that
 * call's argv + 1, and exits the whole process (-1, i.e. 255).
 */
export function usage(ctx: CliContext): never {
  const last = ctx.last;
  if (last) last.help(ctx, last.args.sub(1));
  throw new UsageExit(255);
}

/**
 * cmd_select(): an empty argv runs the first row; otherwise the first row
 * (in table order) whose name starts with argv[0] runs with argv + 1.
 * Nothing matched: the help, and -1.
 */
export function cmdSelect(ctx: CliContext, cmds: readonly Cmd[], args: Args, help: HelpFn): number {
  ctx.last = { args, help };
  if (args.argc < 1 && cmds.length) return cmds[0].fn(ctx, args);
  for (const c of cmds) {
    if (isPrefix(args.cur, c.name)) return c.fn(ctx, args.sub(1));
  }
  help(ctx, args.sub(1));
  return -1;
}

/** The rows `word` selects, for callers that must know (completion, tests). */
export function selectRow(cmds: readonly Cmd[], word: string | undefined): Cmd | undefined {
  if (word === undefined) return cmds[0];
  return cmds.find((c) => isPrefix(word, c.name));
}

/**
 * detect_common_prefix(): -1 with `ambiguous prefix: 'x' could be 'a' or 'b'`
 * when `arg` prefixes two or more of `refs`, else 0.
 */
export function detectCommonPrefix(ctx: CliContext, arg: string, ...refs: string[]): number {
  const hits = refs.filter((r) => isPrefix(arg, r));
  if (hits.length >= 2) {
    ctx.out.pErr(`ambiguous prefix: '${arg}' could be '${hits.join("' or '")}'`);
    return -1;
  }
  return 0;
}

/** NEXT_ARG(): argv++, and usage() when that runs past the end. */
export function nextArg(ctx: CliContext, args: Args): void {
  args.i++;
  if (args.argc < 0) usage(ctx);
}

/** GET_ARG(): *argv++ (no check). */
export function getArg(args: Args): string | undefined {
  const a = args.cur;
  args.i++;
  return a;
}

/** C's printf("%s", NULL). */
export function cstr(s: string | undefined): string {
  return s ?? "(null)";
}

/** REQ_ARGS(cnt): false after `'%s' needs at least %d arguments, %d found` (argv[-1]). */
export function reqArgs(ctx: CliContext, args: Args, cnt: number): boolean {
  if (args.argc < cnt) {
    ctx.out.pErr(`'${cstr(args.at(-1))}' needs at least ${cnt} arguments, ${args.argc} found`);
    return false;
  }
  return true;
}

/** BAD_ARG(): `what is '%s'?`, -1. */
export function badArg(ctx: CliContext, args: Args): number {
  ctx.out.pErr(`what is '${cstr(args.cur)}'?`);
  return -1;
}

const HELP_INDENT = " ".repeat(34);

/**
 * The help of one of bpfsim's own objects: the usage lines of its table,
 * `BIN WORD help`, then `notes` (lines indented like bpftool's definitions;
 * "" for a blank line). JSON output is `null`, as for bpftool's help.
 */
export function objectHelp(
  word: string,
  cmds: () => readonly Cmd[],
  notes: () => readonly string[] = () => [],
): HelpFn {
  return (ctx) => {
    if (ctx.out.json) {
      ctx.out.jsonNull();
      return 0;
    }
    const extra = notes();
    ctx.out.eprint(
      renderUsage(ctx.binName, word, cmds()) + `       ${ctx.binName} ${word} help\n` +
        (extra.length ? "\n" + extra.map((l) => (l ? `       ${l}\n` : "\n")).join("") : ""),
    );
    return 0;
  };
}

/**
 * The command lines of an object's help, generated from its table:
 * `Usage: BIN WORD <label> <args>` then `       BIN WORD ...` per row, in
 * helpRank order.
 */
export function renderUsage(bin: string, word: string, cmds: readonly Cmd[]): string {
  const rows = cmds.filter((c) => c.helpRank !== undefined).sort((a, b) => a.helpRank! - b.helpRank!);
  let s = "";
  rows.forEach((c, n) => {
    const label = c.label ?? (c.args ? c.name.padEnd(10) : c.name);
    const args = c.args ? " " + c.args.replaceAll("\\\n", "\\\n" + HELP_INDENT) : "";
    s += `${n === 0 ? "Usage: " : "       "}${bin} ${word} ${label}${args}\n`;
  });
  return s;
}
