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
 *
 * The guard decides on whatever the parser learned: a malformed packet with readable addresses
 * still meets the blocklists and the rules. One whose ports or flags cannot be seen (cut short,
 * a later fragment, an IPv6 header chain too long to walk) is dropped when the live rules match
 * on ports or flags (PW_REASON_UNCLASSIFIED), unless the pipeline is set to pass it. A later
 * fragment gets its first fragment's fate (pw_frags); one whose first fragment was not seen is
 * unclassifiable.
 */
#ifndef PATHWISE_GUARD_BPF_H
#define PATHWISE_GUARD_BPF_H

#include "pathwise/abi.h"
#include "pathwise/frag.bpf.h"
#include "pathwise/maps/guard.bpf.h"
#include "pathwise/parse.h"
#include "pathwise/route.bpf.h"
#include "pathwise/settings.bpf.h"
#include "pathwise/stage.bpf.h"

#define PW_NSEC_PER_SEC 1000000000ULL
#define PW_FIELDS 7
/* Some CIDR field of the bank is looked up by length. */
#define PW_BANK_FLAG_EXACT_ALL (((1U << PW_CIDR_FIELDS) - 1) << PW_BANK_FLAG_EXACT_SHIFT)

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

/*
 * The classifier's walk over the rules a packet matches, in priority order, as one bpf_loop:
 * each step visits a summary word, a rule word, or one matching rule. Count and log rules are
 * handled as they come; the walk ends at the first rule that decides (pass, drop, rate limit)
 * or when no rule is left. However many count and log rules a packet matches, the deciding
 * rule after them is found.
 */
struct pw_rule_walk {
	struct pw_rule_bitmap *bm[PW_FIELDS];
	/* The fields' summaries ANDed: summary word i of the rules that may match every field. */
	__u64 cand[PW_RULE_SUMMARY];
	__u64 pending;   /* summary bits not yet visited in summary word `sword` */
	__u64 match;     /* matching rule bits not yet visited in word `word` */
	__u32 sword;
	__u32 swords;    /* summary words that can hold a rule of the bank */
	__u32 word;
	__u32 base;      /* the bank's first index in pw_rules */
	__u32 len;       /* the packet's length, for the rules' byte counters */
	__u32 action;
	__u32 rule;      /* the deciding rule's id */
	__u32 limiter;
	__u32 log_rule;  /* the first matching rule with the log action */
	/* Flags as bytes: the guard's frame is what the pipeline's 512-byte stack has left. */
	__u8 started;
	__u8 trace;      /* count nothing */
	__u8 done;       /* the walk ended: `action` is the decision, or PW_WALK_NO_RULE */
	__u8 _pad0;
	__u32 segs;      /* the packet's segments (pw_packet.segs), for the rules' packet counters */
};

/* No rule decided: the packet goes on. */
#define PW_WALK_NO_RULE 0xffffffff

static __always_inline __u64 pw_and_summary(struct pw_rule_walk *w, __u32 i)
{
	/* clang considers the mask redundant (the caller bounds i) and drops it; the verifier
	 * can't follow that reasoning through the callback's stack, so keep it. */
	barrier_var(i);
	return w->cand[i & (PW_RULE_SUMMARY - 1)];
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

static __always_inline void pw_count_rule(__u32 id, __u32 segs, __u32 len)
{
	struct pw_counter *c = bpf_map_lookup_elem(&pw_rule_stats, &id);

	if (c) {
		c->packets += segs;
		c->bytes += len;
	}
}

/* One matching rule: counted; a deciding one ends the walk. */
static __always_inline long pw_rule_visit(struct pw_rule_walk *w, __u32 pos)
{
	__u32 index = w->base + (pos & (PW_MAX_RULES - 1));
	struct pw_rule *r = bpf_map_lookup_elem(&pw_rules, &index);

	if (!r)
		return 0;
	if (!w->trace)
		pw_count_rule(r->id, w->segs, w->len);
	switch (r->action) {
	case PW_ACTION_PASS:
	case PW_ACTION_DROP:
	case PW_ACTION_RATELIMIT:
		w->action = r->action;
		w->rule = r->id;
		w->limiter = r->limiter;
		w->done = 1;
		return 1;
	case PW_ACTION_LOG:
		/* Sent at the verdict, so the event says what became of the packet. */
		if (!w->log_rule)
			w->log_rule = r->id;
		return 0;
	default: /* PW_ACTION_COUNT */
		return 0;
	}
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
		return pw_rule_visit(w, w->word * 64 + bit);
	}
	if (w->pending) {
		__u32 bit = pw_ctz64(w->pending);

		w->pending &= w->pending - 1;
		w->word = w->sword * 64 + bit;
		w->match = pw_and_word(w, w->word);
		return 0;
	}
	if (w->sword + 1 >= w->swords || w->sword + 1 >= PW_RULE_SUMMARY) {
		w->action = PW_WALK_NO_RULE;
		w->done = 1;
		return 1; /* no rule left */
	}
	w->sword++;
	w->pending = pw_and_summary(w, w->sword);
	return 0;
}

