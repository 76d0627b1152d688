/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The balance stage, between guard and route: a packet for a service (its address, protocol
 * and port) goes to one of the service's backends, chosen by the service's Maglev table on the
 * first packet of a connection and kept in pw_lb_ct after that, so a change of the backend set
 * moves no established connection whose backend is still there.
 *
 *  - NAT mode rewrites the destination to the backend (address, and port when it has one) and
 *    records the reply's 5-tuple; a reply from the backend gets the service's address and port
 *    back as its source. Both then go on to the route stage with their new addresses.
 *  - DSR mode (layer 2) changes nothing in the packet: the route stage sends it to the
 *    backend's address on its segment (the frame gets the backend's MAC), and the backend,
 *    which holds the service address itself, answers the client directly.
 *
 * The rewrite happens before routing decides; a packet the route stage then hands to the
 * kernel (the backend's MAC not known yet, say) is the translated one, which the kernel
 * forwards to the same backend.
 *
 * A fragmented datagram: its first fragment is balanced as any packet (its transport checksum
 * covers the whole datagram, and the patch keeps it right), and its ports are noted in the
 * datagram's pw_frags record. A later fragment, which carries no ports, is looked up by them:
 * it gets the same connection's addresses, its IP header alone changed. One whose first
 * fragment was not seen (lost, overtaken, expired) has no connection to go to, and is dropped
 * when addressed to a service (PW_REASON_LB_FRAGMENT).
 */
#ifndef PATHWISE_BALANCE_BPF_H
#define PATHWISE_BALANCE_BPF_H

#include "pathwise/abi.h"
#include "pathwise/clock.bpf.h"
#include "pathwise/csum.bpf.h"
#include "pathwise/frag.bpf.h"
#include "pathwise/maps/balance.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/route.bpf.h"

#define PW_NS_PER_SEC 1000000000ULL

/* The hash the Maglev table is indexed by: the 5-tuple, or less of it as the service says. */
static __always_inline __u32 pw_lb_hash(const struct pw_packet *pkt, __u16 flags)
{
	__u32 h, sport = flags & (PW_LB_F_NO_SPORT | PW_LB_F_DPORT_ONLY) ? 0 : pkt->sport;

	if (flags & PW_LB_F_DPORT_ONLY)
		return pw_mix(pkt->dport ^ 0x9e3779b9);
	if (pkt->family == 4) {
		h = pw_mix(pkt->saddr4 ^ 0x9e3779b9);
		h = pw_mix(h ^ pkt->daddr4);
	} else {
		const __u32 *s = pkt->saddr6.in6_u.u6_addr32;
		const __u32 *d = pkt->daddr6.in6_u.u6_addr32;

		h = pw_mix(s[0] ^ pw_mix(s[1] ^ pw_mix(s[2] ^ pw_mix(s[3] ^ 0x9e3779b9))));
		h = pw_mix(h ^ d[0] ^ d[1] ^ d[2] ^ d[3]);
	}
	return pw_mix(h ^ ((sport << 16) | pkt->dport) ^ pkt->proto);
}

/* Counts a packet to a service or backend (`reply`: a backend's reply, translated back). */
static __always_inline void pw_lb_count(void *map, __u32 id, const struct pw_packet *pkt, int new_conn, int reply)
{
	struct pw_lb_counter *c = bpf_map_lookup_elem(map, &id);
	__u8 fl = pkt->tcp_flags & (PW_TCP_SYN | PW_TCP_ACK);

	if (!c)
		return;
	c->packets += pkt->segs;
	c->bytes += pkt->ip_len;
	c->connections += new_conn;
	if (pkt->proto != IPPROTO_TCP)
		return;
	/* To the backend a SYN; from it a SYN/ACK or a RST: passive health. */
	if (!reply) {
		c->syns += fl == PW_TCP_SYN;
		return;
	}
	c->synacks += fl == (PW_TCP_SYN | PW_TCP_ACK);
	c->rsts += !!(pkt->tcp_flags & PW_TCP_RST);
}

/* The packet's addresses as a tracking key (the 5-tuple as it travels). */
static __always_inline void pw_lb_key(struct pw_lb_ct_key *k, const struct pw_packet *pkt)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = pkt->family;
	k->proto = pkt->proto;
	k->sport = pkt->sport;
	k->dport = pkt->dport;
	if (pkt->family == 4) {
		__builtin_memcpy(k->saddr, &pkt->saddr4, 4);
		__builtin_memcpy(k->daddr, &pkt->daddr4, 4);
	} else {
		__builtin_memcpy(k->saddr, &pkt->saddr6, 16);
		__builtin_memcpy(k->daddr, &pkt->daddr6, 16);
	}
}

/* 16-bit words of a 4- or 16-byte address, summed into a delta as they change from `from` to `to`. */
static __always_inline __u32 pw_lb_addr_delta(__u32 delta, const __u8 *from, const __u8 *to, int v6)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 a, b;

		if (i && !v6)
			break;
		__builtin_memcpy(&a, from + 4 * i, 4);
		__builtin_memcpy(&b, to + 4 * i, 4);
		delta = pw_csum_delta32(delta, a, b);
	}
	return delta;
}

