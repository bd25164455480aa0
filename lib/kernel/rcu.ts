// RCU (kernel/rcu/tree.c, tasks.h), modelled at the level the seeds need:
// a grace period ends when every CPU has passed a quiescent state after it
// started, and not before a configurable minimum latency. A CPU is
// quiescent between steps (return to user space, idle); a CPU that is stuck
// never is, so grace periods stall. Callbacks queued with call_rcu() run on
// the queuing CPU after the grace period: in RCU_SOFTIRQ on !PREEMPT_RT, in
// the rcuc kthread on PREEMPT_RT. The tasks-trace flavour (sleepable
// programs) works the same way with its own, longer latency and kthread.

import { COST } from "./cost.ts";
import type { Cpu } from "./cpu.ts";
import type { Kernel } from "./kernel.ts";
import { definePoint } from "./points.ts";
import { RCU_SOFTIRQ } from "./softirq.ts";
import { might_sleep } from "./context.ts";
import { snapshotClasses } from "./snapshot.ts";

const P_CALL_RCU = definePoint("call_rcu", "kernel/rcu/tree.c", "queue a callback after a grace period");
const P_CALL_RCU_TT = definePoint(
  "call_rcu_tasks_trace",
  "kernel/rcu/tasks.h",
  "queue a callback after an RCU tasks-trace grace period",
);
const P_SYNC = definePoint("synchronize_rcu", "kernel/rcu/tree.c", "wait for a grace period");

/** A queued callback (struct rcu_head) and the grace period it waits for. */
export interface RcuCallback {
  /** The function call_rcu() was given (rcu_head->func). */
  readonly fn: () => void;
  /** Grace period that must complete first. */
  readonly seq: number;
}

/** A grace period in progress (rcu_state.gp_seq and the CPUs it waits for). */
export interface GracePeriod {
  /** Its number: completed + 1 when it started. */
  readonly seq: number;
  /** Simulated time (ns) at which it started. */
  readonly start: number;
  /** CPUs that have not reported a quiescent state yet. */
  readonly waiting: Set<number>;
  /** Latest quiescent-state time reported so far. */
  qsMax: number;
  /** Completion time once known. */
  end: number;
}

/** One RCU flavour: normal RCU or RCU tasks-trace. */
export class RcuFlavor {
  /** Number of the last completed grace period. */
  completed = 0;
  /** The grace period in progress, null when none is. */
  gp: GracePeriod | null = null;
  /** Callbacks waiting for a grace period, per CPU. */
  readonly waiting: RcuCallback[][];
  /** Callbacks whose grace period ended, per CPU. */
  readonly ready: RcuCallback[][];
  /** Callbacks queued so far (for reports). */
  queued = 0;
  /** Callbacks invoked so far (for reports). */
  invoked = 0;
  /** Grace periods started so far (for reports). */
  gps = 0;
  /** Per-CPU: a delivery of ready callbacks is already scheduled. */
  private readonly kicked: boolean[];

  /** The flavour `name` whose grace periods last at least `gpNs` ns. */
  constructor(
    private readonly k: Kernel,
    readonly name: "rcu_preempt" | "rcu_tasks_trace",
    readonly gpNs: number,
  ) {
    this.waiting = k.cpus.map(() => []);
    this.ready = k.cpus.map(() => []);
    this.kicked = k.cpus.map(() => false);
  }

  /** Queues fn after the next full grace period; returns that GP's number. */
  enqueue(cpu: Cpu, fn: () => void): number {
    const seq = this.gp ? this.gp.seq + 1 : this.completed + 1;
    this.waiting[cpu.id].push({ fn, seq });
    this.queued++;
    if (!this.gp) this.start(cpu.clock);
    return seq;
  }

  /** Starts grace period completed+1 at time `now`. */
  start(now: number): void {
    const k = this.k;
    const gp: GracePeriod = { seq: this.completed + 1, start: now, waiting: new Set(), qsMax: now, end: -1 };
    for (const c of k.cpus) {
      if (c.stuck !== null || c.busy) gp.waiting.add(c.id);
      else if (c.lastStepStart <= now && c.lastQs > now) gp.qsMax = Math.max(gp.qsMax, c.lastQs);
    }
    this.gp = gp;
    this.gps++;
    if (gp.waiting.size === 0) this.schedule(gp);
    else this.reportStalls(gp);
  }

  /** A CPU passed a quiescent state at its current clock. */
  quiescent(cpu: Cpu): void {
    const gp = this.gp;
    if (!gp || !gp.waiting.has(cpu.id)) return;
    gp.waiting.delete(cpu.id);
    if (cpu.clock > gp.qsMax) gp.qsMax = cpu.clock;
    if (gp.waiting.size === 0) this.schedule(gp);
  }

