/* SPDX-License-Identifier: GPL-2.0 */
/* The account stage: per-interface and per-nexthop per-CPU counters, per-route counters, and
 * the flow table. Shared counters use atomic adds: a route or flow is hit from many CPUs. */
#ifndef PATHWISE_ACCOUNT_BPF_H
#define PATHWISE_ACCOUNT_BPF_H

#include "pathwise/maps/account.bpf.h"
#include "pathwise/maps/flows.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/route.bpf.h"
#include "pathwise/stage.bpf.h"

static __always_inline void pw_count(struct pw_counter *c, __u64 bytes)
{
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, bytes);
	}
}

/* The counters of an interface with a large ifindex: its hash entry, inserted zeroed on its
 * first packet. Two CPUs may both miss: BPF_NOEXIST keeps the first insert and the second
 * lookup finds it. NULL only when the hash holds PW_MAX_IFACES interfaces already.
 * Not inlined: inlined, the compiler merged its lookup with the array's into one call site,
 * and a call site that sees two maps gets the generic helper, not the array's inlined lookup
 * (a call and a return per packet, on every interface). */
static __noinline struct pw_if_counters *pw_if_counters_hi(__u32 ifindex)
{
	struct pw_if_counters *c;
	__u32 zero = 0;
	void *init;

	c = bpf_map_lookup_elem(&pw_if_stats_hi, &ifindex);
	if (c)
		return c;
	init = bpf_map_lookup_elem(&pw_if_zero, &zero);
	if (!init)
		return NULL;
	bpf_map_update_elem(&pw_if_stats_hi, &ifindex, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&pw_if_stats_hi, &ifindex);
}

/* The counters of an interface: its array slot, or for a large ifindex its hash entry. */
static __always_inline struct pw_if_counters *pw_if_counters_of(__u32 ifindex)
{
	if (ifindex < PW_IF_DIRECT)
		return bpf_map_lookup_elem(&pw_if_stats, &ifindex);
	return pw_if_counters_hi(ifindex);
}

static __always_inline void pw_account_interface(struct xdp_md *ctx, const struct pw_packet *pkt,
						 const struct pw_decision *d)
{
	struct pw_if_counters *c = pw_if_counters_of(ctx->ingress_ifindex);
	__u32 v = d->verdict, r = d->reason;

	if (!c)
		return; /* PW_MAX_IFACES interfaces counted already */
	/* Explicit bounds for the verifier (enums are plain ints to it). */
	if (v < PW_VERDICT_MAX) {
		c->packets[v]++;
		c->bytes[v] += pkt->len;
	}
	if (r < PW_REASON_MAX)
		c->reasons[r]++;
}

static __always_inline void pw_flow_key(struct pw_flow_key *key, const struct pw_packet *pkt, int reverse)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->family = pkt->family;
	key->proto = pkt->proto;
	key->vlan = pkt->vlan;
	if (pkt->has_ports) {
		key->sport = reverse ? pkt->dport : pkt->sport;
		key->dport = reverse ? pkt->sport : pkt->dport;
	}
	if (pkt->family == 4) {
		__builtin_memcpy(reverse ? key->dst : key->src, &pkt->saddr4, 4);
		__builtin_memcpy(reverse ? key->src : key->dst, &pkt->daddr4, 4);
	} else {
		__builtin_memcpy(reverse ? key->dst : key->src, &pkt->saddr6, 16);
		__builtin_memcpy(reverse ? key->src : key->dst, &pkt->daddr6, 16);
	}
}

static __always_inline struct pw_flow_counters *pw_flow_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pw_flow_stats, &zero);
}

/*
 * The TCP handshake, timed where the pipeline sees it: the SYN starts the initiator's flow
 * clock, the SYN/ACK (the reverse flow's packet) is stamped into the initiator's flow, and the
 * initiator's first ACK after it closes the handshake. A retransmitted SYN restarts the clock
 * (Karn: an answer to an earlier SYN would otherwise look fast). `now` is the precise clock
 * when the caller read it, else 0: read here, only for a packet that stamps.
 */
