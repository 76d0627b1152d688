// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark programs, run with BPF_PROG_TEST_RUN by bench/run.ts. Each FIB program looks up
 * BENCH_BATCH destinations per run, taken in turn from bench_addrs (random addresses drawn
 * from the table), so that repeated runs walk many destinations instead of one cached path.
 * The maps are the pipeline's own definitions (bpf/include/pathwise/maps/): the FIB maps are
 * loaded with the instance's pin paths, so libbpf reuses the pinned maps; pw_flows is this
 * object's own copy of the pipeline's flow table, for the flow-accounting floor.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pathwise/abi.h"
#include "pathwise/parse.h"
#include "pathwise/maps/flows.bpf.h"
#include "pathwise/route.bpf.h"
#include "pathwise/stage.bpf.h"

char LICENSE[] SEC("license") = "GPL";

enum bench_limit {
	BENCH_ADDRS = 65536,
	BENCH_BATCH = 256,
};

struct bench_lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_ADDRS);
	__type(key, __u32);
	__type(value, __be32);
} bench_addrs SEC(".maps");

struct bench_addr6 {
	__u8 a[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_ADDRS);
	__type(key, __u32);
	__type(value, struct bench_addr6);
} bench_addrs6 SEC(".maps");

/* The kernel's LPM trie holding the same table, for comparison. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bench_lpm_key);
	__type(value, __u32);
} bench_lpm_map SEC(".maps");

struct bench_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* The kernel's LPM trie holding the IPv6 table (the pipeline's IPv6 FIB before the multibit
 * trie), for comparison. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bench_lpm6_key);
	__type(value, __u32);
} bench_lpm6_map SEC(".maps");

/* Where each CPU's walk over bench_addrs is, and a sink for results (so no work is dead). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bench_state SEC(".maps");

static __always_inline __u64 *bench_slot(__u32 k)
{
	return bpf_map_lookup_elem(&bench_state, &k);
}

static __always_inline __u32 bench_addr(__u32 k)
{
	__u32 *a = bpf_map_lookup_elem(&bench_addrs, &k);

	return a ? *a : 0;
}

/* One benchmark run: BENCH_BATCH steps over the address table, continuing where the last run
 * on this CPU stopped. `fetch` declares the step's address from index k; `body` uses it and
 * adds to acc (so no work is dead). */
#define BENCH_WALK(fetch, body)                                   \
	__u64 *pos = bench_slot(0), *sink = bench_slot(1);        \
	__u64 acc = 0;                                            \
	__u32 base;                                               \
	if (!pos || !sink)                                        \
		return XDP_ABORTED;                               \
	base = *pos;                                              \
	for (__u32 i = 0; i < BENCH_BATCH; i++) {                 \
		__u32 k = (base + i) & (BENCH_ADDRS - 1);         \
		fetch;                                            \
		body;                                             \
	}                                                         \
	*pos = base + BENCH_BATCH;                                \
	*sink += acc;                                             \
	return XDP_PASS;

#define BENCH_LOOP(body) BENCH_WALK(__be32 addr = bench_addr(k), body)

/* The walk alone: what every lookup program costs besides its lookups. */
SEC("xdp")
int bench_base(struct xdp_md *ctx)
{
	BENCH_LOOP(acc += addr)
}

SEC("xdp")
int bench_own(struct xdp_md *ctx)
{
	BENCH_LOOP(acc += pw_fib4_lookup(addr))
}

SEC("xdp")
int bench_lpm(struct xdp_md *ctx)
{
	BENCH_LOOP({
		struct bench_lpm_key k = { .prefixlen = 32 };
		__u32 *v;

		__builtin_memcpy(k.addr, &addr, 4);
		v = bpf_map_lookup_elem(&bench_lpm_map, &k);
		acc += v ? *v : 0;
	})
}

SEC("xdp")
int bench_kernel(struct xdp_md *ctx)
{
	BENCH_LOOP({
		struct bpf_fib_lookup p = {};

		p.family = PW_AF_INET;
		p.ifindex = ctx->ingress_ifindex;
		p.ipv4_dst = addr;
		acc += bpf_fib_lookup(ctx, &p, sizeof(p), 0) + p.ifindex;
	})
}

#define BENCH_LOOP6(body) \
	BENCH_WALK(struct bench_addr6 *a = bpf_map_lookup_elem(&bench_addrs6, &k), if (a) body)

/* IPv6: the pipeline's multibit-trie FIB (pw_fib6_nodes). */
SEC("xdp")
int bench_own6(struct xdp_md *ctx)
{
	BENCH_LOOP6(acc += pw_fib6_lookup((const struct in6_addr *)a->a))
}

SEC("xdp")
int bench_lpm6(struct xdp_md *ctx)
{
	BENCH_LOOP6({
		struct bench_lpm6_key k = { .prefixlen = 128 };
		__u32 *v;

		__builtin_memcpy(k.addr, a->a, 16);
		v = bpf_map_lookup_elem(&bench_lpm6_map, &k);
		acc += v ? *v : 0;
	})
}

