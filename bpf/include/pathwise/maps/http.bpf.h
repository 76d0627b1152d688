/* SPDX-License-Identifier: GPL-2.0 */
/* The HTTP stage's maps: its switch, the monitored ports, the segment ring and its counters. */
#ifndef PATHWISE_MAPS_HTTP_BPF_H
#define PATHWISE_MAPS_HTTP_BPF_H

#include "pathwise/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_http_ctl);
} pw_http_ctl SEC(".maps");

/* A bitmap of TCP ports, by host-order port: word port / 64, bit port % 64. A segment is
 * copied when either of its ports is set (requests go to one, responses come from it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PW_HTTP_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} pw_http_ports SEC(".maps");

/* Segment heads for user space: apart from events and captures so neither crowds it out. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} pw_http SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_http_counters);
} pw_http_stats SEC(".maps");

#endif /* PATHWISE_MAPS_HTTP_BPF_H */
