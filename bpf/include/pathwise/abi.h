/* SPDX-License-Identifier: GPL-2.0 */
/*
 * THE kernel <-> user space contract of Pathwise: every map key and value, every enum and
 * limit shared with the control plane. TypeScript codecs are generated from the compiled
 * object's BTF (src/generated/), never written by hand.
 *
 * Rules: only __u8..__u64 / __be16 / __be32 fields; explicit padding fields named _padN (the
 * codecs write them as zero); no bool, no bitfields, no implicit holes; a _Static_assert on
 * every struct's size so a layout change is a deliberate act.
 */
#ifndef PATHWISE_ABI_H
#define PATHWISE_ABI_H

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
 * Why a packet took the exception path (passed to the kernel or dropped) instead of the
 * fast path. Counted per interface so malformed traffic is never silent.
 */
enum pw_reason {
	PW_REASON_NONE = 0,
	PW_REASON_TRUNCATED_ETH = 1,
	PW_REASON_TRUNCATED_VLAN = 2,
	PW_REASON_TOO_MANY_VLANS = 3,
	PW_REASON_NOT_IP = 4,
	PW_REASON_TRUNCATED_IP = 5,
	PW_REASON_BAD_IP_HEADER = 6,
	PW_REASON_TRUNCATED_L4 = 7,
	PW_REASON_MAX = 8,
};

/* Per-interface, per-CPU traffic counters (value of map pw_if_stats, key = ifindex). */
struct pw_if_counters {
	__u64 packets[PW_VERDICT_MAX];
	__u64 bytes[PW_VERDICT_MAX];
	__u64 reasons[PW_REASON_MAX];
};
_Static_assert(sizeof(struct pw_if_counters) == 8 * (2 * PW_VERDICT_MAX + PW_REASON_MAX),
	       "pw_if_counters layout");

/* Load-time settings of the pipeline, the single `const volatile` rodata variable. */
struct pw_settings {
	__u32 flags;            /* PW_SETTING_* */
	__u32 _pad0;
};
_Static_assert(sizeof(struct pw_settings) == 8, "pw_settings layout");

/* Bits of pw_settings.flags (enum pw_setting). Constants shared with user space are enums, not #defines,
 * because only enums reach BTF (and so the generated codecs). */
enum pw_setting {
	PW_SETTING_DROP_MALFORMED = 1 << 0, /* drop malformed packets instead of passing them */
};

enum pw_limit {
	PW_MAX_IFINDEX = 1024, /* ifindexes at or above this are not counted per interface */
};

#endif /* PATHWISE_ABI_H */
