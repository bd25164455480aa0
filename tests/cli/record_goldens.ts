// Records tests/testdata/bpftool/*.json from the real bpftool on this
// machine (run as root: `deno run -A tests/cli/record_goldens.ts [NAME...]`).
// Every command runs pinned to CPU 0 (taskset -c 0), like the simulated
// process in the replay. Pins are private (/sys/fs/bpf/zz_cli*) and removed
// before and after each script; the mount table is checked to be unchanged.
// Not a test: tests never need the real kernel.

import {
  expandFile,
  type GoldenFile,
  type GoldenStep,
  idPlaceholders,
  normalize,
  resolveArgs,
  SCRIPTS,
} from "./golden_scripts.ts";

const OUT_DIR = new URL("../testdata/bpftool/", import.meta.url);
const dec = new TextDecoder();

async function exec(cmd: string[], stdin?: string): Promise<{ stdout: string; stderr: string; rc: number }> {
  const p = new Deno.Command(cmd[0], { args: cmd.slice(1), stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin ?? ""));
  await w.close();
  const r = await p.output();
  return { stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr), rc: r.code };
}

async function cleanup(): Promise<void> {
  for (const dir of ["/sys/fs/bpf", "/tmp"]) {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith("zz_cli")) await Deno.remove(`${dir}/${e.name}`, { recursive: true });
    }
  }
}

function mounts(): string {
  return Deno.readTextFileSync("/proc/self/mountinfo");
}

/** Refuses steps that could mount a bpffs: `map create` / `map pin` (or a batch doing so) without -n. */
function checkSafe(step: GoldenStep): void {
  const pre = (w: string | undefined, full: string) => w !== undefined && w !== "" && full.startsWith(w);
  const a = step.args;
  let risky = a.some((w, i) => pre(w, "map") && (pre(a[i + 1], "create") || pre(a[i + 1], "pin")));
  const text = [...Object.values(step.files ?? {}), step.stdin ?? ""].join("\n");
  if (a.some((w) => pre(w, "batch")) && /create|pin /.test(text)) risky = true;
  if (risky && !a.includes("-n")) throw new Error(`step may pin without -n: ${a.join(" ")}`);
}

async function resolveId(path: string): Promise<number> {
  const r = await exec(["bpftool", "-j", "map", "show", "pinned", path]);
  return JSON.parse(r.stdout).id;
}

/**
 * A few steps list every map of the machine (`bpftool map`): wait until no
 * other map exists, so that nothing foreign lands in a transcript.
 */
async function waitForIdleKernel(): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const maps = JSON.parse((await exec(["bpftool", "-j", "map", "show"])).stdout) as unknown[];
    if (maps.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("other maps exist on this machine; record when it is idle");
}

const want = Deno.args;
const before = mounts();
for (const script of SCRIPTS) {
  if (want.length && !want.includes(script.name)) continue;
  await cleanup();
  await waitForIdleKernel();
  const ids = new Map<number, number>();
  const steps: GoldenFile["steps"] = [];
  for (const step of script.steps) {
    checkSafe(step);
    for (const [p, text] of Object.entries(step.files ?? {})) Deno.writeTextFileSync(p, expandFile(text));
    for (const d of step.mkdir ?? []) Deno.mkdirSync(d);
    const resolved: number[] = [];
    const paths = idPlaceholders(step.args);
    const byPath = new Map<string, number>();
    for (const p of paths) byPath.set(p, await resolveId(p));
    const args = resolveArgs(step.args, (p) => {
      resolved.push(byPath.get(p)!);
      return byPath.get(p)!;
    });
    const r = await exec(["taskset", "-c", "0", "bpftool", ...args], step.stdin);
    steps.push({ ...step, ...normalize(r, ids, resolved, step.valuesAreIds) });
    if (mounts() !== before) throw new Error(`the mount table changed after: bpftool ${args.join(" ")}`);
  }
  await cleanup();
  const v = (await exec(["bpftool", "version"])).stdout.split("\n")[0];
  const kernel = (await exec(["uname", "-r"])).stdout.trim();
  const cpus = (await exec(["cat", "/sys/devices/system/cpu/possible"])).stdout.trim();
  const file: GoldenFile = {
    script: script.name,
    about: script.about,
    recorded: `${v}, Linux ${kernel}, possible CPUs ${cpus}, taskset -c 0`,
    steps,
  };
  Deno.writeTextFileSync(new URL(`${script.name}.json`, OUT_DIR), JSON.stringify(file, null, 1) + "\n");
  console.log(`${script.name}: ${steps.length} steps`);
}
