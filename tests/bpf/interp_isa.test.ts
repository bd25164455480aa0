// The interpreter against a reference model of the eBPF ISA written with
// BigInt (the kernel's ___bpf_prog_run semantics, include/uapi/linux/bpf.h
// and Documentation/bpf/standardization/instruction-set.rst): random
// programs of ALU32/ALU64 operations (sdiv/smod, movsx, bswap and le/be
// included), conditional jumps of both widths, loads and stores of every
// size with sign extension, and the atomics, checked register by register.

import fc from "fast-check";
import { assertEquals } from "../assert.ts";
import { Kernel } from "../../lib/kernel/kernel.ts";
import { type LoadedInsnProg, loadInsnProg, runInsnProg } from "../../lib/bpf/insn_prog.ts";
import type { BpfInsn } from "../../lib/bpf/uapi_insn.ts";
import { BPF_PROG_TYPE_SYSCALL } from "../../lib/bpf/uapi_prog.ts";

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;
const u64 = (x: bigint) => x & M64;
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const s32 = (x: bigint) => BigInt.asIntN(32, x);
const u32 = (x: bigint) => x & M32;
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): BpfInsn => ({ code, dst, src, off, imm });

/** One ALU operation as the generator makes it. */
interface AluOp {
  is64: boolean;
  op: number;
  dst: number;
  src: number;
  useReg: boolean;
  imm: number;
  off: number;
}

function bswap(x: bigint, bits: number): bigint {
  let r = 0n;
  for (let i = 0; i < bits / 8; i++) r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return r;
}

/** The reference: applies one ALU op to the registers (all held as u64). */
function refAlu(regs: bigint[], a: AluOp): void {
  const d = regs[a.dst];
  const sv = a.useReg ? regs[a.src] : a.is64 ? u64(BigInt(a.imm)) : u32(BigInt(a.imm));
  let r: bigint;
  if (a.is64) {
    switch (a.op) {
      case 0x00:
        r = d + sv;
        break;
      case 0x10:
        r = d - sv;
        break;
      case 0x20:
        r = d * sv;
        break;
      case 0x30:
        if (a.off === 1) r = sv === 0n ? 0n : s64(d) === -(1n << 63n) && s64(sv) === -1n ? d : s64(d) / s64(sv);
        else r = sv === 0n ? 0n : d / sv;
        break;
      case 0x90:
        if (a.off === 1) r = sv === 0n ? d : s64(sv) === -1n ? 0n : s64(d) % s64(sv);
        else r = sv === 0n ? d : d % sv;
        break;
      case 0x40:
        r = d | sv;
        break;
      case 0x50:
        r = d & sv;
        break;
      case 0xa0:
        r = d ^ sv;
        break;
      case 0x60:
        r = d << (sv & 63n);
        break;
      case 0x70:
        r = d >> (sv & 63n);
        break;
      case 0xc0:
        r = s64(d) >> (sv & 63n);
        break;
      case 0x80:
        r = -d;
        break;
      case 0xb0:
        r = a.off === 8 ? BigInt.asIntN(8, sv) : a.off === 16 ? BigInt.asIntN(16, sv) : a.off === 32 ? s32(sv) : sv;
        break;
      case 0xd0:
        r = bswap(d, a.imm);
        break;
      default:
        throw new Error("op");
    }
    regs[a.dst] = u64(r);
    return;
  }
  const d32 = u32(d), s = u32(sv);
  switch (a.op) {
    case 0x00:
      r = d32 + s;
      break;
    case 0x10:
      r = d32 - s;
      break;
    case 0x20:
      r = d32 * s;
      break;
    case 0x30:
      if (a.off === 1) r = s === 0n ? 0n : s32(d32) === -(1n << 31n) && s32(s) === -1n ? d32 : s32(d32) / s32(s);
      else r = s === 0n ? 0n : d32 / s;
      break;
    case 0x90:
      if (a.off === 1) r = s === 0n ? d32 : s32(s) === -1n ? 0n : s32(d32) % s32(s);
      else r = s === 0n ? d32 : d32 % s;
      break;
    case 0x40:
      r = d32 | s;
      break;
    case 0x50:
      r = d32 & s;
      break;
    case 0xa0:
      r = d32 ^ s;
      break;
    case 0x60:
      r = d32 << (s & 31n);
      break;
    case 0x70:
      r = d32 >> (s & 31n);
      break;
    case 0xc0:
      r = s32(d32) >> (s & 31n);
      break;
    case 0x80:
      r = -d32;
      break;
    case 0xb0:
      r = a.off === 8 ? BigInt.asIntN(8, s) : a.off === 16 ? BigInt.asIntN(16, s) : s;
      break;
    case 0xd0:
      // BPF_END in the ALU class: src bit = 0 le (truncate), 1 be (swap)
      r = a.useReg ? bswap(d, a.imm) : d & ((1n << BigInt(a.imm)) - 1n);
      regs[a.dst] = u64(r);
      return;
    default:
      throw new Error("op");
  }
  regs[a.dst] = u32(r);
}

function encodeAlu(a: AluOp): BpfInsn {
  if (a.op === 0xd0) {
    if (a.is64) return I(0xd7, a.dst, 0, 0, a.imm);
    return I(a.useReg ? 0xdc : 0xd4, a.dst, 0, 0, a.imm);
  }
  const code = (a.is64 ? 0x07 : 0x04) | a.op | (a.useReg ? 0x08 : 0);
  if (a.op === 0x80) return I(a.is64 ? 0x87 : 0x84, a.dst);
  return I(code, a.dst, a.useReg ? a.src : 0, a.off, a.useReg ? 0 : a.imm);
}

const int32 = fc.oneof(
  fc.integer({ min: -2147483648, max: 2147483647 }),
  fc.constantFrom(0, 1, -1, 2, 63, 64, 31, 32, -2147483648, 2147483647, 0xff, -0x80),
);
const reg = fc.integer({ min: 0, max: 5 });

const aluOp: fc.Arbitrary<AluOp> = fc.record({
  is64: fc.boolean(),
  op: fc.constantFrom(0x00, 0x10, 0x20, 0x30, 0x90, 0x40, 0x50, 0xa0, 0x60, 0x70, 0xc0, 0x80, 0xb0, 0xd0),
  dst: reg,
  src: reg,
  useReg: fc.boolean(),
  imm: int32,
  off: fc.constantFrom(0, 0, 1, 8, 16, 32),
}).map((a) => {
  // the encodings the ISA defines
  const x = { ...a };
  if (x.op === 0x60 || x.op === 0x70 || x.op === 0xc0) {
    if (!x.useReg) x.imm = ((x.imm % (x.is64 ? 64 : 32)) + (x.is64 ? 64 : 32)) % (x.is64 ? 64 : 32);
  }
  if (x.op === 0x30 || x.op === 0x90) {
    x.off = x.off === 1 ? 1 : 0;
    // a constant divisor of 0 is refused at load ("div by zero"); registers may hold 0
    if (!x.useReg && x.imm === 0) x.imm = 1;
  } else if (x.op === 0xb0) {
    if (!x.useReg || (x.off === 1) || (!x.is64 && x.off === 32)) x.off = 0;
  } else x.off = 0;
  if (x.op === 0xd0) x.imm = [16, 32, 64][Math.abs(x.imm) % 3];
  return x;
});

/** Loads a syscall program and runs it with a 64-byte ctx; returns the ctx after the run. */
function run(k: Kernel, insns: BpfInsn[]): Uint8Array {
  const res = loadInsnProg(k, {
    name: "isa",
    progType: BPF_PROG_TYPE_SYSCALL,
    attachType: 0,
    insns,
    license: "GPL",
    mapOfFd: () => -9,
    ctxSize: 64,
  });
  if ("errno" in res) throw new Error(res.log.join("\n"));
  const lp: LoadedInsnProg = res;
  let out: Uint8Array | null = null;
  k.exec(0, () => {
    const r = runInsnProg(k, lp, k.cur, 0, { kind: "bytes", bytes: new Uint8Array(64) });
    if (r.fault) throw new Error(r.fault);
    out = r.out;
  });
  lp.prog.free();
  return out!;
}

