// Each named scenario's outcome on each profile, from the mechanism: the
// seeds' claims (000: prealloc, 001: RT bucket locks), same-CPU re-entry
// from NMI by release, the htab_update concurrent_update selftest and an RT
// task sleeping on the lock of the task it preempted.

import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import "../../lib/scenario/all.ts";
import { findScenario, scenarios } from "../../lib/scenario/registry.ts";
import { preallocDeadlockCase } from "../../lib/scenario/prealloc_deadlock.ts";
import { rtBucketLockCase } from "../../lib/scenario/rt_bucket_lock.ts";
import { nmiReentryCase } from "../../lib/scenario/nmi_reentry.ts";
import { concurrentUpdateCase } from "../../lib/scenario/concurrent_update.ts";
import { rtPiBlockCase } from "../../lib/scenario/rt_pi_block.ts";
import { BPF_F_NO_PREALLOC } from "../../lib/bpf/uapi.ts";

Deno.test("scenario prealloc-deadlock: v4.5 and v4.6 NO_PREALLOC deadlock CPU 0 only; v4.6 prealloc is clean", () => {
  const cases = [
    { label: "v4.5", profile: "v4.5", flags: 0, dead: true },
    { label: "v4.6", profile: "v4.6", flags: 0, dead: false },
    { label: "v4.6 NO_PREALLOC", profile: "v4.6", flags: BPF_F_NO_PREALLOC, dead: true },
  ];
  for (const c of cases) {
    const { s, after, lockdep } = preallocDeadlockCase(c, 1);
    assertEquals(s.stuckCpus, c.dead ? [0] : [], c.label);
    assertEquals(after.events, 1000, `${c.label}: CPU 1 goes on`);
    if (c.dead) {
      const text = lockdep.map((e) => e.text).join("\n");
      assertIncludes(text, "WARNING: possible recursive locking detected");
      assertIncludes(text, "(&n->list_lock)");
      assertIncludes(text, "kprobe  _raw_spin_unlock_irqrestore handler");
      assertTrue(s.dmesg.some((e) => e.text.includes("soft lockup - CPU#0 stuck")));
    } else {
      assertTrue(s.runs > 1000, `the program ran ${s.runs} times`);
      assertEquals(s.dmesg.length, 0);
    }
  }
});

Deno.test("scenario rt-bucket-lock: v5.7-rt refuses, unsafe splats, prealloc is clean", () => {
  const refused = rtBucketLockCase({ label: "", flags: BPF_F_NO_PREALLOC, unsafe: false }, 1);
  assertIncludes(refused.loadError!, "trace type programs can only use preallocated hash map");
  const unsafe = rtBucketLockCase({ label: "", flags: BPF_F_NO_PREALLOC, unsafe: true }, 1);
  assertEquals(unsafe.loadError, null);
  assertTrue(unsafe.sleeping);
  assertIncludes(unsafe.k.dmesg.text(), "in_atomic(): 1");
  const prealloc = rtBucketLockCase({ label: "", flags: 0, unsafe: false }, 1);
  assertEquals([prealloc.loadError, prealloc.sleeping, prealloc.s!.runs], [null, false, 100]);
});

Deno.test("scenario nmi-reentry: deadlock on 4.6, -EBUSY on 5.11-6.14, -EDEADLK on 6.15+", () => {
  for (
    const [profile, want] of [
      ["v4.6", "deadlock"],
      ["v5.11", "EBUSY"],
      ["v6.1", "EBUSY"],
      ["v6.15", "EDEADLK"],
      ["v6.18", "EDEADLK"],
    ] as const
  ) {
    const r = nmiReentryCase(profile, 1);
    if (want === "deadlock") {
      assertEquals(r.s.stuckCpus, [0], profile);
      assertIncludes(r.k.dmesg.text(), "&htab->lockdep_key");
      continue;
    }
    assertEquals(r.s.stuckCpus, [], profile);
    assertTrue((r.nmi[want] ?? 0) > 0, `${profile}: ${JSON.stringify(r.nmi)}`);
    assertEquals(Object.keys(r.nmi).filter((e) => e !== "ok" && e !== want), [], profile);
    assertEquals(r.tc, { ok: 20000 }, profile);
  }
});

Deno.test("scenario concurrent-update: false -EBUSY on 5.11 (RT and not), none on 6.1", () => {
  const rt511 = concurrentUpdateCase("v5.11", true, 1);
  const v511 = concurrentUpdateCase("v5.11", false, 1);
  const v61 = concurrentUpdateCase("v6.1", false, 1);
  assertTrue(rt511.failures > 0 && v511.failures > 0);
  assertEquals(Object.keys(rt511.results).sort(), ["EBUSY", "ok"]);
  assertEquals(v61.results, { ok: 4000 });
  assertTrue(v61.preemptions > 0, "6.1 is preempted too, just never inside the window");
});

Deno.test("scenario rt-pi-block: v5.7-rt sleeps on the preempted task's lock (PI); v5.11-rt fails with -EBUSY", () => {
  const v57 = rtPiBlockCase("v5.7", 1);
  assertTrue(v57.blocks.length > 0);
  assertEquals(v57.b, { ok: v57.wakeups });
  assertEquals(v57.a, { ok: 2000 });
  assertTrue(v57.waits.every((w) => w > 0));
  assertEquals(v57.k.stuckCpus(), []);
  const v511 = rtPiBlockCase("v5.11", 1);
  assertEquals(v511.blocks.length, 0);
  assertTrue((v511.b.EBUSY ?? 0) > 0);
});

Deno.test("scenarios: every one is deterministic for a seed and has plain and JSON reports", () => {
  for (const s of scenarios()) {
    // the long sweeps (reuse-flavours) have tests of their own; a second run proves determinism for the rest
    if (s.name === "reuse-flavours") continue;
    const a = s.run({ seed: 3 });
    const b = s.run({ seed: 3 });
    assertEquals(JSON.stringify(a.data), JSON.stringify(b.data), s.name);
    assertTrue(a.text.length > 2, s.name);
  }
  assertEquals(findScenario("nope"), undefined);
});
