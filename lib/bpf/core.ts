// kernel/bpf/core.c: running a program. The kernel's interpreter
// (___bpf_prog_run) executes BPF instructions; bpfsim's executes the op
// language, compiled once per program into a flat list of closures with a
// program counter (repeat/if become jumps), so that a run can stop between
// two ops and resume later: a program fired at the top of a step yields to
// other CPUs whose clocks are behind, which is how a value pointer kept
// across ops sees another CPU's delete and reuse. bpf_prog_run() around it
// keeps the statistics (run_cnt, run_time_ns while kernel.bpf_stats_enabled).

import { COST } from "../kernel/cost.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { BpfMap } from "./map.ts";
import { BpfRingbuf } from "./ringbuf.ts";
import { currentTask, encodeLe, ProgEnv } from "./helpers.ts";
import type { Expr, Op, OpProgram } from "./oplang.ts";
import type { BpfProg } from "./prog.ts";
import { BPF_NOEXIST } from "./uapi.ts";
import { EEXIST } from "../kernel/errno.ts";

/** One compiled op: runs against the environment, may set env.pc (a jump). */
type OpFn = (env: ProgEnv) => void;
/** A compiled expression. */
type ExprFn = (env: ProgEnv) => number;

/** A program compiled for running. */
export interface Compiled {
  /** Flat code; env.pc indexes it. */
  readonly code: readonly OpFn[];
  /** Simulated ns each code slot costs (its lowered instructions). */
  readonly cost: Float64Array;
  /** Number of repeat counters. */
  readonly loops: number;
}

const compiled = new WeakMap<BpfProg, Compiled>();

/** The compiled form of an op-language program (compiled on first use; not part of snapshots). */
export function compiledOf(prog: BpfProg): Compiled {
  let c = compiled.get(prog);
  if (c === undefined) {
    if (prog.body.lang !== "ops") throw new Error("not an op-language program");
    c = compile(prog.body.ast, prog.maps);
    compiled.set(prog, c);
  }
  return c;
}

/** Lowered instructions per op kind (the cost of the op's own code; helpers charge their own). */
function opInsns(op: Op): number {
  switch (op.op) {
    case "lookup":
    case "delete":
    case "spin_lock":
      return 6;
    case "update":
    case "inc":
      return 10;
    case "repeat":
      return 3;
    case "if":
      return 1;
    default:
      return 4;
  }
}

