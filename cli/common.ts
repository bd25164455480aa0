// Pieces shared by one-shot mode (main.ts) and the shell (shell.ts):
// where output goes, reading batch input, and the kernel-settings options.

import type { Kernel } from "../lib/kernel/kernel.ts";
import type { SysBpf } from "../lib/bpf/syscall.ts";
import { findProfile, PROFILES } from "../lib/kernel/config.ts";
import type { KernelOptions } from "../lib/kernel/config.ts";
import type { GlobalOptions } from "./options.ts";
import type { Output } from "./output.ts";
import { type CliContext, newContext } from "./context.ts";

import type { Sink } from "./sink.ts";

export { processSink, type Sink } from "./sink.ts";

/** Copies an Output to a sink in the order it was written. */
export function flush(out: Output, sink: Sink): void {
  for (const c of out.chunks) sink.write(c.fd, c.text);
}

/**
 * The context one command runs in: the global options' output mode and
 * flags (bpftool's main.c globals), argv[0] "bpfsim", batch files read
 * from the real file system.
 */
export function commandContext(k: Kernel, sys: SysBpf, o: GlobalOptions): CliContext {
  return newContext({
    k,
    sys,
    mode: o.pretty ? "pretty" : o.json ? "json" : "plain",
    flags: { bpffs: o.bpffs, nomount: o.nomount, debug: o.debug, mapcompat: o.mapcompat },
    binName: "bpfsim",
    readInput,
  });
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