static __always_inline int pw_lb_same16(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* Routes the packet by the backend's address (DSR, or a what-if lookup): the parsed copy
 * changes, the packet's bytes keep the service's address. */
static __always_inline void pw_lb_route_to(struct pw_packet *pkt, const struct pw_lb_backend *be)
{
	if (pkt->family == 4)
		__builtin_memcpy(&pkt->daddr4, be->addr, 4);
	else
		__builtin_memcpy(&pkt->daddr6, be->addr, 16);
}

/*
 * Rewrites one end of the packet (the destination when `dst`, else the source) to `addr` and
 * `port`, with the IPv4 header's checksum and the transport checksum patched. The parsed copy
 * follows, so later stages see the packet as it now is. Returns 0 if the headers were not
 * where the parser left them (never expected).
 */
static __always_inline int pw_lb_rewrite(PW_CTX *ctx, struct pw_packet *pkt, int dst, const __u8 *addr,
					 __be16 port)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	void *l4 = data + (pkt->l4_off & 0x3ff); /* bounded for the verifier: past any header chain walked */
	__u16 *port_at = NULL, *check_at = NULL;
	__u32 delta = 0, port_delta = 0;

	if (pkt->frag_later) {
		/* No transport header: the first fragment's checksum covers the datagram. */
	} else if (pkt->proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > end)
			return 0;
		port_at = dst ? &th->dest : &th->source;
		check_at = &th->check;
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > end)
			return 0;
		port_at = dst ? &uh->dest : &uh->source;
		check_at = &uh->check;
	}
	if (pkt->family == 4) {
		struct iphdr *iph = data + (pkt->l3_off & 0xff);
		__be32 to;

		if ((void *)(iph + 1) > end)
			return 0;
		__builtin_memcpy(&to, addr, 4);
		if (dst) {
			delta = pw_csum_delta32(0, iph->daddr, to);
			iph->daddr = to;
			pkt->daddr4 = to;
		} else {
			delta = pw_csum_delta32(0, iph->saddr, to);
			iph->saddr = to;
			pkt->saddr4 = to;
		}
		iph->check = pw_csum_apply(iph->check, delta);
	} else {
		struct ipv6hdr *ip6 = data + (pkt->l3_off & 0xff);
		__u32 *at;

		if ((void *)(ip6 + 1) > end)
			return 0;
		at = dst ? ip6->daddr.in6_u.u6_addr32 : ip6->saddr.in6_u.u6_addr32;
		/* Word by word in place (pw_lb_addr_delta's copies would cost the stage's frame). */
#pragma unroll
		for (int i = 0; i < 4; i++) {
			__u32 w;

			__builtin_memcpy(&w, addr + 4 * i, 4);
			delta = pw_csum_delta32(delta, at[i], w);
			at[i] = w;
		}
		if (dst)
			__builtin_memcpy(&pkt->daddr6, addr, 16);
		else
			__builtin_memcpy(&pkt->saddr6, addr, 16);
	}
	if (!port_at || !check_at)
		return 1;
	if (port) {
		port_delta = pw_csum_delta16(0, *port_at, port);
		*port_at = port;
		if (dst)
			pkt->dport = port;
		else
			pkt->sport = port;
	}
#ifdef PW_TC
	/* A socket buffer's transport checksum may be left to the device (CHECKSUM_PARTIAL: the
	 * field holds the pseudo-header's sum, which the ports are not in) or be checked against
	 * the buffer's own sum (CHECKSUM_COMPLETE): the kernel's helper knows which and keeps
	 * both right. It moves the packet, so nothing here reads it afterwards. */
	{
		__u32 off = (void *)check_at - data;
		__u64 zero = pkt->proto == IPPROTO_UDP ? (pkt->family == 4 ? BPF_F_MARK_MANGLED_0 : BPF_F_MARK_ENFORCE) : 0;

		bpf_l4_csum_replace(ctx, off, 0, delta, BPF_F_PSEUDO_HDR | zero);
		if (port_delta)
			bpf_l4_csum_replace(ctx, off, 0, port_delta, zero);
	}
	return 1;
#endif
	delta += port_delta;
	/* A UDP checksum of 0 over IPv4 means "none": it stays none. Computed, 0 is sent as 0xffff. */
	if (pkt->proto == IPPROTO_UDP) {
		if (*check_at || pkt->family == 6) {
			__u16 c = pw_csum_apply(*check_at, delta);

			*check_at = c ? c : 0xffff;
		}
	} else {
		*check_at = pw_csum_apply(*check_at, delta);
	}
	return 1;
}

static __always_inline void pw_lb_vip_key_of(struct pw_lb_vip_key *k, const struct pw_packet *pkt, __be16 port)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = pkt->family;
	k->proto = pkt->proto;
	k->port = port;
	if (pkt->family == 4)
		__builtin_memcpy(k->addr, &pkt->daddr4, 4);
	else
		__builtin_memcpy(k->addr, &pkt->daddr6, 16);
}

/*
 * Records how the backend's replies to a new connection are translated back, the key being the
 * connection's (it is turned into the reply's). With SNAT, the connection gets a source port of
 * the snat address towards this backend: one drawn from its 5-tuple, or the next of up to
 * PW_LB_SNAT_TRIES (a port another connection holds is not taken; one its own 5-tuple held
 * before is). Returns that port (network order), 0 when none was free; without SNAT, 0.
 */
