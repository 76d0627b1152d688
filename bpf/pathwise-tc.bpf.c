// SPDX-License-Identifier: GPL-2.0
/*
 * The Pathwise pipeline at TC ingress (sched_cls), for interfaces where XDP costs more than
 * it saves: a veth, whose XDP turns every socket buffer a stack sends into a frame and back
 * (BENCHMARKS.md §4, §7). The code is pathwise/pipeline.bpf.h, built on a socket buffer
 * (PW_TC, ctx.bpf.h). The control plane loads this object against the XDP object's pinned
 * maps, so both see one state: routes, rules, services, connections, flows, counters.
 *
 * The trace and replay entry points stay XDP's: they are test runs of the same pipeline, and
 * decide as this one does (test/bpf/crafted.test.ts runs the corpus through both).
 */
#define PW_TC 1

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pathwise/pipeline.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int pw_tc(struct __sk_buff *ctx)
{
	return pw_pipeline(ctx, PW_RUN_LIVE);
}
