// bpfsim's entry point (tools/bpf/bpftool/main.c plus the simulator around
// it). One-shot mode: parse the global options, open the state directory
// (locked), load or boot the kernel, run the command as a process on its
// CPU, let that process exit, run the kernel to quiescence, save atomically.
// `bpfsim shell` starts the interactive shell instead.

import { Kernel } from "../lib/kernel/kernel.ts";
import type { KernelOptions } from "../lib/kernel/config.ts";
import { newContext } from "./context.ts";
import type { CliContext } from "./context.ts";
import { dispatch, optionHelp, optionVersion, unrecognizedOption } from "./dispatch.ts";
import { setHost } from "./host.ts";
import { registerSimObjects } from "./objects.ts";
import { type GlobalOptions, parseGlobal } from "./options.ts";
import { defaultStateDir, StateDir, StateError } from "./state.ts";
import { checkKernelOptions, flush, kernelOptions, processSink, readInput, type Sink } from "./common.ts";

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
    const { runShell } = await import("./shell.ts");
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

function runOneShot(st: StateDir, opts: GlobalOptions, args: string[], sink: Sink): number {
  let k: Kernel;
  if (st.exists()) {
    k = st.load();
    const bad = checkKernelOptions(opts, k);
    if (bad) return fail(bad, opts, sink);
  } else {
    k = new Kernel(kernelOptions(opts));
  }
  const cpu = opts.cpu ?? 0;
  if (cpu >= k.ncpu) return fail(`--cpu ${cpu}: this kernel has CPUs 0-${k.ncpu - 1}`, opts, sink);
  const sys = k.spawn("bpftool", cpu);
  const ctx = newContext({
    k,
    sys,
    mode: opts.pretty ? "pretty" : opts.json ? "json" : "plain",
    flags: { bpffs: opts.bpffs, nomount: opts.nomount, debug: opts.debug, mapcompat: opts.mapcompat },
    binName: "bpfsim",
    readInput,
  });
  let next: KernelOptions | null = null;
  setHost(ctx, { yes: opts.yes, shell: false, reboot: (o) => (next = o) });
  const rc = dispatch(ctx, args);
  sys.exit();
  const reboot = next as KernelOptions | null;
  st.save(reboot ? new Kernel(reboot) : k);
  flush(ctx.out, sink);
  return rc;
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
