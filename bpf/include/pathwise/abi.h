/* SPDX-License-Identifier: GPL-2.0 */
/*
 * THE kernel <-> user space contract of Pathwise: every map key and value, every enum and
 * limit shared with the control plane. TypeScript codecs are generated from the compiled
 * object's BTF (src/generated/), never written by hand.
 *
 * Rules: only __u8..__u64 / __be16 / __be32 fields; explicit padding fields named _padN (the
 * codecs write them as zero); no bool, no bitfields, no implicit holes; a _Static_assert on
 * every struct's size so a layout change is a deliberate act. Constants shared with user space
 * are enums, not #defines, because only enums reach BTF (and so the generated codecs).
 */
#ifndef PATHWISE_ABI_H
#define PATHWISE_ABI_H

enum pw_limit {
	/* Ifindexes below PW_IF_DIRECT index arrays directly (per-interface counters, the rules'
	 * interface field): one array lookup per packet. Larger ones (hosts that churn veths hand
	 * out ifindexes in the thousands) go through hashes of PW_MAX_IFACES entries, which also
	 * bound the egress ports and the distinct interfaces the rules of one bank name. */
	PW_IF_DIRECT = 1024,
	PW_MAX_IFACES = 1024,
	/* IPv4 FIB, DIR-24-8: 2^24 first-level entries stored 16 to an array element (the mmap
	 * stride of an array is its value size rounded up to 8, so 64-byte values waste nothing). */
	PW_FIB4_TBL24_SLOTS = 16,
	PW_FIB4_TBL24_ELEMS = 1 << 20,
	PW_FIB4_TBL8_SLOTS = 256,       /* entries in one second-level group (one /24) */
	PW_FIB4_TBL8_GROUPS = 16384,    /* default number of second-level groups */
	PW_MAX_ROUTES = 1 << 21,        /* route ids, both families */
	/* IPv6 FIB, a multibit trie: a first level of 2^24 entries (the address's first three
	 * bytes, as DPDK's rte_lpm6), then nodes of 256 entries, one per further byte of the
	 * address (up to 13 more levels). */
	PW_FIB6_NODE_SLOTS = 256,
	PW_FIB6_ROOT_NODES = 65536,     /* first-level elements of pw_fib6_nodes, 256 entries each */
	PW_FIB6_MAX_DEPTH = 13,         /* node levels below the first: bytes 3..15 of the address */
	PW_FIB6_NODES = 65536,          /* default number of nodes below the first level */
	PW_MAX_NHGROUPS = 1 << 14,
	PW_NHG_MAX_MEMBERS = 16,        /* nexthops in one ECMP group */
	PW_MAX_NEXTHOPS = 1 << 16,
	PW_NHG_BUCKETS = 64,            /* ECMP buckets per group; weights are spread over them */
	PW_MAX_EXT_HDRS = 6,            /* IPv6 extension headers walked before giving up */
	PW_FLOWS_MAX = 1 << 20,
	/* The flow cache (account.bpf.h): slots per CPU (a power of two), and how long a slot's
	 * flow must have been idle before another flow that maps to the slot may take it. */
	PW_FLOW_CACHE_SLOTS = 4096,
	PW_FLOW_CACHE_SHIFT = 52,       /* 64 - log2(PW_FLOW_CACHE_SLOTS): a slot from a 64-bit hash */
	PW_FLOW_CACHE_IDLE_MS = 1000,
	/* A handshake whose SYN is this old no longer keeps its flow out of the cache (only one
	 * direction of the connection may pass through here: its ACK would never come). */
	PW_FLOW_HANDSHAKE_WAIT_MS = 3000,
	PW_TRACE_BYTES = 24,            /* sizeof(struct pw_trace), written in front of the traced packet */
	PW_NEIGH_MAX = 65536,
	/* Filter rules: a bitmap per field value, one bit per rule (linear bit-vector search). */
	PW_MAX_RULES = 16384,
	PW_RULE_WORDS = 256,            /* PW_MAX_RULES / 64 */
	PW_RULE_SUMMARY = 4,            /* PW_RULE_WORDS / 64: bit w set when words[w] != 0 */
	PW_RULE_BITMAPS = 4096,         /* default number of distinct bitmaps (both banks) */
	PW_PORT_SLOTS = 65537,          /* ports 0..65535, then "no port" (not TCP/UDP, fragment) */
	PW_FLAG_SLOTS = 257,            /* TCP flag bytes 0..255, then "not TCP" */
	PW_RULE_LPM_MAX = 65536,        /* CIDR entries per field and family, both banks */
	PW_CIDR_EXACT_LENS = 4,         /* prefix lengths a CIDR field may have for exact lookups */
	PW_CIDR_SMALL_MAX = 16,         /* prefixes a CIDR field may have to be compared one by one */
	PW_RULE_EXACT_MAX = 4 * 65536,  /* pw_rule_exact: every field's entries, both banks */
	/* A CIDR field's presence bitmap (struct pw_rule_cidr): 65,536 bits, one per /16 of IPv4
	 * (or per fold of the top 32 bits of IPv6: guard.bpf.h, pw_presence_key). */
	PW_RULE_PRESENCE_BYTES = 8192,
	PW_BLOCK_MAX = 1 << 20,         /* blocklist entries per family */
	PW_RATELIMITS = 1024,
	PW_SEAL_LIMITER_BASE = 512,      /* limiters from here up are decisions' (seals'), not config's */
	PW_RATELIMIT_STATE_MAX = 1 << 18, /* sources tracked by rate limiters (LRU) */
	PW_EVENT_BYTES = 256,           /* packet bytes carried by an event */
	PW_CAPTURE_BYTES = 2048,        /* packet bytes a capture record carries (a full 1500 MTU frame) */
	/* Ring buffers wake their reader a batch at a time (ring.bpf.h): a record wakes it once
	 * this many bytes wait unread, and the reader drains on a timer of this period too. */
	PW_RING_WAKE_BYTES = 65536,
	PW_RING_DRAIN_MS = 5,
	PW_SIZE_BUCKETS = 8,            /* packet-size histogram: <=64, 128, 256, 512, 1024, 1518, 9018, more */
	PW_FRAGS_MAX = 1 << 16,         /* fragmented datagrams whose first fragment's fate is kept */
	PW_FRAG_LIFETIME_S = 30,        /* how long it is kept: as the kernel's ipfrag_time */
	PW_ESCALATIONS_MAX = 1 << 18,   /* rate-limit escalations in the blocklists at once */
	PW_BLOCK_SHADOW_MAX = 4,        /* expired blocklist entries a lookup looks past (see pw_listed) */
	/* Load balancing (the balance stage). Service and backend ids index counter arrays. */
	PW_LB_MAX_SERVICES = 256,
	PW_LB_MAX_BACKENDS = 4096,
	/* Maglev slots for every service's two tables (the one in use and the next one, written
	 * while the first serves), by default (pipeline.serviceSlots sizes the map): 31 services
	 * at the default table size of 65537 (each table takes whole 16-slot elements: 65552). */
	PW_LB_TABLE_SLOTS = 1 << 22,
	PW_LB_SLOTS_PER_ELEM = 16,      /* slots in one pw_lb_maglev element (mmap stride: 64 bytes) */
	PW_HTTP_BYTES = 1024,           /* TCP payload bytes an HTTP segment record carries: a TLS ClientHello, a head with a token */
	PW_HTTP_PORT_WORDS = 1024,      /* 64-bit words of the monitored-port bitmap (65536 ports) */
	PW_LB_CT_MAX = 1 << 20,         /* tracked connections (LRU), and as many reverse-NAT entries */
};

