// bpfsim's entry point (tools/bpf/bpftool/main.c plus the simulator around
// it). One-shot mode: parse the global options, open the state directory
// (locked), load or boot the kernel, run the command as a process on its
// CPU, let that process exit, run the kernel to quiescence, save atomically.
// `bpfsim shell` starts the interactive shell instead.

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
import { setHost } from "./host.ts";
import { registerSimObjects } from "./objects.ts";
import { type GlobalOptions, parseGlobal } from "./options.ts";
import { defaultStateDir, StateDir, StateError } from "./state.ts";
import { checkKernelOptions, commandContext, flush, kernelOptions, processSink, type Sink } from "./common.ts";

export { processSink, type Sink } from "./common.ts";

/** A context for commands that need no kernel state (errors, -V, -h). */
function bareContext(json: boolean, pretty: boolean): CliContext {
  const k = new Kernel({ cpus: 1 });
  return newContext({ k, sys: k.sys, mode: pretty ? "pretty" : json ? "json" : "plain", binName: "bpfsim" });
}

/** Reports a problem outside bpftool's commands (state, options) the bpftool way. */
function fail(msg: string, o: { json: boolean; pretty: boolean }, sink: Sink): number {
  const ctx = bareContext(o.json, o.pretty);
  ctx.out.pErr(msg);
  ctx.out.finish();
  flush(ctx.out, sink);
  return 255;
}

/** Runs one command line; returns the exit status. */
export async function main(argv: string[], sink: Sink = processSink): Promise<number> {
  registerSimObjects();
  const p = parseGlobal(argv);
  if (!p.ok) {
    const ctx = bareContext(p.json, false);
    const rc = unrecognizedOption(ctx, p.error.replace(/^unrecognized option '(.*)'$/, "$1"));
    flush(ctx.out, sink);
    return rc;
  }
  const { opts, args } = p;
  if (opts.version || opts.help) {
    const ctx = bareContext(opts.json, opts.pretty);
    const rc = opts.version ? optionVersion(ctx) : optionHelp(ctx);
    flush(ctx.out, sink);
    return rc;
  }
  if (args[0] === "shell") {
    // a computed specifier keeps the shell (readline, @inquirer/prompts) out of
    // the static graph, so one-shot commands do not pay for npm resolution
    const shellUrl = new URL("./shell.ts", import.meta.url).href;
    const { runShell } = await import(shellUrl) as {
      runShell: (o: GlobalOptions, extra: string[], sink: Sink) => Promise<number>;
    };
    return runShell(opts, args.slice(1), sink);
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
    return runOneShot(st, opts, args, sink);
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

function runOneShot(st: StateDir, opts: GlobalOptions, args: string[], sink: Sink): number {
  let k: Kernel;
  mark("start");
  const existed = st.exists();
  if (existed) {
    k = st.load();
    mark("loaded");
    const bad = checkKernelOptions(opts, k);
    if (bad) return fail(bad, opts, sink);
  } else {
    k = new Kernel(kernelOptions(opts));
  }
  const cpu = opts.cpu ?? 0;
  if (cpu >= k.ncpu) return fail(`--cpu ${cpu}: this kernel has CPUs 0-${k.ncpu - 1}`, opts, sink);
  const sys = k.spawn("bpftool", cpu);
  const ctx = commandContext(k, sys, opts);
  let next: KernelOptions | null = null;
  setHost(ctx, { yes: opts.yes, shell: false, reboot: (o) => (next = o) });
  const rc = dispatch(ctx, args);
  mark("dispatched");
  sys.exit();
  const reboot = next as KernelOptions | null;
  // read-only commands change nothing that must persist (only clocks advance): skip the save
  if (reboot || !existed || !isReadOnly(args)) st.save(reboot ? new Kernel(reboot) : k);
  mark("saved");
  flush(ctx.out, sink);
  return rc;
}

/** Commands that only read kernel state, by object (resolved by prefix like bpftool). */
const READ_ONLY: Record<string, { cmds: readonly Cmd[]; rows: string[] }> = {
  map: { cmds: MAP_CMDS, rows: ["show", "list", "help", "dump", "lookup", "getnext", "peek"] },
  kernel: { cmds: KERNEL_CMDS, rows: ["show", "list", "profiles", "points", "help"] },
  fs: { cmds: FS_CMDS, rows: ["ls", "help"] },
  dmesg: { cmds: DMESG_CMDS, rows: ["show", "help"] },
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

if (import.meta.main) {
  let rc: number;
  try {
    rc = await main(Deno.args);
  } catch (e) {
    // no stack trace ever reaches a user
    processSink.write(2, `Error: internal error in bpfsim: ${(e as Error).message}\n`);
    rc = 255;
  }
  Deno.exit(rc);
}
