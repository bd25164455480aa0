// Replaying the bpftool 7.1.0 transcripts of tests/testdata/bpftool/ through
// bpfsim's one-shot entry point, with a state directory per transcript:
// each step parses options, loads the saved kernel, runs as a process,
// exits, and saves atomically. The runner is main() in this process or a
// real `deno run cli/main.ts` process.

import { assertEquals } from "../assert.ts";
import { main, type Sink } from "../../cli/main.ts";
import { expandFile, type GoldenFile, normalize, resolveArgs, type StepResult } from "./golden_scripts.ts";

const DIR = new URL("../testdata/bpftool/", import.meta.url);

/** Runs bpfsim one-shot in-process; returns what it printed. */
export async function oneShot(argv: string[]): Promise<StepResult> {
  let stdout = "";
  let stderr = "";
  const sink: Sink = { write: (fd, t) => (fd === 1 ? (stdout += t) : (stderr += t)) };
  const rc = await main(argv, sink);
  return { stdout, stderr, rc };
}

/** bpfsim's own additions to bpftool texts, removed before comparing. */
export function asBpftool(r: StepResult): StepResult {
  const fix = (t: string) =>
    t.replace(/^ {7}BPFSIM_OBJECT := .*\n/m, "").replace(/^(Usage: | {7})bpfsim /gm, "$1bpftool ");
  return { stdout: fix(r.stdout), stderr: fix(r.stderr), rc: r.rc };
}

/** Runs one command line and reports what it printed. */
export type Runner = (argv: string[]) => Promise<StepResult>;

/**
 * Replays a transcript with `run` (in-process main() or a real process),
 * one state directory for the whole transcript. Returns the differing steps.
 */
export async function replay(
  g: GoldenFile,
  run: Runner = oneShot,
  beforeCleanup?: (state: string) => Promise<void>,
): Promise<string[]> {
  const state = await Deno.makeTempDir({ prefix: "bpfsim-e2e-" });
  const ids = new Map<number, number>();
  const diffs: string[] = [];
  const written = new Set<string>();
  try {
    for (const [n, step] of g.steps.entries()) {
      for (const [p, text] of Object.entries(step.files ?? {})) {
        Deno.writeTextFileSync(p, expandFile(text));
        written.add(p);
      }
      for (const d of step.mkdir ?? []) {
        const r = await run(["--state", state, "fs", "mkdir", d]);
        assertEquals(r.rc, 0, `fs mkdir ${d}: ${r.stderr}`);
      }
      const resolved: number[] = [];
      const pending: Record<string, number> = {};
      for (const m of step.args.join(" ").matchAll(/\{id:([^}]+)\}/g)) {
        const r = await run(["--state", state, "-j", "map", "show", "pinned", m[1]]);
        pending[m[1]] = r.rc === 0 ? JSON.parse(r.stdout).id : -1;
      }
      const args = resolveArgs(step.args, (p) => {
        resolved.push(pending[p]);
        return pending[p];
      });
      if (step.stdin !== undefined) continue; // stdin steps are covered by the process-level tests
      const got = normalize(asBpftool(await run(["--state", state, ...args])), ids, resolved, step.valuesAreIds);
      const want = { stdout: step.stdout, stderr: step.stderr, rc: step.rc };
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        diffs.push(
          `step ${n}: ${step.args.join(" ")}\n  want: ${JSON.stringify(want)}\n  got:  ${JSON.stringify(got)}`,
        );
      }
    }
  } finally {
    await beforeCleanup?.(state);
    for (const p of written) Deno.removeSync(p);
    written.clear();
    Deno.removeSync(state, { recursive: true });
  }
  return diffs;
}

/** The golden transcripts, in name order. */
export function goldens(): GoldenFile[] {
  return [...Deno.readDirSync(DIR)].filter((e) => e.name.endsWith(".json")).sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((e) => JSON.parse(Deno.readTextFileSync(new URL(e.name, DIR))));
}

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

/** The permissions bin/bpfsim runs with (unix sockets need --allow-net in Deno). */
export const DENO_PERMS = ["--quiet", "--allow-read", "--allow-write", "--allow-env", "--allow-net"];

/** `deno run` arguments for a bpfsim command line (or another script, e.g. a test helper). */
export function denoRunArgs(argv: string[], script = MAIN): string[] {
  return ["run", ...DENO_PERMS, script, ...argv];
}

/** Runs `deno run cli/main.ts ARGV` as a separate process. */
export async function processRun(argv: string[]): Promise<StepResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(argv),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), rc: out.code };
}
