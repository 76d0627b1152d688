/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The route stage: Pathwise's own FIB (DIR-24-8 for IPv4, a multibit trie for IPv6) or, in
 * `fib: kernel` mode, the kernel's FIB through bpf_fib_lookup. Anything the fast path cannot
 * finish (no route, local, TTL <= 1, unresolved neighbour, egress not enabled) leaves the
 * packet untouched and passes it to the kernel with a reason.
 */
#ifndef PATHWISE_ROUTE_BPF_H
#define PATHWISE_ROUTE_BPF_H

#include "pathwise/abi.h"
#include "pathwise/csum.bpf.h"
#include "pathwise/maps/route.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/stage.bpf.h"

#define PW_AF_INET 2
#define PW_AF_INET6 10

/* Bytes, not enums: the pipeline's frame and the deepest stage's share 512 bytes of stack. */
struct pw_decision {
	__u8 verdict;        /* enum pw_verdict */
	__u8 reason;         /* enum pw_reason */
	__u8 lb_dsr;         /* the balance stage routed it by its backend's address, the packet's own unchanged */
	__u8 _pad0;
	__u32 route;
	__u32 nexthop;
	__u32 nhg;
	__u32 egress;
	__u32 rule;
	__u32 log_rule;      /* the first matching rule with the log action: one event at the verdict */
	__u32 lb_backend;    /* the backend the balance stage sent it to (0: none) */
};

static __always_inline void pw_decide(struct pw_decision *d, enum pw_verdict v, enum pw_reason r)
{
	d->verdict = v;
	d->reason = r;
}

/* Flow hash for ECMP: every fragment of a datagram hashes on addresses only, so fragments and
 * their first fragment stay on one path. */
static __always_inline __u32 pw_mix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x7feb352d;
	h ^= h >> 15;
	h *= 0x846ca68b;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 pw_flow_hash(const struct pw_packet *pkt)
{
	__u32 h, ports = 0;

	if (pkt->has_ports && !pkt->fragment)
		ports = ((__u32)pkt->sport << 16) | pkt->dport;
	if (pkt->family == 4) {
		h = pw_mix(pkt->saddr4 ^ 0x9e3779b9);
		h = pw_mix(h ^ pkt->daddr4);
	} else {
		const __u32 *s = pkt->saddr6.in6_u.u6_addr32;
		const __u32 *d = pkt->daddr6.in6_u.u6_addr32;

		h = pw_mix(s[0] ^ s[1] ^ s[2] ^ s[3] ^ 0x9e3779b9);
		h = pw_mix(h ^ d[0] ^ d[1] ^ d[2] ^ d[3]);
	}
	return pw_mix(h ^ ports ^ pkt->proto);
}

/* DIR-24-8: one array access for prefixes up to /24, a second for longer ones. */
static __always_inline __u32 pw_fib4_lookup(__be32 daddr)
{
	__u32 a = bpf_ntohl(daddr);
	__u32 idx24 = a >> 8;
	__u32 block = idx24 / PW_FIB4_TBL24_SLOTS;
	struct pw_fib4_block *b = bpf_map_lookup_elem(&pw_fib4_tbl24, &block);
	__u32 e;

	if (!b)
		return 0;
	e = b->entry[idx24 & (PW_FIB4_TBL24_SLOTS - 1)];
	if (e & (1U << PW_FIB4_EXT_BIT)) {
		__u32 group = e & ~(1U << PW_FIB4_EXT_BIT);
		struct pw_fib4_group *g = bpf_map_lookup_elem(&pw_fib4_tbl8, &group);

		if (!g)
			return 0;
		e = g->entry[a & (PW_FIB4_TBL8_SLOTS - 1)];
	}
	return e;
}

/*
 * IPv6 multibit trie: the first three bytes of the address index the first level (2^24
 * entries in the map's first PW_FIB6_ROOT_NODES elements), each further byte an entry of the
 * node the previous entry points at (node n is element PW_FIB6_ROOT_NODES + n). A real
 * table's /32s take two loads, its /48s four; the walk stops at the first entry that is a
 * route.
 */
