// A PREEMPT_RT case nesting cannot express by itself: an RT task preempts a
// task that holds a hash map's sleeping bucket lock (spinlock_t, an rt_mutex
// on RT, for maps that allocate at run time, 5.7-6.0) and then needs that
// same lock. It must sleep until the preempted task - boosted to its
// priority (priority inheritance) - runs on to its unlock. bpfsim undoes the
// RT task's step to its start (it blocked at the lock; its system call had
// no effects before it) and runs it again at the unlock. On 5.11 the
// per-CPU map_locked counter fails the RT task's update with -EBUSY instead.

import { type JsonValue, registerScenario, type ScenarioReport } from "./registry.ts";
import { boot, createMap, resultsText, ScenarioError } from "./util.ts";
import { BPF_F_NO_PREALLOC } from "../bpf/uapi.ts";
import { errnoCounts } from "../workload/summary.ts";

/** One kernel: task A updates key 1 2000 times; an hrtimer every 20 us wakes RT task B (prio 50) to update it too. */
export function rtPiBlockCase(profile: string, seed: number) {
  const k = boot({ cpus: 2, profile, preemptRt: true, seed });
  const fd = createMap(k, {
    mapType: "hash",
    keySize: 4,
    valueSize: 8,
    maxEntries: 16,
    mapFlags: BPF_F_NO_PREALLOC,
    name: "shared",
  });
  if (k.sys.objPin(fd, "/sys/fs/bpf/shared") !== 0) throw new ScenarioError("pin failed");
  const a = k.spawn("task-a", 0);
  const b = k.spawn("rt-task-b", 0);
  const afd = a.objGet("/sys/fs/bpf/shared");
  const bfd = b.objGet("/sys/fs/bpf/shared");
  const key = new Uint8Array([1, 0, 0, 0]);
  const va = new Uint8Array(8), vb = new Uint8Array(8);
  vb[0] = 0xbb;
  const aRes = new Map<number, number>(), bRes = new Map<number, number>();
  let left = 2000;
  for (let i = 0; i < 2000; i++) {
    k.queueStep(0, () => {
      va[0] = i & 0xff;
      const r = a.mapUpdateElem(afd, key, va, 0);
      aRes.set(r, (aRes.get(r) ?? 0) + 1);
      left--;
    }, { comm: a.proc.comm, pid: a.proc.pid });
  }
  let wakeups = 0;
  const period = 20_000;
  const timer = (t: number) => {
    k.raiseIrq(0, t, "hrtimer", () => {
      wakeups++;
      // the hrtimer wakes the RT task: it preempts whatever runs at the next preemption point
      k.queueStep(0, () => {
        const r = b.mapUpdateElem(bfd, key, vb, 0);
        bRes.set(r, (bRes.get(r) ?? 0) + 1);
      }, { comm: b.proc.comm, pid: b.proc.pid, prio: 50 });
      if (left > 0) timer(t + period);
    }, { threadedOnRt: false });
  };
  timer(k.cpus[0].clock + period);
  k.quiesce();
  a.exit();
  b.exit();
  const blocks = k.piBlocks.filter((p) => p.waiter.startsWith("rt-task-b"));
  const waits = blocks.filter((p) => !Number.isNaN(p.wokenAt)).map((p) => p.wokenAt - p.since);
  return { k, a: errnoCounts(aRes), b: errnoCounts(bRes), wakeups, blocks, waits, preemptions: k.preemptions };
}

function run(seed: number): ScenarioReport {
  const text: string[] = [
    "rt-pi-block: on PREEMPT_RT, an RT task (prio 50) preempts a task holding a BPF_F_NO_PREALLOC map's",
    "sleeping bucket lock and then updates the same key. Task A: 2000 updates; an hrtimer wakes B every 20 us.",
    "",
  ];
  const data: JsonValue[] = [];
  for (const profile of ["v5.7", "v5.11"]) {
    const r = rtPiBlockCase(profile, seed);
    const stuck = r.k.stuckCpus();
    text.push(`${profile}-rt: B woke ${r.wakeups} times, preempted A ${r.preemptions} times`);
    if (r.blocks.length) {
      const max = Math.max(...r.waits), avg = r.waits.reduce((x, y) => x + y, 0) / Math.max(1, r.waits.length);
      text.push(
        `  B blocked ${r.blocks.length} times on ${r.blocks[0].lock.replace(/ held by pid \d+/, "")} held by A;`,
      );
      text.push(
        `  A inherited prio ${r.blocks[0].waiterPrio} until its unlock: B waited ${
          (avg / 1000).toFixed(2)
        } us on average, ${(max / 1000).toFixed(2)} us at most`,
      );
    } else text.push("  B never had to sleep on the lock");
    text.push(`  A: ${resultsText(r.a)}; B: ${resultsText(r.b)}${stuck.length ? `; CPU ${stuck} stuck` : ""}`);
    data.push({
      profile,
      rt: true,
      wakeups: r.wakeups,
      preemptions: r.preemptions,
      pi_blocks: r.blocks.length,
      max_wait_ns: r.waits.length ? Math.max(...r.waits) : 0,
      a_results: r.a,
      b_results: r.b,
      stuck_cpus: stuck,
    });
  }
  return { text, data };
}

registerScenario({
  name: "rt-pi-block",
  summary: "PREEMPT_RT: an RT task sleeps on the bucket lock held by the task it preempted (PI); 5.11: -EBUSY",
  run: (o) => run(o.seed ?? 1),
});
