// libbpf's SEC() names (tools/lib/bpf/libbpf.c section_defs[],
// sec_def_matches(), find_sec_def(), libbpf_prepare_prog_load()): what an
// ELF section name says about a program: its prog type, its expected attach
// type, whether it may sleep (".s" variants), and where it attaches
// (kprobe/FUNC, tracepoint/CAT/NAME, raw_tp/NAME, fentry/FUNC ...).

import { PROG_TYPE_NAMES } from "../bpf/uapi_prog.ts";

/** enum bpf_attach_type in value order (libbpf's attach_type_name[] spelling, without the BPF_ prefix). */
export const ATTACH_TYPES: readonly string[] = [
  "CGROUP_INET_INGRESS",
  "CGROUP_INET_EGRESS",
  "CGROUP_INET_SOCK_CREATE",
  "CGROUP_SOCK_OPS",
  "SK_SKB_STREAM_PARSER",
  "SK_SKB_STREAM_VERDICT",
  "CGROUP_DEVICE",
  "SK_MSG_VERDICT",
  "CGROUP_INET4_BIND",
  "CGROUP_INET6_BIND",
  "CGROUP_INET4_CONNECT",
  "CGROUP_INET6_CONNECT",
  "CGROUP_INET4_POST_BIND",
  "CGROUP_INET6_POST_BIND",
  "CGROUP_UDP4_SENDMSG",
  "CGROUP_UDP6_SENDMSG",
  "LIRC_MODE2",
  "FLOW_DISSECTOR",
  "CGROUP_SYSCTL",
  "CGROUP_UDP4_RECVMSG",
  "CGROUP_UDP6_RECVMSG",
  "CGROUP_GETSOCKOPT",
  "CGROUP_SETSOCKOPT",
  "TRACE_RAW_TP",
  "TRACE_FENTRY",
  "TRACE_FEXIT",
  "MODIFY_RETURN",
  "LSM_MAC",
  "TRACE_ITER",
  "CGROUP_INET4_GETPEERNAME",
  "CGROUP_INET6_GETPEERNAME",
  "CGROUP_INET4_GETSOCKNAME",
  "CGROUP_INET6_GETSOCKNAME",
  "XDP_DEVMAP",
  "CGROUP_INET_SOCK_RELEASE",
  "XDP_CPUMAP",
  "SK_LOOKUP",
  "XDP",
  "SK_SKB_VERDICT",
  "SK_REUSEPORT_SELECT",
  "SK_REUSEPORT_SELECT_OR_MIGRATE",
  "PERF_EVENT",
  "TRACE_KPROBE_MULTI",
  "LSM_CGROUP",
  "STRUCT_OPS",
  "NETFILTER",
  "TCX_INGRESS",
  "TCX_EGRESS",
  "TRACE_UPROBE_MULTI",
  "CGROUP_UNIX_CONNECT",
  "CGROUP_UNIX_SENDMSG",
  "CGROUP_UNIX_RECVMSG",
  "CGROUP_UNIX_GETPEERNAME",
  "CGROUP_UNIX_GETSOCKNAME",
  "NETKIT_PRIMARY",
  "NETKIT_PEER",
  "TRACE_KPROBE_SESSION",
];

/** The attach type number of a BPF_* name (without the prefix). */
export function attachTypeId(name: string): number {
  const i = ATTACH_TYPES.indexOf(name);
  if (i < 0) throw new Error(`unknown attach type ${name}`);
  return i;
}

/** enum sec_def_flags */
export const SEC_NONE = 0;
/** expected_attach_type is optional (dropped when the kernel does not know it) */
export const SEC_EXP_ATTACH_OPT = 1;
/** legacy: attachable through BPF_PROG_ATTACH */
export const SEC_ATTACHABLE = 2;
/** SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT */
export const SEC_ATTACHABLE_OPT = SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT;
/** the target is named by a BTF id (fentry/fexit/tp_btf/lsm/iter) */
export const SEC_ATTACH_BTF = 4;
/** BPF_F_SLEEPABLE */
export const SEC_SLEEPABLE = 8;
/** BPF_F_XDP_HAS_FRAGS */
export const SEC_XDP_FRAGS = 16;
/** usdt */
export const SEC_USDT = 32;

