// SPDX-License-Identifier: GPL-2.0
/* Small programs that exercise each part of the native binding from the tests. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fixtures-abi.h"
#include "pathwise/btf-anchor.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_OK 0

PW_BTF_ANCHOR(enum fx_limit, limit);
PW_BTF_ANCHOR(struct fx_event, event);

const volatile struct fx_config fx_config = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2); /* 0: XDP, 1: TC */
	__type(key, __u32);
	__type(value, struct fx_counter);
} fx_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct fx_setting);
} fx_settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} fx_events SEC(".maps");

/* Events the producer could not reserve: the ring was full. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fx_events_lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FX_BATCH_ENTRIES);
	__type(key, struct fx_key);
	__type(value, struct fx_value);
} fx_table SEC(".maps");

static __always_inline void count(__u32 slot, __u64 bytes)
{
	struct fx_counter *c = bpf_map_lookup_elem(&fx_counters, &slot);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

SEC("xdp")
int fx_count(struct xdp_md *ctx)
{
	count(0, ctx->data_end - ctx->data);
	return XDP_PASS;
}

SEC("xdp")
int fx_read_mmap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	struct fx_setting *s = bpf_map_lookup_elem(&fx_settings, &key);

	if (!s)
		return XDP_ABORTED;
	if (data + sizeof(__be32) > end)
		return XDP_ABORTED;
	*(__be32 *)data = s->stamp;
	return s->verdict;
}

SEC("xdp")
int fx_emit(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct fx_event *e = bpf_ringbuf_reserve(&fx_events, sizeof(*e), 0);

	if (!e) {
		__u64 *lost = bpf_map_lookup_elem(&fx_events_lost, &zero);

		if (lost)
			__sync_fetch_and_add(lost, 1);
		return XDP_PASS;
	}
	/* 32-bit, as the helper's length argument: with ALU32 code (-mcpu=v3), clang tests a
	 * 64-bit length but passes its low half, whose lower bound the verifier then loses. */
	__u32 len = ctx->data_end - ctx->data;
	__u32 copy = len < FX_EVENT_BYTES ? len : FX_EVENT_BYTES;

	e->ifindex = ctx->ingress_ifindex;
	e->len = len;
	e->seq = bpf_ktime_get_ns();
	__builtin_memset(e->head, 0, sizeof(e->head));
	if (copy > 0)
		bpf_xdp_load_bytes(ctx, 0, e->head, copy);
	bpf_ringbuf_submit(e, 0);
	return XDP_PASS;
}

SEC("xdp")
int fx_rodata(struct xdp_md *ctx)
{
	return fx_config.verdict;
}

/* Used as a traffic generator in live-frames mode: every frame goes out where it came in. */
SEC("xdp")
int fx_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("tc")
int fx_tc_count(struct __sk_buff *skb)
{
	count(1, skb->len);
	return TC_ACT_OK;
}

/* Tags every IPv4 frame with VLAN 10 on its way out, as a VLAN device would: the kernel keeps
 * the tag out of the frame (skb->vlan_tci) when the device offers tx-vlan-hw-insert. */
SEC("tc")
int fx_tc_vlan_push(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(0x0800))
		bpf_skb_vlan_push(skb, bpf_htons(0x8100), 10);
	return TC_ACT_OK;
}
