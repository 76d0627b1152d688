/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PATHWISE_CSUM_BPF_H
#define PATHWISE_CSUM_BPF_H

/*
 * Decrement the IPv4 TTL and patch the header checksum incrementally (RFC 1624), as the
 * kernel's ip_decrease_ttl(): the TTL is the high byte of its 16-bit word, so the one's
 * complement sum rises by 0x0100 in network order, with the end-around carry folded back.
 */
static __always_inline void pw_ipv4_decrease_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

/*
 * Incremental checksum updates for address and port rewrites (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m')). The changes are first summed into a delta, 16-bit words in the
 * order they sit in memory (a one's complement sum is the same in either byte order), then
 * applied to each checksum that covers them: the IPv4 header's, and TCP's or UDP's, whose
 * pseudo-header holds the addresses.
 */
static __always_inline __u32 pw_csum_delta32(__u32 delta, __u32 from, __u32 to)
{
	return delta + (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
}

static __always_inline __u32 pw_csum_delta16(__u32 delta, __u16 from, __u16 to)
{
	return delta + (__u16)~from + to;
}

static __always_inline __u16 pw_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __always_inline __u16 pw_csum_apply(__u16 check, __u32 delta)
{
	return (__u16)~pw_csum_fold((__u16)~check + delta);
}

#endif
