/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pipeline: parse -> guard -> balance -> route -> account -> verdict, on the context of
 * ctx.bpf.h. bpf/pathwise.bpf.c builds it for XDP, bpf/pathwise-tc.bpf.c for TC ingress.
 * Features are switched by the `const volatile` settings, so a disabled stage is dead code to
 * the verifier and costs nothing.
 */
#ifndef PATHWISE_PIPELINE_BPF_H
#define PATHWISE_PIPELINE_BPF_H

#include "pathwise/abi.h"
#include "pathwise/btf-anchor.bpf.h"
#include "pathwise/settings.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/maps/replay.bpf.h"
#include "pathwise/route.bpf.h"
#include "pathwise/guard.bpf.h"
#include "pathwise/balance.bpf.h"
#include "pathwise/account.bpf.h"
#include "pathwise/http.bpf.h"
#include "pathwise/insight.bpf.h"
#include "pathwise/stage.bpf.h"

/* How much of a socket buffer is pulled into its linear part when its headers run past it:
 * more than any header chain the parser walks. */
#define PW_TC_PULL 1024

#ifdef PW_TC
/* TC's actions (linux/pkt_cls.h: vmlinux.h has no macros). */
#define PW_TC_ACT_OK 0
#define PW_TC_ACT_SHOT 2

/* The verdict as TC acts on it: a packet sent back out of its interface (a reset) or out of
 * another leaves by that interface's egress. */
static __always_inline int pw_verdict_action(PW_CTX *ctx, const struct pw_decision *d)
{
	switch (d->verdict) {
	case PW_VERDICT_PASS:
		return PW_TC_ACT_OK;
	case PW_VERDICT_TX:
		return bpf_redirect(ctx->ifindex, 0);
	case PW_VERDICT_REDIRECT:
		return bpf_redirect(d->egress, 0);
	default:
		return PW_TC_ACT_SHOT;
	}
}
#else
/* Not a lookup table: a static const array would sit in .rodata with a BTF offset libbpf 1.1
 * leaves unresolved, and the kernel would refuse the object's BTF. */
static __always_inline int pw_verdict_action(PW_CTX *ctx, const struct pw_decision *d)
{
	switch (d->verdict) {
	case PW_VERDICT_PASS:
		return XDP_PASS;
	case PW_VERDICT_DROP:
		return XDP_DROP;
	case PW_VERDICT_TX:
		return XDP_TX;
	case PW_VERDICT_REDIRECT:
		return bpf_redirect_map(&pw_tx_ports, d->egress, 0);
	default:
		return XDP_ABORTED;
	}
}
#endif

/* Sources and destinations no router forwards: the kernel counts and drops them (or, for a
 * loopback destination, refuses them) as martians. */
static __always_inline int pw_is_martian(const struct pw_packet *pkt)
{
	if (pkt->family == 4) {
		__u32 s = bpf_ntohl(pkt->saddr4), t = bpf_ntohl(pkt->daddr4);

		/* source: 0/8, 127/8, multicast, limited broadcast; destination: 0/8, 127/8 */
		return (s >> 24) == 0 || (s >> 24) == 127 || (s >> 28) == 0xe || s == 0xffffffff || (t >> 24) == 0 ||
		       (t >> 24) == 127;
	} else {
		const __u8 *s = pkt->saddr6.in6_u.u6_addr8;
		const __u32 *s32 = pkt->saddr6.in6_u.u6_addr32;
		const __u32 *t32 = pkt->daddr6.in6_u.u6_addr32;
		int s_low = !s32[0] && !s32[1] && !s32[2]; /* ::/96 */
		int t_low = !t32[0] && !t32[1] && !t32[2];

		/* source: ::, ::1, multicast, link-local (never forwarded off its link); destination: ::, ::1 */
		return (s_low && (!s32[3] || s32[3] == bpf_htonl(1))) || s[0] == 0xff || (s[0] == 0xfe && (s[1] & 0xc0) == 0x80) ||
		       (t_low && (!t32[3] || t32[3] == bpf_htonl(1)));
	}
}