/* The IPv6 walk alone. */
SEC("xdp")
int bench_base6(struct xdp_md *ctx)
{
	BENCH_LOOP6(acc += a->a[15])
}

/* The egress ports of the minimal forwarder (the pipeline's pw_tx_ports is a devmap, which
 * libbpf 1.1 cannot share by pin: see src/dataplane/upgrade.ts). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} bench_fwd_ports SEC(".maps");

/*
 * The forwarding floor, what the kernel sample xdp_fwd does with Pathwise's own tables: parse
 * Ethernet and an option-less IPv4 header, the same FIB lookup, route record, nexthop group
 * (bucket by addresses), nexthop and neighbour (the MAC the gateway's nexthop carries, as the
 * pipeline reads it, else pw_neigh), then rewrite the MACs, lower the TTL with its checksum,
 * and redirect. No rules, no accounting, no flow table, no IPv6, no VLAN.
 */
SEC("xdp")
int bench_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = data + sizeof(*eth);
	struct pw_neigh_key key = {};
	struct pw_nhgroup *g;
	struct pw_nexthop *nh;
	struct pw_route *rt;
	struct pw_neigh *n;
	__u32 id, nh_id;
	const __u8 *dmac;
	__u64 w;

	if ((void *)(iph + 1) > end || eth->h_proto != bpf_htons(0x0800) || iph->ihl != 5 || iph->ttl <= 1)
		return XDP_PASS;
	id = pw_fib4_lookup(iph->daddr);
	rt = id ? bpf_map_lookup_elem(&pw_routes, &id) : NULL;
	if (!rt || rt->nhg < PW_NHG_FIRST)
		return XDP_PASS;
	g = bpf_map_lookup_elem(&pw_nhgroups, &rt->nhg);
	if (!g)
		return XDP_PASS;
	nh_id = g->buckets[pw_mix(iph->saddr ^ iph->daddr) & (PW_NHG_BUCKETS - 1)];
	nh = bpf_map_lookup_elem(&pw_nexthops, &nh_id);
	if (!nh)
		return XDP_PASS;
	w = *(volatile __u64 *)&nh->gw_mac;
	if (((struct pw_nh_mac *)&w)->known) {
		dmac = ((struct pw_nh_mac *)&w)->mac;
	} else {
		key.ifindex = nh->ifindex;
		if (nh->flags & PW_NH_F_DIRECT)
			__builtin_memcpy(key.addr, &iph->daddr, 4);
		else
			__builtin_memcpy(key.addr, nh->gw, 16);
		n = bpf_map_lookup_elem(&pw_neigh, &key);
		if (!n)
			return XDP_PASS;
		dmac = n->mac;
	}
	pw_ipv4_decrease_ttl(iph);
	__builtin_memcpy(eth->h_dest, dmac, 6);
	__builtin_memcpy(eth->h_source, nh->smac, 6);
	return bpf_redirect_map(&bench_fwd_ports, nh->ifindex, 0);
}

/*
 * The least any XDP forwarder does with a frame: redirect it, unread, to the port in
 * bench_fwd_ports' key 0. The balance bench's floor for packets per second: what the
 * redirect itself and the receiving side cost, with no parsing, tables or rewrite.
 */
SEC("xdp")
int bench_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&bench_fwd_ports, 0, 0);
}

/* The cheapest XDP program: the baseline the whole pipeline is compared with. */
SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/*
 * What a call and its return cost on this CPU: BENCH_CALLS calls in a chain to a global
 * function (PW_STAGE), as the pipeline calls its stages (a helper call costs the same way).
 * Its time over bench_empty, divided by BENCH_CALLS, is one call; under the "Safe RET" return
 * mitigation it is several times what it is without.
 */
#define BENCH_CALLS 16

PW_STAGE int bench_callee(int a)
{
	return a * 3 + 1;
}

SEC("xdp")
int bench_calls(struct xdp_md *ctx)
{
	int a = ctx->ingress_ifindex; /* not a constant: no call can be folded away */

#pragma unroll
	for (int i = 0; i < BENCH_CALLS; i++)
		a = bench_callee(a);
	return a == 0x7eadbeef ? XDP_DROP : XDP_PASS;
}

/*
 * The floor of flow accounting: what any per-flow counter costs whatever its code — one clock
 * read, one lookup in the pipeline's flow table (pw_flows: an LRU hash of 40-byte 5-tuple keys),
 * two atomic adds. The pipeline's flow stage is compared with this.
 */
SEC("xdp")
int bench_flow_floor(struct xdp_md *ctx)
{
	struct pw_flow_key key;
	struct pw_flow *f;
	__u32 ifindex = ctx->ingress_ifindex;
	__u64 now = bpf_ktime_get_ns();

	__builtin_memset(&key, 0, sizeof(key));
	key.family = 4;
	key.proto = 6;
	__builtin_memcpy(key.src, &ifindex, 4);
	f = bpf_map_lookup_elem(&pw_flows, &key);
	if (!f) {
		struct pw_flow nf = { .packets = 1, .first_ns = now, .last_ns = now };

		bpf_map_update_elem(&pw_flows, &key, &nf, BPF_NOEXIST);
		return XDP_PASS;
	}
	__sync_fetch_and_add(&f->packets, 1);
	__sync_fetch_and_add(&f->bytes, 64);
	f->last_ns = now;
	return XDP_PASS;
}

