// kernel/bpf/verifier.c, the parts that decide where a program may run and
// what it may touch, applied to op-language programs at BPF_PROG_LOAD with
// the kernel's messages and errno: helper availability by release and
// program type (check_helper_call), map type per helper
// (check_map_func_compatibility), map flags per program type
// (check_map_prog_compatibility: the 4.9-6.0 perf_event and the 5.7-6.0 RT
// prealloc rules, bpf_spin_lock in tracing programs), sleepable rules,
// NULL checks of map values and ring buffer records, reference leaks,
// bpf_spin_lock regions, and the loop and complexity bounds. A program
// loaded `unsafe` skips the placement and safety rules (the interpreter
// itself stays safe), so a user can watch what they prevent.

import { E2BIG, EACCES, EINVAL } from "../kernel/errno.ts";
import type { Features } from "../kernel/config.ts";
import type { BpfMap } from "./map.ts";
import { walkOps } from "./oplang.ts";
import type { Op, OpProgram } from "./oplang.ts";
import {
  BPF_F_NO_PREALLOC,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_STACK,
} from "./uapi.ts";
import {
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_PROG_TYPE_TRACING,
} from "./uapi_prog.ts";

/** A verifier rejection: errno and the log line (with the op it is about). */
export interface VerifierError {
  readonly errno: number;
  readonly msg: string;
}

/** What the verifier needs to know about the program being loaded. */
export interface VerifierInput {
  readonly progType: number;
  readonly sleepable: boolean;
  readonly unsafe: boolean;
  readonly ast: OpProgram;
  readonly maps: readonly BpfMap[];
  readonly features: Features;
}

/** Result of bpf_check(): null when accepted; the verifier log either way. */
export interface VerifierResult {
  readonly error: VerifierError | null;
  /** Lines of the verifier log (warnings for accepted programs). */
  readonly log: string[];
}

/** The helpers the ops call: name, BPF_FUNC number, release that introduced it. */
const HELPERS: Readonly<Record<string, { name: string; id: number; since: number; sleepable?: boolean }>> = {
  lookup: { name: "bpf_map_lookup_elem", id: 1, since: 401 },
  update: { name: "bpf_map_update_elem", id: 2, since: 401 },
  delete: { name: "bpf_map_delete_elem", id: 3, since: 401 },
  inc: { name: "bpf_map_lookup_elem", id: 1, since: 401 },
  spin_lock: { name: "bpf_spin_lock", id: 93, since: 501 },
  spin_unlock: { name: "bpf_spin_unlock", id: 94, since: 501 },
  output: { name: "bpf_ringbuf_output", id: 130, since: 508 },
  reserve: { name: "bpf_ringbuf_reserve", id: 131, since: 508 },
  submit: { name: "bpf_ringbuf_submit", id: 132, since: 508 },
  discard: { name: "bpf_ringbuf_discard", id: 133, since: 508 },
  query: { name: "bpf_ringbuf_query", id: 134, since: 508 },
  copy_from_user: { name: "bpf_copy_from_user", id: 148, since: 510, sleepable: true },
};

/** Maps a program's map helpers accept (check_map_func_compatibility, for the simulated types). */
const ELEM_MAPS = new Set([
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
]);

/** is_tracing_prog_type() */
export function isTracingProgType(t: number): boolean {
  return t === BPF_PROG_TYPE_KPROBE || t === BPF_PROG_TYPE_TRACEPOINT || t === BPF_PROG_TYPE_PERF_EVENT ||
    t === BPF_PROG_TYPE_RAW_TRACEPOINT;
}

/** check_map_prealloc(): false for a hash map (or hash of maps) created with BPF_F_NO_PREALLOC. */
function mapPrealloc(m: BpfMap): boolean {
  const t = m.mapType;
  return (t !== BPF_MAP_TYPE_HASH && t !== BPF_MAP_TYPE_PERCPU_HASH && t !== BPF_MAP_TYPE_HASH_OF_MAPS) ||
    (m.mapFlags & BPF_F_NO_PREALLOC) === 0;
}

/** Where in the source an op is, for the log. */
function at(op: Op): string {
  return `op ${op.at.n} (line ${op.at.line})`;
}

