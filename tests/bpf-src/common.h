/* Shared by the bpfsim test programs: the recorder and the simulator run the
 * events of a test as a task named "bsim_rec", and tracing programs ignore
 * every other task (the real kernel runs other things too). */
#ifndef BSIM_COMMON_H
#define BSIM_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __always_inline int from_recorder(void)
{
	char c[16];

	if (bpf_get_current_comm(c, sizeof(c)))
		return 0;
	return c[0] == 'b' && c[1] == 's' && c[2] == 'i' && c[3] == 'm' && c[4] == '_' && c[5] == 'r' &&
	       c[6] == 'e' && c[7] == 'c' && c[8] == 0;
}

#endif