function compile(p: OpProgram, maps: readonly BpfMap[]): Compiled {
  const code: OpFn[] = [];
  const cost: number[] = [];
  let loops = 0;
  const emit = (fn: OpFn, ns: number): number => {
    code.push(fn);
    cost.push(ns);
    return code.length - 1;
  };

  const expr = (x: Expr): ExprFn => {
    switch (x.e) {
      case "num": {
        const v = x.v;
        return () => v;
      }
      case "comm":
        return (env) => {
          const c = env.comm();
          let v = 0;
          for (let i = 5; i >= 0; i--) v = v * 256 + c[i];
          return v;
        };
      case "rand": {
        const n = expr(x.n);
        return (env) => env.rand(Math.trunc(n(env)));
      }
      case "neg": {
        const a = expr(x.a);
        return (env) => -a(env);
      }
      case "bin": {
        const a = expr(x.a), b = expr(x.b);
        switch (x.op) {
          case "+":
            return (env) => a(env) + b(env);
          case "-":
            return (env) => a(env) - b(env);
          case "*":
            return (env) => a(env) * b(env);
          case "/":
            // BPF: division by zero gives 0
            return (env) => {
              const d = b(env);
              return d === 0 ? 0 : Math.trunc(a(env) / d);
            };
          case "%":
            // BPF: modulo by zero leaves the dividend
            return (env) => {
              const n = a(env), d = b(env);
              return d === 0 ? n : n % d;
            };
        }
        break;
      }
      case "var":
        switch (x.name) {
          case "cpu":
            return (env) => env.cpu.id;
          case "pid":
          case "tgid":
            return (env) => env.pid();
          case "seq":
            return (env) => env.seq;
          case "ktime":
            return (env) => env.ktime();
          case "value":
            return (env) => env.readValue();
          case "ret":
            return (env) => env.ret;
          default: {
            const i = Number(x.name.slice(3));
            return (env) => env.args[i];
          }
        }
    }
    throw new Error("unreachable");
  };

  /** A key or value expression encoded into a buffer of the map's size. */
  const bytes = (x: Expr, size: number): (env: ProgEnv) => Uint8Array => {
    const buf = new Uint8Array(size);
    if (x.e === "comm") {
      return (env) => {
        const c = env.comm();
        buf.fill(0);
        buf.set(c.subarray(0, Math.min(size, 16)));
        return buf;
      };
    }
    const f = expr(x);
    return (env) => {
      encodeLe(buf, f(env));
      return buf;
    };
  };

  const block = (ops: readonly Op[]) => {
    for (const op of ops) {
      const ns = opInsns(op) * COST.insn;
      switch (op.op) {
        case "lookup": {
          const map = maps[op.map];
          const key = bytes(op.key, map.keySize);
          emit((env) => void env.lookup(map, key(env)), ns);
          break;
        }
        case "update": {
          const map = maps[op.map];
          const key = bytes(op.key, map.keySize);
          const value = bytes(op.value, map.valueSize);
          const flags = op.flags;
          emit((env) => {
            const r = env.update(map, key(env), value(env), flags);
            env.ret = r;
            env.ok = r === 0;
            env.k.bpf.opResult(r, env.prog);
          }, ns);
          break;
        }
        case "delete": {
          const map = maps[op.map];
          const key = bytes(op.key, map.keySize);
          emit((env) => {
            const r = env.delete(map, key(env));
            env.ret = r;
            env.ok = r === 0;
            env.k.bpf.opResult(r, env.prog);
          }, ns);
          break;
        }
        case "inc": {
          const map = maps[op.map];
          const key = bytes(op.key, map.keySize);
          const by = expr(op.by);
          const init = new Uint8Array(map.valueSize);
          emit((env) => {
            const kb = key(env);
            const n = by(env);
            // the bcc idiom: lookup; if found add atomically, else insert; on a
            // lost race (-EEXIST) look up again
            for (let tries = 0; tries < 2; tries++) {
              if (env.lookup(map, kb) !== 0) {
                env.addValue(n);
                env.ret = 0;
                env.ok = true;
                env.k.bpf.opResult(0, env.prog);
                return;
              }
              if (tries === 1) break;
              encodeLe(init.subarray(0, Math.min(8, init.length)), n);
              const r = env.update(map, kb, init, BPF_NOEXIST);
              if (r !== -EEXIST) {
                env.ret = r;
                env.ok = r === 0;
                env.k.bpf.opResult(r, env.prog);
                return;
              }
            }
            env.ret = -EEXIST;
            env.ok = false;
            env.k.bpf.opResult(-EEXIST, env.prog);
          }, ns);
          break;
        }
        case "set": {
          const v = expr(op.v);
          emit((env) => env.writeValue(v(env)), ns);
          break;
        }
        case "add": {
          const v = expr(op.v);
          emit((env) => env.addValue(v(env)), ns);
          break;
        }
        case "output": {
          const rb = maps[op.map] as BpfRingbuf;
          const size = op.size, flags = op.flags;
          const data = op.data ? expr(op.data) : null;
          emit((env) => env.k.bpf.opResult(env.output(rb, size, data ? data(env) : 0, flags), env.prog), ns);
          break;
        }
        case "reserve": {
          const rb = maps[op.map] as BpfRingbuf;
          const size = op.size;
          emit((env) => void env.reserve(rb, size), ns);
          break;
        }
        case "write": {
          const off = op.off;
          const v = expr(op.v);
          emit((env) => env.writeSample(off, v(env)), ns);
          break;
        }
        case "submit":
        case "discard": {
          const discard = op.op === "discard", flags = op.flags;
          emit((env) => env.commit(discard, flags), ns);
          break;
        }
        case "query": {
          const rb = maps[op.map] as BpfRingbuf;
          const what = op.what;
          emit((env) => {
            env.ret = rb.query(what);
            env.ok = true;
          }, ns);
          break;
        }
        case "spin_lock": {
          const map = maps[op.map];
          const key = bytes(op.key, map.keySize);
          emit((env) => {
            const kb = key(env);
            const addr = env.lookup(map, kb);
            if (addr !== 0) env.spinLock(addr);
          }, ns);
          break;
        }
        case "spin_unlock":
          emit((env) => env.spinUnlock(), ns);
          break;
        case "copy_from_user": {
          const size = op.size;
          emit((env) => {
            env.ret = env.copyFromUser(size);
            env.ok = env.ret === 0;
          }, ns);
          break;
        }
        case "repeat": {
          const slot = loops++;
          const n = op.n;
          emit((env) => void (env.loops[slot] = n), 0);
          const head = emit(() => {}, ns); // patched below: exit when the counter is 0
          block(op.body);
          emit((env) => void (env.pc = head), 0);
          const end = code.length;
          code[head] = (env) => {
            if (env.loops[slot]-- === 0) env.pc = end;
          };
          break;
        }
        case "if": {
          const want = op.cond === "ok";
          const at = emit(() => {}, ns);
          block(op.body);
          const end = code.length;
          code[at] = (env) => {
            if (env.ok !== want) env.pc = end;
          };
          break;
        }
      }
    }
  };
  block(p.ops);
  return { code, cost: Float64Array.from(cost), loops };
}

/** What a (partial) run of a program reports. */
export const RUN_DONE = 0;
/** The run stopped between two ops to let other CPUs catch up; resume it later. */
export const RUN_YIELD = 1;

