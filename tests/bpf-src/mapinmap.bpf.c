// Maps in maps: an array of maps whose slot 0 is filled by libbpf from the
// definition (`.values = { [0] = &inner_a }`), a hash of maps with an
// inner template; a syscall program counts through the inner maps.
#include "common.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner inner_a SEC(".maps");
struct inner inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} by_name SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	void *in = bpf_map_lookup_elem(&outer, &slot);
	__u32 k = slot + 1;
	__u64 *v;

	if (!in)
		return;
	v = bpf_map_lookup_elem(in, &k);
	if (v)
		*v += 10 + slot;
}

SEC("syscall")
int count_inner(void *ctx)
{
	__u32 k = 7;

	bump(0);
	bump(1);
	return bpf_map_lookup_elem(&by_name, &k) ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
