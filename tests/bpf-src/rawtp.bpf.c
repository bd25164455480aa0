// A raw tracepoint program run with BPF_PROG_TEST_RUN: its ctx is the
// u64 args[] the caller gives. Counts by the second argument in a hash map,
// keeps a running maximum in .bss, and pushes the first argument on a queue.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} by_id SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u64);
} firsts SEC(".maps");

__u64 max_seen;
__u32 runs;

SEC("raw_tp/sys_enter")
int on_raw(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 id = ctx->args[1];
	__u64 a0 = ctx->args[0], *v, init = 10;

	v = bpf_map_lookup_elem(&by_id, &id);
	if (v)
		*v += 10;
	else
		bpf_map_update_elem(&by_id, &id, &init, BPF_NOEXIST);
	if (a0 > max_seen)
		max_seen = a0;
	__sync_fetch_and_add(&runs, 1);
	bpf_map_push_elem(&firsts, &a0, BPF_EXIST);
	return id * 2;
}

char LICENSE[] SEC("license") = "GPL";