  /** Every CPU reported: the grace period ends after the minimum latency (a timer). */
  private schedule(gp: GracePeriod): void {
    gp.end = Math.max(gp.start + this.gpNs, gp.qsMax);
    this.k.addTimer(gp.end, (at) => this.finish(gp, at));
  }

  /** Grace period end: moves due callbacks to ready and kicks their CPUs; starts the next one if needed. */
  private finish(gp: GracePeriod, at: number): void {
    if (this.gp !== gp) return;
    this.completed = gp.seq;
    this.gp = null;
    let more = false;
    for (const c of this.k.cpus) {
      const w = this.waiting[c.id];
      let moved = 0;
      while (moved < w.length && w[moved].seq <= this.completed) moved++;
      if (moved) {
        // (no spread: a busy CPU can have more callbacks than a call takes arguments)
        const r = this.ready[c.id];
        for (let i = 0; i < moved; i++) r.push(w[i]);
        w.splice(0, moved);
      }
      if (w.length) more = true;
      if (this.ready[c.id].length && !this.kicked[c.id]) {
        this.kicked[c.id] = true;
        this.kick(c, at);
      }
    }
    if (more) this.start(at);
  }

  /** Arranges for `cpu` to run its ready callbacks at time `at`. */
  private kick(cpu: Cpu, at: number): void {
    const k = this.k;
    const when = Math.max(at, cpu.clock);
    if (this.name === "rcu_tasks_trace") {
      k.raiseIrq(
        cpu.id,
        when,
        "rcu_tasks_trace wakeup",
        () => k.wakeThread(cpu, { name: "rcu_tasks_trace", kind: "task", prio: 0, fn: () => this.invoke(cpu) }),
        {
          threadedOnRt: false,
        },
      );
    } else if (k.config.preemptRt) {
      k.raiseIrq(
        cpu.id,
        when,
        "rcu tick",
        () => k.wakeThread(cpu, { name: `rcuc/${cpu.id}`, kind: "task", prio: 1, fn: () => this.invoke(cpu) }),
        {
          threadedOnRt: false,
        },
      );
    } else {
      k.raiseIrq(cpu.id, when, "rcu tick", () => k.softirq.raise(cpu, RCU_SOFTIRQ), { threadedOnRt: false });
    }
  }

  /** Invokes the ready callbacks of `cpu` (rcu_do_batch). */
  invoke(cpu: Cpu): void {
    this.kicked[cpu.id] = false;
    const q = this.ready[cpu.id];
    // by index, dropped at the end (shift() per callback is quadratic in the batch)
    let i = 0;
    try {
      while (i < q.length) {
        const cb = q[i++];
        cpu.clock += COST.rcuCallback;
        this.invoked++;
        cb.fn();
      }
    } finally {
      q.splice(0, i);
    }
  }

  /** Callbacks queued and not yet invoked. */
  pending(): number {
    return this.queued - this.invoked;
  }

  /** A CPU locked up: report the stall the grace period will see. */
  reportStalls(gp: GracePeriod | null = this.gp): void {
    if (!gp) return;
    for (const id of gp.waiting) {
      const c = this.k.cpus[id];
      if (c.stuck === null) continue;
      this.k.dmesg.logOnce(
        `rcu-stall:${this.name}:${id}`,
        gp.start + 21e9,
        id,
        "err",
        "rcu_stall",
        [
          `rcu: INFO: ${this.name} detected stalls on CPUs/tasks:`,
          `rcu: \t${id}-...!: (1 GPs behind) idle=0/1/0x4000000000000000 softirq=0/0 fqs=0`,
          `rcu: \t(detected by ${id === 0 && this.k.ncpu > 1 ? 1 : 0}, t=21002 jiffies, g=${
            gp.seq * 4
          }, q=${this.pending()})`,
          `grace period ${gp.seq} cannot end: CPU#${id} never passes a quiescent state (${c.stuck})`,
        ].join("\n"),
      );
    }
  }
}

/** RCU for one kernel. */
export class Rcu {
  /** Normal RCU (rcu_preempt): call_rcu(), synchronize_rcu(), rcu_barrier(). */
  readonly normal: RcuFlavor;
  /** RCU tasks-trace, for sleepable programs: call_rcu_tasks_trace() and friends. */
  readonly tasksTrace: RcuFlavor;

  /** Both flavours with the grace-period latencies of the kernel's config. */
  constructor(private readonly k: Kernel) {
    this.normal = new RcuFlavor(k, "rcu_preempt", k.config.rcuGpNs);
    this.tasksTrace = new RcuFlavor(k, "rcu_tasks_trace", k.config.rcuTasksTraceGpNs);
  }

  /** call_rcu(): fn runs on this CPU after a grace period. */
  call_rcu(fn: () => void): void {
    const k = this.k;
    k.point(P_CALL_RCU);
    k.cur.clock += COST.queueWork;
    this.normal.enqueue(k.cur, fn);
  }

