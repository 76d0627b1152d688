/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsers on a bounds-checked cursor. Every access is preceded by a check against
 * data_end right next to it: the verifier tracks packet pointers per access, and a check
 * separated from its use (or hidden behind a non-inlined call) is rejected. A parser that
 * finds something it can't vouch for returns a pw_reason and the packet leaves the fast path;
 * what it learned before that (the addresses, say) stays in pw_packet, for the guard.
 *
 * Transport fields are read within the IP packet (its total length), never from the bytes that
 * may follow it in the frame (Ethernet padding): a forged flags byte there must not count.
 */
#ifndef PATHWISE_PARSE_H
#define PATHWISE_PARSE_H

#include "pathwise/abi.h"
#include "pathwise/ctx.bpf.h"

#define PW_MAX_VLANS 2 /* 802.1ad outer + 802.1Q inner */

#define PW_ETH_P_IP 0x0800
#define PW_ETH_P_IPV6 0x86DD
#define PW_ETH_P_8021Q 0x8100
#define PW_ETH_P_8021AD 0x88A8

/* Macros from UAPI headers that vmlinux.h (types only) does not carry. */
#define PW_ETH_ALEN 6
#define PW_IPPROTO_ICMPV6 58

/* TCP flags (the byte at offset 13 of the header). */
enum {
	PW_TCP_FIN = 0x01,
	PW_TCP_SYN = 0x02,
	PW_TCP_RST = 0x04,
	PW_TCP_ACK = 0x10,
};

#define PW_IP_MF 0x2000
#define PW_IP_OFFSET 0x1FFF

/* IPv6 extension headers (IANA protocol numbers). */
#define PW_IPV6_HOP 0
#define PW_IPV6_ROUTING 43
#define PW_IPV6_FRAGMENT 44
#define PW_IPV6_DSTOPTS 60
#define PW_IPV6_NONXT 59
#define PW_IPV6_FRAG_OFFSET 0xFFF8

struct pw_cursor {
	void *pos;
	void *end;      /* the frame's end (data_end): what the verifier checks accesses against */
	__u32 frame_len; /* the packet's length: to data_end, or past a socket buffer's linear part (ctx.bpf.h) */
	void *ip_end;   /* the IP packet's end (total length), once known: transport fields stop there */
	void *start;    /* the frame's start (data) */
};

/* What the parse stage learned about a packet; lives on the pipeline's stack. Aligned to 8
 * bytes, so that its IPv6 addresses read as 64-bit words (pw_addr_words): the verifier
 * refuses a misaligned stack access. */
struct __attribute__((aligned(8))) pw_packet {
	__u32 len;            /* frame length */
	__u32 segs;           /* segments on the wire: 1, or a socket buffer's GSO segments (ctx.bpf.h) */
	__u32 ip_len;         /* IP total length (IPv6: payload + 40), what IPFIX counts as octets */
	__u16 l3_off;         /* offset of the IP header from the start of the frame */
	__u16 l3_proto;       /* host order ETH_P_* after VLAN tags */
	__u16 vlan;           /* innermost VLAN id, 0 if untagged */
	__u8 vlan_count;
	__u8 family;          /* 4 or 6, 0 if not IP */
	__u8 proto;           /* L4 protocol (after IPv6 extension headers) */
	__u8 ttl;             /* TTL or hop limit */
	__u8 tcp_flags;
	__u8 fragment;        /* 1 if any fragment (first or not) */
	__u8 has_ports;       /* sport/dport are valid (not a non-first fragment, TCP/UDP) */
	__u8 icmp_type;
	/* Every field the rules match on is known: addresses and protocol, and for TCP and UDP the
	 * ports (and TCP's flags). Not for a later fragment, nor for a packet cut short. */
	__u8 l4_known;
	__u8 frag_first;      /* the first fragment of a fragmented datagram */
	__u8 frag_later;      /* a later fragment: no transport header */
	__u8 _pad0;
	__u16 l4_off;         /* offset of the TCP, UDP or ICMP header from the start of the frame */
	__u32 frag_id;        /* the datagram's identification (fragments only) */
	__be16 sport;
	__be16 dport;
	__be32 saddr4;
	__be32 daddr4;
	struct in6_addr saddr6;
	struct in6_addr daddr6;
};
_Static_assert(__builtin_offsetof(struct pw_packet, saddr6) % 8 == 0 && __builtin_offsetof(struct pw_packet, daddr6) % 8 == 0,
	       "pw_packet: IPv6 addresses on 64-bit words");

