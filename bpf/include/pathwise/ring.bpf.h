/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Submitting ring buffer records so that the reader is woken a batch at a time.
 *
 * With the kernel's default (adaptive) wakeup, a record wakes the reader whenever the reader
 * had caught up: a reader that keeps up is woken once per record, and each wakeup (an irq_work
 * and an epoll wakeup on the producing CPU) costs several times the record itself. Here a
 * record wakes the reader only once PW_RING_WAKE_BYTES wait unread; the reader (the addon's
 * ring buffer, native/src/ringbuf.cc) also drains on a short timer, which delivers a trickle
 * of records below that mark within a few milliseconds.
 */
#ifndef PATHWISE_RING_BPF_H
#define PATHWISE_RING_BPF_H

#include "pathwise/abi.h"

static __always_inline __u64 pw_ring_wake_flags(void *ring)
{
	return bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= PW_RING_WAKE_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif
