/* SPDX-License-Identifier: GPL-2.0 */
/* The route stage's maps: the FIB (IPv4 DIR-24-8, IPv6 multibit trie), route records, nexthop
 * groups, nexthops, the copy of the kernel's neighbours and the egress ports. User space
 * writes them through src/dataplane/ only. */
#ifndef PATHWISE_MAPS_ROUTE_BPF_H
#define PATHWISE_MAPS_ROUTE_BPF_H

#include "pathwise/abi.h"

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

/* FIB6: the first level, 2^24 entries in the first PW_FIB6_ROOT_NODES elements (indexed by the
 * address's first two bytes, then its third), then the nodes below it (pipeline.ipv6Nodes).
 * One map, not two: a program may use 64 maps, and the pipeline uses that many. Mmap-ed and
 * written in place by the control plane, as the FIB4 tables. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_FIB6_ROOT_NODES + PW_FIB6_NODES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_fib6_node);
} pw_fib6_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_ROUTES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_route);
} pw_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_NHGROUPS);
	__type(key, __u32);
	__type(value, struct pw_nhgroup);
} pw_nhgroups SEC(".maps");

/* Nexthops: mmap-ed, so that a gateway's MAC (gw_mac) is rewritten in place with one store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_MAX_NEXTHOPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_nexthop);
} pw_nexthops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_NEIGH_MAX);
	__type(key, struct pw_neigh_key);
	__type(value, struct pw_neigh);
} pw_neigh SEC(".maps");

/* Interfaces the fast path may redirect to (key and value: ifindex). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, PW_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} pw_tx_ports SEC(".maps");

/* The interfaces the pipeline runs on or forwards out of, with their MACs, MTUs and whether it
 * may redirect to them. Written on attach (and egress enabling) and when an interface's address
 * or MTU changes. An array for small ifindexes (its lookups are inlined), a hash for the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_IF_DIRECT);
	__type(key, __u32);
	__type(value, struct pw_iface);
} pw_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct pw_iface);
} pw_ifaces_hi SEC(".maps");

static __always_inline struct pw_iface *pw_iface_of(__u32 ifindex)
{
	struct pw_iface *i;

	if (ifindex < PW_IF_DIRECT) {
		i = bpf_map_lookup_elem(&pw_ifaces, &ifindex);
		return i && (i->known || i->flags) ? i : NULL;
	}
	return bpf_map_lookup_elem(&pw_ifaces_hi, &ifindex);
}

#endif /* PATHWISE_MAPS_ROUTE_BPF_H */