/* The packet's addresses into 16-byte fields (IPv4 in the first 4 bytes, the rest zero), as
 * the records user space reads hold them. Nothing for a packet that is not IP. */
static __always_inline void pw_packet_addrs(const struct pw_packet *pkt, __u8 *src, __u8 *dst)
{
	if (pkt->family == 4) {
		__builtin_memset(src, 0, 16);
		__builtin_memset(dst, 0, 16);
		__builtin_memcpy(src, &pkt->saddr4, 4);
		__builtin_memcpy(dst, &pkt->daddr4, 4);
	} else if (pkt->family == 6) {
		__builtin_memcpy(src, &pkt->saddr6, 16);
		__builtin_memcpy(dst, &pkt->daddr6, 16);
	}
}

static __always_inline enum pw_reason pw_parse_eth(struct pw_cursor *c, struct pw_packet *pkt)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return PW_REASON_TRUNCATED_ETH;
	pkt->l3_proto = bpf_ntohs(eth->h_proto);
	c->pos = eth + 1;

	/* Bounded loop over at most two tags; a third is refused rather than parsed. */
#pragma unroll
	for (int i = 0; i < PW_MAX_VLANS; i++) {
		struct vlan_hdr *vh = c->pos;

		if (pkt->l3_proto != PW_ETH_P_8021Q && pkt->l3_proto != PW_ETH_P_8021AD)
			break;
		if (i + pkt->vlan_count >= PW_MAX_VLANS) /* a tag taken out of the packet counts too */
			break;
		if ((void *)(vh + 1) > c->end)
			return PW_REASON_TRUNCATED_VLAN;
		pkt->vlan = bpf_ntohs(vh->h_vlan_TCI) & 0x0fff;
		pkt->vlan_count++;
		pkt->l3_proto = bpf_ntohs(vh->h_vlan_encapsulated_proto);
		c->pos = vh + 1;
	}
	if (pkt->l3_proto == PW_ETH_P_8021Q || pkt->l3_proto == PW_ETH_P_8021AD)
		return PW_REASON_TOO_MANY_VLANS;
	return PW_REASON_NONE;
}

