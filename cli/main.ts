// bpfsim's entry point (tools/bpf/bpftool/main.c plus the simulator around
// it). One-shot mode: parse the global options, open the state directory
// (locked), load or boot the kernel, run the command as a process on its
// CPU, let that process exit, run the kernel to quiescence, save atomically.
// `bpfsim shell` starts the interactive shell instead.

import { Kernel } from "../lib/kernel/kernel.ts";
import { findProfile, PROFILES } from "../lib/kernel/config.ts";
import type { KernelOptions } from "../lib/kernel/config.ts";
import { newContext } from "./context.ts";
import type { CliContext } from "./context.ts";
import { dispatch, optionHelp, optionVersion, unrecognizedOption } from "./dispatch.ts";
import { setHost } from "./host.ts";
import { registerSimObjects } from "./objects.ts";
import { type GlobalOptions, parseGlobal } from "./options.ts";
import { defaultStateDir, StateDir, StateError } from "./state.ts";
import type { Output } from "./output.ts";

/** Where a command's bytes go. */
export interface Sink {
  write(fd: 1 | 2, text: string): void;
}

/** Writes to the real stdout/stderr. */
export const processSink: Sink = {
  write(fd, text) {
    const b = new TextEncoder().encode(text);
    const f = fd === 1 ? Deno.stdout : Deno.stderr;
    let off = 0;
    while (off < b.length) off += f.writeSync(b.subarray(off));
  },
};

/** Copies an Output to a sink in the order it was written. */
export function flush(out: Output, sink: Sink): void {
  for (const c of out.chunks) sink.write(c.fd, c.text);
}

/** Kernel options asked for on the command line. */
export function kernelOptions(o: GlobalOptions): KernelOptions {
  const k: KernelOptions = {};
  if (o.cpus !== undefined) k.cpus = o.cpus;
  if (o.profile !== undefined) k.profile = o.profile;
  if (o.rt !== undefined) k.preemptRt = o.rt;
  if (o.seed !== undefined) k.seed = o.seed;
  return k;
}

/**
 * Checks --cpus/--profile/--rt/--seed: valid, and (for an existing kernel)
 * equal to what it runs. Returns an error message or null.
 */
export function checkKernelOptions(o: GlobalOptions, k: Kernel | null): string | null {
  if (o.cpus !== undefined && (o.cpus < 1 || o.cpus > 64)) return `--cpus must be 1-64, got ${o.cpus}`;
  if (o.seed !== undefined && o.seed > 0xffffffff) return `--seed must fit in 32 bits, got ${o.seed}`;
  if (o.profile !== undefined && !findProfile(o.profile)) {
    return `unknown profile '${o.profile}' (known: ${PROFILES.map((p) => p.name).join(", ")})`;
  }
  if (!k) return null;
  const diff: string[] = [];
  if (o.cpus !== undefined && o.cpus !== k.ncpu) diff.push(`cpus ${o.cpus} (it has ${k.ncpu})`);
  if (o.profile !== undefined && findProfile(o.profile)!.name !== k.config.profile.name) {
    diff.push(`profile ${findProfile(o.profile)!.name} (it runs ${k.config.profile.name})`);
  }
  if (o.rt !== undefined && o.rt !== k.config.preemptRt) diff.push(`rt (it is ${k.config.preemptRt ? "" : "not "}RT)`);
  if (o.seed !== undefined && o.seed !== k.config.seed) diff.push(`seed ${o.seed} (it has ${k.config.seed})`);
  if (!diff.length) return null;
  const cmd = [
    o.profile !== undefined ? `profile ${o.profile}` : "",
    o.cpus !== undefined ? `cpus ${o.cpus}` : "",
    o.rt !== undefined ? `rt ${o.rt ? "on" : "off"}` : "",
    o.seed !== undefined ? `seed ${o.seed}` : "",
  ].filter(Boolean).join(" ");
  return `the saved kernel differs: ${diff.join(", ")}; to boot a new one use: bpfsim kernel config ${cmd} --yes`;
}

/** Reads a batch file ("-" is stdin) for the bpftool context. */
export function readInput(path: string): string | number {
  try {
    if (path === "-") {
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = Deno.stdin.readSync(buf);
        if (n === null || n === 0) break;
        chunks.push(buf.slice(0, n));
      }
      return new TextDecoder().decode(concat(chunks));
    }
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return -2;
    if (e instanceof Deno.errors.PermissionDenied) return -13;
    if (e instanceof Deno.errors.IsADirectory) return -21;
    return -5;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** A context for commands that need no kernel state (errors, -V, -h). */
function bareContext(json: boolean, pretty: boolean): CliContext {
  const k = new Kernel({ cpus: 1 });
  return newContext({ k, sys: k.sys, mode: pretty ? "pretty" : json ? "json" : "plain" });
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
