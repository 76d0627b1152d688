/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The HTTP stage: the head of every TCP segment of a monitored port goes to user space in the
 * ring pw_http (see struct pw_http_segment in abi.h for why parsing is not done here). Pure
 * ACKs carry nothing and are skipped; SYN, FIN and RST are sent without payload, since they
 * begin and end the streams user space follows. Packets the pipeline drops never reached the
 * server and are not sent.
 */
#ifndef PATHWISE_HTTP_BPF_H
#define PATHWISE_HTTP_BPF_H

#include "pathwise/abi.h"
#include "pathwise/maps/http.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/route.bpf.h"
#include "pathwise/stage.bpf.h"

/* Offsets are masked for the verifier: the parser bounds them far lower (Ethernet, two VLAN
 * tags and an IPv6 header chain). */
#define PW_HTTP_OFF_MASK 0x3ff

static __always_inline int pw_http_port_monitored(__u16 port)
{
	__u32 word = port >> 6;
	const __u64 *bits = bpf_map_lookup_elem(&pw_http_ports, &word);

	return bits && (*bits >> (port & 63)) & 1;
}

PW_STAGE int pw_http_stage(struct xdp_md *ctx, const struct pw_packet *pkt, const struct pw_decision *d, __u32 snap,
			   __u32 all_ports)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct pw_http_counters *hc;
	struct pw_http_segment *r;
	struct tcphdr *th;
	__u32 zero = 0, hlen, iphl, payload, copy;
	__u16 l3, l4;

	if (!pkt || !d || pkt->proto != IPPROTO_TCP || !pkt->has_ports)
		return 0;
	if (!all_ports && !pw_http_port_monitored(bpf_ntohs(pkt->dport)) && !pw_http_port_monitored(bpf_ntohs(pkt->sport)))
		return 0;
	l3 = pkt->l3_off & PW_HTTP_OFF_MASK;
	l4 = pkt->l4_off & PW_HTTP_OFF_MASK;
	th = data + l4;
	if ((void *)(th + 1) > end || l4 <= l3)
		return 0;
	hlen = th->doff * 4;
	iphl = l4 - l3;
	if (hlen < sizeof(*th) || pkt->ip_len < iphl + hlen)
		return 0; /* malformed: the parser passed it on unrouted, nothing to follow */
	payload = pkt->ip_len - iphl - hlen;
	if (!payload && !(pkt->tcp_flags & (PW_TCP_SYN | PW_TCP_FIN | PW_TCP_RST)))
		return 0;

	hc = bpf_map_lookup_elem(&pw_http_stats, &zero);
	r = bpf_ringbuf_reserve(&pw_http, sizeof(*r), 0);
	if (!r) {
		if (hc)
			hc->segments_lost++;
		return 0;
	}
	/* 32-bit, as the helper's length argument (see pw_emit_event). */
	copy = payload < snap ? payload : snap;
	if (copy > PW_HTTP_BYTES)
		copy = PW_HTTP_BYTES;
	r->ts_ns = bpf_ktime_get_ns();
	r->seq = bpf_ntohl(th->seq);
	r->ack = bpf_ntohl(th->ack_seq);
	r->payload_len = payload;
	r->family = pkt->family;
	r->tcp_flags = pkt->tcp_flags;
	r->sport = pkt->sport;
	r->dport = pkt->dport;
	r->vlan = pkt->vlan;
	r->verdict = d->verdict;
	r->_pad0 = 0;
	r->ifindex = ctx->ingress_ifindex;
	r->_pad1 = 0;
	pw_packet_addrs(pkt, r->src, r->dst); /* TCP: always IPv4 or IPv6 */
	/* What the load cannot read (a frame shorter than its IP length says) is not claimed. */
	if (copy > 0 && bpf_xdp_load_bytes(ctx, l4 + hlen, r->data, copy))
		copy = 0;
	r->caplen = copy;
	bpf_ringbuf_submit(r, 0);
	if (hc)
		hc->segments_sent++;
	return 0;
}

/* The stage's switch, looked up inline: one array lookup while HTTP insight is off. */
static __always_inline void pw_http_packet(struct xdp_md *ctx, const struct pw_packet *pkt, const struct pw_decision *d)
{
	__u32 zero = 0;
	const struct pw_http_ctl *ctl = bpf_map_lookup_elem(&pw_http_ctl, &zero);

	if (!ctl || !ctl->enabled || d->verdict == PW_VERDICT_DROP)
		return;
	pw_http_stage(ctx, pkt, d, ctl->snap, ctl->all_ports);
}

#endif /* PATHWISE_HTTP_BPF_H */
