/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The insight stage: packet events (rule log, 1-in-N samples, drops) and captured packets,
 * each through its own BPF ring buffer, and the size/protocol histograms. What a full ring
 * could not take is counted in pw_ring_stats.
 *
 * Capture filters are tcpdump expressions: user space compiles them with libpcap and translates
 * the classic BPF to an XDP program of its own, put in pw_capture_progs[FILTER] (and to a TC
 * one in pw_tc_capture_progs, for the TC pipeline). When a capture runs, the pipeline marks the
 * packet pending in a per-CPU scratch and tail-calls the filter; the filter writes its answer
 * there and tail-calls back into the pipeline ([PIPELINE] is pw_xdp or pw_tc itself), which now
 * finds the answer and goes on. The packet is the same on both passes: nothing before the
 * filter changes it.
 */
#ifndef PATHWISE_INSIGHT_BPF_H
#define PATHWISE_INSIGHT_BPF_H

#include "pathwise/abi.h"
#include "pathwise/maps/insight.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/ring.bpf.h"
#include "pathwise/route.bpf.h"

/* The filter's program array: the XDP or the TC one, as the pipeline is built. */
#ifdef PW_TC
#define PW_CAPTURE_PROGS pw_tc_capture_progs
#else
#define PW_CAPTURE_PROGS pw_capture_progs
#endif

static __always_inline struct pw_ring_counters *pw_ring_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pw_ring_stats, &zero);
}


/* The fixed part of an event, before the packet's head. */
#define PW_EVENT_HEAD ((__u32)__builtin_offsetof(struct pw_event, head))

/*
 * Reserves an event with room for `cap` bytes of the packet (a constant at each call site, so
 * the verifier knows the load stays inside it), fills it and submits it. Events come in three
 * sizes rather than one of PW_EVENT_BYTES: a small packet's event is then two cache lines the
 * consumer's CPU takes over, not five. Returns 0, or -1 when the ring is full.
 */
static __always_inline int pw_emit_event_cap(PW_CTX *ctx, const struct pw_packet *pkt, const struct pw_decision *d,
					     __u32 rule, enum pw_event_kind kind, __u32 copy, const __u32 cap)
{
	struct pw_event *e = bpf_ringbuf_reserve(&pw_events, PW_EVENT_HEAD + cap, 0);

	if (!e)
		return -1;
	e->ts_ns = bpf_ktime_get_ns();
	e->ifindex = ctx->ingress_ifindex;
	e->len = pkt->len;
	e->rule = rule;
	e->route = d->route;
	e->verdict = d->verdict;
	e->reason = d->reason;
	e->kind = kind;
	e->_pad0 = 0;
	e->egress_ifindex = d->verdict == PW_VERDICT_REDIRECT ? d->egress : 0;
	__builtin_memset(e->head, 0, cap);
	if (copy > cap)
		copy = cap;
	if (copy > 0)
		pw_ctx_load_bytes(ctx, 0, e->head, copy);
	bpf_ringbuf_submit(e, pw_ring_wake_flags(&pw_events, PW_EVENT_HEAD + cap));
	return 0;
}

static __always_inline void pw_emit_event(PW_CTX *ctx, const struct pw_packet *pkt, const struct pw_decision *d,
					  __u32 rule, enum pw_event_kind kind)
{
	struct pw_ring_counters *rc = pw_ring_counters();
	/* 32-bit, as the helper's length argument: with ALU32 code (-mcpu=v3), clang tests a
	 * 64-bit length but passes its low half, whose lower bound the verifier then loses. */
	__u32 copy = ctx->data_end - ctx->data;
	int err;

	if (copy <= PW_EVENT_BYTES / 4)
		err = pw_emit_event_cap(ctx, pkt, d, rule, kind, copy, PW_EVENT_BYTES / 4);
	else if (copy <= PW_EVENT_BYTES / 2)
		err = pw_emit_event_cap(ctx, pkt, d, rule, kind, copy, PW_EVENT_BYTES / 2);
	else
		err = pw_emit_event_cap(ctx, pkt, d, rule, kind, copy, PW_EVENT_BYTES);
	if (!rc)
		return;
	if (err)
		rc->events_lost++;
	else
		rc->events_sent++;
}

