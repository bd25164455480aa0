// kernel/bpf/verifier.c for instruction programs: the checks that keep the
// interpreter's assumptions true, with the kernel's messages and the index
// of the offending instruction. Not the full verifier; what it does:
//  - resolve_pseudo_ldimm64(): map fds and map values of ld_imm64, used maps;
//  - check_subprogs() and check_cfg(): jumps in range, each function ending
//    in exit/ja, no unreachable code, back-edges only on releases with
//    bounded loops (5.3+);
//  - do_check(): every path, with register types (scalar ranges, ctx, stack,
//    map pointers and values with NULL checks, packet pointers with the
//    ranges data_end comparisons prove, ring buffer records as references),
//    spilled registers on the stack, bpf-to-bpf frames; memory accesses
//    within bounds, helper arguments and availability, bpf_spin_lock
//    regions, reference leaks, bounded loops by exploring them (states
//    already explored are pruned, an identical state on the same path is an
//    infinite loop, BPF_COMPLEXITY_LIMIT_INSNS caps the work);
//  - convert_ctx_accesses(): xdp_md/__sk_buff data pointers become 64-bit
//    loads from the simulated xdp_buff/sk_buff (see prog_ctx.ts);
//  - check_max_stack_depth(): each function's stack, the combined depth.
// Scalar precision is tracked as plain signed ranges (no tnums, no
// precision backtracking), so pruning is weaker than the kernel's and a
// very branchy program can hit the complexity limit sooner.

import { E2BIG, EACCES, EBADF, EINVAL } from "../kernel/errno.ts";
import type { BpfMap } from "./map.ts";
import { bpf_map_kptr } from "./map_in_map.ts";
import { checkHelper, type FuncProto } from "./helper_protos.ts";
import { ctxAccess, type CtxRewrite } from "./prog_ctx.ts";
import { disasmInsn } from "./disasm.ts";
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_EXIT,
  BPF_FUNC,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MEMSX,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STX,
  bpfClass,
  type BpfInsn,
  bpfMode,
  bpfOp,
  bpfSrc,
  funcIdName,
  LD_IMM64,
  MAX_BPF_STACK,
  MAX_CALL_FRAMES,
  sizeBytes,
} from "./uapi_insn.ts";
import {
  BPF_F_RDONLY_PROG,
  BPF_F_WRONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_BLOOM_FILTER,
  BPF_MAP_TYPE_HASH_OF_MAPS,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_QUEUE,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_STACK,
} from "./uapi.ts";
import { BPF_PROG_TYPE_TRACING } from "./uapi_prog.ts";

/** BPF_COMPLEXITY_LIMIT_INSNS */
export const COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** What the verifier needs to know. */
export interface InsnVerifierInput {
  /** The instructions as loaded (map fds in ld_imm64). */
  readonly insns: readonly BpfInsn[];
  /** enum bpf_prog_type */
  readonly progType: number;
  /** expected_attach_type */
  readonly attachType: number;
  /** The release (major*100+minor) whose rules apply. */
  readonly version: number;
  /** license_is_gpl_compatible() */
  readonly gpl: boolean;
  /** fdget() + __bpf_map_get() of the loading process: the map or -errno. */
  readonly mapOfFd: (fd: number) => BpfMap | number;
  /** Bytes of ctx a syscall program may touch (BPF_PROG_TYPE_SYSCALL); others have their fixed ctx. */
  readonly ctxSize?: number;
}

/** A successful verification: what the loader and the interpreter need. */
export interface InsnVerifierOk {
  /** Accepted. */
  readonly ok: true;
  /** The instructions after rewriting (ctx conversions); ld_imm64 still hold fds. */
  readonly insns: BpfInsn[];
  /** used_maps, in first-use order. */
  readonly maps: BpfMap[];
  /** For each ld_imm64: the 64-bit value it loads (map pointer or value address; subprogram handle). */
  readonly ldValue: Map<number, { lo: number; hi: number }>;
  /** Stack bytes (rounded to 32) of the function each instruction is in. */
  readonly frameSize: Int32Array;
  /** Bytes of stack the deepest call chain needs. */
  readonly stackDepth: number;
  /** Loads of kernel pointers the kernel does as PROBE_MEM (a fault reads 0). */
  readonly probe: Uint8Array;
  /** Helper ids called. */
  readonly helpers: number[];
  /** Subprogram start instructions (0 first). */
  readonly subprogs: number[];
  /** The verifier log (the summary line). */
  readonly log: string[];
  /** Instructions processed. */
  readonly processed: number;
}

/** A rejection: errno and the log ending with the kernel's message. */
export interface InsnVerifierErr {
  /** Rejected. */
  readonly ok: false;
  /** Positive errno (EINVAL, EACCES, EBADF, E2BIG ...). */
  readonly errno: number;
  /** The verifier log; its last line is the reason. */
  readonly log: string[];
  /** The message alone. */
  readonly msg: string;
  /** Index of the instruction it is about (-1: the whole program). */
  readonly insn: number;
}

// ------------------------------------------------------------ register types

const NOT_INIT = 0,
  SCALAR = 1,
  CTX = 2,
  MAP_PTR = 3,
  MAP_VALUE = 4,
  STACK = 5,
  PKT = 6,
  PKT_END = 7,
  PKT_META = 8,
  MEM = 9,
  FUNC = 10,
  KPTR = 11;

const TYPE_STR = [
  "?",
  "scalar",
  "ctx",
  "map_ptr",
  "map_value",
  "fp",
  "pkt",
  "pkt_end",
  "pkt_meta",
  "mem",
  "func",
  "ptr_",
];

/** One register's abstract value. */
interface Reg {
  t: number;
  /** scalar: value range (signed); pointers: range of the variable part of the offset */
  min: number;
  max: number;
  /** pointers: the fixed offset */
  off: number;
  /** maybe NULL (map_value_or_null, ringbuf_mem_or_null) */
  nul: boolean;
  /** id shared by copies of a maybe-NULL pointer or packet pointers with the same variable part */
  id: number;
  /** ref_obj_id (ringbuf records) */
  ref: number;
  /** map (map_ptr, map_value) */
  map: BpfMap | null;
  /** mem size (ringbuf record) or subprogram (func) or frame (stack) */
  aux: number;
}

const UNKNOWN: Reg = { t: SCALAR, min: -Infinity, max: Infinity, off: 0, nul: false, id: 0, ref: 0, map: null, aux: 0 };
const UNINIT: Reg = { ...UNKNOWN, t: NOT_INIT };

function scalar(min: number, max: number): Reg {
  if (!(min <= max)) return { ...UNKNOWN };
  if (min < -(2 ** 63) || max > 2 ** 64) return { ...UNKNOWN };
  return { ...UNKNOWN, min, max };
}

function konst(v: number): Reg {
  return scalar(v, v);
}

function isConst(r: Reg): boolean {
  return r.t === SCALAR && r.min === r.max && Number.isFinite(r.min);
}

function typeStr(r: Reg): string {
  let s = TYPE_STR[r.t] ?? "?";
  if (r.t === MEM && r.ref) s = "ringbuf_mem";
  if (r.t === KPTR) s = "ptr_";
  return r.nul ? s + "_or_null" : s;
}

/** A stack slot (8 bytes). */
interface Slot {
  /** 0: misc data, 1: zero, 2: spilled register */
  k: number;
  reg: Reg | null;
  /** bytes of a spilled scalar narrower than 8 (a u32 counter): only a load of that size at the slot refills it */
  sz?: number;
}

interface Frame {
  regs: Reg[];
  stack: Map<number, Slot>;
  /** subprogram index */
  sub: number;
  /** the call instruction (caller frames) */
  callsite: number;
}

interface Checkpoint {
  branches: number;
  parent: Checkpoint | null;
}

interface State {
  frames: Frame[];
  /** held bpf_spin_lock: "map_id:off", or "" */
  lock: string;
  /** live references (ringbuf records): id -> alloc insn */
  refs: Map<number, number>;
  /** proven packet ranges by pointer id */
  pkt: Map<number, number>;
  parent: Checkpoint | null;
}

function cloneFrame(f: Frame): Frame {
  return {
    regs: f.regs.map((r) => ({ ...r })),
    stack: new Map([...f.stack].map(([k, v]) => [k, { k: v.k, reg: v.reg ? { ...v.reg } : null, sz: v.sz }])),
    sub: f.sub,
    callsite: f.callsite,
  };
}

function cloneState(s: State): State {
  return {
    frames: s.frames.map(cloneFrame),
    lock: s.lock,
    refs: new Map(s.refs),
    pkt: new Map(s.pkt),
    parent: s.parent,
  };
}

/** Thrown inside do_check to reject. */
class Reject extends Error {
  constructor(readonly errno: number, msg: string, readonly insn: number) {
    super(msg);
  }
}

// ------------------------------------------------------------------ checks