/* TCP and UDP need their header to be classified; other protocols carry no field the rules match. */
static __always_inline int pw_has_l4_fields(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* Ports and flags of the L4 header at c->pos (only called when the packet carries one). Both
 * bounds are checked: the frame's, for the verifier, and the IP packet's, for the meaning. */
static __always_inline enum pw_reason pw_parse_l4(struct pw_cursor *c, struct pw_packet *pkt)
{
	if (!pw_has_l4_fields(pkt->proto))
		pkt->l4_known = 1; /* even if its own header is cut short: the rules match nothing in it */
	if (pkt->proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;

		if ((void *)(th + 1) > c->end || (void *)(th + 1) > c->ip_end)
			return PW_REASON_TRUNCATED_L4;
		pkt->sport = th->source;
		pkt->dport = th->dest;
		/* The flags byte follows the data-offset byte (offset 13). */
		pkt->tcp_flags = ((__u8 *)th)[13];
		pkt->has_ports = 1;
		pkt->l4_off = (void *)th - c->start;
	} else if (pkt->proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if ((void *)(uh + 1) > c->end || (void *)(uh + 1) > c->ip_end)
			return PW_REASON_TRUNCATED_L4;
		pkt->sport = uh->source;
		pkt->dport = uh->dest;
		pkt->has_ports = 1;
		pkt->l4_off = (void *)uh - c->start;
	} else if (pkt->proto == IPPROTO_ICMP || pkt->proto == PW_IPPROTO_ICMPV6) {
		__u8 *icmp = c->pos;

		if ((void *)(icmp + 4) > c->end || (void *)(icmp + 4) > c->ip_end)
			return PW_REASON_TRUNCATED_L4;
		pkt->icmp_type = icmp[0];
		pkt->l4_off = (void *)icmp - c->start;
	}
	pkt->l4_known = 1;
	return PW_REASON_NONE;
}

static __always_inline enum pw_reason pw_parse_ipv4(struct pw_cursor *c, struct pw_packet *pkt)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot;
	__u16 frag;
	enum pw_reason r;

	if ((void *)(iph + 1) > c->end)
		return PW_REASON_TRUNCATED_IP;
	if (iph->version != 4 || iph->ihl < 5)
		return PW_REASON_BAD_IP_HEADER;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen)
		return PW_REASON_BAD_IP_HEADER;
	/* The frame may carry Ethernet padding beyond tot_len, but never less than tot_len. */
	if ((__u32)(c->pos - c->start) + tot > c->frame_len)
		return PW_REASON_TRUNCATED_IP;
	if (c->pos + hlen > c->end) /* options, bounded by ihl <= 15 */
		return PW_REASON_TRUNCATED_IP;

	pkt->family = 4;
	pkt->ip_len = tot;
	pkt->proto = iph->protocol;
	pkt->ttl = iph->ttl;
	pkt->saddr4 = iph->saddr;
	pkt->daddr4 = iph->daddr;
	c->ip_end = c->pos + tot;
	frag = bpf_ntohs(iph->frag_off);
	if (frag & (PW_IP_MF | PW_IP_OFFSET)) {
		pkt->fragment = 1;
		pkt->frag_id = bpf_ntohs(iph->id);
		if (frag & PW_IP_OFFSET) {
			/* A later fragment carries no transport header. One at offset 8 of a TCP datagram
			 * can only be there to overwrite the first fragment's flags (RFC 1858). */
			pkt->frag_later = 1;
			pkt->l4_known = !pw_has_l4_fields(pkt->proto);
			if (pkt->proto == IPPROTO_TCP && (frag & PW_IP_OFFSET) == 1)
				return PW_REASON_FRAG_ATTACK;
			return PW_REASON_NONE;
		}
		pkt->frag_first = 1;
	}
	c->pos += hlen;
	r = pw_parse_l4(c, pkt);
	/* A first fragment too short for the transport header leaves its ports or flags to a
	 * later fragment, where no rule sees them (RFC 1858's tiny fragments). */
	if (r == PW_REASON_TRUNCATED_L4 && pkt->frag_first)
		return PW_REASON_FRAG_ATTACK;
	return r;
}

static __always_inline int pw_ipv6_is_ext(__u8 next)
{
	return next == PW_IPV6_HOP || next == PW_IPV6_ROUTING || next == PW_IPV6_DSTOPTS || next == PW_IPV6_FRAGMENT;
}