/* Field f's bitmap for the packet's value (NULL: no rule accepts it): the candidates narrowed
 * to the rules it accepts. 0 when no rule can match any more: the other fields need no lookup. */
static __always_inline int pw_rule_field(struct pw_rule_walk *w, int f, struct pw_rule_bitmap *bm)
{
	__u64 any = 0;

	w->bm[f] = bm;
	if (!bm)
		return 0;
#pragma unroll
	for (int i = 0; i < PW_RULE_SUMMARY; i++) {
		w->cand[i] &= bm->summary[i];
		any |= w->cand[i];
	}
	return any != 0;
}

static __always_inline int pw_field_open(const struct pw_rule_bank *rb, int f)
{
	return (rb->flags >> (PW_BANK_FLAG_OPEN_SHIFT + f)) & 1;
}

/* A field's catch-all (rb->any): the rules that accept an address no prefix of the field
 * holds. NULL when none does (PW_BANK_FLAG_EMPTY_ANY_SHIFT): the search ends unread. */
static __always_inline struct pw_rule_bitmap *pw_cidr_any(const struct pw_rule_bank *rb, __u32 field)
{
	field &= PW_CIDR_FIELDS - 1;
	if (rb->flags & (1U << (PW_BANK_FLAG_EMPTY_ANY_SHIFT + field)))
		return NULL;
	return bpf_map_lookup_elem(&pw_rule_bitmaps, &rb->any[field]);
}

/* Steps a walk can take: every summary word, every rule word, every rule, and one to end. */
#define PW_WALK_STEPS (PW_RULE_SUMMARY + PW_RULE_WORDS + PW_MAX_RULES + 1)

static __always_inline struct pw_rule_bitmap *pw_bitmap_of(void *map, __u32 index)
{
	__u32 *id = bpf_map_lookup_elem(map, &index);

	if (!id)
		return NULL;
	return bpf_map_lookup_elem(&pw_rule_bitmaps, id);
}

/* The mask of the bits of 32-bit word k (0..3, network order once swapped) that a /plen covers. */
static __always_inline __u32 pw_word_mask(__u32 k, __u32 plen)
{
	__u32 bits = plen > 32 * k ? plen - 32 * k : 0;

	return bits >= 32 ? ~0U : bits ? ~0U << (32 - bits) : 0;
}

/* An address of `words` 32-bit words (network order: 1 for IPv4, 4 for IPv6) masked to /plen,
 * into the 16 bytes at out (words past the address's are zero). */
static __always_inline void pw_mask_addr(__u8 *out, const __u32 *addr, __u32 words, __u32 plen)
{
#pragma unroll
	for (__u32 w = 0; w < 4; w++) {
		__u32 v = w < words ? bpf_htonl(bpf_ntohl(addr[w]) & pw_word_mask(w, plen)) : 0;

		__builtin_memcpy(out + 4 * w, &v, 4);
	}
}

/*
 * A CIDR field by exact lookups (PW_BANK_FLAG_EXACT_SHIFT): the address masked to each of the
 * field's lengths in turn, longest first; the first hit is the longest prefix holding it, as the
 * LPM trie would answer. None: the field's catch-all.
 */
static __always_inline struct pw_rule_bitmap *pw_cidr_exact(const struct pw_rule_bank *rb, __u32 bank,
							    const struct pw_packet *pkt, int src, __u32 field,
							    struct pw_rule_exact_key *k)
{
	const __u32 *a = pkt->family == 4 ? (src ? &pkt->saddr4 : &pkt->daddr4)
					  : (src ? pkt->saddr6.in6_u.u6_addr32 : pkt->daddr6.in6_u.u6_addr32);
	__u32 words = pkt->family == 4 ? 1 : 4;
	__u32 *id;

	field &= PW_CIDR_FIELDS - 1;
	k->field = field;
	k->bank = bank;
	k->_pad0 = 0;
#pragma unroll
	for (int i = 0; i < PW_CIDR_EXACT_LENS; i++) {
		__u32 len = rb->lens[field][i];

		if (!len)
			break;
		k->plen = len - 1;
		pw_mask_addr(k->addr, a, words, len - 1);
		id = bpf_map_lookup_elem(&pw_rule_exact, k);
		if (id)
			return bpf_map_lookup_elem(&pw_rule_bitmaps, id);
	}
	return pw_cidr_any(rb, field);
}

