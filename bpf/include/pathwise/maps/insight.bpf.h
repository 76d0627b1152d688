/* SPDX-License-Identifier: GPL-2.0 */
/* The insight stage's maps: the event and capture rings with their controls and loss
 * counters, the capture filter's program slots, and the size and protocol histograms. */
#ifndef PATHWISE_MAPS_INSIGHT_BPF_H
#define PATHWISE_MAPS_INSIGHT_BPF_H

#include "pathwise/abi.h"

/* Packet events: rule log action, 1-in-N samples, drops. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} pw_events SEC(".maps");

/* Captured packets, apart from events so a capture never crowds events out (or back). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} pw_capture SEC(".maps");

/* Records sent and records the rings had no room for: counted, never silent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_ring_counters);
} pw_ring_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_events_ctl);
} pw_events_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_capture_ctl);
} pw_capture_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} pw_capture_progs SEC(".maps");

/* The same two slots for the TC pipeline: a program array holds programs of one type. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} pw_tc_capture_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_capture_scratch);
} pw_capture_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_histogram);
} pw_histogram SEC(".maps");

#endif /* PATHWISE_MAPS_INSIGHT_BPF_H */
