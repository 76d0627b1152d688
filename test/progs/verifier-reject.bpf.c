// SPDX-License-Identifier: GPL-2.0
/* Compiles, but the verifier must reject it: the packet is read without a bounds check. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int fx_unchecked(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[20] == 0x45 ? XDP_DROP : XDP_PASS;
}
