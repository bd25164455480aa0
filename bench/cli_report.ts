// The CLI issue's figures, measured in this run with real processes:
//   1. one-shot `map show` with 100 pinned maps, as a ratio to `deno run`
//      of an empty script (goal: at most 1.3x);
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
  const perms = ["--quiet", "--allow-read", "--allow-write", "--allow-env"];
  timeRuns(["run", "--quiet", empty]); // warm the caches
  timeRuns(["run", ...perms, MAIN, "--state", `${base}/show`, "map", "show"]);
  const tEmpty = timeRuns(["run", "--quiet", empty]);
  const tShow = timeRuns(["run", ...perms, MAIN, "--state", `${base}/show`, "map", "show"]);
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
  const row = (name: string, value: string, goal: string, ok: boolean) =>
    console.log(`${ok ? "PASS" : "MISS"}  ${name.padEnd(52)} ${value.padStart(10)}   goal ${goal}`);
  console.log(`bpfsim CLI benchmarks (median of ${RUNS} processes each; figures from this run)`);
  row("deno run of an empty script", tEmpty.toFixed(1) + " ms", "", true);
  row("one-shot map show, 100 pinned maps", tShow.toFixed(1) + " ms", "", true);
  row("ratio map show / empty script", (tShow / tEmpty).toFixed(2) + "x", "<= 1.3x", tShow / tEmpty <= 1.3);
  row("one-shot map dump, 100,000 entries (plain)", tDump.toFixed(0) + " ms", "< 1000 ms", tDump < 1000);
  row("one-shot map dump, 100,000 entries (-j)", tDumpJ.toFixed(0) + " ms", "< 1000 ms", tDumpJ < 1000);
} finally {
  Deno.removeSync(base, { recursive: true });
}
