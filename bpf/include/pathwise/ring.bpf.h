/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Submitting ring buffer records so that the reader is woken a batch at a time.
 *
 * With the kernel's default (adaptive) wakeup, a record wakes the reader whenever the reader
 * had caught up: a reader that keeps up is woken once per record, and each wakeup (an irq_work
 * and an epoll wakeup on the producing CPU) costs several times the record itself. Here a
 * record wakes the reader only when it takes the bytes waiting unread across a multiple of
 * PW_RING_WAKE_BYTES: once a batch waits, and once more for each further batch while the
 * reader has not yet come (a busy CPU, a reader at low priority). Waking at every record past
 * the mark instead, as until 2026-12-07, raised an irq_work (on a VM, a self-IPI and its exit
 * to the hypervisor) for each record produced while the reader was on its way: 1,226-2,399
 * for 20,000 HTTP requests under ab where 137-145 remain now, and the more the reader lagged
 * the more it cost the CPUs it was waiting for (BENCHMARKS.md, API insight). The reader (the
 * addon's ring buffer, native/src/ringbuf.cc) also drains on a short timer, which delivers a
 * trickle of records below the mark within a few milliseconds; a wakeup is never lost (epoll
 * keeps the ring ready until it is read), and one missed by a race between two CPUs leaves
 * the records to the next crossing or the timer.
 */
#ifndef PATHWISE_RING_BPF_H
#define PATHWISE_RING_BPF_H

#include "pathwise/abi.h"

/* What a record of `size` bytes takes in the ring: its 8-byte header, rounded up to 8 bytes as
 * the kernel's bpf_ringbuf_reserve() does. */
#define PW_RING_FOOTPRINT(size) (((__u64)(size) + 8 + 7) & ~7ULL)

/* The flags for submitting a reserved record of `size` bytes (as reserved): the unread bytes
 * counted by the kernel include it, since it is reserved and not yet read. */
static __always_inline __u64 pw_ring_wake_flags(void *ring, __u64 size)
{
	__u64 unread = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	__u64 before = unread - PW_RING_FOOTPRINT(size);

	if (unread < PW_RING_FOOTPRINT(size))
		return BPF_RB_NO_WAKEUP; /* not while it is reserved (the reader stops at it); no wrap-around */
	return unread / PW_RING_WAKE_BYTES != before / PW_RING_WAKE_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif
