import { assertEquals, assertIncludes, assertTrue } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { LockSet } from "../../lib/kernel/lockdep.ts";
import { raw_spin_lock, raw_spin_unlock, spin_lock, spin_unlock } from "../../lib/kernel/spinlock.ts";
import { definePoint } from "../../lib/kernel/points.ts";

const P_WORK = definePoint("test_critical_work", "tests/kernel/lockdep.test.ts", "work done under a test lock");

function lock(k: Kernel, name: string, kind: "raw_spinlock_t" | "spinlock_t" = "raw_spinlock_t"): LockSet {
  return new LockSet(k.lockdep.lockClass(name), kind, 1, 0x1000, 64);
}

Deno.test("lockdep: AA from an NMI that lands inside a held lock deadlocks only that CPU", () => {
  const k = new Kernel({ cpus: 2 });
  const l = lock(k, "&test->lock");
  let nmiRan = false;
  k.exec(0, () => {
    raw_spin_lock(k, l, 0, "task_side");
    // an NMI due right now is taken at the next instrumented point
    k.raiseNmi(0, k.cur.clock, "perf NMI", () => {
      nmiRan = true;
      raw_spin_lock(k, l, 0, "nmi_side");
      raw_spin_unlock(k, l, 0);
    });
    k.point(P_WORK);
    raw_spin_unlock(k, l, 0);
  }, { comm: "victim" });
  assertTrue(nmiRan);
  assertEquals(k.stuckCpus(), [0]);
  const text = k.dmesg.text();
  assertIncludes(text, "WARNING: possible recursive locking detected");
  assertIncludes(text, "at: nmi_side");
  assertIncludes(text, "at: task_side");
  assertIncludes(text, "nmi     perf NMI");
  assertIncludes(text, "watchdog: BUG: soft lockup - CPU#0 stuck");
  // CPU 1 still works, and a call on CPU 0 reports the hang
  assertEquals(k.exec(1, () => 42), 42);
  assertEquals(typeof k.exec(0, () => 1), "symbol");
  // CPU 1 spinning on the lock the stuck CPU holds also locks up
  k.exec(1, () => raw_spin_lock(k, l, 0, "cpu1_side"));
  assertEquals(k.stuckCpus(), [0, 1]);
});

Deno.test("lockdep: ABBA order inversion is reported with both classes", () => {
  const k = new Kernel({ cpus: 2 });
  const a = lock(k, "&a->lock");
  const b = lock(k, "&b->lock");
  k.exec(0, () => {
    raw_spin_lock(k, a, 0, "path_one");
    raw_spin_lock(k, b, 0, "path_one");
    raw_spin_unlock(k, b, 0);
    raw_spin_unlock(k, a, 0);
  });
  assertEquals(k.dmesg.entries.length, 0);
  k.exec(1, () => {
    raw_spin_lock(k, b, 0, "path_two");
    raw_spin_lock(k, a, 0, "path_two");
    raw_spin_unlock(k, a, 0);
    raw_spin_unlock(k, b, 0);
  });
  const text = k.dmesg.text();
  assertIncludes(text, "WARNING: possible circular locking dependency detected");
  assertIncludes(text, "which lock already depends on the new lock.");
  assertIncludes(text, "lock(&a->lock);");
  assertIncludes(text, "lock(&b->lock);");
  assertEquals(k.stuckCpus(), []);
});

Deno.test("lockdep: sleeping spinlock_t under a raw lock on PREEMPT_RT is a BUG, not on !RT", () => {
  for (const rt of [false, true]) {
    const k = new Kernel({ cpus: 1, preemptRt: rt });
    const raw = lock(k, "&raw->lock");
    const sl = lock(k, "&sleeping->lock", "spinlock_t");
    k.exec(0, () => {
      raw_spin_lock(k, raw, 0, "outer");
      spin_lock(k, sl, 0, "inner");
      spin_unlock(k, sl, 0);
      raw_spin_unlock(k, raw, 0);
    }, { comm: "rt_test" });
    const text = k.dmesg.text();
    if (rt) {
      assertIncludes(text, "BUG: sleeping function called from invalid context at kernel/locking/spinlock_rt.c:48");
      assertIncludes(text, "in_atomic(): 1, irqs_disabled(): 0, non_block: 0");
      assertIncludes(text, "name: rt_test");
    } else {
      assertEquals(text, "");
    }
  }
});

Deno.test("lockdep: returning to user space with a lock held is reported and cleaned up", () => {
  const k = new Kernel({ cpus: 1 });
  const l = lock(k, "&leaky->lock");
  k.exec(0, () => raw_spin_lock(k, l, 0, "forgetful"));
  assertIncludes(k.dmesg.text(), "WARNING: lock held when returning to user space!");
  assertEquals(k.lockdep.heldBy(0).length, 0);
  assertEquals(k.exec(0, () => 7), 7);
});

Deno.test("contention: a lock released later in simulated time makes the taker wait", () => {
  const k = new Kernel({ cpus: 2 });
  const l = lock(k, "&shared->lock");
  k.queueStep(0, () => {
    raw_spin_lock(k, l, 0, "holder");
    k.cur.clock += 10_000; // long critical section
    raw_spin_unlock(k, l, 0);
  });
  let tookAt = 0;
  k.queueStep(1, () => {
    k.cur.clock += 100;
    raw_spin_lock(k, l, 0, "waiter");
    tookAt = k.cur.clock;
    raw_spin_unlock(k, l, 0);
  });
  k.run();
  assertTrue(tookAt >= 10_000, `waiter took the lock at ${tookAt}`);
  assertEquals(l.contended, 1);
});
