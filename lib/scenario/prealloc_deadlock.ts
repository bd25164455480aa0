// Seed 000 ("bpf: pre-allocate hash map elements", 4.6): a kprobe on
// spin_unlock whose program updates a hash map, while kmalloc/kfree churn
// runs the slab slow paths. Before 4.6 the update kmalloc'ed its element in
// program context: kfree -> spin_lock(n->list_lock) ... spin_unlock ->
// kprobe -> program -> map update -> kmalloc -> spin_lock(the same
// list_lock): the CPU spins on a lock it holds. 4.6 preallocates elements
// (no allocator call from the program), and BPF_F_NO_PREALLOC brings the
// deadlock back. Everything below comes from the mechanism: the program,
// the kprobe, the slab's list_lock and lockdep.

import { type JsonValue, registerScenario, type ScenarioReport } from "./registry.ts";
import { attach, boot, createMap, loadProg, quote, ScenarioError } from "./util.ts";
import { runWorkloads } from "../workload/run.ts";
import { BPF_F_NO_PREALLOC } from "../bpf/uapi.ts";

interface Case {
  readonly label: string;
  readonly profile: string;
  readonly flags: number;
}

const CASES: readonly Case[] = [
  { label: "v4.5 (elements kmalloc'ed by the update)", profile: "v4.5", flags: 0 },
  { label: "v4.6 (preallocated elements)", profile: "v4.6", flags: 0 },
  { label: "v4.6 with BPF_F_NO_PREALLOC", profile: "v4.6", flags: BPF_F_NO_PREALLOC },
];

/** Runs one case: the map, the kprobe program, the churn. */
export function preallocDeadlockCase(c: Case, seed: number) {
  const k = boot({ cpus: 2, profile: c.profile, seed });
  createMap(k, { mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 1024, mapFlags: c.flags, name: "counts" });
  const p = loadProg(k, { kind: "kprobe", name: "on_unlock", ops: "update counts key seq % 1024 value cpu" });
  if (p.error) throw new ScenarioError(`prog load: ${p.error}`);
  attach(k, p.fd, { hook: "kprobe", func: "_raw_spin_unlock_irqrestore" });
  // the churn runs on CPU 0; CPU 1 then makes system calls that need no slab lock
  const s = runWorkloads(k, ["kmalloc"], { cpus: [0], count: 4000, params: { batch: 64 } });
  if (typeof s === "string") throw new ScenarioError(s);
  const after = runWorkloads(k, ["syscall"], { cpus: [1], count: 1000 });
  if (typeof after === "string") throw new ScenarioError(after);
  const lockdep = s.dmesg.filter((e) => e.kind === "lockdep");
  return { k, s, after, lockdep };
}

function run(seed: number): ScenarioReport {
  const text: string[] = [
    "prealloc-deadlock: seed 000, bpf: pre-allocate hash map elements (4.6)",
    "A kprobe on _raw_spin_unlock_irqrestore runs `update counts key seq % 1024 value cpu`",
    "while kmalloc/kfree churn on CPU 0 runs the slab slow paths under kmem_cache_node->list_lock.",
    "",
  ];
  const data: JsonValue[] = [];
  for (const c of CASES) {
    const { s, after, lockdep } = preallocDeadlockCase(c, seed);
    const stuck = s.stuckCpus;
    const outcome = stuck.length ? "deadlock" : "clean";
    text.push(`${c.label}: ${stuck.length ? `CPU ${stuck.join(",")} deadlocked` : "no deadlock"}`);
    text.push(`  ${s.runs} program runs, ${s.events} kmalloc batches`);
    if (stuck.length) {
      for (const l of quote(s.dmesg, /list_lock|kprobe/, 10)) text.push(`  | ${l}`);
      text.push(`  CPU 1 went on: ${after.events} system calls afterwards (only the deadlocked CPU stopped)`);
    } else text.push(`  dmesg: ${s.dmesg.length ? quote(s.dmesg).join(" / ") : "nothing"}`);
    data.push({
      case: c.label,
      profile: c.profile,
      no_prealloc: c.flags !== 0,
      outcome,
      stuck_cpus: [...stuck],
      runs: s.runs,
      events: s.events,
      other_cpu_events: after.events,
      recursive_locking: lockdep.some((e) => e.text.includes("possible recursive locking detected")),
      dmesg: quote(s.dmesg),
    });
  }
  return { text, data };
}

registerScenario({
  name: "prealloc-deadlock",
  summary: "seed 000: kprobe on spin_unlock + kmalloc'ing map update deadlocks v4.5; v4.6 prealloc is clean",
  run: (o) => run(o.seed ?? 1),
});
