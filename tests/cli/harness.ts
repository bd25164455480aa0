// Test harness for the bpftool command layer: runs one bpftool command line
// (with bpftool's leading global options) as a fresh process of a kernel,
// the way the CLI's one-shot mode does, and returns stdout, stderr and rc.

import type { Kernel } from "../../lib/kernel/kernel.ts";
import { newContext } from "../../cli/context.ts";
import { dispatch, optionHelp, optionVersion, unrecognizedOption } from "../../cli/dispatch.ts";
import type { OutputMode } from "../../cli/output.ts";

/** What one invocation printed and returned. */
export interface RunResult {
  stdout: string;
  stderr: string;
  rc: number;
}

/** Options for run(). */
export interface RunOptions {
  /** Files readable by `batch file` ("-" is stdin). */
  files?: Record<string, string>;
  /** CPU the process runs on (default 0). */
  cpu?: number;
}

const SHORT: Record<string, string> = {
  j: "json",
  p: "pretty",
  f: "bpffs",
  n: "nomount",
  d: "debug",
  m: "mapcompat",
  V: "version",
  h: "help",
};

/**
 * Runs `bpftool ARGV` against `k`. Global options are read from the front of
 * argv only (a test-only subset of main.c's getopt: -j -p -f -n -d -m -V -h).
 */
export function run(k: Kernel, argv: string[], opts: RunOptions = {}): RunResult {
  const flags = new Set<string>();
  let i = 0;
  let bad: string | null = null;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    if (a.startsWith("--")) {
      const long = a.slice(2);
      if (Object.values(SHORT).includes(long)) flags.add(long);
      else bad ??= a;
      continue;
    }
    for (const c of a.slice(1)) {
      if (SHORT[c]) flags.add(SHORT[c]);
      else bad ??= `-${c}`;
    }
  }
  const mode: OutputMode = flags.has("pretty") ? "pretty" : flags.has("json") ? "json" : "plain";
  const sys = k.spawn("bpftool", opts.cpu ?? 0);
  const files = opts.files ?? {};
  const ctx = newContext({
    k,
    sys,
    mode,
    flags: { bpffs: flags.has("bpffs"), nomount: flags.has("nomount"), debug: flags.has("debug") },
    readInput: (p) => (p in files ? files[p] : -2),
  });
  let rc: number;
  if (bad) rc = unrecognizedOption(ctx, bad);
  else if (flags.has("version")) rc = optionVersion(ctx);
  else if (flags.has("help")) rc = optionHelp(ctx);
  else rc = dispatch(ctx, argv.slice(i));
  sys.exit();
  return { stdout: ctx.out.stdout, stderr: ctx.out.stderr, rc };
}