static __always_inline __u32 pw_fib6_lookup(const struct in6_addr *daddr)
{
	const __u8 *a = daddr->in6_u.u6_addr8;
	__u32 node = (__u32)a[0] << 8 | a[1];
	struct pw_fib6_node *n = bpf_map_lookup_elem(&pw_fib6_nodes, &node);
	__u32 e;

	if (!n)
		return 0;
	e = n->slot[a[2]];
#pragma unroll
	for (int i = 3; i < 3 + PW_FIB6_MAX_DEPTH; i++) {
		if (!(e & (1U << PW_FIB4_EXT_BIT)))
			return e;
		node = PW_FIB6_ROOT_NODES + (e & ~(1U << PW_FIB4_EXT_BIT));
		n = bpf_map_lookup_elem(&pw_fib6_nodes, &node);
		if (!n)
			return 0;
		e = n->slot[a[i]];
	}
	/* A /128 level entry is always a route; a pointer here is a damaged table. */
	return e & (1U << PW_FIB4_EXT_BIT) ? 0 : e;
}

/* The record of an interface the pipeline may redirect to, or NULL (the packet goes to the
 * kernel). */
static __always_inline struct pw_iface *pw_tx_port(__u32 ifindex)
{
	struct pw_iface *out = pw_iface_of(ifindex);

	return out && (out->flags & PW_IFACE_F_TX) ? out : NULL;
}

/* Whether the kernel finds the packet larger than the MTU of `ifindex` (for each of its
 * segments when it has several). Called only where no MTU is recorded, or for a socket buffer
 * of several segments: a function of its own, so that bpf_check_mtu()'s result slot stays out
 * of the pipeline's stack frame, which the route stage shares. */
PW_STAGE int pw_mtu_exceeded(PW_CTX *ctx, __u32 ifindex, __u32 segs)
{
	__u32 mtu_len = 0;

	return bpf_check_mtu(ctx, ifindex, &mtu_len, 0, segs > 1 ? BPF_MTU_CHK_SEGS : 0) == BPF_MTU_CHK_RET_FRAG_NEEDED;
}

/* Rewrites L2 and the TTL, then redirects out of `out` (pw_tx_port(ifindex)). Only called once
 * every check has passed, so a packet handed to the kernel is always unmodified. */
static __always_inline void pw_transmit(PW_CTX *ctx, struct pw_packet *pkt, const struct pw_iface *out,
					const __u8 *dmac, const __u8 *smac, __u32 ifindex, struct pw_decision *d)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	/* Larger than the egress MTU: the kernel fragments it or answers ICMP "fragmentation
	 * needed" / "packet too big", so path MTU discovery keeps working. The MTU the control
	 * plane recorded is compared directly (an XDP frame is linear, its IP length is what
	 * counts); an interface without a record asks the kernel. A socket buffer of several
	 * segments goes out as those segments: the kernel checks each of them. */
	if (pkt->segs > 1 || !out->mtu ? pw_mtu_exceeded(ctx, ifindex, pkt->segs) : pkt->ip_len > out->mtu) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_MTU_EXCEEDED);
		return;
	}
	if ((void *)(eth + 1) > end) {
		pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_ETH);
		return;
	}
	if (pkt->family == 4) {
		struct iphdr *iph = data + (pkt->l3_off & 0xff); /* l3_off <= 22: bounded for the verifier */

		if ((void *)(iph + 1) > end) {
			pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_IP);
			return;
		}
		pw_ipv4_decrease_ttl(iph);
	} else {
		struct ipv6hdr *ip6 = data + (pkt->l3_off & 0xff);

		if ((void *)(ip6 + 1) > end) {
			pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_IP);
			return;
		}
		ip6->hop_limit--;
	}
	__builtin_memcpy(eth->h_dest, dmac, PW_ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, PW_ETH_ALEN);
	d->egress = ifindex;
	pw_decide(d, PW_VERDICT_REDIRECT, PW_REASON_NONE);
}

