/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsers on a bounds-checked cursor. Every access is preceded by a check against
 * data_end right next to it: the verifier tracks packet pointers per access, and a check
 * separated from its use (or hidden behind a non-inlined call) is rejected.
 */
#ifndef PATHWISE_PARSE_H
#define PATHWISE_PARSE_H

#include "pathwise/abi.h"

#define PW_MAX_VLANS 2 /* 802.1ad outer + 802.1Q inner */

#ifndef ETH_P_IP
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#endif

struct pw_cursor {
	void *pos;
	void *end;
};

/* What the parse stage learned about a packet; lives on the stack of the pipeline. */
struct pw_packet {
	__u16 l3_proto;  /* host order ETH_P_* after VLAN tags */
	__u16 vlan_ids[PW_MAX_VLANS];
	__u8 vlan_count;
	__u8 l4_proto;
	__u16 l3_off;    /* offset of the IP header from the start of the frame */
};

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

		if (pkt->l3_proto != ETH_P_8021Q && pkt->l3_proto != ETH_P_8021AD)
			break;
		if ((void *)(vh + 1) > c->end)
			return PW_REASON_TRUNCATED_VLAN;
		pkt->vlan_ids[i] = bpf_ntohs(vh->h_vlan_TCI) & 0x0fff;
		pkt->vlan_count++;
		pkt->l3_proto = bpf_ntohs(vh->h_vlan_encapsulated_proto);
		c->pos = vh + 1;
	}
	if (pkt->l3_proto == ETH_P_8021Q || pkt->l3_proto == ETH_P_8021AD)
		return PW_REASON_TOO_MANY_VLANS;
	return PW_REASON_NONE;
}

static __always_inline enum pw_reason pw_parse(struct xdp_md *ctx, struct pw_packet *pkt)
{
	struct pw_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	enum pw_reason r = pw_parse_eth(&c, pkt);

	if (r != PW_REASON_NONE)
		return r;
	pkt->l3_off = c.pos - (void *)(long)ctx->data;
	if (pkt->l3_proto != ETH_P_IP && pkt->l3_proto != ETH_P_IPV6)
		return PW_REASON_NOT_IP;
	return PW_REASON_NONE;
}

#endif /* PATHWISE_PARSE_H */