/** Sets r0..r5 from `init` (ld_imm64), runs `body`, stores r0..r5 into the ctx (saved in r9). */
function harness(init: bigint[], body: BpfInsn[]): BpfInsn[] {
  const p: BpfInsn[] = [I(0xbf, 9, 1)];
  init.forEach((v, r) =>
    p.push(I(0x18, r, 0, 0, Number(BigInt.asIntN(32, v & M32))), I(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))))
  );
  p.push(...body);
  for (let r = 0; r <= 5; r++) p.push(I(0x7b, 9, r, 8 * r));
  p.push(I(0xb7, 0, 0, 0, 0), I(0x95));
  return p;
}

function regsOut(b: Uint8Array): bigint[] {
  const dv = new DataView(b.buffer, b.byteOffset);
  return Array.from({ length: 6 }, (_, r) => dv.getBigUint64(8 * r, true));
}

const u64Arb = fc.oneof(
  fc.bigInt({ min: 0n, max: M64 }),
  fc.constantFrom(0n, 1n, M64, 1n << 63n, (1n << 63n) - 1n, M32, 1n << 32n, 0x80n, 0xffn, 0x8000n),
);

Deno.test("ALU32/ALU64 (sdiv, smod, movsx, bswap, le/be included) match the reference", () => {
  const k = new Kernel({ cpus: 1 });
  fc.assert(
    fc.property(
      fc.array(u64Arb, { minLength: 6, maxLength: 6 }),
      fc.array(aluOp, { minLength: 1, maxLength: 12 }),
      (init, ops) => {
        const regs = init.slice();
        for (const a of ops) refAlu(regs, a);
        assertEquals(regsOut(run(k, harness(init, ops.map(encodeAlu)))), regs);
      },
    ),
    { numRuns: 400, seed: 12 },
  );
});

const JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];

function refCond(op: number, a: bigint, b: bigint, is32: boolean): boolean {
  const ua = is32 ? u32(a) : a, ub = is32 ? u32(b) : b;
  const sa = is32 ? s32(a) : s64(a), sb = is32 ? s32(b) : s64(b);
  switch (op) {
    case 0x10:
      return ua === ub;
    case 0x50:
      return ua !== ub;
    case 0x20:
      return ua > ub;
    case 0x30:
      return ua >= ub;
    case 0xa0:
      return ua < ub;
    case 0xb0:
      return ua <= ub;
    case 0x40:
      return (ua & ub) !== 0n;
    case 0x60:
      return sa > sb;
    case 0x70:
      return sa >= sb;
    case 0xc0:
      return sa < sb;
    default:
      return sa <= sb;
  }
}

Deno.test("JMP and JMP32 conditions, with registers and immediates, match the reference", () => {
  const k = new Kernel({ cpus: 1 });
  fc.assert(
    fc.property(
      u64Arb,
      u64Arb,
      fc.constantFrom(...JMP_OPS),
      fc.boolean(),
      fc.boolean(),
      int32,
      (a, b, op, is32, useReg, imm) => {
        const bv = useReg ? b : u64(BigInt(imm));
        const jmp = I((is32 ? 0x06 : 0x05) | op | (useReg ? 0x08 : 0), 1, 2, 1, useReg ? 0 : imm);
        // r3 = 0; if (r1 op r2/imm) goto +1; r3 = 1  -> r3 == 0 when taken
        const body = [I(0xb7, 3, 0, 0, 0), jmp, I(0xb7, 3, 0, 0, 1)];
        const out = regsOut(run(k, harness([0n, a, b, 0n, 0n, 0n], body)));
        assertEquals(out[3] === 0n, refCond(op, a, bv, is32));
      },
    ),
    { numRuns: 400, seed: 13 },
  );
});

Deno.test("stores and loads of every size, sign-extending loads included", () => {
  const k = new Kernel({ cpus: 1 });
  fc.assert(
    fc.property(
      u64Arb,
      fc.constantFrom(1, 2, 4, 8),
      fc.constantFrom(1, 2, 4, 8),
      fc.boolean(),
      fc.integer({ min: 0, max: 7 }),
      (v, ssz, lsz, sx, skew) => {
        const sizeBits = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 } as Record<number, number>;
        const off = -16 + skew; // unaligned accesses too
        if (off + Math.max(ssz, lsz) > 0) return;
        const ldMode = sx && lsz !== 8 ? 0x80 : 0x60;
        const body = [
          I(0x7a, 10, 0, -16, 0), // *(u64 *)(r10 -16) = 0
          I(0x7a, 10, 0, -8, 0),
          I(0x03 | 0x60 | sizeBits[ssz], 10, 1, off), // *(size *)(r10 + off) = r1
          I(0x01 | ldMode | sizeBits[lsz], 2, 10, off), // r2 = *(size *)(r10 + off), maybe sign-extending
        ];
        const out = regsOut(run(k, harness([0n, v, 0n, 0n, 0n, 0n], body)));
        const stored = v & ((1n << BigInt(8 * ssz)) - 1n);
        let want = stored & ((1n << BigInt(8 * lsz)) - 1n);
        if (ldMode === 0x80) want = u64(BigInt.asIntN(8 * lsz, want));
        assertEquals(out[2], want);
      },
    ),
    { numRuns: 300, seed: 14 },
  );
});