/* A FIB4 entry (__u32): 0 = no route; bit PW_FIB4_EXT_BIT set = index of a tbl8 group;
 * otherwise a route id. FIB6 entries are the same, the index being a node's. */
enum pw_fib4 {
	PW_FIB4_EXT_BIT = 31,
};

/* Nexthop group ids below PW_NHG_FIRST are special: they carry a decision, not nexthops. */
enum pw_nhg_special {
	PW_NHG_NONE = 0,
	PW_NHG_LOCAL = 1,        /* deliver to the kernel (addresses of this host) */
	PW_NHG_BLACKHOLE = 2,    /* drop */
	PW_NHG_KERNEL = 3,       /* hand to the kernel to route (e.g. unresolvable here) */
	PW_NHG_FIRST = 16,
};

/* Bucket values at or above PW_NH_DECISION are decisions, not nexthop ids (which stay below
 * PW_MAX_NEXTHOPS): a group steered by path quality whose paths are all down falls back by
 * filling its buckets with one (control/path-manager.ts). */
enum pw_nh_decision {
	PW_NH_DECISION = 1 << 16,
	PW_NH_TO_KERNEL = (1 << 16) + PW_NHG_KERNEL,
	PW_NH_DROP = (1 << 16) + PW_NHG_BLACKHOLE,
};

/* Verdicts the pipeline reaches, as indices into counters. */
enum pw_verdict {
	PW_VERDICT_PASS = 0,     /* handed to the kernel stack */
	PW_VERDICT_DROP = 1,
	PW_VERDICT_REDIRECT = 2, /* forwarded by the fast path */
	PW_VERDICT_TX = 3,
	PW_VERDICT_ABORTED = 4,
	PW_VERDICT_MAX = 5,
};

/*
 * Why a packet left the fast path (passed to the kernel or dropped), counted per interface
 * so that nothing is silent. The first group is malformed input.
 */
enum pw_reason {
	PW_REASON_NONE = 0,
	PW_REASON_TRUNCATED_ETH = 1,
	PW_REASON_TRUNCATED_VLAN = 2,
	PW_REASON_TOO_MANY_VLANS = 3,
	PW_REASON_TRUNCATED_IP = 4,
	PW_REASON_BAD_IP_HEADER = 5,    /* version, header length or total length inconsistent */
	PW_REASON_TRUNCATED_L4 = 6,
	PW_REASON_TOO_MANY_EXT_HDRS = 7,
	PW_REASON_MALFORMED_MAX = 8,    /* reasons below this are malformed packets */
	PW_REASON_NOT_IP = 8,           /* ARP, LLDP, ...: the kernel's business */
	PW_REASON_NO_ROUTE = 9,
	PW_REASON_LOCAL = 10,           /* addressed to this host */
	PW_REASON_TTL_EXCEEDED = 11,    /* TTL/hop limit <= 1: the kernel sends ICMP time exceeded */
	PW_REASON_NO_NEIGH = 12,        /* gateway's MAC unknown: the kernel resolves ARP/ND */
	PW_REASON_MULTICAST = 13,
	PW_REASON_BLACKHOLE = 14,
	PW_REASON_KERNEL_ROUTE = 15,    /* route says: let the kernel route it */
	PW_REASON_NO_TX_PORT = 16,      /* egress interface not enabled for redirect */
	PW_REASON_FIB_KERNEL = 17,      /* fib: kernel mode: bpf_fib_lookup did not succeed */
	PW_REASON_BLOCKED = 18,         /* source on a blocklist */
	PW_REASON_RULE_DROP = 19,
	PW_REASON_RATE_LIMITED = 20,
	PW_REASON_VLAN_TAGGED = 21,     /* routed by the kernel's VLAN devices, not the fast path */
	/* A fragment attack, dropped: a TCP fragment at offset 8 (RFC 1858), a first fragment too
	 * short for its transport header (RFC 1858), or an IPv6 first fragment without the whole
	 * header chain (RFC 7112). */
	PW_REASON_FRAG_ATTACK = 22,
	/* The rules match on ports or TCP flags, and this packet does not show them (truncated,
	 * an IPv6 header chain too long to walk, a later fragment whose first fragment was not
	 * seen): it cannot be classified, and is dropped (pipeline.unclassified: pass relaxes it). */
	PW_REASON_UNCLASSIFIED = 23,
	PW_REASON_NOT_FOR_US = 24,      /* the frame is addressed to another host (or broadcast): the kernel's */
	PW_REASON_MARTIAN = 25,         /* a source or destination no router forwards (0/8, loopback, ...) */
	PW_REASON_MTU_EXCEEDED = 26,    /* larger than the egress MTU: the kernel fragments or answers ICMP */
	PW_REASON_RULE_LIMIT = 27,      /* the rule walk ran out before a decision (never expected): dropped */
	PW_REASON_LB_NO_BACKEND = 28,   /* for a service with no backend in its table: dropped */
	/* A later fragment for a service's address whose first fragment was not seen (lost, out of
	 * order, or over 30 s before): no ports to find its connection by, dropped */
	PW_REASON_LB_FRAGMENT = 29,
	PW_REASON_LB_NO_PORT = 30,      /* SNAT found no free source port towards the backend: dropped */
	PW_REASON_SEALED = 31,          /* the source is over the rate a decision (a seal) allows it */
	/* A TCP segment of a connection whose backend is down, under the `reset` policy: answered
	 * with a reset from the service (sent back, PW_VERDICT_TX), or dropped when it is a reset
	 * itself or its headers are not plain enough to answer. */
	PW_REASON_LB_RESET = 32,
	PW_REASON_MAX = 33,
};