/*
 * What the fast path leaves to the kernel as it came (returns 1, d set): a tagged frame (the
 * kernel's VLAN devices), a martian, a group destination. Decided on the packet as it arrived,
 * before the balance stage may translate it: a service must not turn a martian source into
 * its SNAT address, or a multicast destination into a backend, and forward the result.
 */
static __always_inline int pw_kernels_own(const struct pw_packet *pkt, struct pw_decision *d)
{
	if (pkt->vlan_count)
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_VLAN_TAGGED);
	else if (pw_is_martian(pkt))
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_MARTIAN);
	else if (pw_is_special_dst(pkt))
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_MULTICAST);
	else
		return 0;
	return 1;
}

/* The route stage, inlined: a call and its return cost ~7 ns under the "Safe RET" mitigation.
 * Its rare ends (pw_route_neigh, pw_route_kernel, pw_mtu_exceeded) are functions of their own,
 * so that their keys and bpf_fib_lookup() parameters stay out of the pipeline's stack frame.
 * The packets pw_kernels_own() leaves to the kernel never reach it. */
static __always_inline void pw_route(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d)
{
	if (pw_settings.flags & PW_SETTING_FIB_KERNEL)
		pw_route_kernel(ctx, pkt, d);
	else
		pw_route_own(ctx, pkt, d);
}

/*
 * Whether a live frame is addressed to the interface it arrived on. Frames for other MACs
 * (seen in promiscuous mode, on a bridge port) and group-addressed frames are the kernel's to
 * deliver or drop, never the fast path's to forward. An interface missing from pw_ifaces is
 * not checked: the control plane writes every interface it attaches to.
 */
static __always_inline int pw_frame_for_us(PW_CTX *ctx)
{
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 ifindex = ctx->ingress_ifindex;
	struct pw_iface *iface;

	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return 0;
	if (eth->h_dest[0] & 1)
		return 0; /* multicast or broadcast */
	iface = pw_iface_of(ifindex);
	if (!iface || !iface->known)
		return 1;
	/* Two loads a side, not six of a byte (clang emits memcmp as a call BPF does not have):
	 * ~1 ns a packet, 0.98-0.99x the time in alternated runs (bench/ab-stages.ts OBJS=). The
	 * MAC begins its map value (8-byte aligned); the verifier lets the frame's word be read at
	 * any alignment on a CPU with fast unaligned loads (x86-64, which the build targets). */
	return *(const __u32 *)(data) == *(const __u32 *)iface->mac &&
	       *(const __u16 *)(data + 4) == *(const __u16 *)(iface->mac + 4);
}

/*
 * Writes the decision in front of the packet for the trace entry point, which only
 * BPF_PROG_TEST_RUN runs: the kernel copies out the frame from its new start, the decision
 * first. Not in XDP metadata (bpf_xdp_adjust_meta): some kernels refuse that helper to every
 * XDP program ("program of this type cannot use helper"), and the pipeline would not load.
 */
static __always_inline void pw_emit_trace(PW_CTX *ctx, const struct pw_packet *pkt,
					  const struct pw_decision *d)
{
#ifndef PW_TC
	struct pw_trace *t;

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*t)))
		return;
	t = (void *)(long)ctx->data;
	if ((void *)(t + 1) > (void *)(long)ctx->data_end)
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
#endif
}

enum pw_run {
	PW_RUN_LIVE = 0,    /* an interface's traffic */
	PW_RUN_TRACE = 1,   /* a what-if lookup: no side effects, the decision before the frame */
	PW_RUN_REPLAY = 2,  /* a replayed capture: side effects kept, the decision in pw_replay_out */
};

