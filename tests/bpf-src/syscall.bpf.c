// bpfsim-cflags: -mcpu=v3
// A syscall program run by BPF_PROG_TEST_RUN with a ctx from the caller:
// global data in .data, .rodata and .bss, a static and a global subprogram,
// a bounded loop, bpf_loop with a callback, the atomics (add, or, and, xor
// with and without fetch, xchg, cmpxchg), bpf_printk, and a result written
// back into the ctx.
#include "common.h"

struct args {
	__u32 n;
	__u32 seed;
	__u64 out;
};

__u64 calls = 0;
__u64 bits = 0xf0;
const volatile __u32 scale = 7;
__u64 acc;
__u64 last;
__u32 loop_sum;

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

__noinline int mix(__u32 a, __u32 b)
{
	return (a ^ b) * scale + (a % 5);
}

static int loop_cb(__u32 i, void *ctx)
{
	__u32 *sum = ctx;

	*sum += i;
	return i >= 6;
}

SEC("syscall")
int sys_prog(struct args *ctx)
{
	__u32 n = ctx->n, sum = 0, i;
	__u64 total = 0, old;

	if (n > 16)
		n = 16;
	for (i = 0; i < n; i++)
		total += square(i + ctx->seed);
	total += mix(n, ctx->seed);
	__sync_fetch_and_add(&calls, 1);
	old = __sync_fetch_and_or(&bits, 0x3);
	__sync_fetch_and_and(&bits, ~0x10ULL);
	__sync_fetch_and_xor(&bits, 0x100);
	acc += old;
	last = __sync_lock_test_and_set(&acc, total);
	__sync_val_compare_and_swap(&calls, 1, 100);
	bpf_loop(10, loop_cb, &sum, 0);
	loop_sum = sum;
	bpf_printk("sys_prog n=%u total=%llu", n, total);
	ctx->out = total;
	return (int)(total & 0x7fffffff);
}

char LICENSE[] SEC("license") = "GPL";