#define PW_LB_SNAT_TRIES 4

static __always_inline __be16 pw_lb_record_reply(const struct pw_packet *pkt, struct pw_lb_ct_key *key,
						 const struct pw_lb_service *svc, const struct pw_lb_backend *be,
						 __u32 be_id)
{
	struct pw_lb_rnat back = {};
	__u32 h;

	__builtin_memcpy(back.vip, key->daddr, 16);
	back.vport = pkt->dport;
	back.backend = be_id;
	__builtin_memcpy(back.client, key->saddr, 16);
	back.cport = pkt->sport;
	__builtin_memcpy(key->saddr, be->addr, 16);
	key->sport = be->port ? be->port : pkt->dport;
	if (!(svc->flags & PW_LB_F_SNAT)) {
		__builtin_memcpy(key->daddr, back.client, 16);
		key->dport = pkt->sport;
		bpf_map_update_elem(&pw_lb_rnat, key, &back, BPF_ANY);
		return 0;
	}
	back.snat = 1;
	__builtin_memcpy(key->daddr, svc->snat, 16);
	h = pw_lb_hash(pkt, 0);
#pragma unroll
	for (int i = 0; i < PW_LB_SNAT_TRIES; i++) {
		__u16 port = 1024 + (h + i * 0x9e37) % (65536 - 1024);
		struct pw_lb_rnat *held;

		key->dport = bpf_htons(port);
		if (!bpf_map_update_elem(&pw_lb_rnat, key, &back, BPF_NOEXIST))
			return key->dport;
		held = bpf_map_lookup_elem(&pw_lb_rnat, key);
		if (held && held->cport == back.cport && pw_lb_same16(held->client, back.client)) {
			*held = back;
			return key->dport;
		}
	}
	return 0;
}

/* A packet for a service: its backend, then NAT or DSR. Returns 1 when the packet goes on to
 * the route stage. */
static __always_inline int pw_lb_forward(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d,
					 const struct pw_lb_service *svc, int trace)
{
	struct pw_lb_ct_key key;
	struct pw_lb_ct *ct, fresh = {};
	struct pw_lb_backend *be = NULL;
	__u32 be_id = 0, svc_id = svc->id;
	__u16 flags = svc->flags;
	__be16 snat_port = 0;
	int new_conn = 0;
	__u64 now;

	pw_lb_key(&key, pkt);
	/* A TCP SYN opens a new connection, even on the 5-tuple of an old one (a client reusing
	 * its port): the table in use chooses, not what the old connection had. */
	ct = (pkt->proto == IPPROTO_TCP && (pkt->tcp_flags & (PW_TCP_SYN | PW_TCP_ACK)) == PW_TCP_SYN) ? NULL
											  : bpf_map_lookup_elem(&pw_lb_ct, &key);
	/* A connection tracked before its service took up SNAT has no port of it: it chooses again.
	 * One tracked to a backend that is down when the service's policy is to reset them: a TCP
	 * segment is answered with a reset from the service (pw_lb_send_reset; the entry stays, so
	 * every later segment is too, until the client opens anew with a SYN), a UDP flow moves to
	 * the backend the table now picks. The reset is Pathwise's own: a new backend's kernel
	 * would answer with an ACK, not a reset, while it holds a socket of that client port (in
	 * TIME_WAIT, say), and the client would wait on a connection nobody serves. */
	if (ct && ct->service == svc_id && (!(flags & PW_LB_F_SNAT) || ct->snat_port)) {
		__u32 id = ct->backend;

		be = bpf_map_lookup_elem(&pw_lb_backends, &id);
		if (be && (be->flags & PW_LB_BE_VALID) && be->service == svc_id) {
			if (!(be->flags & PW_LB_BE_DOWN && flags & PW_LB_F_RESET_DOWN)) {
				be_id = id;
			} else if (pkt->proto == IPPROTO_TCP) {
				/* A later fragment has no header to answer: dropped, as a reset is. */
				d->lb_backend = id;
				pw_decide(d, pkt->tcp_flags & PW_TCP_RST || pkt->frag_later ? PW_VERDICT_DROP : PW_VERDICT_TX,
					  PW_REASON_LB_RESET);
				return 0;
			} else {
				be = NULL;
			}
		} else {
			be = NULL;
		}
	}
	if (!be) {
		__u32 slot, elem;
		struct pw_lb_slots *slots;

		/* A later fragment follows its first fragment's connection, or goes nowhere. */
		if (pkt->frag_later) {
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_LB_FRAGMENT);
			return 0;
		}
		if (!svc->table_size) {
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_LB_NO_BACKEND);
			return 0;
		}
		slot = svc->table + pw_lb_hash(pkt, flags) % svc->table_size;
		elem = slot / PW_LB_SLOTS_PER_ELEM;
		slots = bpf_map_lookup_elem(&pw_lb_maglev, &elem);
		be_id = slots ? slots->backend[slot & (PW_LB_SLOTS_PER_ELEM - 1)] : 0;
		be = be_id ? bpf_map_lookup_elem(&pw_lb_backends, &be_id) : NULL;
		if (!be || !(be->flags & PW_LB_BE_VALID) || be->family != pkt->family) {
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_LB_NO_BACKEND);
			return 0;
		}
		new_conn = 1;
	}
	d->lb_backend = be_id;
	if (trace)
		goto translate; /* a what-if lookup records nothing */
	now = pw_coarse_ns();
	if (new_conn) {
		if (!(flags & PW_LB_F_DSR)) {
			/* The reply as the backend will send it (key turns into it: the stage's frame
			 * counts against the pipeline's 512 bytes), recorded first: with SNAT its port
			 * is what the connection is given. */
			snat_port = pw_lb_record_reply(pkt, &key, svc, be, be_id);
			if (flags & PW_LB_F_SNAT && !snat_port) {
				pw_decide(d, PW_VERDICT_DROP, PW_REASON_LB_NO_PORT);
				return 0;
			}
			pw_lb_key(&key, pkt);
		}
		fresh.backend = be_id;
		fresh.service = svc_id;
		fresh.seen_ns = now;
		fresh.snat_port = snat_port;
		bpf_map_update_elem(&pw_lb_ct, &key, &fresh, BPF_ANY);
	} else if (ct) {
		snat_port = ct->snat_port;
		if (now - ct->seen_ns > PW_NS_PER_SEC)
			ct->seen_ns = now;
	}
	pw_lb_count(&pw_lb_service_stats, svc_id, pkt, new_conn, 0);
	pw_lb_count(&pw_lb_backend_stats, be_id, pkt, new_conn, 0);
translate:
	if (flags & PW_LB_F_DSR)
		d->lb_dsr = 1;
	if (flags & PW_LB_F_DSR || trace) {
		/* DSR, and a what-if lookup (read-only): routed by the backend's address. */
		pw_lb_route_to(pkt, be);
		return 1;
	}
	if (!pw_lb_rewrite(ctx, pkt, 1, be->addr, be->port) ||
	    (flags & PW_LB_F_SNAT && !pw_lb_rewrite(ctx, pkt, 0, svc->snat, snat_port))) {
		pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_L4);
		return 0;
	}
	return 1;
}

/* A first fragment's ports, noted in its datagram's record (the guard's, when it wrote one)
 * for the later fragments. Not inlined: the key stays out of the stage's frame. */
static __attribute__((noinline)) int pw_lb_frag_note(const struct pw_packet *pkt)
{
	struct pw_frag_key k;
	struct pw_frag *f, fresh = { .verdict = PW_VERDICT_PASS, .has_ports = 1 };

	pw_frag_key(&k, pkt);
	f = bpf_map_lookup_elem(&pw_frags, &k);
	if (f && bpf_ktime_get_ns() < f->expires_ns) {
		f->sport = pkt->sport;
		f->dport = pkt->dport;
		f->has_ports = 1;
		return 0;
	}
	/* The guard did not run (no filter), or its record is an older datagram's. */
	fresh.expires_ns = pw_frag_expiry();
	fresh.sport = pkt->sport;
	fresh.dport = pkt->dport;
	bpf_map_update_elem(&pw_frags, &k, &fresh, BPF_ANY);
	return 0;
}

/* A later fragment's ports, from its first fragment's note: 1 when found. Not inlined, as above. */
static __attribute__((noinline)) int pw_lb_frag_ports(struct pw_packet *pkt)
{
	struct pw_frag *f;

	f = pw_frag_first(pkt);
	if (!f || !f->has_ports)
		return 0;
	pkt->sport = f->sport;
	pkt->dport = f->dport;
	return 1;
}

/* A TCP or UDP packet whose ports are known (a later fragment's from its first fragment). */
static __always_inline int pw_balance_ported(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, int trace,
					     int nat_replies)
{
	struct pw_lb_vip_key vk;
	struct pw_lb_service *svc;

	pw_lb_vip_key_of(&vk, pkt, pkt->dport);
	svc = bpf_map_lookup_elem(&pw_lb_services, &vk);
	if (!svc) {
		vk.port = 0;
		svc = bpf_map_lookup_elem(&pw_lb_services, &vk);
	}
	if (svc) {
		if (pkt->frag_first && !trace)
			pw_lb_frag_note(pkt);
		return pw_lb_forward(ctx, pkt, d, svc, trace);
	}
	if (nat_replies) {
		struct pw_lb_ct_key key;
		struct pw_lb_rnat *back;

		pw_lb_key(&key, pkt);
		back = bpf_map_lookup_elem(&pw_lb_rnat, &key);
		if (back) {
			/* Read in place (an LRU entry evicted meanwhile stays readable until the
			 * program ends): a copy would cost the frame the bytes the pipeline's needs. */
			if (trace)
				return 1;
			if (pkt->frag_first)
				pw_lb_frag_note(pkt);
			pw_lb_count(&pw_lb_backend_stats, back->backend, pkt, 0, 1);
			if (!pw_lb_rewrite(ctx, pkt, 0, back->vip, back->vport) ||
			    (back->snat && !pw_lb_rewrite(ctx, pkt, 1, back->client, back->cport))) {
				pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_L4);
				return 0;
			}
		}
	}
	return 1;
}

