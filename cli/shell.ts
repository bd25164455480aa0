// The interactive shell: bpftool's grammar line by line on a kernel held in
// memory, with a prompt showing the profile and RT state, tab completion
// from the command tables, history kept in the state directory, Ctrl-C to
// cancel a line and Ctrl-D to leave. Piped stdin runs without prompts.
// Errors never end the shell and never show a stack trace. `kernel save` /
// `kernel load` move the kernel to and from the state directory.

import * as readline from "node:readline";
import process from "node:process";
import { join } from "node:path";
import { Kernel } from "../lib/kernel/kernel.ts";
import type { KernelOptions } from "../lib/kernel/config.ts";
import { newContext } from "./context.ts";
import { dispatch, topCmds } from "./dispatch.ts";
import { selectRow } from "./cmd.ts";
import { complete } from "./complete.ts";
import { setHost } from "./host.ts";
import { KERNEL_CMDS } from "./kernel.ts";
import { makeArgs } from "./batch.ts";
import { type GlobalOptions, parseGlobal } from "./options.ts";
import { defaultStateDir, StateDir, StateError } from "./state.ts";
import { checkKernelOptions, commandContext, flush, kernelOptions, readInput, type Sink } from "./common.ts";
import { ask } from "./client.ts";

const HISTORY_FILE = "shell_history";
const HISTORY_MAX = 1000;

/** The shell's state: its kernel and where it saves. */
export class Shell {
  k: Kernel;

  constructor(k: Kernel, readonly stateDir: string, readonly sink: Sink, readonly interactive: boolean) {
    this.k = k;
  }

  /** The prompt: profile and RT state. */
  prompt(): string {
    return `bpfsim ${this.k.config.profile.name}${this.k.config.preemptRt ? "-rt" : ""}> `;
  }

  /** True when `argv` selects `kernel config` (prefixes included). */
  isKernelConfig(argv: string[]): boolean {
    const top = selectRow(topCmds(), argv[0]);
    if (top?.name !== "kernel" || argv.length < 2) return false;
    return selectRow(KERNEL_CMDS, argv[1])?.name === "config";
  }

