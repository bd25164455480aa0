// kernel/bpf/core.c ___bpf_prog_run(): the eBPF interpreter, for the whole
// ISA: ALU32/ALU64 (with the cpu-v4 sdiv/smod, movsx and bswap), JMP/JMP32,
// loads and stores of every size (sign-extending loads too), atomics
// (add/and/or/xor with and without fetch, xchg, cmpxchg, load-acquire and
// store-release), ld_imm64 with its pseudo sources, helper calls through a
// table, bpf-to-bpf calls with their own stack frames, and tail calls.
//
// Registers are 64-bit, held as two int32 halves (lo, hi) per register, so
// the hot loop never allocates or uses BigInt. Every memory access goes to
// the simulated kernel's memory (lib/kernel/memory.ts): an address is
// region * 2^32 + offset, which is exactly the 64-bit register value, so a
// pointer's high half names its region and the low half the offset in it.
// The stack and the ctx live in per-CPU, per-nesting-depth slots of a region
// the program owns; map values, ring buffer records and kernel objects are
// wherever the kernel put them, so a stale pointer reads what the memory
// holds now and an access to a freed slab object is reported KASAN-style.

import { COST } from "../kernel/cost.ts";
import type { Cpu } from "../kernel/cpu.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { hexAddr, type Region } from "../kernel/memory.ts";
import type { SlabPage } from "../kernel/slab.ts";
import { snapshotClasses } from "../kernel/snapshot.ts";
import type { BpfMap } from "./map.ts";
import {
  BPF_ADD,
  BPF_AND,
  BPF_CMPXCHG,
  BPF_FETCH,
  BPF_LOAD_ACQ,
  BPF_OR,
  BPF_STORE_REL,
  BPF_XCHG,
  BPF_XOR,
  MAX_CALL_FRAMES,
} from "./uapi_insn.ts";

/** A helper as the interpreter calls it: r1..r5 as numbers (exact below 2^53), r0 back. */
export type HelperFn = (env: InsnEnv, r1: number, r2: number, r3: number, r4: number, r5: number) => number;

/**
 * The helpers by enum bpf_func_id (filled by interp_helpers.ts). Calls are
 * checked at load (verifier_insn.ts), so a run only meets ids found here.
 */
export const HELPER_TABLE: (HelperFn | undefined)[] = [];

/** 2^32 */
const TWO32 = 4294967296;

/** Instructions a single run may execute before bpfsim stops it (a program the verifier did not bound). */
export const INSN_BUDGET = 1 << 26;

/** A memory access the kernel would oops on (page fault) or a run stopped by bpfsim. */
export class BpfFault extends Error {
  /** `pc`: the instruction index; `addr`: the faulting address (0 when not an access). */
  constructor(message: string, readonly pc: number, readonly addr: number) {
    super(message);
  }
}

/**
 * A loaded program in executable form: the instruction fields in typed
 * arrays, ld_imm64 values and call targets resolved at load, the
 * subprograms' stack depths, and the region holding the stack and ctx slots.
 */
export class InsnProg {
  /** opcode of each instruction */
  readonly code: Uint8Array;
  /** dst_reg */
  readonly dst: Uint8Array;
  /** src_reg */
  readonly src: Uint8Array;
  /** off */
  readonly off: Int16Array;
  /** imm */
  readonly imm: Int32Array;
  /** ld_imm64 at i: the low half of the resolved 64-bit value. */
  readonly ldLo: Int32Array;
  /** ld_imm64 at i: the high half. */
  readonly ldHi: Int32Array;
  /** The maps the program uses (used_maps), whose struct bpf_map pointers its ld_imm64s hold. */
  maps: BpfMap[] = [];
  /** Loads the verifier marked as probe loads (PROBE_MEM: a fault reads 0). */
  readonly probe: Uint8Array;
  /** Stack bytes of the subprogram each instruction belongs to (rounded up to 32). */
  readonly frameSize: Int32Array;
  /** Number of instructions. */
  readonly len: number;
  /** Bytes of one stack slot (every frame of the deepest call chain). */
  readonly stackBytes: number;
  /** Bytes of one ctx slot. */
  readonly ctxBytes: number;
  /** Per-CPU regions holding the stack and ctx slots of each nesting depth (mapped on first use). */
  private readonly slots: (Region | undefined)[];
  /** Maximum nesting depth with its own slot. */
  static readonly DEPTHS = 12;

  /**
   * `insns` decoded, `frameSize` per instruction, `stackBytes` for the deepest
   * chain of frames and `ctxBytes` for the program type's context.
   */
  constructor(
    readonly k: Kernel,
    readonly name: string,
    insns: readonly { code: number; dst: number; src: number; off: number; imm: number }[],
    frameSize: Int32Array,
    stackBytes: number,
    ctxBytes: number,
  ) {
    const n = this.len = insns.length;
    this.code = new Uint8Array(n);
    this.dst = new Uint8Array(n);
    this.src = new Uint8Array(n);
    this.off = new Int16Array(n);
    this.imm = new Int32Array(n);
    this.ldLo = new Int32Array(n);
    this.ldHi = new Int32Array(n);
    this.probe = new Uint8Array(n);
    insns.forEach((x, i) => {
      this.code[i] = x.code;
      this.dst[i] = x.dst;
      this.src[i] = x.src;
      this.off[i] = x.off;
      this.imm[i] = x.imm;
    });
    this.frameSize = frameSize;
    this.stackBytes = (stackBytes + 7) & ~7;
    this.ctxBytes = (ctxBytes + 7) & ~7;
    this.slots = new Array(k.ncpu).fill(undefined);
  }

