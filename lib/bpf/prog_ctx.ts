// The context (r1) each program type gets, in simulated memory, and what
// the verifier lets a program do with it (is_valid_access of each type's
// bpf_verifier_ops: kprobe_prog_is_valid_access and tp_prog_is_valid_access
// in kernel/trace/bpf_trace.c, xdp_is_valid_access and
// tc_cls_act_is_valid_access in net/core/filter.c, and convert_ctx_access,
// which turns the uapi's 32-bit xdp_md/__sk_buff data fields into loads of
// the kernel's pointers):
//  - kprobe: struct pt_regs (x86-64), arguments in di, si, dx, cx, r8, r9;
//  - tracepoint: the trace event record (common fields, then the event's);
//  - raw_tracepoint, tracing (fentry/fexit): u64 args[], fexit's return after them;
//  - perf_event: struct bpf_perf_event_data { pt_regs; sample_period; addr };
//  - xdp: struct xdp_md, with the simulated xdp_buff's pointers after it;
//  - sched_cls (tc): struct __sk_buff, with the simulated sk_buff's pointers after it;
//  - syscall: the caller's ctx_in buffer.

import type { Kernel } from "../kernel/kernel.ts";
import { BPF_DW, BPF_LDX, BPF_MEM } from "./uapi_insn.ts";
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

/** sizeof(struct pt_regs) on x86-64. */
export const PT_REGS_SIZE = 168;

/** Offsets of struct pt_regs (x86-64) fields. */
export const PT_REGS = {
  r15: 0,
  r14: 8,
  r13: 16,
  r12: 24,
  bp: 32,
  bx: 40,
  r11: 48,
  r10: 56,
  r9: 64,
  r8: 72,
  ax: 80,
  cx: 88,
  dx: 96,
  si: 104,
  di: 112,
  orig_ax: 120,
  ip: 128,
  cs: 136,
  flags: 144,
  sp: 152,
  ss: 160,
} as const;

/** The x86-64 calling convention: where argument i is (PT_REGS_PARM1..6). */
export const PT_REGS_PARM = [PT_REGS.di, PT_REGS.si, PT_REGS.dx, PT_REGS.cx, PT_REGS.r8, PT_REGS.r9];

/** PERF_MAX_TRACE_SIZE: the largest tracepoint record a program may read. */
export const PERF_MAX_TRACE_SIZE = 2048;
/** MAX_BPF_FUNC_ARGS */
export const MAX_BPF_FUNC_ARGS = 12;
/** sizeof(struct bpf_perf_event_data) */
export const PERF_EVENT_DATA_SIZE = 184;
/** sizeof(struct xdp_md) */
export const XDP_MD_SIZE = 24;
/** sizeof(struct __sk_buff) */
export const SKBUFF_SIZE = 192;
/** XDP_PACKET_HEADROOM */
export const XDP_PACKET_HEADROOM = 256;

// The simulated kernel structures behind the uapi contexts. XDP: struct
// xdp_buff (data, data_end, data_meta at 0, 8, 16 as in the kernel), then the
// ifindex and queue the kernel reaches through rxq/txq. tc: the sk_buff's
// data_meta and data_end (in skb->cb, bpf_skb_data_end) and data at the
// offsets the 6.18 oracle's xlated code loads them from, and the other
// __sk_buff fields mirrored after them (SKB_UAPI + uapi offset).
const XDP_DATA = 0, XDP_DATA_END = 8, XDP_DATA_META = 16, XDP_IFINDEX = 56, XDP_RXQ = 60, XDP_EGRESS = 64, XDP_HDR = 72;
const SKB_DATA_META = 72, SKB_DATA_END = 80, SKB_DATA = 200;
/** Where the simulated sk_buff mirrors the uapi __sk_buff fields (field at SKB_UAPI + its uapi offset). */
export const SKB_UAPI = 256;
const SKB_HDR = SKB_UAPI + 192;

/** Largest packet a test run or a workload hands an xdp/tc program. */
export const MAX_PACKET = 3520;