  /** call_rcu_tasks_trace() */
  call_rcu_tasks_trace(fn: () => void): void {
    const k = this.k;
    k.point(P_CALL_RCU_TT);
    k.cur.clock += COST.queueWork;
    this.tasksTrace.enqueue(k.cur, fn);
  }

  /** kfree_rcu(): kfree(addr) after a grace period. */
  kfree_rcu(addr: number): void {
    this.call_rcu(() => this.k.slab.kfree(addr));
  }

  /** synchronize_rcu(): sleeps until a full grace period has elapsed. */
  synchronize_rcu(): boolean {
    return this.sync(this.normal);
  }

  /** synchronize_rcu_tasks_trace() */
  synchronize_rcu_tasks_trace(): boolean {
    return this.sync(this.tasksTrace);
  }

  /**
   * synchronize_rcu_expedited(): IPIs force quiescent states, so the wait is
   * short, unless a CPU is stuck with interrupts off (then it never ends).
   */
  synchronize_rcu_expedited(): boolean {
    const k = this.k;
    k.point(P_SYNC);
    might_sleep(k, "kernel/rcu/tree_exp.h", 968);
    const me = k.cur;
    if (k.cpus.some((c) => c.stuck !== null)) {
      this.normal.reportStalls();
      k.hang(me, "synchronize_rcu_expedited() waits for a stuck CPU", true);
    }
    me.clock += 30_000 + 2_000 * (k.ncpu - 1);
    return true;
  }

  /** synchronize_rcu() on flavour f: queue an empty callback and sleep until its grace period completed. */
  private sync(f: RcuFlavor): boolean {
    const k = this.k;
    k.point(P_SYNC);
    might_sleep(k, "kernel/rcu/tree.c", 4088);
    const me = k.cur;
    const seq = f.enqueue(me, () => {});
    // the caller blocks: its CPU is quiescent from now on, for this grace
    // period and for any that starts while it sleeps
    const done = k.sleepUntil(() => (f.quiescent(me), f.completed >= seq));
    if (!done) {
      f.reportStalls();
      k.hang(me, `${f.name} grace period never ends`, true);
    }
    return true;
  }

  /** rcu_barrier(): waits until every callback queued so far has run. */
  rcu_barrier(): boolean {
    return this.barrier(this.normal);
  }

  /** rcu_barrier_tasks_trace() */
  rcu_barrier_tasks_trace(): boolean {
    return this.barrier(this.tasksTrace);
  }

  /** rcu_barrier() on flavour f: sleep until the callbacks queued so far on every CPU have run. */
  private barrier(f: RcuFlavor): boolean {
    const k = this.k;
    might_sleep(k, "kernel/rcu/tree.c", 4200);
    const me = k.cur;
    const target = f.queued;
    // callbacks are invoked in order per CPU; once invoked reaches the count
    // queued before us on every CPU, we are done (entrain-free equivalent)
    let remaining = 0;
    const marks = k.cpus.map((c) => {
      const n = f.waiting[c.id].length + f.ready[c.id].length;
      remaining += n;
      return n;
    });
    if (remaining === 0) return true;
    let left = remaining;
    for (const c of k.cpus) {
      if (!marks[c.id]) continue;
      const all = [...f.ready[c.id], ...f.waiting[c.id]];
      const last = all[all.length - 1];
      // wrap the last callback of each CPU so that we learn when it ran
      const wrap = { fn: () => (last.fn(), left -= marks[c.id]), seq: last.seq };
      const inReady = f.ready[c.id].indexOf(last);
      if (inReady >= 0) f.ready[c.id][inReady] = wrap;
      else f.waiting[c.id][f.waiting[c.id].indexOf(last)] = wrap;
    }
    void target;
    // a blocked task is quiescent in every grace period it sleeps through
    // (the barrier may need several: callbacks queued during the current one)
    const ok = k.sleepUntil(() => (f.quiescent(me), left <= 0));
    if (!ok) {
      f.reportStalls();
      k.hang(me, `rcu_barrier() on ${f.name} never completes`, true);
    }
    return true;
  }

  /** Step end on `cpu` (return to user space or idle): a quiescent state. */
  quiescent(cpu: Cpu, stepStart: number): void {
    cpu.lastStepStart = stepStart;
    cpu.lastQs = cpu.clock;
    this.normal.quiescent(cpu);
    this.tasksTrace.quiescent(cpu);
  }

  /** RCU_SOFTIRQ action (rcu_core). */
  core(cpu: Cpu): void {
    this.normal.invoke(cpu);
  }

  /** A CPU deadlocked. */
  cpuStuck(_cpu: Cpu): void {
    this.normal.reportStalls();
    this.tasksTrace.reportStalls();
  }

  /** Callbacks not yet invoked (both flavours). */
  pending(): number {
    return this.normal.pending() + this.tasksTrace.pending();
  }
}

snapshotClasses(Rcu, RcuFlavor);
