// include/uapi/linux/bpf_common.h and bpf.h, the instruction side: struct
// bpf_insn's encoding (8 bytes: code, dst_reg:4 src_reg:4, off s16, imm s32),
// the opcode fields, the pseudo sources of ld_imm64 and calls, and the helper
// function ids in __BPF_FUNC_MAPPER order (the names disasm.c prints).

/** sizeof(struct bpf_insn) */
export const BPF_INSN_SZ = 8;

// instruction classes (BPF_CLASS(code) = code & 0x07)
/** BPF_LD: ld_imm64 and the legacy packet loads. */
export const BPF_LD = 0x00;
/** BPF_LDX: dst = *(size *)(src + off). */
export const BPF_LDX = 0x01;
/** BPF_ST: *(size *)(dst + off) = imm. */
export const BPF_ST = 0x02;
/** BPF_STX: *(size *)(dst + off) = src, and the atomics. */
export const BPF_STX = 0x03;
/** BPF_ALU: 32-bit arithmetic (the result is zero-extended). */
export const BPF_ALU = 0x04;
/** BPF_JMP: 64-bit compares, call, exit. */
export const BPF_JMP = 0x05;
/** BPF_JMP32: 32-bit compares. */
export const BPF_JMP32 = 0x06;
/** BPF_ALU64: 64-bit arithmetic. */
export const BPF_ALU64 = 0x07;

// size (BPF_SIZE(code) = code & 0x18)
/** 32-bit word. */
export const BPF_W = 0x00;
/** 16-bit half word. */
export const BPF_H = 0x08;
/** Byte. */
export const BPF_B = 0x10;
/** 64-bit double word. */
export const BPF_DW = 0x18;

// mode (BPF_MODE(code) = code & 0xe0)
/** ld_imm64 */
export const BPF_IMM = 0x00;
/** Legacy packet load at an absolute offset. */
export const BPF_ABS = 0x20;
/** Legacy packet load at a register offset. */
export const BPF_IND = 0x40;
/** Memory load/store. */
export const BPF_MEM = 0x60;
/** Sign-extending load (cpu v4). */
export const BPF_MEMSX = 0x80;
/** Atomic operation; the operation is in imm. */
export const BPF_ATOMIC = 0xc0;
/** The kernel's internal PROBE_MEM loads (faulting loads read 0). */
export const BPF_PROBE_MEM = 0x20;
/** The kernel's internal PROBE_MEMSX loads. */
export const BPF_PROBE_MEMSX = 0x40;

// source (BPF_SRC(code) = code & 0x08)
/** Operand is imm. */
export const BPF_K = 0x00;
/** Operand is src_reg. */
export const BPF_X = 0x08;
/** BPF_END: convert to little endian. */
export const BPF_TO_LE = 0x00;
/** BPF_END: convert to big endian. */
export const BPF_TO_BE = 0x08;

// ALU operations (BPF_OP(code) = code & 0xf0)
/** += */
export const BPF_ADD = 0x00;
/** -= */
export const BPF_SUB = 0x10;
/** *= */
export const BPF_MUL = 0x20;
/** /= (off 1: signed) */
export const BPF_DIV = 0x30;
/** |= */
export const BPF_OR = 0x40;
/** &= */
export const BPF_AND = 0x50;
/** <<= */
export const BPF_LSH = 0x60;
/** >>= */
export const BPF_RSH = 0x70;
/** dst = -dst */
export const BPF_NEG = 0x80;
/** %= (off 1: signed) */
export const BPF_MOD = 0x90;
/** ^= */
export const BPF_XOR = 0xa0;
/** = (off 8/16/32: sign-extending move) */
export const BPF_MOV = 0xb0;
/** s>>= */
export const BPF_ARSH = 0xc0;
/** Byte swap (ALU: to le/be; ALU64: unconditional bswap). */
export const BPF_END = 0xd0;

// jump operations
/** goto */
export const BPF_JA = 0x00;
/** == */
export const BPF_JEQ = 0x10;
/** > (unsigned) */
export const BPF_JGT = 0x20;
/** >= (unsigned) */
export const BPF_JGE = 0x30;
/** & (test bits) */
export const BPF_JSET = 0x40;
/** != */
export const BPF_JNE = 0x50;
/** s> */
export const BPF_JSGT = 0x60;
/** s>= */
export const BPF_JSGE = 0x70;
/** call a helper, a subprogram or a kfunc */
export const BPF_CALL = 0x80;
/** return r0 */
export const BPF_EXIT = 0x90;
/** < (unsigned) */
export const BPF_JLT = 0xa0;
/** <= (unsigned) */
export const BPF_JLE = 0xb0;
/** s< */
export const BPF_JSLT = 0xc0;
/** s<= */
export const BPF_JSLE = 0xd0;
/** may_goto (src_reg BPF_MAY_GOTO) */
export const BPF_JCOND = 0xe0;
/** BPF_JCOND's only condition. */
export const BPF_MAY_GOTO = 0;