/*
 * The balance stage. A TCP or UDP packet for a service is balanced; a NAT-mode backend's
 * reply is translated back (looked up only when `nat_replies`: some service is in NAT mode).
 * Anything else goes on untouched (returns 1); a packet the stage decided (dropped) returns 0.
 */
PW_STAGE int pw_balance(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, int trace, int nat_replies)
{
	struct pw_lb_vip_key vk;
	int goes_on;

	if (!pkt || !d)
		return 1;
	if (pkt->proto != IPPROTO_TCP && pkt->proto != IPPROTO_UDP)
		return 1;
	if (pkt->frag_later ? !pw_lb_frag_ports(pkt) : !pkt->has_ports) {
		/* No ports to find the service and the connection by. */
		pw_lb_vip_key_of(&vk, pkt, 0);
		if (bpf_map_lookup_elem(&pw_lb_vips, &vk)) {
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_LB_FRAGMENT);
			return 0;
		}
		return 1;
	}
	goes_on = pw_balance_ported(ctx, pkt, d, trace, nat_replies);
	/* Later stages see a later fragment as it is: without ports. */
	if (pkt->frag_later)
		pkt->sport = pkt->dport = 0;
	return goes_on;
}

/*
 * ICMP errors about balanced connections (NAT mode), so path MTU discovery and unreachables
 * work through the translation. An error quotes the packet it is about; what the quote says
 * tells which side it is for:
 *  - a quote client → backend (the translated packet, reported by the backend or a router
 *    beyond): the client must see it about client → service. The quote's destination goes
 *    back to the service address and port, and so does the error's source when the backend
 *    itself sent it.
 *  - a quote service → client (a reply as the client got it, reported on the client's side)
 *    addressed to the service: it goes to the backend, about backend → client. DSR: routed to
 *    the backend unchanged (the backend holds the service address).
 * With SNAT the other end of the quote changes too: the client's address and port stand for
 * the snat address and port the backend knows, and the reverse (both ways, two rewrites).
 * Every checksum the change touches is patched: the quote's IP header and transport checksum,
 * the ICMP checksum (over the whole message, and for ICMPv6 the outer addresses too), and the
 * outer IPv4 header's.
 */
static __always_inline int pw_lb_icmp_error(const struct pw_packet *pkt)
{
	if (pkt->family == 4)
		return pkt->proto == IPPROTO_ICMP && (pkt->icmp_type == 3 || pkt->icmp_type == 11 || pkt->icmp_type == 12);
	return pkt->proto == PW_IPPROTO_ICMPV6 && pkt->icmp_type >= 1 && pkt->icmp_type <= 4;
}

/* How pw_lb_icmp_rewrite() changes the packet. */
enum {
	PW_LB_QUOTE_DST = 1, /* the quote's destination (else its source) */
	PW_LB_OUTER_DST = 2, /* the outer destination too */
	PW_LB_OUTER_SRC = 4, /* the outer source too */
};

/*
 * Rewrites one end of the quoted packet (its destination with PW_LB_QUOTE_DST in `how`, else
 * its source) to `to`:`port`, and with PW_LB_OUTER_DST or PW_LB_OUTER_SRC the outer destination
 * or source to `to` too. Returns 0 when the quote is not where it was found. The checksums are
 * patched by hand in the TC pipeline too: an ICMP error is checksummed whole by whoever sends
 * it (never left to the device), so only a receive-side CHECKSUM_COMPLETE goes stale, which
 * matters to a local receiver alone, and a balanced flow's is never local.
 * Not inlined: inlined at its four call sites, it made pw_balance_icmp's frame the deepest of
 * the pipeline's call chains, and ICMP errors are rare enough to pay a call each.
 */
