// An instruction program from BPF_PROG_LOAD to a run: bpf_prog_load()'s part
// for a program given as struct bpf_insn[] (kernel/bpf/syscall.c,
// bpf_prog_calc_tag() in kernel/bpf/core.c, bpf_check() in
// verifier_insn.ts), the executable InsnProg the interpreter runs, the
// xlated instructions `prog dump xlated` shows, and one run on a CPU with a
// context built for the program type (prog_ctx.ts). The run path around it
// (bpf_prog_active, per-program active, RCU, statistics) is the caller's.

import type { Cpu } from "../kernel/cpu.ts";
import { EINVAL } from "../kernel/errno.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { sha1 } from "../kernel/sha1.ts";
import { sha256 } from "../kernel/sha256.ts";
import type { Btf } from "../libbpf/btf.ts";
import type { FuncInfo, LineInfo } from "../libbpf/btf_ext.ts";
import { licenseIsGplCompatible } from "./helper_protos.ts";
import { BpfFault, INSN_DONE, InsnEnv, InsnProg, runInsns } from "./interp.ts";
import "./interp_helpers.ts";
import type { BpfMap } from "./map.ts";
import {
  ctxBytes,
  type PacketCtx,
  readPacket,
  type SkbFields,
  writeArgs,
  writePerfEventData,
  writePtRegs,
  writeRecord,
  writeSkb,
  writeXdp,
} from "./prog_ctx.ts";
import {
  BPF_CALL,
  BPF_JMP,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  type BpfInsn,
  encodeInsns,
  LD_IMM64,
} from "./uapi_insn.ts";
import {
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_PROG_TYPE_SCHED_CLS,
  BPF_PROG_TYPE_SYSCALL,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_PROG_TYPE_TRACING,
  BPF_PROG_TYPE_XDP,
} from "./uapi_prog.ts";
import { bpf_check_insns } from "./verifier_insn.ts";

/** What BPF_PROG_LOAD gets for an instruction program. */
export interface InsnLoadAttr {
  /** prog_name */
  name: string;
  /** prog_type */
  progType: number;
  /** expected_attach_type */
  attachType: number;
  /** insns, as libbpf hands them over (ld_imm64 with map fds) */
  insns: readonly BpfInsn[];
  /** license */
  license: string;
  /** The loading process's fd table: fdget() + __bpf_map_get(), the map or -errno. */
  mapOfFd: (fd: number) => BpfMap | number;
  /** BPF_F_SLEEPABLE */
  sleepable?: boolean;
  /** The object's BTF (prog_btf_fd), kept for `prog dump xlated`. */
  btf?: Btf | null;
  /** func_info (instruction offsets) */
  funcInfo?: readonly FuncInfo[];
  /** line_info (instruction offsets) */
  lineInfo?: readonly LineInfo[];
  /** Bytes of ctx a syscall program uses. */
  ctxSize?: number;
}

/** A verified, loaded instruction program. */
export interface LoadedInsnProg {
  /** The executable form. */
  readonly prog: InsnProg;
  /** prog_type */
  readonly progType: number;
  /** used_maps (the caller takes a reference on each, as the kernel's used_maps hold them) */
  readonly maps: BpfMap[];
  /** license_is_gpl_compatible() */
  readonly gpl: boolean;
  /** bpf_prog_calc_tag(): 16 hex digits */
  readonly tag: string;
  /** The instructions as the kernel holds them, with map ids in ld_imm64 (bpf_insn_prepare_dump()). */
  readonly xlated: BpfInsn[];
  /** The instructions as loaded (what the tag is computed over). */
  readonly orig: readonly BpfInsn[];
  /** The object's BTF and its func/line info, for dumps. */
  readonly btf: Btf | null;
  /** func_info */
  readonly funcInfo: readonly FuncInfo[];
  /** line_info */
  readonly lineInfo: readonly LineInfo[];
  /** Helper ids the program calls. */
  readonly helpers: readonly number[];
  /** The verifier log. */
  readonly log: readonly string[];
}