/* A traffic sink: counts and drops (the forwarding benchmark's receiver). */
SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	__u64 *n = bench_slot(1);

	if (n)
		(*n)++;
	return XDP_DROP;
}

/*
 * The XDP-native generator (§4b, and the balance bench): BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES runs these on the router's ingress interface, frame after frame,
 * as a driver would. The live mode keeps a page pool whose pages keep what a forwarder wrote
 * into them (Ethernet addresses, a decremented TTL, a NAT-ed address), so each frame is first
 * written again from the template the bench sets (BENCH_GEN_BYTES: the whole 60-byte frame).
 * Then the frame either goes to the kernel's stack (XDP_PASS: kernel forwarding) or into the
 * pipeline's program (a tail call, as if the NIC had handed it the frame).
 */
enum { BENCH_GEN_BYTES = 60 };

struct bench_gen_frame {
	__u8 data[BENCH_GEN_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_gen_frame);
} bench_gen_frame SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_gen_next SEC(".maps");

static __always_inline int bench_gen_reset(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct bench_gen_frame *t = bpf_map_lookup_elem(&bench_gen_frame, &zero);
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (!t || data + BENCH_GEN_BYTES > end)
		return -1;
	__builtin_memcpy(data, t->data, BENCH_GEN_BYTES);
	return 0;
}

SEC("xdp")
int bench_gen_pass(struct xdp_md *ctx)
{
	return bench_gen_reset(ctx) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int bench_gen_pipeline(struct xdp_md *ctx)
{
	if (bench_gen_reset(ctx))
		return XDP_DROP;
	bpf_tail_call(ctx, &bench_gen_next, 0);
	return XDP_DROP; /* no program in the slot */
}

/* The generator alone: the frame is reset and dropped (what every generated frame costs). */
SEC("xdp")
int bench_gen_drop(struct xdp_md *ctx)
{
	bench_gen_reset(ctx);
	return XDP_DROP;
}

/*
 * The XDP frame loop (bench/loop-generator.ts): an XDP-native generator for kernels that run no
 * live frames. A few frames circulate for good: the router's ingress veth gets them from its
 * peer as XDP frames (redirected there, no socket buffer), the router forwards them to the
 * sink's side, where bench_loop_back counts each (as bench_sink does) and redirects it into a
 * veth back to the generator's side; there bench_loop_refill writes it again from the template
 * (bench_gen_frame) and redirects it into the router's ingress once more. `stop` set: both
 * drop what they see, and the loop empties.
 */
struct bench_loop {
	__u32 back_ifindex; /* the sink side's end of the way back (bench_loop_back's redirect) */
	__u32 into_ifindex; /* the generator side's veth to the router (bench_loop_refill's) */
	__u32 stop;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_loop);
} bench_loop SEC(".maps");

static __always_inline const struct bench_loop *bench_loop_state(void)
{
	__u32 zero = 0;
	const struct bench_loop *l = bpf_map_lookup_elem(&bench_loop, &zero);

	return l && !l->stop ? l : NULL;
}

/*
 * Whether a frame at the sink is one of the loop's: the template's EtherType and IP protocol
 * (a forwarder may rewrite addresses and ports, not these). The sink's interface also gets
 * what its peer sends of its own (IPv6 neighbour discovery and MLD, ARP): counted, those would
 * be taken for forwarded frames, and sent round they would join the loop as copies of it.
 */
static __always_inline int bench_loop_frame(struct xdp_md *ctx)
{
	__u32 zero = 0;
	const struct bench_gen_frame *t = bpf_map_lookup_elem(&bench_gen_frame, &zero);
	const __u8 *data = (const __u8 *)(long)ctx->data;
	const __u8 *end = (const __u8 *)(long)ctx->data_end;
	/* the protocol's offset: 14 + 9 in IPv4, 14 + 6 in IPv6 */
	__u32 proto_at;

	if (!t || data + BENCH_GEN_BYTES > end)
		return 0;
	if (data[12] != t->data[12] || data[13] != t->data[13])
		return 0;
	proto_at = t->data[12] == 0x86 && t->data[13] == 0xdd ? 20 : 23;
	return data[proto_at] == t->data[proto_at];
}

SEC("xdp")
int bench_loop_back(struct xdp_md *ctx)
{
	const struct bench_loop *l = bench_loop_state();
	__u64 *n;

	if (!bench_loop_frame(ctx))
		return XDP_PASS;
	n = bench_slot(1);
	if (n)
		(*n)++;
	return l ? bpf_redirect(l->back_ifindex, 0) : XDP_DROP;
}

SEC("xdp")
int bench_loop_refill(struct xdp_md *ctx)
{
	const struct bench_loop *l = bench_loop_state();

	if (!l || bench_gen_reset(ctx))
		return XDP_DROP;
	return bpf_redirect(l->into_ifindex, 0);
}
