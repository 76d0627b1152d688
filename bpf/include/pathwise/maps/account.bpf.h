/* SPDX-License-Identifier: GPL-2.0 */
/* The account stage's counters: per interface, route and nexthop (the flow table is in
 * maps/flows.bpf.h). */
#ifndef PATHWISE_MAPS_ACCOUNT_BPF_H
#define PATHWISE_MAPS_ACCOUNT_BPF_H

#include "pathwise/abi.h"

/* Per-interface counters: indexed by ifindex below PW_IF_DIRECT (an array lookup per packet),
 * hashed beyond it. The pipeline inserts a hashed interface's entry on its first packet (from
 * pw_if_zero: the BPF stack has no room for a zeroed value); the control plane deletes the
 * entries of interfaces it detaches and of interfaces that are gone. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_IF_DIRECT);
	__type(key, __u32);
	__type(value, struct pw_if_counters);
} pw_if_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PW_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct pw_if_counters);
} pw_if_stats_hi SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, struct pw_if_counters);
} pw_if_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_ROUTES);
	__type(key, __u32);
	__type(value, struct pw_counter);
} pw_route_stats SEC(".maps");

/* Per CPU: a nexthop carries many flows at once from every CPU, and 64k nexthops of 16 bytes
 * are 1 MiB a CPU (routes, 2M of them, are too many for that). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_MAX_NEXTHOPS);
	__type(key, __u32);
	__type(value, struct pw_counter);
} pw_nexthop_stats SEC(".maps");

#endif /* PATHWISE_MAPS_ACCOUNT_BPF_H */