/* Writes what the pipeline parsed and decided into pw_replay_out, for `pathwise replay`. */
static __always_inline void pw_emit_replay(const struct pw_packet *pkt, const struct pw_decision *d)
{
	__u32 zero = 0;
	struct pw_replay_result *r = bpf_map_lookup_elem(&pw_replay_out, &zero);

	if (!r)
		return;
	__builtin_memset(r, 0, sizeof(*r));
	r->verdict = d->verdict;
	r->reason = d->reason;
	r->family = pkt->family;
	r->proto = pkt->proto;
	r->tcp_flags = pkt->tcp_flags;
	r->has_ports = pkt->has_ports;
	r->vlan = pkt->vlan;
	r->sport = pkt->sport;
	r->dport = pkt->dport;
	r->route = d->route;
	r->nexthop = d->nexthop;
	r->egress_ifindex = d->verdict == PW_VERDICT_REDIRECT ? d->egress : 0;
	r->rule = d->rule;
	r->ip_len = pkt->ip_len;
	pw_packet_addrs(pkt, r->src, r->dst);
}

/* The destination address as the packet's bytes hold it (after the balance stage routed a DSR
 * packet by its backend's). */
static __always_inline void pw_reload_daddr(PW_CTX *ctx, struct pw_packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (pkt->family == 4) {
		struct iphdr *iph = data + (pkt->l3_off & 0xff);

		if ((void *)(iph + 1) <= end)
			pkt->daddr4 = iph->daddr;
	} else {
		struct ipv6hdr *ip6 = data + (pkt->l3_off & 0xff);

		if ((void *)(ip6 + 1) <= end)
			pkt->daddr6 = ip6->daddr;
	}
}

/* Byte `feature` (enum pw_feature) of pw_guard_state.features, as a mask of the word. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PW_FEATURE_MASK(feature) (0xffU << (8 * (feature)))
#else
#define PW_FEATURE_MASK(feature) (0xffU << (8 * (3 - (feature))))
#endif

/* The optional stages with work (pw_guard_state.features): the pipeline reads one word for the
 * four, where each stage would read its own control map. */
static __always_inline __u32 pw_features(void)
{
	__u32 zero = 0;
	const struct pw_guard_state *gs = bpf_map_lookup_elem(&pw_guard_state, &zero);

	return gs ? gs->features : ~0U;
}

#ifdef PW_TC
/* Reasons of a parse that ran out of bytes (the first fragment's included: its headers were
 * cut short too). */
static __always_inline int pw_cut_short(enum pw_reason r)
{
	return r == PW_REASON_TRUNCATED_ETH || r == PW_REASON_TRUNCATED_VLAN || r == PW_REASON_TRUNCATED_IP ||
	       r == PW_REASON_TRUNCATED_L4 || r == PW_REASON_FRAG_ATTACK;
}

/*
 * Pulls a socket buffer's headers into its linear part and parses the packet again. A stage of
 * its own: inlined, the second parse doubled every state the verifier walks after it.
 */
PW_STAGE int pw_tc_pull_parse(PW_CTX *ctx, struct pw_packet *pkt)
{
	if (!pkt)
		return PW_REASON_TRUNCATED_ETH;
	bpf_skb_pull_data(ctx, ctx->len < PW_TC_PULL ? ctx->len : PW_TC_PULL);
	__builtin_memset(pkt, 0, sizeof(*pkt));
	return pw_parse(ctx, pkt);
}
#endif