/* Bits of pw_settings.flags (enum pw_setting). */
enum pw_setting {
	PW_SETTING_DROP_MALFORMED = 1 << 0, /* drop malformed packets instead of passing them */
	PW_SETTING_FIB_KERNEL = 1 << 1,     /* route with bpf_fib_lookup instead of Pathwise's FIB */
	PW_SETTING_FLOWS = 1 << 2,          /* keep the flow table */
	PW_SETTING_ROUTE_STATS = 1 << 3,    /* count packets/bytes per route and nexthop */
	PW_SETTING_FILTER = 1 << 4,         /* run the guard stage (blocklists, rules, rate limits) */
	/* pass packets the rules cannot classify (PW_REASON_UNCLASSIFIED) instead of dropping them:
	 * they are then matched as carrying no ports and no flags */
	PW_SETTING_PASS_UNCLASSIFIED = 1 << 5,
};

/* Load-time settings of the pipeline, the single `const volatile` rodata variable. */
struct pw_settings {
	__u32 flags;            /* PW_SETTING_* */
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_settings) == 8, "pw_settings layout");

/* Per-interface, per-CPU traffic counters (value of map pw_if_stats, key = ifindex). */
struct pw_if_counters {
	__u64 packets[PW_VERDICT_MAX];
	__u64 bytes[PW_VERDICT_MAX];
	__u64 reasons[PW_REASON_MAX];
};
_Static_assert(sizeof(struct pw_if_counters) == 8 * (2 * PW_VERDICT_MAX + PW_REASON_MAX),
	       "pw_if_counters layout");

/* 16 first-level FIB4 entries: element i holds entries for /24s 16*i .. 16*i+15. */
struct pw_fib4_block {
	__u32 entry[PW_FIB4_TBL24_SLOTS];
};
_Static_assert(sizeof(struct pw_fib4_block) == 64, "pw_fib4_block layout");

/* One second-level group: the 256 addresses of one /24 with longer prefixes in it. */
struct pw_fib4_group {
	__u32 entry[PW_FIB4_TBL8_SLOTS];
};
_Static_assert(sizeof(struct pw_fib4_group) == 1024, "pw_fib4_group layout");

enum pw_route_flag {
	PW_ROUTE_F_VALID = 1 << 0,
	PW_ROUTE_F_SYSTEM = 1 << 1,  /* from the host's addresses (local, connected), not the user */
	PW_ROUTE_F_IMPORTED = 1 << 2, /* copied from a kernel routing table (config `import:`) */
	/* Bits 8..15 hold an imported route's kernel protocol (RTPROT_*), for `route list`; the
	 * data plane reads only VALID. */
	PW_ROUTE_F_PROTO = 0xff00,
};

/* A route (value of array pw_routes, key = route id). Route id 0 is never used. */
struct pw_route {
	__u32 nhg;           /* nexthop group id, or a PW_NHG_* special */
	__u8 plen;
	__u8 family;         /* 4 or 6 */
	__u16 flags;         /* PW_ROUTE_F_* */
	__u8 prefix[16];     /* network order; IPv4 uses the first 4 bytes */
	__u32 metric;
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_route) == 32, "pw_route layout");

/* One IPv6 FIB node: the entries for the 256 values of one byte of the address. (Named
 * `slot`, not `entry` as before 2026-12-06, when the first level was 2^16 entries in the first
 * 256 nodes: a pinned map of the old layout must not be taken as one of this layout.) */
struct pw_fib6_node {
	__u32 slot[PW_FIB6_NODE_SLOTS];
};
_Static_assert(sizeof(struct pw_fib6_node) == 1024, "pw_fib6_node layout");

enum pw_nexthop_flag {
	PW_NH_F_VALID = 1 << 0,
	PW_NH_F_GW6 = 1 << 1,       /* gw is an IPv6 address */
	PW_NH_F_DIRECT = 1 << 2,    /* no gateway: the destination itself is the neighbour */
};

/*
 * A gateway's MAC as a nexthop carries it: its pw_neigh entry again, read with the nexthop
 * instead of by a hash lookup of a 20-byte key (~15 ns of the pipeline's ~85 per packet). The
 * control plane writes it from pw_neigh whenever either changes, in place as one aligned 64-bit
 * store (pw_nexthops is mmap-ed); the pipeline reads it as one 64-bit load, so a MAC is never
 * seen half old, half new. known = 0: not resolved, or a direct nexthop (whose neighbour is
 * each packet's destination): the pipeline looks in pw_neigh.
 */
struct pw_nh_mac {
	__u8 mac[6];
	__u8 _pad0;
	__u8 known;
};
_Static_assert(sizeof(struct pw_nh_mac) == 8, "pw_nh_mac layout");

struct pw_nexthop {
	__u32 ifindex;
	__u32 flags;         /* PW_NH_F_* */
	__u8 gw[16];         /* network order; IPv4 uses the first 4 bytes */
	__u8 smac[6];        /* the egress interface's MAC */
	__u8 _pad0[2];
	struct pw_nh_mac gw_mac; /* 8-byte aligned: written and read whole */
};
_Static_assert(sizeof(struct pw_nexthop) == 40, "pw_nexthop layout");

/*
 * Neighbours (value: MAC), synced by the control plane from the kernel's neighbour table. The
 * fast path reads MACs here rather than asking the kernel per packet; bpf_fib_lookup cannot
 * be asked when the kernel itself does not forward (it checks the device's forwarding flag).
 */
struct pw_neigh_key {
	__u32 ifindex;
	__u8 addr[16];       /* network order; IPv4 uses the first 4 bytes, the rest zero */
};
_Static_assert(sizeof(struct pw_neigh_key) == 20, "pw_neigh_key layout");

struct pw_neigh {
	__u8 mac[6];
	__u8 _pad0[2];
};
_Static_assert(sizeof(struct pw_neigh) == 8, "pw_neigh layout");

/* A nexthop group: PW_NHG_BUCKETS nexthop ids, each repeated in proportion to its weight;
 * a flow's hash picks a bucket, so one flow keeps one path. members/weights record the group
 * as configured (the data plane reads only the buckets). */
struct pw_nhgroup {
	__u32 n_nexthops;    /* 0: unused slot */
	__u32 _pad0;
	__u32 buckets[PW_NHG_BUCKETS];
	__u32 members[PW_NHG_MAX_MEMBERS];
	__u16 weights[PW_NHG_MAX_MEMBERS];
};
_Static_assert(sizeof(struct pw_nhgroup) == 8 + 4 * PW_NHG_BUCKETS + 6 * PW_NHG_MAX_MEMBERS, "pw_nhgroup layout");

/* Packets and bytes (per route, per nexthop: shared across CPUs, updated atomically). */
struct pw_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct pw_counter) == 16, "pw_counter layout");