/** check_map_func_compatibility() for the simulated map types. */
function mapFuncCompatible(map: BpfMap, func: number): boolean {
  const t = map.mapType;
  switch (t) {
    case BPF_MAP_TYPE_PROG_ARRAY:
      return func === BPF_FUNC.tail_call;
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
      return func === BPF_FUNC.perf_event_output || func === 22 || func === 55 || func === 111 || func === 121;
    case BPF_MAP_TYPE_RINGBUF:
      return func === BPF_FUNC.ringbuf_output || func === BPF_FUNC.ringbuf_reserve || func === BPF_FUNC.ringbuf_query ||
        func === 198;
    case BPF_MAP_TYPE_QUEUE:
    case BPF_MAP_TYPE_STACK:
      return func === BPF_FUNC.map_push_elem || func === BPF_FUNC.map_pop_elem || func === BPF_FUNC.map_peek_elem;
    case BPF_MAP_TYPE_BLOOM_FILTER:
      return func === BPF_FUNC.map_push_elem || func === BPF_FUNC.map_peek_elem;
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
      return func === BPF_FUNC.map_lookup_elem;
  }
  // and the other direction: helpers that need a particular map type
  switch (func) {
    case BPF_FUNC.tail_call:
    case BPF_FUNC.perf_event_output:
    case BPF_FUNC.ringbuf_output:
    case BPF_FUNC.ringbuf_reserve:
    case BPF_FUNC.ringbuf_query:
    case BPF_FUNC.map_push_elem:
    case BPF_FUNC.map_pop_elem:
    case BPF_FUNC.map_peek_elem:
      return false;
  }
  return true;
}

/** Maps whose values a program may address directly (map_direct_value_addr). */
function directValueAddr(map: BpfMap, off: number): number | null {
  if (map.mapType !== BPF_MAP_TYPE_ARRAY || map.maxEntries !== 1) {
    if (map.mapType !== BPF_MAP_TYPE_ARRAY) return null;
  }
  const a = map as unknown as { valueAddr?: (i: number) => number };
  if (typeof a.valueAddr !== "function") return null;
  return a.valueAddr(0) + off;
}

/** Live registers before each instruction (a backward dataflow over the CFG, per register bit). */
function liveness(insns: readonly BpfInsn[], succ: number[][], protoArgs: (i: number) => number): Uint16Array {
  const n = insns.length;
  const use = new Uint16Array(n), def = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    const cls = bpfClass(x.code);
    const bit = (r: number) => 1 << r;
    if (x.code === LD_IMM64) {
      def[i] = bit(x.dst);
    } else if (cls === BPF_ALU || cls === BPF_ALU64) {
      const op = bpfOp(x.code);
      if (op === 0xb0) use[i] = bpfSrc(x.code) ? bit(x.src) : 0;
      else use[i] = bit(x.dst) | (bpfSrc(x.code) ? bit(x.src) : 0);
      def[i] = bit(x.dst);
    } else if (cls === BPF_LDX) {
      use[i] = bit(x.src);
      def[i] = bit(x.dst);
    } else if (cls === BPF_ST) {
      use[i] = bit(x.dst);
    } else if (cls === BPF_STX) {
      use[i] = bit(x.dst) | bit(x.src) | (bpfMode(x.code) === BPF_ATOMIC ? bit(0) : 0);
      if (bpfMode(x.code) === BPF_ATOMIC) def[i] = bit(0) | bit(x.src);
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      const op = bpfOp(x.code);
      if (op === BPF_CALL) {
        const na = x.src === BPF_PSEUDO_CALL ? 5 : protoArgs(x.imm);
        for (let r = 1; r <= na; r++) use[i] |= bit(r);
        def[i] = 0x3f; // r0-r5
      } else if (op === BPF_EXIT) {
        use[i] = bit(0) | 0x3c0; // r0 and the callee-saved registers a caller keeps
      } else if (op !== BPF_JA) {
        use[i] = bit(x.dst) | (bpfSrc(x.code) ? bit(x.src) : 0);
      }
    }
  }
  const live = new Uint16Array(n);
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      let out = 0;
      for (const s of succ[i]) out |= live[s];
      const inn = (use[i] | (out & ~def[i])) | 0x400; // r10 always live
      if (inn !== live[i]) {
        live[i] = inn;
        changed = true;
      }
    }
  }
  return live;
}

/**
 * bpf_check() for an instruction program: the result for the loader and the
 * interpreter, or the kernel's rejection.
 */