/** Instructions processed for one op (as bpf_prog's size estimate does), for the complexity bound. */
const OP_INSNS = 6;
/** BPF_COMPLEXITY_LIMIT_INSNS */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** bpf_check() for an op-language program. */
export function bpf_check(v: VerifierInput): VerifierResult {
  const log: string[] = [];
  const f = v.features;
  const fail = (errno: number, msg: string): VerifierResult => ({ error: { errno, msg }, log: [...log, msg] });
  const mapOf = (op: Op): BpfMap | null => ("map" in op ? v.maps[op.map] : null);

  // helpers the release has, and map types each helper takes
  let bad: VerifierResult | null = null;
  walkOps(v.ast.ops, (op) => {
    if (bad) return;
    const h = HELPERS[op.op];
    if (h && f.version < h.since) {
      bad = fail(EINVAL, `${at(op)}: unknown func ${h.name}#${h.id}`);
      return;
    }
    if (op.op === "repeat" && f.version < 503) {
      bad = fail(EINVAL, `${at(op)}: back-edge from insn to loop head (bounded loops arrived in 5.3)`);
      return;
    }
    const m = mapOf(op);
    if (!m || !h) return;
    const isRb = m.mapType === BPF_MAP_TYPE_RINGBUF;
    const ok = op.op === "output" || op.op === "reserve" || op.op === "query"
      ? isRb
      : op.op === "lookup"
      ? ELEM_MAPS.has(m.mapType) || m.mapType === BPF_MAP_TYPE_ARRAY_OF_MAPS || m.mapType === BPF_MAP_TYPE_HASH_OF_MAPS
      : op.op === "spin_lock"
      ? m.mapType === BPF_MAP_TYPE_HASH || m.mapType === BPF_MAP_TYPE_ARRAY
      : ELEM_MAPS.has(m.mapType);
    if (!ok) {
      const queue = m.mapType === BPF_MAP_TYPE_QUEUE || m.mapType === BPF_MAP_TYPE_STACK;
      bad = fail(
        EINVAL,
        `${at(op)}: cannot pass map_type ${m.mapType} into func ${h.name}#${h.id}${
          queue ? " (queue/stack maps take push/pop/peek)" : ""
        }`,
      );
    }
  });
  if (bad) return bad;

  if (!v.unsafe) {
    // check_map_prog_compatibility()
    for (let i = 0; i < v.maps.length; i++) {
      const m = v.maps[i];
      const first = firstUse(v.ast, i);
      const where = first ? `${at(first)}: ` : "";
      if (!mapPrealloc(m)) {
        if (v.progType === BPF_PROG_TYPE_PERF_EVENT && f.verifierPerfPrealloc) {
          return fail(EINVAL, `${where}perf_event programs can only use preallocated hash map`);
        }
        if (isTracingProgType(v.progType) && f.version >= 507 && f.version < 601) {
          if (f.verifierRtPrealloc) {
            return fail(EINVAL, `${where}trace type programs can only use preallocated hash map`);
          }
          log.push(
            `${where}trace type programs with run-time allocated hash maps are unsafe. Switch to preallocated hash maps.`,
          );
        }
        if (v.sleepable && f.verifierSleepablePrealloc) {
          return fail(EINVAL, `${where}Sleepable programs can only use preallocated maps`);
        }
      }
    }
    const firstLock = findOp(v.ast.ops, (op) => op.op === "spin_lock");
    if (firstLock && isTracingProgType(v.progType)) {
      return fail(EINVAL, `${at(firstLock)}: tracing progs cannot use bpf_spin_lock yet`);
    }
    const sleepy = findOp(v.ast.ops, (op) => HELPERS[op.op]?.sleepable === true);
    if (sleepy && !v.sleepable) return fail(EINVAL, `${at(sleepy)}: helper call might sleep in a non-sleepable prog`);
    const flow = checkFlow(v.ast.ops);
    if (flow) return fail(flow.errno, flow.msg);
    const insns = processed(v.ast.ops);
    if (insns > BPF_COMPLEXITY_LIMIT_INSNS) {
      return fail(
        E2BIG,
        `BPF program is too large. Processed ${BPF_COMPLEXITY_LIMIT_INSNS + 1} insn (repeat counts multiply)`,
      );
    }
  }
  return { error: null, log };
}

/** Program types that may be loaded sleepable (bpf_prog_load_check_attach / check_attach_target). */
export function sleepableAllowed(progType: number): boolean {
  return progType === BPF_PROG_TYPE_TRACING || progType === BPF_PROG_TYPE_SYSCALL;
}

function findOp(ops: readonly Op[], pred: (op: Op) => boolean): Op | null {
  let found: Op | null = null;
  walkOps(ops, (op) => {
    if (!found && pred(op)) found = op;
  });
  return found;
}

function firstUse(p: OpProgram, map: number): Op | null {
  return findOp(p.ops, (op) => "map" in op && op.map === map);
}

/** Instructions the verifier would walk: ops times their enclosing repeat counts. */
function processed(ops: readonly Op[]): number {
  let n = 0;
  for (const op of ops) {
    if (op.op === "repeat") n += 2 + op.n * (processed(op.body) + 2);
    else if (op.op === "if") n += 1 + processed(op.body);
    else n += OP_INSNS;
    if (n > BPF_COMPLEXITY_LIMIT_INSNS) return n;
  }
  return n;
}

/** Register state the flow check tracks: the value pointer and the ring buffer record. */
interface Flow {
  /** none: no pointer; maybe: returned by a lookup, not NULL-checked; valid: checked. */
  ptr: "none" | "maybe" | "valid";
  /** The record of a reserve: none, maybe (not checked), held (checked, must be released). */
  rec: "none" | "maybe" | "held";
  /** The op that reserved it (for the leak message). */
  recOp: Op | null;
  /** Holding a bpf_spin_lock (the op that took it). */
  lock: Op | null;
}

