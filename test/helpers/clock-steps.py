#!/usr/bin/env python3
"""Records the steps of the wall clock against the monotonic clock until SIGTERM.

Usage: clock-steps.py   (prints "ready" once sampling, and at SIGTERM one JSON line)

tcpdump stamps packets by the wall clock (CLOCK_REALTIME, libpcap has no other on Linux); the
pipeline stamps them by the monotonic one (bpf_ktime_get_ns). The two run at one rate, NTP
slewing included, but a step of the wall clock (settimeofday, an ADJ_SETOFFSET: a VM's host
resyncing its guest) moves only the wall clock. A test comparing the two across a step would
see the step as latency. This samples offset = realtime - monotonic every ~0.2 ms and keeps
the samples around each change of more than STEP_NS, so the test can turn a capture's wall
clock stamps back into monotonic time.

Output: {"samples": [["mono_ns", "offset_ns"], ...]} - the first sample, the last sample before
each step, the first after it, and the last sample taken.
"""
import json
import signal
import sys
import time

STEP_NS = 20_000  # well under what the tests tell apart (50 us), well over a read's error
WIDTH_NS = 5_000  # two monotonic reads further apart than this bracket a preemption
PERIOD_S = 0.0002
MONO = time.CLOCK_MONOTONIC
REAL = time.CLOCK_REALTIME


def sample():
    """(mono, offset) from the tightest of three bracketed reads: a read preempted between the
    two clocks would look like a step."""
    best = None
    for _ in range(3):
        a = time.clock_gettime_ns(MONO)
        r = time.clock_gettime_ns(REAL)
        b = time.clock_gettime_ns(MONO)
        if best is None or b - a < best[0]:
            best = (b - a, (a + b) // 2, r - (a + b) // 2)
    return best


def main() -> None:
    samples = []
    stopping = False

    def stop(_sig, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    width, mono, offset = sample()
    samples.append([mono, offset])
    prev = [mono, offset]
    print("ready", flush=True)
    while not stopping:
        time.sleep(PERIOD_S)
        width, mono, offset = sample()
        if width > WIDTH_NS:
            continue  # preempted between the reads: not a measurement
        if abs(offset - samples[-1][1]) > STEP_NS:
            if prev != samples[-1]:
                samples.append(prev)
            samples.append([mono, offset])
        prev = [mono, offset]
    if prev != samples[-1]:
        samples.append(prev)
    # As strings: an offset from the epoch in ns is past what a JSON reader's double holds exactly.
    sys.stdout.write(json.dumps({"samples": [[str(m), str(o)] for m, o in samples]}) + "\n")
    sys.stdout.flush()


main()
