// Lock validator (kernel/locking/lockdep.c), reduced to what the seeds need:
// per-CPU held-lock stacks with acquisition sites and context frames, the
// recursive-locking (AA) report, the class dependency graph and its
// circular-dependency (ABBA) report. Reports go to dmesg in the kernel's words.

import type { Cpu } from "./cpu.ts";
import type { Dmesg } from "./dmesg.ts";
import { hexAddr } from "./memory.ts";
import { snapshotClasses } from "./snapshot.ts";

/** Which flavour a lock is (include/linux/spinlock_types*.h, rqspinlock.h). */
export type LockKind = "raw_spinlock_t" | "spinlock_t" | "rqspinlock_t";

/** A lock class: all locks initialised at one site share it (lockdep keys). */
export class LockClass {
  /** Class `id` (registration order) named like its lockdep key, e.g. "&htab->lockdep_key". */
  constructor(readonly id: number, readonly name: string) {}
}

/**
 * A set of locks of one class stored in a typed array of lock words, so that
 * a map with a million buckets does not need a million lock objects. A lock
 * word is >= 0 when the lock is free (the simulated time it was last
 * released) and -(cpu + 1) while CPU `cpu` holds it. The words may live in
 * simulated memory next to what they protect (a hash bucket's lock sits
 * beside its head, on one cache line); a single lock is a set of one.
 */
export class LockSet {
  /** The lock words: word i is words[base + i * step]. */
  readonly words: Float64Array;
  /** Index of lock 0's word. */
  readonly base: number;
  /** Distance between two locks' words, in words. */
  readonly step: number;
  /** Owner CPU of each lock's cache line (locks that share a line share it). */
  readonly lineOwner: Int8Array;
  /** log2 of locks per cache line. */
  readonly lineShift: number;
  /** Times an acquirer had to wait (lock_stat contentions). */
  contended = 0;
  /** Total time acquirers waited, ns (lock_stat waittime-total). */
  waitNs = 0;

  /**
   * `n` locks of `kind` in class `cls`, the first at `addr`, `stride` bytes
   * apart; their words in `words` from `base`, `step` apart (own array by default).
   */
  constructor(
    readonly cls: LockClass,
    readonly kind: LockKind,
    readonly n: number,
    /** Simulated address of lock 0, and bytes between locks (for reports). */
    public addr: number,
    readonly stride: number,
    words?: Float64Array,
    base = 0,
    step = 1,
  ) {
    this.words = words ?? new Float64Array(n);
    this.base = base;
    this.step = step;
    this.lineShift = stride >= 64 ? 0 : Math.log2(64 / stride) | 0;
    this.lineOwner = new Int8Array(Math.max(1, Math.ceil(n / (1 << this.lineShift)))).fill(-1);
  }

  /** CPU holding lock i, or -1. */
  ownerOf(i: number): number {
    const v = this.words[this.base + i * this.step];
    return v < 0 ? -v - 1 : -1;
  }

  /** When lock i was last released (0 if never); Infinity while it is held. */
  freeAtOf(i: number): number {
    const v = this.words[this.base + i * this.step];
    return v < 0 ? Infinity : v;
  }

  /** Marks lock i held by `cpu`. */
  setOwner(i: number, cpu: number): void {
    this.words[this.base + i * this.step] = -(cpu + 1);
  }

  /** Marks lock i free, released at time `t`. */
  setFree(i: number, t: number): void {
    this.words[this.base + i * this.step] = t;
  }

  /** Report name of lock i. */
  describe(i: number): string {
    return `${hexAddr(this.addr + i * this.stride)} (${this.cls.name})`;
  }
}

/** One entry of a CPU's held-lock stack. */
export interface HeldLock {
  /** The set the lock belongs to. */
  readonly set: LockSet;
  /** Index of the lock in its set. */
  readonly idx: number;
  /** Function that took it. */
  readonly site: string;
  /** Index of the context frame it was taken in. */
  readonly frame: number;
}

/** Outcome of lockdep's check at acquire time. */
export const enum Verdict {
  Ok = 0,
  /** This CPU already holds this very lock: a real AA deadlock. */
  SelfDeadlock = 1,
}

/** A CPU's held-lock stack as parallel arrays (no allocation per acquire). */
export class HeldStack {
  /** Set of each held lock, outermost first. */
  readonly sets: LockSet[] = [];
  /** Index in its set of each held lock. */
  readonly idx: number[] = [];
  /** Function that took each lock. */
  readonly site: string[] = [];
  /** Context frame each lock was taken in. */
  readonly frame: number[] = [];
  /** Number of locks held (lockdep_depth). */
  n = 0;

  /** Records an acquisition on top of the stack. */
  push(set: LockSet, idx: number, site: string, frame: number): void {
    const n = this.n++;
    this.sets[n] = set;
    this.idx[n] = idx;
    this.site[n] = site;
    this.frame[n] = frame;
  }

  /** Drops entry j (locks may be released out of order). */
  remove(j: number): void {
    for (let i = j; i < this.n - 1; i++) {
      this.sets[i] = this.sets[i + 1];
      this.idx[i] = this.idx[i + 1];
      this.site[i] = this.site[i + 1];
      this.frame[i] = this.frame[i + 1];
    }
    this.n--;
  }