static __always_inline int pw_pipeline(PW_CTX *ctx, const enum pw_run run)
{
	const int trace = run == PW_RUN_TRACE;
	struct pw_packet pkt = {};
	struct pw_decision d = {};
	const __u32 features = pw_features();
	/* The capture filter sees the packet as it arrived, before anything rewrites it. */
	__u32 capture_snap =
		run == PW_RUN_LIVE && (features & PW_FEATURE_MASK(PW_FEATURE_CAPTURE)) ? pw_capture_ingress(ctx) : 0;
	enum pw_reason parsed = pw_parse(ctx, &pkt);
	int goes_on = 1;
	int hidden = 0; /* addresses in bytes the pipeline could not reach */

#ifdef PW_TC
	/* Headers that run past a socket buffer's linear part: pulled in, then parsed again. Only
	 * for a packet that looked cut short and is longer than its linear part. */
	if (pw_cut_short(parsed) && ctx->data_end - ctx->data < ctx->len) {
		parsed = pw_tc_pull_parse(ctx, &pkt);
		/* Still cut short before the addresses, with more in the buffer: the pull failed (no
		 * memory for a new head). The kernel would read the whole packet; no rule could. */
		hidden = pw_cut_short(parsed) && !pkt.family && ctx->data_end - ctx->data < ctx->len;
	}
#endif

	if (parsed == PW_REASON_FRAG_ATTACK) {
		pw_decide(&d, PW_VERDICT_DROP, parsed);
		goes_on = 0;
	} else if (parsed != PW_REASON_NONE) {
		/* Malformed or not IP: never routed by the fast path, but the guard below still sees
		 * what was parsed. */
		enum pw_verdict v = parsed < PW_REASON_MALFORMED_MAX && (pw_settings.flags & PW_SETTING_DROP_MALFORMED)
					    ? PW_VERDICT_DROP
					    : PW_VERDICT_PASS;
		pw_decide(&d, v, parsed);
	}
	if (goes_on && (pw_settings.flags & PW_SETTING_FILTER)) {
		if (pkt.family) {
			/* Blocklists and rules apply to whatever was parsed, well-formed or not. Most
			 * packets meet neither: their check here spares them the stage's call. */
			goes_on = pw_guard_may_act(&pkt) ? pw_guard(ctx, &pkt, &d, trace) : 1;
		} else if ((parsed == PW_REASON_TOO_MANY_VLANS || hidden) && !(pw_settings.flags & PW_SETTING_PASS_UNCLASSIFIED)) {
			/* Tags beyond the two the parser reads, or headers that could not be pulled in,
			 * hide the addresses from every rule; the kernel (its stacked VLAN devices, its
			 * view of the whole buffer) could still deliver it. */
			pw_decide(&d, PW_VERDICT_DROP, PW_REASON_UNCLASSIFIED);
			goes_on = 0;
		}
	}
	if (goes_on && parsed == PW_REASON_NONE) {
		if (run == PW_RUN_LIVE && !pw_frame_for_us(ctx)) {
			pw_decide(&d, PW_VERDICT_PASS, PW_REASON_NOT_FOR_US);
		} else if (!pw_kernels_own(&pkt, &d)) {
			if (!(features & PW_FEATURE_MASK(PW_FEATURE_BALANCE)) || pw_balance_packet(ctx, &pkt, &d, trace)) {
				pw_route(ctx, &pkt, &d);
				/* DSR routed by the backend's address; the packet still holds the service's. */
				if (d.lb_dsr)
					pw_reload_daddr(ctx, &pkt);
			} else if (d.verdict == PW_VERDICT_TX && d.reason == PW_REASON_LB_RESET && !trace) {
				pw_lb_send_reset(ctx, &pkt, &d);
			}
		}
	}

	if (run == PW_RUN_TRACE)
		pw_emit_trace(ctx, &pkt, &d);
	else if (run == PW_RUN_REPLAY)
		pw_emit_replay(&pkt, &d);
	if (!trace) {
		int route_pending = 0;

		pw_account_interface(ctx, &pkt, &d);
		if (pw_settings.flags & PW_SETTING_FLOWS) {
			route_pending = pw_account_flow_cached(&pkt, &d);
			if (route_pending < 0)
				route_pending = pw_account_flow(ctx, &pkt, &d);
			pw_account_histogram(&pkt);
		}
		if (pw_settings.flags & PW_SETTING_ROUTE_STATS)
			pw_account_routes(&pkt, &d, route_pending);
		if (parsed == PW_REASON_NONE && (features & PW_FEATURE_MASK(PW_FEATURE_HTTP)))
			pw_http_packet(ctx, &pkt, &d);
		if (run == PW_RUN_LIVE)
			pw_insight_verdict(ctx, capture_snap, &pkt, &d, features & PW_FEATURE_MASK(PW_FEATURE_EVENTS));
	}

	return pw_verdict_action(ctx, &d);
}

#endif /* PATHWISE_PIPELINE_BPF_H */
