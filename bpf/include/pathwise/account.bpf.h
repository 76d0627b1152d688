/* SPDX-License-Identifier: GPL-2.0 */
/* The account stage: per-interface and per-nexthop per-CPU counters, per-route counters, and
 * the flow table. Shared counters use atomic adds: a route or flow is hit from many CPUs. */
#ifndef PATHWISE_ACCOUNT_BPF_H
#define PATHWISE_ACCOUNT_BPF_H

#include "pathwise/clock.bpf.h"
#include "pathwise/maps/account.bpf.h"
#include "pathwise/maps/flows.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/route.bpf.h"
#include "pathwise/stage.bpf.h"

static __always_inline void pw_count(struct pw_counter *c, __u32 packets, __u64 bytes)
{
	if (c) {
		__sync_fetch_and_add(&c->packets, packets);
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

static __always_inline void pw_account_interface(PW_CTX *ctx, const struct pw_packet *pkt,
						 const struct pw_decision *d)
{
	struct pw_if_counters *c = pw_if_counters_of(ctx->ingress_ifindex);
	__u32 v = d->verdict, r = d->reason;

	if (!c)
		return; /* PW_MAX_IFACES interfaces counted already */
	/* Explicit bounds for the verifier (enums are plain ints to it). */
	if (v < PW_VERDICT_MAX) {
		c->packets[v] += pkt->segs;
		c->bytes[v] += pkt->len;
	}
	if (r < PW_REASON_MAX)
		c->reasons[r]++;
}

/* An address's two 64-bit words as a 16-byte key field holds them (IPv4 in the first 4 bytes,
 * the rest zero), from the packet's fields. */
static __always_inline void pw_addr_words(const struct pw_packet *pkt, int src, __u64 *lo, __u64 *hi)
{
	const __u64 *a = (const __u64 *)(src ? &pkt->saddr6 : &pkt->daddr6);

	if (pkt->family == 4) {
		*lo = src ? pkt->saddr4 : pkt->daddr4;
		*hi = 0;
	} else {
		*lo = a[0];
		*hi = a[1];
	}
}

/*
 * The flow key, written as five 64-bit words made in registers. Built field by field (a
 * memset, then 1-, 2- and 4-byte stores), the key's words read back at once by the slot hash
 * and the slot's compare each waited for the smaller stores to reach the cache: a load that
 * spans several pending stores cannot take its value from them (store-to-load forwarding).
 */
static __always_inline void pw_flow_key_words(__u64 *w, const struct pw_packet *pkt, int reverse)
{
	__u64 sport = 0, dport = 0;

	if (pkt->has_ports) {
		sport = reverse ? pkt->dport : pkt->sport;
		dport = reverse ? pkt->sport : pkt->dport;
	}
	pw_addr_words(pkt, !reverse, &w[0], &w[1]);
	pw_addr_words(pkt, reverse, &w[2], &w[3]);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pw_flow_key: the last word is composed for a little-endian target"
#endif
	/* sport, dport, proto, family, vlan, as the struct lays them out */
	w[4] = sport | dport << 16 | (__u64)pkt->proto << 32 | (__u64)pkt->family << 40 | (__u64)pkt->vlan << 48;
}

static __always_inline void pw_flow_key(struct pw_flow_key *key, const struct pw_packet *pkt, int reverse)
{
	__u64 w[5];

	pw_flow_key_words(w, pkt, reverse);
	__builtin_memcpy(key, w, sizeof(w));
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

/* The flow cache's slot for a key: the key's five words multiplied apart (a flow and its
 * reverse must not share a slot), folded, and the top bits taken. */
static __always_inline __u32 pw_flow_slot(const __u64 *w)
{
	__u64 h = w[0] * 0x9e3779b97f4a7c15ULL ^ w[1] * 0xc2b2ae3d27d4eb4fULL ^ w[2] * 0x165667b19e3779f9ULL ^
		  w[3] * 0x85ebca77c2b2ae63ULL ^ w[4] * 0x27d4eb2f165667c5ULL;

	h ^= h >> 29;
	return (__u32)((h * 0x9e3779b97f4a7c15ULL) >> PW_FLOW_CACHE_SHIFT);
}

static __always_inline int pw_flow_key_eq(const struct pw_flow_key *a, const __u64 *y)
{
	const __u64 *x = (const __u64 *)a;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

/*
 * Moves a slot's pending packets into its flow's pw_flows entry, and into its route's counter
 * when route counters are on; the slot stays the flow's. An entry the LRU has evicted meanwhile
 * is made again from the slot (its first packet is then the slot's first pending one). Runs on
 * the slot's CPU only, in the pipeline or in pw_xdp_flush, which the kernel never runs at once
 * on one CPU (both run with bottom halves off): the slot needs no atomics. The entry and the
 * route's counter do: other CPUs count into them.
 */
static __noinline int pw_flow_flush_slot(struct pw_flow_pending *p)
{
	struct pw_flow_counters *fc;
	struct pw_flow *f;

	if (!p || !p->owned || !p->packets)
		return 0;
	if ((pw_settings.flags & PW_SETTING_ROUTE_STATS) && p->route) {
		__u32 id = p->route;
		struct pw_counter *c = bpf_map_lookup_elem(&pw_route_stats, &id);

		if (c) {
			__sync_fetch_and_add(&c->packets, p->packets);
			__sync_fetch_and_add(&c->bytes, p->route_bytes);
		}
	}
	f = bpf_map_lookup_elem(&pw_flows, &p->key);
	if (f) {
		__sync_fetch_and_add(&f->packets, p->packets);
		__sync_fetch_and_add(&f->bytes, p->bytes);
		f->tcp_flags |= p->tcp_flags;
		/* The slot's last packet is the flow's last unless one passed the entry since. */
		if (p->last_ns >= f->last_ns) {
			f->last_ns = p->last_ns;
			f->route = p->route;
			if (p->egress_ifindex)
				f->egress_ifindex = p->egress_ifindex;
			f->verdict = p->verdict;
			f->reason = p->reason;
		}
	} else {
		struct pw_flow nf = {
			.packets = p->packets,
			.bytes = p->bytes,
			.first_ns = p->since_ns,
			.last_ns = p->last_ns,
			.ifindex = p->ifindex,
			.egress_ifindex = p->egress_ifindex,
			.route = p->route,
			.tcp_flags = p->tcp_flags,
			.verdict = p->verdict,
			.reason = p->reason,
		};

		fc = pw_flow_counters();
		if (!bpf_map_update_elem(&pw_flows, &p->key, &nf, BPF_NOEXIST)) {
			if (fc)
				fc->created++;
		} else if (fc) {
			fc->insert_failed++;
		}
	}
	p->packets = 0;
	p->bytes = 0;
	p->route_bytes = 0;
	p->tcp_flags = 0;
	return 0;
}

/*
 * A packet of the slot's own flow: counted in the slot, and for its route's counter too when
 * route counters are on (the shared counter's two locked adds then come once a flush, not
 * once a packet). The pending packets all went by one route: a packet by another flushes the
 * slot first.
 */
static __always_inline void pw_flow_pend(struct pw_flow_pending *p, const struct pw_packet *pkt,
					 const struct pw_decision *d, __u32 egress)
{
	__u64 now = pw_coarse_ns();

	if (pw_settings.flags & PW_SETTING_ROUTE_STATS) {
		if (p->packets && p->route != d->route)
			pw_flow_flush_slot(p);
		p->route_bytes += pkt->len;
	}
	if (!p->packets)
		p->since_ns = now;
	p->packets += pkt->segs;
	p->bytes += pkt->ip_len;
	if (now > p->last_ns)
		p->last_ns = now;
	p->tcp_flags |= pkt->tcp_flags;
	p->route = d->route;
	if (egress)
		p->egress_ifindex = egress;
	p->verdict = d->verdict;
	p->reason = d->reason;
}

/*
 * After a packet counted in the flow's entry: the slot becomes the flow's when it is free or
 * its flow has been idle PW_FLOW_CACHE_IDLE_MS (two busy flows never take a slot from each
 * other, so neither pays a flush per packet), and when no handshake is being timed in the
 * entry (its packets must reach the entry: see pw_flow_handshake).
 */
static __always_inline void pw_flow_claim(struct pw_flow_pending *p, const struct pw_flow_key *key,
					  const struct pw_flow *f, __u32 ifindex)
{
	__u64 now = pw_coarse_ns();

	if (f->syn_ns && !f->ack_ns && now < f->syn_ns + PW_FLOW_HANDSHAKE_WAIT_MS * 1000000ULL)
		return;
	if (p->owned && now < p->last_ns + PW_FLOW_CACHE_IDLE_MS * 1000000ULL)
		return;
	pw_flow_flush_slot(p); /* leaves no packets, bytes or flags pending */
	__builtin_memcpy(&p->key, key, sizeof(*key));
	p->owned = 1;
	p->since_ns = now;
	p->last_ns = now;
	p->ifindex = ifindex;
}

/* The egress a flow records: the port of a redirect, else none. */
static __always_inline __u32 pw_flow_egress(const struct pw_decision *d)
{
	return d->verdict == PW_VERDICT_REDIRECT ? d->egress : 0;
}

/*
 * The flow stage's common case, inlined in the pipeline (a call and its return cost ~7 ns
 * under a return mitigation: BENCHMARKS §3): a packet of the flow that holds its CPU's cache
 * slot counts there. The key is not built: its words go into the slot's hash, and are made
 * again from the packet for the compare, so that neither the key nor the words take room in
 * the pipeline's frame across the lookup (the deepest call chains are near BPF's 512 bytes).
 * Returns what pw_account_flow returns, or -1 when the packet is not the slot's: then
 * pw_account_flow takes it. A SYN always goes there (the handshake is timed in the entry).
 */
static __always_inline int pw_account_flow_cached(const struct pw_packet *pkt, const struct pw_decision *d)
{
	struct pw_flow_pending *p;
	__u64 w[5];
	__u32 slot;

	if (!pkt->family || (pkt->tcp_flags & PW_TCP_SYN))
		return -1;
	pw_flow_key_words(w, pkt, 0);
	slot = pw_flow_slot(w);
	p = bpf_map_lookup_elem(&pw_flow_cache, &slot);
	if (!p || !p->owned)
		return -1;
	pw_flow_key_words(w, pkt, 0);
	if (!pw_flow_key_eq(&p->key, w))
		return -1;
	pw_flow_pend(p, pkt, d, pw_flow_egress(d));
	return !!(pw_settings.flags & PW_SETTING_ROUTE_STATS);
}

/* The flow stage (see stage.bpf.h) for the packets pw_account_flow_cached did not count: a
 * SYN, or a flow that does not hold its CPU's cache slot. They go to the flow's entry in
 * pw_flows, and the flow may take the slot. The flow key and a new entry stay out of the
 * pipeline's stack frame. Returns 0: the packet's route counter is the caller's to count. */
PW_STAGE int pw_account_flow(PW_CTX *ctx, const struct pw_packet *pkt, const struct pw_decision *d)
{
	struct pw_flow_pending *p;
	struct pw_flow_key key;
	struct pw_flow *f;
	__u32 egress, slot;
	__u64 now;

	if (!pkt || !d || !pkt->family)
		return 0;
	egress = pw_flow_egress(d);
	pw_flow_key(&key, pkt, 0);
	slot = pw_flow_slot((const __u64 *)&key);
	p = bpf_map_lookup_elem(&pw_flow_cache, &slot);
	if (pkt->tcp_flags & PW_TCP_SYN)
		p = NULL;
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
			.packets = pkt->segs,
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
			if (p)
				pw_flow_claim(p, &key, &nf, ctx->ingress_ifindex);
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
	__sync_fetch_and_add(&f->packets, pkt->segs);
	__sync_fetch_and_add(&f->bytes, pkt->ip_len);
	/* The coarse clock (up to two ticks behind, and a call once a tick: clock.bpf.h) for an
	 * existing flow's last packet: idle timeouts and IPFIX end times need no more. Kept from
	 * going back, so last_ns never falls below the precise first_ns. */
	now = pw_coarse_ns();
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
	if (p)
		pw_flow_claim(p, &key, f, ctx->ingress_ifindex);
	return 0;
}

static long pw_flow_flush_one(__u32 i, void *unused)
{
	pw_flow_flush_slot(bpf_map_lookup_elem(&pw_flow_cache, &i));
	return 0;
}

/* Flushes every slot of this CPU's flow cache (pw_xdp_flush). */
static __always_inline void pw_flow_flush_all(void)
{
	bpf_loop(PW_FLOW_CACHE_SLOTS, pw_flow_flush_one, NULL, 0);
}

/* `route_pending`: the flow stage counted the packet for its route (pw_flow_pend). */
static __always_inline void pw_account_routes(const struct pw_packet *pkt, const struct pw_decision *d,
					      int route_pending)
{
	__u32 id;

	if (d->route && !route_pending) {
		id = d->route;
		pw_count(bpf_map_lookup_elem(&pw_route_stats, &id), pkt->segs, pkt->len);
	}
	if (d->nexthop && d->verdict == PW_VERDICT_REDIRECT) {
		struct pw_counter *c;

		id = d->nexthop;
		c = bpf_map_lookup_elem(&pw_nexthop_stats, &id);
		if (c) {
			c->packets += pkt->segs;
			c->bytes += pkt->len;
		}
	}
}

#endif /* PATHWISE_ACCOUNT_BPF_H */
