/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The context the pipeline runs on. By default an XDP frame (bpf/pathwise.bpf.c); built with
 * PW_TC, a socket buffer at TC ingress (bpf/pathwise-tc.bpf.c). Both contexts name the fields
 * the stages read the same way (data, data_end, ingress_ifindex); what differs is here:
 *
 * - A frame's bytes are all between data and data_end. A socket buffer's linear part may end
 *   before the packet does (a stack's TCP segment keeps its payload in page fragments), so its
 *   length is skb->len and bytes past data_end are read with a helper.
 * - A socket buffer may carry many segments (GRO merged them, or a local sender's TSO has not
 *   cut them yet): counters and rate limits count what goes on the wire.
 * - A VLAN tag may have been taken out of the packet into the socket buffer.
 */
#ifndef PATHWISE_CTX_BPF_H
#define PATHWISE_CTX_BPF_H

#ifdef PW_TC
#define PW_CTX struct __sk_buff

/* The packet's length as the parser counts it. */
static __always_inline __u32 pw_ctx_len(PW_CTX *ctx)
{
	return ctx->len;
}

/* The whole packet's length, fragments included. */
static __always_inline __u64 pw_ctx_buff_len(PW_CTX *ctx)
{
	return ctx->len;
}

static __always_inline long pw_ctx_load_bytes(PW_CTX *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline __u32 pw_ctx_segs(PW_CTX *ctx)
{
	return ctx->gso_segs > 1 ? ctx->gso_segs : 1;
}

/* The VLAN id the receive path took out of the packet (0x1000 set: there was one). */
static __always_inline __u32 pw_ctx_vlan(PW_CTX *ctx)
{
	return ctx->vlan_present ? 0x1000 | (ctx->vlan_tci & 0x0fff) : 0;
}
#else
#define PW_CTX struct xdp_md

/* A multi-buffer frame's fragments are not parsed (its IP length runs past data_end). */
static __always_inline __u32 pw_ctx_len(PW_CTX *ctx)
{
	return ctx->data_end - ctx->data;
}

static __always_inline __u64 pw_ctx_buff_len(PW_CTX *ctx)
{
	return bpf_xdp_get_buff_len(ctx);
}

static __always_inline long pw_ctx_load_bytes(PW_CTX *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

static __always_inline __u32 pw_ctx_segs(PW_CTX *ctx)
{
	return 1;
}

static __always_inline __u32 pw_ctx_vlan(PW_CTX *ctx)
{
	return 0;
}
#endif

#endif /* PATHWISE_CTX_BPF_H */
