/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The coarse clock without a call per packet. bpf_ktime_get_coarse_ns() is a helper call, and
 * a call and its return cost ~8 ns under the "Safe RET" return mitigation (make bench, §3),
 * for a value that changes once a tick. bpf_jiffies64() is inlined by the verifier (a load of
 * the tick count), so each CPU keeps the coarse clock it last read with the tick it read it in,
 * and calls again only when the tick has moved: a packet pays a call once a tick per CPU.
 *
 * The value can be a tick older than the coarse clock's own (itself up to a tick behind): the
 * tick count moves just before the timekeeping update, so a read in between keeps the previous
 * tick's time for the rest of this one. Nothing here needs better: idle timeouts, last-seen
 * times, IPFIX end times. Nor does a test run that the live pipeline interrupts on its CPU
 * between the read and the writes (test runs only keep migration off): the value it writes
 * back is that tick's too.
 */
#ifndef PATHWISE_CLOCK_BPF_H
#define PATHWISE_CLOCK_BPF_H

#include "pathwise/abi.h"
#include "pathwise/maps/clock.bpf.h"

static __always_inline __u64 pw_coarse_ns(void)
{
	__u32 zero = 0;
	struct pw_coarse_clock *c = bpf_map_lookup_elem(&pw_coarse_clock, &zero);
	__u64 tick = bpf_jiffies64();

	if (!c)
		return bpf_ktime_get_coarse_ns();
	if (c->tick != tick) {
		c->ns = bpf_ktime_get_coarse_ns();
		c->tick = tick;
	}
	return c->ns;
}

#endif /* PATHWISE_CLOCK_BPF_H */
