/* SPDX-License-Identifier: GPL-2.0 */
/* The pipeline's maps. Their key/value types are the ABI structs; user space writes them only
 * through src/dataplane/. */
#ifndef PATHWISE_MAPS_BPF_H
#define PATHWISE_MAPS_BPF_H

#include "pathwise/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_MAX_IFINDEX);
	__type(key, __u32);
	__type(value, struct pw_if_counters);
} pw_if_stats SEC(".maps");

/* FIB4 first level: mmap-ed by the control plane, which writes entries in place. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_FIB4_TBL24_ELEMS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_fib4_block);
} pw_fib4_tbl24 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_FIB4_TBL8_GROUPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_fib4_group);
} pw_fib4_tbl8 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PW_FIB6_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_fib6_key);
	__type(value, __u32);
} pw_fib6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_ROUTES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_route);
} pw_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_ROUTES);
	__type(key, __u32);
	__type(value, struct pw_counter);
} pw_route_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_NHGROUPS);
	__type(key, __u32);
	__type(value, struct pw_nhgroup);
} pw_nhgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_NEXTHOPS);
	__type(key, __u32);
	__type(value, struct pw_nexthop);
} pw_nexthops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_NEXTHOPS);
	__type(key, __u32);
	__type(value, struct pw_counter);
} pw_nexthop_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_NEIGH_MAX);
	__type(key, struct pw_neigh_key);
	__type(value, struct pw_neigh);
} pw_neigh SEC(".maps");

/* Interfaces the fast path may redirect to (key and value: ifindex). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, PW_MAX_IFINDEX);
	__type(key, __u32);
	__type(value, __u32);
} pw_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_FLOWS_MAX);
	__type(key, struct pw_flow_key);
	__type(value, struct pw_flow);
} pw_flows SEC(".maps");

#endif /* PATHWISE_MAPS_BPF_H */
