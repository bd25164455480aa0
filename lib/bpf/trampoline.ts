// kernel/bpf/trampoline.c: fentry/fexit programs run from a BPF trampoline
// at the traced function's entry and return, in that function's context.
// __bpf_prog_enter(): rcu_read_lock (rcu_read_lock_trace for sleepable
// programs), migrate_disable, and since 5.12 the program's own per-CPU
// `active` counter: a program that fires while it already runs on this CPU
// is skipped and counted in recursion_misses. Before 5.12 nothing stops a
// program that re-enters itself (an fentry program on a function its own
// map update calls recurses until the kernel stack overflows).

import type { Kernel } from "../kernel/kernel.ts";
import {
  might_sleep,
  migrate_disable,
  migrate_enable,
  preempt_disable,
  preempt_enable,
  rcu_read_lock,
  rcu_read_lock_trace,
  rcu_read_unlock,
  rcu_read_unlock_trace,
} from "../kernel/context.ts";
import { bpf_prog_run } from "./core.ts";
import { SKIP_RECURSION } from "./bpf_trace.ts";
import type { BpfLink } from "./link.ts";
import type { BpfProg } from "./prog.ts";

/** __bpf_prog_enter{,_sleepable}{_recur}(): false when the run is skipped. */
function progEnter(k: Kernel, prog: BpfProg): boolean {
  const cpu = k.cur;
  if (prog.sleepable) {
    rcu_read_lock_trace(k);
    might_sleep(k, "kernel/bpf/trampoline.c", 1000); // might_fault()
  } else rcu_read_lock(k);
  if (k.features.progMigrateDisable) migrate_disable(k);
  else preempt_disable(k);
  if (k.features.trampRecursion && ++prog.active[cpu.id] !== 1) {
    prog.misses[cpu.id]++; // bpf_prog_inc_misses_counter()
    k.bpf.skip(SKIP_RECURSION, 1);
    progExit(k, prog);
    return false;
  }
  return true;
}

/** __bpf_prog_exit{,_sleepable}{_recur}() */
function progExit(k: Kernel, prog: BpfProg): void {
  if (k.features.trampRecursion) prog.active[k.cur.id]--;
  if (k.features.progMigrateDisable) migrate_enable(k);
  else preempt_enable(k);
  if (prog.sleepable) rcu_read_unlock_trace(k);
  else rcu_read_unlock(k);
}

/** The trampoline's call of each attached program (fentry at entry, fexit at return). */
export function bpf_trampoline_run(k: Kernel, links: readonly BpfLink[], args: ArrayLike<number> | null): void {
  for (let i = 0; i < links.length; i++) {
    const l = links[i];
    if (l.detached || !progEnter(k, l.prog)) continue;
    bpf_prog_run(k, l.prog, args);
    progExit(k, l.prog);
  }
}