  /** Entry j as a HeldLock object. */
  entry(j: number): HeldLock {
    return { set: this.sets[j], idx: this.idx[j], site: this.site[j], frame: this.frame[j] };
  }
}

/** The validator. One per kernel. */
export class Lockdep {
  private classes: LockClass[] = [];
  private readonly classByName = new Map<string, LockClass>();
  /** held[cpu]: stack of held locks. */
  readonly held: HeldStack[];
  /** Dependency graph: after[a] = classes taken while holding a. */
  private readonly after = new Map<number, Set<number>>();
  /** Number of reports made (all kinds). */
  reports = 0;

  /** A validator for `ncpu` CPUs that reports to `dmesg`, naming the kernel `uname` in splats. */
  constructor(ncpu: number, private readonly dmesg: Dmesg, private readonly uname: string) {
    this.held = Array.from({ length: ncpu }, () => new HeldStack());
  }

  /** A class of its own (a dynamically registered lockdep key, e.g. per map). */
  newClass(name: string): LockClass {
    const c = new LockClass(this.classes.length, name);
    this.classes.push(c);
    return c;
  }

  /** The class registered under `name` (lockdep key), created on first use. */
  lockClass(name: string): LockClass {
    let c = this.classByName.get(name);
    if (!c) {
      c = new LockClass(this.classes.length, name);
      this.classes.push(c);
      this.classByName.set(name, c);
    }
    return c;
  }

  /**
   * Validates and records an acquisition. Returns SelfDeadlock when this CPU
   * already holds the lock (the caller then really deadlocks or, for
   * rqspinlock, returns -EDEADLK); the report is made either way.
   */
  acquire(cpu: Cpu, set: LockSet, idx: number, site: string, trylock: boolean, report = true, deps = true): Verdict {
    const held = this.held[cpu.id];
    const frame = cpu.frames.length - 1;
    let verdict = Verdict.Ok;
    for (let j = held.n - 1; j >= 0; j--) {
      if (held.sets[j] === set && held.idx[j] === idx) {
        if (!trylock) {
          if (report) this.reportRecursive(cpu, held.entry(j), set, idx, site);
          verdict = Verdict.SelfDeadlock;
        }
        break;
      }
    }
    if (verdict === Verdict.Ok && !trylock && deps) {
      // dependencies from locks held in the same context frame
      for (let j = held.n - 1; j >= 0; j--) {
        if (held.frame[j] !== frame) break;
        const hs = held.sets[j];
        if (hs.cls === set.cls) continue;
        this.addDependency(cpu, j, set, idx, site);
      }
    }
    if (verdict === Verdict.Ok) held.push(set, idx, site, frame);
    return verdict;
  }

  /** Records a release. */
  release(cpu: Cpu, set: LockSet, idx: number): void {
    const held = this.held[cpu.id];
    for (let j = held.n - 1; j >= 0; j--) {
      if (held.sets[j] === set && held.idx[j] === idx) {
        held.remove(j);
        return;
      }
    }
    this.reportOnce(
      `unlock:${set.cls.name}`,
      cpu,
      "lockdep",
      [
        ...lockdepBanner("WARNING: bad unlock balance detected!", this.uname),
        `${taskName(cpu)} is trying to release lock (${set.cls.name}) at:`,
        `${cpu.frameSite(cpu.frames.length - 1) || "?"}`,
        "but there are no more locks to release!",
      ].join("\n"),
    );
  }

  /** Number of locks held on a CPU. */
  heldCount(cpu: number): number {
    return this.held[cpu].n;
  }

  /** Locks held on a CPU (innermost last). */
  heldBy(cpu: number): HeldLock[] {
    const h = this.held[cpu];
    const out: HeldLock[] = [];
    for (let j = 0; j < h.n; j++) out.push(h.entry(j));
    return out;
  }

  /** Adds the class dependency held -> set (check_prev_add), or reports the cycle it would close. */
  private addDependency(cpu: Cpu, j: number, set: LockSet, idx: number, site: string): void {
    const held = this.held[cpu.id];
    const a = held.sets[j].cls.id;
    const b = set.cls.id;
    let out = this.after.get(a);
    if (out?.has(b)) return;
    // would a -> b close a cycle?  (b reaches a)
    const path = this.findPath(b, a);
    if (path) {
      this.reportCircular(cpu, held.entry(j), set, idx, site, path);
      return; // lockdep does not record the offending dependency
    }
    if (!out) {
      out = new Set();
      this.after.set(a, out);
    }
    out.add(b);
  }

  /** Shortest path of class ids from `from` to `to` in the dependency graph (BFS), null when none. */
  private findPath(from: number, to: number): number[] | null {
    const prev = new Map<number, number>();
    const queue = [from];
    prev.set(from, -1);
    while (queue.length) {
      const x = queue.shift()!;
      if (x === to) {
        const path = [x];
        let p = prev.get(x)!;
        while (p !== -1) {
          path.unshift(p);
          p = prev.get(p)!;
        }
        return path;
      }
      for (const y of this.after.get(x) ?? []) {
        if (!prev.has(y)) {
          prev.set(y, x);
          queue.push(y);
        }
      }
    }
    return null;
  }