  /** Bytes of one (CPU, depth) slot: the stack, then the ctx. */
  get slotBytes(): number {
    return this.stackBytes + this.ctxBytes;
  }

  /** Address of the (cpu, depth) slot; maps the CPU's region on first use. */
  slot(cpu: number, depth: number): number {
    let r = this.slots[cpu];
    if (r === undefined) {
      r = this.k.mem.map(this.slotBytes * InsnProg.DEPTHS, "pages", `bpf prog ${this.name} stack cpu${cpu}`);
      this.slots[cpu] = r;
    }
    return r.base + this.slotBytes * Math.min(depth, InsnProg.DEPTHS - 1);
  }

  /** Unmaps the slots (when the program is freed). */
  free(): void {
    for (let i = 0; i < this.slots.length; i++) {
      const r = this.slots[i];
      if (r !== undefined) this.k.mem.unmap(r);
      this.slots[i] = undefined;
    }
  }

  /** Bytes mapped for slots now. */
  mappedBytes(): number {
    let n = 0;
    for (const r of this.slots) if (r) n += r.size;
    return n;
  }
}

/** A run finished (r0 is in env.r0). */
export const INSN_DONE = 0;
/** The run stopped before a helper call because the CPU passed the horizon; resume with runInsns again. */
export const INSN_YIELD = 1;

/**
 * One invocation of an InsnProg: registers, call frames and helper state.
 * Keep one per (program, CPU, depth) and reset() it, so runs allocate nothing.
 */
export class InsnEnv {
  /** Low halves of r0..r10. */
  readonly lo: Int32Array = new Int32Array(11);
  /** High halves of r0..r10. */
  readonly hi: Int32Array = new Int32Array(11);
  /** Next instruction. */
  pc = 0;
  /** Caller frames: return pc. */
  readonly retPc: Int32Array = new Int32Array(MAX_CALL_FRAMES);
  /** Caller frames: r6..r10 lo/hi (10 words per frame). */
  readonly saved: Int32Array = new Int32Array(MAX_CALL_FRAMES * 10);
  /** Frames pushed by bpf-to-bpf calls. */
  nframes = 0;
  /** Instructions executed in this run (not yet charged to the clock: `pending`). */
  insns = 0;
  /** Instructions executed but not yet charged. */
  pending = 0;
  /** The ctx address r1 started with. */
  ctx = 0;
  /** Address of this run's slot (stack grows down from slot + stackBytes). */
  slotAddr = 0;
  /** Tail calls made in this run (MAX_TAIL_CALL_CNT); the shape bpf_tail_call()'s `run` argument has. */
  tailCallCnt = 0;
  /** The bpf_spin_lock held (value address, 0: none) and the irq state saved by it. */
  lockAddr = 0;
  /** local_irq_save() result of bpf_spin_lock. */
  lockFlags = false;
  /** Hook arguments (the probed function's, the tracepoint's), for helpers. */
  readonly args: Float64Array = new Float64Array(12);
  /** What the run belongs to (the loader's program object), for helpers and reports. */
  owner: unknown = null;

  /** An environment for `prog` on `cpu`. */
  constructor(readonly k: Kernel, public prog: InsnProg, public cpu: Cpu, readonly depth: number) {}

  /** Clears the registers and frames for a new run with r1 = ctx. */
  reset(ctx: number): void {
    this.lo.fill(0);
    this.hi.fill(0);
    this.pc = 0;
    this.nframes = 0;
    this.insns = 0;
    this.pending = 0;
    this.tailCallCnt = 0;
    this.lockAddr = 0;
    this.ctx = ctx;
    this.slotAddr = this.prog.slot(this.cpu.id, this.depth);
    setReg(this, 1, ctx);
    setReg(this, 10, this.slotAddr + this.prog.stackBytes);
  }

  /** r0 as a number (exact below 2^53; negative when the high half is negative). */
  get r0(): number {
    return regNum(this, 0);
  }

  /** Register `r` as an unsigned 64-bit number (exact below 2^53). */
  reg(r: number): number {
    return (this.hi[r] >>> 0) * TWO32 + (this.lo[r] >>> 0);
  }

  /** Register `r` as a bigint (u64). */
  regBig(r: number): bigint {
    return (BigInt(this.hi[r] >>> 0) << 32n) | BigInt(this.lo[r] >>> 0);
  }

  /** Charges the instructions run since the last charge to the CPU's clock. */
  charge(): void {
    if (this.pending !== 0) {
      this.cpu.clock += this.pending * COST.insn;
      this.pending = 0;
    }
  }
}