/* Flow table key: 5-tuple plus VLAN. Addresses in network order (IPv4: first 4 bytes). */
struct pw_flow_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;        /* 0 for non-first fragments and port-less protocols */
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 vlan;
};
_Static_assert(sizeof(struct pw_flow_key) == 40, "pw_flow_key layout");
/* pw_flow_key() in account.bpf.h writes the last word whole. */
_Static_assert(__builtin_offsetof(struct pw_flow_key, sport) == 32 && __builtin_offsetof(struct pw_flow_key, dport) == 34 &&
		       __builtin_offsetof(struct pw_flow_key, proto) == 36 && __builtin_offsetof(struct pw_flow_key, family) == 37 &&
		       __builtin_offsetof(struct pw_flow_key, vlan) == 38,
	       "pw_flow_key: the last word's layout");

enum pw_flow_direction {
	PW_FLOW_DIR_UNKNOWN = 0,     /* started before it was seen, or not TCP */
	PW_FLOW_DIR_INITIATOR = 1,   /* its source sent the SYN */
	PW_FLOW_DIR_RESPONDER = 2,   /* its source answered with SYN/ACK */
};

struct pw_flow {
	__u64 packets;
	__u64 bytes;         /* IP total length, as IPFIX's octetDeltaCount */
	__u64 first_ns;      /* bpf_ktime_get_ns() */
	__u64 last_ns;       /* the coarse clock (clock.bpf.h) after the first packet: up to two ticks behind */
	/* TCP handshake as seen by the pipeline, in the initiator's flow: the SYN, the responder's
	 * SYN/ACK (seen in the reverse flow) and the initiator's first ACK. 0: not seen. */
	__u64 syn_ns;
	__u64 synack_ns;
	__u64 ack_ns;
	__u32 ifindex;       /* ingress */
	__u32 egress_ifindex; /* of the last packet the fast path forwarded, 0 if none */
	__u32 route;         /* route id of the last packet, 0 if none */
	__u8 tcp_flags;      /* OR of all TCP flags seen */
	__u8 verdict;        /* of the last packet */
	__u8 reason;
	__u8 direction;      /* enum pw_flow_direction */
};
_Static_assert(sizeof(struct pw_flow) == 72, "pw_flow layout");

/* The coarse clock as one CPU last read it, and the tick it read it in (clock.bpf.h). */
struct pw_coarse_clock {
	__u64 tick;  /* bpf_jiffies64() */
	__u64 ns;    /* bpf_ktime_get_coarse_ns() in that tick */
};

/*
 * A slot of the flow cache, per CPU: one flow's packets since the slot last flushed them into
 * its pw_flows entry. The common packet of a flow counts here with plain adds (no hash of the
 * 40-byte key, no atomics); the slot flushes when another flow takes it and whenever the
 * control plane reads the flows (pw_xdp_flush, run on each CPU).
 */
struct pw_flow_pending {
	struct pw_flow_key key;
	__u64 packets;
	__u64 bytes;
	__u64 since_ns;      /* the first pending packet (coarse clock): first_ns if the entry is gone */
	__u64 last_ns;       /* coarse clock */
	/* Frame bytes for the route's counter (pw_route_stats), which the pending packets also
	 * owe when route counters are on: every pending packet went by `route`. */
	__u64 route_bytes;
	__u32 route;
	__u32 egress_ifindex;
	__u32 ifindex;       /* ingress, for an entry made again */
	__u8 tcp_flags;      /* OR since the last flush */
	__u8 verdict;
	__u8 reason;
	__u8 owned;          /* the slot holds key's flow */
};
_Static_assert(sizeof(struct pw_flow_pending) == 96, "pw_flow_pending layout");

/* Flow-table bookkeeping (per CPU). The kernel's LRU evicts silently: evictions are what was
 * created minus what is left minus what the control plane removed. */
struct pw_flow_counters {
	__u64 created;
	__u64 insert_failed; /* the table refused a new flow (its packet is counted nowhere else) */
};
_Static_assert(sizeof(struct pw_flow_counters) == 16, "pw_flow_counters layout");

/* Histograms over every IP packet the pipeline saw (per CPU). */
struct pw_histogram {
	__u64 size[PW_SIZE_BUCKETS];  /* by frame length */
	__u64 proto[256];             /* by L4 protocol */
};
_Static_assert(sizeof(struct pw_histogram) == 8 * (PW_SIZE_BUCKETS + 256), "pw_histogram layout");

/* What the pipeline decided for one packet. The trace entry point (pw_xdp_trace, used by
 * `route lookup` and the tests) puts it in front of the packet it ran on. */
struct pw_trace {
	__u8 verdict;
	__u8 reason;
	__u8 family;
	__u8 _pad0;
	__u32 route;
	__u32 nexthop;
	__u32 egress_ifindex;
	__u32 rule;
	__u32 nhg;
};
_Static_assert(sizeof(struct pw_trace) == PW_TRACE_BYTES, "pw_trace layout");

/* ---- guard: blocklists, rules, rate limits --------------------------------------------- */

enum pw_rule_action {
	PW_ACTION_PASS = 0,      /* accept: no further rules, on to routing */
	PW_ACTION_DROP = 1,
	PW_ACTION_RATELIMIT = 2, /* a token bucket per source decides (pw_rule.limiter) */
	PW_ACTION_COUNT = 3,     /* count, and go on to the next matching rule */
	PW_ACTION_LOG = 4,       /* count, send the packet as an event, and go on */
};

/* A set of rules, as bits: bit r of words[] is rule r (its position: lower wins). */
struct pw_rule_bitmap {
	__u64 summary[PW_RULE_SUMMARY];
	__u64 words[PW_RULE_WORDS];
};
_Static_assert(sizeof(struct pw_rule_bitmap) == 8 * (PW_RULE_SUMMARY + PW_RULE_WORDS), "pw_rule_bitmap layout");

/* What a rule does (array pw_rules, index bank * PW_MAX_RULES + position). */
struct pw_rule {
	__u32 action;        /* enum pw_rule_action */
	__u32 limiter;       /* PW_ACTION_RATELIMIT: index into pw_ratelimits */
	__u32 id;            /* the rule's stable id: its hit counter in pw_rule_stats */
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_rule) == 16, "pw_rule layout");