/** What a ctx load turns into when the verifier converts it. */
export interface CtxRewrite {
  /** The new opcode (a 64-bit load), or 0 to keep the access's own. */
  readonly code: number;
  /** The new offset in the simulated ctx. */
  readonly off: number;
}

/** The verifier's answer for one ctx access: what the load yields and how to rewrite it; null when invalid. */
export interface CtxAccess {
  /** "scalar", a packet pointer, or a kernel pointer (fentry args). */
  readonly result: "scalar" | "pkt" | "pkt_end" | "pkt_meta" | "kptr";
  /** convert_ctx_access() */
  readonly rewrite: CtxRewrite | null;
}

const SCALAR_ACCESS: CtxAccess = { result: "scalar", rewrite: null };

/** is_valid_access() and convert_ctx_access() of a program type. */
export function ctxAccess(
  progType: number,
  _attachType: number,
  off: number,
  size: number,
  write: boolean,
  ctxSize: number,
): CtxAccess | null {
  const aligned = off % size === 0;
  switch (progType) {
    case BPF_PROG_TYPE_KPROBE:
      if (off < 0 || off + size > PT_REGS_SIZE || write || !aligned) return null;
      return SCALAR_ACCESS;
    case BPF_PROG_TYPE_PERF_EVENT:
      if (off < 0 || off + size > PERF_EVENT_DATA_SIZE || write || !aligned) return null;
      return SCALAR_ACCESS;
    case BPF_PROG_TYPE_TRACEPOINT:
      if (off < 8 || off >= PERF_MAX_TRACE_SIZE || write || !aligned) return null;
      return SCALAR_ACCESS;
    case BPF_PROG_TYPE_RAW_TRACEPOINT:
      if (off < 0 || off >= 8 * MAX_BPF_FUNC_ARGS || write || !aligned || size !== 8) return null;
      return SCALAR_ACCESS;
    case BPF_PROG_TYPE_TRACING:
      // btf_ctx_access(): without the kernel's BTF every argument may be a pointer (loads through it are PROBE_MEM)
      if (off < 0 || off >= 8 * (MAX_BPF_FUNC_ARGS + 1) || write || !aligned || size !== 8) return null;
      return { result: "kptr", rewrite: null };
    case BPF_PROG_TYPE_XDP: {
      if (off < 0 || off + size > XDP_MD_SIZE || write || size !== 4 || !aligned) return null;
      const ld = BPF_LDX | BPF_MEM | BPF_DW;
      if (off === 0) return { result: "pkt", rewrite: { code: ld, off: XDP_DATA } };
      if (off === 4) return { result: "pkt_end", rewrite: { code: ld, off: XDP_DATA_END } };
      if (off === 8) return { result: "pkt_meta", rewrite: { code: ld, off: XDP_DATA_META } };
      const sim = off === 12 ? XDP_IFINDEX : off === 16 ? XDP_RXQ : XDP_EGRESS;
      return { result: "scalar", rewrite: { code: 0, off: sim } };
    }
    case BPF_PROG_TYPE_SCHED_CLS: {
      if (off < 0 || off + size > SKBUFF_SIZE || !aligned) return null;
      const ld = BPF_LDX | BPF_MEM | BPF_DW;
      if (write) {
        // tc_cls_act_is_valid_access(): mark, tc_index, priority, cb[], tc_classid, queue_mapping, tstamp
        const ok = off === 8 || off === 12 || off === 32 || off === 44 || (off >= 48 && off + size <= 68) ||
          off === 72 ||
          off === 152;
        return ok ? { result: "scalar", rewrite: { code: 0, off: SKB_UAPI + off } } : null;
      }
      if (off === 76) return size === 4 ? { result: "pkt", rewrite: { code: ld, off: SKB_DATA } } : null;
      if (off === 80) return size === 4 ? { result: "pkt_end", rewrite: { code: ld, off: SKB_DATA_END } } : null;
      if (off === 140) return size === 4 ? { result: "pkt_meta", rewrite: { code: ld, off: SKB_DATA_META } } : null;
      return { result: "scalar", rewrite: { code: 0, off: SKB_UAPI + off } };
    }
    case BPF_PROG_TYPE_SYSCALL:
      if (off < 0 || off + size > Math.max(ctxSize, 0xffff)) return null;
      return SCALAR_ACCESS;
    default:
      return null;
  }
}

