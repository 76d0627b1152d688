/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fragmented datagrams. Only the first fragment carries the transport header; the later ones
 * are known by the datagram's (addresses, identification, protocol), under which pw_frags keeps
 * what the first fragment showed: the guard's fate (guard.bpf.h) and the ports the balance
 * stage found its connection by (balance.bpf.h). A later fragment that arrives before its
 * first, or after PW_FRAG_LIFETIME_S, finds nothing.
 */
#ifndef PATHWISE_FRAG_BPF_H
#define PATHWISE_FRAG_BPF_H

#include "pathwise/abi.h"
#include "pathwise/maps/frag.bpf.h"
#include "pathwise/parse.h"

static __always_inline void pw_frag_key(struct pw_frag_key *k, const struct pw_packet *pkt)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = pkt->family;
	/* IPv4 names a datagram by (src, dst, id, protocol); IPv6 by (src, dst, id): its later
	 * fragments' next header may differ from the first's transport protocol. */
	k->proto = pkt->family == 4 ? pkt->proto : 0;
	k->id = pkt->frag_id;
	if (pkt->family == 4) {
		__builtin_memcpy(k->src, &pkt->saddr4, 4);
		__builtin_memcpy(k->dst, &pkt->daddr4, 4);
	} else {
		__builtin_memcpy(k->src, &pkt->saddr6, 16);
		__builtin_memcpy(k->dst, &pkt->daddr6, 16);
	}
}

/* When a record written now stops counting: as the kernel's ipfrag_time. */
static __always_inline __u64 pw_frag_expiry(void)
{
	return bpf_ktime_get_ns() + PW_FRAG_LIFETIME_S * 1000000000ULL;
}

/* A later fragment's record of its first fragment, if that was seen lately. */
static __always_inline struct pw_frag *pw_frag_first(const struct pw_packet *pkt)
{
	struct pw_frag_key k;
	struct pw_frag *f;

	pw_frag_key(&k, pkt);
	f = bpf_map_lookup_elem(&pw_frags, &k);
	return f && bpf_ktime_get_ns() < f->expires_ns ? f : NULL;
}

#endif /* PATHWISE_FRAG_BPF_H */
