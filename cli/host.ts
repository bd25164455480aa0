// What the program running a command (one-shot main or the shell) offers
// to bpfsim's own objects: answering confirmations, replacing the kernel,
// and saving/loading the shell's kernel. Kept beside the bpftool context.

import type { KernelOptions } from "../lib/kernel/config.ts";
import type { CliContext } from "./context.ts";

/** The host of one command. */
export interface CliHost {
  /** --yes given, or the user already confirmed. */
  yes: boolean;
  /** True in the shell (kernel save/load make sense there). */
  shell: boolean;
  /** Replaces the kernel with a freshly booted one after the command. */
  reboot(opts: KernelOptions): void;
  /** Shell only: writes the in-memory kernel to the state directory. */
  save?(): string;
  /** Shell only: replaces the in-memory kernel with the saved one. */
  load?(): string;
}

const hosts = new WeakMap<CliContext, CliHost>();

/** Attaches a host to a command context. */
export function setHost(ctx: CliContext, host: CliHost): void {
  hosts.set(ctx, host);
}

/** The host of a context (a do-nothing one for bare dispatch calls, e.g. tests). */
export function getHost(ctx: CliContext): CliHost {
  return hosts.get(ctx) ?? { yes: false, shell: false, reboot: () => {} };
}
