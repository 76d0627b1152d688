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
#include "pathwise/ring.bpf.h"
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

/* The fixed part of a record, before its data. */
#define PW_HTTP_HEAD ((__u32)__builtin_offsetof(struct pw_http_segment, data))

/*
 * Reserves a record with room for `cap` bytes of payload (a constant at each call site, so the
 * verifier knows the load below stays inside it), fills it and submits it. Records come in a
 * few sizes rather than one of PW_HTTP_BYTES: most heads are a few hundred bytes, and what the
 * ring carries (and user space copies) is then what the segments hold. Returns 0, or -1 when
 * the ring is full.
 */
static __always_inline int pw_http_emit(PW_CTX *ctx, const struct pw_packet *pkt, const struct pw_decision *d,
					const struct tcphdr *th, __u32 payload, __u32 copy, __u32 data_off, const __u32 cap)
{
	struct pw_http_segment *r = bpf_ringbuf_reserve(&pw_http, PW_HTTP_HEAD + cap, 0);

	if (!r)
		return -1;
	if (copy > cap)
		copy = cap;
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
	if (cap && copy > 0 && pw_ctx_load_bytes(ctx, data_off, r->data, copy))
		copy = 0;
	r->caplen = copy;
	bpf_ringbuf_submit(r, pw_ring_wake_flags(&pw_http, PW_HTTP_HEAD + cap));
	return 0;
}

PW_STAGE int pw_http_stage(PW_CTX *ctx, const struct pw_packet *pkt, const struct pw_decision *d, __u32 snap)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct pw_http_counters *hc;
	struct tcphdr *th;
	__u32 zero = 0, hlen, iphl, payload, copy, off;
	__u16 l3, l4;
	int rc;

	if (!pkt || !d)
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

	/* 32-bit, as the helper's length argument (see pw_emit_event). */
	copy = payload < snap ? payload : snap;
	off = l4 + hlen;
	if (!copy)
		rc = pw_http_emit(ctx, pkt, d, th, payload, 0, off, 0);
	else if (copy <= 128)
		rc = pw_http_emit(ctx, pkt, d, th, payload, copy, off, 128);
	else if (copy <= 256)
		rc = pw_http_emit(ctx, pkt, d, th, payload, copy, off, 256);
	else if (copy <= 512)
		rc = pw_http_emit(ctx, pkt, d, th, payload, copy, off, 512);
	else
		rc = pw_http_emit(ctx, pkt, d, th, payload, copy, off, PW_HTTP_BYTES);
	hc = bpf_map_lookup_elem(&pw_http_stats, &zero);
	if (hc) {
		if (rc)
			hc->segments_lost++;
		else
			hc->segments_sent++;
	}
	return 0;
}

/*
 * The stage's switch and port test, inline: a packet that is not TCP pays one comparison, a
 * TCP packet one array lookup while HTTP insight is off; the stage itself is called only for a
 * segment of a monitored port.
 */
static __always_inline void pw_http_packet(PW_CTX *ctx, const struct pw_packet *pkt, const struct pw_decision *d)
{
	__u32 zero = 0;
	const struct pw_http_ctl *ctl;

	if (pkt->proto != IPPROTO_TCP || !pkt->has_ports || d->verdict == PW_VERDICT_DROP)
		return;
	ctl = bpf_map_lookup_elem(&pw_http_ctl, &zero);
	if (!ctl || !ctl->enabled)
		return;
	if (!ctl->all_ports && !pw_http_port_monitored(bpf_ntohs(pkt->dport)) && !pw_http_port_monitored(bpf_ntohs(pkt->sport)))
		return;
	pw_http_stage(ctx, pkt, d, ctl->snap);
}

#endif /* PATHWISE_HTTP_BPF_H */