/*
 * A small CIDR field (PW_BANK_FLAG_SMALL_SHIFT): the address compared with each prefix, longest
 * first; the first that holds it is the longest, as the LPM trie would answer. None: the field's
 * catch-all.
 */
static __always_inline struct pw_rule_bitmap *pw_cidr_small(const struct pw_rule_bank *rb, __u32 bank,
							    const struct pw_packet *pkt, int src, __u32 field)
{
	__u32 index = bank * PW_CIDR_FIELDS + (field & (PW_CIDR_FIELDS - 1));
	const struct pw_rule_cidr *s = bpf_map_lookup_elem(&pw_rule_cidr, &index);
	const struct pw_rule_small_prefix *p;
	__u32 n;

	if (!s)
		return NULL;
	n = s->count;
	if (pkt->family == 4) {
		__u32 a = src ? pkt->saddr4 : pkt->daddr4;

		for (__u32 i = 0; i < PW_CIDR_SMALL_MAX && i < n; i++) {
			p = &s->prefixes[i];
			if (!((a ^ p->addr[0]) & p->mask[0]))
				return bpf_map_lookup_elem(&pw_rule_bitmaps, &p->bitmap);
		}
	} else {
		const __u32 *a = src ? pkt->saddr6.in6_u.u6_addr32 : pkt->daddr6.in6_u.u6_addr32;
		__u32 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];

		for (__u32 i = 0; i < PW_CIDR_SMALL_MAX && i < n; i++) {
			p = &s->prefixes[i];
			if (!(((a0 ^ p->addr[0]) & p->mask[0]) | ((a1 ^ p->addr[1]) & p->mask[1]) |
			      ((a2 ^ p->addr[2]) & p->mask[2]) | ((a3 ^ p->addr[3]) & p->mask[3])))
				return bpf_map_lookup_elem(&pw_rule_bitmaps, &p->bitmap);
		}
	}
	return pw_cidr_any(rb, field);
}

/* The presence bitmap's bit for an address: its /16 for IPv4; for IPv6 the top 32 bits folded
 * to 16 (a prefix of 32 bits or more sets one bit; a shorter one, each fold of the blocks it
 * covers; the control plane gives no bitmap to a field with an IPv6 prefix shorter than 16). */
static __always_inline __u32 pw_presence_key(const struct pw_packet *pkt, int src)
{
	__u32 a;

	if (pkt->family == 4)
		return bpf_ntohl(src ? pkt->saddr4 : pkt->daddr4) >> 16;
	a = bpf_ntohl(src ? pkt->saddr6.in6_u.u6_addr32[0] : pkt->daddr6.in6_u.u6_addr32[0]);
	return (a >> 16) ^ (a & 0xffff);
}

/* Whether some prefix of the field may hold the address: its block's bit in the field's
 * presence bitmap (PW_BANK_FLAG_PRESENCE_SHIFT). A clear bit spares the lookup, and most
 * packets are near no rule's prefix. */
static __always_inline int pw_cidr_present(__u32 bank, __u32 field, const struct pw_packet *pkt, int src)
{
	__u32 key = pw_presence_key(pkt, src) & (8 * PW_RULE_PRESENCE_BYTES - 1);
	__u32 index = bank * PW_CIDR_FIELDS + (field & (PW_CIDR_FIELDS - 1));
	const struct pw_rule_cidr *c = bpf_map_lookup_elem(&pw_rule_cidr, &index);

	return !c || (c->presence[key >> 3] >> (key & 7)) & 1;
}

static __always_inline struct pw_rule_bitmap *pw_cidr_bitmap(void *map4, void *map6, const struct pw_rule_bank *rb,
							     __u32 bank, const struct pw_packet *pkt, int src,
							     struct pw_rule_exact_key *xk)
{
	__u32 field = (pkt->family == 4 ? PW_CIDR_SRC4 : PW_CIDR_SRC6) + !src;
	__u32 *id;

