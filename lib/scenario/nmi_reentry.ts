// Same-CPU re-entry into a hash map's bucket lock from NMI (KERNEL-NOTES
// 2.3, 6.4): a tc program updates a key for every packet in NET_RX softirq,
// holding the bucket lock with interrupts off; a perf NMI lands inside that
// section and its program updates the same key. tc programs take no
// bpf_prog_active, so the NMI program runs. On 4.6 the raw bucket lock
// spins forever on its own CPU; 5.11-6.14's per-CPU map_locked counters
// make the nested update fail with -EBUSY; 6.15's rqspinlock sees the AA
// and returns -EDEADLK. (On 4.6, which has no perf_event programs, the NMI
// side is a kprobe program on perf_event_overflow, run in the same NMI.)

import { type JsonValue, registerScenario, type ScenarioReport } from "./registry.ts";
import { attach, boot, createMap, loadProg, quote, resultsText, ScenarioError } from "./util.ts";
import { runWorkloads } from "../workload/run.ts";
import { startPmuNmis } from "../workload/perf.ts";
import { errnoCounts } from "../workload/summary.ts";

/** Profiles compared. */
export const NMI_REENTRY_PROFILES = ["v4.6", "v5.11", "v6.1", "v6.15", "v6.18"];

/** One profile: 20000 packets (20 Mpps: NAPI busy) with a tc program, perf NMIs every 10 us on CPU 0. */
export function nmiReentryCase(profile: string, seed: number) {
  const k = boot({ cpus: 2, profile, seed });
  createMap(k, { mapType: "hash", keySize: 4, valueSize: 8, maxEntries: 16, name: "flows" });
  const tc = loadProg(k, { kind: "tc", name: "tc_count", ops: "update flows key 1 value seq" });
  if (tc.error) throw new ScenarioError(`tc prog: ${tc.error}`);
  attach(k, tc.fd, { hook: "tc" });
  const perfKind = k.features.version >= 409 ? "perf_event" : "kprobe";
  const nmi = loadProg(k, { kind: perfKind, name: "nmi_update", ops: "update flows key 1 value 2" });
  if (nmi.error) throw new ScenarioError(`nmi prog: ${nmi.error}`);
  const period = 10_000;
  const names = ["netrx"];
  if (perfKind === "perf_event") {
    attach(k, nmi.fd, { hook: "perf_event", freq: Math.round(1e9 / period), cpu: 0 });
    names.push("perf");
  } else {
    attach(k, nmi.fd, { hook: "kprobe", func: "perf_event_overflow" });
    startPmuNmis(k, 0, k.cpus[0].clock + period, period, (n) => n < 200, () => {});
  }
  const s = runWorkloads(k, names, { cpus: [0], count: 20_000, params: { pps: 20_000_000 } });
  if (typeof s === "string") throw new ScenarioError(s);
  const tcProg = k.sys.progOf(tc.fd)!;
  const nmiProg = k.sys.progOf(nmi.fd)!;
  return {
    k,
    s,
    tc: errnoCounts(tcProg.opResults),
    nmi: errnoCounts(nmiProg.opResults),
    nmiRuns: nmiProg.seq,
    nmiKind: perfKind,
  };
}

function run(seed: number): ScenarioReport {
  const text: string[] = [
    "nmi-reentry: a perf NMI program updates the key whose bucket lock the interrupted tc program holds",
    "tc ingress `update flows key 1 value seq` per packet (NET_RX softirq, CPU 0); NMIs every 10 us run",
    "`update flows key 1 value 2` (perf_event program; on v4.6 a kprobe program on perf_event_overflow).",
    "",
  ];
  const data: JsonValue[] = [];
  for (const profile of NMI_REENTRY_PROFILES) {
    const r = nmiReentryCase(profile, seed);
    const stuck = r.s.stuckCpus;
    const nested = Object.keys(r.nmi).filter((e) => e !== "ok");
    const outcome = stuck.length ? "deadlock" : nested.length ? `-${nested.join("/-")}` : "no collision";
    text.push(`${profile}: ${stuck.length ? `CPU ${stuck.join(",")} deadlocked` : outcome}`);
    text.push(`  NMI program (${r.nmiKind}): ${r.nmiRuns} runs, map ops ${resultsText(r.nmi)}`);
    text.push(`  tc program: map ops ${resultsText(r.tc)}`);
    if (stuck.length) { for (const l of quote(r.s.dmesg, /lockdep_key|bucket|nmi/i, 8)) text.push(`  | ${l}`); }
    data.push({
      profile,
      outcome,
      stuck_cpus: [...stuck],
      nmi_prog: r.nmiKind,
      nmi_runs: r.nmiRuns,
      nmi_results: r.nmi,
      tc_results: r.tc,
      dmesg: quote(r.s.dmesg),
    });
  }
  return { text, data };
}

registerScenario({
  name: "nmi-reentry",
  summary: "perf NMI program re-entering a held bucket lock: deadlock on 4.6, -EBUSY 5.11-6.14, -EDEADLK 6.15+",
  run: (o) => run(o.seed ?? 1),
});