export function bpf_check_insns(v: InsnVerifierInput): InsnVerifierOk | InsnVerifierErr {
  const src = v.insns;
  const n = src.length;
  const insns: BpfInsn[] = src.map((x) => ({ ...x }));
  const log: string[] = [];
  const maps: BpfMap[] = [];
  const ldValue = new Map<number, { lo: number; hi: number }>();
  const probe = new Uint8Array(n);
  const helpers = new Set<number>();
  const ctxRewrites = new Map<number, CtxRewrite>();
  const fail = (errno: number, msg: string, insn: number): InsnVerifierErr => {
    const lines = [...log];
    if (insn >= 0 && insn < n) lines.push(`${insn}: ${disasmInsn(insns, insn)}`);
    lines.push(msg);
    return { ok: false, errno, log: lines, msg, insn };
  };
  if (n === 0) return fail(EINVAL, "empty program", -1);
  if (n > 1_000_000) return fail(E2BIG, `program of ${n} insns is too large`, -1);

  // ---------------------------------------------- resolve_pseudo_ldimm64()
  const useMap = (m: BpfMap) => {
    if (!maps.includes(m)) maps.push(m);
  };
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (bpfClass(x.code) === BPF_LDX && (bpfMode(x.code) !== BPF_MEM && bpfMode(x.code) !== BPF_MEMSX || x.imm !== 0)) {
      return fail(EINVAL, "BPF_LDX uses reserved fields", i);
    }
    if (x.code !== LD_IMM64) continue;
    if (i === n - 1 || insns[i + 1].code !== 0 || insns[i + 1].dst || insns[i + 1].src || insns[i + 1].off) {
      return fail(EINVAL, "invalid bpf_ld_imm64 insn", i);
    }
    const y = insns[i + 1];
    if (x.src === 0) {
      ldValue.set(i, { lo: x.imm, hi: y.imm });
    } else if (x.src === BPF_PSEUDO_FUNC) {
      ldValue.set(i, { lo: i + x.imm + 1, hi: 0x1ffffe });
    } else if (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE) {
      const m = v.mapOfFd(x.imm);
      if (typeof m === "number") return fail(EBADF, `fd ${x.imm} is not pointing to valid bpf_map`, i);
      useMap(m);
      let addr: number;
      if (x.src === BPF_PSEUDO_MAP_FD) {
        addr = bpf_map_kptr(m);
      } else {
        const off = y.imm >>> 0;
        const a = directValueAddr(m, off);
        if (a === null) return fail(EINVAL, "no direct value access support for this map type", i);
        if (off >= m.valueSize) {
          return fail(EINVAL, `invalid access to map value pointer, value_size=${m.valueSize} off=${off}`, i);
        }
        addr = a;
      }
      ldValue.set(i, { lo: addr % 4294967296 | 0, hi: Math.floor(addr / 4294967296) | 0 });
    } else {
      return fail(EINVAL, "unrecognized bpf_ld_imm64 insn", i);
    }
    i++;
  }

  // ---------------------------------------------- check_subprogs()
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (x.code === (BPF_JMP | BPF_CALL) && x.src === BPF_PSEUDO_CALL) {
      const t = i + x.imm + 1;
      if (t < 0 || t >= n) return fail(EINVAL, `function call to invalid destination`, i);
      starts.add(t);
    }
    if (x.code === LD_IMM64 && x.src === BPF_PSEUDO_FUNC) {
      const t = i + x.imm + 1;
      if (t < 0 || t >= n) return fail(EINVAL, `invalid subprog ${t}`, i);
      starts.add(t);
    }
    if (x.code === LD_IMM64) i++;
  }
  const subprogs = [...starts].sort((a, b) => a - b);
  const subOf = new Int32Array(n);
  for (let s = 0; s < subprogs.length; s++) {
    const end = s + 1 < subprogs.length ? subprogs[s + 1] : n;
    for (let i = subprogs[s]; i < end; i++) subOf[i] = s;
  }
  for (let s = 0; s < subprogs.length; s++) {
    const start = subprogs[s], end = s + 1 < subprogs.length ? subprogs[s + 1] : n;
    for (let i = start; i < end; i++) {
      const x = insns[i];
      const cls = bpfClass(x.code);
      if ((cls === BPF_JMP || cls === BPF_JMP32) && bpfOp(x.code) !== BPF_CALL && bpfOp(x.code) !== BPF_EXIT) {
        const t = i + 1 + (x.code === (BPF_JMP32 | BPF_JA) ? x.imm : x.off);
        if (t < start || t >= end) return fail(EINVAL, `jump out of range from insn ${i} to ${t}`, i);
      }
      if (x.code === LD_IMM64) i++;
    }
    const last = insns[end - 1];
    if (last.code !== (BPF_JMP | BPF_EXIT) && last.code !== (BPF_JMP | BPF_JA) && last.code !== (BPF_JMP32 | BPF_JA)) {
      return fail(EINVAL, "last insn is not an exit or jmp", end - 1);
    }
  }

  // ---------------------------------------------- check_cfg()
  const succ: number[][] = [];
  const pruneAt = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    const cls = bpfClass(x.code);
    if (x.code === LD_IMM64) {
      succ.push([i + 2]);
      succ.push([]);
      i++;
      continue;
    }
    if (cls === BPF_JMP || cls === BPF_JMP32) {
      const op = bpfOp(x.code);
      if (op === BPF_EXIT) succ.push([]);
      else if (op === BPF_CALL) {
        succ.push([i + 1]);
        pruneAt[i + 1] = 1;
      } else if (op === BPF_JA) {
        const t = i + 1 + (cls === BPF_JMP32 ? x.imm : x.off);
        succ.push([t]);
        pruneAt[t] = 1;
      } else {
        succ.push([i + 1, i + 1 + x.off]);
        pruneAt[i + 1] = 1;
        pruneAt[i + 1 + x.off] = 1;
      }
    } else succ.push([i + 1]);
  }
  const backEdge = new Uint8Array(n);
  {
    // iterative DFS per subprogram: back-edges and reachability
    const state = new Uint8Array(n); // 0 unvisited, 1 on stack, 2 done
    for (const s of subprogs) {
      if (state[s]) continue;
      const stack: [number, number][] = [[s, 0]];
      state[s] = 1;
      while (stack.length) {
        const top = stack[stack.length - 1];
        const [i, k] = top;
        const ss = succ[i];
        if (k >= ss.length) {
          state[i] = 2;
          stack.pop();
          continue;
        }
        top[1]++;
        const t = ss[k];
        if (t >= n) return fail(EINVAL, `jump out of range from insn ${i} to ${t}`, i);
        if (state[t] === 1) {
          if (v.version < 503) return fail(EINVAL, `back-edge from insn ${i} to ${t}`, i);
          backEdge[t] = 1;
          pruneAt[t] = 1;
        } else if (state[t] === 0) {
          state[t] = 1;
          stack.push([t, 0]);
        }
      }
    }
    for (let i = 0; i < n; i++) {
      if (state[i] === 0 && !(i > 0 && insns[i - 1].code === LD_IMM64 && state[i - 1] !== 0)) {
        return fail(EINVAL, `unreachable insn ${i}`, i);
      }
    }
  }

  const protoArgs = (id: number): number => {
    const c = checkHelper(id, v.progType, v.version, v.gpl);
    return c.ok ? c.proto.args.length : 5;
  };
  const live = liveness(insns, succ, protoArgs);

  // ---------------------------------------------- do_check()
  const stackDepth = new Int32Array(subprogs.length);
  const visited = new Map<number, { st: State; cp: Checkpoint; key: string }[]>();
  const ctxInfo = (reg: number, i: number, off: number, size: number, write: boolean): Reg => {
    const r = ctxAccess(v.progType, v.attachType, off, size, write, v.ctxSize ?? 0);
    if (r === null) throw new Reject(EACCES, `invalid bpf_context access off=${off} size=${size}`, i);
    if (r.rewrite) {
      const prev = ctxRewrites.get(i);
      if (prev && prev.off !== r.rewrite.off) {
        throw new Reject(EINVAL, "same insn cannot be used with different pointers", i);
      }
      ctxRewrites.set(i, r.rewrite);
    }
    void reg;
    switch (r.result) {
      case "pkt":
        return { ...UNKNOWN, t: PKT, min: 0, max: 0, off: 0, id: 0 };
      case "pkt_end":
        return { ...UNKNOWN, t: PKT_END, min: 0, max: 0 };
      case "pkt_meta":
        return { ...UNKNOWN, t: PKT_META, min: 0, max: 0 };
      case "kptr":
        return { ...UNKNOWN, t: KPTR, min: 0, max: 0 };
      default:
        return size === 8 ? { ...UNKNOWN } : scalar(0, 2 ** (8 * size) - 1);
    }
  };
  let processed = 0;
  let nextId = 1;
  const work: { st: State; pc: number }[] = [];
  const init: State = {
    frames: [{ regs: Array.from({ length: 11 }, () => ({ ...UNINIT })), stack: new Map(), sub: 0, callsite: -1 }],
    lock: "",
    refs: new Map(),
    pkt: new Map(),
    parent: null,
  };
  init.frames[0].regs[1] = { ...UNKNOWN, t: CTX, min: 0, max: 0 };
  init.frames[0].regs[10] = { ...UNKNOWN, t: STACK, min: 0, max: 0, aux: 0 };
  work.push({ st: init, pc: 0 });

  const endPath = (st: State) => {
    // update_branch_counts()
    let c = st.parent;
    while (c) {
      c.branches--;
      if (c.branches > 0) break;
      c = c.parent;
    }
  };

  try {
    while (work.length) {
      const item = work.pop()!;
      let st = item.st;
      let pc = item.pc;
      for (;;) {
        if (++processed > COMPLEXITY_LIMIT_INSNS) {
          throw new Reject(E2BIG, `BPF program is too large. Processed ${processed} insn`, pc);
        }
        if (pc >= n) throw new Reject(EINVAL, `jump out of range from insn ${pc - 1} to ${pc}`, pc - 1);
        if (pruneAt[pc]) {
          // is_state_visited()
          const list = visited.get(pc) ?? [];
          const liveBits = live[pc];
          let pruned = false;
          const loopKey = backEdge[pc] ? stateKey(st) : "";
          for (const old of list) {
            if (old.cp.branches !== 0) {
              // a state still being explored: the same state again is a loop that never ends
              if (loopKey && old.key === loopKey) throw new Reject(EINVAL, `infinite loop detected at insn ${pc}`, pc);
              continue;
            }
            if (stateCovers(old.st, st, liveBits)) {
              pruned = true;
              break;
            }
          }
          if (pruned) {
            endPath(st);
            break;
          }
          const cp: Checkpoint = { branches: 1, parent: st.parent };
          st.parent = cp;
          if (list.length < 64) list.push({ st: cloneState(st), cp, key: loopKey });
          else {
            // keep the newest states (the kernel's list is unbounded; this one is capped)
            list.shift();
            list.push({ st: cloneState(st), cp, key: loopKey });
          }
          visited.set(pc, list);
        }
        const r = step(st, pc);
        if (r === -1) {
          endPath(st);
          break;
        }
        if (typeof r === "number") {
          pc = r;
          continue;
        }
        // a branch: explore the fall-through later, the taken path now (as the kernel's push_stack)
        if (st.parent) st.parent.branches++;
        work.push({ st: r.other, pc: r.otherPc });
        st = r.st;
        pc = r.pc;
      }
    }
  } catch (e) {
    if (e instanceof Reject) return fail(e.errno, e.message, e.insn);
    throw e;
  }

  // ---------------------------------------------- check_max_stack_depth()
  const frameSize = new Int32Array(n);
  const rounded = Array.from(stackDepth, (d) => Math.ceil(Math.max(d, 1) / 32) * 32);
  for (let i = 0; i < n; i++) frameSize[i] = rounded[subOf[i]];
  // the deepest chain of calls
  const calls: number[][] = subprogs.map(() => []);
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (x.code === (BPF_JMP | BPF_CALL) && x.src === BPF_PSEUDO_CALL) {
      calls[subOf[i]].push(subprogs.indexOf(i + x.imm + 1));
    }
    if (x.code === LD_IMM64 && x.src === BPF_PSEUDO_FUNC) calls[subOf[i]].push(subprogs.indexOf(i + x.imm + 1));
  }
  let deepest = 0;
  const walk = (s: number, depth: number, frames: number): InsnVerifierErr | null => {
    const d = depth + rounded[s];
    if (frames > MAX_CALL_FRAMES) return fail(E2BIG, `the call stack of ${frames} frames is too deep !`, subprogs[s]);
    if (d > MAX_BPF_STACK) {
      return fail(EACCES, `combined stack size of ${frames} calls is ${d}. Too large`, subprogs[s]);
    }
    deepest = Math.max(deepest, d);
    for (const c of calls[s]) {
      const e = walk(c, d, frames + 1);
      if (e) return e;
    }
    return null;
  };
  const err = walk(0, 0, 1);
  if (err) return err;
  for (const [i, rw] of ctxRewrites) {
    insns[i] = { ...insns[i], code: rw.code || insns[i].code, off: rw.off };
  }
  log.push(
    `processed ${processed} insns (limit ${COMPLEXITY_LIMIT_INSNS}) max_states_per_insn ${maxStates()} total_states ${totalStates()}`,
  );
  return {
    ok: true,
    insns,
    maps,
    ldValue,
    frameSize,
    stackDepth: Math.max(deepest, helpers.has(BPF_FUNC.tail_call) ? MAX_BPF_STACK : 0),
    probe,
    helpers: [...helpers],
    subprogs,
    log,
    processed,
  };

  function maxStates(): number {
    let m = 0;
    for (const l of visited.values()) m = Math.max(m, l.length);
    return m;
  }

  function totalStates(): number {
    let t = 0;
    for (const l of visited.values()) t += l.length;
    return t;
  }

  // ------------------------------------------------------------ one insn

  /** Verifies insn `pc` in `st`; returns the next pc, -1 at the end of a path, or a branch. */
  function step(st: State, pc: number): number | { st: State; pc: number; other: State; otherPc: number } {
    const x = insns[pc];
    const cls = bpfClass(x.code);
    const f = st.frames[st.frames.length - 1];
    const regs = f.regs;
    const rd = (r: number): Reg => {
      if (r > 10) throw new Reject(EINVAL, `R${r} is invalid`, pc);
      const g = regs[r];
      if (g.t === NOT_INIT) throw new Reject(EACCES, `R${r} !read_ok`, pc);
      return g;
    };
    const wr = (r: number, val: Reg) => {
      if (r === 10) throw new Reject(EACCES, "frame pointer is read only", pc);
      if (r > 10) throw new Reject(EINVAL, `R${r} is invalid`, pc);
      regs[r] = val;
    };

    if (cls === BPF_ALU || cls === BPF_ALU64) {
      aluOp(x, cls === BPF_ALU64, rd, wr, pc);
      return pc + 1;
    }
    if (x.code === LD_IMM64) {
      const val = ldValue.get(pc)!;
      if (x.src === BPF_PSEUDO_MAP_FD) {
        wr(x.dst, { ...UNKNOWN, t: MAP_PTR, min: 0, max: 0, map: v.mapOfFd(x.imm) as BpfMap });
      } else if (x.src === BPF_PSEUDO_MAP_VALUE) {
        wr(x.dst, {
          ...UNKNOWN,
          t: MAP_VALUE,
          min: 0,
          max: 0,
          off: insns[pc + 1].imm,
          map: v.mapOfFd(x.imm) as BpfMap,
        });
      } else if (x.src === BPF_PSEUDO_FUNC) wr(x.dst, { ...UNKNOWN, t: FUNC, min: 0, max: 0, aux: val.lo });
      else {
        const num = val.hi * 4294967296 + (val.lo >>> 0);
        wr(x.dst, Math.abs(num) < 2 ** 53 ? konst(num) : { ...UNKNOWN });
      }
      return pc + 2;
    }
    if (cls === BPF_LD) throw new Reject(EINVAL, "BPF_LD_[ABS|IND] instructions not allowed for this program type", pc);
    if (cls === BPF_LDX) {
      const size = sizeBytes(x.code);
      const base = rd(x.src);
      const val = memAccess(st, pc, x.src, base, x.off, size, false, null);
      let out = val;
      if (bpfMode(x.code) === BPF_MEMSX && out.t === SCALAR) {
        out = scalar(-(2 ** (8 * size - 1)), 2 ** (8 * size - 1) - 1);
      }
      wr(x.dst, out);
      return pc + 1;
    }
    if (cls === BPF_ST || cls === BPF_STX) {
      const size = sizeBytes(x.code);
      const base = rd(x.dst);
      if (cls === BPF_STX && bpfMode(x.code) === BPF_ATOMIC) {
        const val = rd(x.src);
        if (val.t !== SCALAR) throw new Reject(EACCES, `R${x.src} leaks addr into mem`, pc);
        if (size !== 4 && size !== 8) throw new Reject(EINVAL, "invalid atomic operand size", pc);
        if (base.t === CTX || base.t === PKT || base.t === PKT_META) {
          throw new Reject(EACCES, `BPF_ATOMIC stores into R${x.dst} ${typeStr(base)} is not allowed`, pc);
        }
        memAccess(st, pc, x.dst, base, x.off, size, false, null);
        memAccess(st, pc, x.dst, base, x.off, size, true, { ...UNKNOWN });
        const op = x.imm;
        if (op === 0xf1) regs[0] = { ...UNKNOWN }; // cmpxchg
        else if (op & 1) regs[x.src] = size === 8 ? { ...UNKNOWN } : scalar(0, 4294967295);
        return pc + 1;
      }
      if (bpfMode(x.code) !== BPF_MEM) throw new Reject(EINVAL, `unknown opcode ${hex2(x.code)}`, pc);
      const val = cls === BPF_STX ? rd(x.src) : konst(x.imm);
      memAccess(st, pc, x.dst, base, x.off, size, true, val);
      return pc + 1;
    }
    if (cls === BPF_JMP || cls === BPF_JMP32) {
      const op = bpfOp(x.code);
      if (op === BPF_CALL) return call(st, pc, x);
      if (op === BPF_EXIT) return exit(st, pc);
      if (op === BPF_JA) return pc + 1 + (cls === BPF_JMP32 ? x.imm : x.off);
      if (op === 0xe0) return pc + 1; // may_goto: falls through here; the counter bounds it
      return cond(st, pc, x, cls === BPF_JMP32);
    }
    throw new Reject(EINVAL, `unknown opcode ${hex2(x.code)}`, pc);
  }

  function aluOp(x: BpfInsn, is64: boolean, rd: (r: number) => Reg, wr: (r: number, v: Reg) => void, pc: number): void {
    const op = bpfOp(x.code);
    const useSrc = bpfSrc(x.code) !== 0;
    // check_alu_op(): constant operands the ISA does not define
    if (!useSrc && (op === 0x30 || op === 0x90) && x.imm === 0) throw new Reject(EINVAL, "div by zero", pc);
    if (!useSrc && (op === 0x60 || op === 0x70 || op === 0xc0) && (x.imm < 0 || x.imm >= (is64 ? 64 : 32))) {
      throw new Reject(EINVAL, `invalid shift ${x.imm}`, pc);
    }
    if (op === 0xd0) {
      // BPF_END
      const d = rd(x.dst);
      if (d.t !== SCALAR) throw new Reject(EACCES, `R${x.dst} pointer arithmetic prohibited`, pc);
      wr(x.dst, x.imm === 16 ? scalar(0, 0xffff) : x.imm === 32 ? scalar(0, 4294967295) : { ...UNKNOWN });
      return;
    }
    if (op === 0x80) {
      // BPF_NEG
      if (useSrc || x.src || x.off || x.imm) throw new Reject(EINVAL, "BPF_NEG uses reserved fields", pc);
      const d = rd(x.dst);
      if (d.t !== SCALAR) throw new Reject(EACCES, `R${x.dst} pointer arithmetic on ${typeStr(d)} prohibited`, pc);
      wr(x.dst, is64 ? scalar(-d.max, -d.min) : isConst(d) ? konst((-d.min) >>> 0) : scalar(0, 4294967295));
      return;
    }
    if (op === 0xb0) {
      // BPF_MOV
      if (useSrc) {
        const s = rd(x.src);
        if (x.off === 0) {
          if (is64) wr(x.dst, { ...s });
          else if (s.t !== SCALAR) wr(x.dst, { ...UNKNOWN, min: 0, max: 4294967295 }); // 32-bit copy of a pointer: a scalar
          else wr(x.dst, trunc32(s));
        } else {
          if (s.t !== SCALAR && !(is64 && x.off === 1)) {
            throw new Reject(EACCES, `R${x.src} sign-extension part of pointer`, pc);
          }
          const w = x.off;
          if (is64 && x.off === 1) wr(x.dst, { ...s });
          else if (isConst(s)) {
            const t = w === 8 ? (s.min << 24) >> 24 : w === 16 ? (s.min << 16) >> 16 : s.min | 0;
            wr(x.dst, konst(is64 ? t : t >>> 0));
          } else wr(x.dst, is64 ? scalar(-(2 ** (w - 1)), 2 ** (w - 1) - 1) : scalar(0, 4294967295));
        }
      } else {
        wr(x.dst, konst(is64 ? x.imm : x.imm >>> 0));
      }
      return;
    }
    let d = rd(x.dst);
    let s = useSrc ? rd(x.src) : konst(x.imm);
    // a maybe-pointer (a traced function's argument): offsets keep it one, anything else makes it a number
    if (d.t === KPTR && is64 && (op === 0x00 || op === 0x10) && s.t === SCALAR) {
      wr(x.dst, { ...d });
      return;
    }
    if (d.t === KPTR) d = { ...UNKNOWN };
    if (s.t === KPTR) s = { ...UNKNOWN };
    if (d.t !== SCALAR || s.t !== SCALAR) {
      wr(x.dst, ptrArith(x, is64, op, d, s, pc));
      return;
    }
    let r: Reg;
    const c = isConst(d) && isConst(s);
    switch (op) {
      case 0x00:
        r = c && !is64 ? konst((d.min + s.min) >>> 0) : scalar(d.min + s.min, d.max + s.max);
        break;
      case 0x10:
        r = c && !is64 ? konst((d.min - s.min) >>> 0) : scalar(d.min - s.max, d.max - s.min);
        break;
      case 0x20:
        if (c) r = konst(is64 ? d.min * s.min : Math.imul(d.min, s.min) >>> 0);
        else if (d.min >= 0 && s.min >= 0) r = scalar(d.min * s.min, d.max * s.max);
        else r = { ...UNKNOWN };
        break;
      case 0x30: // div
        if (c) r = konst(s.min === 0 ? 0 : Math.trunc(d.min / s.min));
        else if (isConst(s) && s.min > 0 && d.min >= 0) {
          r = scalar(Math.floor(d.min / s.min), Math.floor(d.max / s.min));
        } else r = d.min >= 0 ? scalar(0, d.max) : { ...UNKNOWN };
        break;
      case 0x90: // mod
        if (c) r = konst(s.min === 0 ? d.min : d.min % s.min);
        else if (isConst(s) && s.min > 0 && d.min >= 0 && x.off === 0) r = scalar(0, Math.min(d.max, s.min - 1));
        else r = { ...UNKNOWN };
        break;
      case 0x50: // and
        if (c) r = konst(bitop(d.min, s.min, "&"));
        else if (isConst(s) && s.min >= 0) r = scalar(0, d.min >= 0 ? Math.min(s.min, d.max) : s.min);
        else if (isConst(d) && d.min >= 0) r = scalar(0, s.min >= 0 ? Math.min(d.min, s.max) : d.min);
        else if (d.min >= 0 || s.min >= 0) {
          r = scalar(0, Math.min(d.min >= 0 ? d.max : Infinity, s.min >= 0 ? s.max : Infinity));
        } else r = { ...UNKNOWN };
        break;
      case 0x40: // or
      case 0xa0: // xor
        if (c) r = konst(bitop(d.min, s.min, op === 0x40 ? "|" : "^"));
        else if (d.min >= 0 && s.min >= 0 && Number.isFinite(d.max) && Number.isFinite(s.max)) {
          r = scalar(0, 2 ** Math.ceil(Math.log2(Math.max(d.max, s.max) + 1)) - 1);
        } else r = { ...UNKNOWN };
        break;
      case 0x60: // lsh
        if (isConst(s) && d.min >= 0 && Number.isFinite(d.max) && d.max * 2 ** s.min < 2 ** 53) {
          r = scalar(d.min * 2 ** s.min, d.max * 2 ** s.min);
        } else r = { ...UNKNOWN };
        break;
      case 0x70: // rsh
        if (isConst(s) && d.min >= 0) r = scalar(Math.floor(d.min / 2 ** s.min), Math.floor(d.max / 2 ** s.min));
        else if (isConst(s) && s.min > 0) r = scalar(0, 2 ** ((is64 ? 64 : 32) - s.min) - 1);
        else r = { ...UNKNOWN };
        break;
      case 0xc0: // arsh
        if (isConst(s)) r = scalar(Math.floor(d.min / 2 ** s.min), Math.floor(d.max / 2 ** s.min));
        else r = { ...UNKNOWN };
        break;
      default:
        throw new Reject(EINVAL, `invalid BPF_ALU opcode ${(op >> 4).toString(16)}`, pc);
    }
    wr(x.dst, is64 ? r : trunc32(r));
  }

  function trunc32(r: Reg): Reg {
    if (r.t !== SCALAR) return { ...UNKNOWN, min: 0, max: 4294967295 };
    if (isConst(r)) return konst(Number(BigInt.asUintN(32, BigInt(Math.trunc(r.min)))));
    if (r.min >= 0 && r.max <= 4294967295) return { ...r };
    return scalar(0, 4294967295);
  }

  function ptrArith(x: BpfInsn, is64: boolean, op: number, d: Reg, s: Reg, pc: number): Reg {
    if (!is64) throw new Reject(EACCES, `R${x.dst} 32-bit pointer arithmetic prohibited`, pc);
    if (d.t !== SCALAR && s.t !== SCALAR) {
      // pointer - pointer: a number for privileged programs (env->allow_ptr_leaks)
      if (op === 0x10) return { ...UNKNOWN };
      throw new Reject(EACCES, `R${x.dst} pointer ${op === 0x00 ? "+=" : "-="} pointer prohibited`, pc);
    }
    const ptr = d.t !== SCALAR ? d : s;
    const sc = d.t !== SCALAR ? s : d;
    if (op !== 0x00 && !(op === 0x10 && d.t !== SCALAR)) {
      if (op === 0x50 || op === 0x40 || op === 0xa0) {
        throw new Reject(
          EACCES,
          `R${x.dst} bitwise operator ${op === 0x50 ? "&=" : op === 0x40 ? "|=" : "^="} on pointer prohibited`,
          pc,
        );
      }
      throw new Reject(EACCES, `R${x.dst} pointer arithmetic with ${aluName(op)} operator prohibited`, pc);
    }
    if (ptr.nul) {
      throw new Reject(EACCES, `R${x.dst} pointer arithmetic on ${typeStr(ptr)} prohibited, null-check it first`, pc);
    }
    if (ptr.t === MAP_PTR || ptr.t === PKT_END || ptr.t === FUNC || ptr.t === CTX && !isConst(sc)) {
      throw new Reject(EACCES, `R${x.dst} pointer arithmetic on ${typeStr(ptr)} prohibited`, pc);
    }
    const neg = op === 0x10;
    const r: Reg = { ...ptr };
    if (ptr.t === KPTR) return { ...ptr };
    if (isConst(sc)) {
      r.off = ptr.off + (neg ? -sc.min : sc.min);
    } else {
      r.min = ptr.min + (neg ? -sc.max : sc.min);
      r.max = ptr.max + (neg ? -sc.min : sc.max);
      if (ptr.t === PKT) r.id = nextId++;
    }
    if (!Number.isFinite(r.off) || Math.abs(r.off) > 1 << 29) {
      throw new Reject(EACCES, `R${x.dst} pointer offset ${r.off} is not allowed`, pc);
    }
    return r;
  }

  /** check_mem_access(): reads return the loaded value's type. */
  function memAccess(
    st: State,
    pc: number,
    regno: number,
    base: Reg,
    off: number,
    size: number,
    write: boolean,
    val: Reg | null,
  ): Reg {
    const total = base.off + off;
    switch (base.t) {
      case STACK: {
        const fr = st.frames[base.aux];
        if (!Number.isFinite(base.min) || !Number.isFinite(base.max)) {
          throw new Reject(EACCES, `R${regno} unbounded indirect variable offset stack access`, pc);
        }
        const lo = total + base.min, hi = total + base.max;
        if (lo < -MAX_BPF_STACK || hi + size > 0) {
          throw new Reject(
            EACCES,
            `invalid ${write ? "write to" : "read from"} stack R${regno} off=${total} size=${size}`,
            pc,
          );
        }
        const sub = fr.sub;
        stackDepth[sub] = Math.max(stackDepth[sub], -lo);
        if (base.min !== base.max) {
          // variable offset: the slots become misc on writes, reads are unknown
          if (write) { for (let a = lo; a < hi + size; a += 8) fr.stack.set(Math.floor(a / 8), { k: 0, reg: null }); }
          return write ? UNKNOWN : { ...UNKNOWN };
        }
        const slot = Math.floor(lo / 8);
        if (write) {
          if (size === 8 && lo % 8 === 0 && val !== null) {
            fr.stack.set(
              slot,
              val.t === SCALAR && isConst(val) && val.min === 0 ? { k: 1, reg: { ...val } } : { k: 2, reg: { ...val } },
            );
          } else if (lo % 8 === 0 && val !== null && val.t === SCALAR && val.min >= 0 && val.max < 2 ** (8 * size)) {
            // a bounded scalar narrower than 8 bytes is spilled too (its refill must have the same size)
            fr.stack.set(slot, { k: 2, reg: { ...val }, sz: size });
          } else {
            if (val !== null && val.t !== SCALAR) {
              throw new Reject(EACCES, "attempt to corrupt spilled pointer on stack", pc);
            }
            for (let a = lo; a < lo + size; a++) {
              const s = Math.floor(a / 8);
              const old = fr.stack.get(s);
              fr.stack.set(s, { k: old && old.k === 1 && val && isConst(val) && val.min === 0 ? 1 : 0, reg: null });
            }
          }
          return UNKNOWN;
        }
        const sl = fr.stack.get(slot);
        if (sl && sl.k === 2 && sl.reg && sl.sz) {
          if (lo % 8 === 0 && size === sl.sz) return { ...sl.reg };
          return size === 8 ? { ...UNKNOWN } : scalar(0, 2 ** (8 * size) - 1);
        }
        if (sl && sl.k === 2 && sl.reg) {
          if (size === 8 && lo % 8 === 0) return { ...sl.reg };
          if (sl.reg.t !== SCALAR) throw new Reject(EACCES, `invalid size of register fill`, pc);
          return size === 4 || size === 2 || size === 1 ? scalar(0, 2 ** (8 * size) - 1) : { ...UNKNOWN };
        }
        if (sl && sl.k === 1) return konst(0);
        // privileged programs may read uninitialized stack (allow_uninit_stack)
        return size === 8 ? { ...UNKNOWN } : scalar(0, 2 ** (8 * size) - 1);
      }
      case CTX: {
        if (base.off !== 0 || base.min !== 0 || base.max !== 0) {
          throw new Reject(EACCES, `dereference of modified ctx ptr R${regno} off=${base.off} disallowed`, pc);
        }
        return ctxInfo(regno, pc, off, size, write);
      }
      case MAP_VALUE: {
        if (base.nul) throw new Reject(EACCES, `R${regno} invalid mem access '${typeStr(base)}'`, pc);
        const m = base.map!;
        if (write && (m.mapFlags & BPF_F_RDONLY_PROG)) {
          throw new Reject(EACCES, `write into map forbidden, value_size=${m.valueSize} off=${total} size=${size}`, pc);
        }
        if (!write && (m.mapFlags & BPF_F_WRONLY_PROG)) {
          throw new Reject(EACCES, `read from map forbidden, value_size=${m.valueSize} off=${total} size=${size}`, pc);
        }
        checkRange(
          pc,
          regno,
          base,
          off,
          size,
          m.valueSize,
          (o) => `invalid access to map value, value_size=${m.valueSize} off=${o} size=${size}`,
        );
        if (write && val && val.t !== SCALAR) return UNKNOWN; // pointers may be stored by privileged programs
        return size === 8 ? { ...UNKNOWN } : scalar(0, 2 ** (8 * size) - 1);
      }
      case MEM: {
        if (base.nul) throw new Reject(EACCES, `R${regno} invalid mem access '${typeStr(base)}'`, pc);
        checkRange(
          pc,
          regno,
          base,
          off,
          size,
          base.aux,
          (o) => `invalid access to memory, mem_size=${base.aux} off=${o} size=${size}`,
        );
        return size === 8 ? { ...UNKNOWN } : scalar(0, 2 ** (8 * size) - 1);
      }
      case PKT:
      case PKT_META: {
        const range = st.pkt.get(base.id) ?? 0;
        const lo = total + base.min, hi = total + base.max;
        if (lo < 0 || hi + size > range || !Number.isFinite(hi)) {
          throw new Reject(
            EACCES,
            `invalid access to packet, off=${total} size=${size}, R${regno}(id=${base.id},off=${base.off},r=${range})`,
            pc,
          );
        }
        return size === 8 ? { ...UNKNOWN } : scalar(0, 2 ** (8 * size) - 1);
      }
      case KPTR: {
        if (write) throw new Reject(EACCES, `only read is supported`, pc);
        probe[pc] = 1;
        return size === 8 ? { ...UNKNOWN, t: KPTR, min: 0, max: 0 } : scalar(0, 2 ** (8 * size) - 1);
      }
      default:
        throw new Reject(EACCES, `R${regno} invalid mem access '${typeStr(base)}'`, pc);
    }
  }

  function checkRange(
    pc: number,
    regno: number,
    base: Reg,
    off: number,
    size: number,
    limit: number,
    msg: (o: number) => string,
  ): void {
    const total = base.off + off;
    if (base.min !== base.max || base.min !== 0) {
      // check_mem_region_access()
      if (base.min < 0 && base.min + total < 0) {
        throw new Reject(
          EACCES,
          `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`,
          pc,
        );
      }
      if (base.min + total < 0 || base.min + total + size > limit) {
        throw new Reject(EACCES, `R${regno} min value is outside of the allowed memory range`, pc);
      }
      // BPF_MAX_VAR_OFF
      if (!Number.isFinite(base.max) || base.max >= 2 ** 29) {
        throw new Reject(EACCES, `R${regno} unbounded memory access, make sure to bounds check any such access`, pc);
      }
      if (base.max + total + size > limit) {
        throw new Reject(EACCES, `R${regno} max value is outside of the allowed memory range`, pc);
      }
      return;
    }
    if (total < 0 || total + size > limit) throw new Reject(EACCES, msg(total), pc);
  }

  /** Size of memory a pointer argument may address from where it points (for helper memory arguments). */
  function checkHelperMem(st: State, pc: number, regno: number, r: Reg, size: number, write: boolean): void {
    if (size === 0) return;
    if (r.t === SCALAR && isConst(r) && r.min === 0) throw new Reject(EACCES, `R${regno} type=scalar expected=fp`, pc);
    if (r.t === STACK) {
      const fr = st.frames[r.aux];
      const lo = r.off + r.min, hi = r.off + r.max;
      if (lo < -MAX_BPF_STACK || hi + size > 0) {
        throw new Reject(EACCES, `invalid indirect access to stack R${regno} off=${r.off} size=${size}`, pc);
      }
      stackDepth[fr.sub] = Math.max(stackDepth[fr.sub], -lo);
      if (write) { for (let a = lo; a < hi + size; a++) fr.stack.set(Math.floor(a / 8), { k: 0, reg: null }); }
      return;
    }
    if (r.t === MAP_VALUE || r.t === MEM || r.t === PKT || r.t === PKT_META) {
      memAccessRange(st, pc, regno, r, size, write);
      return;
    }
    if (r.t === CTX && v.progType === 31) return;
    throw new Reject(EACCES, `R${regno} type=${typeStr(r)} expected=fp, pkt, pkt_meta, map_key, map_value, mem`, pc);
  }

  function memAccessRange(st: State, pc: number, regno: number, r: Reg, size: number, write: boolean): void {
    // a helper touches [off, off+size): check as one access of `size` bytes (sizes beyond 8 are fine here)
    if (r.nul) throw new Reject(EACCES, `R${regno} invalid mem access '${typeStr(r)}'`, pc);
    if (r.t === MAP_VALUE) {
      const m = r.map!;
      if (write && (m.mapFlags & BPF_F_RDONLY_PROG)) {
        throw new Reject(EACCES, `write into map forbidden, value_size=${m.valueSize} off=${r.off} size=${size}`, pc);
      }
      checkRange(
        pc,
        regno,
        r,
        0,
        size,
        m.valueSize,
        (o) => `invalid access to map value, value_size=${m.valueSize} off=${o} size=${size}`,
      );
    } else if (r.t === MEM) {
      checkRange(
        pc,
        regno,
        r,
        0,
        size,
        r.aux,
        (o) => `invalid access to memory, mem_size=${r.aux} off=${o} size=${size}`,
      );
    } else {
      const range = st.pkt.get(r.id) ?? 0;
      if (r.off + r.min < 0 || r.off + r.max + size > range) {
        throw new Reject(
          EACCES,
          `invalid access to packet, off=${r.off} size=${size}, R${regno}(id=${r.id},off=${r.off},r=${range})`,
          pc,
        );
      }
    }
  }

  // ------------------------------------------------------------ calls

  function call(st: State, pc: number, x: BpfInsn): number {
    const f = st.frames[st.frames.length - 1];
    const regs = f.regs;
    if (x.src === BPF_PSEUDO_CALL) {
      if (st.lock) throw new Reject(EINVAL, "function calls are not allowed while holding a lock", pc);
      if (st.frames.length >= MAX_CALL_FRAMES) {
        throw new Reject(E2BIG, `the call stack of ${st.frames.length + 1} frames is too deep`, pc);
      }
      const target = pc + x.imm + 1;
      const callee: Frame = {
        regs: Array.from({ length: 11 }, () => ({ ...UNINIT })),
        stack: new Map(),
        sub: subprogs.indexOf(target),
        callsite: pc,
      };
      for (let r = 1; r <= 5; r++) callee.regs[r] = { ...regs[r] };
      callee.regs[10] = { ...UNKNOWN, t: STACK, min: 0, max: 0, aux: st.frames.length };
      st.frames.push(callee);
      return target;
    }
    if (x.src !== 0) throw new Reject(EINVAL, `calling kernel functions is not supported by bpfsim`, pc);
    const id = x.imm;
    const chk = checkHelper(id, v.progType, v.version, v.gpl);
    if (!chk.ok) throw new Reject(chk.msg.startsWith("cannot call GPL") ? EINVAL : EINVAL, chk.msg, pc);
    const proto: FuncProto = chk.proto;
    helpers.add(id);
    if (st.lock && id !== BPF_FUNC.spin_unlock) {
      throw new Reject(EINVAL, "function calls are not allowed while holding a lock", pc);
    }
    let map: BpfMap | null = null;
    let allocSize = -1;
    let release = 0;
    for (let a = 0; a < proto.args.length; a++) {
      const regno = a + 1;
      const t = proto.args[a];
      const r = regs[regno];
      if (r.t === NOT_INIT) throw new Reject(EACCES, `R${regno} !read_ok`, pc);
      const expect = (ok: boolean, what: string) => {
        if (!ok) throw new Reject(EACCES, `R${regno} type=${typeStr(r)} expected=${what}`, pc);
      };
      switch (t) {
        case "const_map_ptr":
          expect(r.t === MAP_PTR, "map_ptr");
          map = r.map;
          if (map && !mapFuncCompatible(map, id)) {
            throw new Reject(EINVAL, `cannot pass map_type ${map.mapType} into func ${funcIdName(id)}#${id}`, pc);
          }
          break;
        case "ptr_to_map_key":
          checkHelperMem(st, pc, regno, r, map!.keySize, false);
          break;
        case "ptr_to_map_value":
          checkHelperMem(st, pc, regno, r, map!.valueSize, false);
          break;
        case "ptr_to_uninit_map_value":
          checkHelperMem(st, pc, regno, r, map!.valueSize, true);
          break;
        case "ptr_to_mem":
        case "ptr_to_uninit_mem": {
          const sz = regs[regno + 1];
          if (sz.t !== SCALAR) throw new Reject(EACCES, `R${regno + 1} type=${typeStr(sz)} expected=scalar`, pc);
          if (sz.min < 0) {
            throw new Reject(EACCES, `R${regno + 1} min value is negative, either use unsigned or 'var &= const'`, pc);
          }
          if (!Number.isFinite(sz.max)) {
            throw new Reject(
              EACCES,
              `R${regno + 1} unbounded memory access, use 'var &= const' or 'if (var < const)'`,
              pc,
            );
          }
          if (r.t === SCALAR && isConst(r) && r.min === 0 && sz.max === 0) break;
          checkHelperMem(st, pc, regno, r, sz.max, t === "ptr_to_uninit_mem");
          break;
        }
        case "const_size":
        case "const_size_or_zero":
          expect(r.t === SCALAR, "scalar");
          if (t === "const_size" && r.max === 0) throw new Reject(EACCES, `invalid zero-sized read`, pc);
          break;
        case "ptr_to_ctx":
          expect(r.t === CTX, "ctx");
          break;
        case "ptr_to_spin_lock": {
          expect(r.t === MAP_VALUE && !r.nul, "map_value");
          if (!isConst({ ...r, t: SCALAR, min: r.min, max: r.max })) {
            throw new Reject(
              EACCES,
              `R${regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset`,
              pc,
            );
          }
          const key = `${r.map!.id}:${r.off + r.min}`;
          if (id === BPF_FUNC.spin_lock) {
            if (st.lock) throw new Reject(EINVAL, "Locking two bpf_spin_locks are not allowed", pc);
            st.lock = key;
          } else {
            if (!st.lock) throw new Reject(EINVAL, "bpf_spin_unlock without taking a lock", pc);
            if (st.lock !== key) throw new Reject(EINVAL, "bpf_spin_unlock of different lock", pc);
            st.lock = "";
          }
          break;
        }
        case "ptr_to_func":
          expect(r.t === FUNC, "func");
          verifyCallback(st, pc, r.aux, regs[3]);
          break;
        case "ptr_to_stack_or_null":
          expect(r.t === STACK || (r.t === SCALAR && isConst(r) && r.min === 0), "fp");
          break;
        case "ptr_to_alloc_mem":
          expect(r.t === MEM && r.ref !== 0 && !r.nul, "ringbuf_mem");
          if (r.off !== 0 || r.min !== 0 || r.max !== 0) {
            throw new Reject(EACCES, `R${regno} must have zero offset when passed to release func`, pc);
          }
          release = r.ref;
          break;
        case "const_alloc_size_or_zero":
          expect(r.t === SCALAR, "scalar");
          if (!isConst(r)) throw new Reject(EACCES, `R${regno} is not a known constant'`, pc);
          allocSize = r.min;
          break;
        case "anything":
          break;
      }
    }
    if (release) {
      if (!st.refs.has(release)) throw new Reject(EINVAL, `release of a reference not held`, pc);
      st.refs.delete(release);
      // every copy of the released pointer is gone
      for (const fr of st.frames) {
        for (let r = 0; r <= 10; r++) if (fr.regs[r].ref === release) fr.regs[r] = { ...UNINIT, t: SCALAR };
        for (const [k, s] of fr.stack) if (s.reg && s.reg.ref === release) fr.stack.set(k, { k: 0, reg: null });
      }
    }
    if (id === BPF_FUNC.tail_call && st.refs.size) {
      throw new Reject(EINVAL, "tail_call would lead to reference leak", pc);
    }
    for (let r = 1; r <= 5; r++) regs[r] = { ...UNINIT };
    switch (proto.ret) {
      case "ptr_to_map_value_or_null": {
        const m = map!;
        const isMapInMap = m.mapType === BPF_MAP_TYPE_ARRAY_OF_MAPS || m.mapType === BPF_MAP_TYPE_HASH_OF_MAPS;
        if (isMapInMap) {
          const meta = (m as unknown as { innerMapMeta?: BpfMap | null }).innerMapMeta ?? null;
          regs[0] = { ...UNKNOWN, t: MAP_PTR, min: 0, max: 0, nul: true, id: nextId++, map: meta };
        } else {
          regs[0] = { ...UNKNOWN, t: MAP_VALUE, min: 0, max: 0, nul: true, id: nextId++, map: m };
          // arrays: a constant in-range key is never NULL (6.x); keep the NULL check required as older kernels did
          if ((m.mapType === BPF_MAP_TYPE_ARRAY || m.mapType === BPF_MAP_TYPE_PERCPU_ARRAY) && v.version < 607) {
            // nothing more
          }
        }
        break;
      }
      case "ptr_to_alloc_mem_or_null": {
        const ref = nextId++;
        st.refs.set(ref, pc);
        regs[0] = { ...UNKNOWN, t: MEM, min: 0, max: 0, nul: true, id: ref, ref, aux: Math.max(allocSize, 0) };
        break;
      }
      case "void":
        regs[0] = { ...UNINIT };
        break;
      default:
        regs[0] = id === BPF_FUNC.get_smp_processor_id
          ? scalar(0, 63)
          : id === BPF_FUNC.get_prandom_u32
          ? scalar(0, 4294967295)
          : { ...UNKNOWN };
    }
    return pc + 1;
  }

  /** bpf_loop's callback: verified once as a function of (index, ctx) returning 0 or 1. */
  function verifyCallback(st: State, pc: number, start: number, ctxArg: Reg): void {
    const sub = subprogs.indexOf(start);
    if (sub < 0) throw new Reject(EINVAL, `invalid callback`, pc);
    const cb: State = {
      frames: [...st.frames.map(cloneFrame), {
        regs: Array.from({ length: 11 }, () => ({ ...UNINIT })),
        stack: new Map(),
        sub,
        callsite: pc,
      }],
      lock: "",
      refs: new Map(),
      pkt: new Map(st.pkt),
      parent: null,
    };
    const fr = cb.frames[cb.frames.length - 1];
    fr.regs[1] = scalar(0, 8 * 1024 * 1024);
    fr.regs[2] = ctxArg.t === NOT_INIT ? { ...UNKNOWN } : { ...ctxArg };
    fr.regs[10] = { ...UNKNOWN, t: STACK, min: 0, max: 0, aux: cb.frames.length - 1 };
    const depth = cb.frames.length;
    const todo: { st: State; pc: number }[] = [{ st: cb, pc: start }];
    while (todo.length) {
      const it = todo.pop()!;
      let s = it.st;
      let p = it.pc;
      for (;;) {
        if (++processed > COMPLEXITY_LIMIT_INSNS) {
          throw new Reject(E2BIG, `BPF program is too large. Processed ${processed} insn`, p);
        }
        if (insns[p].code === (BPF_JMP | BPF_EXIT) && s.frames.length === depth) {
          const r0 = s.frames[depth - 1].regs[0];
          if (r0.t === NOT_INIT) throw new Reject(EACCES, "R0 !read_ok", p);
          if (r0.t !== SCALAR || r0.min < 0 || r0.max > 1) {
            throw new Reject(
              EINVAL,
              `At callback return the register R0 has smin=${r0.min} smax=${r0.max} should have been in [0, 1]`,
              p,
            );
          }
          break;
        }
        const r = step(s, p);
        if (r === -1) break;
        if (typeof r === "number") {
          p = r;
          continue;
        }
        todo.push({ st: r.other, pc: r.otherPc });
        s = r.st;
        p = r.pc;
      }
    }
  }

  function exit(st: State, pc: number): number {
    const f = st.frames[st.frames.length - 1];
    const r0 = f.regs[0];
    if (r0.t === NOT_INIT) throw new Reject(EACCES, "R0 !read_ok", pc);
    if (st.frames.length > 1) {
      if (r0.t === STACK && r0.aux === st.frames.length - 1) {
        throw new Reject(EINVAL, "cannot return stack pointer to the caller", pc);
      }
      st.frames.pop();
      const caller = st.frames[st.frames.length - 1];
      caller.regs[0] = { ...r0 };
      for (let r = 1; r <= 5; r++) caller.regs[r] = { ...UNINIT };
      return f.callsite + 1;
    }
    if (st.lock) {
      throw new Reject(EINVAL, "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region", pc);
    }
    for (const [id, at] of st.refs) throw new Reject(EINVAL, `Unreleased reference id=${id} alloc_insn=${at}`, pc);
    if (r0.t !== SCALAR && v.progType !== BPF_PROG_TYPE_TRACING) {
      throw new Reject(EACCES, `R0 leaks addr as return value`, pc);
    }
    return -1;
  }

  // ------------------------------------------------------------ branches

  function cond(
    st: State,
    pc: number,
    x: BpfInsn,
    is32: boolean,
  ): number | { st: State; pc: number; other: State; otherPc: number } {
    const f = st.frames[st.frames.length - 1];
    const regs = f.regs;
    const op = bpfOp(x.code);
    const d = regs[x.dst];
    if (d.t === NOT_INIT) throw new Reject(EACCES, `R${x.dst} !read_ok`, pc);
    const useSrc = bpfSrc(x.code) !== 0;
    const s = useSrc ? regs[x.src] : konst(x.imm);
    if (useSrc && s.t === NOT_INIT) throw new Reject(EACCES, `R${x.src} !read_ok`, pc);
    const taken = pc + 1 + x.off, fall = pc + 1;

    // NULL checks of maybe-NULL pointers
    if (d.nul && isConst(s) && s.min === 0 && (op === 0x10 || op === 0x50) && !is32) {
      const nonNull = cloneState(st), isNull = st;
      markNull(nonNull, d.id, false);
      markNull(isNull, d.id, true);
      // JEQ: taken when NULL
      return op === 0x10
        ? { st: isNull, pc: taken, other: nonNull, otherPc: fall }
        : { st: nonNull, pc: taken, other: isNull, otherPc: fall };
    }
    // packet range checks: pkt (op) pkt_end
    if ((d.t === PKT || d.t === PKT_META) && s.t === PKT_END || d.t === PKT_END && (s.t === PKT || s.t === PKT_META)) {
      const ptr = d.t === PKT_END ? s : d;
      const ptrIsDst = d.t !== PKT_END;
      const a = cloneState(st), b = st;
      const reach = ptr.off + ptr.max;
      // find_good_pkt_pointers(): the branch where ptr <= end (or ptr < end: one byte more) learns the range
      // [op, ptr is dst] -> [the good branch is the taken one, strict]
      const rule: Record<string, [boolean, boolean]> = {
        "32:1": [false, false], // ptr > end: falls through when ptr <= end
        "48:1": [false, true], // ptr >= end: falls through when ptr < end
        "160:1": [true, true], // ptr < end
        "176:1": [true, false], // ptr <= end
        "32:0": [true, true], // end > ptr
        "48:0": [true, false], // end >= ptr
        "160:0": [false, false], // end < ptr: falls through when ptr <= end
        "176:0": [false, true], // end <= ptr: falls through when ptr < end
      };
      const r = rule[`${op}:${ptrIsDst ? 1 : 0}`];
      if (r && Number.isFinite(reach)) setPktRange(r[0] ? a : b, ptr.id, r[1] ? reach + 1 : reach);
      return { st: a, pc: taken, other: b, otherPc: fall };
    }
    if (d.t !== SCALAR || s.t !== SCALAR) {
      // pointer comparisons decide nothing the verifier tracks
      if (d.t !== SCALAR && s.t === SCALAR && isConst(s) && s.min === 0 && !d.nul && (op === 0x10 || op === 0x50)) {
        // a non-NULL pointer compared with 0: the branch is known
        return op === 0x10 ? fall : taken;
      }
      return { st: cloneState(st), pc: taken, other: st, otherPc: fall };
    }
    // scalars
    const dec = decide(op, d, s, is32, x.off);
    if (dec === true) return taken;
    if (dec === false) return fall;
    const a = cloneState(st), b = st;
    const signedOp = op === 0x60 || op === 0x70 || op === 0xc0 || op === 0xd0;
    const lim = signedOp ? 2 ** 31 : 2 ** 32;
    if (!is32 || (d.min >= 0 && d.max < lim && s.min >= 0 && s.max < lim)) {
      refine(a.frames[a.frames.length - 1].regs, x, op, true);
      refine(b.frames[b.frames.length - 1].regs, x, op, false);
    }
    return { st: a, pc: taken, other: b, otherPc: fall };
  }

  function setPktRange(st: State, id: number, rng: number): void {
    st.pkt.set(id, Math.max(st.pkt.get(id) ?? 0, rng));
  }

  function markNull(st: State, id: number, isNull: boolean): void {
    for (const fr of st.frames) {
      const fix = (r: Reg): Reg => {
        if (!r.nul || r.id !== id) return r;
        if (isNull) {
          if (r.ref) st.refs.delete(r.ref);
          return konst(0);
        }
        return { ...r, nul: false };
      };
      for (let r = 0; r <= 10; r++) fr.regs[r] = fix(fr.regs[r]);
      for (const s of fr.stack.values()) if (s.reg) s.reg = fix(s.reg);
    }
  }
}