	/* Only the catch-all: an LPM trie lookup (tens of ns) spared. */
	if (rb->flags & (1U << (PW_BANK_FLAG_ANY_SHIFT + field)))
		return pw_cidr_any(rb, field);
	/* Many prefixes, none near the address: the catch-all, with no lookup. */
	if (rb->flags & (1U << (PW_BANK_FLAG_PRESENCE_SHIFT + field)) && !pw_cidr_present(bank, field, pkt, src))
		return pw_cidr_any(rb, field);
	/* Few prefixes: compared one by one. */
	if (rb->flags & (1U << (PW_BANK_FLAG_SMALL_SHIFT + field)))
		return pw_cidr_small(rb, bank, pkt, src, field);
	/* Few lengths: a hash lookup per length, whatever the number of prefixes. (xk is where the
	 * key is built; without it, the LPM trie, whose entries are always written, serves.) */
	if (xk && rb->flags & (1U << (PW_BANK_FLAG_EXACT_SHIFT + field)))
		return pw_cidr_exact(rb, bank, pkt, src, field, xk);
	/* Each family returns on its own, and the barrier keeps the compiler from sinking the two
	 * lookups into one call site whose map is a variable: such a site takes the generic
	 * helper, an indirect call more per packet than the trie's own lookup. */
	if (pkt->family == 4) {
		struct pw_rule_lpm4_key k = { .prefixlen = 8 + 32, .bank = bank };

		__builtin_memcpy(k.addr, src ? &pkt->saddr4 : &pkt->daddr4, 4);
		id = bpf_map_lookup_elem(map4, &k);
		if (!id)
			return NULL;
		barrier_var(id);
		return bpf_map_lookup_elem(&pw_rule_bitmaps, id);
	}
	struct pw_rule_lpm6_key k = { .prefixlen = 8 + 128, .bank = bank };

	__builtin_memcpy(k.addr, src ? &pkt->saddr6 : &pkt->daddr6, 16);
	id = bpf_map_lookup_elem(map6, &k);
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

/* The seven field bitmaps of a packet and the candidates they leave; false when no rule can
 * match (or, never for a bank the control plane has published, a field has no entry). */
static __always_inline int pw_rule_walk_init(struct pw_rule_walk *w, PW_CTX *ctx, const struct pw_packet *pkt,
					     const struct pw_rule_bank *rb, __u32 bank, struct pw_rule_exact_key *xk)
{
	__u32 sport = PW_PORT_SLOTS - 1, dport = PW_PORT_SLOTS - 1, flags = PW_FLAG_SLOTS - 1;

	if (pkt->has_ports) { /* TCP/UDP with an L4 header (not a non-first fragment) */
		sport = bpf_ntohs(pkt->sport);
		dport = bpf_ntohs(pkt->dport);
	}
	if (pkt->proto == IPPROTO_TCP && pkt->has_ports)
		flags = pkt->tcp_flags;

	/* Every field's summary words past the last rule's are zero: so are the candidates'. */
#pragma unroll
	for (__u32 i = 0; i < PW_RULE_SUMMARY; i++)
		w->cand[i] = ~0ULL;
	/* Field by field, while some rule may still match (most packets match no rule): the array
	 * lookups first, the address fields (a list, hashes or a trie) last, so a packet to a port
	 * no rule names costs no address lookup. The destination port leads: it tells most rules
	 * apart, where the protocol rarely does (a packet to a port no rule names: 70 -> 67 ns,
	 * alternated A/B). A value field no rule constrains is skipped, and so is the protocol
	 * when every rule names the same one (compared instead). */
	__u32 one_proto = rb->flags & PW_BANK_FLAG_ONE_PROTO;
	struct pw_rule_bitmap *stub;
	__u32 zero = 0;

	/* A skipped field's slot gets its stand-in at the end, from the flags read again: were
	 * they kept in a variable, the verifier would walk every combination of them through the
	 * address lookups apart (it ran out of instructions). So every slot holds some bitmap
	 * before, for the combinations the second read cannot take: the destination port's, or,
	 * when no rule names one, bitmap 0 (not bitmap 0 always: one map value more touched per
	 * packet). */
	if (!pw_field_open(rb, PW_RULE_FIELD_DPORT)) {
		stub = pw_bitmap_of(&pw_rule_dport, bank * PW_PORT_SLOTS + dport);
		if (!stub || !pw_rule_field(w, PW_RULE_FIELD_DPORT, stub))
			return 0;
	} else {
		stub = bpf_map_lookup_elem(&pw_rule_bitmaps, &zero);
		if (!stub)
			return 0;
	}
#pragma unroll
	for (int f = PW_RULE_FIELD_PROTO; f < PW_FIELDS; f++)
		w->bm[f] = stub; /* the destination port's own slot included: the same pointer */
	if (one_proto ? pkt->proto != rb->proto
		      : !pw_field_open(rb, PW_RULE_FIELD_PROTO) &&
			    !pw_rule_field(w, PW_RULE_FIELD_PROTO, pw_bitmap_of(&pw_rule_proto, bank * 256 + pkt->proto)))
		return 0;
	if (!pw_field_open(rb, PW_RULE_FIELD_SPORT) &&
	    !pw_rule_field(w, PW_RULE_FIELD_SPORT, pw_bitmap_of(&pw_rule_sport, bank * PW_PORT_SLOTS + sport)))
		return 0;
	if (!pw_field_open(rb, PW_RULE_FIELD_FLAGS) &&
	    !pw_rule_field(w, PW_RULE_FIELD_FLAGS, pw_bitmap_of(&pw_rule_flags, bank * PW_FLAG_SLOTS + flags)))
		return 0;
	if (!pw_field_open(rb, PW_RULE_FIELD_IFACE) && !pw_rule_field(w, PW_RULE_FIELD_IFACE, pw_iface_bitmap(bank, ctx->ingress_ifindex)))
		return 0;
	if (!pw_rule_field(w, PW_RULE_FIELD_SRC, pw_cidr_bitmap(&pw_rule_src4, &pw_rule_src6, rb, bank, pkt, 1, xk)) ||
	    !pw_rule_field(w, PW_RULE_FIELD_DST, pw_cidr_bitmap(&pw_rule_dst4, &pw_rule_dst6, rb, bank, pkt, 0, xk)))
		return 0;
	/* A field skipped above accepts every rule: the source's bitmap, already in the AND,
	 * stands in for it in the word-by-word AND (pw_and_word). */
#pragma unroll
	for (int f = PW_RULE_FIELD_PROTO; f < PW_FIELDS; f++)
		if (pw_field_open(rb, f) || (f == PW_RULE_FIELD_PROTO && rb->flags & PW_BANK_FLAG_ONE_PROTO))
			w->bm[f] = w->bm[PW_RULE_FIELD_SRC];
	w->pending = 0;
	w->match = 0;
	w->sword = 0;
	w->word = 0;
	w->started = 0;
	w->base = bank * PW_MAX_RULES;
	/* Rules sit at positions 0..count-1: summary words past the last rule's are all zero. */
	w->swords = (rb->count + PW_RULE_WORDS * 64 / PW_RULE_SUMMARY - 1) / (PW_RULE_WORDS * 64 / PW_RULE_SUMMARY);
	w->len = pkt->len;
	w->segs = pkt->segs;
	w->done = 0;
	w->action = PW_WALK_NO_RULE;
	w->rule = 0;
	w->limiter = 0;
	w->log_rule = 0;
	return 1;
}

/* The source a limiter counts: the packet's source masked to the limiter's prefix length. */
static __always_inline void pw_ratelimit_key(struct pw_ratelimit_key *k, const struct pw_ratelimit *lim, __u32 limiter,
					     const struct pw_packet *pkt)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->limiter = limiter;
	k->family = pkt->family;
	if (pkt->family == 4)
		pw_mask_addr(k->addr, &pkt->saddr4, 1, lim->plen4);
	else
		pw_mask_addr(k->addr, pkt->saddr6.in6_u.u6_addr32, 4, lim->plen6);
}