/** Bytes of ctx a program type's runs need (the interpreter's ctx slot). */
export function ctxBytes(progType: number): number {
  switch (progType) {
    case BPF_PROG_TYPE_KPROBE:
      return PT_REGS_SIZE;
    case BPF_PROG_TYPE_PERF_EVENT:
      return PERF_EVENT_DATA_SIZE;
    case BPF_PROG_TYPE_TRACEPOINT:
      return 512;
    case BPF_PROG_TYPE_RAW_TRACEPOINT:
    case BPF_PROG_TYPE_TRACING:
      return 8 * (MAX_BPF_FUNC_ARGS + 1);
    case BPF_PROG_TYPE_XDP:
      return XDP_HDR + XDP_PACKET_HEADROOM + MAX_PACKET;
    case BPF_PROG_TYPE_SCHED_CLS:
      return SKB_HDR + XDP_PACKET_HEADROOM + MAX_PACKET;
    case BPF_PROG_TYPE_SYSCALL:
      return 4096;
    default:
      return 256;
  }
}

function put64(k: Kernel, addr: number, v: number | bigint): void {
  const b = BigInt.asUintN(64, BigInt(typeof v === "number" ? Math.trunc(v) : v));
  k.mem.writeU32(addr, Number(b & 0xffffffffn));
  k.mem.writeU32(addr + 4, Number(b >> 32n));
}

/** A struct pt_regs at `addr` with the probed function's arguments (and return value for kretprobes). */
export function writePtRegs(k: Kernel, addr: number, args: ArrayLike<number | bigint>, ret = 0, ip = 0): void {
  k.mem.fill(addr, 0, PT_REGS_SIZE);
  for (let i = 0; i < Math.min(6, args.length); i++) put64(k, addr + PT_REGS_PARM[i], args[i]);
  put64(k, addr + PT_REGS.ax, ret);
  put64(k, addr + PT_REGS.ip, ip);
}

/** u64 args[] at `addr` (raw tracepoints, fentry/fexit; fexit's return value follows the arguments). */
export function writeArgs(k: Kernel, addr: number, args: ArrayLike<number | bigint>): void {
  k.mem.fill(addr, 0, 8 * (MAX_BPF_FUNC_ARGS + 1));
  for (let i = 0; i < Math.min(args.length, MAX_BPF_FUNC_ARGS + 1); i++) put64(k, addr + 8 * i, args[i]);
}

/** A trace event record (the bytes as the tracepoint's format lays them out). */
export function writeRecord(k: Kernel, addr: number, record: Uint8Array): void {
  if (record.length > 512) throw new RangeError(`tracepoint record of ${record.length} bytes is larger than 512`);
  k.mem.fill(addr, 0, 512);
  k.mem.copyIn(addr, record, 0, record.length);
}

/** struct bpf_perf_event_data: the interrupted registers, sample_period and addr. */
export function writePerfEventData(
  k: Kernel,
  addr: number,
  regs: ArrayLike<number>,
  samplePeriod: number,
  at = 0,
): void {
  writePtRegs(k, addr, regs);
  put64(k, addr + PT_REGS_SIZE, samplePeriod);
  put64(k, addr + PT_REGS_SIZE + 8, at);
}

/** Where a packet sits in an xdp/tc ctx and what the program left there. */
export interface PacketCtx {
  /** Address of the first packet byte (data). */
  data: number;
  /** data_end */
  dataEnd: number;
}

