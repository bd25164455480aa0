// fentry and fexit on the kernel's BPF self-test functions, which
// BPF_PROG_TEST_RUN of a tracing program calls: bpf_fentry_test1(1) returns
// 2, bpf_fentry_test2(2, 3) returns 5.
#define __TARGET_ARCH_x86
#include "common.h"
#include <bpf/bpf_tracing.h>

__u64 test2_a, test2_b, test1_ret;
__u32 hits;

SEC("fentry/bpf_fentry_test2")
int BPF_PROG(enter_test2, int a, __u64 b)
{
	test2_a = a;
	test2_b = b;
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

SEC("fexit/bpf_fentry_test1")
int BPF_PROG(exit_test1, int a, int ret)
{
	test1_ret = (__u64)a << 32 | (__u32)ret;
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
