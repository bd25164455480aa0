// Seed 001 ("bpf: Prepare hashtab locking for PREEMPT_RT", 5.7): on
// PREEMPT_RT a hash map that allocates at run time takes a sleeping
// spinlock_t as its bucket lock, so it may only be used from (forced)
// thread context; tracing programs run atomic (preemption off at the
// tracepoint) and so may use only preallocated maps, whose bucket lock
// stays a raw spinlock. The verifier refuses the other combination; loaded
// anyway (`unsafe`), the program takes the sleeping lock in atomic context
// and the kernel says "BUG: sleeping function called from invalid context".

import { type JsonValue, registerScenario, type ScenarioReport } from "./registry.ts";
import { attach, boot, createMap, loadProg, quote, ScenarioError } from "./util.ts";
import { runWorkloads } from "../workload/run.ts";
import { BPF_F_NO_PREALLOC } from "../bpf/uapi.ts";

interface Case {
  readonly label: string;
  readonly flags: number;
  readonly unsafe: boolean;
}

const CASES: readonly Case[] = [
  { label: "BPF_F_NO_PREALLOC map, verified", flags: BPF_F_NO_PREALLOC, unsafe: false },
  { label: "BPF_F_NO_PREALLOC map, loaded unsafe (verifier skipped)", flags: BPF_F_NO_PREALLOC, unsafe: true },
  { label: "preallocated map", flags: 0, unsafe: false },
];

/** One case on a v5.7 PREEMPT_RT kernel: the outcome of the load and of 100 getpid calls. */
export function rtBucketLockCase(c: Case, seed: number) {
  const k = boot({ cpus: 2, profile: "v5.7", preemptRt: true, seed });
  createMap(k, { mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 64, mapFlags: c.flags, name: "pids" });
  const p = loadProg(k, {
    kind: "tracepoint",
    name: "count_pids",
    ops: "inc pids key pid",
    unsafe: c.unsafe,
  });
  if (p.error) return { k, loadError: p.error, s: null, sleeping: false };
  attach(k, p.fd, { hook: "tracepoint", tp: "syscalls:sys_enter_getpid" });
  const s = runWorkloads(k, ["syscall"], { count: 100 });
  if (typeof s === "string") throw new ScenarioError(s);
  const sleeping = s.dmesg.some((e) => e.text.includes("BUG: sleeping function called from invalid context"));
  return { k, loadError: null, s, sleeping };
}

function run(seed: number): ScenarioReport {
  const text: string[] = [
    "rt-bucket-lock: seed 001, bpf: Prepare hashtab locking for PREEMPT_RT (v5.7, CONFIG_PREEMPT_RT)",
    "A tracepoint program on syscalls:sys_enter_getpid runs `inc pids key pid`; 100 getpid calls.",
    "",
  ];
  const data: JsonValue[] = [];
  for (const c of CASES) {
    const r = rtBucketLockCase(c, seed);
    if (r.loadError) {
      text.push(`${c.label}: refused at load: ${r.loadError}`);
      data.push({ case: c.label, loaded: false, error: r.loadError, runs: 0, sleeping_in_atomic: false, dmesg: [] });
      continue;
    }
    const s = r.s!;
    text.push(`${c.label}: loaded; ${s.runs} runs${r.sleeping ? "" : ", no splat"}`);
    for (const l of quote(s.dmesg, /in_atomic|preempt_count|htab_lock_bucket|tracepoint|lock\(/, 8)) {
      text.push(`  | ${l}`);
    }
    data.push({
      case: c.label,
      loaded: true,
      error: null,
      runs: s.runs,
      sleeping_in_atomic: r.sleeping,
      dmesg: quote(s.dmesg),
    });
  }
  return { text, data };
}

registerScenario({
  name: "rt-bucket-lock",
  summary: "seed 001: v5.7-rt refuses tracing programs on NO_PREALLOC maps; unsafe -> sleeping-in-atomic BUG",
  run: (o) => run(o.seed ?? 1),
});
