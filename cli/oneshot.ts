// One command line of bpfsim (tools/bpf/bpftool/main.c plus the simulator
// around it): parse the global options, get the kernel (from the locked
// state directory, or the server's in-memory one), run the command as a
// process on its CPU, let that process exit, run the kernel to quiescence,
// and save atomically unless the command only read. `bpfsim shell` and
// `bpfsim serve` start the interactive shell or the server instead.

import { Kernel } from "../lib/kernel/kernel.ts";
import type { KernelOptions } from "../lib/kernel/config.ts";
import { newContext } from "./context.ts";
import type { CliContext } from "./context.ts";
import { dispatch, optionHelp, optionVersion, topCmds, unrecognizedOption } from "./dispatch.ts";
import { type Cmd, selectRow } from "./cmd.ts";
import { MAP_CMDS } from "./map.ts";
import { KERNEL_CMDS } from "./kernel.ts";
import { FS_CMDS } from "./fs.ts";
import { DMESG_CMDS } from "./dmesg.ts";
import { SCENARIO_CMDS } from "./scenario.ts";
import { MEM_CMDS } from "./mem.ts";
import { PROG_CMDS } from "./prog.ts";
import { LINK_CMDS } from "./link.ts";
import { PERF_CMDS } from "./perf.ts";
import { TRACEPOINT_CMDS } from "./tracepoint.ts";
import { TRACE_CMDS } from "./trace.ts";
import { setHost } from "./host.ts";
import { registerSimObjects } from "./objects.ts";
import { type GlobalOptions, parseGlobal } from "./options.ts";
import { defaultStateDir, StateDir, StateError } from "./state.ts";
import { checkKernelOptions, commandContext, flush, kernelOptions, readInput, type Sink } from "./common.ts";
import type { InputReader } from "./context.ts";

/** A context for commands that need no kernel state (errors, -V, -h). */
function bareContext(json: boolean, pretty: boolean): CliContext {
  const k = new Kernel({ cpus: 1 });
  return newContext({ k, sys: k.sys, mode: pretty ? "pretty" : json ? "json" : "plain", binName: "bpfsim" });
}

/** Reports a problem outside bpftool's commands (state, options) the bpftool way. */
export function fail(msg: string, o: { json: boolean; pretty: boolean }, sink: Sink): number {
  const ctx = bareContext(o.json, o.pretty);
  ctx.out.pErr(msg);
  ctx.out.finish();
  flush(ctx.out, sink);
  return 255;
}

/**
 * What bpftool's main() answers before any command: an unrecognized option,
 * -V or -h. Returns that status, or null when a command is to run.
 */
export function oneShotVersionOrError(argv: string[], sink: Sink): number | null {
  registerSimObjects();
  const p = parseGlobal(argv);
  if (!p.ok) {
    const ctx = bareContext(p.json, false);
    const rc = unrecognizedOption(ctx, p.error.replace(/^unrecognized option '(.*)'$/, "$1"));
    flush(ctx.out, sink);
    return rc;
  }
  if (p.opts.version || p.opts.help) {
    const ctx = bareContext(p.opts.json, p.opts.pretty);
    const rc = p.opts.version ? optionVersion(ctx) : optionHelp(ctx);
    flush(ctx.out, sink);
    return rc;
  }
  return null;
}

/** Runs one command line without a server; returns the exit status. */
export async function oneShotMain(argv: string[], sink: Sink): Promise<number> {
  const early = oneShotVersionOrError(argv, sink);
  if (early !== null) return early;
  const p = parseGlobal(argv);
  if (!p.ok) return 255;
  const { opts, args } = p;
  if (args[0] === "shell" || args[0] === "serve") {
    // computed specifiers keep the shell (readline, @inquirer/prompts) and the
    // server out of the static graph, so one-shot commands do not load them
    const url = new URL(args[0] === "shell" ? "./shell.ts" : "./server.ts", import.meta.url).href;
    const mod = await import(url) as {
      runShell?: (o: GlobalOptions, extra: string[], sink: Sink) => Promise<number>;
      runServer?: (o: GlobalOptions, extra: string[], sink: Sink) => Promise<number>;
    };
    return (mod.runShell ?? mod.runServer)!(opts, args.slice(1), sink);
  }
  const bad = checkKernelOptions(opts, null);
  if (bad) return fail(bad, opts, sink);
  let st: StateDir;
  try {
    st = StateDir.open(opts.state ?? defaultStateDir());
  } catch (e) {
    if (e instanceof StateError) return fail(e.message, opts, sink);
    throw e;
  }
  try {
    const existed = st.exists();
    let k: Kernel;
    if (existed) {
      k = st.load();
      mark("loaded");
    } else {
      k = new Kernel(kernelOptions(opts));
    }
    return runOn({ k, fresh: !existed, save: (kk) => st.save(kk), readInput }, opts, args, sink).rc;
  } catch (e) {
    if (e instanceof StateError) return fail(e.message, opts, sink);
    throw e;
  } finally {
    st.close();
  }
}

