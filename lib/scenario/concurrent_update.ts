// The htab_update selftest's concurrent_update (tools/testing/selftests/bpf/
// prog_tests/htab_update.c): four tasks pinned to CPU 0 update one hash map
// 1000 times each and no update may fail. 5.11 made htab_lock_bucket()
// increment a per-CPU map_locked counter under migrate_disable() only, so a
// task preempted between that increment and the bucket lock - or, on
// PREEMPT_RT, anywhere inside the sleeping bucket lock of a map that
// allocates at run time - makes the task that preempts it fail with -EBUSY.
// 6.1 ("bpf: Disable preemption when increasing per-cpu map_locked") closed
// the window. A tick preempts the running task in favour of the next
// runnable one at its next preemption point; nothing else is scripted. The
// 4000 updates take under a simulated millisecond, less than one HZ=1000
// tick, so the tick here comes every 100 us (10 kHz), standing in for the
// preemptions a loaded system has (ticks, wakeups, irq threads). A tick that
// falls due while interrupts are off is taken at the irq restore in
// htab_unlock_bucket(), before map_locked is decremented: non-RT kernels
// fail there too, as the selftest's commit says ("fails under CONFIG_PREEMPT").

import { type JsonValue, registerScenario, type ScenarioReport } from "./registry.ts";
import { boot, createMap, resultsText, ScenarioError } from "./util.ts";
import { startTick } from "../workload/timer.ts";
import { BPF_F_NO_PREALLOC } from "../bpf/uapi.ts";
import { errnoCounts } from "../workload/summary.ts";

/** Kernels compared: [profile, PREEMPT_RT]. */
export const CONCURRENT_UPDATE_CASES: readonly (readonly [string, boolean])[] = [
  ["v5.11", true],
  ["v5.11", false],
  ["v6.1", false],
];

/** Four tasks, `updates` bpf(2) updates each, on CPU 0 with the tick at `hz`. */
export function concurrentUpdateCase(profile: string, rt: boolean, seed: number, updates = 1000, hz = 10_000) {
  const k = boot({ cpus: 2, profile, preemptRt: rt, seed });
  const fd = createMap(k, {
    mapType: "hash",
    keySize: 4,
    valueSize: 8,
    maxEntries: 1,
    mapFlags: BPF_F_NO_PREALLOC,
    name: "htab",
  });
  if (k.sys.objPin(fd, "/sys/fs/bpf/htab") !== 0) throw new ScenarioError("pin failed");
  const tasks = [0, 1, 2, 3].map((i) => k.spawn(`upd${i}`, 0));
  const fds = tasks.map((p) => p.objGet("/sys/fs/bpf/htab"));
  const results = new Map<number, number>();
  const key = new Uint8Array(4);
  const value = new Uint8Array(8);
  let left = updates * tasks.length;
  for (let i = 0; i < updates; i++) {
    tasks.forEach((p, j) => {
      k.queueStep(0, () => {
        value[0] = i & 0xff;
        const r = p.mapUpdateElem(fds[j], key, value, 0);
        results.set(r, (results.get(r) ?? 0) + 1);
        left--;
      }, { comm: p.proc.comm, pid: p.proc.pid });
    });
  }
  const period = 1e9 / hz;
  startTick(k, 0, k.cpus[0].clock + period, period, () => left > 0, () => {});
  k.quiesce();
  tasks.forEach((p) => p.exit());
  const byErrno = errnoCounts(results);
  const failures = [...results].filter(([e]) => e !== 0).reduce((n, [, c]) => n + c, 0);
  return { k, results: byErrno, failures, preemptions: k.preemptions, simNs: k.cpus[0].clock };
}

function run(seed: number): ScenarioReport {
  const text: string[] = [
    "concurrent-update: htab_update selftest concurrent_update - 4 tasks on CPU 0, 1000 updates each,",
    "of a BPF_F_NO_PREALLOC hash map; a 10 kHz tick preempts tasks. No update may fail.",
    "",
  ];
  const data: JsonValue[] = [];
  for (const [profile, rt] of CONCURRENT_UPDATE_CASES) {
    const r = concurrentUpdateCase(profile, rt, seed);
    const name = `${profile}${rt ? "-rt" : ""}`;
    text.push(
      `${name}: ${r.failures ? `${r.failures} updates failed` : "no failures"} (${
        resultsText(r.results)
      }); ${r.preemptions} preemptions in ${(r.simNs / 1e6).toFixed(2)} ms`,
    );
    data.push({
      profile,
      rt,
      updates: 4000,
      failures: r.failures,
      results: r.results,
      preemptions: r.preemptions,
    });
  }
  return { text, data };
}

registerScenario({
  name: "concurrent-update",
  summary: "htab_update selftest: 4 tasks on CPU 0; false -EBUSY from map_locked on 5.11 (RT), none on 6.1",
  run: (o) => run(o.seed ?? 1),
});
