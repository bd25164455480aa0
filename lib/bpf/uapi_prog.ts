// include/uapi/linux/bpf.h, the program side: enum bpf_prog_type, the attach
// types and link types bpfsim's hooks use, with libbpf's names for them
// (libbpf_bpf_prog_type_str() & co., which bpftool prints), and the release
// each program type appeared in.

/** enum bpf_prog_type: libbpf's name of each type number (prog_type_name[] in libbpf.c). */
export const PROG_TYPE_NAMES: readonly string[] = [
  "unspec",
  "socket_filter",
  "kprobe",
  "sched_cls",
  "sched_act",
  "tracepoint",
  "xdp",
  "perf_event",
  "cgroup_skb",
  "cgroup_sock",
  "lwt_in",
  "lwt_out",
  "lwt_xmit",
  "sock_ops",
  "sk_skb",
  "cgroup_device",
  "sk_msg",
  "raw_tracepoint",
  "cgroup_sock_addr",
  "lwt_seg6local",
  "lirc_mode2",
  "sk_reuseport",
  "flow_dissector",
  "cgroup_sysctl",
  "raw_tracepoint_writable",
  "cgroup_sockopt",
  "tracing",
  "struct_ops",
  "ext",
  "lsm",
  "sk_lookup",
  "syscall",
  "netfilter",
];

/** BPF_PROG_TYPE_KPROBE: kprobes and kretprobes (kernel/trace/bpf_trace.c). */
export const BPF_PROG_TYPE_KPROBE = 2;
/** BPF_PROG_TYPE_SCHED_CLS: tc classifiers (net/sched/cls_bpf.c, tcx). */
export const BPF_PROG_TYPE_SCHED_CLS = 3;
/** BPF_PROG_TYPE_TRACEPOINT: perf tracepoint programs. */
export const BPF_PROG_TYPE_TRACEPOINT = 5;
/** BPF_PROG_TYPE_XDP: eXpress Data Path, run in the NAPI poll. */
export const BPF_PROG_TYPE_XDP = 6;
/** BPF_PROG_TYPE_PERF_EVENT: perf sampling events (NMI or hrtimer). */
export const BPF_PROG_TYPE_PERF_EVENT = 7;
/** BPF_PROG_TYPE_RAW_TRACEPOINT: raw tracepoint arguments, no perf buffer. */
export const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;
/** BPF_PROG_TYPE_TRACING: fentry/fexit/fmod_ret via BPF trampolines. */
export const BPF_PROG_TYPE_TRACING = 26;
/** BPF_PROG_TYPE_SYSCALL: programs run by BPF_PROG_TEST_RUN in task context (may sleep). */
export const BPF_PROG_TYPE_SYSCALL = 31;

/** Release (major*100+minor) in which each simulated program type appeared. */
export const PROG_TYPE_SINCE: Readonly<Record<number, number>> = {
  [BPF_PROG_TYPE_KPROBE]: 401,
  [BPF_PROG_TYPE_SCHED_CLS]: 401,
  [BPF_PROG_TYPE_TRACEPOINT]: 407,
  [BPF_PROG_TYPE_XDP]: 408,
  [BPF_PROG_TYPE_PERF_EVENT]: 409,
  [BPF_PROG_TYPE_RAW_TRACEPOINT]: 417,
  [BPF_PROG_TYPE_TRACING]: 505,
  [BPF_PROG_TYPE_SYSCALL]: 514,
};

/** libbpf_bpf_prog_type_str(): the name bpftool prints, or null for an unknown number. */
export function progTypeName(t: number): string | null {
  return PROG_TYPE_NAMES[t] ?? null;
}

// enum bpf_attach_type (the ones bpfsim's hooks use).
/** BPF_TRACE_RAW_TP */
export const BPF_TRACE_RAW_TP = 23;
/** BPF_TRACE_FENTRY */
export const BPF_TRACE_FENTRY = 24;
/** BPF_TRACE_FEXIT */
export const BPF_TRACE_FEXIT = 25;
/** BPF_XDP */
export const BPF_XDP = 37;
/** BPF_PERF_EVENT */
export const BPF_PERF_EVENT = 41;
/** BPF_TCX_INGRESS */
export const BPF_TCX_INGRESS = 46;

/** libbpf_bpf_attach_type_str() for the attach types above. */
export const ATTACH_TYPE_NAMES: Readonly<Record<number, string>> = {
  [BPF_TRACE_RAW_TP]: "raw_tp",
  [BPF_TRACE_FENTRY]: "trace_fentry",
  [BPF_TRACE_FEXIT]: "trace_fexit",
  [BPF_XDP]: "xdp",
  [BPF_PERF_EVENT]: "perf_event",
  [BPF_TCX_INGRESS]: "tcx_ingress",
};

// enum bpf_link_type
/** BPF_LINK_TYPE_RAW_TRACEPOINT */
export const BPF_LINK_TYPE_RAW_TRACEPOINT = 1;
/** BPF_LINK_TYPE_TRACING */
export const BPF_LINK_TYPE_TRACING = 2;
/** BPF_LINK_TYPE_XDP */
export const BPF_LINK_TYPE_XDP = 6;
/** BPF_LINK_TYPE_PERF_EVENT (kprobes, tracepoints and perf events attached through perf_event_open) */
export const BPF_LINK_TYPE_PERF_EVENT = 7;
/** BPF_LINK_TYPE_TCX */
export const BPF_LINK_TYPE_TCX = 11;

/** libbpf_bpf_link_type_str(): link type names in type-number order. */
export const LINK_TYPE_NAMES: readonly string[] = [
  "unspec",
  "raw_tracepoint",
  "tracing",
  "cgroup",
  "iter",
  "netns",
  "xdp",
  "perf_event",
  "kprobe_multi",
  "struct_ops",
  "netfilter",
  "tcx",
  "uprobe_multi",
  "netkit",
];

/** BPF_TAG_SIZE: the program tag is 8 bytes. */
export const BPF_TAG_SIZE = 8;
/** MAX_TAIL_CALL_CNT */
export const MAX_TAIL_CALL_CNT = 33;