// atomic operations (in imm)
/** Fetch the old value into src_reg. */
export const BPF_FETCH = 0x01;
/** Exchange (always fetches). */
export const BPF_XCHG = 0xe0 | BPF_FETCH;
/** Compare r0 with memory and exchange with src_reg (always fetches into r0). */
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
/** Acquire load (6.15+). */
export const BPF_LOAD_ACQ = 0x100;
/** Release store (6.15+). */
export const BPF_STORE_REL = 0x110;

// ld_imm64 src_reg (pseudo sources)
/** imm is a map fd; the verifier replaces it with the map's address. */
export const BPF_PSEUDO_MAP_FD = 1;
/** imm is a map fd and the second imm an offset into its value. */
export const BPF_PSEUDO_MAP_VALUE = 2;
/** imm is a BTF id of a kernel variable. */
export const BPF_PSEUDO_BTF_ID = 3;
/** imm is a relative instruction offset of a subprogram (a callback). */
export const BPF_PSEUDO_FUNC = 4;
/** imm is an index into fd_array (a map). */
export const BPF_PSEUDO_MAP_IDX = 5;
/** imm is an index into fd_array and the second imm an offset into the value. */
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// call src_reg
/** imm is the relative instruction offset of a bpf-to-bpf call. */
export const BPF_PSEUDO_CALL = 1;
/** imm is the BTF id of a kernel function. */
export const BPF_PSEUDO_KFUNC_CALL = 2;

// registers
/** r10, the read-only frame pointer. */
export const BPF_REG_FP = 10;
/** Number of registers, r0..r10. */
export const MAX_BPF_REG = 11;
/** Bytes of stack one program (all its frames together) may use. */
export const MAX_BPF_STACK = 512;
/** Frames a program may nest through bpf-to-bpf calls (MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;

/** BPF_CLASS(code) */
export function bpfClass(code: number): number {
  return code & 0x07;
}

/** BPF_SIZE(code) */
export function bpfSize(code: number): number {
  return code & 0x18;
}

/** BPF_MODE(code) */
export function bpfMode(code: number): number {
  return code & 0xe0;
}

/** BPF_OP(code) */
export function bpfOp(code: number): number {
  return code & 0xf0;
}

/** BPF_SRC(code) */
export function bpfSrc(code: number): number {
  return code & 0x08;
}

/** bpf_size_to_bytes() */
export function sizeBytes(code: number): number {
  switch (code & 0x18) {
    case BPF_W:
      return 4;
    case BPF_H:
      return 2;
    case BPF_B:
      return 1;
    default:
      return 8;
  }
}

/** One decoded struct bpf_insn. */
export interface BpfInsn {
  /** opcode byte */
  code: number;
  /** destination register (low nibble of byte 1) */
  dst: number;
  /** source register (high nibble of byte 1) */
  src: number;
  /** signed 16-bit offset */
  off: number;
  /** signed 32-bit immediate */
  imm: number;
}

/** Decodes `n` instructions from little-endian bytes. */
export function decodeInsns(bytes: Uint8Array): BpfInsn[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: BpfInsn[] = [];
  for (let o = 0; o + BPF_INSN_SZ <= bytes.length; o += BPF_INSN_SZ) {
    const regs = bytes[o + 1];
    out.push({
      code: bytes[o],
      dst: regs & 0xf,
      src: regs >> 4,
      off: dv.getInt16(o + 2, true),
      imm: dv.getInt32(o + 4, true),
    });
  }
  return out;
}

/** Encodes instructions as the kernel's little-endian struct bpf_insn array. */
export function encodeInsns(insns: readonly BpfInsn[]): Uint8Array {
  const out = new Uint8Array(insns.length * BPF_INSN_SZ);
  const dv = new DataView(out.buffer);
  insns.forEach((x, i) => {
    const o = i * BPF_INSN_SZ;
    out[o] = x.code;
    out[o + 1] = (x.dst & 0xf) | ((x.src & 0xf) << 4);
    dv.setInt16(o + 2, x.off, true);
    dv.setInt32(o + 4, x.imm, true);
  });
  return out;
}

/** BPF_LD | BPF_IMM | BPF_DW: the first half of a 16-byte ld_imm64. */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;