static __attribute__((noinline)) int pw_lb_icmp_rewrite(PW_CTX *ctx, struct pw_packet *pkt, const __u8 *to, __be16 port,
							int how)
{
	/* The address read as words (every caller's is a 16-byte map value field, 4-byte
	 * aligned): copied byte by byte, it took this function's frame past what the pipeline's
	 * deepest call chain leaves it. */
	__u32 words[4];
	const __u8 *addr = (const __u8 *)words;
	const int quote_dst = how & PW_LB_QUOTE_DST;
	/* 1: the outer destination, 2: the outer source, 0: neither */
	const int outer = how & PW_LB_OUTER_DST ? 1 : how & PW_LB_OUTER_SRC ? 2 : 0;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *icmp = data + (pkt->l4_off & 0x3ff);
	__u16 *icmp_check = (__u16 *)(icmp + 2);
	__u8 *quote = icmp + 8;
	__u8 *ql4, *qaddr;
	__u16 *qport, *l4check = NULL;
	__u32 d_quote, d_icmp = 0;
	int v6 = pkt->family == 6;
	__u8 qproto;

	__builtin_memcpy(words, __builtin_assume_aligned(to, 4), 16);
	if (!v6) {
		struct iphdr *qip = (void *)quote;
		__u32 ihl;
		__u16 old;

		if ((void *)(qip + 1) > end)
			return 0;
		ihl = (quote[0] & 0xf) * 4;
		ql4 = quote + (ihl & 0x3c);
		qproto = qip->protocol;
		qaddr = quote_dst ? (__u8 *)&qip->daddr : (__u8 *)&qip->saddr;
		d_quote = pw_lb_addr_delta(0, qaddr, addr, 0);
		__builtin_memcpy(qaddr, addr, 4);
		/* The quote's IP header checksum covers its addresses. */
		old = qip->check;
		qip->check = pw_csum_apply(old, d_quote);
		d_icmp = pw_csum_delta16(d_icmp, old, qip->check);
	} else {
		struct ipv6hdr *qip6 = (void *)quote;

		if ((void *)(qip6 + 1) > end)
			return 0;
		ql4 = quote + 40;
		qproto = qip6->nexthdr;
		qaddr = quote_dst ? (__u8 *)&qip6->daddr : (__u8 *)&qip6->saddr;
		d_quote = pw_lb_addr_delta(0, qaddr, addr, 1);
		__builtin_memcpy(qaddr, addr, 16);
	}
	if ((void *)(ql4 + 8) > end)
		return 0;
	qport = (__u16 *)(ql4 + (quote_dst ? 2 : 0));
	d_icmp += d_quote;
	if (port) {
		d_quote = pw_csum_delta16(d_quote, *qport, port);
		d_icmp = pw_csum_delta16(d_icmp, *qport, port);
		*qport = port;
	}
	/* The quote's transport checksum, when the quote holds it (a UDP one always does). */
	if (qproto == IPPROTO_UDP)
		l4check = (__u16 *)(ql4 + 6);
	else if (qproto == IPPROTO_TCP && (void *)(ql4 + 18) <= end)
		l4check = (__u16 *)(ql4 + 16);
	if (l4check && (*l4check || qproto == IPPROTO_TCP || v6)) {
		__u16 old = *l4check, now = pw_csum_apply(old, d_quote);

		if (!now && qproto == IPPROTO_UDP)
			now = 0xffff;
		*l4check = now;
		d_icmp = pw_csum_delta16(d_icmp, old, now);
	}
	if (outer) {
		void *l3 = data + (pkt->l3_off & 0xff);

		if (!v6) {
			struct iphdr *ip = l3;
			__u32 d_outer;

			if ((void *)(ip + 1) > end)
				return 0;
			d_outer = pw_lb_addr_delta(0, outer == 1 ? (__u8 *)&ip->daddr : (__u8 *)&ip->saddr, addr, 0);
			ip->check = pw_csum_apply(ip->check, d_outer);
			__builtin_memcpy(outer == 1 ? &ip->daddr : &ip->saddr, addr, 4);
			__builtin_memcpy(outer == 1 ? &pkt->daddr4 : &pkt->saddr4, addr, 4);
		} else {
			struct ipv6hdr *ip6 = l3;

			if ((void *)(ip6 + 1) > end)
				return 0;
			/* ICMPv6's checksum covers the outer addresses (its pseudo-header). */
			d_icmp = pw_lb_addr_delta(d_icmp, outer == 1 ? (__u8 *)&ip6->daddr : (__u8 *)&ip6->saddr, addr, 1);
			__builtin_memcpy(outer == 1 ? &ip6->daddr : &ip6->saddr, addr, 16);
			__builtin_memcpy(outer == 1 ? &pkt->daddr6 : &pkt->saddr6, addr, 16);
		}
	}
	if ((void *)(icmp_check + 1) > end)
		return 0;
	*icmp_check = pw_csum_apply(*icmp_check, d_icmp);
	return 1;
}

/* Whether the packet's source (src) or destination is `addr` (4 or 16 bytes, as the family
 * says). */
static __always_inline int pw_lb_same_addr(const struct pw_packet *pkt, const __u8 *addr, int src)
{
	if (pkt->family == 4) {
		__u32 w;

		__builtin_memcpy(&w, addr, 4);
		return w == (src ? pkt->saddr4 : pkt->daddr4);
	}
	return pw_lb_same16(src ? (const __u8 *)&pkt->saddr6 : (const __u8 *)&pkt->daddr6, addr);
}

