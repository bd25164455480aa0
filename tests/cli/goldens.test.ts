// Replays the bpftool 7.1.0 transcripts of tests/testdata/bpftool/ against
// bpfsim: every step must print the same stdout and stderr and exit with
// the same status (map ids renumbered by first appearance on both sides).

import { assertEquals } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { leakCheck } from "../helpers.ts";
import { expandFile, type GoldenFile, normalize, resolveArgs, type StepResult } from "./golden_scripts.ts";
import { run } from "./harness.ts";

const DIR = new URL("../testdata/bpftool/", import.meta.url);

/**
 * Steps where bpfsim's kernel (not the CLI) still answers differently from
 * the real one. Each must keep differing: a fixed one fails the test until
 * it is removed from this list.
 */
const KNOWN_KERNEL_DIFFS: Record<string, Record<number, string>> = {};

/** Replays one golden file; returns a description of every mismatching step. */
export function replay(g: GoldenFile): string[] {
  const k = new Kernel({ cpus: 2 });
  const ids = new Map<number, number>();
  const diffs: string[] = [];
  // batch files stay on "disk" for later steps, as they did when recording
  const disk: Record<string, string> = {};
  g.steps.forEach((step, n) => {
    const resolved: number[] = [];
    const args = resolveArgs(step.args, (p) => {
      const obj = k.bpf.fs.get(p);
      const id = typeof obj === "number" ? -1 : (obj as unknown as { id: number }).id;
      resolved.push(id);
      return id;
    });
    for (const [p, text] of Object.entries(step.files ?? {})) disk[p] = expandFile(text);
    for (const d of step.mkdir ?? []) assertEquals(k.bpf.fs.mkdir(d), 0, `mkdir ${d}`);
    const files = { ...disk };
    if (step.stdin !== undefined) files["-"] = step.stdin;
    const got: StepResult = normalize(run(k, args, { files }), ids, resolved, step.valuesAreIds);
    const want = { stdout: step.stdout, stderr: step.stderr, rc: step.rc };
    const known = KNOWN_KERNEL_DIFFS[g.script]?.[n];
    const same = JSON.stringify(got) === JSON.stringify(want);
    if (known) {
      if (same) diffs.push(`step ${n}: known kernel difference no longer occurs (${known}); remove it`);
    } else if (!same) {
      diffs.push(
        `step ${n}: bpftool ${step.args.join(" ")}\n` +
          `  want: ${JSON.stringify(want)}\n  got:  ${JSON.stringify(got)}`,
      );
    }
  });
  leakCheck(k);
  return diffs;
}

for (const e of [...Deno.readDirSync(DIR)].sort((a, b) => (a.name < b.name ? -1 : 1))) {
  if (!e.name.endsWith(".json")) continue;
  const g: GoldenFile = JSON.parse(Deno.readTextFileSync(new URL(e.name, DIR)));
  Deno.test(`bpftool golden: ${g.script} (${g.steps.length} steps)`, () => {
    const diffs = replay(g);
    assertEquals(diffs, [], `${diffs.length} steps differ from bpftool 7.1.0:\n${diffs.join("\n")}`);
  });
}