/** How libbpf attaches programs of a section (its prog_attach_fn). */
export type AutoAttach =
  | "kprobe"
  | "uprobe"
  | "ksyscall"
  | "usdt"
  | "tp"
  | "raw_tp"
  | "trace"
  | "kprobe_multi"
  | "kprobe_session"
  | "uprobe_multi"
  | "lsm"
  | "iter"
  | null;

/** One struct bpf_sec_def. */
export interface SecDef {
  /** The section prefix: "x" exact, "x+" exact or "x/...", "x/" prefix. */
  readonly sec: string;
  /** enum bpf_prog_type */
  readonly progType: number;
  /** expected_attach_type */
  readonly attachType: number;
  /** SEC_* flags (the cookie) */
  readonly flags: number;
  /** The auto-attach handler, or null. */
  readonly attach: AutoAttach;
}

function def(sec: string, ptype: string, atype: string | 0, flags: number, attach: AutoAttach = null): SecDef {
  const progType = PROG_TYPE_NAMES.indexOf(ptype);
  if (progType < 0) throw new Error(`unknown prog type ${ptype}`);
  return { sec, progType, attachType: atype === 0 ? 0 : attachTypeId(atype), flags, attach };
}

/** section_defs[], in libbpf's order (the first match wins). */
export const SECTION_DEFS: readonly SecDef[] = [
  def("socket", "socket_filter", 0, SEC_NONE),
  def("sk_reuseport/migrate", "sk_reuseport", "SK_REUSEPORT_SELECT_OR_MIGRATE", SEC_ATTACHABLE),
  def("sk_reuseport", "sk_reuseport", "SK_REUSEPORT_SELECT", SEC_ATTACHABLE),
  def("kprobe+", "kprobe", 0, SEC_NONE, "kprobe"),
  def("uprobe+", "kprobe", 0, SEC_NONE, "uprobe"),
  def("uprobe.s+", "kprobe", 0, SEC_SLEEPABLE, "uprobe"),
  def("kretprobe+", "kprobe", 0, SEC_NONE, "kprobe"),
  def("uretprobe+", "kprobe", 0, SEC_NONE, "uprobe"),
  def("uretprobe.s+", "kprobe", 0, SEC_SLEEPABLE, "uprobe"),
  def("kprobe.multi+", "kprobe", "TRACE_KPROBE_MULTI", SEC_NONE, "kprobe_multi"),
  def("kretprobe.multi+", "kprobe", "TRACE_KPROBE_MULTI", SEC_NONE, "kprobe_multi"),
  def("kprobe.session+", "kprobe", "TRACE_KPROBE_SESSION", SEC_NONE, "kprobe_session"),
  def("uprobe.multi+", "kprobe", "TRACE_UPROBE_MULTI", SEC_NONE, "uprobe_multi"),
  def("uretprobe.multi+", "kprobe", "TRACE_UPROBE_MULTI", SEC_NONE, "uprobe_multi"),
  def("uprobe.multi.s+", "kprobe", "TRACE_UPROBE_MULTI", SEC_SLEEPABLE, "uprobe_multi"),
  def("uretprobe.multi.s+", "kprobe", "TRACE_UPROBE_MULTI", SEC_SLEEPABLE, "uprobe_multi"),
  def("ksyscall+", "kprobe", 0, SEC_NONE, "ksyscall"),
  def("kretsyscall+", "kprobe", 0, SEC_NONE, "ksyscall"),
  def("usdt+", "kprobe", 0, SEC_USDT, "usdt"),
  def("usdt.s+", "kprobe", 0, SEC_USDT | SEC_SLEEPABLE, "usdt"),
  def("tc/ingress", "sched_cls", "TCX_INGRESS", SEC_NONE),
  def("tc/egress", "sched_cls", "TCX_EGRESS", SEC_NONE),
  def("tcx/ingress", "sched_cls", "TCX_INGRESS", SEC_NONE),
  def("tcx/egress", "sched_cls", "TCX_EGRESS", SEC_NONE),
  def("tc", "sched_cls", 0, SEC_NONE),
  def("classifier", "sched_cls", 0, SEC_NONE),
  def("action", "sched_act", 0, SEC_NONE),
  def("netkit/primary", "sched_cls", "NETKIT_PRIMARY", SEC_NONE),
  def("netkit/peer", "sched_cls", "NETKIT_PEER", SEC_NONE),
  def("tracepoint+", "tracepoint", 0, SEC_NONE, "tp"),
  def("tp+", "tracepoint", 0, SEC_NONE, "tp"),
  def("raw_tracepoint+", "raw_tracepoint", 0, SEC_NONE, "raw_tp"),
  def("raw_tp+", "raw_tracepoint", 0, SEC_NONE, "raw_tp"),
  def("raw_tracepoint.w+", "raw_tracepoint_writable", 0, SEC_NONE, "raw_tp"),
  def("raw_tp.w+", "raw_tracepoint_writable", 0, SEC_NONE, "raw_tp"),
  def("tp_btf+", "tracing", "TRACE_RAW_TP", SEC_ATTACH_BTF, "trace"),
  def("fentry+", "tracing", "TRACE_FENTRY", SEC_ATTACH_BTF, "trace"),
  def("fmod_ret+", "tracing", "MODIFY_RETURN", SEC_ATTACH_BTF, "trace"),
  def("fexit+", "tracing", "TRACE_FEXIT", SEC_ATTACH_BTF, "trace"),
  def("fentry.s+", "tracing", "TRACE_FENTRY", SEC_ATTACH_BTF | SEC_SLEEPABLE, "trace"),
  def("fmod_ret.s+", "tracing", "MODIFY_RETURN", SEC_ATTACH_BTF | SEC_SLEEPABLE, "trace"),
  def("fexit.s+", "tracing", "TRACE_FEXIT", SEC_ATTACH_BTF | SEC_SLEEPABLE, "trace"),
  def("freplace+", "ext", 0, SEC_ATTACH_BTF, "trace"),
  def("lsm+", "lsm", "LSM_MAC", SEC_ATTACH_BTF, "lsm"),
  def("lsm.s+", "lsm", "LSM_MAC", SEC_ATTACH_BTF | SEC_SLEEPABLE, "lsm"),
  def("lsm_cgroup+", "lsm", "LSM_CGROUP", SEC_ATTACH_BTF),
  def("iter+", "tracing", "TRACE_ITER", SEC_ATTACH_BTF, "iter"),
  def("iter.s+", "tracing", "TRACE_ITER", SEC_ATTACH_BTF | SEC_SLEEPABLE, "iter"),
  def("syscall", "syscall", 0, SEC_SLEEPABLE),
  def("xdp.frags/devmap", "xdp", "XDP_DEVMAP", SEC_XDP_FRAGS),
  def("xdp/devmap", "xdp", "XDP_DEVMAP", SEC_ATTACHABLE),
  def("xdp.frags/cpumap", "xdp", "XDP_CPUMAP", SEC_XDP_FRAGS),
  def("xdp/cpumap", "xdp", "XDP_CPUMAP", SEC_ATTACHABLE),
  def("xdp.frags", "xdp", "XDP", SEC_XDP_FRAGS),
  def("xdp", "xdp", "XDP", SEC_ATTACHABLE_OPT),
  def("perf_event", "perf_event", 0, SEC_NONE),
  def("lwt_in", "lwt_in", 0, SEC_NONE),
  def("lwt_out", "lwt_out", 0, SEC_NONE),
  def("lwt_xmit", "lwt_xmit", 0, SEC_NONE),
  def("lwt_seg6local", "lwt_seg6local", 0, SEC_NONE),
  def("sockops", "sock_ops", "CGROUP_SOCK_OPS", SEC_ATTACHABLE_OPT),
  def("sk_skb/stream_parser", "sk_skb", "SK_SKB_STREAM_PARSER", SEC_ATTACHABLE_OPT),
  def("sk_skb/stream_verdict", "sk_skb", "SK_SKB_STREAM_VERDICT", SEC_ATTACHABLE_OPT),
  def("sk_skb/verdict", "sk_skb", "SK_SKB_VERDICT", SEC_ATTACHABLE_OPT),
  def("sk_skb", "sk_skb", 0, SEC_NONE),
  def("sk_msg", "sk_msg", "SK_MSG_VERDICT", SEC_ATTACHABLE_OPT),
  def("lirc_mode2", "lirc_mode2", "LIRC_MODE2", SEC_ATTACHABLE_OPT),
  def("flow_dissector", "flow_dissector", "FLOW_DISSECTOR", SEC_ATTACHABLE_OPT),
  def("cgroup_skb/ingress", "cgroup_skb", "CGROUP_INET_INGRESS", SEC_ATTACHABLE_OPT),
  def("cgroup_skb/egress", "cgroup_skb", "CGROUP_INET_EGRESS", SEC_ATTACHABLE_OPT),
  def("cgroup/skb", "cgroup_skb", 0, SEC_NONE),
  def("cgroup/sock_create", "cgroup_sock", "CGROUP_INET_SOCK_CREATE", SEC_ATTACHABLE),
  def("cgroup/sock_release", "cgroup_sock", "CGROUP_INET_SOCK_RELEASE", SEC_ATTACHABLE),
  def("cgroup/sock", "cgroup_sock", "CGROUP_INET_SOCK_CREATE", SEC_ATTACHABLE_OPT),
  def("cgroup/post_bind4", "cgroup_sock", "CGROUP_INET4_POST_BIND", SEC_ATTACHABLE),
  def("cgroup/post_bind6", "cgroup_sock", "CGROUP_INET6_POST_BIND", SEC_ATTACHABLE),
  def("cgroup/bind4", "cgroup_sock_addr", "CGROUP_INET4_BIND", SEC_ATTACHABLE),
  def("cgroup/bind6", "cgroup_sock_addr", "CGROUP_INET6_BIND", SEC_ATTACHABLE),
  def("cgroup/connect4", "cgroup_sock_addr", "CGROUP_INET4_CONNECT", SEC_ATTACHABLE),
  def("cgroup/connect6", "cgroup_sock_addr", "CGROUP_INET6_CONNECT", SEC_ATTACHABLE),
  def("cgroup/connect_unix", "cgroup_sock_addr", "CGROUP_UNIX_CONNECT", SEC_ATTACHABLE),
  def("cgroup/sendmsg4", "cgroup_sock_addr", "CGROUP_UDP4_SENDMSG", SEC_ATTACHABLE),
  def("cgroup/sendmsg6", "cgroup_sock_addr", "CGROUP_UDP6_SENDMSG", SEC_ATTACHABLE),
  def("cgroup/sendmsg_unix", "cgroup_sock_addr", "CGROUP_UNIX_SENDMSG", SEC_ATTACHABLE),
  def("cgroup/recvmsg4", "cgroup_sock_addr", "CGROUP_UDP4_RECVMSG", SEC_ATTACHABLE),
  def("cgroup/recvmsg6", "cgroup_sock_addr", "CGROUP_UDP6_RECVMSG", SEC_ATTACHABLE),
  def("cgroup/recvmsg_unix", "cgroup_sock_addr", "CGROUP_UNIX_RECVMSG", SEC_ATTACHABLE),
  def("cgroup/getpeername4", "cgroup_sock_addr", "CGROUP_INET4_GETPEERNAME", SEC_ATTACHABLE),
  def("cgroup/getpeername6", "cgroup_sock_addr", "CGROUP_INET6_GETPEERNAME", SEC_ATTACHABLE),
  def("cgroup/getpeername_unix", "cgroup_sock_addr", "CGROUP_UNIX_GETPEERNAME", SEC_ATTACHABLE),
  def("cgroup/getsockname4", "cgroup_sock_addr", "CGROUP_INET4_GETSOCKNAME", SEC_ATTACHABLE),
  def("cgroup/getsockname6", "cgroup_sock_addr", "CGROUP_INET6_GETSOCKNAME", SEC_ATTACHABLE),
  def("cgroup/getsockname_unix", "cgroup_sock_addr", "CGROUP_UNIX_GETSOCKNAME", SEC_ATTACHABLE),
  def("cgroup/sysctl", "cgroup_sysctl", "CGROUP_SYSCTL", SEC_ATTACHABLE),
  def("cgroup/getsockopt", "cgroup_sockopt", "CGROUP_GETSOCKOPT", SEC_ATTACHABLE),
  def("cgroup/setsockopt", "cgroup_sockopt", "CGROUP_SETSOCKOPT", SEC_ATTACHABLE),
  def("cgroup/dev", "cgroup_device", "CGROUP_DEVICE", SEC_ATTACHABLE_OPT),
  def("struct_ops+", "struct_ops", 0, SEC_NONE),
  def("struct_ops.s+", "struct_ops", 0, SEC_SLEEPABLE),
  def("sk_lookup", "sk_lookup", "SK_LOOKUP", SEC_ATTACHABLE),
  def("netfilter", "netfilter", "NETFILTER", SEC_NONE),
];