/* Blocks a source prefix for a while: a rate limiter's escalation. The entry lives in the
 * blocklist, beside the control plane's, so a flood of other sources evicting limiter state
 * cannot unblock it. The control plane's own entry for the same prefix is left alone, and at
 * most PW_ESCALATIONS_MAX escalations are in the blocklists at once. */
static __always_inline void pw_escalate(const struct pw_ratelimit *lim, __u32 limiter, const struct pw_ratelimit_key *k,
					__u64 now)
{
	struct pw_block b = { .expires_ns = now + lim->block_ns, .origin = PW_BLOCK_ESCALATION, .limiter = limiter };
	__u32 zero = 0;
	struct pw_guard_state *gs = bpf_map_lookup_elem(&pw_guard_state, &zero);
	struct pw_block *old;
	void *map;
	union {
		struct pw_block4_key v4;
		struct pw_block6_key v6;
	} bk = {};

	if (!gs)
		return;
	if (k->family == 4) {
		b.plen = lim->plen4 > 32 ? 32 : lim->plen4;
		bk.v4.prefixlen = b.plen;
		__builtin_memcpy(bk.v4.addr, k->addr, 4);
		map = &pw_block4;
	} else {
		b.plen = lim->plen6 > 128 ? 128 : lim->plen6;
		bk.v6.prefixlen = b.plen;
		__builtin_memcpy(bk.v6.addr, k->addr, 16);
		map = &pw_block6;
	}
	old = bpf_map_lookup_elem(map, &bk);
	if (old && old->plen == b.plen) {
		/* This very prefix is listed: the control plane's entry stays; an escalation is renewed. */
		if (old->origin == PW_BLOCK_ESCALATION)
			bpf_map_update_elem(map, &bk, &b, BPF_EXIST);
		return;
	}
	if (gs->escalations >= PW_ESCALATIONS_MAX) {
		__sync_fetch_and_add(&gs->escalations_refused, 1);
		return;
	}
	if (!bpf_map_update_elem(map, &bk, &b, BPF_NOEXIST)) {
		__u64 *listing = &gs->listing[k->family == 6];

		__sync_fetch_and_add(&gs->escalations, 1);
		/* The entry is in: the blocklist is no longer empty (see struct pw_guard_state). */
		__sync_fetch_and_add(listing, 2);
		__sync_fetch_and_and(listing, ~1ULL);
	}
}