const TIMING = Deno.env.get("BPFSIM_TIMING") === "1";
const t0 = performance.now();
function mark(what: string): void {
  if (TIMING && what === "start") {
    console.error(`[timing] main.ts evaluated at ${t0.toFixed(1)} ms since process start`);
  }
  if (TIMING) console.error(`[timing] ${what} at ${(performance.now() - t0).toFixed(1)} ms`);
}

/** Where a command's kernel comes from and goes to. */
export interface KernelHolder {
  k: Kernel;
  /** True when the kernel was just booted (it must be saved even by a read-only command). */
  fresh: boolean;
  /** Saves the kernel atomically. */
  save(k: Kernel): void;
  /** Reads batch files (paths relative to the user's directory; "-" is stdin). */
  readInput: InputReader;
  /** The client's working directory (a server answering for another process). */
  cwd?: string;
}

/**
 * Runs a parsed command line on the holder's kernel as a process on its CPU.
 * Returns the status and the kernel afterwards (a new one after kernel config).
 */
export function runOn(h: KernelHolder, opts: GlobalOptions, args: string[], sink: Sink): { rc: number; k: Kernel } {
  let k = h.k;
  mark("start");
  const bad = checkKernelOptions(opts, k);
  if (bad) return { rc: fail(bad, opts, sink), k };
  const cpu = opts.cpu ?? 0;
  if (cpu >= k.ncpu) return { rc: fail(`--cpu ${cpu}: this kernel has CPUs 0-${k.ncpu - 1}`, opts, sink), k };
  const sys = k.spawn("bpftool", cpu);
  const ctx = commandContext(k, sys, opts);
  ctx.readInput = h.readInput;
  if (h.cwd !== undefined) ctx.cwd = h.cwd;
  let next: KernelOptions | null = null;
  setHost(ctx, { yes: opts.yes, shell: false, reboot: (o) => (next = o) });
  const rc = dispatch(ctx, args);
  mark("dispatched");
  sys.exit();
  const reboot = next as KernelOptions | null;
  if (reboot) k = new Kernel(reboot);
  // read-only commands change nothing that must persist (only clocks advance): skip the save
  if (reboot || h.fresh || !isReadOnly(args)) h.save(k);
  else k.quiesce();
  mark("saved");
  flush(ctx.out, sink);
  return { rc, k };
}

/** Commands that only read kernel state, by object (resolved by prefix like bpftool). */
const READ_ONLY: Record<string, { cmds: readonly Cmd[]; rows: string[] }> = {
  map: { cmds: MAP_CMDS, rows: ["show", "list", "help", "dump", "lookup", "getnext", "peek"] },
  kernel: { cmds: KERNEL_CMDS, rows: ["show", "list", "profiles", "points", "help"] },
  prog: { cmds: PROG_CMDS, rows: ["show", "list", "dump", "help"] },
  link: { cmds: LINK_CMDS, rows: ["show", "list", "help"] },
  perf: { cmds: PERF_CMDS, rows: ["show", "list", "help"] },
  tracepoint: { cmds: TRACEPOINT_CMDS, rows: ["list", "help"] },
  trace: { cmds: TRACE_CMDS, rows: ["show", "export", "help"] },
  fs: { cmds: FS_CMDS, rows: ["ls", "help"] },
  dmesg: { cmds: DMESG_CMDS, rows: ["show", "help"] },
  mem: { cmds: MEM_CMDS, rows: ["show", "list", "help"] },
  // scenarios boot kernels of their own
  scenario: { cmds: SCENARIO_CMDS, rows: ["list", "run", "help"] },
};

/** True when argv selects a command that cannot change the kernel. */
export function isReadOnly(argv: readonly string[]): boolean {
  const top = selectRow(topCmds(), argv[0]);
  if (!top) return true; // nothing ran but help
  if (top.name === "help" || top.name === "version") return true;
  const ro = READ_ONLY[top.name];
  if (!ro) return false;
  const row = selectRow(ro.cmds, argv[1]);
  return !row || ro.rows.includes(row.name);
}
