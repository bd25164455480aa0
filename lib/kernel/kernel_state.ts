// Saving and restoring a whole kernel (the one-shot CLI's persisted state).
// Only a quiescent kernel can be saved: no steps, interrupts, timers or
// callbacks pending, except work that can never run because its CPU is
// stuck, which is dropped (it would never have run) and noted in dmesg.

import { Kernel } from "./kernel.ts";
import { loadSnapshot, saveSnapshot, SnapshotError } from "./snapshot.ts";

/** Serialises a kernel; it is first run to quiescence. */
export function saveKernel(k: Kernel): Uint8Array {
  k.quiesce();
  dropDeadWork(k);
  if (!k.idleEverywhere()) throw new SnapshotError("the kernel is not quiescent; cannot save it");
  return saveSnapshot(k);
}

/** Rebuilds a kernel saved by saveKernel; throws SnapshotError on damage. */
export function loadKernel(data: Uint8Array): Kernel {
  const k = loadSnapshot<Kernel>(data);
  if (!(k instanceof Kernel)) throw new SnapshotError("the state file does not hold a kernel");
  k.cur = k.cpus[0];
  return k;
}

function dropDeadWork(k: Kernel): void {
  let dropped = 0;
  for (const c of k.cpus) {
    c.steps.splice(0, c.steps.length);
    c.stepHead = 0;
    if (c.stuck === null) continue;
    dropped += c.events.length + c.threadWork.length;
    c.events.length = 0;
    c.nextEventAt = Infinity;
    c.threadWork.length = 0;
  }
  for (const f of [k.rcu.normal, k.rcu.tasksTrace]) {
    // with a stuck CPU the grace period never ends: these callbacks never run
    for (const q of [...f.waiting, ...f.ready]) {
      dropped += q.length;
      f.invoked += q.length;
      q.length = 0;
    }
  }
  if (dropped) {
    k.dmesg.log(k.now(), 0, "warn", "state", `bpfsim: ${dropped} callbacks that can never run were not saved`);
  }
}
