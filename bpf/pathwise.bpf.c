// SPDX-License-Identifier: GPL-2.0
/*
 * The Pathwise XDP pipeline: parse -> guard -> balance -> route -> account -> verdict.
 * One SEC("xdp") entry; stages are always-inline functions; features are switched by the
 * `const volatile` settings so a disabled stage is removed by the verifier's dead-code pass.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pathwise/abi.h"
#include "pathwise/btf-anchor.bpf.h"
#include "pathwise/parse.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct pw_settings pw_settings = {};

PW_BTF_ANCHOR(enum pw_verdict, verdict);
PW_BTF_ANCHOR(enum pw_reason, reason);
PW_BTF_ANCHOR(enum pw_setting, setting);
PW_BTF_ANCHOR(enum pw_limit, limit);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PW_MAX_IFINDEX);
	__type(key, __u32);
	__type(value, struct pw_if_counters);
} pw_if_stats SEC(".maps");

static __always_inline void account(struct xdp_md *ctx, enum pw_verdict verdict, enum pw_reason reason)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct pw_if_counters *c = bpf_map_lookup_elem(&pw_if_stats, &ifindex);

	if (!c)
		return; /* ifindex beyond PW_MAX_IFINDEX: not counted */
	c->packets[verdict]++;
	c->bytes[verdict] += ctx->data_end - ctx->data;
	c->reasons[reason]++;
}

static __always_inline enum pw_verdict exception(enum pw_reason reason)
{
	if (reason != PW_REASON_NONE && (pw_settings.flags & PW_SETTING_DROP_MALFORMED))
		return PW_VERDICT_DROP;
	return PW_VERDICT_PASS;
}

static const int xdp_action_of[PW_VERDICT_MAX] = {
	[PW_VERDICT_PASS] = XDP_PASS,
	[PW_VERDICT_DROP] = XDP_DROP,
	[PW_VERDICT_REDIRECT] = XDP_REDIRECT,
	[PW_VERDICT_TX] = XDP_TX,
	[PW_VERDICT_ABORTED] = XDP_ABORTED,
};

SEC("xdp")
int pw_xdp(struct xdp_md *ctx)
{
	struct pw_packet pkt = {};
	enum pw_reason reason = pw_parse(ctx, &pkt);
	enum pw_verdict verdict = exception(reason);

	account(ctx, verdict, reason);
	return xdp_action_of[verdict];
}
