/* SPDX-License-Identifier: GPL-2.0 */
/* The guard stage's maps: blocklists, the rule classifier's two banks, rule counters and
 * rate limiters. User space writes them through src/dataplane/ only. */
#ifndef PATHWISE_MAPS_GUARD_BPF_H
#define PATHWISE_MAPS_GUARD_BPF_H

#include "pathwise/abi.h"

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
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pw_rule_bank);
} pw_rule_banks SEC(".maps");

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

/* The CIDR fields' prefixes by length, for a field with few lengths (PW_BANK_FLAG_EXACT_SHIFT):
 * (field, bank, length, masked address) -> bitmap id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PW_RULE_EXACT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_rule_exact_key);
	__type(value, __u32);
} pw_rule_exact SEC(".maps");

/* Small CIDR fields' prefixes (PW_BANK_FLAG_SMALL_SHIFT) and large ones' presence bitmaps
 * (PW_BANK_FLAG_PRESENCE_SHIFT), index bank * PW_CIDR_FIELDS + field. (One map for both: the
 * pipeline program is at the kernel's limit of 64 maps.) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PW_CIDR_FIELDS);
	__type(key, __u32);
	__type(value, struct pw_rule_cidr);
} pw_rule_cidr SEC(".maps");

/* Where the guard builds a pw_rule_exact key: the guard's frame has no room for one (the
 * pipeline's deepest call chain is at the 512-byte stack limit). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_rule_exact_key);
} pw_rule_exact_scratch SEC(".maps");

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

/* mmap-ed: the control plane updates its words in place with atomic operations. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_guard_state);
} pw_guard_state SEC(".maps");

#endif /* PATHWISE_MAPS_GUARD_BPF_H */
