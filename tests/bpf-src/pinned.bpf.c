// A map pinned by name (LIBBPF_PIN_BY_NAME): the first load creates and pins
// it at /sys/fs/bpf/shared_counts, later loads of this object (or of any
// object with the same definition) reuse it.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} private_count SEC(".maps");

SEC("xdp.frags")
int count_frags(struct xdp_md *ctx)
{
	__u32 k = ctx->rx_queue_index;
	__u64 one = 1, *v = bpf_map_lookup_elem(&shared_counts, &k);

	if (v)
		(*v)++;
	else
		bpf_map_update_elem(&shared_counts, &k, &one, BPF_ANY);
	return XDP_PASS;
}

SEC("fentry.s/bpf_fentry_test1")
int sleepy(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