/* The neighbour the packet goes to: the gateway, or for a directly connected route the
 * destination itself. */
static __always_inline void pw_neigh_target(const struct pw_nexthop *nh, const struct pw_packet *pkt,
					    struct pw_neigh_key *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->ifindex = nh->ifindex;
	if (!(nh->flags & PW_NH_F_DIRECT))
		__builtin_memcpy(key->addr, nh->gw, 16);
	else if (pkt->family == 4)
		__builtin_memcpy(key->addr, &pkt->daddr4, 4);
	else
		__builtin_memcpy(key->addr, &pkt->daddr6, 16);
}

/* Fallback for a neighbour the control plane has not synced yet: the kernel's neighbour table
 * through bpf_fib_lookup. It answers only where the kernel forwards itself (it checks the
 * device's forwarding flag even for an output lookup). */
static __always_inline int pw_neigh_kernel(PW_CTX *ctx, const struct pw_nexthop *nh,
					   const struct pw_neigh_key *key, int v6, struct bpf_fib_lookup *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->ifindex = nh->ifindex;
	if (!v6) {
		p->family = PW_AF_INET;
		__builtin_memcpy(&p->ipv4_dst, key->addr, 4);
	} else {
		p->family = PW_AF_INET6;
		__builtin_memcpy(p->ipv6_dst, key->addr, 16);
	}
	return bpf_fib_lookup(ctx, p, sizeof(*p), BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_OUTPUT);
}

static __always_inline int pw_is_special_dst(const struct pw_packet *pkt)
{
	if (pkt->family == 4) {
		__u32 a = bpf_ntohl(pkt->daddr4);

		return (a >> 28) == 0xe || a == 0xffffffff; /* 224.0.0.0/4, limited broadcast */
	}
	/* ff00::/8 multicast, fe80::/10 link-local: never routed. */
	return pkt->daddr6.in6_u.u6_addr8[0] == 0xff ||
	       (pkt->daddr6.in6_u.u6_addr8[0] == 0xfe && (pkt->daddr6.in6_u.u6_addr8[1] & 0xc0) == 0x80);
}

/*
 * The end of the route stage for a nexthop without its gateway's MAC (a directly connected
 * destination, or a gateway not resolved yet): the copy of the kernel's neighbours, then the
 * kernel itself. A function of its own, called only then: its key and bpf_fib_lookup()'s
 * parameters stay out of the pipeline's stack frame, which the route stage shares.
 */
PW_STAGE int pw_route_neigh(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, __u32 nh_id)
{
	struct pw_neigh_key key;
	struct bpf_fib_lookup p;
	struct pw_nexthop *nh;
	struct pw_iface *out;
	struct pw_neigh *n;
	int v6;

	if (!pkt || !d)
		return 0;
	nh = bpf_map_lookup_elem(&pw_nexthops, &nh_id);
	out = nh ? pw_tx_port(nh->ifindex) : NULL;
	if (!nh || !out) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_TX_PORT);
		return 0;
	}
	v6 = (nh->flags & PW_NH_F_DIRECT) ? pkt->family == 6 : !!(nh->flags & PW_NH_F_GW6);
	pw_neigh_target(nh, pkt, &key);
	n = bpf_map_lookup_elem(&pw_neigh, &key);
	if (n) {
		pw_transmit(ctx, pkt, out, n->mac, nh->smac, nh->ifindex, d);
		return 0;
	}
	if (pw_neigh_kernel(ctx, nh, &key, v6, &p) != BPF_FIB_LKUP_RET_SUCCESS) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_NEIGH);
		return 0;
	}
	pw_transmit(ctx, pkt, out, p.dmac, p.smac, nh->ifindex, d);
	return 0;
}

