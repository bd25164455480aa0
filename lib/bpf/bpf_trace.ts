// kernel/trace/bpf_trace.c and kernel/events/core.c: how tracing programs
// run. kprobes, kretprobes and perf tracepoints go through trace_call_bpf():
// the per-CPU bpf_prog_active counter lets one program run per CPU at a
// time, and a hook that fires while one runs (a kprobe inside a map op the
// program called, an NMI landing in a program, a syscall map op that
// disabled instrumentation) skips its programs: silently before 6.7,
// counted in each program's misses since. Raw tracepoint programs use the
// program's own per-CPU `active` counter instead (6.2+), so they only skip
// when the same program nests. perf_event programs (bpf_overflow_handler)
// use bpf_prog_active too, without counting misses.

import type { Kernel } from "../kernel/kernel.ts";
import { migrate_disable, migrate_enable, preempt_disable, preempt_enable } from "../kernel/context.ts";
import { rcu_read_lock, rcu_read_unlock } from "../kernel/context.ts";
import { bpf_prog_run, bpf_prog_run_yield } from "./core.ts";
import type { BpfLink } from "./link.ts";

/** The skip reason bpf_prog_active gives (run summaries). */
export const SKIP_PROG_ACTIVE = "bpf_prog_active";
/** The skip reason a program's own `active` counter gives. */
export const SKIP_RECURSION = "prog->active";

/**
 * trace_call_bpf()'s prologue: bpf_prog_active, then RCU and migration (or
 * preemption before 5.7) off for bpf_prog_run_array(). False when the
 * programs must be skipped (the counter was already held on this CPU).
 */
export function traceEnter(k: Kernel, links: readonly BpfLink[]): boolean {
  const cpu = k.cur;
  if (++cpu.bpfProgActive !== 1) {
    let n = 0;
    for (const l of links) {
      if (l.detached) continue;
      n++;
      // bpf_prog_inc_misses_counters() (6.7+)
      if (k.features.progMissesCounted) l.prog.misses[cpu.id]++;
    }
    k.bpf.skip(SKIP_PROG_ACTIVE, n);
    cpu.bpfProgActive--;
    return false;
  }
  rcu_read_lock(k);
  if (k.features.progMigrateDisable) migrate_disable(k);
  else preempt_disable(k);
  return true;
}

/** trace_call_bpf()'s epilogue. */
export function traceExit(k: Kernel): void {
  if (k.features.progMigrateDisable) migrate_enable(k);
  else preempt_enable(k);
  rcu_read_unlock(k);
  k.cur.bpfProgActive--;
}

/** trace_call_bpf(): runs every program attached to the kprobe / tracepoint. */
export function trace_call_bpf(k: Kernel, links: readonly BpfLink[], args: ArrayLike<number> | null): void {
  if (!traceEnter(k, links)) return;
  for (let i = 0; i < links.length; i++) {
    const l = links[i];
    if (!l.detached) bpf_prog_run(k, l.prog, args);
  }
  traceExit(k);
}

/** trace_call_bpf() at the top of a step: programs may yield between ops. */
export function* trace_call_bpf_yield(
  k: Kernel,
  links: readonly BpfLink[],
  args: ArrayLike<number> | null,
): Generator<void, void, unknown> {
  if (!traceEnter(k, links)) return;
  for (const l of links.slice()) if (!l.detached) yield* bpf_prog_run_yield(k, l.prog, args);
  traceExit(k);
}

/** __bpf_trace_run()'s guard: the program's `active` counter (6.2+). False to skip. */
function rawEnter(k: Kernel, link: BpfLink): boolean {
  const cpu = k.cur;
  const prog = link.prog;
  if (k.features.rawTpRecursion && ++prog.active[cpu.id] !== 1) {
    if (k.features.progMissesCounted) prog.misses[cpu.id]++;
    k.bpf.skip(SKIP_RECURSION, 1);
    prog.active[cpu.id]--;
    return false;
  }
  rcu_read_lock(k);
  return true;
}

function rawExit(k: Kernel, link: BpfLink): void {
  rcu_read_unlock(k);
  if (k.features.rawTpRecursion) link.prog.active[k.cur.id]--;
}

/** __bpf_trace_run(): a raw tracepoint program (the tracepoint has preemption off). */
export function bpf_trace_run(k: Kernel, link: BpfLink, args: ArrayLike<number> | null): void {
  if (link.detached || !rawEnter(k, link)) return;
  bpf_prog_run(k, link.prog, args);
  rawExit(k, link);
}

/** __bpf_trace_run() at the top of a step. */
export function* bpf_trace_run_yield(
  k: Kernel,
  link: BpfLink,
  args: ArrayLike<number> | null,
): Generator<void, void, unknown> {
  if (link.detached || !rawEnter(k, link)) return;
  yield* bpf_prog_run_yield(k, link.prog, args);
  rawExit(k, link);
}

/** bpf_overflow_handler(): a perf event's program, in NMI (hardware) or hardirq (hrtimer) context. */
export function bpf_overflow_handler(k: Kernel, link: BpfLink, args: ArrayLike<number> | null): void {
  if (link.detached) return;
  const cpu = k.cur;
  if (++cpu.bpfProgActive === 1) {
    rcu_read_lock(k);
    bpf_prog_run(k, link.prog, args);
    rcu_read_unlock(k);
  } else {
    k.bpf.skip(SKIP_PROG_ACTIVE, 1);
  }
  cpu.bpfProgActive--;
}
