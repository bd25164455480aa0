// The simulated kernel: configuration, CPUs and their clocks, the scheduler
// that interleaves CPUs by simulated time, interrupt delivery at instrumented
// points, and the subsystems (slab, per-CPU allocator, RCU, softirq,
// irq_work, kprobes, BPF). Deterministic: one seeded PRNG, no wall clock.

import {
  DEFAULT_PROFILE,
  defaultMemalloc,
  Features,
  findProfile,
  type KernelConfig,
  type KernelOptions,
  memallocError,
  PROFILES,
  type Sysctls,
  versionString,
} from "./config.ts";
import { COST } from "./cost.ts";
import { Cpu, type IrqEvent, type Step, type ThreadWork } from "./cpu.ts";
import { popFrame, pushFrame, runHardirq, runNmi, runThreaded } from "./context.ts";
import { Dmesg } from "./dmesg.ts";
import { Kprobes } from "./kprobes.ts";
import { Lockdep, lockdepBanner, taskName } from "./lockdep.ts";
import { Memory } from "./memory.ts";
import { Percpu } from "./percpu.ts";
import { Prng } from "./prng.ts";
import { Rcu } from "./rcu.ts";
import { Slab } from "./slab.ts";
import { Softirq } from "./softirq.ts";
import { Process } from "./file.ts";
import { Bpf } from "../bpf/bpf.ts";
import { SysBpf } from "../bpf/syscall.ts";
import { snapshotClasses } from "./snapshot.ts";
import { TraceBuffer } from "./trace.ts";
import type { Trampoline } from "../bpf/hooks.ts";
import { TP_SCHED_SWITCH } from "./tracepoint.ts";
import { TraceRecorder } from "../trace/recorder.ts";

/** Thrown to unwind a CPU that deadlocked; never escapes the kernel. */
export class CpuStuck extends Error {
  /** `cpu`: the id of the CPU that deadlocked. */
  constructor(readonly cpu: number) {
    super(`CPU#${cpu} is stuck`);
  }
}

/**
 * Thrown when a task that preempted another on its CPU must sleep on a
 * sleeping lock (PREEMPT_RT spinlock_t) that the preempted task holds. The
 * preempting task's step is undone to its start and runs again once the
 * lock is released (it blocked at the lock; nothing before it had effects).
 */
export class TaskBlocked extends Error {
  /** `lock`: address of the rt_mutex; `what`: its lock class and holder, for reports. */
  constructor(readonly lock: number, readonly what: string) {
    super(`blocked on ${what}`);
  }
}

/** A task that blocked on a sleeping lock held by the task it preempted (rt_mutex priority inheritance). */
export interface PiBlock {
  /** The blocked task (comm:pid). */
  readonly waiter: string;
  /** Its SCHED_FIFO priority. */
  readonly waiterPrio: number;
  /** The lock's owner, which inherits the waiter's priority until it releases the lock. */
  readonly owner: string;
  /** The owner's own priority (0: SCHED_OTHER). */
  readonly ownerPrio: number;
  /** The lock (class and holder). */
  readonly lock: string;
  /** The CPU. */
  readonly cpu: number;
  /** When the waiter blocked, ns. */
  readonly since: number;
  /** When the owner released the lock and woke the waiter (NaN while waiting). */
  wokenAt: number;
}

/** Returned by Kernel.exec when the CPU locked up during the call. */
export const HUNG: unique symbol = Symbol("hung");

/** Options for work run on a CPU. */
export interface TaskOptions {
  /** Task comm (default "bpfsim"). */
  comm?: string;
  /** Task pid (default: a fresh pid per comm). */
  pid?: number;
  /** Scheduling priority, 0 = SCHED_OTHER, 1..99 = SCHED_FIFO. */
  prio?: number;
}

/** Options for timed interrupts. */
export interface IrqOptions {
  /** On PREEMPT_RT, run the handler in an irq thread (default true for hardirqs). */
  threadedOnRt?: boolean;
}

interface Timer {
  at: number;
  seq: number;
  fn: (at: number) => void;
}

/** Summary of kernel memory in bytes. */
export interface MemoryUsage {
  /** Bytes of live kmalloc objects (object sizes). */
  slabObjects: number;
  /** Bytes of slab pages (including free objects). */
  slabPages: number;
  /** vmalloc'd bytes. */
  vmalloc: number;
  /** Pages handed out directly (kmalloc_large). */
  pages: number;
  /** Per-CPU allocator bytes in use (size x CPUs). */
  percpu: number;
}

