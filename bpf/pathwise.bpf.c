// SPDX-License-Identifier: GPL-2.0
/*
 * The Pathwise XDP pipeline: parse -> guard -> route -> account -> verdict.
 *
 * One pipeline, two entry points: pw_xdp is what interfaces run; pw_xdp_trace is the same
 * code with `trace` constant-true, which skips accounting and leaves the decision in the
 * packet's XDP metadata, for `pathwise route lookup` and replay (BPF_PROG_TEST_RUN). Features
 * are switched by the `const volatile` settings, so a disabled stage is dead code to the
 * verifier and costs nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pathwise/abi.h"
#include "pathwise/btf-anchor.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/maps.bpf.h"
#include "pathwise/route.bpf.h"
#include "pathwise/guard.bpf.h"
#include "pathwise/account.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct pw_settings pw_settings = {};

PW_BTF_ANCHOR(enum pw_verdict, verdict);
PW_BTF_ANCHOR(enum pw_reason, reason);
PW_BTF_ANCHOR(enum pw_setting, setting);
PW_BTF_ANCHOR(enum pw_limit, limit);
PW_BTF_ANCHOR(enum pw_fib4, fib4);
PW_BTF_ANCHOR(enum pw_nhg_special, nhg_special);
PW_BTF_ANCHOR(enum pw_route_flag, route_flag);
PW_BTF_ANCHOR(enum pw_nexthop_flag, nexthop_flag);
PW_BTF_ANCHOR(struct pw_trace, trace);
PW_BTF_ANCHOR(struct pw_event, event);
PW_BTF_ANCHOR(enum pw_event_kind, event_kind);
PW_BTF_ANCHOR(enum pw_rule_action, rule_action);

/* Not a lookup table: a static const array would sit in .rodata with a BTF offset libbpf 1.1
 * leaves unresolved, and the kernel would refuse the object's BTF. */
static __always_inline int pw_xdp_action(enum pw_verdict v)
{
	switch (v) {
	case PW_VERDICT_PASS:
		return XDP_PASS;
	case PW_VERDICT_DROP:
		return XDP_DROP;
	case PW_VERDICT_TX:
		return XDP_TX;
	case PW_VERDICT_REDIRECT:
		return XDP_REDIRECT;
	default:
		return XDP_ABORTED;
	}
}

static __always_inline void pw_route(struct xdp_md *ctx, struct pw_packet *pkt, struct pw_decision *d)
{
	if (pkt->vlan_count) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_VLAN_TAGGED);
		return;
	}
	if (pw_is_special_dst(pkt)) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_MULTICAST);
		return;
	}
	if (pw_settings.flags & PW_SETTING_FIB_KERNEL)
		pw_route_kernel(ctx, pkt, d);
	else
		pw_route_own(ctx, pkt, d);
}

/* Writes the decision into XDP metadata (in front of the packet) for the trace entry point. */
static __always_inline void pw_emit_trace(struct xdp_md *ctx, const struct pw_packet *pkt,
					  const struct pw_decision *d)
{
	struct pw_trace *t;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*t)))
		return;
	t = (void *)(long)ctx->data_meta;
	if ((void *)(t + 1) > (void *)(long)ctx->data)
		return;
	t->verdict = d->verdict;
	t->reason = d->reason;
	t->family = pkt->family;
	t->_pad0 = 0;
	t->route = d->route;
	t->nexthop = d->nexthop;
	t->egress_ifindex = d->egress;
	t->rule = d->rule;
	t->nhg = d->nhg;
}

static __always_inline int pw_pipeline(struct xdp_md *ctx, const int trace)
{
	struct pw_packet pkt = {};
	struct pw_decision d = {};
	enum pw_reason malformed = pw_parse(ctx, &pkt);

	if (malformed != PW_REASON_NONE) {
		/* Malformed or not IP: never routed by the fast path. */
		enum pw_verdict v = malformed < PW_REASON_MALFORMED_MAX && (pw_settings.flags & PW_SETTING_DROP_MALFORMED)
					    ? PW_VERDICT_DROP
					    : PW_VERDICT_PASS;
		pw_decide(&d, v, malformed);
	} else if (!(pw_settings.flags & PW_SETTING_FILTER) || pw_guard(ctx, &pkt, &d, trace)) {
		pw_route(ctx, &pkt, &d);
	}

	if (trace) {
		pw_emit_trace(ctx, &pkt, &d);
	} else {
		pw_account_interface(ctx, &pkt, &d);
		if (pw_settings.flags & PW_SETTING_ROUTE_STATS)
			pw_account_routes(&pkt, &d);
		if (pw_settings.flags & PW_SETTING_FLOWS)
			pw_account_flow(ctx, &pkt, &d);
	}

	if (d.verdict == PW_VERDICT_REDIRECT)
		return bpf_redirect_map(&pw_tx_ports, d.egress, 0);
	return pw_xdp_action(d.verdict);
}

SEC("xdp")
int pw_xdp(struct xdp_md *ctx)
{
	return pw_pipeline(ctx, 0);
}

SEC("xdp")
int pw_xdp_trace(struct xdp_md *ctx)
{
	return pw_pipeline(ctx, 1);
}