  /**
   * Runs one input line. `confirm` answers "drop N maps?" for kernel config
   * (interactive only). Returns the command's exit status.
   */
  async runLine(line: string, confirm?: (msg: string) => Promise<boolean>): Promise<number> {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return 0;
    const tmp = newContext({ k: this.k, sys: this.k.sys });
    const words = makeArgs(tmp, line.replace(/#.*$/, ""), 4096, 0);
    if (words === -1) {
      flush(tmp.out, this.sink);
      return 255;
    }
    const p = parseGlobal(words);
    if (!p.ok) {
      const ctx = newContext({ k: this.k, sys: this.k.sys, mode: p.json ? "json" : "plain" });
      ctx.out.pErr(p.error);
      ctx.out.finish();
      flush(ctx.out, this.sink);
      return 255;
    }
    const { opts, args } = p;
    if (opts.state || opts.cpus !== undefined || opts.profile || opts.rt !== undefined || opts.seed !== undefined) {
      return this.error("kernel settings cannot change inside the shell; use: kernel config ...", opts);
    }
    if (opts.version) args.unshift("version");
    if (opts.help) args.unshift("help");
    const cpu = opts.cpu ?? 0;
    if (cpu >= this.k.ncpu) return this.error(`--cpu ${cpu}: this kernel has CPUs 0-${this.k.ncpu - 1}`, opts);
    let yes = opts.yes;
    if (!yes && confirm && this.isKernelConfig(args)) {
      const n = this.k.bpf.allMaps().length;
      if (n > 0) {
        yes = await confirm(`Boot a new kernel? ${n} map${n === 1 ? "" : "s"} will be lost.`);
        if (!yes) return 0;
      }
    }
    const sys = this.k.spawn("bpftool", cpu);
    const ctx = commandContext(this.k, sys, opts);
    let next: KernelOptions | null = null;
    setHost(ctx, {
      yes,
      shell: true,
      reboot: (o) => (next = o),
      save: () => this.save(),
      load: () => this.load(),
    });
    let rc: number;
    try {
      rc = dispatch(ctx, args);
      sys.exit();
      this.k.quiesce();
    } catch (e) {
      ctx.out.pErr(`internal error in bpfsim: ${(e as Error).message}`);
      ctx.out.finish();
      rc = 255;
    }
    flush(ctx.out, this.sink);
    const reboot = next as KernelOptions | null;
    if (reboot) this.k = new Kernel(reboot);
    return rc;
  }

  private error(msg: string, opts: GlobalOptions): number {
    const ctx = newContext({ k: this.k, sys: this.k.sys, mode: opts.pretty ? "pretty" : opts.json ? "json" : "plain" });
    ctx.out.pErr(msg);
    ctx.out.finish();
    flush(ctx.out, this.sink);
    return 255;
  }

  /** kernel save */
  save(): string {
    const st = StateDir.open(this.stateDir);
    try {
      st.save(this.k);
      return `saved the kernel to ${st.file}`;
    } finally {
      st.close();
    }
  }

  /** kernel load */
  load(): string {
    const st = StateDir.open(this.stateDir);
    try {
      if (!st.exists()) throw new StateError(`no saved kernel in ${this.stateDir}`);
      this.k = st.load();
      return `loaded the kernel from ${st.file}`;
    } finally {
      st.close();
    }
  }

  /** Tab completion for readline: [candidates, the word they replace]. */
  completer(line: string): [string[], string] {
    const m = /(\S*)$/.exec(line)!;
    const partial = m[1];
    const before = line.slice(0, line.length - partial.length).trim();
    const tokens = before ? before.split(/\s+/) : [];
    try {
      return [complete(this.k, tokens, partial), partial];
    } catch {
      return [[], partial];
    }
  }
}

/** Loads the state directory's kernel (or boots one from the options). */
function startKernel(dir: string, opts: GlobalOptions): Kernel {
  const st = StateDir.open(dir);
  try {
    if (st.exists()) {
      const k = st.load();
      const bad = checkKernelOptions(opts, k);
      if (bad) throw new StateError(bad);
      return k;
    }
    return new Kernel(kernelOptions(opts));
  } finally {
    st.close();
  }
}

/** `bpfsim shell`: runs until Ctrl-D / exit; returns the last status. */
export async function runShell(opts: GlobalOptions, extra: string[], sink: Sink): Promise<number> {
  if (extra.length) {
    sink.write(2, `Error: what is '${extra[0]}'?\n`);
    return 255;
  }
  const bad = checkKernelOptions(opts, null);
  if (bad) {
    sink.write(2, `Error: ${bad}\n`);
    return 255;
  }
  const dir = opts.state ?? defaultStateDir();
  if (await ask(dir, {})) {
    sink.write(2, `Error: a bpfsim server holds the kernel of ${dir}; stop it first (bpfsim serve stop)\n`);
    return 255;
  }
  let k: Kernel;
  try {
    k = startKernel(dir, opts);
  } catch (e) {
    if (e instanceof StateError) {
      sink.write(2, `Error: ${e.message}\n`);
      return 255;
    }
    throw e;
  }
  const interactive = Deno.stdin.isTerminal();
  const shell = new Shell(k, dir, sink, interactive);
  return interactive ? await interactiveLoop(shell) : await pipedLoop(shell);
}

async function pipedLoop(shell: Shell): Promise<number> {
  const text = readInput("-");
  if (typeof text === "number") return 255;
  let rc = 0;
  for (const line of text.split("\n")) {
    if (/^\s*(exit|quit)\s*$/.test(line)) break;
    rc = await shell.runLine(line);
  }
  return rc;
}

function loadHistory(dir: string): string[] {
  try {
    const lines = Deno.readTextFileSync(join(dir, HISTORY_FILE)).split("\n").filter((l) => l.trim());
    return lines.slice(-HISTORY_MAX).reverse();
  } catch {
    return [];
  }
}

function appendHistory(dir: string, line: string): void {
  try {
    Deno.writeTextFileSync(join(dir, HISTORY_FILE), line + "\n", { append: true, create: true });
  } catch { /* history is a convenience */ }
}

/**
 * Reads one line with a fresh readline interface (completion, history,
 * Ctrl-C cancels the line). Resolves null on Ctrl-D. The interface is closed
 * before the command runs so that @inquirer/prompts can own the terminal.
 */
function readLine(shell: Shell, history: string[]): Promise<{ line: string | null; history: string[] }> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      completer: (line: string) => shell.completer(line),
      history,
      historySize: HISTORY_MAX,
      terminal: true,
    });
    let done = false;
    const finish = (line: string | null) => {
      if (done) return;
      done = true;
      const h = (rl as unknown as { history: string[] }).history ?? history;
      rl.close();
      resolve({ line, history: h.slice() });
    };
    rl.on("line", (line) => finish(line));
    rl.on("close", () => finish(null));
    rl.on("SIGINT", () => {
      // Ctrl-C cancels the line being typed
      rl.write(null, { ctrl: true, name: "u" });
      shell.sink.write(1, "^C\n");
      rl.prompt();
    });
    rl.setPrompt(shell.prompt());
    rl.prompt();
  });
}

async function confirm(msg: string): Promise<boolean> {
  try {
    const { confirm } = await import("@inquirer/prompts");
    return await confirm({ message: msg, default: false });
  } catch {
    return false; // Ctrl-C at the question: no
  }
}

async function interactiveLoop(shell: Shell): Promise<number> {
  shell.sink.write(1, "bpfsim shell: bpftool commands on a simulated kernel. 'help' lists objects, Ctrl-D leaves.\n");
  let history = loadHistory(shell.stateDir);
  let rc = 0;
  for (;;) {
    const r = await readLine(shell, history);
    history = r.history;
    if (r.line === null) break;
    const line = r.line;
    if (/^\s*(exit|quit)\s*$/.test(line)) break;
    if (line.trim()) appendHistory(shell.stateDir, line);
    try {
      rc = await shell.runLine(line, confirm);
    } catch (e) {
      shell.sink.write(2, `Error: internal error in bpfsim: ${(e as Error).message}\n`);
      rc = 255;
    }
  }
  shell.sink.write(1, "\n");
  return rc;
}
