// What one bpftool process has: the kernel it talks to, its own bpf(2)
// (fds), its output, the global options (main.c's json_output, show_pinned,
// block_mount, verifier_logs ...), argv[0], C's errno, and cmd_select()'s
// memory of the last command table for usage().

import type { Kernel } from "../lib/kernel/kernel.ts";
import type { SysBpf } from "../lib/bpf/syscall.ts";
import { Output, type OutputMode } from "./output.ts";
import type { Args } from "./cmd.ts";

/** Global options that change how commands behave (see BPFTOOL-NOTES 1.1). */
export interface CliFlags {
  /** -f / --bpffs: show pinned paths in `show`. */
  bpffs: boolean;
  /** -n / --nomount: never mount bpffs (bpfsim: never pretend to). */
  nomount: boolean;
  /** -d / --debug */
  debug: boolean;
  /** -m / --mapcompat */
  mapcompat: boolean;
}

/**
 * Reads a batch file: its whole text, or a negative errno (-ENOENT ...).
 * "-" means standard input.
 */
export type InputReader = (path: string) => string | number;

/** A help printer: bpftool's `do_help(argc, argv)` of one command table. */
export type HelpFn = (ctx: CliContext, args: Args) => number;

/** One bpftool process. */
export interface CliContext {
  readonly k: Kernel;
  /** bpf(2) of this process: the caller spawns it and calls exit() afterwards. */
  readonly sys: SysBpf;
  readonly out: Output;
  readonly flags: CliFlags;
  /** argv[0] as bpftool prints it in usage texts. */
  binName: string;
  readInput: InputReader;
  /** The user's working directory: relative paths of files bpfsim writes (trace export) start here. */
  cwd: string;
  /** C errno as bpftool last left it (batch mode checks it at the end). */
  errno: number;
  /** cmd_select()'s last_argv / last_do_help, for usage(). */
  last: { args: Args; help: HelpFn } | null;
}

/** Options for newContext(). */
export interface ContextOptions {
  k: Kernel;
  sys: SysBpf;
  /** plain (default), json (-j) or pretty (-p). */
  mode?: OutputMode;
  flags?: Partial<CliFlags>;
  /** Default "bpftool". */
  binName?: string;
  /** Default: every path is missing (-ENOENT). */
  readInput?: InputReader;
  /** Streams each stdout/stderr write as it happens. */
  onWrite?: (fd: 1 | 2, text: string) => void;
}

const ENOENT = 2;

function currentDir(): string {
  try {
    return Deno.cwd();
  } catch {
    return "/";
  }
}

/** A fresh process context (errno 0, empty output). */
export function newContext(o: ContextOptions): CliContext {
  return {
    k: o.k,
    sys: o.sys,
    out: new Output(o.mode ?? "plain", o.onWrite),
    flags: {
      bpffs: o.flags?.bpffs ?? false,
      nomount: o.flags?.nomount ?? false,
      debug: o.flags?.debug ?? false,
      mapcompat: o.flags?.mapcompat ?? false,
    },
    binName: o.binName ?? "bpftool",
    readInput: o.readInput ?? (() => -ENOENT),
    cwd: currentDir(),
    errno: 0,
    last: null,
  };
}