static __always_inline enum pw_reason pw_parse_ipv6(struct pw_cursor *c, struct pw_packet *pkt)
{
	struct ipv6hdr *ip6 = c->pos;
	enum pw_reason r;
	__u8 next;

	if ((void *)(ip6 + 1) > c->end)
		return PW_REASON_TRUNCATED_IP;
	if (ip6->version != 6)
		return PW_REASON_BAD_IP_HEADER;
	if ((__u32)((void *)(ip6 + 1) - c->start) + bpf_ntohs(ip6->payload_len) > c->frame_len)
		return PW_REASON_TRUNCATED_IP;
	pkt->family = 6;
	pkt->ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	pkt->ttl = ip6->hop_limit;
	pkt->saddr6 = ip6->saddr;
	pkt->daddr6 = ip6->daddr;
	next = ip6->nexthdr;
	c->pos = ip6 + 1;
	c->ip_end = c->pos + bpf_ntohs(ip6->payload_len);

	/* A bounded walk over extension headers; a chain longer than PW_MAX_EXT_HDRS is not
	 * walked (the packet cannot be classified on ports). A first fragment must hold the whole
	 * chain and the transport header (RFC 7112); one that does not is dropped. */
#pragma unroll
	for (int i = 0; i < PW_MAX_EXT_HDRS + 1; i++) { /* the headers, then what follows them */
		if (i == PW_MAX_EXT_HDRS && pw_ipv6_is_ext(next))
			break;
		if (next == PW_IPV6_HOP || next == PW_IPV6_ROUTING || next == PW_IPV6_DSTOPTS) {
			struct ipv6_opt_hdr *opt = c->pos;

			if ((void *)(opt + 1) > c->end || (void *)(opt + 1) > c->ip_end)
				return pkt->frag_first ? PW_REASON_FRAG_ATTACK : PW_REASON_TRUNCATED_IP;
			next = opt->nexthdr;
			c->pos += (opt->hdrlen + 1) * 8;
			/* A header that runs past the packet is one the kernel drops: never routed. */
			if (c->pos > c->ip_end)
				return pkt->frag_first ? PW_REASON_FRAG_ATTACK : PW_REASON_TRUNCATED_IP;
		} else if (next == PW_IPV6_FRAGMENT) {
			struct frag_hdr *fh = c->pos;

			if ((void *)(fh + 1) > c->end || (void *)(fh + 1) > c->ip_end)
				return PW_REASON_TRUNCATED_IP;
			next = fh->nexthdr;
			pkt->fragment = 1;
			pkt->frag_id = bpf_ntohl(fh->identification);
			if (fh->frag_off & bpf_htons(PW_IPV6_FRAG_OFFSET)) {
				/* A later fragment: no transport header, and `next` may be an extension
				 * header of the fragmentable part, hiding the transport protocol. */
				pkt->proto = next;
				pkt->frag_later = 1;
				pkt->l4_known = !pw_has_l4_fields(next) && !pw_ipv6_is_ext(next);
				return PW_REASON_NONE;
			}
			pkt->frag_first = 1;
			c->pos = fh + 1;
		} else {
			pkt->proto = next;
			if (next == PW_IPV6_NONXT) {
				pkt->l4_known = 1;
				return PW_REASON_NONE;
			}
			r = pw_parse_l4(c, pkt);
			if (r == PW_REASON_TRUNCATED_L4 && pkt->frag_first)
				return PW_REASON_FRAG_ATTACK;
			return r;
		}
	}
	return pkt->frag_first ? PW_REASON_FRAG_ATTACK : PW_REASON_TOO_MANY_EXT_HDRS;
}

static __always_inline enum pw_reason pw_parse(PW_CTX *ctx, struct pw_packet *pkt)
{
	struct pw_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
		.ip_end = (void *)(long)ctx->data_end,
		.start = (void *)(long)ctx->data,
	};
	__u32 vlan = pw_ctx_vlan(ctx);
	enum pw_reason r;

	pkt->len = pw_ctx_len(ctx);
	pkt->segs = pw_ctx_segs(ctx);
	c.frame_len = pkt->len;
	if (vlan) {
		pkt->vlan = vlan & 0x0fff;
		pkt->vlan_count = 1;
	}
	r = pw_parse_eth(&c, pkt);
	if (r != PW_REASON_NONE)
		return r;
	pkt->l3_off = c.pos - (void *)(long)ctx->data;
	if (pkt->l3_proto == PW_ETH_P_IP)
		return pw_parse_ipv4(&c, pkt);
	if (pkt->l3_proto == PW_ETH_P_IPV6)
		return pw_parse_ipv6(&c, pkt);
	return PW_REASON_NOT_IP;
}

#endif /* PATHWISE_PARSE_H */