enum pw_bank_flag {
	/* Some rule of the bank matches on ports or TCP flags: a packet that does not show them
	 * cannot be classified (PW_REASON_UNCLASSIFIED). */
	PW_BANK_FLAG_L4 = 1 << 0,
	/* A CIDR field (by enum pw_cidr_field) holds only its catch-all: no rule of the bank names
	 * a prefix there, so every packet gets the bitmap in `any`, without the LPM lookup. */
	PW_BANK_FLAG_ANY_SHIFT = 1,
	/* A CIDR field whose prefixes have at most PW_CIDR_EXACT_LENS lengths (the catch-all's
	 * aside): they are also in pw_rule_exact, and the guard looks the address up there once per
	 * length, longest first, the catch-all in `any` when none holds it. A hash lookup costs the
	 * same whatever the number of prefixes; the LPM trie's walk grows with it. */
	PW_BANK_FLAG_EXACT_SHIFT = 5,
	/* A CIDR field of at most PW_CIDR_SMALL_MAX prefixes (the catch-all's aside): the guard
	 * compares the address with each (pw_rule_cidr), longest first, the catch-all in `any` when
	 * none holds it. A few compares cost less than the LPM trie's walk or a hash of the key. */
	PW_BANK_FLAG_SMALL_SHIFT = 9,
	/* A value field (by enum pw_rule_field: protocol to interface) that every rule of the
	 * bank accepts whatever the packet's value: its bitmap would narrow nothing, so the guard
	 * looks none up. */
	PW_BANK_FLAG_OPEN_SHIFT = 13,
	/* A CIDR field of many prefixes (looked up by length or in the LPM trie) with a presence
	 * bitmap (pw_rule_cidr): a bit per address block, set when some prefix of the field
	 * overlaps the block. An address whose block's bit is clear is held by no prefix: the
	 * guard takes the catch-all in `any` without the lookup. */
	PW_BANK_FLAG_PRESENCE_SHIFT = 20, /* after OPEN_SHIFT + PW_RULE_FIELD_IFACE */
	/* A CIDR field whose catch-all accepts no rule (every rule of the family names a prefix
	 * there): an address no prefix holds ends the search, with no bitmap to read. */
	PW_BANK_FLAG_EMPTY_ANY_SHIFT = 24,
	/* Every rule of the bank names one protocol, pw_rule_bank.proto: the protocol's bitmap would
	 * hold all of them or none, so the guard compares instead of looking it up. */
	PW_BANK_FLAG_ONE_PROTO = 1 << 28,
};

/* The fields a rule matches on, in the classifier's bitmaps (struct pw_rule_walk.bm). */
enum pw_rule_field {
	PW_RULE_FIELD_SRC = 0,
	PW_RULE_FIELD_DST = 1,
	PW_RULE_FIELD_PROTO = 2,
	PW_RULE_FIELD_SPORT = 3,
	PW_RULE_FIELD_DPORT = 4,
	PW_RULE_FIELD_FLAGS = 5,
	PW_RULE_FIELD_IFACE = 6,
};

_Static_assert(PW_BANK_FLAG_OPEN_SHIFT + PW_RULE_FIELD_IFACE < PW_BANK_FLAG_PRESENCE_SHIFT, "pw_bank_flag: ranges overlap");
_Static_assert(PW_BANK_FLAG_PRESENCE_SHIFT + 4 <= PW_BANK_FLAG_EMPTY_ANY_SHIFT, "pw_bank_flag: ranges overlap");
_Static_assert(1U << (PW_BANK_FLAG_EMPTY_ANY_SHIFT + 4) <= (unsigned)PW_BANK_FLAG_ONE_PROTO, "pw_bank_flag: ranges overlap");

enum pw_cidr_field {
	PW_CIDR_SRC4 = 0,
	PW_CIDR_DST4 = 1,
	PW_CIDR_SRC6 = 2,
	PW_CIDR_DST6 = 3,
	PW_CIDR_FIELDS = 4,
};

/* What one bank holds (array pw_rule_banks, index = bank). */
struct pw_rule_bank {
	__u16 count;         /* rules in the bank (< PW_MAX_RULES); 0 skips the classifier */
	__u8 proto;          /* PW_BANK_FLAG_ONE_PROTO: the protocol every rule names */
	__u8 _pad0;
	/* PW_BANK_FLAG_*, a bit per CIDR field at PW_BANK_FLAG_ANY_SHIFT, at
	 * PW_BANK_FLAG_EXACT_SHIFT, at PW_BANK_FLAG_SMALL_SHIFT, at PW_BANK_FLAG_PRESENCE_SHIFT and
	 * at PW_BANK_FLAG_EMPTY_ANY_SHIFT, and one per value field at PW_BANK_FLAG_OPEN_SHIFT */
	__u32 flags;
	/* the catch-all bitmap of a field that holds nothing else, or whose prefixes are looked up
	 * by length (PW_BANK_FLAG_EXACT_SHIFT) or compared one by one (PW_BANK_FLAG_SMALL_SHIFT),
	 * or that has a presence bitmap (PW_BANK_FLAG_PRESENCE_SHIFT) */
	__u32 any[PW_CIDR_FIELDS];
	/* a field's prefix lengths, longest first, each + 1 (0 ends the list) */
	__u8 lens[PW_CIDR_FIELDS][PW_CIDR_EXACT_LENS];
};
_Static_assert(sizeof(struct pw_rule_bank) == 40, "pw_rule_bank layout");

/* One prefix of a small CIDR field (PW_BANK_FLAG_SMALL_SHIFT): the address holds it when
 * (address ^ addr) & mask is zero in every word. IPv4 in word 0, the other words zero. */
struct pw_rule_small_prefix {
	__be32 addr[4];      /* masked */
	__be32 mask[4];
	__u32 bitmap;        /* its bitmap id */
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_rule_small_prefix) == 40, "pw_rule_small_prefix layout");

/* What the guard reads of a CIDR field besides its lookups (array pw_rule_cidr, index
 * bank * PW_CIDR_FIELDS + field): a small field's prefixes, longest first, the first that holds
 * the address being the longest (PW_BANK_FLAG_SMALL_SHIFT); a large field's presence bitmap,
 * bit k in byte k / 8 at bit k % 8 (PW_BANK_FLAG_PRESENCE_SHIFT). */
struct pw_rule_cidr {
	__u32 count;
	__u32 _pad0;
	struct pw_rule_small_prefix prefixes[PW_CIDR_SMALL_MAX];
	__u8 presence[PW_RULE_PRESENCE_BYTES];
};
_Static_assert(sizeof(struct pw_rule_cidr) == 8 + 40 * PW_CIDR_SMALL_MAX + PW_RULE_PRESENCE_BYTES, "pw_rule_cidr layout");

/* A CIDR field's prefix of one length (PW_BANK_FLAG_EXACT_SHIFT), the address masked to it
 * (IPv4 in the first 4 bytes). */
struct pw_rule_exact_key {
	__u8 field;          /* enum pw_cidr_field */
	__u8 bank;
	__u8 plen;
	__u8 _pad0;
	__u8 addr[16];
};
_Static_assert(sizeof(struct pw_rule_exact_key) == 20, "pw_rule_exact_key layout");