function bitop(a: number, b: number, op: string): number {
  const x = BigInt.asIntN(64, BigInt(Math.trunc(a))), y = BigInt.asIntN(64, BigInt(Math.trunc(b)));
  const r = op === "&" ? x & y : op === "|" ? x | y : x ^ y;
  return Number(r);
}

function aluName(op: number): string {
  return ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>="][op >> 4] ?? "?";
}

function hex2(c: number): string {
  return c.toString(16).padStart(2, "0");
}

/** The outcome of a scalar comparison when the ranges decide it (true: taken), else null. */
function decide(op: number, d: Reg, s: Reg, is32: boolean, _off: number): boolean | null {
  let dmin = d.min, dmax = d.max, smin = s.min, smax = s.max;
  if (is32) {
    if (isConst(d)) dmin = dmax = Number(BigInt.asUintN(32, BigInt(Math.trunc(d.min))));
    else if (!(d.min >= 0 && d.max <= 4294967295)) return null;
    if (isConst(s)) smin = smax = Number(BigInt.asUintN(32, BigInt(Math.trunc(s.min))));
    else if (!(s.min >= 0 && s.max <= 4294967295)) return null;
  }
  const signed = op === 0x60 || op === 0x70 || op === 0xc0 || op === 0xd0;
  if (!signed && (dmin < 0 || smin < 0)) {
    // unsigned order of possibly negative values: only equality is decidable
    if (op === 0x10 && dmin === dmax && smin === smax) return dmin === smin;
    if (op === 0x50 && dmin === dmax && smin === smax) return dmin !== smin;
    return null;
  }
  if (signed && is32) {
    const c = (x: number) => (x >= 2 ** 31 ? x - 2 ** 32 : x);
    if (dmin !== dmax || smin !== smax) {
      if (dmax >= 2 ** 31 || smax >= 2 ** 31) return null;
    } else {
      dmin = dmax = c(dmin);
      smin = smax = c(smin);
    }
  }
  switch (op) {
    case 0x10: // ==
      if (dmin === dmax && smin === smax) return dmin === smin;
      if (dmax < smin || dmin > smax) return false;
      return null;
    case 0x50: // !=
      if (dmin === dmax && smin === smax) return dmin !== smin;
      if (dmax < smin || dmin > smax) return true;
      return null;
    case 0x20:
    case 0x60: // >
      if (dmin > smax) return true;
      if (dmax <= smin) return false;
      return null;
    case 0x30:
    case 0x70: // >=
      if (dmin >= smax) return true;
      if (dmax < smin) return false;
      return null;
    case 0xa0:
    case 0xc0: // <
      if (dmax < smin) return true;
      if (dmin >= smax) return false;
      return null;
    case 0xb0:
    case 0xd0: // <=
      if (dmax <= smin) return true;
      if (dmin > smax) return false;
      return null;
    case 0x40: // &
      if (dmin === dmax && smin === smax) return bitop(dmin, smin, "&") !== 0;
      if (dmin === 0 && dmax === 0) return false;
      return null;
  }
  return null;
}