/** Sets register `r` from a number (negative numbers are two's complement). */
export function setReg(env: InsnEnv, r: number, v: number): void {
  if (v >= 0 && v < TWO32) {
    env.lo[r] = v | 0;
    env.hi[r] = 0;
  } else if (v < 0 && v >= -2147483648) {
    env.lo[r] = v | 0;
    env.hi[r] = -1;
  } else {
    const h = Math.floor(v / TWO32);
    env.lo[r] = (v - h * TWO32) | 0;
    env.hi[r] = h | 0;
  }
}

/** Register `r` as a signed number (exact within ±2^53). */
export function regNum(env: InsnEnv, r: number): number {
  return env.hi[r] * TWO32 + (env.lo[r] >>> 0);
}

// ------------------------------------------------------------------ memory

// Results of the 64-bit load helpers (no allocation).
let LHI = 0;

function fault(env: InsnEnv, pc: number, addr: number, size: number, write: boolean): never {
  throw new BpfFault(
    `BUG: unable to handle page fault for address: ${hexAddr(addr)} (${
      write ? "write" : "read"
    } of ${size} bytes by ${env.prog.name}+${pc})`,
    pc,
    addr,
  );
}

/** The region of an access at (hi, lo + off) of `size` bytes and the offset in it, or a fault. */
function regionOf(env: InsnEnv, pc: number, hi: number, o: number, size: number, write: boolean): Region {
  const r = hi >= 0 ? env.k.mem.regions[hi] : undefined;
  if (r === undefined || o < 0 || o + size > r.size) fault(env, pc, hi * TWO32 + o, size, write);
  if (r.kind === "slab" && r.owner !== undefined) kasan(env, pc, r, o, size, write);
  return r;
}

function kasan(env: InsnEnv, pc: number, r: Region, o: number, size: number, write: boolean): void {
  const s = r.owner as SlabPage;
  if (s.state === undefined) return;
  if (s.state[Math.floor(o / s.cache.size)] !== 1) {
    env.k.slab.check(r.base + o, size, `${env.prog.name}+${pc}`, write);
  }
}

function load(env: InsnEnv, pc: number, hi: number, o: number, size: number): number {
  const r = regionOf(env, pc, hi, o, size, false);
  const b = r.u8;
  switch (size) {
    case 1:
      LHI = 0;
      return b[o];
    case 2:
      LHI = 0;
      return b[o] | (b[o + 1] << 8);
    case 4:
      LHI = 0;
      return (o & 3) === 0 ? r.u32[o >>> 2] | 0 : b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
    default:
      if ((o & 3) === 0) {
        LHI = r.u32[(o >>> 2) + 1] | 0;
        return r.u32[o >>> 2] | 0;
      }
      LHI = b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24);
      return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
  }
}

function store(env: InsnEnv, pc: number, hi: number, o: number, size: number, vlo: number, vhi: number): void {
  const r = regionOf(env, pc, hi, o, size, true);
  const b = r.u8;
  switch (size) {
    case 1:
      b[o] = vlo;
      return;
    case 2:
      b[o] = vlo;
      b[o + 1] = vlo >>> 8;
      return;
    case 4:
      if ((o & 3) === 0) r.u32[o >>> 2] = vlo;
      else {
        b[o] = vlo;
        b[o + 1] = vlo >>> 8;
        b[o + 2] = vlo >>> 16;
        b[o + 3] = vlo >>> 24;
      }
      return;
    default:
      if ((o & 3) === 0) {
        r.u32[o >>> 2] = vlo;
        r.u32[(o >>> 2) + 1] = vhi;
      } else {
        for (let i = 0; i < 4; i++) {
          b[o + i] = vlo >>> (8 * i);
          b[o + 4 + i] = vhi >>> (8 * i);
        }
      }
  }
}

// -------------------------------------------------------------- arithmetic

/** High 32 bits of the unsigned product of two u32 (lo returned by Math.imul). */
function mulhiU32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

