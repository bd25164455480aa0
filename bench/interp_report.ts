// `deno task bench` summary for the eBPF interpreter: simulated instructions
// per real second (goal: at least 20 million), from medians of alternating
// rounds of the benchmark programs of interp_ops.ts, with the same arithmetic
// in plain JavaScript measured in the same run for comparison.
import { jsBaseline, LOOPS, runOnce, setupInterp } from "./interp_ops.ts";

const rig = setupInterp();
const med = (x: number[]) => x.sort((p, q) => p - q)[Math.floor(x.length / 2)];
const rounds = 9, per = 40;
const alu: number[] = [], helper: number[] = [], js: number[] = [];
for (let i = 0; i < 10; i++) {
  runOnce(rig, rig.alu);
  runOnce(rig, rig.helper);
  jsBaseline();
}
for (let r = 0; r < rounds; r++) {
  let t0 = performance.now(), n = 0;
  for (let i = 0; i < per; i++) n += runOnce(rig, rig.alu);
  alu.push(n / ((performance.now() - t0) / 1000));
  t0 = performance.now();
  n = 0;
  for (let i = 0; i < per; i++) n += runOnce(rig, rig.helper);
  helper.push(n / ((performance.now() - t0) / 1000));
  t0 = performance.now();
  for (let i = 0; i < per; i++) jsBaseline();
  js.push(((performance.now() - t0) * 1e6) / (per * LOOPS));
}
const aluIps = med(alu), helperIps = med(helper), jsNs = med(js);
// ns per loop iteration of the interpreted ALU loop vs the same iteration in JavaScript
const iterNs = (1e9 / aluIps) * (runOnce(rig, rig.alu) / LOOPS);
const row = (name: string, value: string, goal: string, ok: boolean) =>
  console.log(`${ok ? "PASS" : "MISS"}  ${name.padEnd(52)} ${value.padStart(14)}   goal ${goal}`);
console.log("bpfsim interpreter benchmarks (medians of 9 alternating rounds; figures from this run)");
row("ALU/stack/map-value loop, simulated insns/s", (aluIps / 1e6).toFixed(1) + " M", ">= 20 M", aluIps >= 20e6);
row(
  "with a map lookup helper per iteration, insns/s",
  (helperIps / 1e6).toFixed(1) + " M",
  ">= 20 M",
  helperIps >= 20e6,
);
row("one loop iteration interpreted / in plain JS", (iterNs / jsNs).toFixed(1) + "x", "", true);