static __always_inline void pw_flow_handshake(const struct pw_packet *pkt, struct pw_flow *f, __u64 now)
{
	__u8 fl = pkt->tcp_flags & (PW_TCP_SYN | PW_TCP_ACK);

	if (pkt->proto != IPPROTO_TCP || !pkt->has_ports)
		return;
	if (fl == PW_TCP_SYN) {
		if (!f->synack_ns) {
			f->syn_ns = now ?: bpf_ktime_get_ns();
			f->direction = PW_FLOW_DIR_INITIATOR;
		}
	} else if (fl == (PW_TCP_SYN | PW_TCP_ACK)) {
		struct pw_flow_key rk;
		struct pw_flow *init;

		f->direction = PW_FLOW_DIR_RESPONDER;
		pw_flow_key(&rk, pkt, 1);
		init = bpf_map_lookup_elem(&pw_flows, &rk);
		if (init && init->syn_ns && !init->ack_ns)
			init->synack_ns = now ?: bpf_ktime_get_ns();
	} else if (fl == PW_TCP_ACK) {
		if (f->syn_ns && f->synack_ns && !f->ack_ns)
			f->ack_ns = now ?: bpf_ktime_get_ns();
	}
}

/* The flow stage (see stage.bpf.h): the flow key and a new entry stay out of the pipeline's
 * stack frame. */
PW_STAGE int pw_account_flow(struct xdp_md *ctx, const struct pw_packet *pkt, const struct pw_decision *d)
{
	struct pw_flow_key key;
	struct pw_flow *f;
	__u32 egress;
	__u64 now;

	if (!pkt || !d || !pkt->family)
		return 0;
	egress = d->verdict == PW_VERDICT_REDIRECT ? d->egress : 0;
	pw_flow_key(&key, pkt, 0);
	f = bpf_map_lookup_elem(&pw_flows, &key);
	if (!f) {
		struct pw_flow_counters *fc;

		/* A dropped packet updates its flow but never creates one: a spoofed flood must not
		 * push real flows out of the LRU. */
		if (d->verdict == PW_VERDICT_DROP)
			return 0;
		fc = pw_flow_counters();
		now = bpf_ktime_get_ns();
		struct pw_flow nf = {
			.packets = 1,
			.bytes = pkt->ip_len,
			.first_ns = now,
			.last_ns = now,
			.ifindex = ctx->ingress_ifindex,
			.egress_ifindex = egress,
			.route = d->route,
			.tcp_flags = pkt->tcp_flags,
			.verdict = d->verdict,
			.reason = d->reason,
		};

		pw_flow_handshake(pkt, &nf, now);
		if (!bpf_map_update_elem(&pw_flows, &key, &nf, BPF_NOEXIST)) {
			if (fc)
				fc->created++;
			return 0;
		}
		/* Another CPU inserted it first: count this packet into that entry. */
		f = bpf_map_lookup_elem(&pw_flows, &key);
		if (!f) {
			if (fc)
				fc->insert_failed++;
			return 0;
		}
	}
	__sync_fetch_and_add(&f->packets, 1);
	__sync_fetch_and_add(&f->bytes, pkt->ip_len);
	/* The coarse clock (a tick, ~4 ms, behind; a load instead of a ~25 ns clock read) for an
	 * existing flow's last packet: idle timeouts and IPFIX end times need no more. Kept from
	 * going back, so last_ns never falls below the precise first_ns. */
	now = bpf_ktime_get_coarse_ns();
	if (now > f->last_ns)
		f->last_ns = now;
	now = 0; /* the handshake reads the precise clock if it stamps */
	f->tcp_flags |= pkt->tcp_flags;
	f->route = d->route;
	if (egress)
		f->egress_ifindex = egress;
	f->verdict = d->verdict;
	f->reason = d->reason;
	pw_flow_handshake(pkt, f, now);
	return 0;
}

static __always_inline void pw_account_routes(const struct pw_packet *pkt, const struct pw_decision *d)
{
	__u32 id;

	if (d->route) {
		id = d->route;
		pw_count(bpf_map_lookup_elem(&pw_route_stats, &id), pkt->len);
	}
	if (d->nexthop && d->verdict == PW_VERDICT_REDIRECT) {
		struct pw_counter *c;

		id = d->nexthop;
		c = bpf_map_lookup_elem(&pw_nexthop_stats, &id);
		if (c) {
			c->packets++;
			c->bytes += pkt->len;
		}
	}
}

#endif /* PATHWISE_ACCOUNT_BPF_H */