Deno.test("atomics: add/and/or/xor with and without fetch, xchg, cmpxchg, on 32 and 64 bits", () => {
  const k = new Kernel({ cpus: 1 });
  const ops = [0x00, 0x50, 0x40, 0xa0, 0x01, 0x51, 0x41, 0xa1, 0xe1, 0xf1];
  fc.assert(
    fc.property(u64Arb, u64Arb, u64Arb, fc.constantFrom(...ops), fc.boolean(), (mem, val, r0, op, dw) => {
      const size = dw ? 8 : 4;
      const m = dw ? mem : u32(mem);
      const body = [
        I(0x7b, 10, 3, -8), // *(u64 *)(r10 -8) = r3 (mem)
        I(dw ? 0xdb : 0xc3, 10, 2, -8, op), // atomic op on the stack with r2 (val)
        I(0x79, 4, 10, -8), // r4 = *(u64 *)(r10 -8)
      ];
      const out = regsOut(run(k, harness([r0, 0n, val, mem, 0n, 0n], body)));
      const v = dw ? val : u32(val);
      const base = op & ~1;
      let nv = m, fetched: bigint | null = null, newR0 = r0;
      if (op === 0xe1) {
        nv = v;
        fetched = m;
      } else if (op === 0xf1) {
        const eq = dw ? m === r0 : m === u32(r0);
        if (eq) nv = v;
        newR0 = m;
      } else {
        nv = base === 0x00 ? m + v : base === 0x50 ? m & v : base === 0x40 ? m | v : m ^ v;
        if (op & 1) fetched = m;
      }
      nv &= size === 8 ? M64 : M32;
      const memAfter = dw ? nv : (mem & ~M32) | nv;
      assertEquals(out[4], memAfter, "memory");
      assertEquals(out[0], newR0, "r0");
      assertEquals(out[2], fetched ?? val, "src");
    }),
    { numRuns: 300, seed: 15 },
  );
});

Deno.test("ld_imm64 constants and bpf-to-bpf calls with callee-saved registers", () => {
  const k = new Kernel({ cpus: 1 });
  // main: r6 = K; r1 = 5; call sub; r1 = r0; exit path stores; sub: r6 = 1 (callee's own r6); r0 = r1 * 3; exit
  const body = [
    I(0x18, 6, 0, 0, 0x89abcdef | 0),
    I(0, 0, 0, 0, 0x01234567),
    I(0xb7, 1, 0, 0, 5),
    I(0x85, 0, 1, 0, 7), // call pc+7 -> the subprogram after the harness epilogue
    I(0xbf, 1, 0), // r1 = r0
    I(0xbf, 2, 6), // r2 = r6 (must be K again)
    I(0xb7, 3, 0, 0, 0), // r3-r5 are not readable after a call
    I(0xb7, 4, 0, 0, 0),
    I(0xb7, 5, 0, 0, 0),
  ];
  const p = harness([0n, 0n, 0n, 0n, 0n, 0n], body);
  // harness: 1 + 6*2 init, then body, then 6 stores + 2 -> the sub starts at p.length
  const callAt = 1 + 12 + 3;
  p[callAt] = I(0x85, 0, 1, 0, p.length - callAt - 1);
  p.push(I(0xb7, 6, 0, 0, 1), I(0xbf, 0, 1), I(0x27, 0, 0, 0, 3), I(0x95));
  const out = regsOut(run(k, p));
  assertEquals(out[1], 15n);
  assertEquals(out[2], 0x0123456789abcdefn);
});