/** The simulated kernel. */
export class Kernel {
  /** The resolved options this kernel was booted with. */
  readonly config: KernelConfig;
  /** Which kernel/bpf behaviours apply to the profile's release. */
  readonly features: Features;
  /** The /proc/sys tunables the simulation models (kernel.bpf_*). */
  readonly sysctl: Sysctls;
  /** The simulated processors, indexed by CPU number. */
  readonly cpus: readonly Cpu[];
  /** Number of CPUs (num_possible_cpus() == num_online_cpus()). */
  readonly ncpu: number;
  /** uname -r */
  readonly release: string;
  /** The kernel's only source of randomness (get_random_u32()), seeded by config.seed. */
  readonly rng: Prng;
  /** Simulated memory: regions addressed as region id * 2^32 + offset. */
  readonly mem: Memory = new Memory();
  /** The kernel log (printk ring buffer) where splats and warnings land. */
  readonly dmesg: Dmesg = new Dmesg();
  /** The ftrace buffer bpf_trace_printk() writes and trace_pipe reads. */
  readonly trace: TraceBuffer = new TraceBuffer();
  /** Lock validator: held locks per CPU, class order, sleeping-in-atomic checks. */
  readonly lockdep: Lockdep;
  /** Kprobes attached to instrumented points (kernel/kprobes.c). */
  readonly kprobes: Kprobes;
  /** Softirq vectors: raise and run, ksoftirqd on PREEMPT_RT (kernel/softirq.c). */
  readonly softirq: Softirq;
  /** kmalloc/kfree and vmalloc (mm/slub.c, mm/vmalloc.c). */
  readonly slab: Slab;
  /** The per-CPU allocator, alloc_percpu() (mm/percpu.c). */
  readonly percpu: Percpu;
  /** RCU: grace periods, call_rcu(), synchronize_rcu() and the tasks-trace flavour. */
  readonly rcu: Rcu;
  /** kernel/bpf: map ids, bpffs, reference counting. */
  readonly bpf: Bpf;
  /** bpf(2) for the default user process ("bpfsim", on CPU 0). */
  readonly sys: SysBpf;
  /** The CPU whose code is executing. */
  cur: Cpu;
  /**
   * While a step that may yield runs: the simulated time at which another
   * CPU (or a global timer) has something to do. A program fired at the top
   * of a step stops between ops once its CPU's clock passes it.
   */
  horizon: number = Infinity;
  /** The fentry/fexit trampolines by point id (the BPF hook table Kernel.point tests). */
  private readonly tramp: (Trampoline | undefined)[];
  /** Scratch arguments for tracepoints. */
  private readonly tpArgs = new Float64Array(6);
  /** Task preemptions so far (a runnable task nested above a preempted one). */
  preemptions = 0;
  /** The trace being recorded or last recorded (trace start/stop/export), null when none. */
  tracer: TraceRecorder | null = null;
  /** Owners (task pids) of the PREEMPT_RT sleeping locks held now, by lock address. */
  readonly rtOwners: Map<number, number> = new Map();
  /** Tasks that blocked on a sleeping lock held by a task they preempted, in order. */
  readonly piBlocks: PiBlock[] = [];
  /** Steps of tasks sleeping on a held rt_mutex, per CPU: the step and the lock address. */
  private readonly sleeping: Map<Step, number>[] = [];
  /** Hardirq numbers by interrupt name, assigned on first use (irq:irq_handler_entry's irq). */
  private readonly irqNumbers = new Map<string, number>();
  private readonly timers: Timer[] = [];
  private seq = 0;
  private nextPid = 1000;
  private readonly pids = new Map<string, number>();
  /** Steps run by the scheduler so far. */
  stepsRun = 0;

