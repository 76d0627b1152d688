/* SPDX-License-Identifier: GPL-2.0 */
/* The flow table the account stage keeps, and its pressure counters. */
#ifndef PATHWISE_MAPS_FLOWS_BPF_H
#define PATHWISE_MAPS_FLOWS_BPF_H

#include "pathwise/abi.h"

/* One entry per 5-tuple and VLAN; the LRU evicts the least recent when full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_FLOWS_MAX);
	__type(key, struct pw_flow_key);
	__type(value, struct pw_flow);
} pw_flows SEC(".maps");

/* The flow cache: PW_FLOW_CACHE_SLOTS slots per CPU, indexed by a hash of the flow key. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_FLOW_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct pw_flow_pending);
} pw_flow_cache SEC(".maps");

/* Flows created and inserts refused, per CPU (evictions are created minus entries). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_flow_counters);
} pw_flow_stats SEC(".maps");

#endif /* PATHWISE_MAPS_FLOWS_BPF_H */