/** reg_set_min_max(): narrows the compared registers in one branch. */
function refine(regs: Reg[], x: BpfInsn, op: number, taken: boolean): void {
  const useSrc = bpfSrc(x.code) !== 0;
  const d = regs[x.dst];
  const s = useSrc ? regs[x.src] : konst(x.imm);
  const signed = op === 0x60 || op === 0x70 || op === 0xc0 || op === 0xd0;
  if (!signed && (d.min < 0 || s.min < 0) && op !== 0x10 && op !== 0x50) return;
  // express the taken/not-taken condition as d REL s
  let rel = op;
  if (!taken) {
    rel = ({
      0x10: 0x50,
      0x50: 0x10,
      0x20: 0xb0,
      0x60: 0xd0,
      0x30: 0xa0,
      0x70: 0xc0,
      0xa0: 0x30,
      0xc0: 0x70,
      0xb0: 0x20,
      0xd0: 0x60,
    } as Record<number, number>)[op] ?? -1;
  }
  const set = (r: number, min: number, max: number) => {
    const g = regs[r];
    if (g.t !== SCALAR) return;
    const nmin = Math.max(g.min, min), nmax = Math.min(g.max, max);
    if (nmin <= nmax) regs[r] = { ...g, min: nmin, max: nmax };
  };
  switch (rel) {
    case 0x10: // ==
      set(x.dst, s.min, s.max);
      if (useSrc) set(x.src, d.min, d.max);
      break;
    case 0x50: // !=
      if (isConst(s)) {
        if (d.min === s.min) set(x.dst, d.min + 1, d.max);
        else if (d.max === s.min) set(x.dst, d.min, d.max - 1);
      }
      break;
    case 0x20:
    case 0x60: // d > s
      set(x.dst, s.min + 1, Infinity);
      if (useSrc) set(x.src, -Infinity, d.max - 1);
      break;
    case 0x30:
    case 0x70: // d >= s
      set(x.dst, s.min, Infinity);
      if (useSrc) set(x.src, -Infinity, d.max);
      break;
    case 0xa0:
    case 0xc0: // d < s
      set(x.dst, signed ? -Infinity : 0, s.max - 1);
      if (useSrc) set(x.src, d.min + 1, Infinity);
      break;
    case 0xb0:
    case 0xd0: // d <= s
      set(x.dst, signed ? -Infinity : 0, s.max);
      if (useSrc) set(x.src, d.min, Infinity);
      break;
  }
}

