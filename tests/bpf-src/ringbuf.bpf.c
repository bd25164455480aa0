// Ring buffer records from a raw tracepoint program run by
// BPF_PROG_TEST_RUN: a reserved record filled and submitted, one discarded,
// one copied with bpf_ringbuf_output, and what bpf_ringbuf_query reports.
#include "common.h"

struct rec {
	__u64 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} avail SEC(".maps");

SEC("raw_tp/sys_exit")
int rb_emit(struct bpf_raw_tracepoint_args *ctx)
{
	struct rec *r, out;
	__u32 k = 0;
	__u64 *v;

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return 1;
	r->a = ctx->args[0];
	r->b = ctx->args[1];
	bpf_ringbuf_submit(r, 0);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r)
		bpf_ringbuf_discard(r, 0);
	out.a = ctx->args[1] * 3;
	out.b = 0xdeadbeef;
	bpf_ringbuf_output(&events, &out, sizeof(out), 0);
	v = bpf_map_lookup_elem(&avail, &k);
	if (v)
		*v = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	k = 1;
	v = bpf_map_lookup_elem(&avail, &k);
	if (v)
		*v = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
