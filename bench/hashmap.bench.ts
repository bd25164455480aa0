// deno bench: the core issue's hash map figures, per iteration.
import { Kernel } from "../lib/kernel/kernel.ts";
import { mapRound, setupSim, simRound } from "./hashmap_ops.ts";

const sim = setupSim();
const jsMap = new Map<number, Uint8Array>();

Deno.bench("64k hash: update+lookup+delete via kernel.sys", { group: "ops", baseline: false }, () => {
  simRound(sim);
});

Deno.bench("64k keys: the same work on a JS Map", { group: "ops", baseline: true }, () => {
  mapRound(jsMap);
});

Deno.bench("create a 1,000,000-entry preallocated hash map", { n: 5 }, () => {
  const k = new Kernel({ cpus: 2, seed: 1, memoryLimit: 4 * 1024 ** 3 });
  const fd = k.sys.mapCreate({ mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 1_000_000, name: "big" });
  if (fd < 0) throw new Error(`create failed: ${fd}`);
});
