// SPDX-License-Identifier: GPL-2.0
/*
 * Maps as an earlier release of the pipeline laid them out, for the upgrade tests: pw_block4
 * with an 8-byte value (now 16), and pw_ratelimits with the token bucket's fields where GCRA's
 * now are, in the same 32 bytes. Only BTF tells the second change from no change. pw_fib6 is
 * the LPM trie that held IPv6 routes before the multibit trie (pw_fib6_nodes). pw_flow_cache
 * with the 88-byte slots of the cache's first release, and a pw_xdp_flush that stands for that
 * release's: it counts its runs, one per CPU, in pw_flow_stats (which the pipeline shares).
 * pw_nexthops with 32-byte records and no mmap, before a nexthop carried its gateway's MAC.
 * pw_fib6_nodes as the multibit trie was until 2026-12-06: the same 1 KiB nodes, its field
 * named `entry`, the first 256 of them the first level (2^16 entries; pw_fib6_root now has 2^24).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct pw_block4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct pw_block {
	__u64 expires_ns;
};

struct pw_ratelimit {
	__u64 rate_mpps;
	__u64 burst_milli;
	__u64 block_ns;
	__u32 block_after;
	__u8 plen4;
	__u8 plen6;
	__u8 _pad0[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_block4_key);
	__type(value, struct pw_block);
} pw_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct pw_ratelimit);
} pw_ratelimits SEC(".maps");

struct pw_fib6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_fib6_key);
	__type(value, __u32);
} pw_fib6 SEC(".maps");

struct pw_fib6_node {
	__u32 entry[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 16);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct pw_fib6_node);
} pw_fib6_nodes SEC(".maps");

struct pw_flow_pending {
	__u8 key[40];
	__u64 packets;
	__u64 bytes;
	__u64 since_ns;
	__u64 last_ns;
	__u32 route;
	__u32 egress_ifindex;
	__u32 ifindex;
	__u8 tcp_flags;
	__u8 verdict;
	__u8 reason;
	__u8 owned;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pw_flow_pending);
} pw_flow_cache SEC(".maps");

struct pw_flow_counters {
	__u64 created;
	__u64 insert_failed;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_flow_counters);
} pw_flow_stats SEC(".maps");

struct pw_nexthop {
	__u32 ifindex;
	__u32 flags;
	__u8 gw[16];
	__u8 smac[6];
	__u8 _pad0[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 16);
	__type(key, __u32);
	__type(value, struct pw_nexthop);
} pw_nexthops SEC(".maps");

SEC("xdp")
int pw_xdp_flush(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct pw_flow_counters *fc = bpf_map_lookup_elem(&pw_flow_stats, &zero);
	struct pw_flow_pending *p = bpf_map_lookup_elem(&pw_flow_cache, &zero);

	if (fc && p)
		fc->created += 1000 + p->packets;
	return XDP_DROP;
}