/* Compare-and-swap attempts before a contended update gives way (the packet then passes). */
#define PW_GCRA_TRIES 4

/*
 * GCRA per source; returns 1 when the packet may pass. A source may send one packet every
 * interval_ns, and a burst of them ahead of that schedule up to tolerance_ns. The state is one
 * time (tat_ns), moved forward with compare-and-swap: CPUs never race on it. In trace mode the
 * state is read, never changed.
 */
static __always_inline int pw_ratelimit(__u32 limiter, const struct pw_packet *pkt, const int trace)
{
	struct pw_ratelimit *lim = bpf_map_lookup_elem(&pw_ratelimits, &limiter);
	struct pw_ratelimit_key key;
	struct pw_ratelimit_state *st;
	__u64 now = bpf_ktime_get_ns(), cost, ahead;

	if (!lim || !lim->interval_ns)
		return 1;
	/* A socket buffer of several segments is that many packets at once: it conforms when its
	 * last segment would (`ahead`: how far that one is ahead of the first's schedule). */
	cost = lim->interval_ns * pkt->segs;
	ahead = cost - lim->interval_ns;
	pw_ratelimit_key(&key, lim, limiter, pkt);
	st = bpf_map_lookup_elem(&pw_ratelimit_state, &key);
	if (!st) {
		/* A new source: its first packet conforms; the next may come one interval later. */
		struct pw_ratelimit_state fresh = { .tat_ns = now + cost };

		if (trace)
			return 1;
		if (!bpf_map_update_elem(&pw_ratelimit_state, &key, &fresh, BPF_NOEXIST))
			return ahead <= lim->tolerance_ns;
		st = bpf_map_lookup_elem(&pw_ratelimit_state, &key); /* another CPU created it */
		if (!st)
			return 1;
	}
#pragma unroll
	for (int i = 0; i < PW_GCRA_TRIES; i++) {
		__u64 tat = st->tat_ns;
		__u64 start = tat > now ? tat : now;

		if (start + ahead - now > lim->tolerance_ns) {
			/* Ahead of schedule by more than the burst allows: limited. */
			if (trace)
				return 0;
			if (lim->block_after && lim->block_ns && __sync_fetch_and_add(&st->violations, 1) + 1 >= lim->block_after) {
				pw_escalate(lim, limiter, &key, now);
				st->violations = 0;
			}
			return 0;
		}
		if (trace)
			return 1;
		if (__sync_val_compare_and_swap(&st->tat_ns, tat, start + cost) == tat) {
			if (st->violations)
				st->violations = 0;
			return 1;
		}
	}
	return 1;
}

/* pw_listed(): the source is blocked (a seal's limiter, when sealed, is at or above PW_SEAL_LIMITER_BASE). */
#define PW_LISTED_BLOCKED 1

/* One listed entry: 1 with *out set when it decides (in force, or the shortest and expired),
 * 0 when it has expired and a shorter prefix may still be listed. */
static __always_inline int pw_listed_entry(const struct pw_block *b, __u64 *now, __u32 *out)
{
	if (b->expires_ns && !*now)
		*now = bpf_ktime_get_ns(); /* only for an entry that expires: a helper call costs */
	if (!b->expires_ns || *now < b->expires_ns) {
		*out = b->origin == PW_BLOCK_DECISION && b->limiter >= PW_SEAL_LIMITER_BASE ? b->limiter : PW_LISTED_BLOCKED;
		return 1;
	}
	*out = 0;
	return !b->plen;
}

/* One walk per family, each naming its map: a lookup whose map is a variable takes the
 * generic helper, an indirect call more per packet than the trie's own lookup. */
