// struct bpf_func_proto for the helpers bpfsim runs (kernel/bpf/helpers.c,
// kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c, kernel/bpf/bpf_iter.c):
// argument and return types as the verifier checks them, gpl_only, and
// where each helper is available: the release that added it (what
// __BPF_FUNC_MAX_ID is on a profile) and the program types whose
// get_func_proto returns it (bpf_base_func_proto for every type, the
// tracing types' bpf_tracing_func_proto, xdp_func_proto, tc_cls_act_func_proto).

import { BPF_FUNC, funcIdName } from "./uapi_insn.ts";
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

/** enum bpf_arg_type (the ones these helpers use). */
export type ArgType =
  | "const_map_ptr"
  | "ptr_to_map_key"
  | "ptr_to_map_value"
  | "ptr_to_uninit_map_value"
  | "anything"
  | "ptr_to_mem"
  | "ptr_to_uninit_mem"
  | "const_size"
  | "const_size_or_zero"
  | "ptr_to_ctx"
  | "ptr_to_spin_lock"
  | "ptr_to_func"
  | "ptr_to_stack_or_null"
  | "ptr_to_alloc_mem"
  | "const_alloc_size_or_zero";

/** enum bpf_return_type */
export type RetType = "integer" | "void" | "ptr_to_map_value_or_null" | "ptr_to_alloc_mem_or_null";

/** Which get_func_proto hands a helper out. */
export type ProtoGroup = "base" | "tracing" | "net";

/** One helper's prototype. */
export interface FuncProto {
  /** enum bpf_func_id */
  readonly id: number;
  /** Arguments r1..r5 (fewer when the helper takes fewer). */
  readonly args: readonly ArgType[];
  /** What r0 holds after the call. */
  readonly ret: RetType;
  /** Callable only from GPL-compatible programs. */
  readonly gplOnly: boolean;
  /** base: every program type; tracing: kprobe/tracepoint/raw_tp/tracing/perf_event/syscall; net: xdp/tc. */
  readonly group: ProtoGroup;
}

const P = (id: number, args: ArgType[], ret: RetType, gplOnly: boolean, group: ProtoGroup): FuncProto => ({
  id,
  args,
  ret,
  gplOnly,
  group,
});

/** The prototypes of the helpers bpfsim implements, by id. */
export const FUNC_PROTOS: ReadonlyMap<number, FuncProto> = new Map([
  [BPF_FUNC.map_lookup_elem, P(1, ["const_map_ptr", "ptr_to_map_key"], "ptr_to_map_value_or_null", false, "base")],
  [
    BPF_FUNC.map_update_elem,
    P(2, ["const_map_ptr", "ptr_to_map_key", "ptr_to_map_value", "anything"], "integer", false, "base"),
  ],
  [BPF_FUNC.map_delete_elem, P(3, ["const_map_ptr", "ptr_to_map_key"], "integer", false, "base")],
  [BPF_FUNC.probe_read, P(4, ["ptr_to_uninit_mem", "const_size_or_zero", "anything"], "integer", true, "tracing")],
  [BPF_FUNC.ktime_get_ns, P(5, [], "integer", false, "base")],
  [
    BPF_FUNC.trace_printk,
    // the format arguments (r3-r5) are ARG_DONTCARE: not checked, maybe never set
    P(6, ["ptr_to_mem", "const_size"], "integer", true, "base"),
  ],
  [BPF_FUNC.get_prandom_u32, P(7, [], "integer", false, "base")],
  [BPF_FUNC.get_smp_processor_id, P(8, [], "integer", false, "base")],
  [BPF_FUNC.tail_call, P(12, ["ptr_to_ctx", "const_map_ptr", "anything"], "void", false, "base")],
  [BPF_FUNC.get_current_pid_tgid, P(14, [], "integer", false, "tracing")],
  [BPF_FUNC.get_current_uid_gid, P(15, [], "integer", false, "tracing")],
  [BPF_FUNC.get_current_comm, P(16, ["ptr_to_uninit_mem", "const_size"], "integer", false, "tracing")],
  [
    BPF_FUNC.perf_event_output,
    P(25, ["ptr_to_ctx", "const_map_ptr", "anything", "ptr_to_mem", "const_size_or_zero"], "integer", true, "tracing"),
  ],
  [42, P(42, [], "integer", false, "base")], // get_numa_node_id
  [BPF_FUNC.map_push_elem, P(87, ["const_map_ptr", "ptr_to_map_value", "anything"], "integer", false, "base")],
  [BPF_FUNC.map_pop_elem, P(88, ["const_map_ptr", "ptr_to_uninit_map_value"], "integer", false, "base")],
  [BPF_FUNC.map_peek_elem, P(89, ["const_map_ptr", "ptr_to_uninit_map_value"], "integer", false, "base")],
  [BPF_FUNC.spin_lock, P(93, ["ptr_to_spin_lock"], "void", false, "base")],
  [BPF_FUNC.spin_unlock, P(94, ["ptr_to_spin_lock"], "void", false, "base")],
  [
    BPF_FUNC.probe_read_user,
    P(112, ["ptr_to_uninit_mem", "const_size_or_zero", "anything"], "integer", true, "tracing"),
  ],
  [
    BPF_FUNC.probe_read_kernel,
    P(113, ["ptr_to_uninit_mem", "const_size_or_zero", "anything"], "integer", true, "tracing"),
  ],
  [
    BPF_FUNC.probe_read_user_str,
    P(114, ["ptr_to_uninit_mem", "const_size_or_zero", "anything"], "integer", true, "tracing"),
  ],
  [
    BPF_FUNC.probe_read_kernel_str,
    P(115, ["ptr_to_uninit_mem", "const_size_or_zero", "anything"], "integer", true, "tracing"),
  ],
  [118, P(118, [], "integer", false, "base")], // jiffies64
  [BPF_FUNC.ktime_get_boot_ns, P(125, [], "integer", false, "base")],
  [
    BPF_FUNC.ringbuf_output,
    P(130, ["const_map_ptr", "ptr_to_mem", "const_size_or_zero", "anything"], "integer", false, "base"),
  ],
  [
    BPF_FUNC.ringbuf_reserve,
    P(131, ["const_map_ptr", "const_alloc_size_or_zero", "anything"], "ptr_to_alloc_mem_or_null", false, "base"),
  ],
  [BPF_FUNC.ringbuf_submit, P(132, ["ptr_to_alloc_mem", "anything"], "void", false, "base")],
  [BPF_FUNC.ringbuf_discard, P(133, ["ptr_to_alloc_mem", "anything"], "void", false, "base")],
  [BPF_FUNC.ringbuf_query, P(134, ["const_map_ptr", "anything"], "integer", false, "base")],
  [160, P(160, [], "integer", false, "base")], // ktime_get_coarse_ns
  [BPF_FUNC.loop, P(181, ["anything", "ptr_to_func", "ptr_to_stack_or_null", "anything"], "integer", false, "base")],
]);

