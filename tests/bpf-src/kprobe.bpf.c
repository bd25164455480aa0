// kprobe and kretprobe on getpgid(2): the argument is read from the user
// registers the syscall wrapper gets (bpf_probe_read_kernel on the probed
// function's argument), the return value from the kretprobe's ax.
#define __TARGET_ARCH_x86
#include "common.h"
#include <linux/ptrace.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __s64);
} rets SEC(".maps");

SEC("kprobe/__x64_sys_getpgid")
int BPF_KPROBE(on_getpgid, struct pt_regs *regs)
{
	__u64 pid = 0, one = 1, *v;

	if (!from_recorder())
		return 0;
	if (bpf_probe_read_kernel(&pid, sizeof(pid), &regs->rdi))
		return 0;
	v = bpf_map_lookup_elem(&calls, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&calls, &pid, &one, BPF_ANY);
	return 0;
}

SEC("kretprobe/__x64_sys_getpgid")
int BPF_KRETPROBE(ret_getpgid, long ret)
{
	__u32 k = 0;
	__s64 *v;

	if (!from_recorder())
		return 0;
	v = bpf_map_lookup_elem(&rets, &k);
	if (v)
		*v += ret;
	k = 1;
	v = bpf_map_lookup_elem(&rets, &k);
	if (v)
		*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
