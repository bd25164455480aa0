// A perf_event program: what every sample of a software cpu-clock event
// says about itself (its sample period), and that one was seen.
#include "common.h"
#include <linux/bpf_perf_event.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sample SEC(".maps");

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&sample, &k);

	if (v)
		*v = ctx->sample_period;
	k = 1;
	v = bpf_map_lookup_elem(&sample, &k);
	if (v)
		*v = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
