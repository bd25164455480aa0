// deno bench: the eBPF interpreter, per run of a 10,000-iteration loop
// (ALU, stack and map-value instructions; the second also calls
// bpf_map_lookup_elem every iteration), against the same arithmetic in
// plain JavaScript. interp_report.ts turns these into instructions per second.
import { jsBaseline, runOnce, setupInterp } from "./interp_ops.ts";

const rig = setupInterp();

Deno.bench("interpreter: ALU/stack/map-value loop (140k insns)", { group: "interp" }, () => {
  runOnce(rig, rig.alu);
});

Deno.bench("interpreter: the loop with a helper call per iteration (180k insns)", { group: "interp" }, () => {
  runOnce(rig, rig.helper);
});

Deno.bench("plain JavaScript: the same arithmetic", { group: "interp", baseline: true }, () => {
  jsBaseline();
});
