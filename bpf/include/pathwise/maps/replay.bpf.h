/* SPDX-License-Identifier: GPL-2.0 */
/* What the replay entry point leaves for `pathwise replay`: the last packet's parse and fate. */
#ifndef PATHWISE_MAPS_REPLAY_BPF_H
#define PATHWISE_MAPS_REPLAY_BPF_H

#include "pathwise/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_replay_result);
} pw_replay_out SEC(".maps");

#endif /* PATHWISE_MAPS_REPLAY_BPF_H */