/** The helper functions in enum bpf_func_id order (__BPF_FUNC_MAPPER, without the bpf_ prefix). */
export const HELPER_NAMES: readonly string[] = (
  "unspec map_lookup_elem map_update_elem map_delete_elem probe_read ktime_get_ns trace_printk get_prandom_u32 " +
  "get_smp_processor_id skb_store_bytes l3_csum_replace l4_csum_replace tail_call clone_redirect get_current_pid_tgid " +
  "get_current_uid_gid get_current_comm get_cgroup_classid skb_vlan_push skb_vlan_pop skb_get_tunnel_key " +
  "skb_set_tunnel_key perf_event_read redirect get_route_realm perf_event_output skb_load_bytes get_stackid csum_diff " +
  "skb_get_tunnel_opt skb_set_tunnel_opt skb_change_proto skb_change_type skb_under_cgroup get_hash_recalc " +
  "get_current_task probe_write_user current_task_under_cgroup skb_change_tail skb_pull_data csum_update " +
  "set_hash_invalid get_numa_node_id skb_change_head xdp_adjust_head probe_read_str get_socket_cookie get_socket_uid " +
  "set_hash setsockopt skb_adjust_room redirect_map sk_redirect_map sock_map_update xdp_adjust_meta " +
  "perf_event_read_value perf_prog_read_value getsockopt override_return sock_ops_cb_flags_set msg_redirect_map " +
  "msg_apply_bytes msg_cork_bytes msg_pull_data bind xdp_adjust_tail skb_get_xfrm_state get_stack " +
  "skb_load_bytes_relative fib_lookup sock_hash_update msg_redirect_hash sk_redirect_hash lwt_push_encap " +
  "lwt_seg6_store_bytes lwt_seg6_adjust_srh lwt_seg6_action rc_repeat rc_keydown skb_cgroup_id get_current_cgroup_id " +
  "get_local_storage sk_select_reuseport skb_ancestor_cgroup_id sk_lookup_tcp sk_lookup_udp sk_release map_push_elem " +
  "map_pop_elem map_peek_elem msg_push_data msg_pop_data rc_pointer_rel spin_lock spin_unlock sk_fullsock tcp_sock " +
  "skb_ecn_set_ce get_listener_sock skc_lookup_tcp tcp_check_syncookie sysctl_get_name sysctl_get_current_value " +
  "sysctl_get_new_value sysctl_set_new_value strtol strtoul sk_storage_get sk_storage_delete send_signal " +
  "tcp_gen_syncookie skb_output probe_read_user probe_read_kernel probe_read_user_str probe_read_kernel_str " +
  "tcp_send_ack send_signal_thread jiffies64 read_branch_records get_ns_current_pid_tgid xdp_output get_netns_cookie " +
  "get_current_ancestor_cgroup_id sk_assign ktime_get_boot_ns seq_printf seq_write sk_cgroup_id sk_ancestor_cgroup_id " +
  "ringbuf_output ringbuf_reserve ringbuf_submit ringbuf_discard ringbuf_query csum_level skc_to_tcp6_sock " +
  "skc_to_tcp_sock skc_to_tcp_timewait_sock skc_to_tcp_request_sock skc_to_udp6_sock get_task_stack load_hdr_opt " +
  "store_hdr_opt reserve_hdr_opt inode_storage_get inode_storage_delete d_path copy_from_user snprintf_btf " +
  "seq_printf_btf skb_cgroup_classid redirect_neigh per_cpu_ptr this_cpu_ptr redirect_peer task_storage_get " +
  "task_storage_delete get_current_task_btf bprm_opts_set ktime_get_coarse_ns ima_inode_hash sock_from_file check_mtu " +
  "for_each_map_elem snprintf sys_bpf btf_find_by_name_kind sys_close timer_init timer_set_callback timer_start " +
  "timer_cancel get_func_ip get_attach_cookie task_pt_regs get_branch_snapshot trace_vprintk skc_to_unix_sock " +
  "kallsyms_lookup_name find_vma loop strncmp get_func_arg get_func_ret get_func_arg_cnt get_retval set_retval " +
  "xdp_get_buff_len xdp_load_bytes xdp_store_bytes copy_from_user_task skb_set_tstamp ima_file_hash kptr_xchg " +
  "map_lookup_percpu_elem skc_to_mptcp_sock dynptr_from_mem ringbuf_reserve_dynptr ringbuf_submit_dynptr " +
  "ringbuf_discard_dynptr dynptr_read dynptr_write dynptr_data tcp_raw_gen_syncookie_ipv4 " +
  "tcp_raw_gen_syncookie_ipv6 tcp_raw_check_syncookie_ipv4 tcp_raw_check_syncookie_ipv6 ktime_get_tai_ns " +
  "user_ringbuf_drain cgrp_storage_get cgrp_storage_delete"
).split(" ");

/** __BPF_FUNC_MAX_ID */
export const BPF_FUNC_MAX_ID = HELPER_NAMES.length;

/** func_id_name(): "bpf_map_lookup_elem" for 1, "unknown" outside the table. */
export function funcIdName(id: number): string {
  return id >= 0 && id < BPF_FUNC_MAX_ID ? `bpf_${HELPER_NAMES[id]}` : "unknown";
}

/** enum bpf_func_id value of a helper name (with or without the bpf_ prefix), or -1. */
export function helperId(name: string): number {
  const n = name.startsWith("bpf_") ? name.slice(4) : name;
  return HELPER_NAMES.indexOf(n);
}

/** BPF_FUNC_* ids the simulator refers to by name. */
export const BPF_FUNC = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  probe_read: 4,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_prandom_u32: 7,
  get_smp_processor_id: 8,
  tail_call: 12,
  get_current_pid_tgid: 14,
  get_current_uid_gid: 15,
  get_current_comm: 16,
  perf_event_output: 25,
  map_push_elem: 87,
  map_pop_elem: 88,
  map_peek_elem: 89,
  spin_lock: 93,
  spin_unlock: 94,
  probe_read_user: 112,
  probe_read_kernel: 113,
  probe_read_user_str: 114,
  probe_read_kernel_str: 115,
  ktime_get_boot_ns: 125,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
  ringbuf_query: 134,
  loop: 181,
} as const;
