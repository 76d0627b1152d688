// SPDX-License-Identifier: GPL-2.0
/*
 * Maps as an earlier release of the pipeline laid them out, for the upgrade tests: pw_block4
 * with an 8-byte value (now 16), and pw_ratelimits with the token bucket's fields where GCRA's
 * now are, in the same 32 bytes. Only BTF tells the second change from no change. pw_fib6 is
 * the LPM trie that held IPv6 routes before the multibit trie (pw_fib6_nodes).
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
