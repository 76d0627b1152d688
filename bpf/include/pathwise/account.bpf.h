/* SPDX-License-Identifier: GPL-2.0 */
/* The account stage: per-interface per-CPU counters, per-route and per-nexthop counters, and
 * the flow table. Shared counters use atomic adds: a route or flow is hit from many CPUs. */
#ifndef PATHWISE_ACCOUNT_BPF_H
#define PATHWISE_ACCOUNT_BPF_H

#include "pathwise/maps.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/route.bpf.h"

static __always_inline void pw_count(struct pw_counter *c, __u64 bytes)
{
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, bytes);
	}
}

static __always_inline void pw_account_interface(struct xdp_md *ctx, const struct pw_packet *pkt,
						 const struct pw_decision *d)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct pw_if_counters *c = bpf_map_lookup_elem(&pw_if_stats, &ifindex);
	__u32 v = d->verdict, r = d->reason;

	if (!c)
		return; /* ifindex beyond PW_MAX_IFINDEX: not counted */
	/* Explicit bounds for the verifier (enums are plain ints to it). */
	if (v < PW_VERDICT_MAX) {
		c->packets[v]++;
		c->bytes[v] += pkt->len;
	}
	if (r < PW_REASON_MAX)
		c->reasons[r]++;
}

static __always_inline void pw_account_flow(struct xdp_md *ctx, const struct pw_packet *pkt,
					    const struct pw_decision *d)
{
	struct pw_flow_key key = {};
	struct pw_flow *f;
	__u64 now;

	if (!pkt->family)
		return;
	key.family = pkt->family;
	key.proto = pkt->proto;
	key.vlan = pkt->vlan;
	if (pkt->has_ports) {
		key.sport = pkt->sport;
		key.dport = pkt->dport;
	}
	if (pkt->family == 4) {
		__builtin_memcpy(key.src, &pkt->saddr4, 4);
		__builtin_memcpy(key.dst, &pkt->daddr4, 4);
	} else {
		__builtin_memcpy(key.src, &pkt->saddr6, 16);
		__builtin_memcpy(key.dst, &pkt->daddr6, 16);
	}
	now = bpf_ktime_get_ns();
	f = bpf_map_lookup_elem(&pw_flows, &key);
	if (!f) {
		struct pw_flow nf = {
			.packets = 1,
			.bytes = pkt->len,
			.first_ns = now,
			.last_ns = now,
			.ifindex = ctx->ingress_ifindex,
			.route = d->route,
			.tcp_flags = pkt->tcp_flags,
			.verdict = d->verdict,
			.reason = d->reason,
		};

		/* Two CPUs may both insert; NOEXIST keeps the first, the loser's packet is lost to the
		 * flow's count but not to the interface counters. */
		bpf_map_update_elem(&pw_flows, &key, &nf, BPF_NOEXIST);
		return;
	}
	__sync_fetch_and_add(&f->packets, 1);
	__sync_fetch_and_add(&f->bytes, pkt->len);
	f->last_ns = now;
	f->tcp_flags |= pkt->tcp_flags;
	f->route = d->route;
	f->verdict = d->verdict;
	f->reason = d->reason;
}

static __always_inline void pw_account_routes(const struct pw_packet *pkt, const struct pw_decision *d)
{
	__u32 id;

	if (d->route) {
		id = d->route;
		pw_count(bpf_map_lookup_elem(&pw_route_stats, &id), pkt->len);
	}
	if (d->nexthop && d->verdict == PW_VERDICT_REDIRECT) {
		id = d->nexthop;
		pw_count(bpf_map_lookup_elem(&pw_nexthop_stats, &id), pkt->len);
	}
}

#endif /* PATHWISE_ACCOUNT_BPF_H */