/* CIDR fields: LPM keys led by the bank byte, so prefixlen = 8 + the CIDR's length. */
struct pw_rule_lpm4_key {
	__u32 prefixlen;
	__u8 bank;
	__u8 addr[4];
	__u8 _pad0[3];
};
_Static_assert(sizeof(struct pw_rule_lpm4_key) == 12, "pw_rule_lpm4_key layout");

struct pw_rule_lpm6_key {
	__u32 prefixlen;
	__u8 bank;
	__u8 addr[16];
	__u8 _pad0[3];
};
_Static_assert(sizeof(struct pw_rule_lpm6_key) == 24, "pw_rule_lpm6_key layout");

/* The interface field for ifindexes of PW_IF_DIRECT and above, hashed by (bank, ifindex).
 * Smaller ones index pw_rule_iface directly, whose slot 0 stands for "any interface no rule of
 * the bank names" (no real interface has ifindex 0). */
struct pw_rule_iface_key {
	__u32 bank;
	__u32 ifindex;
};
_Static_assert(sizeof(struct pw_rule_iface_key) == 8, "pw_rule_iface_key layout");

struct pw_block4_key {
	__u32 prefixlen;
	__u8 addr[4];
};
_Static_assert(sizeof(struct pw_block4_key) == 8, "pw_block4_key layout");

struct pw_block6_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct pw_block6_key) == 20, "pw_block6_key layout");

enum pw_block_origin {
	PW_BLOCK_CONFIG = 0,     /* the control plane's (config, API, CLI) */
	PW_BLOCK_ESCALATION = 1, /* a rate limiter's: a source that kept exceeding its rate */
	/* An operational decision's (POST /v1/decisions, a gateway adapter, an anomaly seal): a
	 * block, or with a limiter, a rate limit on the prefix as a whole (a seal). */
	PW_BLOCK_DECISION = 2,
};

struct pw_block {
	__u64 expires_ns;    /* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0: never */
	__u8 origin;         /* enum pw_block_origin */
	__u8 plen;           /* the entry's own prefix length (the LPM lookup does not return it) */
	__u8 _pad0[2];
	/* PW_BLOCK_ESCALATION: the limiter that blocked it. PW_BLOCK_DECISION: 0 blocks; else the
	 * limiter (at or above PW_SEAL_LIMITER_BASE) the prefix's packets must conform to. */
	__u32 limiter;
};
_Static_assert(sizeof(struct pw_block) == 16, "pw_block layout");

/* The bytes of pw_guard_state.features, by index: byte i of the word as it sits in memory. */
enum pw_feature {
	PW_FEATURE_CAPTURE = 0,  /* pw_capture_ctl: a capture runs */
	PW_FEATURE_EVENTS = 1,   /* pw_events_ctl: drops or samples go out as events */
	PW_FEATURE_BALANCE = 2,  /* pw_lb_ctl: a service is configured */
	PW_FEATURE_HTTP = 3,     /* pw_http_ctl: HTTP insight is on */
	PW_FEATURE_COUNT = 4,
};

/* The guard's shared state, and the pipeline's feature bytes (array pw_guard_state, one entry). */
struct pw_guard_state {
	/* Escalation entries in the blocklists, as the control plane last counted them plus those
	 * added since: escalations stop at PW_ESCALATIONS_MAX, so a flood of spoofed sources cannot
	 * fill the blocklists (the sources are still rate limited). */
	__u32 escalations;
	/* Which optional stages have work, one byte each (enum pw_feature): a clear byte skips the
	 * stage without reading its control map (all four clear: 72 -> 69 ns, alternated A/B).
	 * Each byte has one writer, the code that writes that stage's control; it is set before the
	 * control turns the stage on and cleared after it turns it off, so a clear byte always means
	 * an idle stage. See src/dataplane/feature-bytes.ts. */
	__u32 features;
	__u64 escalations_refused; /* escalations not made because the cap was reached */
	/*
	 * Per blocklist (0: pw_block4, 1: pw_block6): bit 0 set when it holds no entry, so the
	 * pipeline skips its lookup (~7 ns a packet on an empty trie); the bits above count
	 * inserts. Every insert (the pipeline's escalations, the control plane's blocks and seals)
	 * adds 2 and clears bit 0 once its entry is in. Bit 0 is set only by compare-and-swap from
	 * the word read before the blocklist was found empty: an insert finished meanwhile changed
	 * the word, so the swap fails. Zero (a fresh map) means "look it up".
	 */
	__u64 listing[2];
	/* Which bank of classifier tables is live (bit 0). Rules change by filling the other bank
	 * (and its pw_rule_banks entry) and then flipping this with one store: a packet sees the
	 * old rule set or the new one. Here rather than in a map of its own: one map value less
	 * touched per packet, and one map slot less under the kernel's 64 per program. */
	__u32 rule_bank;
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_guard_state) == 40, "pw_guard_state layout");

/*
 * A rate limiter, per source address or prefix, as GCRA (the virtual-scheduling form of a token
 * bucket): a source may send a packet every interval_ns, and up to a burst of them at once
 * (tolerance_ns = (burst - 1) * interval_ns). Its state is one 64-bit time, updated with
 * compare-and-swap, so CPUs never race on it.
 */
struct pw_ratelimit {
	__u64 interval_ns;   /* 10^9 / rate; 0: the limiter is unused */
	__u64 tolerance_ns;
	__u64 block_ns;      /* escalation: how long a source is blocked; 0: never */
	__u32 block_after;   /* escalation: limited packets in a row that trigger the block; 0: never */
	__u8 plen4;          /* a source is its address masked to this length */
	__u8 plen6;
	__u8 _pad0[2];
};
_Static_assert(sizeof(struct pw_ratelimit) == 32, "pw_ratelimit layout");

struct pw_ratelimit_key {
	__u32 limiter;
	__u8 family;
	__u8 _pad0[3];
	__u8 addr[16];       /* masked source */
};
_Static_assert(sizeof(struct pw_ratelimit_key) == 24, "pw_ratelimit_key layout");

struct pw_ratelimit_state {
	__u64 tat_ns;        /* GCRA's theoretical arrival time of the source's next packet */
	__u32 violations;    /* limited packets since the last one that passed (escalation) */
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_ratelimit_state) == 16, "pw_ratelimit_state layout");

/* A fragmented datagram (LRU hash pw_frags): later fragments carry no ports, so they get the
 * fate the guard gave its first fragment, and the balance stage finds their connection by the
 * first fragment's ports. */
