/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guard stage: blocklists, then the ordered filter rules, whose rate-limit action hands
 * a packet to a per-source token bucket that can escalate to a temporary block.
 *
 * Rules are classified with a linear bit-vector search (bpf-iptables' LBVS): each field value
 * a packet carries (source and destination CIDR, protocol, ports, TCP flags, ingress
 * interface) maps to the set of rules it satisfies, as a bitmap with one bit per rule; the
 * rules a packet matches are the AND of its seven bitmaps, and the lowest set bit is the
 * highest-priority one. A 256-bit summary per bitmap (bit w: word w is non-zero) lets the
 * search visit only words where every field has a candidate, so the cost depends on how many
 * rules a packet is near, not on how many rules there are.
 */
#ifndef PATHWISE_GUARD_BPF_H
#define PATHWISE_GUARD_BPF_H

#include "pathwise/abi.h"
#include "pathwise/maps/guard.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/route.bpf.h"
#include "pathwise/stage.bpf.h"

#define PW_NSEC_PER_SEC 1000000000ULL
#define PW_FIELDS 7

/* Index of the lowest set bit (x != 0): the population count of the bits below it. BPF has no
 * count-trailing-zeros instruction; a lookup table would be a static in .rodata, whose BTF
 * offset libbpf 1.1 leaves unresolved (the kernel then refuses the object's BTF); and a
 * branchy version multiplies the verifier's states. This is straight-line arithmetic. */
static __always_inline __u32 pw_ctz64(__u64 x)
{
	__u64 y = (x & -x) - 1;

	y = y - ((y >> 1) & 0x5555555555555555ULL);
	y = (y & 0x3333333333333333ULL) + ((y >> 2) & 0x3333333333333333ULL);
	y = (y + (y >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (y * 0x0101010101010101ULL) >> 56;
}

/* The classifier's walk over the rules a packet matches, step by step (bpf_loop callback). */
struct pw_rule_walk {
	struct pw_rule_bitmap *bm[PW_FIELDS];
	__u64 pending;   /* summary bits not yet visited in summary word `sword` */
	__u64 match;     /* matching rule bits not yet returned in word `word` */
	__u32 sword;
	__u32 word;
	__s32 found;     /* the next matching rule's position, -1 when none is left */
	__u32 started;
};

static __always_inline __u64 pw_and_summary(struct pw_rule_walk *w, __u32 i)
{
	__u64 s = ~0ULL;

	/* clang considers the mask redundant (the caller bounds i) and drops it; the verifier
	 * can't follow that reasoning through the callback's stack, so keep it. */
	barrier_var(i);
	i &= PW_RULE_SUMMARY - 1;
#pragma unroll
	for (int f = 0; f < PW_FIELDS; f++)
		s &= w->bm[f]->summary[i];
	return s;
}

static __always_inline __u64 pw_and_word(struct pw_rule_walk *w, __u32 i)
{
	__u64 m = ~0ULL;

	barrier_var(i); /* keep the mask: see pw_and_summary */
	i &= PW_RULE_WORDS - 1;
#pragma unroll
	for (int f = 0; f < PW_FIELDS; f++)
		m &= w->bm[f]->words[i];
	return m;
}

static long pw_rule_walk_step(__u32 i, void *ctx)
{
	struct pw_rule_walk *w = ctx;

	if (!w->started) {
		w->started = 1;
		w->sword = 0;
		w->pending = pw_and_summary(w, 0);
	}
	if (w->match) {
		__u32 bit = pw_ctz64(w->match);

		w->match &= w->match - 1;
		w->found = (__s32)(w->word * 64 + bit);
		return 1; /* stop: a rule */
	}
	if (w->pending) {
		__u32 bit = pw_ctz64(w->pending);

		w->pending &= w->pending - 1;
		w->word = w->sword * 64 + bit;
		w->match = pw_and_word(w, w->word);
		return 0;
	}
	if (w->sword + 1 >= PW_RULE_SUMMARY) {
		w->found = -1;
		return 1; /* stop: no more rules */
	}
	w->sword++;
	w->pending = pw_and_summary(w, w->sword);
	return 0;
}

/* Steps one walk can take: every summary word, every rule word, and one more to return. */
#define PW_WALK_STEPS (PW_RULE_SUMMARY + PW_RULE_WORDS + 1)

static __always_inline __s32 pw_next_rule(struct pw_rule_walk *w)
{
	w->found = -1;
	bpf_loop(PW_WALK_STEPS, pw_rule_walk_step, w, 0);
	return w->found;
}

static __always_inline struct pw_rule_bitmap *pw_bitmap_of(void *map, __u32 index)
{
	__u32 *id = bpf_map_lookup_elem(map, &index);

	if (!id)
		return NULL;
	return bpf_map_lookup_elem(&pw_rule_bitmaps, id);
}

static __always_inline struct pw_rule_bitmap *pw_cidr_bitmap(void *map4, void *map6, __u32 bank,
							     const struct pw_packet *pkt, int src)
{
	__u32 *id;

	if (pkt->family == 4) {
		struct pw_rule_lpm4_key k = { .prefixlen = 8 + 32, .bank = bank };

		__builtin_memcpy(k.addr, src ? &pkt->saddr4 : &pkt->daddr4, 4);
		id = bpf_map_lookup_elem(map4, &k);
	} else {
		struct pw_rule_lpm6_key k = { .prefixlen = 8 + 128, .bank = bank };

		__builtin_memcpy(k.addr, src ? &pkt->saddr6 : &pkt->daddr6, 16);
		id = bpf_map_lookup_elem(map6, &k);
	}
	return id ? bpf_map_lookup_elem(&pw_rule_bitmaps, id) : NULL;
}

/* The interface field: a small ifindex indexes the bank's slots (slot 0: the rules that name
 * no interface); a large one is looked up in the hash, falling back to slot 0. */
static __always_inline struct pw_rule_bitmap *pw_iface_bitmap(__u32 bank, __u32 ifindex)
{
	struct pw_rule_iface_key k = { .bank = bank, .ifindex = ifindex };
	__u32 *id;

	if (ifindex < PW_IF_DIRECT)
		return pw_bitmap_of(&pw_rule_iface, bank * PW_IF_DIRECT + ifindex);
	id = bpf_map_lookup_elem(&pw_rule_iface_hi, &k);
	if (id)
		return bpf_map_lookup_elem(&pw_rule_bitmaps, id);
	return pw_bitmap_of(&pw_rule_iface, bank * PW_IF_DIRECT);
}

/* The seven field bitmaps of a packet; false if the tables are incomplete (never for a bank
 * the control plane has published: every field has a catch-all entry). */
static __always_inline int pw_rule_walk_init(struct pw_rule_walk *w, struct xdp_md *ctx, const struct pw_packet *pkt,
					     __u32 bank)
{
	__u32 sport = PW_PORT_SLOTS - 1, dport = PW_PORT_SLOTS - 1, flags = PW_FLAG_SLOTS - 1;

	if (pkt->has_ports) { /* TCP/UDP with an L4 header (not a non-first fragment) */
		sport = bpf_ntohs(pkt->sport);
		dport = bpf_ntohs(pkt->dport);
	}
	if (pkt->proto == IPPROTO_TCP && pkt->has_ports)
		flags = pkt->tcp_flags;

	w->bm[0] = pw_cidr_bitmap(&pw_rule_src4, &pw_rule_src6, bank, pkt, 1);
	w->bm[1] = pw_cidr_bitmap(&pw_rule_dst4, &pw_rule_dst6, bank, pkt, 0);
	w->bm[2] = pw_bitmap_of(&pw_rule_proto, bank * 256 + pkt->proto);
	w->bm[3] = pw_bitmap_of(&pw_rule_sport, bank * PW_PORT_SLOTS + sport);
	w->bm[4] = pw_bitmap_of(&pw_rule_dport, bank * PW_PORT_SLOTS + dport);
	w->bm[5] = pw_bitmap_of(&pw_rule_flags, bank * PW_FLAG_SLOTS + flags);
	w->bm[6] = pw_iface_bitmap(bank, ctx->ingress_ifindex);
#pragma unroll
	for (int f = 0; f < PW_FIELDS; f++)
		if (!w->bm[f])
			return 0;
	w->pending = 0;
	w->match = 0;
	w->sword = 0;
	w->word = 0;
	w->started = 0;
	return 1;
}

/* The source a limiter counts: the packet's source masked to the limiter's prefix length. */
static __always_inline void pw_ratelimit_key(struct pw_ratelimit_key *k, const struct pw_ratelimit *lim, __u32 limiter,
					     const struct pw_packet *pkt)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->limiter = limiter;
	k->family = pkt->family;
	if (pkt->family == 4) {
		__u32 plen = lim->plen4 > 32 ? 32 : lim->plen4;
		__u32 mask = plen ? ~0U << (32 - plen) : 0;
		__be32 a = bpf_htonl(bpf_ntohl(pkt->saddr4) & mask);

		__builtin_memcpy(k->addr, &a, 4);
	} else {
		__u32 plen = lim->plen6 > 128 ? 128 : lim->plen6;

#pragma unroll
		for (int i = 0; i < 16; i++) {
			__u32 bits = plen > i * 8 ? plen - i * 8 : 0;
			__u8 mask = bits >= 8 ? 0xff : (__u8)(0xff00 >> bits);

			k->addr[i] = pkt->saddr6.in6_u.u6_addr8[i] & mask;
		}
	}
}

/* A token bucket per source; returns 1 when the packet may pass. In trace mode the bucket is
 * read, never changed. */
static __always_inline int pw_ratelimit(__u32 limiter, const struct pw_packet *pkt, const int trace)
{
	struct pw_ratelimit *lim = bpf_map_lookup_elem(&pw_ratelimits, &limiter);
	struct pw_ratelimit_key key;
	struct pw_ratelimit_state *st;
	__u64 now = bpf_ktime_get_ns(), elapsed, tokens;

	if (!lim || !lim->rate_mpps)
		return 1;
	pw_ratelimit_key(&key, lim, limiter, pkt);
	st = bpf_map_lookup_elem(&pw_ratelimit_state, &key);
	if (!st) {
		struct pw_ratelimit_state fresh = {
			.tokens_milli = lim->burst_milli > 1000 ? lim->burst_milli - 1000 : 0,
			.last_ns = now,
		};

		if (!trace)
			bpf_map_update_elem(&pw_ratelimit_state, &key, &fresh, BPF_NOEXIST);
		return lim->burst_milli >= 1000;
	}
	if (st->blocked_until > now)
		return 0;
	elapsed = now > st->last_ns ? now - st->last_ns : 0;
	/* Refill. Past 10 s idle the bucket is full anyway; the bound keeps elapsed * rate within
	 * 64 bits for rates up to 10^6 packets/s (the control plane's limit). */
	if (elapsed >= 10 * PW_NSEC_PER_SEC)
		tokens = lim->burst_milli;
	else
		tokens = st->tokens_milli + elapsed * lim->rate_mpps / PW_NSEC_PER_SEC;
	if (tokens > lim->burst_milli)
		tokens = lim->burst_milli;
	if (trace)
		return tokens >= 1000;
	st->last_ns = now;
	if (tokens >= 1000) {
		st->tokens_milli = tokens - 1000;
		st->violations = 0;
		return 1;
	}
	st->tokens_milli = tokens;
	st->violations++;
	if (lim->block_ns && st->violations >= lim->block_after) {
		st->blocked_until = now + lim->block_ns;
		st->violations = 0;
	}
	return 0;
}

static __always_inline int pw_blocked(const struct pw_packet *pkt)
{
	struct pw_block *b;

	if (pkt->family == 4) {
		struct pw_block4_key k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, &pkt->saddr4, 4);
		b = bpf_map_lookup_elem(&pw_block4, &k);
	} else {
		struct pw_block6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, &pkt->saddr6, 16);
		b = bpf_map_lookup_elem(&pw_block6, &k);
	}
	/* Expired entries stay until the control plane sweeps them; they no longer match. */
	return b && (!b->expires_ns || bpf_ktime_get_ns() < b->expires_ns);
}