/** A printable key of a state's registers and stack (the loop check). */
function stateKey(st: State): string {
  return st.frames.map((f) =>
    f.regs.map((r) => `${r.t}:${r.min}:${r.max}:${r.off}:${r.nul ? 1 : 0}`).join(",") + "|" +
    [...f.stack].sort((a, b) => a[0] - b[0]).map(([k, s]) =>
      `${k}=${s.k}${s.reg ? `:${s.reg.t}:${s.reg.min}:${s.reg.max}:${s.reg.off}:${s.sz ?? 8}` : ""}`
    ).join(",")
  ).join("/") + `#${st.lock}#${[...st.refs.keys()].length}#${[...st.pkt].join(";")}`;
}

/** states_equal() as containment: everything `cur` can do, `old` (fully explored) covered. */
function stateCovers(old: State, cur: State, liveTop: number): boolean {
  if (old.frames.length !== cur.frames.length || old.lock !== cur.lock || old.refs.size !== cur.refs.size) return false;
  for (const [id, r] of old.pkt) if ((cur.pkt.get(id) ?? 0) < r) return false;
  for (let fi = 0; fi < old.frames.length; fi++) {
    const of = old.frames[fi], cf = cur.frames[fi];
    if (of.sub !== cf.sub || of.callsite !== cf.callsite) return false;
    const top = fi === old.frames.length - 1;
    for (let r = 0; r <= 10; r++) {
      if (top && !(liveTop & (1 << r))) continue;
      if (!regCovers(of.regs[r], cf.regs[r])) return false;
    }
    for (const [k, os] of of.stack) {
      const cs = cf.stack.get(k);
      if (!cs) return false;
      if (os.k === 2) {
        if (cs.k !== 2 || (os.sz ?? 8) !== (cs.sz ?? 8) || !regCovers(os.reg!, cs.reg!)) return false;
      } else if (os.k === 1) {
        if (cs.k === 0 || (cs.k === 2 && !(cs.reg && isConst(cs.reg) && cs.reg.min === 0))) return false;
      } else if (cs.k === 2 && cs.reg!.t !== SCALAR) return false;
    }
  }
  return true;
}

function regCovers(o: Reg, c: Reg): boolean {
  if (o.t === NOT_INIT) return true;
  if (o.t !== c.t) return false;
  if (o.nul !== c.nul) return false;
  if (o.t === SCALAR) return o.min <= c.min && o.max >= c.max;
  return o.off === c.off && o.min <= c.min && o.max >= c.max && o.map === c.map && o.aux === c.aux &&
    (o.ref === 0) === (c.ref === 0);
}