function big(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function sbig(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

// 64-bit division and modulo: the u32 case directly, the rest through BigInt
// (rare in programs; never in the common ALU paths).
let DHI = 0;
function div64(ahi: number, alo: number, bhi: number, blo: number, signed: boolean, mod: boolean): number {
  if (bhi === 0 && blo === 0) {
    // BPF: x / 0 = 0, x % 0 = x
    DHI = mod ? ahi : 0;
    return mod ? alo : 0;
  }
  if (!signed && ahi === 0 && bhi === 0) {
    DHI = 0;
    const a = alo >>> 0, b = blo >>> 0;
    return (mod ? a % b : Math.floor(a / b)) | 0;
  }
  let r: bigint;
  if (signed) {
    const a = sbig(ahi, alo), b = sbig(bhi, blo);
    if (b === -1n && !mod) r = -a; // LLONG_MIN / -1 = LLONG_MIN
    else r = mod ? a % b : a / b;
  } else {
    const a = big(ahi, alo), b = big(bhi, blo);
    r = mod ? a % b : a / b;
  }
  r = BigInt.asUintN(64, r);
  DHI = Number(r >> 32n) | 0;
  return Number(r & 0xffffffffn) | 0;
}

function div32(a: number, b: number, signed: boolean, mod: boolean): number {
  if (b === 0) return mod ? a : 0;
  if (signed) {
    if (b === -1) return mod ? 0 : -a | 0;
    return (mod ? a % b : Math.trunc(a / b)) | 0;
  }
  const ua = a >>> 0, ub = b >>> 0;
  return (mod ? ua % ub : Math.floor(ua / ub)) | 0;
}

function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

// --------------------------------------------------------------- the loop

/**
 * Runs `env` from env.pc until the program exits (INSN_DONE, r0 in env.r0)
 * or, when `horizon` is finite, until the CPU's clock has passed it at a
 * helper call with no bpf_spin_lock held (INSN_YIELD). Throws BpfFault for
 * an access the kernel would fault on.
 */
export function runInsns(env: InsnEnv, horizon = Infinity): number {
  let p = env.prog;
  let code = p.code, dstA = p.dst, srcA = p.src, offA = p.off, immA = p.imm;
  const lo = env.lo, hi = env.hi;
  let pc = env.pc;
  let n = 0;
  const cpu = env.cpu;
  for (;;) {
    const c = code[pc];
    const d = dstA[pc];
    n++;
    switch (c) {
      // ---------------------------------------------------- ALU64, imm
      case 0x07: { // add
        const b = immA[pc], a = lo[d] >>> 0, s = a + (b >>> 0);
        lo[d] = s | 0;
        hi[d] = (hi[d] + (b >> 31) + (s >= TWO32 ? 1 : 0)) | 0;
        break;
      }
      case 0x17: { // sub
        const b = immA[pc], a = lo[d] >>> 0, bb = b >>> 0;
        lo[d] = (a - bb) | 0;
        hi[d] = (hi[d] - (b >> 31) - (a < bb ? 1 : 0)) | 0;
        break;
      }
      case 0x27: { // mul
        const b = immA[pc], a = lo[d];
        const h = (Math.imul(a, b >> 31) + Math.imul(hi[d], b) + mulhiU32(a >>> 0, b >>> 0)) | 0;
        lo[d] = Math.imul(a, b);
        hi[d] = h;
        break;
      }
      case 0x37: // div
      case 0x97: { // mod
        const b = immA[pc];
        lo[d] = div64(hi[d], lo[d], b >> 31, b, offA[pc] === 1, c === 0x97);
        hi[d] = DHI;
        break;
      }
      case 0x47: // or
        lo[d] |= immA[pc];
        hi[d] |= immA[pc] >> 31;
        break;
      case 0x57: // and
        lo[d] &= immA[pc];
        hi[d] &= immA[pc] >> 31;
        break;
      case 0xa7: // xor
        lo[d] ^= immA[pc];
        hi[d] ^= immA[pc] >> 31;
        break;
      case 0x67: // lsh
        lsh64(lo, hi, d, immA[pc] & 63);
        break;
      case 0x77: // rsh
        rsh64(lo, hi, d, immA[pc] & 63);
        break;
      case 0xc7: // arsh
        arsh64(lo, hi, d, immA[pc] & 63);
        break;
      case 0xb7: // mov
        lo[d] = immA[pc];
        hi[d] = immA[pc] >> 31;
        break;
      case 0x87: // neg
      case 0x8f: {
        const a = lo[d];
        lo[d] = -a | 0;
        hi[d] = (~hi[d] + (a === 0 ? 1 : 0)) | 0;
        break;
      }
      case 0xd7: { // bswap16/32/64
        const w = immA[pc];
        if (w === 16) {
          lo[d] = bswap16(lo[d]);
          hi[d] = 0;
        } else if (w === 32) {
          lo[d] = bswap32(lo[d]);
          hi[d] = 0;
        } else {
          const t = bswap32(lo[d]);
          lo[d] = bswap32(hi[d]);
          hi[d] = t;
        }
        break;
      }
      // ---------------------------------------------------- ALU64, reg
      case 0x0f: { // add
        const s = srcA[pc], a = lo[d] >>> 0, sum = a + (lo[s] >>> 0);
        lo[d] = sum | 0;
        hi[d] = (hi[d] + hi[s] + (sum >= TWO32 ? 1 : 0)) | 0;
        break;
      }
      case 0x1f: { // sub
        const s = srcA[pc], a = lo[d] >>> 0, b = lo[s] >>> 0;
        lo[d] = (a - b) | 0;
        hi[d] = (hi[d] - hi[s] - (a < b ? 1 : 0)) | 0;
        break;
      }
      case 0x2f: { // mul
        const s = srcA[pc], a = lo[d], b = lo[s];
        const h = (Math.imul(a, hi[s]) + Math.imul(hi[d], b) + mulhiU32(a >>> 0, b >>> 0)) | 0;
        lo[d] = Math.imul(a, b);
        hi[d] = h;
        break;
      }
      case 0x3f:
      case 0x9f: {
        const s = srcA[pc];
        lo[d] = div64(hi[d], lo[d], hi[s], lo[s], offA[pc] === 1, c === 0x9f);
        hi[d] = DHI;
        break;
      }
      case 0x4f: {
        const s = srcA[pc];
        lo[d] |= lo[s];
        hi[d] |= hi[s];
        break;
      }
      case 0x5f: {
        const s = srcA[pc];
        lo[d] &= lo[s];
        hi[d] &= hi[s];
        break;
      }
      case 0xaf: {
        const s = srcA[pc];
        lo[d] ^= lo[s];
        hi[d] ^= hi[s];
        break;
      }
      case 0x6f:
        lsh64(lo, hi, d, lo[srcA[pc]] & 63);
        break;
      case 0x7f:
        rsh64(lo, hi, d, lo[srcA[pc]] & 63);
        break;
      case 0xcf:
        arsh64(lo, hi, d, lo[srcA[pc]] & 63);
        break;
      case 0xbf: { // mov, movsx (off 8/16/32)
        const s = srcA[pc], o = offA[pc];
        if (o === 0) {
          lo[d] = lo[s];
          hi[d] = hi[s];
        } else if (o === 8) {
          lo[d] = (lo[s] << 24) >> 24;
          hi[d] = lo[d] >> 31;
        } else if (o === 16) {
          lo[d] = (lo[s] << 16) >> 16;
          hi[d] = lo[d] >> 31;
        } else if (o === 32) {
          lo[d] = lo[s];
          hi[d] = lo[s] >> 31;
        } else {
          // addr_space_cast and the like: a plain move
          lo[d] = lo[s];
          hi[d] = hi[s];
        }
        break;
      }
      // ---------------------------------------------------- ALU32
      case 0x04:
        lo[d] = (lo[d] + immA[pc]) | 0;
        hi[d] = 0;
        break;
      case 0x0c:
        lo[d] = (lo[d] + lo[srcA[pc]]) | 0;
        hi[d] = 0;
        break;
      case 0x14:
        lo[d] = (lo[d] - immA[pc]) | 0;
        hi[d] = 0;
        break;
      case 0x1c:
        lo[d] = (lo[d] - lo[srcA[pc]]) | 0;
        hi[d] = 0;
        break;
      case 0x24:
        lo[d] = Math.imul(lo[d], immA[pc]);
        hi[d] = 0;
        break;
      case 0x2c:
        lo[d] = Math.imul(lo[d], lo[srcA[pc]]);
        hi[d] = 0;
        break;
      case 0x34:
      case 0x94:
        lo[d] = div32(lo[d], immA[pc], offA[pc] === 1, c === 0x94);
        hi[d] = 0;
        break;
      case 0x3c:
      case 0x9c:
        lo[d] = div32(lo[d], lo[srcA[pc]], offA[pc] === 1, c === 0x9c);
        hi[d] = 0;
        break;
      case 0x44:
        lo[d] |= immA[pc];
        hi[d] = 0;
        break;
      case 0x4c:
        lo[d] |= lo[srcA[pc]];
        hi[d] = 0;
        break;
      case 0x54:
        lo[d] &= immA[pc];
        hi[d] = 0;
        break;
      case 0x5c:
        lo[d] &= lo[srcA[pc]];
        hi[d] = 0;
        break;
      case 0xa4:
        lo[d] ^= immA[pc];
        hi[d] = 0;
        break;
      case 0xac:
        lo[d] ^= lo[srcA[pc]];
        hi[d] = 0;
        break;
      case 0x64:
        lo[d] <<= immA[pc] & 31;
        hi[d] = 0;
        break;
      case 0x6c:
        lo[d] <<= lo[srcA[pc]] & 31;
        hi[d] = 0;
        break;
      case 0x74:
        lo[d] = lo[d] >>> (immA[pc] & 31);
        hi[d] = 0;
        break;
      case 0x7c:
        lo[d] = lo[d] >>> (lo[srcA[pc]] & 31);
        hi[d] = 0;
        break;
      case 0xc4:
        lo[d] >>= immA[pc] & 31;
        hi[d] = 0;
        break;
      case 0xcc:
        lo[d] >>= lo[srcA[pc]] & 31;
        hi[d] = 0;
        break;
      case 0xb4:
        lo[d] = immA[pc];
        hi[d] = 0;
        break;
      case 0xbc: { // mov32, movsx32 (off 8/16)
        const s = srcA[pc], o = offA[pc];
        lo[d] = o === 8 ? (lo[s] << 24) >> 24 : o === 16 ? (lo[s] << 16) >> 16 : lo[s];
        hi[d] = 0;
        break;
      }
      case 0x84:
        lo[d] = -lo[d] | 0;
        hi[d] = 0;
        break;
      case 0xd4: { // to le: truncate
        const w = immA[pc];
        if (w === 16) lo[d] &= 0xffff;
        if (w !== 64) hi[d] = 0;
        break;
      }
      case 0xdc: { // to be: swap
        const w = immA[pc];
        if (w === 16) {
          lo[d] = bswap16(lo[d]);
          hi[d] = 0;
        } else if (w === 32) {
          lo[d] = bswap32(lo[d]);
          hi[d] = 0;
        } else {
          const t = bswap32(lo[d]);
          lo[d] = bswap32(hi[d]);
          hi[d] = t;
        }
        break;
      }
      // ---------------------------------------------------- jumps
      case 0x05: // ja
        pc += offA[pc];
        break;
      case 0x06: // gotol (JMP32 | JA): imm
        pc += immA[pc];
        break;
      case 0xe5: // may_goto: the loop counter is the instruction budget
        break;
      case 0x15:
        if (lo[d] === immA[pc] && hi[d] === immA[pc] >> 31) pc += offA[pc];
        break;
      case 0x1d: {
        const s = srcA[pc];
        if (lo[d] === lo[s] && hi[d] === hi[s]) pc += offA[pc];
        break;
      }
      case 0x55:
        if (lo[d] !== immA[pc] || hi[d] !== immA[pc] >> 31) pc += offA[pc];
        break;
      case 0x5d: {
        const s = srcA[pc];
        if (lo[d] !== lo[s] || hi[d] !== hi[s]) pc += offA[pc];
        break;
      }
      case 0x45:
        if ((lo[d] & immA[pc]) !== 0 || (hi[d] & (immA[pc] >> 31)) !== 0) pc += offA[pc];
        break;
      case 0x4d: {
        const s = srcA[pc];
        if ((lo[d] & lo[s]) !== 0 || (hi[d] & hi[s]) !== 0) pc += offA[pc];
        break;
      }
      case 0x25: // jgt
      case 0x35: // jge
      case 0xa5: // jlt
      case 0xb5: { // jle
        const b = immA[pc];
        const cmp = ucmp(hi[d], lo[d], b >> 31, b);
        if (c === 0x25 ? cmp > 0 : c === 0x35 ? cmp >= 0 : c === 0xa5 ? cmp < 0 : cmp <= 0) pc += offA[pc];
        break;
      }
      case 0x2d:
      case 0x3d:
      case 0xad:
      case 0xbd: {
        const s = srcA[pc];
        const cmp = ucmp(hi[d], lo[d], hi[s], lo[s]);
        if (c === 0x2d ? cmp > 0 : c === 0x3d ? cmp >= 0 : c === 0xad ? cmp < 0 : cmp <= 0) pc += offA[pc];
        break;
      }
      case 0x65: // jsgt
      case 0x75: // jsge
      case 0xc5: // jslt
      case 0xd5: { // jsle
        const b = immA[pc];
        const cmp = scmp(hi[d], lo[d], b >> 31, b);
        if (c === 0x65 ? cmp > 0 : c === 0x75 ? cmp >= 0 : c === 0xc5 ? cmp < 0 : cmp <= 0) pc += offA[pc];
        break;
      }
      case 0x6d:
      case 0x7d:
      case 0xcd:
      case 0xdd: {
        const s = srcA[pc];
        const cmp = scmp(hi[d], lo[d], hi[s], lo[s]);
        if (c === 0x6d ? cmp > 0 : c === 0x7d ? cmp >= 0 : c === 0xcd ? cmp < 0 : cmp <= 0) pc += offA[pc];
        break;
      }
      // JMP32
      case 0x16:
        if (lo[d] === immA[pc]) pc += offA[pc];
        break;
      case 0x1e:
        if (lo[d] === lo[srcA[pc]]) pc += offA[pc];
        break;
      case 0x56:
        if (lo[d] !== immA[pc]) pc += offA[pc];
        break;
      case 0x5e:
        if (lo[d] !== lo[srcA[pc]]) pc += offA[pc];
        break;
      case 0x46:
        if ((lo[d] & immA[pc]) !== 0) pc += offA[pc];
        break;
      case 0x4e:
        if ((lo[d] & lo[srcA[pc]]) !== 0) pc += offA[pc];
        break;
      case 0x26:
        if (lo[d] >>> 0 > immA[pc] >>> 0) pc += offA[pc];
        break;
      case 0x2e:
        if (lo[d] >>> 0 > lo[srcA[pc]] >>> 0) pc += offA[pc];
        break;
      case 0x36:
        if (lo[d] >>> 0 >= immA[pc] >>> 0) pc += offA[pc];
        break;
      case 0x3e:
        if (lo[d] >>> 0 >= lo[srcA[pc]] >>> 0) pc += offA[pc];
        break;
      case 0xa6:
        if (lo[d] >>> 0 < immA[pc] >>> 0) pc += offA[pc];
        break;
      case 0xae:
        if (lo[d] >>> 0 < lo[srcA[pc]] >>> 0) pc += offA[pc];
        break;
      case 0xb6:
        if (lo[d] >>> 0 <= immA[pc] >>> 0) pc += offA[pc];
        break;
      case 0xbe:
        if (lo[d] >>> 0 <= lo[srcA[pc]] >>> 0) pc += offA[pc];
        break;
      case 0x66:
        if (lo[d] > immA[pc]) pc += offA[pc];
        break;
      case 0x6e:
        if (lo[d] > lo[srcA[pc]]) pc += offA[pc];
        break;
      case 0x76:
        if (lo[d] >= immA[pc]) pc += offA[pc];
        break;
      case 0x7e:
        if (lo[d] >= lo[srcA[pc]]) pc += offA[pc];
        break;
      case 0xc6:
        if (lo[d] < immA[pc]) pc += offA[pc];
        break;
      case 0xce:
        if (lo[d] < lo[srcA[pc]]) pc += offA[pc];
        break;
      case 0xd6:
        if (lo[d] <= immA[pc]) pc += offA[pc];
        break;
      case 0xde:
        if (lo[d] <= lo[srcA[pc]]) pc += offA[pc];
        break;
      // ---------------------------------------------------- call / exit
      case 0x85: {
        if (srcA[pc] === 1) {
          // bpf-to-bpf call: push a frame, the callee's stack below the caller's
          if (env.nframes >= MAX_CALL_FRAMES - 1) {
            env.pc = pc;
            throw new BpfFault(`bpfsim: ${p.name}: call stack too deep at insn ${pc}`, pc, 0);
          }
          const f = env.nframes++;
          env.retPc[f] = pc + 1;
          const sv = env.saved, base = f * 10;
          for (let r = 6; r <= 10; r++) {
            sv[base + (r - 6) * 2] = lo[r];
            sv[base + (r - 6) * 2 + 1] = hi[r];
          }
          const fs = p.frameSize[pc];
          const nl = (lo[10] >>> 0) - fs;
          lo[10] = nl | 0;
          pc += immA[pc];
          break;
        }
        const fn = HELPER_TABLE[immA[pc]];
        if (fn === undefined || srcA[pc] !== 0) {
          env.pc = pc;
          throw new BpfFault(`bpfsim: ${p.name}: call to unresolved function #${immA[pc]} at insn ${pc}`, pc, 0);
        }
        env.pending += n;
        env.insns += n;
        n = 0;
        if (cpu.clock + env.pending * COST.insn > horizon && env.lockAddr === 0) {
          // give other CPUs the chance to run first; the call runs on resume
          env.pc = pc;
          env.pending--;
          env.insns--;
          return INSN_YIELD;
        }
        env.charge();
        env.pc = pc;
        const r0 = fn(
          env,
          (hi[1] >>> 0) * TWO32 + (lo[1] >>> 0),
          (hi[2] >>> 0) * TWO32 + (lo[2] >>> 0),
          (hi[3] >>> 0) * TWO32 + (lo[3] >>> 0),
          (hi[4] >>> 0) * TWO32 + (lo[4] >>> 0),
          (hi[5] >>> 0) * TWO32 + (lo[5] >>> 0),
        );
        if (env.prog !== p) {
          // a tail call replaced the program: start it from its first insn
          p = env.prog;
          code = p.code;
          dstA = p.dst;
          srcA = p.src;
          offA = p.off;
          immA = p.imm;
          pc = env.pc;
          continue;
        }
        // a tail call that falls through leaves r0 alone (JMP_TAIL_CALL is not a call in the kernel)
        if (immA[pc] !== 12) setReg(env, 0, r0);
        break;
      }
      case 0x95: { // exit
        if (env.nframes === 0) {
          env.pending += n;
          env.insns += n;
          env.charge();
          env.pc = pc;
          return INSN_DONE;
        }
        const f = --env.nframes;
        const sv = env.saved, base = f * 10;
        for (let r = 6; r <= 10; r++) {
          lo[r] = sv[base + (r - 6) * 2];
          hi[r] = sv[base + (r - 6) * 2 + 1];
        }
        pc = env.retPc[f];
        continue;
      }
      // ---------------------------------------------------- ld_imm64
      case 0x18:
        lo[d] = p.ldLo[pc];
        hi[d] = p.ldHi[pc];
        pc += 2;
        continue;
      // ---------------------------------------------------- loads
      case 0x61: // ldx w
      case 0x69: // h
      case 0x71: // b
      case 0x79: // dw
      case 0x81: // ldsx w
      case 0x89: // h
      case 0x91: { // b
        const s = srcA[pc];
        const size = SIZE[c];
        const o = (lo[s] >>> 0) + offA[pc];
        let vlo: number, vhi: number;
        if (p.probe[pc] !== 0) {
          const r = hi[s] >= 0 ? env.k.mem.regions[hi[s]] : undefined;
          if (r === undefined || o < 0 || o + size > r.size) {
            vlo = 0;
            vhi = 0;
          } else {
            vlo = load(env, pc, hi[s], o, size);
            vhi = LHI;
          }
        } else {
          vlo = load(env, pc, hi[s], o, size);
          vhi = LHI;
        }
        if (c >= 0x81) {
          vlo = size === 1 ? (vlo << 24) >> 24 : size === 2 ? (vlo << 16) >> 16 : vlo;
          vhi = vlo >> 31;
        }
        lo[d] = vlo;
        hi[d] = vhi;
        break;
      }
      // ---------------------------------------------------- stores
      case 0x62: // st w
      case 0x6a:
      case 0x72:
      case 0x7a: {
        const v = immA[pc];
        store(env, pc, hi[d], (lo[d] >>> 0) + offA[pc], SIZE[c], v, v >> 31);
        break;
      }
      case 0x63: // stx w
      case 0x6b:
      case 0x73:
      case 0x7b: {
        const s = srcA[pc];
        store(env, pc, hi[d], (lo[d] >>> 0) + offA[pc], SIZE[c], lo[s], hi[s]);
        break;
      }
      case 0xc3: // atomic w
      case 0xdb: // atomic dw
        atomic(env, pc, c === 0xdb ? 8 : 4, d, srcA[pc], offA[pc], immA[pc]);
        break;
      default:
        env.pc = pc;
        throw new BpfFault(`bpfsim: ${p.name}: unknown opcode ${c.toString(16).padStart(2, "0")} at insn ${pc}`, pc, 0);
    }
    pc++;
    if (n >= 4096) {
      env.pending += n;
      env.insns += n;
      n = 0;
      if (env.insns > INSN_BUDGET) {
        env.pc = pc;
        throw new BpfFault(
          `bpfsim: ${p.name}: stopped after ${env.insns} instructions (an unbounded loop the verifier did not catch)`,
          pc,
          0,
        );
      }
    }
  }
}

/** Bytes of each load/store opcode. */
const SIZE = new Uint8Array(256);
for (
  const [c, s] of [
    [0x61, 4],
    [0x69, 2],
    [0x71, 1],
    [0x79, 8],
    [0x81, 4],
    [0x89, 2],
    [0x91, 1],
    [0x62, 4],
    [0x6a, 2],
    [0x72, 1],
    [0x7a, 8],
    [0x63, 4],
    [0x6b, 2],
    [0x73, 1],
    [0x7b, 8],
  ]
) SIZE[c] = s;

function ucmp(ahi: number, alo: number, bhi: number, blo: number): number {
  if (ahi !== bhi) return (ahi >>> 0) > (bhi >>> 0) ? 1 : -1;
  if (alo !== blo) return (alo >>> 0) > (blo >>> 0) ? 1 : -1;
  return 0;
}

function scmp(ahi: number, alo: number, bhi: number, blo: number): number {
  if (ahi !== bhi) return ahi > bhi ? 1 : -1;
  if (alo !== blo) return (alo >>> 0) > (blo >>> 0) ? 1 : -1;
  return 0;
}

function lsh64(lo: Int32Array, hi: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    hi[d] = (hi[d] << n) | (lo[d] >>> (32 - n));
    lo[d] <<= n;
  } else {
    hi[d] = lo[d] << (n - 32);
    lo[d] = 0;
  }
}

function rsh64(lo: Int32Array, hi: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    lo[d] = (lo[d] >>> n) | (hi[d] << (32 - n));
    hi[d] = hi[d] >>> n;
  } else {
    lo[d] = hi[d] >>> (n - 32);
    hi[d] = 0;
  }
}

