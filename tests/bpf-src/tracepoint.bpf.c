// A perf tracepoint program on raw_syscalls:sys_enter: per-CPU sums and an
// LRU hash of the arguments of the calls of syscall number 1001 (none) the
// recorder makes; and a raw tracepoint program on the same event that reads
// the caller's registers through the struct pt_regs pointer the tracepoint
// passes (bpf_probe_read_kernel on the hook's argument).
#include "common.h"
#include <linux/ptrace.h>

struct sys_enter_rec {
	unsigned short common_type;
	unsigned char common_flags;
	unsigned char common_preempt_count;
	int common_pid;
	long id;
	unsigned long args[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} sums SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u32);
} seen SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int on_sys_enter(struct sys_enter_rec *ctx)
{
	__u32 idx, *n, one = 1;
	__u64 key, *sum;

	if (ctx->id != 1001 || !from_recorder())
		return 0;
	idx = ctx->args[0] & 7;
	sum = bpf_map_lookup_elem(&sums, &idx);
	if (sum)
		*sum += ctx->args[1];
	key = ctx->args[2];
	n = bpf_map_lookup_elem(&seen, &key);
	if (n)
		(*n)++;
	else
		bpf_map_update_elem(&seen, &key, &one, BPF_NOEXIST);
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u64);
} regs_seen SEC(".maps");

SEC("raw_tp/sys_enter")
int on_raw_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u64 di = 0, si = 0;

	if (ctx->args[1] != 1001 || !from_recorder())
		return 0;
	bpf_probe_read_kernel(&di, sizeof(di), &regs->rdi);
	bpf_probe_read_kernel(&si, sizeof(si), &regs->rsi);
	bpf_map_update_elem(&regs_seen, &di, &si, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
