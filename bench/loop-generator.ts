/**
 * The XDP frame loop: an XDP-native traffic generator that needs no live-frames test runs
 * (which some kernels refuse: LiveGenerator.refusal), so that the forwarder under test gets
 * its frames as a NIC driver hands them to XDP, with no socket buffer before it, on every VM.
 *
 * A few frames (`population`) circulate for good through the forwarder under test:
 *
 *   generator side --genDev--> router (routerDev in, forwarded out) --> sinkDev (sink side)
 *        ^                                                                   |
 *        +---- refill veth <-------- a veth pair made for the loop <---------+
 *
 * bench_loop_back on the sink side's interface counts each of the loop's frames (in
 * bench_state slot 1, as bench_sink does; what the router sends of its own is passed to the
 * stack) and redirects it into the way back; bench_loop_refill at the far end writes
 * it again from the template (bench_gen_frame: a forwarder rewrote its addresses and TTL) and
 * redirects it into genDev, whose peer is the router's ingress veth. Each hop is veth's XDP
 * redirect: the router's veth receives an XDP frame from its peer, and only a forwarder that
 * passes it to the kernel's stack (kernel forwarding, nftables) builds a socket buffer.
 *
 * A delivered rate is 1 / (the forwarder's time + the two loop hops' time) per frame, all of it
 * in one CPU's softirq (each redirect schedules the next veth's NAPI on the CPU that made it).
 * The loop's own hops are the same whatever forwards, so ratios between forwarders understate
 * the forwarders' own difference, as a generator on the same CPU does (§4).
 */
import { rmSync } from 'node:fs';

import { writeCapture } from '../src/kernel/pcap.js';
import { attachXdp, detachXdp, inNetns, resolveIfindex, type BpfObject } from '../src/kernel/index.js';
import type { Topology } from '../test/helpers/topology.js';
import * as benchAbi from './generated/bench.js';
import type { LiveRun } from './live-frames.js';

export interface LoopEnds {
  /** The generator's namespace, and its veth whose peer is the router's ingress. */
  gen: string;
  genDev: string;
  /** The router's namespace and its ingress interface (genDev's peer). */
  router: string;
  routerDev: string;
  /** The namespace the router forwards to, and the interface the frames arrive on there. */
  sink: string;
  sinkDev: string;
}

/** Frames circulating: enough that a NAPI poll finds a batch at each hop (rates rose up to
 * 128 and no further on the Intel VM, 2026-12-06), fewer than a veth ring's 256. */
const POPULATION = 128;

/** Blocks the thread: the runs are synchronous, inside namespaces (inNetns). */
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export class LoopGenerator {
  private readonly backDev: string;
  private readonly refillDev: string;
  private readonly pcap: string;

  /**
   * Makes the loop's way back (a veth pair from the sink's namespace to the generator's) and a
   * capture of the frames that start it.
   * @param frame the frame sent, BENCH_GEN_BYTES (60 bytes) long, addressed to routerDev
   * @param delivered the sink's count so far (bench_state slot 1)
   */
  constructor(
    private readonly topo: Topology,
    private readonly bench: BpfObject<typeof benchAbi>,
    private readonly ends: LoopEnds,
    private readonly frame: Buffer,
    private readonly delivered: () => bigint,
  ) {
    if (frame.length !== benchAbi.BenchGenFrame.size)
      throw new Error(`a generated frame is ${benchAbi.BenchGenFrame.size} bytes, not ${frame.length}`);
    this.backDev = `${ends.sinkDev}lb`;
    this.refillDev = `${ends.sinkDev}lg`;
    topo.addVeth({ ns: ends.sink, name: this.backDev }, { ns: ends.gen, name: this.refillDev });
    this.pcap = `/tmp/${topo.prefix}-${ends.sinkDev}-loop.pcap`;
    writeCapture(
      this.pcap,
      Array.from({ length: POPULATION }, () => ({ data: frame })),
    );
    this.setLoop(true);
  }

  private setLoop(stop: boolean): void {
    const { topo, ends } = this;
    const loop = this.bench.map(benchAbi.maps.bench_loop);
    try {
      loop.set(0, {
        // Each program redirects within its own interface's namespace.
        back_ifindex: inNetns(ends.sink, () => resolveIfindex(topo.name(this.backDev))),
        into_ifindex: inNetns(ends.gen, () => resolveIfindex(topo.name(ends.genDev))),
        stop: stop ? 1 : 0,
      });
    } finally {
      loop.close();
    }
  }

  /**
   * Starts the loop, counts what the sink sees for `seconds` after a short warm-up, and stops
   * it. Whatever was attached to the sink's interface is replaced for the run and not put
   * back: the caller attaches its own again. The router's ingress gets GRO for the run (veth
   * takes redirected frames only on a side running NAPI, which an XDP program there or GRO
   * starts); frames the kernel forwards are not merged by it (UDP GRO forwarding is off).
   */
  run(seconds = 2): LiveRun {
    const { topo, ends, bench } = this;
    const sinkDev = topo.name(ends.sinkDev);
    const refillDev = topo.name(this.refillDev);
    const routerDev = topo.name(ends.routerDev);
    const template = bench.map(benchAbi.maps.bench_gen_frame);
    try {
      template.set(0, { data: this.frame });
    } finally {
      template.close();
    }
    const groWas = /generic-receive-offload: on/.test(topo.exec(ends.router, 'ethtool', ['-k', routerDev]));
    try {
      topo.exec(ends.router, 'ethtool', ['-K', routerDev, 'gro', 'on']);
      inNetns(ends.sink, () => {
        detachXdp(sinkDev);
        attachXdp(bench.program('bench_loop_back'), sinkDev, { mode: 'native' });
      });
      inNetns(ends.gen, () => attachXdp(bench.program('bench_loop_refill'), refillDev, { mode: 'native' }));
      this.setLoop(false);
      // The first frames: any frame sent into the way back is written over at its far end.
      topo.exec(ends.sink, 'tcpreplay', ['-q', '-i', topo.name(this.backDev), this.pcap]);
      sleepSync(200);
      const before = this.delivered();
      const t = performance.now();
      sleepSync(seconds * 1000);
      const result = { delivered: Number(this.delivered() - before), seconds: (performance.now() - t) / 1000 };
      if (!result.delivered) throw new Error(`the frame loop through ${ends.router} delivered nothing to ${sinkDev}`);
      return result;
    } finally {
      this.setLoop(true);
      sleepSync(20); // frames in flight meet the stop at their next hop
      inNetns(ends.gen, () => detachXdp(refillDev));
      inNetns(ends.sink, () => detachXdp(sinkDev));
      if (!groWas) topo.exec(ends.router, 'ethtool', ['-K', routerDev, 'gro', 'off']);
    }
  }

  /** Removes the capture (the way back goes with the topology). */
  close(): void {
    rmSync(this.pcap, { force: true });
  }
}
