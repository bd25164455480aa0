// The interpreter's benchmark programs (shared by interp.bench.ts and
// interp_report.ts): a loop of ALU, stack and map-value instructions, and
// the same loop calling bpf_map_lookup_elem each time, as a program the
// verifier accepts; plus the same arithmetic in plain JavaScript, the
// baseline measured in the same run.

import { Kernel } from "../lib/kernel/kernel.ts";
import { rcu_read_lock, rcu_read_unlock } from "../lib/kernel/context.ts";
import { type LoadedInsnProg, loadInsnProg, runInsnProg } from "../lib/bpf/insn_prog.ts";
import type { BpfInsn } from "../lib/bpf/uapi_insn.ts";
import { BPF_PROG_TYPE_SYSCALL } from "../lib/bpf/uapi_prog.ts";

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): BpfInsn => ({ code, dst, src, off, imm });

/** Iterations of each run. */
export const LOOPS = 10_000;

/**
 * r6 = i, r7 = acc; each iteration: a multiplicative hash of i, xor, add, a
 * store and load through the stack, a mask, an add through the value of
 * array element 0 (map value pointer), then the loop test.
 */
function aluLoop(mapFd: number, withHelper: boolean): BpfInsn[] {
  const p: BpfInsn[] = [];
  p.push(I(0xb7, 6, 0, 0, 0)); // r6 = 0
  p.push(I(0xb7, 7, 0, 0, 0)); // r7 = 0
  p.push(I(0x62, 10, 0, -4, 0)); // *(u32 *)(r10 -4) = 0
  p.push(I(0xbf, 2, 10)); // r2 = r10
  p.push(I(0x07, 2, 0, 0, -4)); // r2 += -4
  p.push(I(0x18, 1, 1, 0, mapFd), I(0, 0, 0, 0, 0)); // r1 = map
  p.push(I(0x85, 0, 0, 0, 1)); // call bpf_map_lookup_elem
  p.push(I(0x15, 0, 0, 0, 0)); // if r0 == 0 goto exit (offset set below)
  p.push(I(0xbf, 8, 0)); // r8 = r0 (the value)
  const loop = p.length;
  p.push(I(0xbf, 1, 6)); // r1 = r6
  p.push(I(0x27, 1, 0, 0, -1640531535)); // r1 *= 0x9e3779b1
  p.push(I(0x77, 1, 0, 0, 13)); // r1 >>= 13
  p.push(I(0xaf, 7, 1)); // r7 ^= r1
  p.push(I(0x0f, 7, 6)); // r7 += r6
  p.push(I(0x7b, 10, 7, -16)); // *(u64 *)(r10 -16) = r7
  p.push(I(0x79, 2, 10, -16)); // r2 = *(u64 *)(r10 -16)
  p.push(I(0x57, 2, 0, 0, 0xff)); // r2 &= 0xff
  p.push(I(0x79, 3, 8, 0)); // r3 = *(u64 *)(r8 +0)
  p.push(I(0x0f, 3, 2)); // r3 += r2
  p.push(I(0x7b, 8, 3, 0)); // *(u64 *)(r8 +0) = r3
  p.push(I(0x0f, 7, 3)); // r7 += r3
  if (withHelper) {
    p.push(I(0xbf, 2, 10)); // r2 = r10
    p.push(I(0x07, 2, 0, 0, -4)); // r2 += -4
    p.push(I(0x18, 1, 1, 0, mapFd), I(0, 0, 0, 0, 0)); // r1 = map
    p.push(I(0x85, 0, 0, 0, 1)); // call bpf_map_lookup_elem (r0 unused)
  }
  p.push(I(0x07, 6, 0, 0, 1)); // r6 += 1
  p.push(I(0xa5, 6, 0, loop - (p.length + 1), LOOPS)); // if r6 < LOOPS goto loop
  p.push(I(0xbf, 0, 7)); // r0 = r7
  p.push(I(0x95)); // exit
  // the NULL check jumps to `r0 = r7`
  p[8] = I(0x15, 0, 0, p.length - 2 - 9, 0);
  return p;
}

/** A kernel with the benchmark programs loaded. */
export interface InterpRig {
  k: Kernel;
  alu: LoadedInsnProg;
  helper: LoadedInsnProg;
}

/** Boots a kernel, creates the array and loads both programs. */
export function setupInterp(): InterpRig {
  const k = new Kernel({ cpus: 2, seed: 1 });
  const fd = k.sys.mapCreate({ mapType: "array", keySize: 4, valueSize: 8, maxEntries: 1, name: "bench" });
  const load = (withHelper: boolean) => {
    const lp = loadInsnProg(k, {
      name: withHelper ? "bench_helper" : "bench_alu",
      progType: BPF_PROG_TYPE_SYSCALL,
      attachType: 0,
      insns: aluLoop(fd, withHelper),
      license: "GPL",
      mapOfFd: (f) => k.sys.fdGetMap(f),
    });
    if ("errno" in lp) throw new Error(lp.log.join("\n"));
    return lp;
  };
  return { k, alu: load(false), helper: load(true) };
}

/** One run of a program; returns the instructions it executed. */
export function runOnce(rig: InterpRig, lp: LoadedInsnProg): number {
  const k = rig.k;
  let n = 0;
  k.exec(0, () => {
    rcu_read_lock(k);
    const r = runInsnProg(k, lp, k.cur, 0, { kind: "bytes", bytes: new Uint8Array(0) });
    rcu_read_unlock(k);
    if (r.fault) throw new Error(r.fault);
    n = r.insns;
  });
  return n;
}

/** The same arithmetic in plain JavaScript (numbers, no BigInt; one iteration per BPF loop iteration). */
export function jsBaseline(): number {
  let acc = 0, val = 0;
  const stack = new Float64Array(2);
  for (let i = 0; i < LOOPS; i++) {
    const h = Math.imul(i, 0x9e3779b1) >>> 13;
    acc = ((acc ^ h) + i) >>> 0;
    stack[0] = acc;
    const b = stack[0] & 0xff;
    val = (val + b) >>> 0;
    acc = (acc + val) >>> 0;
  }
  return acc;
}
