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

#endif