static __always_inline void pw_emit_capture(PW_CTX *ctx, __u32 snap, enum pw_capture_point point,
					    const struct pw_decision *d)
{
	struct pw_ring_counters *rc = pw_ring_counters();
	struct pw_capture_record *r = bpf_ringbuf_reserve(&pw_capture, sizeof(*r), 0);
	/* The whole length, fragments of a multi-buffer frame included (bpf_xdp_load_bytes
	 * reads across them too). */
	__u64 len = pw_ctx_buff_len(ctx);
	__u32 copy = len < snap ? len : snap; /* 32-bit: see pw_emit_event */

	if (!r) {
		if (rc)
			rc->capture_lost++;
		return;
	}
	if (copy > PW_CAPTURE_BYTES)
		copy = PW_CAPTURE_BYTES;
	r->ts_ns = bpf_ktime_get_ns();
	r->ifindex = ctx->ingress_ifindex;
	r->len = len;
	r->caplen = copy;
	r->point = point;
	r->rule = d ? d->rule : 0;
	r->route = d ? d->route : 0;
	r->egress_ifindex = d && d->verdict == PW_VERDICT_REDIRECT ? d->egress : 0;
	r->verdict = d ? d->verdict : 0;
	r->reason = d ? d->reason : 0;
	__builtin_memset(r->_pad0, 0, sizeof(r->_pad0));
	/* Only the copied bytes are written: the reader takes caplen of them. */
	if (copy > 0)
		pw_ctx_load_bytes(ctx, 0, r->data, copy);
	bpf_ringbuf_submit(r, pw_ring_wake_flags(&pw_capture, sizeof(*r)));
	if (rc)
		rc->capture_sent++;
}

/*
 * At ingress, when a capture runs: asks the filter (a tail call that comes back into the
 * pipeline with the answer) and records a match at once, or returns the snap length to capture
 * at the verdict. 0: nothing to capture. Only the live entry point captures.
 */
static __always_inline __u32 pw_capture_ingress(PW_CTX *ctx)
{
	__u32 zero = 0, match;
	const struct pw_capture_ctl *cc = bpf_map_lookup_elem(&pw_capture_ctl, &zero);
	struct pw_capture_scratch *sc;

	if (!cc || !cc->active)
		return 0;
	if (cc->ifindex && cc->ifindex != ctx->ingress_ifindex)
		return 0;
	sc = bpf_map_lookup_elem(&pw_capture_scratch, &zero);
	if (!sc)
		return 0;
	if (sc->state == PW_CAPTURE_STATE_IDLE) {
		sc->state = PW_CAPTURE_STATE_PENDING;
		bpf_tail_call(ctx, &PW_CAPTURE_PROGS, PW_CAPTURE_SLOT_FILTER);
		/* No filter in place (or it failed): no match. */
		sc->state = PW_CAPTURE_STATE_IDLE;
		return 0;
	}
	/* Back from the filter. PENDING here means it never answered: no match. */
	match = sc->state == PW_CAPTURE_STATE_DONE && sc->match;
	sc->state = PW_CAPTURE_STATE_IDLE;
	if (!match)
		return 0;
	if (cc->point == PW_CAPTURE_VERDICT)
		return cc->snap ? cc->snap : 1;
	pw_emit_capture(ctx, cc->snap, PW_CAPTURE_INGRESS, 0);
	return 0;
}

/* At the verdict: the capture left for now, then at most one event: the rule log, the drop,
 * or the 1-in-N sample (those two only when `events`: pw_events_ctl may ask for them). */
static __always_inline void pw_insight_verdict(PW_CTX *ctx, __u32 capture_snap, const struct pw_packet *pkt,
					       const struct pw_decision *d, int events)
{
	__u32 zero = 0;
	const struct pw_events_ctl *ec;

	if (capture_snap)
		pw_emit_capture(ctx, capture_snap, PW_CAPTURE_VERDICT, d);
	if (d->log_rule) {
		pw_emit_event(ctx, pkt, d, d->log_rule, PW_EVENT_RULE_LOG);
		return;
	}
	if (!events)
		return;
	ec = bpf_map_lookup_elem(&pw_events_ctl, &zero);
	if (!ec)
		return;
	if (d->verdict == PW_VERDICT_DROP && ec->drops)
		pw_emit_event(ctx, pkt, d, d->rule, PW_EVENT_DROP);
	else if (ec->sample_rate && bpf_get_prandom_u32() % ec->sample_rate == 0)
		pw_emit_event(ctx, pkt, d, d->rule, PW_EVENT_SAMPLE);
}

static __always_inline __u32 pw_size_bucket(__u32 len)
{
	if (len <= 64)
		return 0;
	if (len <= 128)
		return 1;
	if (len <= 256)
		return 2;
	if (len <= 512)
		return 3;
	if (len <= 1024)
		return 4;
	if (len <= 1518)
		return 5;
	if (len <= 9018)
		return 6;
	return 7;
}

static __always_inline void pw_account_histogram(const struct pw_packet *pkt)
{
	__u32 zero = 0;
	struct pw_histogram *h;

	if (!pkt->family)
		return;
	h = bpf_map_lookup_elem(&pw_histogram, &zero);
	if (!h)
		return;
	h->size[pw_size_bucket(pkt->len) & (PW_SIZE_BUCKETS - 1)]++;
	h->proto[pkt->proto]++;
}

#endif /* PATHWISE_INSIGHT_BPF_H */
