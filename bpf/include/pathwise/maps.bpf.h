/* SPDX-License-Identifier: GPL-2.0 */
/* The pipeline's maps. Their key/value types are the ABI structs; user space writes them only
 * through src/dataplane/. */
#ifndef PATHWISE_MAPS_BPF_H
#define PATHWISE_MAPS_BPF_H

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
	__uint(max_entries, PW_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} pw_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_FLOWS_MAX);
	__type(key, struct pw_flow_key);
	__type(value, struct pw_flow);
} pw_flows SEC(".maps");

/* ---- guard ----------------------------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PW_BLOCK_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_block4_key);
	__type(value, struct pw_block);
} pw_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PW_BLOCK_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_block6_key);
	__type(value, struct pw_block);
} pw_block6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_rule_ctl);
} pw_rule_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PW_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pw_rule);
} pw_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_RULE_BITMAPS);
	__type(key, __u32);
	__type(value, struct pw_rule_bitmap);
} pw_rule_bitmaps SEC(".maps");

/* Field value -> bitmap id, per bank (index bank * slots + value). */
#define PW_FIELD_ARRAY(name, slots)                        \
	struct {                                            \
		__uint(type, BPF_MAP_TYPE_ARRAY);           \
		__uint(max_entries, 2 * (slots));           \
		__type(key, __u32);                         \
		__type(value, __u32);                       \
	} name SEC(".maps")

PW_FIELD_ARRAY(pw_rule_proto, 256);
PW_FIELD_ARRAY(pw_rule_sport, PW_PORT_SLOTS);
PW_FIELD_ARRAY(pw_rule_dport, PW_PORT_SLOTS);
PW_FIELD_ARRAY(pw_rule_flags, PW_FLAG_SLOTS);
PW_FIELD_ARRAY(pw_rule_iface, PW_IF_DIRECT);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * PW_MAX_IFACES);
	__type(key, struct pw_rule_iface_key);
	__type(value, __u32);
} pw_rule_iface_hi SEC(".maps");

#define PW_FIELD_LPM(name, keytype)                        \
	struct {                                            \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);        \
		__uint(max_entries, PW_RULE_LPM_MAX);       \
		__uint(map_flags, BPF_F_NO_PREALLOC);       \
		__type(key, keytype);                       \
		__type(value, __u32);                       \
	} name SEC(".maps")

PW_FIELD_LPM(pw_rule_src4, struct pw_rule_lpm4_key);
PW_FIELD_LPM(pw_rule_dst4, struct pw_rule_lpm4_key);
PW_FIELD_LPM(pw_rule_src6, struct pw_rule_lpm6_key);
PW_FIELD_LPM(pw_rule_dst6, struct pw_rule_lpm6_key);

/* Hits per rule, by the rule's stable id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pw_counter);
} pw_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_RATELIMITS);
	__type(key, __u32);
	__type(value, struct pw_ratelimit);
} pw_ratelimits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PW_RATELIMIT_STATE_MAX);
	__type(key, struct pw_ratelimit_key);
	__type(value, struct pw_ratelimit_state);
} pw_ratelimit_state SEC(".maps");

/* ---- insight --------------------------------------------------------------------------- */

/* Packet events: rule log action, 1-in-N samples, drops. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} pw_events SEC(".maps");

/* Captured packets, apart from events so a capture never crowds events out (or back). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} pw_capture SEC(".maps");

/* Records sent and records the rings had no room for: counted, never silent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_ring_counters);
} pw_ring_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_events_ctl);
} pw_events_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_capture_ctl);
} pw_capture_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} pw_capture_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_capture_scratch);
} pw_capture_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_replay_result);
} pw_replay_out SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_flow_counters);
} pw_flow_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_histogram);
} pw_histogram SEC(".maps");

#endif /* PATHWISE_MAPS_BPF_H */