/* The balance stage for ICMP errors (above). Returns 1 when the packet goes on to routing. */
PW_STAGE int pw_balance_icmp(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, int trace)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct pw_lb_ct_key key;
	struct pw_lb_rnat *rnat;
	struct pw_lb_ct *ct;
	__u8 *quote, *ql4;
	__u8 qproto;

	if (!pkt || !d || pkt->fragment)
		return 1;
	quote = data + (pkt->l4_off & 0x3ff) + 8;
	__builtin_memset(&key, 0, sizeof(key));
	key.family = pkt->family;
	if (pkt->family == 4) {
		struct iphdr *qip = (void *)quote;

		if ((void *)(qip + 1) > end || qip->ihl < 5)
			return 1;
		ql4 = quote + ((qip->ihl * 4) & 0x3c);
		qproto = qip->protocol;
		/* Tracked the other way round: the quote went A → B, the key is B → A. */
		__builtin_memcpy(key.saddr, &qip->daddr, 4);
		__builtin_memcpy(key.daddr, &qip->saddr, 4);
	} else {
		struct ipv6hdr *qip6 = (void *)quote;

		if ((void *)(qip6 + 1) > end)
			return 1;
		ql4 = quote + 40; /* a quote's extension headers are not walked */
		qproto = qip6->nexthdr;
		__builtin_memcpy(key.saddr, &qip6->daddr, 16);
		__builtin_memcpy(key.daddr, &qip6->saddr, 16);
	}
	if ((void *)(ql4 + 8) > end || (qproto != IPPROTO_TCP && qproto != IPPROTO_UDP))
		return 1;
	key.proto = qproto;
	key.sport = ((__be16 *)ql4)[1];
	key.dport = ((__be16 *)ql4)[0];
	/* An error goes to the sender of the packet it quotes (key.daddr). One addressed anywhere
	 * else is no report about a connection of ours, whatever its quote says (mangled or
	 * forged): it is routed as it is, never translated towards a backend or a client. */
	if (!pw_lb_same_addr(pkt, key.daddr, 0))
		return 1;

	/* A quote client → backend: the key is the backend's reply, whose translation is known.
	 * With SNAT the quote is snat:port → backend and the error is addressed to the snat
	 * address: its quote's source and its destination go back to the client too. */
	rnat = bpf_map_lookup_elem(&pw_lb_rnat, &key);
	if (rnat) {
		/* The backend itself reporting: the client hears it from the service address. */
		int from_backend = pw_lb_same_addr(pkt, key.saddr, 1);

		/* Read in place (an LRU entry evicted meanwhile stays readable until the program
		 * ends): a copy would cost the stage's frame the bytes the pipeline's needs. */
		d->lb_backend = rnat->backend;
		if (trace)
			return 1;
		if (!pw_lb_icmp_rewrite(ctx, pkt, rnat->vip, rnat->vport, PW_LB_QUOTE_DST | (from_backend ? PW_LB_OUTER_SRC : 0)) ||
		    (rnat->snat && !pw_lb_icmp_rewrite(ctx, pkt, rnat->client, rnat->cport, PW_LB_OUTER_DST))) {
			pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_L4);
			return 0;
		}
		return 1;
	}

	/* A quote service → client: the key is the client's connection. */
	ct = bpf_map_lookup_elem(&pw_lb_ct, &key);
	if (ct) {
		__u32 id = ct->backend;
		struct pw_lb_backend *be = bpf_map_lookup_elem(&pw_lb_backends, &id);
		__be16 cport = key.sport;

		if (!be || !(be->flags & PW_LB_BE_VALID) || be->family != pkt->family)
			return 1;
		d->lb_backend = id;
		if (ct->snat_port) {
			/* SNAT (NAT mode only): the backend sent backend → snat:port, which the quote
			 * is about; the snat address is the service's (found by the quote's source,
			 * the service address and port as the client sent to them). */
			__be16 snat_port = ct->snat_port, vport = key.dport;
			/* The service's key is built over the connection's, no longer needed (a key
			 * of its own would take the stage's frame past the pipeline's 512 bytes):
			 * family and protocol are where they were, the address lies past it. */
			struct pw_lb_vip_key *vk = (void *)&key;
			struct pw_lb_service *svc;

			_Static_assert(sizeof(*vk) <= __builtin_offsetof(struct pw_lb_ct_key, daddr), "vip key over the ct key");
			vk->port = vport;
			__builtin_memcpy(vk->addr, key.daddr, 16);
			svc = bpf_map_lookup_elem(&pw_lb_services, vk);
			if (!svc) {
				vk->port = 0;
				svc = bpf_map_lookup_elem(&pw_lb_services, vk);
			}
			if (!svc || !(svc->flags & PW_LB_F_SNAT) || trace)
				return 1;
			if (!pw_lb_icmp_rewrite(ctx, pkt, be->addr, be->port, PW_LB_OUTER_DST) ||
			    !pw_lb_icmp_rewrite(ctx, pkt, svc->snat, snat_port, PW_LB_QUOTE_DST)) {
				pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_L4);
				return 0;
			}
			return 1;
		}
		/* NAT mode recorded the backend's reply: its translation is the way back. The key
		 * turns into that reply's (in place: the stage's frame counts against the 512 bytes). */
		__builtin_memcpy(key.daddr, key.saddr, 16);
		__builtin_memcpy(key.saddr, be->addr, 16);
		key.sport = be->port ? be->port : key.dport;
		key.dport = cport;
		if (!bpf_map_lookup_elem(&pw_lb_rnat, &key)) {
			/* DSR: to the backend, as it is. */
			d->lb_dsr = 1;
			pw_lb_route_to(pkt, be);
			return 1;
		}
		if (trace)
			return 1;
		if (!pw_lb_icmp_rewrite(ctx, pkt, be->addr, be->port, PW_LB_OUTER_DST)) {
			pw_decide(d, PW_VERDICT_ABORTED, PW_REASON_TRUNCATED_L4);
			return 0;
		}
	}
	return 1;
}

/* A 16-bit one's complement sum of `words` 16-bit words, as they sit in memory. */
#define PW_SUM16(sum, p, words)                                                                                        \
	do {                                                                                                           \
		_Pragma("unroll") for (int _i = 0; _i < (words); _i++) (sum) += ((const __u16 *)(p))[_i];               \
	} while (0)