/**
 * Runs ops of `env`'s program from env.pc. When `horizon` is finite the run
 * stops (RUN_YIELD) at the first op boundary where the CPU's clock has
 * passed it, unless a bpf_spin_lock is held; otherwise it runs to the end.
 */
export function runOps(env: ProgEnv, c: Compiled, horizon: number): number {
  const code = c.code, cost = c.cost, cpu = env.cpu;
  const n = code.length;
  while (env.pc < n) {
    if (cpu.clock > horizon && env.lockAddr === 0) return RUN_YIELD;
    const i = env.pc++;
    cpu.clock += cost[i];
    code[i](env);
  }
  return RUN_DONE;
}

/**
 * The per-run environment of `prog` on `cpu` at nesting depth `depth`
 * (the same program may run nested on one CPU where no guard stops it).
 */
export function envFor(k: Kernel, prog: BpfProg, cpuId: number, depth: number): ProgEnv {
  let envs = envCache.get(prog);
  if (envs === undefined) {
    envs = [];
    envCache.set(prog, envs);
  }
  const key = cpuId * 8 + Math.min(depth, 7);
  let env = envs[key];
  if (env === undefined) {
    env = new ProgEnv(k, prog, k.cpus[cpuId]);
    if (prog.body.lang === "ops") env.loops = new Int32Array(compiledOf(prog).loops);
    envs[key] = env;
  }
  return env;
}

/** Run environments per program (per CPU and depth); like the compiled code, never part of a snapshot. */
const envCache = new WeakMap<BpfProg, ProgEnv[]>();

/** Copies hook arguments into an environment (missing ones are 0). */
export function setArgs(env: ProgEnv, args: ArrayLike<number> | null): void {
  const a = env.args;
  for (let i = 0; i < 6; i++) a[i] = args !== null && i < args.length ? args[i] : 0;
}

/** The name of `current` on a CPU, for reports. */
export function currentComm(env: ProgEnv): string {
  return currentTask(env.cpu).name;
}

/** How deep programs may nest on one CPU before the (simulated) kernel stack overflows. */
export const MAX_PROG_DEPTH = 12;

/** Sets up a run: nesting check, environment, arguments, `seq`. */
function runStart(k: Kernel, prog: BpfProg, args: ArrayLike<number> | null): ProgEnv {
  const cpu = k.cur;
  if (cpu.progDepth >= MAX_PROG_DEPTH) {
    k.hang(
      cpu,
      `BUG: stack guard page was hit: BPF programs nested ${cpu.progDepth} deep on this CPU ` +
        `(prog ${prog.name || prog.id} re-entered through a hook with no recursion guard)`,
    );
  }
  const env = envFor(k, prog, cpu.id, cpu.progDepth);
  env.cpu = cpu;
  env.reset(prog.seq++);
  setArgs(env, args);
  env.start = cpu.clock;
  cpu.progDepth++;
  k.bpf.runs++;
  if (cpu.trace !== null) cpu.trace.begin(cpu.clock, cpu.id, "prog", `prog ${prog.name || prog.id}`);
  return env;
}

/** Ends a run: statistics (bpf_prog_run()'s __update_stats while kernel.bpf_stats_enabled). */
function runEnd(k: Kernel, prog: BpfProg, env: ProgEnv): void {
  const cpu = env.cpu;
  cpu.progDepth--;
  if (cpu.trace !== null) cpu.trace.end(cpu.clock, cpu.id);
  if (k.sysctl.bpf_stats_enabled && k.features.bpfStats) {
    prog.runCnt[cpu.id]++;
    prog.runTimeNs[cpu.id] += cpu.clock - env.start;
  }
}

/**
 * bpf_prog_run(): runs `prog` to its end on the current CPU, in whatever
 * context the caller set up (guards, RCU). Returns r0 (op programs: 0).
 */
export function bpf_prog_run(k: Kernel, prog: BpfProg, args: ArrayLike<number> | null): number {
  const env = runStart(k, prog, args);
  let r = 0;
  if (prog.body.lang === "ops") runOps(env, compiledOf(prog), Infinity);
  else r = prog.body.fn(env);
  runEnd(k, prog, env);
  return r;
}

/**
 * bpf_prog_run() for a program fired at the top of a step: between ops it
 * yields whenever this CPU's clock has passed k.horizon (another CPU has
 * work that comes first in simulated time); the scheduler resumes it.
 */
export function* bpf_prog_run_yield(
  k: Kernel,
  prog: BpfProg,
  args: ArrayLike<number> | null,
): Generator<void, number, unknown> {
  const env = runStart(k, prog, args);
  let r = 0;
  if (prog.body.lang === "ops") {
    const c = compiledOf(prog);
    while (runOps(env, c, k.horizon) === RUN_YIELD) yield;
  } else r = prog.body.fn(env);
  runEnd(k, prog, env);
  return r;
}
