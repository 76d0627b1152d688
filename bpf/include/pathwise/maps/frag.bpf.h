/* SPDX-License-Identifier: GPL-2.0 */
/* What the pipeline learned from each fragmented datagram's first fragment, for its later
 * fragments: the guard's fate and the balance stage's ports. */
#ifndef PATHWISE_MAPS_FRAG_BPF_H
#define PATHWISE_MAPS_FRAG_BPF_H

#include "pathwise/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_FRAGS_MAX);
	__type(key, struct pw_frag_key);
	__type(value, struct pw_frag);
} pw_frags SEC(".maps");

#endif /* PATHWISE_MAPS_FRAG_BPF_H */