function arsh64(lo: Int32Array, hi: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    lo[d] = (lo[d] >>> n) | (hi[d] << (32 - n));
    hi[d] >>= n;
  } else {
    lo[d] = hi[d] >> (n - 32);
    hi[d] >>= 31;
  }
}

/** BPF_ATOMIC: a read-modify-write on simulated memory (the interpreter's atomics are its plain ops, one CPU at a time). */
function atomic(env: InsnEnv, pc: number, size: number, d: number, s: number, off: number, op: number): void {
  const lo = env.lo, hi = env.hi;
  const ah = hi[d], ao = (lo[d] >>> 0) + off;
  env.cpu.clock += COST.atomic;
  if (op === BPF_LOAD_ACQ) {
    // dst = load_acquire(src + off): here d is the dst and the address is in src
    const v = load(env, pc, hi[s], (lo[s] >>> 0) + off, size);
    lo[d] = v;
    hi[d] = size === 8 ? LHI : 0;
    return;
  }
  if (op === BPF_STORE_REL) {
    store(env, pc, ah, ao, size, lo[s], hi[s]);
    return;
  }
  const olo = load(env, pc, ah, ao, size);
  const ohi = size === 8 ? LHI : 0;
  let nlo = olo, nhi = ohi;
  const vlo = lo[s], vhi = size === 8 ? hi[s] : 0;
  switch (op & ~BPF_FETCH) {
    case BPF_ADD: {
      const sum = (olo >>> 0) + (vlo >>> 0);
      nlo = sum | 0;
      nhi = (ohi + vhi + (sum >= TWO32 ? 1 : 0)) | 0;
      break;
    }
    case BPF_AND:
      nlo = olo & vlo;
      nhi = ohi & vhi;
      break;
    case BPF_OR:
      nlo = olo | vlo;
      nhi = ohi | vhi;
      break;
    case BPF_XOR:
      nlo = olo ^ vlo;
      nhi = ohi ^ vhi;
      break;
    case BPF_XCHG & ~BPF_FETCH:
      nlo = vlo;
      nhi = vhi;
      break;
    case BPF_CMPXCHG & ~BPF_FETCH: {
      // r0 = atomic_cmpxchg(dst + off, r0, src)
      const eq = size === 8 ? olo === lo[0] && ohi === hi[0] : olo === lo[0];
      if (eq) store(env, pc, ah, ao, size, vlo, vhi);
      lo[0] = olo;
      hi[0] = ohi;
      return;
    }
    default:
      throw new BpfFault(`bpfsim: ${env.prog.name}: invalid atomic op ${op.toString(16)} at insn ${pc}`, pc, 0);
  }
  store(env, pc, ah, ao, size, nlo, nhi);
  if (op & BPF_FETCH) {
    lo[s] = olo;
    hi[s] = ohi;
  }
}

/** Reads `size` (1, 2, 4, 8) bytes at a simulated address as a number (8: exact below 2^53). */
export function readMem(k: Kernel, addr: number, size: number): number {
  const r = k.mem.region(addr);
  const o = addr >>> 0;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + r.u8[o + i];
  return v;
}

snapshotClasses(InsnProg);