/**
 * __BPF_FUNC_MAX_ID of each release: the helpers that existed then
 * (include/uapi/linux/bpf.h at each tag).
 */
const MAX_ID_BY_RELEASE: readonly [number, number][] = [
  [401, 12],
  [402, 17],
  [404, 26],
  [405, 27],
  [406, 31],
  [408, 38],
  [409, 42],
  [410, 45],
  [411, 46],
  [412, 48],
  [413, 51],
  [414, 54],
  [415, 58],
  [416, 60],
  [417, 65],
  [418, 81],
  [419, 84],
  [420, 91],
  [500, 93],
  [501, 99],
  [502, 109],
  [503, 110],
  [504, 111],
  [505, 119],
  [506, 125],
  [507, 130],
  [508, 142],
  [509, 149],
  [510, 156],
  [511, 163],
  [512, 166],
  [513, 169],
  [515, 176],
  [516, 181],
  [517, 186],
  [518, 196],
  [519, 208],
  [600, 210],
  [602, 212],
];

/** __BPF_FUNC_MAX_ID on release `version` (major*100+minor). */
export function funcMaxId(version: number): number {
  let max = 0;
  for (const [v, n] of MAX_ID_BY_RELEASE) if (v <= version) max = n;
  return max;
}

/** 5.10+: bpf_probe_read_kernel(_str) are in bpf_base_func_proto (CAP_PERFMON), not only the tracing types'. */
const PROBE_READ_KERNEL_IN_BASE = 510;

/** Program types whose func_proto includes the tracing helpers. */
export function isTracingType(progType: number): boolean {
  return progType === BPF_PROG_TYPE_KPROBE || progType === BPF_PROG_TYPE_TRACEPOINT ||
    progType === BPF_PROG_TYPE_RAW_TRACEPOINT || progType === BPF_PROG_TYPE_TRACING ||
    progType === BPF_PROG_TYPE_PERF_EVENT || progType === BPF_PROG_TYPE_SYSCALL;
}

/** What check_helper_call() says about calling helper `id`. */
export type HelperCheck =
  | { readonly ok: true; readonly proto: FuncProto }
  | { readonly ok: false; readonly msg: string };

/**
 * check_helper_call()'s first checks: the id must exist on the release
 * ("invalid func unknown#N"), the program type must have a prototype for it
 * ("unknown func bpf_x#N"), GPL-only helpers need a GPL-compatible license;
 * and bpfsim must implement it (a load-time error naming the helper).
 */
export function checkHelper(id: number, progType: number, version: number, gpl: boolean): HelperCheck {
  if (id < 0 || id >= funcMaxId(version)) return { ok: false, msg: `invalid func unknown#${id}` };
  const proto = FUNC_PROTOS.get(id);
  const name = funcIdName(id);
  if (!proto) return { ok: false, msg: `bpfsim does not implement helper ${name}#${id}` };
  let available = proto.group === "base" || (proto.group === "tracing" && isTracingType(progType));
  if (
    !available && version >= PROBE_READ_KERNEL_IN_BASE &&
    (id === BPF_FUNC.probe_read_kernel || id === BPF_FUNC.probe_read_kernel_str)
  ) available = true;
  // xdp and tc have their own perf_event_output (bpf_xdp_event_output / bpf_skb_event_output)
  if (!available && id === BPF_FUNC.perf_event_output) {
    available = progType === BPF_PROG_TYPE_XDP || progType === BPF_PROG_TYPE_SCHED_CLS;
  }
  if (!available) return { ok: false, msg: `unknown func ${name}#${id}` };
  if (proto.gplOnly && !gpl) {
    return { ok: false, msg: "cannot call GPL-restricted function from non-GPL compatible program" };
  }
  return { ok: true, proto };
}

/** license_is_gpl_compatible() */
export function licenseIsGplCompatible(license: string): boolean {
  return ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"].includes(
    license,
  );
}