/*
 * Turns the client's TCP segment (decided PW_REASON_LB_RESET, PW_VERDICT_TX) into the reset
 * the service answers it with, sent back out of the interface it came in on: addresses, ports
 * and MACs swapped, the payload and TCP options cut off, sequence numbers as RFC 9293 (3.10.7.1)
 * has a closed port answer: with the segment's ACK its acknowledgment as the sequence number,
 * else sequence 0 and an ACK of all the segment occupied. A segment whose headers carry IPv4
 * options or IPv6 extension headers is dropped instead: answering would mean reversing them.
 * Its own stage: its frame is a sibling of the balance stage's, not a child.
 */
PW_STAGE int pw_lb_send_reset(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d)
{
	void *data, *end;
	__u32 l3, l4, hdrs, occupied, sum = 0;
	struct tcphdr seg, *th;
	struct ethhdr *eth;
	__u8 mac[PW_ETH_ALEN], rst;
	__be32 seq, ack;
	int len;

	if (!pkt || !d)
		return 0;
	l3 = pkt->l3_off & 0xff;
	l4 = pkt->l4_off & 0x3ff;
	/* The segment read by copy and the length by helper: the packet's pointers are read once,
	 * after the tail is cut (clang would otherwise keep ctx + 4 in a register across the cut,
	 * and the verifier refuses a read through a moved ctx pointer). */
	if (l4 != l3 + (pkt->family == 4 ? 20 : 40) || pw_ctx_load_bytes(ctx, l4, &seg, sizeof(seg)))
		goto drop;
	hdrs = l4 - l3 + seg.doff * 4;
	occupied = (pkt->ip_len > hdrs ? pkt->ip_len - hdrs : 0) + seg.syn + seg.fin;
	if (seg.ack) {
		seq = seg.ack_seq;
		ack = 0;
		rst = PW_TCP_RST;
	} else {
		seq = 0;
		ack = bpf_htonl(bpf_ntohl(seg.seq) + occupied);
		rst = PW_TCP_RST | PW_TCP_ACK;
	}
	len = pw_ctx_buff_len(ctx);
#ifdef PW_TC
	/* One segment only: a socket buffer of several is not one segment to answer. The checksum
	 * below is whole; a buffer whose sender left it to the device (CHECKSUM_PARTIAL: a local
	 * stack's, through a veth) stays so marked, which the veth back to that stack accepts as
	 * it is, and a device that finishes checksums itself would spoil. */
	if (pkt->segs > 1 || (len > (int)l4 + 20 && bpf_skb_change_tail(ctx, l4 + 20, 0)))
		goto drop;
#else
	if (len > (int)l4 + 20 && bpf_xdp_adjust_tail(ctx, (int)l4 + 20 - len))
		goto drop;
#endif
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	th = data + l4;
	if ((void *)(eth + 1) > end || (void *)(th + 1) > end)
		goto drop;
	__builtin_memcpy(mac, eth->h_dest, PW_ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, PW_ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, PW_ETH_ALEN);
	if (pkt->family == 4) {
		struct iphdr *ip = data + l3;
		__be32 a;

		if ((void *)(ip + 1) > end)
			goto drop;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->tot_len = bpf_htons(40);
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000); /* DF, as the kernel's own resets */
		ip->ttl = 64;
		ip->check = 0;
		PW_SUM16(sum, ip, 10);
		ip->check = ~pw_csum_fold(sum);
		sum = bpf_htons(IPPROTO_TCP) + bpf_htons(20);
		PW_SUM16(sum, &ip->saddr, 4);
	} else {
		struct ipv6hdr *ip6 = data + l3;
		struct in6_addr a;

		if ((void *)(ip6 + 1) > end)
			goto drop;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->payload_len = bpf_htons(20);
		ip6->hop_limit = 64;
		sum = bpf_htons(IPPROTO_TCP) + bpf_htons(20);
		PW_SUM16(sum, &ip6->saddr, 16);
	}
	{
		__be16 port = th->source;

		th->source = th->dest;
		th->dest = port;
	}
	th->seq = seq;
	th->ack_seq = ack;
	((__u8 *)th)[12] = 5 << 4; /* no options */
	((__u8 *)th)[13] = rst;
	th->window = 0;
	th->check = 0;
	th->urg_ptr = 0;
	PW_SUM16(sum, th, 10);
	th->check = ~pw_csum_fold(sum);
	return 0;
drop:
	pw_decide(d, PW_VERDICT_DROP, PW_REASON_LB_RESET);
	return 0;
}

/*
 * The balance stages, as the pipeline calls them: nothing at all while no service is
 * configured (one array lookup), TCP and UDP to pw_balance, ICMP errors to pw_balance_icmp.
 * Returns 1 when the packet goes on to routing.
 */
static __always_inline int pw_balance_packet(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, int trace)
{
	__u32 zero = 0;
	struct pw_lb_ctl *ctl = bpf_map_lookup_elem(&pw_lb_ctl, &zero);

	if (!ctl || !ctl->services)
		return 1;
	if (pkt->proto == IPPROTO_TCP || pkt->proto == IPPROTO_UDP)
		return pw_balance(ctx, pkt, d, trace, ctl->nat_services != 0);
	if (pw_lb_icmp_error(pkt))
		return pw_balance_icmp(ctx, pkt, d, trace);
	return 1;
}

#endif /* PATHWISE_BALANCE_BPF_H */
