/* SPDX-License-Identifier: GPL-2.0 */
/* The coarse clock each CPU last read, for clock.bpf.h (the flow and balance stages use it). */
#ifndef PATHWISE_MAPS_CLOCK_BPF_H
#define PATHWISE_MAPS_CLOCK_BPF_H

#include "pathwise/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_coarse_clock);
} pw_coarse_clock SEC(".maps");

#endif /* PATHWISE_MAPS_CLOCK_BPF_H */