struct pw_frag_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 id;            /* IPv4: the 16-bit identification; IPv6: the fragment header's */
	__u8 proto;
	__u8 family;
	__u8 _pad0[2];
};
_Static_assert(sizeof(struct pw_frag_key) == 40, "pw_frag_key layout");

struct pw_frag {
	__u64 expires_ns;
	__u32 rule;          /* the deciding rule, 0: none */
	__u8 verdict;        /* PW_VERDICT_DROP, or PW_VERDICT_PASS: on to routing */
	__u8 reason;
	__u8 has_ports;      /* 1: sport and dport are the first fragment's (noted by the balance stage) */
	__u8 _pad0;
	__be16 sport;
	__be16 dport;
	__u32 _pad1;
};
_Static_assert(sizeof(struct pw_frag) == 24, "pw_frag layout");

/* An interface the pipeline runs on or forwards out of (pw_ifaces, indexed by ifindex below
 * PW_IF_DIRECT; pw_ifaces_hi, a hash, for larger ones). Frames arriving on it not addressed to
 * its MAC are another host's; packets larger than its MTU are not forwarded out of it. */
struct pw_iface {
	__u8 mac[6];
	__u8 known;          /* 1: mac is filled in, and frames arriving on it are checked against it */
	__u8 flags;          /* enum pw_iface_flag */
	__u32 mtu;
};
_Static_assert(sizeof(struct pw_iface) == 12, "pw_iface layout");

enum pw_iface_flag {
	/* The pipeline may redirect to it (it is in pw_tx_ports): set after the devmap entry is
	 * added and cleared before it is removed, so the fast path checks the record it reads
	 * anyway for the MTU instead of looking the devmap up once more (a helper call: 2.3 % of
	 * the pipeline with its optional stages off, measured side by side). */
	PW_IFACE_F_TX = 1 << 0,
};

/* A packet event in the ring buffer pw_events (rule log action, sampling, drops). */
struct pw_event {
	__u64 ts_ns;
	__u32 ifindex;
	__u32 len;           /* the packet's length; head[] holds the first PW_EVENT_BYTES */
	__u32 rule;          /* rule id, or 0 */
	__u32 route;
	__u8 verdict;
	__u8 reason;
	__u8 kind;           /* enum pw_event_kind */
	__u8 _pad0;
	__u32 egress_ifindex;
	__u8 head[PW_EVENT_BYTES];
};
_Static_assert(sizeof(struct pw_event) == 32 + PW_EVENT_BYTES, "pw_event layout");

enum pw_event_kind {
	PW_EVENT_RULE_LOG = 1,
	PW_EVENT_SAMPLE = 2,
	PW_EVENT_DROP = 3,
};

enum pw_capture_point {
	PW_CAPTURE_INGRESS = 0,  /* as the packet arrived, before any stage */
	PW_CAPTURE_VERDICT = 1,  /* after the pipeline decided: the record carries the verdict */
};

/* What goes out as events (array pw_events_ctl, one element); the daemon owns it. */
struct pw_events_ctl {
	__u32 sample_rate;   /* 1-in-N packets sent as events; 0: none */
	__u32 drops;         /* nonzero: send every dropped packet as an event */
};
_Static_assert(sizeof(struct pw_events_ctl) == 8, "pw_events_ctl layout");

/* The capture in progress (array pw_capture_ctl, one element); the capturing process owns it.
 * Its filter is the program in pw_capture_progs[PW_CAPTURE_SLOT_FILTER]. */
struct pw_capture_ctl {
	__u32 active;
	__u32 ifindex;       /* ingress interface to capture on; 0: all */
	__u32 point;         /* enum pw_capture_point */
	__u32 snap;          /* bytes of each packet to capture, at most PW_CAPTURE_BYTES */
};
_Static_assert(sizeof(struct pw_capture_ctl) == 16, "pw_capture_ctl layout");

/* The two programs of pw_capture_progs. */
enum pw_capture_slot {
	PW_CAPTURE_SLOT_FILTER = 0,    /* the capture's filter, translated from classic BPF */
	PW_CAPTURE_SLOT_PIPELINE = 1,  /* pw_xdp itself, which the filter tail-calls back into */
};

enum pw_capture_state {
	PW_CAPTURE_STATE_IDLE = 0,
	PW_CAPTURE_STATE_PENDING = 1,  /* the pipeline asked the filter */
	PW_CAPTURE_STATE_DONE = 2,     /* the filter answered in `match` */
};

/* Per-CPU hand-over between the pipeline and the capture filter (array pw_capture_scratch):
 * an XDP program runs to completion on its CPU, so one slot per CPU is one packet's. */
struct pw_capture_scratch {
	__u32 state;         /* enum pw_capture_state */
	__u32 match;         /* nonzero: the filter matched */
};
_Static_assert(sizeof(struct pw_capture_scratch) == 8, "pw_capture_scratch layout");

/* One replayed packet as the pipeline parsed and decided it (array pw_replay_out, one
 * element, written by pw_xdp_replay). Addresses in network order (IPv4: first 4 bytes). */
struct pw_replay_result {
	__u8 verdict;
	__u8 reason;
	__u8 family;         /* 0: not IP (or too malformed to tell) */
	__u8 proto;
	__u8 tcp_flags;
	__u8 has_ports;
	__u16 vlan;
	__be16 sport;
	__be16 dport;
	__u32 route;
	__u32 nexthop;
	__u32 egress_ifindex;
	__u32 rule;
	__u32 ip_len;
	__u8 src[16];
	__u8 dst[16];
};
_Static_assert(sizeof(struct pw_replay_result) == 64, "pw_replay_result layout");

/* Ring-buffer accounting (per CPU): what was sent and what found no room, per ring. */
struct pw_ring_counters {
	__u64 events_sent;
	__u64 events_lost;
	__u64 capture_sent;
	__u64 capture_lost;
};
_Static_assert(sizeof(struct pw_ring_counters) == 32, "pw_ring_counters layout");

/* A captured packet in the ring buffer pw_capture. */
struct pw_capture_record {
	__u64 ts_ns;
	__u32 ifindex;
	__u32 len;           /* the packet's length; data[] holds caplen bytes */
	__u32 caplen;
	__u32 rule;
	__u32 route;
	__u32 egress_ifindex;
	__u8 point;          /* enum pw_capture_point */
	__u8 verdict;        /* at PW_CAPTURE_VERDICT */
	__u8 reason;
	__u8 _pad0[5];
	__u8 data[PW_CAPTURE_BYTES];
};
_Static_assert(sizeof(struct pw_capture_record) == 40 + PW_CAPTURE_BYTES, "pw_capture_record layout");