  /** lockdep_print_held_locks(): "N locks held by comm/pid:" and one line per lock with its context. */
  private heldList(cpu: Cpu): string[] {
    const held = this.heldBy(cpu.id);
    const lines = [`${held.length} lock${held.length === 1 ? "" : "s"} held by ${taskName(cpu)}:`];
    held.forEach((h, i) => {
      const f = cpu.frames[h.frame];
      lines.push(` #${i}: ${h.set.describe(h.idx)}, at: ${h.site}  [${f ? f.kind : "?"}]`);
    });
    return lines;
  }

  /** The "CPU: PID: Comm:" line and the context-stack backtrace of a splat. */
  private stack(cpu: Cpu): string[] {
    const lines = [`CPU: ${cpu.id} PID: ${cpu.task()?.pid ?? 0} Comm: ${cpu.task()?.name ?? "swapper"}`];
    lines.push(...cpu.backtrace());
    return lines;
  }

  /**
   * The two locks of a splat (print_lock() of check_src, then of check_tgt):
   * the one being taken and the held one it conflicts with.
   */
  private acquireLines(cpu: Cpu, set: LockSet, idx: number, site: string, held: HeldLock): string[] {
    return [
      `${taskName(cpu)} is trying to acquire lock:`,
      `${set.describe(idx)}, at: ${site}`,
      "",
      "but task is already holding lock:",
      `${held.set.describe(held.idx)}, at: ${held.site}`,
      "",
    ];
  }

  /** The end of a deadlock splat: the marker, lockdep_print_held_locks(), dump_stack(). */
  private deadlockTail(cpu: Cpu): string[] {
    return [" *** DEADLOCK ***", "", ...this.heldList(cpu), "", ...this.stack(cpu)];
  }

  /** print_deadlock_bug(): "possible recursive locking detected" for lock (set, idx). */
  private reportRecursive(cpu: Cpu, h: HeldLock, set: LockSet, idx: number, site: string): void {
    const name = set.cls.name;
    this.reportOnce(
      `aa:${name}:${h.site}:${site}`,
      cpu,
      "lockdep",
      [
        ...lockdepBanner("WARNING: possible recursive locking detected", this.uname),
        ...this.acquireLines(cpu, set, idx, site, h),
        "other info that might help us debug this:",
        " Possible unsafe locking scenario:",
        "",
        "       CPU0",
        "       ----",
        `  lock(${name});`,
        `  lock(${name});`,
        "",
        ...this.deadlockTail(cpu),
      ].join("\n"),
    );
  }

  /** print_circular_bug(): "possible circular locking dependency detected" with the class chain. */
  private reportCircular(
    cpu: Cpu,
    prev: HeldLock,
    set: LockSet,
    idx: number,
    site: string,
    path: number[],
  ): void {
    const a = prev.set.cls.name;
    const b = set.cls.name;
    const chain: string[] = [];
    for (let i = path.length - 1, n = 0; i >= 0; i--, n++) {
      chain.push(`-> #${n} (${this.classes[path[i]].name}):`);
    }
    this.reportOnce(
      `abba:${a}:${b}`,
      cpu,
      "lockdep",
      [
        ...lockdepBanner("WARNING: possible circular locking dependency detected", this.uname),
        ...this.acquireLines(cpu, set, idx, site, prev),
        "which lock already depends on the new lock.",
        "",
        "the existing dependency chain (in reverse order) is:",
        ...chain,
        "",
        "other info that might help us debug this:",
        "",
        " Possible unsafe locking scenario:",
        "",
        "       CPU0                    CPU1",
        "       ----                    ----",
        `  lock(${a});`,
        `                               lock(${b});`,
        `                               lock(${a});`,
        `  lock(${b});`,
        "",
        ...this.deadlockTail(cpu),
      ].join("\n"),
    );
  }

  /** Logs a splat unless one with the same signature was logged before, counting it in `reports`. */
  private reportOnce(sig: string, cpu: Cpu, kind: string, text: string): void {
    if (this.dmesg.logOnce(sig, cpu.clock, cpu.id, "warn", kind, text)) this.reports++;
  }

  /** "class at site" for each lock a CPU holds. */
  heldNames(cpu: number): string[] {
    return this.heldBy(cpu).map((h) => `${h.set.cls.name} at ${h.site}`);
  }
}

/**
 * The head of a lockdep splat: the title between rules of its length, then
 * print_kernel_ident() (release and taint).
 */
export function lockdepBanner(title: string, uname: string): string[] {
  return ["=".repeat(title.length), title, `${uname} Not tainted`, "-".repeat(title.length)];
}

/** "comm/pid" of the task on a CPU, as lockdep prints it. */
export function taskName(cpu: Cpu): string {
  const t = cpu.frames[0];
  return t ? `${t.name}/${t.pid}` : "swapper/0";
}

snapshotClasses(Lockdep, LockClass, LockSet, HeldStack);