#define PW_LISTED_WALK(map, k)                                         \
	for (int i = 0; i < PW_BLOCK_SHADOW_MAX; i++) {                \
		b = bpf_map_lookup_elem(map, &k);                      \
		if (!b)                                                \
			return 0;                                      \
		if (pw_listed_entry(b, &now, &out))                    \
			return out;                                    \
		k.prefixlen = b->plen - 1;                             \
	}                                                              \
	return 0

/*
 * What the blocklists say of the packet's source: 0 (nothing), PW_LISTED_BLOCKED, or the
 * limiter of a decision that seals its prefix at a rate. The LPM lookup returns the longest listed prefix;
 * when that entry has expired (the control plane sweeps them every few seconds), a shorter one
 * may still be in force, so the lookup is repeated below the expired entry's length (an LPM
 * lookup only considers prefixes up to the key's length).
 */
static __always_inline __u32 pw_listed(const struct pw_packet *pkt)
{
	__u32 zero = 0;
	const struct pw_guard_state *gs = bpf_map_lookup_elem(&pw_guard_state, &zero);
	__u64 now = 0;
	__u32 out = 0;
	struct pw_block *b;

	/* A blocklist known to be empty is not looked up. */
	if (gs && (gs->listing[pkt->family == 6] & 1))
		return 0;

	if (pkt->family == 4) {
		struct pw_block4_key k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, &pkt->saddr4, 4);
#pragma unroll
		PW_LISTED_WALK(&pw_block4, k);
	} else {
		struct pw_block6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, &pkt->saddr6, 16);
#pragma unroll
		PW_LISTED_WALK(&pw_block6, k);
	}
}

/* Remembers what the guard made of a first fragment, for the datagram's later fragments. */
static __always_inline void pw_frag_remember(const struct pw_packet *pkt, const struct pw_decision *d, int goes_on)
{
	struct pw_frag_key k;
	struct pw_frag f = {
		.expires_ns = pw_frag_expiry(),
		.rule = d->rule,
		.verdict = goes_on ? PW_VERDICT_PASS : d->verdict,
		.reason = goes_on ? PW_REASON_NONE : d->reason,
	};

	pw_frag_key(&k, pkt);
	bpf_map_update_elem(&pw_frags, &k, &f, BPF_ANY);
}

/* The rules: 1 when the packet goes on, 0 when they decided (d is set). */
static __always_inline int pw_guard_rules(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, const int trace)
{
	__u32 zero = 0, bank;
	struct pw_rule_exact_key *xk;
	const struct pw_guard_state *gs;
	struct pw_rule_bank *rb;
	__u32 action, rule, limiter;

	gs = bpf_map_lookup_elem(&pw_guard_state, &zero);
	if (!gs)
		return 1;
	bank = gs->rule_bank & 1;
	rb = bpf_map_lookup_elem(&pw_rule_banks, &bank);
	if (!rb || !rb->count)
		return 1;
	/* Rules on ports or flags, and a packet that does not show them: fail closed. */
	if (!pkt->l4_known && (rb->flags & PW_BANK_FLAG_L4) && !(pw_settings.flags & PW_SETTING_PASS_UNCLASSIFIED)) {
		pw_decide(d, PW_VERDICT_DROP, PW_REASON_UNCLASSIFIED);
		return 0;
	}
	/* A CIDR field looked up by length builds its key in a per-CPU scratch value: the guard's
	 * frame has no room for it (it is on the pipeline's deepest call chain, 496 of the 512
	 * bytes the verifier allows: BENCHMARKS §3b). */
	xk = rb->flags & PW_BANK_FLAG_EXACT_ALL ? bpf_map_lookup_elem(&pw_rule_exact_scratch, &zero) : NULL;
	{
		/* The walk's state is scoped to the walk, so that the rate limiter's locals below
		 * take its place in the frame: 16 bytes less on the deepest chain, which was at 512,
		 * and the verifier walks ~50,000 fewer instructions (it carried the walk's state
		 * through the limiter). */
		struct pw_rule_walk walk;

		/* Most packets match no rule: then the fields leave no candidate, and the walk (a
		 * bpf_loop: a call and a return per step) would only find that out. */
		if (!pw_rule_walk_init(&walk, ctx, pkt, rb, bank, xk))
			return 1;
		walk.trace = trace;
		bpf_loop(PW_WALK_STEPS, pw_rule_walk_step, &walk, 0);
		d->log_rule = walk.log_rule;
		if (!walk.done) {
			/* The walk ran out of steps (never expected): fail closed, and say so. */
			pw_decide(d, PW_VERDICT_DROP, PW_REASON_RULE_LIMIT);
			return 0;
		}
		action = walk.action;
		rule = walk.rule;
		limiter = walk.limiter;
	}
	switch (action) {
	case PW_ACTION_PASS:
		d->rule = rule;
		return 1;
	case PW_ACTION_DROP:
		d->rule = rule;
		pw_decide(d, PW_VERDICT_DROP, PW_REASON_RULE_DROP);
		return 0;
	case PW_ACTION_RATELIMIT:
		d->rule = rule;
		if (pw_ratelimit(limiter, pkt, trace))
			return 1;
		pw_decide(d, PW_VERDICT_DROP, PW_REASON_RATE_LIMITED);
		return 0;
	default: /* PW_WALK_NO_RULE */
		return 1;
	}
}