/** A rejected load. */
export interface InsnLoadError {
  /** Positive errno. */
  readonly errno: number;
  /** The verifier log (last line: the reason). */
  readonly log: readonly string[];
}

/**
 * bpf_prog_calc_tag(): the first 8 bytes of a digest of the instructions
 * with map fds (and value offsets) zeroed: SHA-1 before 6.18, SHA-256 since
 * (checked on the 6.18 oracle: `r0 = 0; exit` is tagged 59f4a931744dcdc6).
 */
export function progTag(insns: readonly BpfInsn[], version = 618): string {
  const copy = insns.map((x) => ({ ...x }));
  let wasLdMap = false;
  for (const x of copy) {
    if (!wasLdMap && x.code === LD_IMM64 && (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE)) {
      wasLdMap = true;
      x.imm = 0;
    } else if (wasLdMap && x.code === 0 && x.dst === 0 && x.src === 0 && x.off === 0) {
      wasLdMap = false;
      x.imm = 0;
    } else {
      wasLdMap = false;
    }
  }
  const digest = version >= 618 ? sha256(encodeInsns(copy)) : sha1(encodeInsns(copy));
  return [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** bpf_prog_load()'s instruction part: verify, resolve, build the executable program. */
export function loadInsnProg(k: Kernel, a: InsnLoadAttr): LoadedInsnProg | InsnLoadError {
  const gpl = licenseIsGplCompatible(a.license);
  const tag = progTag(a.insns, k.features.version);
  const r = bpf_check_insns({
    insns: a.insns,
    progType: a.progType,
    attachType: a.attachType,
    version: k.features.version,
    gpl,
    mapOfFd: a.mapOfFd,
    ctxSize: a.ctxSize,
  });
  if (!r.ok) return { errno: r.errno, log: r.log };
  const prog = new InsnProg(
    k,
    a.name || "prog",
    r.insns,
    r.frameSize,
    Math.max(r.stackDepth, 8),
    ctxBytes(a.progType) + (a.progType === BPF_PROG_TYPE_SYSCALL ? Math.max(0, (a.ctxSize ?? 0) - 4096) : 0),
  );
  prog.maps = r.maps;
  for (const [i, v] of r.ldValue) {
    prog.ldLo[i] = v.lo;
    prog.ldHi[i] = v.hi;
  }
  prog.probe.set(r.probe);
  // bpf_insn_prepare_dump(): map fds become map ids; bpf-to-bpf calls keep the offset in off, as after jit_subprogs()
  const xlated = r.insns.map((x) => ({ ...x }));
  for (let i = 0; i < xlated.length; i++) {
    const x = xlated[i];
    if (x.code === LD_IMM64) {
      if (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE) {
        const m = a.mapOfFd(x.imm);
        if (typeof m !== "number") x.imm = m.id;
      }
      i++;
    } else if (x.code === (BPF_JMP | BPF_CALL) && x.src === BPF_PSEUDO_CALL) {
      x.off = x.imm;
      x.imm = r.subprogs.indexOf(i + x.off + 1);
    }
  }
  return {
    prog,
    progType: a.progType,
    maps: r.maps,
    gpl,
    tag,
    xlated,
    orig: a.insns,
    btf: a.btf ?? null,
    funcInfo: a.funcInfo ?? [],
    lineInfo: a.lineInfo ?? [],
    helpers: r.helpers,
    log: r.log,
  };
}

/** How a run's ctx is built. */
export type CtxSpec =
  | { readonly kind: "regs"; readonly args: ArrayLike<number | bigint>; readonly ret?: number; readonly ip?: number }
  | { readonly kind: "args"; readonly args: ArrayLike<number | bigint> }
  | { readonly kind: "record"; readonly bytes: Uint8Array }
  | { readonly kind: "perf"; readonly regs: ArrayLike<number>; readonly samplePeriod: number; readonly addr?: number }
  | { readonly kind: "xdp"; readonly packet: Uint8Array; readonly ifindex?: number; readonly rxQueue?: number }
  | { readonly kind: "skb"; readonly packet: Uint8Array; readonly fields?: SkbFields }
  | { readonly kind: "bytes"; readonly bytes: Uint8Array };

/**
 * The ctx a hook's arguments make for a program type (what the kernel's
 * hooks put in r1): pt_regs for kprobes, a record of the common header and
 * u64 fields for tracepoints, args[] for raw tracepoints and fentry/fexit,
 * bpf_perf_event_data for perf events.
 */
export function ctxFromArgs(progType: number, args: ArrayLike<number>, ret = 0): CtxSpec {
  switch (progType) {
    case BPF_PROG_TYPE_KPROBE:
      return { kind: "regs", args, ret };
    case BPF_PROG_TYPE_TRACEPOINT: {
      const rec = new Uint8Array(8 + 8 * args.length);
      const dv = new DataView(rec.buffer);
      for (let i = 0; i < args.length; i++) {
        dv.setBigUint64(8 + 8 * i, BigInt.asUintN(64, BigInt(Math.trunc(args[i]))), true);
      }
      return { kind: "record", bytes: rec };
    }
    case BPF_PROG_TYPE_PERF_EVENT:
      return { kind: "perf", regs: args, samplePeriod: 0 };
    case BPF_PROG_TYPE_XDP:
    case BPF_PROG_TYPE_SCHED_CLS:
      return { kind: progType === BPF_PROG_TYPE_XDP ? "xdp" : "skb", packet: new Uint8Array(64) };
    default:
      return { kind: "args", args };
  }
}

/** Per-(program, CPU, depth) run environments; never part of a snapshot. */
const envs = new WeakMap<InsnProg, InsnEnv[]>();

/** The environment for runs of `prog` on `cpu` at nesting `depth`. */
export function insnEnv(prog: InsnProg, cpu: Cpu, depth: number): InsnEnv {
  let list = envs.get(prog);
  if (list === undefined) {
    list = [];
    envs.set(prog, list);
  }
  const key = cpu.id * InsnProg.DEPTHS + Math.min(depth, InsnProg.DEPTHS - 1);
  let env = list[key];
  if (env === undefined) {
    env = new InsnEnv(prog.k, prog, cpu, Math.min(depth, InsnProg.DEPTHS - 1));
    list[key] = env;
  }
  env.prog = prog;
  env.cpu = cpu;
  return env;
}

/** Writes the ctx of `spec` into the run's ctx slot; returns its address (and the packet for xdp/tc). */
export function buildCtx(k: Kernel, env: InsnEnv, spec: CtxSpec): { addr: number; pkt: PacketCtx | null } {
  const p = env.prog;
  const addr = p.slot(env.cpu.id, env.depth) + p.stackBytes;
  switch (spec.kind) {
    case "regs":
      writePtRegs(k, addr, spec.args, spec.ret ?? 0, spec.ip ?? 0);
      for (let i = 0; i < Math.min(6, spec.args.length); i++) env.args[i] = Number(spec.args[i]);
      break;
    case "args":
      writeArgs(k, addr, spec.args);
      for (let i = 0; i < Math.min(12, spec.args.length); i++) env.args[i] = Number(spec.args[i]);
      break;
    case "record":
      writeRecord(k, addr, spec.bytes);
      break;
    case "perf":
      writePerfEventData(k, addr, spec.regs, spec.samplePeriod, spec.addr ?? 0);
      break;
    case "xdp":
      return { addr, pkt: writeXdp(k, addr, spec.packet, spec.ifindex, spec.rxQueue) };
    case "skb":
      return { addr, pkt: writeSkb(k, addr, spec.packet, spec.fields) };
    case "bytes":
      if (spec.bytes.length > p.ctxBytes) {
        throw new RangeError(`ctx of ${spec.bytes.length} bytes exceeds ${p.ctxBytes}`);
      }
      k.mem.fill(addr, 0, p.ctxBytes);
      k.mem.copyIn(addr, spec.bytes, 0, spec.bytes.length);
      break;
  }
  return { addr, pkt: null };
}

/** What a run produced. */
export interface InsnRunResult {
  /** r0 (a signed number, exact within ±2^53). */
  readonly ret: number;
  /** Instructions executed. */
  readonly insns: number;
  /** The oops, when the run faulted (the kernel would have crashed). */
  readonly fault: string | null;
  /** xdp/tc: the packet between data and data_end after the run; syscall: the ctx bytes. */
  readonly out: Uint8Array | null;
}

/**
 * Runs `lp` once on `cpu` (the current CPU, in whatever context and with
 * whatever guards the caller set up) at nesting `depth`, with the ctx
 * `spec` describes. A fault is reported to dmesg as an oops and ends the run.
 */
export function runInsnProg(
  k: Kernel,
  lp: LoadedInsnProg,
  cpu: Cpu,
  depth: number,
  spec: CtxSpec,
  owner: unknown = null,
): InsnRunResult {
  const env = startInsnRun(k, lp, cpu, depth, spec, owner);
  return finishInsnRun(k, lp, env, Infinity, spec)!;
}

/** Sets up a run (ctx, registers); resume it with finishInsnRun(). */
export function startInsnRun(
  k: Kernel,
  lp: LoadedInsnProg,
  cpu: Cpu,
  depth: number,
  spec: CtxSpec,
  owner: unknown = null,
): InsnEnv {
  const env = insnEnv(lp.prog, cpu, depth);
  env.owner = owner;
  env.args.fill(0);
  const { addr } = buildCtx(k, env, spec);
  env.reset(addr);
  return env;
}

/**
 * Runs `env` on until it exits (its result) or, with a finite `horizon`,
 * until it yields before a helper call once the CPU's clock passed it (null:
 * call again later).
 */
export function finishInsnRun(
  k: Kernel,
  lp: LoadedInsnProg,
  env: InsnEnv,
  horizon: number,
  spec: CtxSpec | null,
): InsnRunResult | null {
  try {
    if (runInsns(env, horizon) !== INSN_DONE) return null;
  } catch (e) {
    if (!(e instanceof BpfFault)) throw e;
    env.charge();
    oops(k, env, e);
    return { ret: 0, insns: env.insns, fault: e.message, out: null };
  }
  let out: Uint8Array | null = null;
  if (spec && (spec.kind === "xdp" || spec.kind === "skb")) out = readPacket(k, env.ctx, lp.progType);
  else if (spec && spec.kind === "bytes") out = k.mem.bytes(env.ctx, spec.bytes.length);
  return { ret: env.r0, insns: env.insns, fault: null, out };
}

/** An oops in dmesg for a faulting program (the kernel would die; the simulated CPU goes on). */
function oops(k: Kernel, env: InsnEnv, e: BpfFault): void {
  const cpu = env.cpu;
  const t = cpu.task();
  k.dmesg.log(
    cpu.clock,
    cpu.id,
    "err",
    "oops",
    [
      e.message,
      `#PF: supervisor ${e.message.includes("write") ? "write" : "read"} access in kernel mode`,
      `CPU: ${cpu.id} PID: ${t?.pid ?? 0} Comm: ${t?.name ?? "swapper"} ${k.release}`,
      `RIP: 0010:bpf_prog_${env.prog.name}+${e.pc}`,
      ...cpu.backtrace(),
    ].join("\n"),
  );
}

/** BPF_PROG_TEST_RUN's checks of what a program type can be run with (bpf_prog_test_run_*). */
export function testRunSupported(progType: number): boolean {
  return progType === BPF_PROG_TYPE_XDP || progType === BPF_PROG_TYPE_SCHED_CLS || progType === BPF_PROG_TYPE_SYSCALL ||
    progType === BPF_PROG_TYPE_RAW_TRACEPOINT || progType === BPF_PROG_TYPE_TRACING;
}

void EINVAL;
void BPF_PROG_TYPE_RAW_TRACEPOINT;
void BPF_PROG_TYPE_TRACING;