/** sec_def_matches() */
export function secDefMatches(d: SecDef, secName: string): boolean {
  const s = d.sec;
  const last = s[s.length - 1];
  // "type/" always has to have proper SEC("type/extras") form
  if (last === "/") return secName.startsWith(s);
  // "type+" means it can be either exact SEC("type") or SEC("type/extras")
  if (last === "+") {
    const p = s.slice(0, -1);
    if (!secName.startsWith(p)) return false;
    return secName.length === p.length || secName[p.length] === "/";
  }
  return secName === s;
}

/** find_sec_def(): the first matching definition, or null. */
export function findSecDef(secName: string): SecDef | null {
  for (const d of SECTION_DEFS) if (secDefMatches(d, secName)) return d;
  return null;
}

/** Where a program of a section attaches, parsed from its section name. */
export interface AttachTarget {
  /** kprobe/kretprobe: the function; tracepoint: "category/name"; raw_tp: the tracepoint; fentry/fexit: the function. */
  readonly name: string;
  /** kretprobe/fexit-like return probes. */
  readonly retprobe: boolean;
  /** kprobe offset ("kprobe/func+0x10"). */
  readonly offset: number;
}

/**
 * The attach target a section name carries (what attach_kprobe(),
 * attach_tp(), attach_raw_tp() and attach_trace() parse), or null when the
 * section has none (SEC("xdp"), SEC("kprobe") without a function ...).
 */
export function attachTargetOf(d: SecDef, secName: string): AttachTarget | null {
  const slash = secName.indexOf("/");
  if (slash < 0 || d.attach === null) return null;
  const rest = secName.slice(slash + 1);
  if (rest === "") return null;
  switch (d.attach) {
    case "kprobe": {
      // "kprobe/%m[a-zA-Z0-9_.]+%li"
      const m = /^([A-Za-z0-9_.]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(rest);
      if (!m) return null;
      return { name: m[1], retprobe: secName.startsWith("kretprobe"), offset: m[2] ? Number(m[2]) : 0 };
    }
    case "ksyscall":
      return { name: rest, retprobe: secName.startsWith("kretsyscall"), offset: 0 };
    case "tp":
      // "tracepoint/<category>/<name>"
      return rest.includes("/") ? { name: rest, retprobe: false, offset: 0 } : null;
    case "raw_tp":
    case "trace":
    case "lsm":
    case "iter":
      return { name: rest, retprobe: d.attachType === attachTypeId("TRACE_FEXIT"), offset: 0 };
    default:
      return { name: rest, retprobe: false, offset: 0 };
  }
}
