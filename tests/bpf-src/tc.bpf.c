// A tc classifier: per-TTL packet counts, a spin-locked pair of counters in
// an array value, and the skb mark it sets.
#include "common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>

struct stats {
	struct bpf_spin_lock lock;
	__u64 pkts;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} ttls SEC(".maps");

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct stats *s;
	__u32 zero = 0, ttl;
	__u64 one = 1, *v;

	if ((void *)(ip + 1) > end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	s = bpf_map_lookup_elem(&totals, &zero);
	if (s) {
		bpf_spin_lock(&s->lock);
		s->pkts++;
		s->bytes += skb->len;
		bpf_spin_unlock(&s->lock);
	}
	ttl = ip->ttl;
	v = bpf_map_lookup_elem(&ttls, &ttl);
	if (v)
		(*v)++;
	else
		bpf_map_update_elem(&ttls, &ttl, &one, BPF_ANY);
	skb->mark = 0x100 | ttl;
	return ttl < 2 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