/*
 * Returns 1 when the packet goes on, 0 when the guard decided (d is set): blocklists first,
 * then, for a later fragment, its first fragment's fate, then the rules.
 */
static __always_inline int pw_guard_decide(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, const int trace)
{
	__u32 listed = pw_listed(pkt);
	int goes_on;

	if (listed == PW_LISTED_BLOCKED) {
		pw_decide(d, PW_VERDICT_DROP, PW_REASON_BLOCKED);
		return 0;
	}
	/* Sealed at a rate: what conforms goes on to the rules, the rest is dropped here. */
	if (listed && !pw_ratelimit(listed, pkt, trace)) {
		pw_decide(d, PW_VERDICT_DROP, PW_REASON_SEALED);
		return 0;
	}
	if (pkt->frag_later) {
		struct pw_frag *f = pw_frag_first(pkt);

		if (f) {
			d->rule = f->rule;
			if (f->verdict != PW_VERDICT_DROP)
				return 1;
			pw_decide(d, PW_VERDICT_DROP, f->reason);
			return 0;
		}
	}
	goes_on = pw_guard_rules(ctx, pkt, d, trace);
	if (pkt->frag_first && !trace)
		pw_frag_remember(pkt, d, goes_on);
	return goes_on;
}

/*
 * Whether the guard stage may do anything to the packet, answered inline in the pipeline so
 * that most packets skip the stage's call (a call and its return cost ~7 ns under a return
 * mitigation: BENCHMARKS §3). 0 only when that is certain: the family's blocklists are empty,
 * the packet is no fragment (a first fragment's fate is remembered for the later ones), the
 * rules on ports or flags see its L4 header, and one field alone leaves no rule: the
 * destination port, the one protocol every rule names, or a source address no rule's prefix
 * is near with no rule open to any source. Any other case: 1, and the stage decides.
 */
static __always_inline int pw_guard_may_act(const struct pw_packet *pkt)
{
	__u32 zero = 0, bank, field, dport;
	const struct pw_guard_state *gs = bpf_map_lookup_elem(&pw_guard_state, &zero);
	const struct pw_rule_bank *rb;
	struct pw_rule_bitmap *bm;
	__u64 any = 0;

	if (!gs || !(gs->listing[pkt->family == 6] & 1) || pkt->frag_first || pkt->frag_later)
		return 1;
	bank = gs->rule_bank & 1;
	rb = bpf_map_lookup_elem(&pw_rule_banks, &bank);
	if (!rb)
		return 1;
	if (!rb->count)
		return 0;
	if (!pkt->l4_known && (rb->flags & PW_BANK_FLAG_L4))
		return 1;
	if ((rb->flags & PW_BANK_FLAG_ONE_PROTO) && pkt->proto != rb->proto)
		return 0;
	if (!pw_field_open(rb, PW_RULE_FIELD_DPORT)) {
		dport = pkt->has_ports ? bpf_ntohs(pkt->dport) : PW_PORT_SLOTS - 1;
		bm = pw_bitmap_of(&pw_rule_dport, bank * PW_PORT_SLOTS + dport);
		if (!bm)
			return 1;
#pragma unroll
		for (int i = 0; i < PW_RULE_SUMMARY; i++)
			any |= bm->summary[i];
		if (!any)
			return 0;
	}
	field = pkt->family == 4 ? PW_CIDR_SRC4 : PW_CIDR_SRC6;
	return !(rb->flags & (1U << (PW_BANK_FLAG_EMPTY_ANY_SHIFT + field))) ||
	       !(rb->flags & (1U << (PW_BANK_FLAG_PRESENCE_SHIFT + field))) || pw_cidr_present(bank, field, pkt, 1);
}

/* The guard stage (see stage.bpf.h). */
PW_STAGE int pw_guard(PW_CTX *ctx, struct pw_packet *pkt, struct pw_decision *d, int trace)
{
	if (!pkt || !d)
		return 1;
	return pw_guard_decide(ctx, pkt, d, trace);
}

#endif /* PATHWISE_GUARD_BPF_H */