/**
 * The value/record/lock rules on each path: `value`, `set` and `add` need a
 * NULL-checked pointer (inside `if ok` right after a lookup), `write`,
 * `submit` and `discard` a checked record, every reserved record must be
 * submitted or discarded, and nothing but value accesses may sit between
 * spin_lock and spin_unlock.
 */
function checkFlow(ops: readonly Op[]): VerifierError | null {
  let err: VerifierError | null = null;
  const walk = (list: readonly Op[], st: Flow): Flow => {
    for (const op of list) {
      if (err) return st;
      if (st.lock && op.op !== "set" && op.op !== "add" && op.op !== "spin_unlock" && op.op !== "if") {
        err = {
          errno: EINVAL,
          msg: op.op === "spin_lock"
            ? `${at(op)}: Locking two bpf_spin_locks are not allowed`
            : `${at(op)}: function calls are not allowed while holding a lock`,
        };
        return st;
      }
      const usesValue = exprUsesValue(op);
      if (usesValue && st.ptr !== "valid") {
        err = {
          errno: EACCES,
          msg: st.ptr === "maybe"
            ? `${at(op)}: R0 invalid mem access 'map_value_or_null' (check the lookup with 'if ok' first)`
            : `${at(op)}: R0 invalid mem access 'scalar' (no looked-up value here)`,
        };
        return st;
      }
      switch (op.op) {
        case "lookup":
          st = { ...st, ptr: "maybe" };
          break;
        case "inc":
        case "update":
        case "delete":
        case "output":
        case "query":
        case "copy_from_user":
          // helpers clobber r0..r5; a checked pointer lives on in a callee-saved register
          if (st.ptr === "maybe") st = { ...st, ptr: "none" };
          if (st.rec === "maybe") st = { ...st, rec: "none" };
          break;
        case "spin_lock":
          st = { ...st, ptr: "valid", lock: op };
          break;
        case "spin_unlock":
          if (!st.lock) {
            err = { errno: EINVAL, msg: `${at(op)}: bpf_spin_unlock without taking a lock` };
            return st;
          }
          st = { ...st, lock: null };
          break;
        case "reserve":
          if (st.rec === "held") {
            // a second reservation while one is held: both must be released; keep the first as the leak
            break;
          }
          st = { ...st, rec: "maybe", recOp: op };
          break;
        case "write":
        case "submit":
        case "discard":
          if (st.rec !== "held") {
            err = {
              errno: EACCES,
              msg: st.rec === "maybe"
                ? `${at(op)}: R1 type=ringbuf_mem_or_null expected=ringbuf_mem (check the reserve with 'if ok' first)`
                : `${at(op)}: R1 type=scalar expected=ringbuf_mem (no reserved record here)`,
            };
            return st;
          }
          if (op.op !== "write") st = { ...st, rec: "none", recOp: null };
          break;
        case "repeat": {
          const inner = walk(op.body, st);
          if (inner.rec === "held" && st.rec !== "held") {
            err = leak(inner.recOp!);
            return st;
          }
          if (inner.lock) {
            err = { errno: EINVAL, msg: `${at(inner.lock)}: bpf_spin_unlock is missing` };
            return st;
          }
          st = { ...st, ptr: inner.ptr === "valid" && st.ptr === "valid" ? "valid" : "none" };
          break;
        }
        case "if": {
          const taken: Flow = { ...st };
          if (op.cond === "ok") {
            if (st.ptr === "maybe") taken.ptr = "valid";
            if (st.rec === "maybe") taken.rec = "held";
          }
          const inner = walk(op.body, taken);
          if (inner.lock && !st.lock) {
            err = { errno: EINVAL, msg: `${at(inner.lock)}: bpf_spin_unlock is missing` };
            return st;
          }
          if (inner.rec === "held" && st.rec !== "held") {
            err = leak(inner.recOp!);
            return st;
          }
          // after the block: the fall-through path may still hold NULL
          st = { ...st, ptr: st.ptr === "valid" && inner.ptr === "valid" ? "valid" : "none", rec: st.rec };
          if (st.rec === "maybe") st.rec = "none";
          break;
        }
      }
    }
    return st;
  };
  const end = walk(ops, { ptr: "none", rec: "none", recOp: null, lock: null });
  if (err) return err;
  if (end.lock) return { errno: EINVAL, msg: `${at(end.lock)}: bpf_spin_unlock is missing` };
  if (end.rec === "held") return leak(end.recOp!);
  return null;
}

function leak(op: Op): VerifierError {
  return {
    errno: EINVAL,
    msg: `${at(op)}: Unreleased reference (the reserved record is never submitted or discarded)`,
  };
}

/** Whether an op reads or writes through the value pointer. */
function exprUsesValue(op: Op): boolean {
  if (op.op === "set" || op.op === "add") return true;
  let uses = false;
  const visit = (x: unknown) => {
    if (uses || x === null || typeof x !== "object") return;
    const e = x as { e?: string; name?: string };
    if (e.e === "var" && e.name === "value") {
      uses = true;
      return;
    }
    for (const v of Object.values(x as Record<string, unknown>)) if (v && typeof v === "object") visit(v);
  };
  for (const [key, x] of Object.entries(op)) if (key !== "body" && key !== "at") visit(x);
  return uses;
}
