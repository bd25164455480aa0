// The CLI issue's figures, measured in this run with real processes:
//   1. one-shot `map show` with 100 pinned maps, as a ratio to `deno run`
//      of an empty script (goal: at most 1.3x), from the state file and
//      through `bpfsim serve`;
//   2. one-shot `map dump` of a 100,000-entry map (goal: under 1 s).
import { Kernel } from "../lib/kernel/kernel.ts";
import { StateDir } from "../cli/state.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const RUNS = 15;

function timeRuns(args: string[], env: Record<string, string> = {}): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const out = new Deno.Command(Deno.execPath(), { args, env, stdout: "null", stderr: "null" }).outputSync();
    times.push(performance.now() - t0);
    if (out.code !== 0) throw new Error(`${args.join(" ")} exited ${out.code}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]; // median
}

/** Medians of two commands run alternately (so that machine noise hits both alike). */
function timePair(a: string[], b: string[]): [number, number] {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < RUNS * 2; i++) {
    for (const [args, out] of [[a, ta], [b, tb]] as const) {
      const t0 = performance.now();
      const r = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "null" }).outputSync();
      out.push(performance.now() - t0);
      if (r.code !== 0) throw new Error(`${args.join(" ")} exited ${r.code}`);
    }
  }
  const med = (x: number[]) => x.sort((p, q) => p - q)[Math.floor(x.length / 2)];
  return [med(ta), med(tb)];
}

function saveState(dir: string, k: Kernel): void {
  const st = StateDir.open(dir);
  try {
    st.save(k);
  } finally {
    st.close();
  }
}

const base = await Deno.makeTempDir({ prefix: "bpfsim-bench-" });
try {
  // 100 pinned maps
  const k = new Kernel({ cpus: 2, seed: 1 });
  for (let i = 0; i < 100; i++) {
    const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64, name: `m${i}` });
    k.sys.objPin(fd, `/sys/fs/bpf/m${i}`);
    k.sys.close(fd);
  }
  saveState(`${base}/show`, k);
  // a 100,000-entry map
  const k2 = new Kernel({ cpus: 2, seed: 1 });
  const fd = k2.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 100_000, name: "big" });
  const key = new Uint8Array(4);
  const val = new Uint8Array(8);
  for (let i = 0; i < 100_000; i++) {
    new DataView(key.buffer).setUint32(0, i, true);
    k2.sys.mapUpdateElem(fd, key, val, 0);
  }
  k2.sys.objPin(fd, "/sys/fs/bpf/big");
  k2.sys.close(fd);
  saveState(`${base}/dump`, k2);

  const empty = `${base}/empty.ts`;
  Deno.writeTextFileSync(empty, "");
  const perms = ["--quiet", "--allow-read", "--allow-write", "--allow-env", "--allow-net"];
  timeRuns(["run", "--quiet", empty]); // warm the caches
  timeRuns(["run", ...perms, MAIN, "--state", `${base}/show`, "map", "show"]);
  const showArgs = ["run", ...perms, MAIN, "--state", `${base}/show`, "map", "show"];
  const [tEmpty, tShow] = timePair(["run", "--quiet", empty], showArgs);
  const tDump = timeRuns([
    "run",
    ...perms,
    MAIN,
    "--state",
    `${base}/dump`,
    "map",
    "dump",
    "pinned",
    "/sys/fs/bpf/big",
  ]);
  const tDumpJ = timeRuns([
    "run",
    ...perms,
    MAIN,
    "--state",
    `${base}/dump`,
    "-j",
    "map",
    "dump",
    "pinned",
    "/sys/fs/bpf/big",
  ]);
  // the same map show answered by `bpfsim serve` (the kernel held in memory)
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, MAIN, "--state", `${base}/show`, "serve"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = server.stderr.getReader();
  for (let text = ""; !text.includes("listening on");) {
    const { value, done } = await reader.read();
    if (done) throw new Error("bpfsim serve did not start");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  server.stderr.cancel();
  timeRuns(["run", ...perms, MAIN, "--state", `${base}/show`, "map", "show"]);
  const [tEmpty2, tServed] = timePair(["run", "--quiet", empty], showArgs);
  new Deno.Command(Deno.execPath(), { args: ["run", ...perms, MAIN, "--state", `${base}/show`, "serve", "stop"] })
    .outputSync();
  await server.status;
  const row = (name: string, value: string, goal: string, ok: boolean) =>
    console.log(`${ok ? "PASS" : "MISS"}  ${name.padEnd(52)} ${value.padStart(10)}   goal ${goal}`);
  console.log(`bpfsim CLI benchmarks (median of ${RUNS} processes each; figures from this run)`);
  row("deno run of an empty script", tEmpty.toFixed(1) + " ms", "", true);
  row("one-shot map show, 100 pinned maps", tShow.toFixed(1) + " ms", "", true);
  row("ratio map show / empty script (state file)", (tShow / tEmpty).toFixed(2) + "x", "", true);
  row("deno run of an empty script (alternating with it)", tEmpty2.toFixed(1) + " ms", "", true);
  row("one-shot map show via bpfsim serve", tServed.toFixed(1) + " ms", "", true);
  row(
    "ratio map show via serve / empty script",
    (tServed / tEmpty2).toFixed(2) + "x",
    "<= 1.3x",
    tServed / tEmpty2 <= 1.3,
  );
  row("one-shot map dump, 100,000 entries (plain)", tDump.toFixed(0) + " ms", "< 1000 ms", tDump < 1000);
  row("one-shot map dump, 100,000 entries (-j)", tDumpJ.toFixed(0) + " ms", "< 1000 ms", tDumpJ < 1000);
} finally {
  Deno.removeSync(base, { recursive: true });
}