static __always_inline void pw_count_rule(__u32 id, __u32 len)
{
	struct pw_counter *c = bpf_map_lookup_elem(&pw_rule_stats, &id);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/*
 * Returns 1 when the packet goes on to routing, 0 when the guard decided (d is set). Rules:
 * count and log go on to the next matching rule; pass, drop and rate-limit end the search;
 * a packet no rule decides goes on.
 */
static __always_inline int pw_guard_decide(struct xdp_md *ctx, struct pw_packet *pkt, struct pw_decision *d, const int trace)
{
	__u32 zero = 0;
	struct pw_rule_ctl *ctl;
	struct pw_rule_walk walk;

	if (pw_blocked(pkt)) {
		pw_decide(d, PW_VERDICT_DROP, PW_REASON_BLOCKED);
		return 0;
	}
	ctl = bpf_map_lookup_elem(&pw_rule_ctl, &zero);
	if (!ctl || !ctl->count)
		return 1;
	if (!pw_rule_walk_init(&walk, ctx, pkt, ctl->bank & 1))
		return 1;
#pragma unroll
	for (int n = 0; n < PW_RULE_MATCH_MAX; n++) {
		__s32 pos = pw_next_rule(&walk);
		__u32 index;
		struct pw_rule *r;

		if (pos < 0 || pos >= PW_MAX_RULES)
			return 1;
		index = (ctl->bank & 1) * PW_MAX_RULES + pos;
		r = bpf_map_lookup_elem(&pw_rules, &index);
		if (!r)
			return 1;
		if (!trace)
			pw_count_rule(r->id, pkt->len);
		switch (r->action) {
		case PW_ACTION_PASS:
			d->rule = r->id;
			return 1;
		case PW_ACTION_DROP:
			d->rule = r->id;
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_RULE_DROP);
			return 0;
		case PW_ACTION_RATELIMIT:
			d->rule = r->id;
			if (pw_ratelimit(r->limiter, pkt, trace))
				return 1;
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_RATE_LIMITED);
			return 0;
		case PW_ACTION_LOG:
			/* Sent at the verdict, so the event says what became of the packet. */
			if (!d->log_rule)
				d->log_rule = r->id;
			break;
		default: /* PW_ACTION_COUNT */
			break;
		}
	}
	return 1;
}

/* The guard stage (see stage.bpf.h). */
PW_STAGE int pw_guard(struct xdp_md *ctx, struct pw_packet *pkt, struct pw_decision *d, int trace)
{
	if (!pkt || !d)
		return 1;
	return pw_guard_decide(ctx, pkt, d, trace);
}

#endif /* PATHWISE_GUARD_BPF_H */
