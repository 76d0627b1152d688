// SPDX-License-Identifier: GPL-2.0
/*
 * XDP_PASS, attached by the link emulator's harness (src/netlab/link-emulator.ts) to the
 * interfaces it bridges: a frame that a router's XDP program redirects into a veth is only
 * received by the peer when the peer runs NAPI, which an XDP program (or GRO, which would
 * merge frames beyond the MTU) turns on.
 */
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int linkem_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
