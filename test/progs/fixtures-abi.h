/* SPDX-License-Identifier: GPL-2.0 */
/* Structs shared by the binding test programs and the tests (codecs generated as fx_*). */
#ifndef FIXTURES_ABI_H
#define FIXTURES_ABI_H

enum fx_limit {
	FX_EVENT_BYTES = 64,
	FX_BATCH_ENTRIES = 131072,
};

struct fx_counter {
	__u64 packets;
	__u64 bytes;
};

/* Written by user space through mmap, read by fx_read_mmap. */
struct fx_setting {
	__u32 verdict;
	__be32 stamp; /* written into the packet's first 4 bytes, network order */
};

/* A ring buffer record: the packet's head and where it came from. */
struct fx_event {
	__u32 ifindex;
	__u32 len;
	__u64 seq;
	__u8 head[FX_EVENT_BYTES];
};

struct fx_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 _pad0;
};

struct fx_value {
	__u64 packets;
	__u8 mac[6];
	__u16 vlan;
};

struct fx_config {
	__u32 verdict; /* returned by fx_rodata */
	__u32 _pad0;
};

#endif