static __always_inline void pw_route_own(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d)
{
	__u32 route_id = pkt->family == 4 ? pw_fib4_lookup(pkt->daddr4) : pw_fib6_lookup(&pkt->daddr6);
	struct pw_route *rt;
	struct pw_nhgroup *g;
	struct pw_nexthop *nh;
	struct pw_iface *out;
	__u32 bucket, nh_id;

	if (!route_id) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_ROUTE);
		return;
	}
	rt = bpf_map_lookup_elem(&pw_routes, &route_id);
	if (!rt || !(rt->flags & PW_ROUTE_F_VALID)) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_ROUTE);
		return;
	}
	d->route = route_id;
	d->nhg = rt->nhg;
	switch (rt->nhg) {
	case PW_NHG_NONE:
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_ROUTE);
		return;
	case PW_NHG_LOCAL:
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_LOCAL);
		return;
	case PW_NHG_BLACKHOLE:
		pw_decide(d, PW_VERDICT_DROP, PW_REASON_BLACKHOLE);
		return;
	case PW_NHG_KERNEL:
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_KERNEL_ROUTE);
		return;
	}
	/* The kernel sends ICMP time exceeded; the fast path never forwards a TTL <= 1. */
	if (pkt->ttl <= 1) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_TTL_EXCEEDED);
		return;
	}
	g = bpf_map_lookup_elem(&pw_nhgroups, &d->nhg);
	if (!g || !g->n_nexthops) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_ROUTE);
		return;
	}
	bucket = pw_flow_hash(pkt) & (PW_NHG_BUCKETS - 1);
	nh_id = g->buckets[bucket];
	if (nh_id >= PW_NH_DECISION) {
		/* Every path of a steered group is down: its fallback. */
		if (nh_id == PW_NH_DROP)
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_BLACKHOLE);
		else
			pw_decide(d, PW_VERDICT_PASS, PW_REASON_KERNEL_ROUTE);
		return;
	}
	nh = bpf_map_lookup_elem(&pw_nexthops, &nh_id);
	if (!nh || !(nh->flags & PW_NH_F_VALID)) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_ROUTE);
		return;
	}
	d->nexthop = nh_id;
	out = pw_tx_port(nh->ifindex);
	if (!out) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_TX_PORT);
		return;
	}
	{
		/* One load for the gateway's MAC and its flag (the control plane writes them with one
		 * store): a gateway nexthop carries its neighbour's MAC; others look it up, in a
		 * function of their own. */
		__u64 w = *(volatile __u64 *)&nh->gw_mac;
		const struct pw_nh_mac *gm = (const void *)&w;

		if (gm->known)
			pw_transmit(ctx, pkt, out, gm->mac, nh->smac, nh->ifindex, d);
		else
			pw_route_neigh(ctx, pkt, d, nh_id);
	}
}

/* fib: kernel mode: the kernel's own FIB (routes from ip route, FRR, BIRD) decides. A function
 * of its own (see pw_route_neigh). */
PW_STAGE int pw_route_kernel(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d)
{
	struct bpf_fib_lookup p = {};
	struct pw_iface *out;
	int rc;

	if (!pkt || !d)
		return 0;
	p.ifindex = ctx->ingress_ifindex;
	p.l4_protocol = pkt->proto;
	p.sport = pkt->sport;
	p.dport = pkt->dport;
	if (pkt->family == 4) {
		p.family = PW_AF_INET;
		p.ipv4_src = pkt->saddr4;
		p.ipv4_dst = pkt->daddr4;
	} else {
		p.family = PW_AF_INET6;
		__builtin_memcpy(p.ipv6_src, &pkt->saddr6, 16);
		__builtin_memcpy(p.ipv6_dst, &pkt->daddr6, 16);
	}
	rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_NEIGH);
		return 0;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		/* Local, unreachable, prohibited, forwarding disabled: the kernel knows best. */
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_FIB_KERNEL);
		return 0;
	}
	if (pkt->ttl <= 1) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_TTL_EXCEEDED);
		return 0;
	}
	out = pw_tx_port(p.ifindex);
	if (!out) {
		pw_decide(d, PW_VERDICT_PASS, PW_REASON_NO_TX_PORT);
		return 0;
	}
	pw_transmit(ctx, pkt, out, p.dmac, p.smac, p.ifindex, d);
	return 0;
}

#endif /* PATHWISE_ROUTE_BPF_H */