  /** Boots a kernel; throws RangeError for bad cpus, profile or seed. */
  constructor(opts: KernelOptions = {}) {
    const cpus = opts.cpus ?? 2;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) {
      throw new RangeError(`cpus must be an integer from 1 to 64, got ${cpus}`);
    }
    const pname = opts.profile ?? DEFAULT_PROFILE;
    const profile = findProfile(pname);
    if (!profile) {
      throw new RangeError(`unknown profile '${pname}' (known: ${PROFILES.map((p) => p.name).join(", ")})`);
    }
    const seed = opts.seed ?? 1;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer from 0 to 4294967295, got ${seed}`);
    }
    const memalloc = opts.memalloc ?? defaultMemalloc(profile.version);
    const maErr = memallocError(memalloc, profile.version);
    if (maErr) throw new RangeError(maErr);
    this.config = {
      cpus,
      profile,
      preemptRt: opts.preemptRt ?? false,
      seed,
      rcuGpNs: opts.rcuGpNs ?? 3_000_000,
      rcuTasksTraceGpNs: opts.rcuTasksTraceGpNs ?? 20_000_000,
      rlimitMemlock: opts.rlimitMemlock ?? Infinity,
      memalloc,
    };
    this.features = new Features(profile.version, this.config.preemptRt);
    this.sysctl = { bpf_stats_enabled: 0, bpf_force_dyn_alloc: 0, ...opts.sysctl };
    this.release = `${versionString(profile.version)}.0-bpfsim${this.config.preemptRt ? "-rt" : ""} #1`;
    this.ncpu = cpus;
    this.cpus = Array.from({ length: cpus }, (_, i) => new Cpu(i));
    this.cur = this.cpus[0];
    this.rng = new Prng(seed);
    if (opts.memoryLimit !== undefined) this.mem.limit = opts.memoryLimit;
    this.lockdep = new Lockdep(cpus, this.dmesg, this.release);
    this.kprobes = new Kprobes(this);
    this.softirq = new Softirq(this);
    this.slab = new Slab(this);
    this.percpu = new Percpu(this);
    this.rcu = new Rcu(this);
    this.bpf = new Bpf(this);
    this.tramp = this.bpf.hooks.tramp;
    this.sys = this.spawn("bpfsim", 0);
  }

  /**
   * A new user process on `cpu` (like `taskset -c cpu prog`); its bpf(2)
   * interface. Call `exit()` on it to close its fds.
   */
  spawn(comm: string, cpu = 0): SysBpf {
    if (!this.cpus[cpu]) throw new RangeError(`no CPU ${cpu} (this kernel has ${this.ncpu})`);
    return new SysBpf(this, new Process(this.nextPid++, comm, cpu));
  }

  // ---------------------------------------------------------------- points

  /**
   * Entry of an instrumented kernel function: runs kprobes attached there,
   * delivers due interrupts the CPU state allows, charges the call.
   */
  point(id: number, arg?: unknown): void {
    const cpu = this.cur;
    cpu.clock += COST.call;
    cpu.siteId = id;
    if (this.kprobes.byPoint[id] !== undefined) this.kprobes.fire(id, arg);
    if (this.tramp[id] !== undefined) this.bpf.hooks.fentry(id, arg);
    if (cpu.nextEventAt <= cpu.clock || cpu.threadWork.length !== 0 || cpu.needResched) this.interruptWindow(cpu);
  }

  /**
   * Return of an instrumented function declared with `ret: true`: runs the
   * kretprobes and fexit programs attached there with the return value.
   */
  pointRet(id: number, arg: unknown, ret: number): void {
    if (this.kprobes.retByPoint[id] !== undefined) this.kprobes.fireRet(id, arg, ret);
    if (this.tramp[id] !== undefined) this.bpf.hooks.fexit(id, arg, ret);
  }

  /** A tracepoint fires in kernel code (trace_<name>()): its raw_tp and perf programs run. */
  tracepoint(id: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0): void {
    const h = this.bpf.hooks;
    if (h.tpRaw[id] === undefined && h.tpPerf[id] === undefined) return;
    const a = this.tpArgs;
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
    a[4] = a4;
    h.tracepoint(id, a);
  }

  /**
   * Delivers interrupts that are due on `cpu` and allowed by its state
   * (NMIs always, hardirqs with interrupts enabled), then lets preempting
   * kthread work run if the CPU is preemptible.
   */
  interruptWindow(cpu: Cpu): void {
    if (cpu.stuck !== null) return;
    for (;;) {
      const q = cpu.events;
      let i = 0;
      for (; i < q.length && q[i].at <= cpu.clock; i++) {
        const ev = q[i];
        if (ev.kind === "nmi" ? !cpu.inNmi() : !cpu.irqsOff) break;
      }
      if (i >= q.length || q[i].at > cpu.clock) break;
      const ev = q.splice(i, 1)[0];
      cpu.nextEventAt = q.length ? q[0].at : Infinity;
      this.deliver(cpu, ev);
    }
    if (cpu.threadWork.length !== 0 && cpu.preemptCount === 0 && !cpu.irqsOff) this.preemptionPoint(cpu);
    if (cpu.needResched && cpu.preemptCount === 0 && !cpu.irqsOff) this.preemptTask(cpu);
  }

  /**
   * scheduler_tick(): another runnable task on this CPU (a queued step of a
   * different task) with at least the current task's priority gets the CPU
   * at the next preemption point (need_resched).
   */
  schedulerTick(cpu: Cpu): void {
    if (this.runnableFor(cpu) >= 0) cpu.needResched = true;
  }

  /** Index in cpu.steps of a runnable task that may preempt the current one, or -1. */
  private runnableFor(cpu: Cpu): number {
    if (!cpu.busy) return -1;
    let cur: { pid: number; prio: number } | undefined;
    for (let i = cpu.frames.length - 1; i >= 0; i--) {
      if (cpu.frames[i].kind === "task") {
        cur = cpu.frames[i];
        break;
      }
    }
    if (!cur || cur.prio < 0 && cur.pid === 0) return -1;
    for (let i = cpu.stepHead; i < cpu.steps.length; i++) {
      const st = cpu.steps[i];
      if (st.pid !== cur.pid && st.prio >= cur.prio && !this.isBlocked(cpu, st)) return i;
    }
    return -1;
  }

  /**
   * __schedule() at a preemption point: the runnable task runs nested above
   * the preempted one, like an interrupt, until its step ends; then the
   * preempted task continues where it was. migrate_disable() does not stop
   * this (only preempt_disable() does); the per-task state (migration
   * disabled, RCU nesting, RT softirq count) is switched out and back.
   */
  private preemptTask(cpu: Cpu): void {
    cpu.needResched = false;
    if (cpu.stuck !== null || cpu.frames.length === 0 || cpu.top().kind !== "task") return;
    const j = this.runnableFor(cpu);
    if (j < 0) return;
    const st = cpu.steps[j];
    cpu.steps.splice(j, 1);
    const prev = cpu.top();
    this.preemptions++;
    this.tracepoint(TP_SCHED_SWITCH, prev.pid, prev.prio, st.pid, st.prio);
    const saved = [cpu.migrateDisabled, cpu.rcuDepth, cpu.rtSoftirqCount];
    cpu.migrateDisabled = 0;
    cpu.rcuDepth = 0;
    cpu.rtSoftirqCount = 0;
    cpu.clock += COST.contextSwitch;
    pushFrame(cpu, "task", st.comm, st.pid, false, st.prio);
    cpu.irqsOff = false;
    const h = this.horizon;
    this.horizon = Infinity;
    const base = this.cpuState(cpu);
    try {
      const r = st.fn();
      if (isIterator(r)) { while (!r.next().done); }
    } catch (e) {
      if (!(e instanceof TaskBlocked)) throw e;
      // the task sleeps on the lock: undo its step to the start, wait for the owner's unlock
      this.restoreCpuState(cpu, base);
      this.blockStep(cpu, st, e, prev);
    }
    this.horizon = h;
    popFrame(cpu);
    this.stepsRun++;
    cpu.migrateDisabled = saved[0];
    cpu.rcuDepth = saved[1];
    cpu.rtSoftirqCount = saved[2];
    cpu.clock += COST.contextSwitch;
    this.tracepoint(TP_SCHED_SWITCH, st.pid, st.prio, prev.pid, prev.prio);
  }

  /** Takes one interrupt: the NMI or hardirq handler, or on PREEMPT_RT a wakeup of its irq thread. */
  private deliver(cpu: Cpu, ev: IrqEvent): void {
    if (ev.kind === "nmi") {
      runNmi(cpu, ev.name, ev.handler);
    } else if (this.config.preemptRt && ev.threadedOnRt) {
      // the hard handler only wakes the irq thread
      cpu.clock += COST.irqEntry;
      this.wakeThread(cpu, { name: `irq/${ev.name}`, kind: "task", prio: 50, fn: ev.handler });
    } else {
      runHardirq(this, cpu, ev.name, ev.handler);
    }
  }

  /**
   * A preemption point: runs pending kthread work whose priority beats the
   * current frame's (irq threads, irq_work and rcuc kthreads on PREEMPT_RT).
   */
  preemptionPoint(cpu: Cpu): void {
    if (cpu.stuck !== null || cpu.preemptCount !== 0 || cpu.irqsOff) return;
    const cur = cpu.frames.length ? cpu.frames[cpu.frames.length - 1].prio : -1;
    for (;;) {
      let best = -1;
      for (let i = 0; i < cpu.threadWork.length; i++) {
        const w = cpu.threadWork[i];
        if (w.prio > cur && (best < 0 || w.prio > cpu.threadWork[best].prio)) best = i;
      }
      if (best < 0) return;
      const w = cpu.threadWork.splice(best, 1)[0];
      runThreaded(cpu, w.kind, w.name, w.prio, w.fn);
    }
  }

  /** Wakes kthread work on `cpu` (deduplicated by name). */
  wakeThread(cpu: Cpu, w: ThreadWork): void {
    for (const x of cpu.threadWork) if (x.name === w.name) return;
    cpu.threadWork.push(w);
  }

  // ------------------------------------------------------------ interrupts

  /** Schedules a hardirq handler on `cpu` at simulated time `at`. */
  raiseIrq(cpu: number, at: number, name: string, handler: () => void, opts: IrqOptions = {}): void {
    this.cpus[cpu].addEvent({
      at,
      seq: this.seq++,
      kind: "hardirq",
      name,
      threadedOnRt: opts.threadedOnRt ?? true,
      handler,
    });
  }

  /** Schedules an NMI handler on `cpu` at simulated time `at`. */
  raiseNmi(cpu: number, at: number, name: string, handler: () => void): void {
    this.cpus[cpu].addEvent({ at, seq: this.seq++, kind: "nmi", name, threadedOnRt: false, handler });
  }

  /** A kernel-global timer (RCU grace-period machinery); runs outside any CPU. */
  addTimer(at: number, fn: (at: number) => void): void {
    const t = { at, seq: this.seq++, fn };
    const q = this.timers;
    let i = q.length;
    while (i > 0 && (q[i - 1].at > at || (q[i - 1].at === at && q[i - 1].seq > t.seq))) i--;
    q.splice(i, 0, t);
  }

  /** Runs global timers due at or before `t`. */
  runTimers(t: number): void {
    while (this.timers.length && this.timers[0].at <= t) {
      const tm = this.timers.shift()!;
      tm.fn(tm.at);
    }
  }

  /** Time of the next global timer, Infinity when none. */
  nextTimer(): number {
    return this.timers.length ? this.timers[0].at : Infinity;
  }

  /** Starts recording a trace on every CPU (a new recording replaces the last one). */
  traceStart(limit?: number): TraceRecorder {
    const t = new TraceRecorder(this.ncpu, limit);
    this.tracer = t;
    for (const c of this.cpus) {
      c.trace = t;
      c.lockSince.clear();
    }
    this.dmesg.trace = t;
    return t;
  }

  /** Stops the recording (it stays for export); null when none was started. */
  traceStop(): TraceRecorder | null {
    const t = this.tracer;
    if (t) t.stop(this.now());
    for (const c of this.cpus) c.trace = null;
    this.dmesg.trace = null;
    return t;
  }

  // ------------------------------------------------------------- execution

  /** A stable pid per task name (user processes and kthreads). */
  pidOf(comm: string): number {
    let p = this.pids.get(comm);
    if (p === undefined) {
      p = this.nextPid++;
      this.pids.set(comm, p);
    }
    return p;
  }

  /**
   * Runs `fn` now on CPU `cpuId` in task context (a system call from user
   * space, or a step). Returns its result, or HUNG when the CPU locked up.
   * Nested calls on a CPU that is already running code just call `fn`.
   */
  exec<T>(cpuId: number, fn: () => T, opts: TaskOptions = {}): T | typeof HUNG {
    const cpu = this.cpus[cpuId];
    if (!cpu) throw new RangeError(`no CPU ${cpuId} (this kernel has ${this.ncpu})`);
    if (cpu.cont !== null && this.cur !== cpu) this.settle(cpu);
    if (cpu.stuck !== null) return HUNG;
    const prev = this.cur;
    if (cpu.busy) {
      this.cur = cpu;
      try {
        return fn();
      } finally {
        this.cur = prev;
      }
    }
    const comm = opts.comm ?? "bpfsim";
    try {
      // interrupts due at the start of the task are taken in it: they may lock the CPU up too
      const start = this.beginTask(cpu, comm, opts.pid ?? this.pidOf(comm), opts.prio ?? 0);
      const r = fn();
      this.endTask(cpu, start);
      return r;
    } catch (e) {
      if (e instanceof CpuStuck && e.cpu === cpu.id) {
        cpu.busy = false;
        return HUNG;
      }
      throw e;
    } finally {
      this.cur = prev;
    }
  }

  /**
   * Enters task context on an idle (not busy, not stuck) CPU: the first half
   * of exec(), for hot callers that avoid a closure. Returns the step's start
   * time for endTask(). The caller restores `cur` and handles CpuStuck.
   */
  beginTask(cpu: Cpu, comm: string, pid: number, prio: number): number {
    this.cur = cpu;
    if (this.timers.length !== 0) this.runTimers(cpu.clock);
    const start = cpu.clock;
    cpu.busy = true;
    pushFrame(cpu, "task", comm, pid, false, prio);
    // user mode can be interrupted at any time: deliver what is due first
    if (cpu.nextEventAt <= cpu.clock || cpu.threadWork.length !== 0) this.interruptWindow(cpu);
    return start;
  }

  /** Returns to user space: checks, quiescent state, softirqs/kthreads. */
  endTask(cpu: Cpu, start: number): void {
    this.leaveTask(cpu);
    cpu.busy = false;
    this.rcu.quiescent(cpu, start);
    if (cpu.softirqPending !== 0 || cpu.threadWork.length !== 0) this.boundary(cpu);
  }

  /** Checks that a task returns to user space clean, as the kernel does. */
  private leaveTask(cpu: Cpu): void {
    if (
      this.lockdep.heldCount(cpu.id) !== 0 || cpu.preemptCount !== 0 || cpu.irqsOff || cpu.rcuDepth !== 0 ||
      cpu.frames.length !== 1
    ) {
      this.dmesg.log(
        cpu.clock,
        cpu.id,
        "warn",
        "lockdep",
        [
          ...lockdepBanner("WARNING: lock held when returning to user space!", this.release),
          `${taskName(cpu)} is leaving the kernel with locks still held!`,
          `preempt_count: ${cpu.preemptCount.toString(16)}, irqs_disabled: ${
            cpu.irqsOff ? 1 : 0
          }, RCU nest depth: ${cpu.rcuDepth}`,
          ...this.heldLockLines(cpu),
        ].join("\n"),
      );
      // the simulator resets the state so that the CPU stays usable
      for (const h of this.lockdep.heldBy(cpu.id)) {
        h.set.setFree(h.idx, cpu.clock);
        this.lockdep.release(cpu, h.set, h.idx);
      }
      cpu.preemptCount = 0;
      cpu.rcuDepth = 0;
      cpu.rcuTraceDepth = 0;
      cpu.migrateDisabled = 0;
      cpu.rtSoftirqCount = 0;
      cpu.irqsOff = cpu.frames[0]?.savedIrqsOff ?? false;
      cpu.frames.length = 1;
    }
    popFrame(cpu);
    cpu.irqsOff = false;
  }

  /** Work a CPU does between steps: softirqs and kthreads that were waiting. */
  private boundary(cpu: Cpu): void {
    if (cpu.stuck !== null) return;
    if (cpu.softirqPending === 0 && cpu.threadWork.length === 0) return;
    const prev = this.cur;
    this.cur = cpu;
    pushFrame(cpu, "task", `swapper/${cpu.id}`, 0, false, -1);
    try {
      if (cpu.softirqPending !== 0) this.softirq.invoke(cpu);
      this.preemptionPoint(cpu);
      popFrame(cpu);
    } catch (e) {
      if (!(e instanceof CpuStuck)) throw e;
    } finally {
      this.cur = prev;
    }
  }

  /**
   * Queues a step on `cpu`; the scheduler runs it in simulated-time order.
   * A step that returns an iterator (a generator) may stop between program
   * ops; the scheduler resumes it when its CPU comes first again. A step of
   * a higher priority than the task running on that CPU preempts it at its
   * next preemption point (wakeup preemption).
   */
  queueStep(cpu: number, fn: () => unknown, opts: TaskOptions = {}): void {
    const comm = opts.comm ?? "bpfsim";
    const c = this.cpus[cpu];
    const prio = opts.prio ?? 0;
    c.steps.push({ fn, comm, pid: opts.pid ?? this.pidOf(comm), prio });
    if (c.busy && prio > 0 && this.runnableFor(c) >= 0) {
      const cur = c.frames.findLast((f) => f.kind === "task");
      if (cur && prio > cur.prio) c.needResched = true;
    }
  }

  /** Runs the step suspended on `cpu` to its end (someone needs that CPU now). */
  settle(cpu: Cpu): void {
    const h = this.horizon;
    while (cpu.cont !== null && cpu.stuck === null) this.resumeStep(cpu, Infinity);
    this.horizon = h;
  }

  /** The earliest time another CPU or a global timer has work (a yielding program's horizon). */
  private horizonFor(cpu: Cpu): number {
    let t = this.nextTimer();
    for (const c of this.cpus) {
      if (c === cpu) continue;
      const a = this.nextActivity(c);
      if (a < t) t = a;
    }
    return t;
  }

  /** Advances the suspended step of `cpu` until it yields again or ends. */
  private resumeStep(cpu: Cpu, horizon = this.horizonFor(cpu)): void {
    const prev = this.cur;
    this.cur = cpu;
    this.horizon = horizon;
    try {
      const c = cpu.cont!;
      if (c.it.next().done) {
        cpu.cont = null;
        this.endTask(cpu, c.start);
      }
    } catch (e) {
      if (!(e instanceof CpuStuck) || e.cpu !== cpu.id) throw e;
      cpu.busy = false;
      cpu.cont = null;
    } finally {
      this.cur = prev;
      this.horizon = Infinity;
    }
  }

  /** When `cpu` next has something to do (Infinity: nothing). */
  private nextActivity(cpu: Cpu): number {
    if (cpu.stuck !== null) return Infinity;
    if (cpu.cont !== null) return cpu.clock;
    if (cpu.pendingSteps() > 0 || cpu.threadWork.length > 0 || cpu.softirqPending !== 0) return cpu.clock;
    return cpu.events.length ? Math.max(cpu.clock, cpu.events[0].at) : Infinity;
  }

  /**
   * The scheduler: repeatedly runs whatever happens first in simulated time
   * (a global timer, a due interrupt on an idle CPU, or the next step of the
   * CPU with the smallest clock) until nothing is left or `until` is passed.
   * Returns the number of steps run.
   */
  run(opts: { until?: number; maxSteps?: number } = {}): number {
    const until = opts.until ?? Infinity;
    const maxSteps = opts.maxSteps ?? Infinity;
    let steps = 0;
    while (steps < maxSteps) {
      let best: Cpu | null = null;
      let bestAt = Infinity;
      for (const c of this.cpus) {
        const t = this.nextActivity(c);
        if (t < bestAt) {
          bestAt = t;
          best = c;
        }
      }
      const tAt = this.nextTimer();
      if (tAt <= bestAt) {
        if (tAt === Infinity || tAt > until) break;
        this.runTimers(tAt);
        continue;
      }
      if (best === null || bestAt > until) break;
      if (best.cont !== null) {
        this.resumeStep(best);
      } else if (best.pendingSteps() > 0) {
        const st = best.steps[best.stepHead++];
        if (best.stepHead > 1024 && best.stepHead * 2 > best.steps.length) {
          best.steps.splice(0, best.stepHead);
          best.stepHead = 0;
        }
        this.runStep(best, st);
        steps++;
        this.stepsRun++;
      } else {
        this.idle(best);
      }
    }
    return steps;
  }

  /** The counters a task's step changes as it runs (restored when it blocks and restarts). */
  private cpuState(cpu: Cpu): number[] {
    return [
      cpu.frames.length,
      cpu.preemptCount,
      cpu.irqsOff ? 1 : 0,
      cpu.migrateDisabled,
      cpu.rcuDepth,
      cpu.rcuTraceDepth,
      cpu.rtSoftirqCount,
      cpu.bpfProgActive,
      cpu.progDepth,
      this.lockdep.heldCount(cpu.id),
    ];
  }

  /** Puts back the counters cpuState() saved (the blocked task's step is undone). */
  private restoreCpuState(cpu: Cpu, s: number[]): void {
    while (cpu.frames.length > s[0]) popFrame(cpu);
    cpu.preemptCount = s[1];
    cpu.irqsOff = s[2] === 1;
    cpu.migrateDisabled = s[3];
    cpu.rcuDepth = s[4];
    cpu.rcuTraceDepth = s[5];
    cpu.rtSoftirqCount = s[6];
    cpu.bpfProgActive = s[7];
    cpu.progDepth = s[8];
    const held = this.lockdep.heldBy(cpu.id);
    for (const x of held.slice(s[9])) {
      x.set.setFree(x.idx, cpu.clock);
      this.lockdep.release(cpu, x.set, x.idx);
    }
  }

  /** The step's task sleeps on an rt_mutex that is still held. */
  private isBlocked(cpu: Cpu, st: Step): boolean {
    const lock = this.sleeping[cpu.id]?.get(st);
    return lock !== undefined && this.rtOwners.has(lock);
  }

  /** A preempting task blocked on `e.lock`: its step goes back to the front of the queue until the unlock. */
  private blockStep(cpu: Cpu, st: Step, e: TaskBlocked, owner: { name: string; pid: number; prio: number }): void {
    (this.sleeping[cpu.id] ??= new Map()).set(st, e.lock);
    cpu.steps.splice(cpu.stepHead, 0, st);
    this.piBlocks.push({
      waiter: `${st.comm}:${st.pid}`,
      waiterPrio: st.prio,
      owner: `${owner.name}:${owner.pid}`,
      ownerPrio: owner.prio,
      lock: e.what,
      cpu: cpu.id,
      since: cpu.clock,
      wokenAt: NaN,
    });
  }

  /**
   * rt_mutex_unlock(): waiters on the lock become runnable and, having the
   * higher priority, preempt its owner at the next preemption point.
   */
  rtUnlocked(cpu: Cpu, lock: number): void {
    this.rtOwners.delete(lock);
    const m = this.sleeping[cpu.id];
    if (m === undefined || m.size === 0) return;
    for (const [st, l] of m) {
      if (l !== lock) continue;
      m.delete(st);
      const who = `${st.comm}:${st.pid}`;
      for (const b of this.piBlocks) if (b.waiter === who && Number.isNaN(b.wokenAt)) b.wokenAt = cpu.clock;
      cpu.needResched = true;
    }
  }

  /** The irq number of a named interrupt (stable per kernel: 24, 25, ... in order of first use). */
  irqNumber(name: string): number {
    let n = this.irqNumbers.get(name);
    if (n === undefined) {
      n = 24 + this.irqNumbers.size;
      this.irqNumbers.set(name, n);
    }
    return n;
  }

  /** Runs one queued step in task context of its comm/pid; a generator step may stay suspended. */
  private runStep(cpu: Cpu, st: Step): void {
    if (cpu.stuck !== null) return;
    const prev = this.cur;
    let start = 0;
    try {
      start = this.beginTask(cpu, st.comm, st.pid, st.prio);
      if (cpu.lastPid !== st.pid) {
        // __schedule(): a different task gets the CPU
        this.tracepoint(TP_SCHED_SWITCH, cpu.lastPid, 120, st.pid, st.prio);
        cpu.lastPid = st.pid;
      }
      const r = st.fn();
      if (!isIterator(r)) {
        this.endTask(cpu, start);
        return;
      }
      cpu.cont = { it: r, start };
    } catch (e) {
      if (!(e instanceof CpuStuck) || e.cpu !== cpu.id) throw e;
      cpu.busy = false;
      return;
    } finally {
      this.cur = prev;
    }
    this.resumeStep(cpu);
  }

  /** An idle CPU: advance to its next event and take it. */
  private idle(cpu: Cpu): void {
    if (cpu.events.length && cpu.events[0].at > cpu.clock) cpu.clock = cpu.events[0].at;
    this.exec(cpu.id, () => {}, { comm: `swapper/${cpu.id}`, pid: 0, prio: -1 });
  }

  /**
   * Runs the kernel until nothing is pending: steps, interrupts, RCU
   * callbacks, irq_work, kthreads. Stuck CPUs are skipped (their work never
   * completes). Returns false if `maxSteps` was hit first.
   */
  quiesce(maxSteps = 10_000_000): boolean {
    this.run({ maxSteps });
    return this.idleEverywhere();
  }

  /** True when no CPU (that can progress) and no timer has work pending. */
  idleEverywhere(): boolean {
    return this.cpus.every((c) => this.nextActivity(c) === Infinity) && this.nextTimer() === Infinity;
  }

  /**
   * Sleeps the current task until `cond()` holds, letting time pass:
   * timers fire and interrupts are taken on every CPU in time order (other
   * CPUs' queued steps are not run). Returns false when nothing can make
   * the condition true (the task would sleep forever).
   */
  sleepUntil(cond: () => boolean): boolean {
    const me = this.cur;
    while (!cond()) {
      let best: Cpu | null = null;
      let bestAt = Infinity;
      for (const c of this.cpus) {
        if (c.stuck !== null || (c.busy && c !== me)) continue;
        const t = c === me
          ? (c.threadWork.length || c.softirqPending ? c.clock : c.events.length ? c.events[0].at : Infinity)
          : (c.events.length ? c.events[0].at : c.threadWork.length || c.softirqPending ? c.clock : Infinity);
        if (t < bestAt) {
          bestAt = t;
          best = c;
        }
      }
      const tAt = this.nextTimer();
      if (tAt <= bestAt) {
        if (tAt === Infinity) return false;
        this.runTimers(tAt);
        if (me.clock < tAt) me.clock = tAt;
        continue;
      }
      if (best === null) return false;
      if (best === me) {
        // the sleeping task's CPU takes the interrupt / runs the kthread
        if (me.clock < bestAt) me.clock = bestAt;
        const wasOff = me.irqsOff;
        const pc = me.preemptCount;
        me.irqsOff = false;
        me.preemptCount = 0;
        this.interruptWindow(me);
        if (me.softirqPending !== 0) this.softirq.invoke(me);
        // a blocked task yields to every runnable kthread, whatever its priority
        const top = me.frames.length ? me.frames[me.frames.length - 1] : null;
        const prio = top?.prio ?? 0;
        if (top) top.prio = -1;
        this.preemptionPoint(me);
        if (top) top.prio = prio;
        me.irqsOff = wasOff;
        me.preemptCount = pc;
      } else {
        if (best.clock < bestAt) best.clock = bestAt;
        this.exec(best.id, () => {}, { comm: `swapper/${best.id}`, pid: 0, prio: -1 });
        this.cur = me;
      }
    }
    return true;
  }

  // ----------------------------------------------------------------- hangs

  /**
   * The current CPU can never make progress again (a real deadlock).
   * Records it in dmesg and unwinds the CPU; other CPUs go on.
   */
  hang(cpu: Cpu, why: string, sleeping = false): never {
    cpu.stuck = why;
    const t = cpu.task();
    const who = `${t?.name ?? "swapper/" + cpu.id}:${t?.pid ?? 0}`;
    const text = sleeping
      ? [
        `INFO: task ${who} blocked for more than 122 seconds.`,
        `      ${this.release}`,
        `task:${t?.name ?? "?"} state:D stack:0 pid:${t?.pid ?? 0} cpu:${cpu.id}`,
        `reason: ${why}`,
      ]
      : [
        `watchdog: BUG: soft lockup - CPU#${cpu.id} stuck for 22s! [${who}]`,
        `CPU: ${cpu.id} PID: ${t?.pid ?? 0} Comm: ${t?.name ?? "swapper"} ${this.release}`,
        `reason: ${why}`,
      ];
    text.push(...cpu.backtrace());
    text.push(...this.heldLockLines(cpu));
    this.dmesg.log(
      cpu.clock + (sleeping ? 122e9 : 22e9),
      cpu.id,
      "err",
      sleeping ? "hung_task" : "softlockup",
      text.join("\n"),
    );
    this.rcu.cpuStuck(cpu);
    throw new CpuStuck(cpu.id);
  }

  /** "N locks held by comm/pid:" lines for reports. */
  heldLockLines(cpu: Cpu): string[] {
    const held = this.lockdep.heldBy(cpu.id);
    if (!held.length) return [];
    return [
      `${held.length} lock${held.length === 1 ? "" : "s"} held by ${taskName(cpu)}:`,
      ...held.map((h, i) => ` #${i}: ${h.set.describe(h.idx)}, at: ${h.site}`),
    ];
  }

  /** CPUs that deadlocked. */
  stuckCpus(): number[] {
    return this.cpus.filter((c) => c.stuck !== null).map((c) => c.id);
  }

  // ---------------------------------------------------------------- memory

  /** Kernel memory in use. */
  memoryUsage(): MemoryUsage {
    return {
      slabObjects: this.slab.objectBytes(),
      slabPages: this.mem.mapped.slab,
      vmalloc: this.mem.mapped.vmalloc,
      pages: this.mem.mapped.pages,
      percpu: this.percpu.bytesInUse(),
    };
  }

  /** The largest simulated clock across CPUs (system uptime). */
  now(): number {
    let t = 0;
    for (const c of this.cpus) if (c.clock > t) t = c.clock;
    return t;
  }
}

/** A step that returned a generator (it may stop between program ops). */
function isIterator(r: unknown): r is Iterator<unknown> {
  return typeof r === "object" && r !== null && typeof (r as Iterator<unknown>).next === "function";
}

snapshotClasses(Kernel);