/** An xdp_md/xdp_buff at `addr` holding `pkt` after XDP_PACKET_HEADROOM. */
export function writeXdp(k: Kernel, addr: number, pkt: Uint8Array, ifindex = 1, rxQueue = 0): PacketCtx {
  if (pkt.length > MAX_PACKET) throw new RangeError(`packet of ${pkt.length} bytes is larger than ${MAX_PACKET}`);
  k.mem.fill(addr, 0, XDP_HDR);
  const data = addr + XDP_HDR + XDP_PACKET_HEADROOM;
  k.mem.copyIn(data, pkt, 0, pkt.length);
  put64(k, addr + XDP_DATA, data);
  put64(k, addr + XDP_DATA_END, data + pkt.length);
  put64(k, addr + XDP_DATA_META, data);
  put64(k, addr + 24, addr + XDP_HDR); // data_hard_start
  k.mem.writeU32(addr + 48, XDP_PACKET_HEADROOM + MAX_PACKET); // frame_sz
  k.mem.writeU32(addr + XDP_IFINDEX, ifindex);
  k.mem.writeU32(addr + XDP_RXQ, rxQueue);
  return { data, dataEnd: data + pkt.length };
}

/** Fields of a __sk_buff a tc program reads. */
export interface SkbFields {
  /** skb->protocol, network byte order (ETH_P_IP: 0x0008 as read on little endian). */
  protocol?: number;
  /** skb->mark */
  mark?: number;
  /** skb->dev's ifindex (BPF_PROG_TEST_RUN: the loopback device, 1) */
  ifindex?: number;
  /** skb->skb_iif (0 unless the packet came in on a device) */
  ingressIfindex?: number;
  /** skb->priority */
  priority?: number;
}

/** A __sk_buff/sk_buff at `addr` holding `pkt`. */
export function writeSkb(k: Kernel, addr: number, pkt: Uint8Array, f: SkbFields = {}): PacketCtx {
  if (pkt.length > MAX_PACKET) throw new RangeError(`packet of ${pkt.length} bytes is larger than ${MAX_PACKET}`);
  k.mem.fill(addr, 0, SKB_HDR);
  const data = addr + SKB_HDR + XDP_PACKET_HEADROOM;
  k.mem.copyIn(data, pkt, 0, pkt.length);
  const u = addr + SKB_UAPI;
  k.mem.writeU32(u + 0, pkt.length); // len
  k.mem.writeU32(u + 8, f.mark ?? 0);
  k.mem.writeU32(u + 16, f.protocol ?? (pkt.length >= 14 ? pkt[12] | (pkt[13] << 8) : 0));
  k.mem.writeU32(u + 32, f.priority ?? 0);
  k.mem.writeU32(u + 36, f.ingressIfindex ?? 0);
  k.mem.writeU32(u + 40, f.ifindex ?? 1);
  k.mem.writeU32(u + 160, pkt.length); // wire_len
  put64(k, addr + SKB_DATA, data);
  put64(k, addr + SKB_DATA_END, data + pkt.length);
  put64(k, addr + SKB_DATA_META, data);
  return { data, dataEnd: data + pkt.length };
}

/** The uapi __sk_buff view of a simulated sk_buff at `addr` (what BPF_PROG_TEST_RUN's ctx_out shows). */
export function readSkbUapi(k: Kernel, addr: number): Uint8Array {
  return k.mem.bytes(addr + SKB_UAPI, SKBUFF_SIZE);
}

/** The packet bytes an xdp/tc program left between data and data_end. */
export function readPacket(k: Kernel, ctxAddr: number, progType: number): Uint8Array {
  const xdp = progType === BPF_PROG_TYPE_XDP;
  const rd = (o: number) => k.mem.readU32(ctxAddr + o) + k.mem.readU32(ctxAddr + o + 4) * 4294967296;
  const data = rd(xdp ? XDP_DATA : SKB_DATA), end = rd(xdp ? XDP_DATA_END : SKB_DATA_END);
  return k.mem.bytes(data, Math.max(0, end - data));
}
