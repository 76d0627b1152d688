// SPDX-License-Identifier: GPL-2.0
/*
 * The Pathwise XDP pipeline: parse -> guard -> balance -> route -> account -> verdict.
 *
 * One pipeline, three entry points: pw_xdp is what interfaces run; pw_xdp_trace is the same
 * code run without side effects (no accounting, no rate-limit state, no events) that leaves
 * the decision in front of the packet, for `pathwise route lookup`; pw_xdp_replay keeps
 * every side effect and also leaves the decision (in pw_replay_out), for `pathwise replay`
 * (BPF_PROG_TEST_RUN on a private copy of the pipeline). The pipeline itself is
 * pathwise/pipeline.bpf.h; bpf/pathwise-tc.bpf.c builds it for TC ingress.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pathwise/pipeline.bpf.h"

char LICENSE[] SEC("license") = "GPL";

PW_BTF_ANCHOR(enum pw_verdict, verdict);
PW_BTF_ANCHOR(enum pw_reason, reason);
PW_BTF_ANCHOR(enum pw_setting, setting);
PW_BTF_ANCHOR(enum pw_limit, limit);
PW_BTF_ANCHOR(enum pw_fib4, fib4);
PW_BTF_ANCHOR(enum pw_nhg_special, nhg_special);
PW_BTF_ANCHOR(enum pw_nh_decision, nh_decision);
PW_BTF_ANCHOR(enum pw_route_flag, route_flag);
PW_BTF_ANCHOR(enum pw_nexthop_flag, nexthop_flag);
PW_BTF_ANCHOR(struct pw_trace, trace);
PW_BTF_ANCHOR(struct pw_http_segment, http_segment);
PW_BTF_ANCHOR(struct pw_event, event);
PW_BTF_ANCHOR(enum pw_event_kind, event_kind);
PW_BTF_ANCHOR(enum pw_rule_action, rule_action);
PW_BTF_ANCHOR(enum pw_flow_direction, flow_direction);
PW_BTF_ANCHOR(enum pw_capture_point, capture_point);
PW_BTF_ANCHOR(struct pw_capture_record, capture_record);
PW_BTF_ANCHOR(struct pw_replay_result, replay_result);
PW_BTF_ANCHOR(enum pw_capture_slot, capture_slot);
PW_BTF_ANCHOR(enum pw_capture_state, capture_state);
PW_BTF_ANCHOR(enum pw_block_origin, block_origin);
PW_BTF_ANCHOR(enum pw_bank_flag, bank_flag);
PW_BTF_ANCHOR(enum pw_cidr_field, cidr_field);
PW_BTF_ANCHOR(enum pw_rule_field, rule_field);
PW_BTF_ANCHOR(enum pw_lb_flag, lb_flag);
PW_BTF_ANCHOR(enum pw_lb_backend_flag, lb_backend_flag);
PW_BTF_ANCHOR(enum pw_iface_flag, iface_flag);
PW_BTF_ANCHOR(enum pw_feature, feature);

SEC("xdp")
int pw_xdp(struct xdp_md *ctx)
{
	return pw_pipeline(ctx, PW_RUN_LIVE);
}

SEC("xdp")
int pw_xdp_trace(struct xdp_md *ctx)
{
	return pw_pipeline(ctx, PW_RUN_TRACE);
}

SEC("xdp")
int pw_xdp_replay(struct xdp_md *ctx)
{
	return pw_pipeline(ctx, PW_RUN_REPLAY);
}

/* Not for interfaces: the control plane runs it (BPF_PROG_TEST_RUN) on each CPU in turn before
 * it reads the flows, to move the CPU's flow cache into pw_flows. */
SEC("xdp")
int pw_xdp_flush(struct xdp_md *ctx)
{
	pw_flow_flush_all();
	return XDP_DROP;
}
