// SPDX-License-Identifier: GPL-2.0
/* The smallest XDP program: `pathwise doctor` attaches it to learn which XDP modes an
 * interface really supports. It passes every packet unchanged. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int pw_probe(struct xdp_md *ctx)
{
	return XDP_PASS;
}