/*
 * Load balancing: a service is an address, a protocol and a port (0: every port); its
 * backends are chosen by Maglev hashing (src/lb/maglev.ts writes the tables) and kept per
 * connection in pw_lb_ct.
 */
struct pw_lb_vip_key {
	__u8 family;         /* 4 or 6 */
	__u8 proto;          /* IPPROTO_TCP or IPPROTO_UDP */
	__be16 port;         /* 0: every port of the address */
	__u8 addr[16];       /* IPv4 in the first 4 bytes, the rest zero */
};
_Static_assert(sizeof(struct pw_lb_vip_key) == 20, "pw_lb_vip_key layout");

enum pw_lb_flag {
	PW_LB_F_DSR = 1 << 0,        /* layer-2 direct server return: only the MAC changes */
	PW_LB_F_NO_SPORT = 1 << 1,   /* hash without the source port (a client's connections together) */
	PW_LB_F_DPORT_ONLY = 1 << 2, /* hash on the destination port only */
	PW_LB_F_SNAT = 1 << 3,       /* NAT mode: the source becomes the service's snat address too */
	PW_LB_F_RESET_DOWN = 1 << 4, /* a connection tracked to a backend that is down: TCP reset, UDP chooses again */
};

struct pw_lb_service {
	__u32 id;            /* 1..PW_LB_MAX_SERVICES-1: its counters */
	__u32 table;         /* first slot of the Maglev table in use, in pw_lb_maglev */
	__u32 table_size;    /* slots (a prime); 0: no backend to send to */
	__u16 flags;         /* PW_LB_F_* */
	__u16 _pad0;
	__u8 snat[16];       /* PW_LB_F_SNAT: the source address backends see (routed back here) */
};
_Static_assert(sizeof(struct pw_lb_service) == 32, "pw_lb_service layout");

enum pw_lb_backend_flag {
	PW_LB_BE_VALID = 1 << 0,     /* cleared: connections tracked to it choose again */
	PW_LB_BE_DOWN = 1 << 1,      /* its health checks failed (its service's policy says what then) */
};

struct pw_lb_backend {
	__u8 family;
	__u8 flags;          /* PW_LB_BE_* */
	__be16 port;         /* 0: the port the client sent to */
	__u32 service;
	__u8 addr[16];
};
_Static_assert(sizeof(struct pw_lb_backend) == 24, "pw_lb_backend layout");

/* A balanced connection as the client sends it; pw_lb_rnat's key is the same shape, as the
 * backend answers (backend address and port, then the client's). */
struct pw_lb_ct_key {
	__u8 family;
	__u8 proto;
	__u16 _pad0;
	__be16 sport;
	__be16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};
_Static_assert(sizeof(struct pw_lb_ct_key) == 40, "pw_lb_ct_key layout");

struct pw_lb_ct {
	__u32 backend;
	__u32 service;
	__u64 seen_ns;       /* last packet, to the second (refreshed at most once a second) */
	__be16 snat_port;    /* PW_LB_F_SNAT: the source port backends see */
	__u16 _pad0;
	__u32 _pad1;
};
_Static_assert(sizeof(struct pw_lb_ct) == 24, "pw_lb_ct layout");

/* What a backend's reply is translated back to (NAT mode): its source becomes the service's;
 * with SNAT its destination (the snat address and port) becomes the client's again. */
struct pw_lb_rnat {
	__u8 vip[16];
	__be16 vport;
	__u8 snat;           /* 1: translate the destination back to client:cport */
	__u8 _pad0;
	__u32 backend;
	__u8 client[16];
	__be16 cport;
	__u16 _pad1;
	__u32 _pad2;
};
_Static_assert(sizeof(struct pw_lb_rnat) == 48, "pw_lb_rnat layout");

/* 16 Maglev slots (backend ids, 0: none): element i holds slots 16*i .. 16*i+15. */
struct pw_lb_slots {
	__u32 backend[PW_LB_SLOTS_PER_ELEM];
};
_Static_assert(sizeof(struct pw_lb_slots) == 64, "pw_lb_slots layout");

/* Per service and per backend, per CPU. */
struct pw_lb_counter {
	__u64 packets;       /* client to service (and, NAT mode, replies translated back) */
	__u64 bytes;
	__u64 connections;   /* new connections: a backend chosen by the table */
	/* Passive health (per backend; NAT mode sees the replies): SYNs sent to it, and the
	 * SYN/ACKs and RSTs it answered with. */
	__u64 syns;
	__u64 synacks;
	__u64 rsts;
};
_Static_assert(sizeof(struct pw_lb_counter) == 48, "pw_lb_counter layout");

/* The balance stage's switch: how many NAT-mode services there are (0: replies are not
 * looked up at all). */
struct pw_lb_ctl {
	__u32 services;
	__u32 nat_services;
};
_Static_assert(sizeof(struct pw_lb_ctl) == 8, "pw_lb_ctl layout");

/*
 * HTTP insight: the pipeline copies the head of each TCP segment of a monitored port (data,
 * or SYN/FIN/RST) into the ring pw_http; user space (src/insight/http-*.ts) reassembles the
 * messages' heads by sequence number, parses and pairs them. Parsing stays out of the data
 * plane: a message head has no bound the verifier would accept, and a parser in user space is
 * the same one `pathwise replay --http` runs offline.
 */
struct pw_http_ctl {
	__u32 enabled;       /* 0: the stage does nothing */
	__u32 all_ports;     /* nonzero: every TCP port, not only those in pw_http_ports */
	__u32 snap;          /* payload bytes copied per segment, at most PW_HTTP_BYTES */
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_http_ctl) == 16, "pw_http_ctl layout");

/* One TCP segment in the ring pw_http. */
struct pw_http_segment {
	__u64 ts_ns;
	__u32 seq;           /* host order */
	__u32 ack;           /* host order */
	__u32 payload_len;   /* TCP payload bytes in the packet; data[] holds caplen of them */
	__u16 caplen;
	__u8 family;         /* 4 or 6 */
	__u8 tcp_flags;
	__be16 sport;
	__be16 dport;
	__u16 vlan;
	__u8 verdict;
	__u8 _pad0;
	__u8 src[16];        /* IPv4 in the first 4 bytes */
	__u8 dst[16];
	__u32 ifindex;
	__u32 _pad1;
	__u8 data[PW_HTTP_BYTES];
};
_Static_assert(sizeof(struct pw_http_segment) == 72 + PW_HTTP_BYTES, "pw_http_segment layout");

struct pw_http_counters {
	__u64 segments_sent;
	__u64 segments_lost; /* the ring was full */
};
_Static_assert(sizeof(struct pw_http_counters) == 16, "pw_http_counters layout");

#endif /* PATHWISE_ABI_H */
