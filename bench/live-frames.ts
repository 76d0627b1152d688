/**
 * The XDP-native traffic generator (bench_gen_* in bench/progs/bench.bpf.c): BPF_PROG_TEST_RUN
 * in live-frames mode runs a generator program on a router's ingress interface, frame after
 * frame, as a NIC driver hands frames to XDP (no socket buffer exists before the forwarder sees
 * the frame). Each frame is written again from a template (the live mode reuses its pages as
 * the forwarder left them), then passed to the kernel's stack (`pass`: kernel forwarding,
 * nftables) or tail-called into the pipeline's program (`pipeline`), or dropped (`drop`: what
 * the generator alone costs).
 */
import { PwError } from '../src/errors.js';
import { inNetns, resolveIfindex, TestRunFlags, xdpMd, type BpfObject, type Program } from '../src/kernel/index.js';
import * as benchAbi from './generated/bench.js';

export type GeneratorMode = 'drop' | 'pass' | 'pipeline';

export interface LiveRun {
  seconds: number;
  /** Frames the sink counted during the run. */
  delivered: number;
}

export class LiveGenerator {
  private readonly ifindex: number;

  /**
   * @param ns the router's namespace (the kernel resolves ingress_ifindex in the caller's: runs
   *           are synchronous inside it)
   * @param dev the router's ingress interface, by its name in `ns`
   * @param frame the frame sent, BENCH_GEN_BYTES (60 bytes) long
   * @param delivered the sink's count so far
   */
  constructor(
    private readonly bench: BpfObject<typeof benchAbi>,
    private readonly ns: string,
    dev: string,
    private readonly frame: Buffer,
    private readonly delivered: () => bigint,
  ) {
    if (frame.length !== benchAbi.BenchGenFrame.size)
      throw new Error(`a generated frame is ${benchAbi.BenchGenFrame.size} bytes, not ${frame.length}`);
    this.ifindex = inNetns(ns, () => resolveIfindex(dev));
  }

  /** The program `pipeline` runs tail-call into (undefined: none). */
  setPipeline(prog: Program | undefined): void {
    const next = this.bench.map(benchAbi.maps.bench_gen_next);
    try {
      if (prog)
        next.set(0, prog.fd); // a prog array takes program fds
      else next.delete(0);
    } finally {
      next.close();
    }
  }

  /**
   * Why this kernel runs no live frames, or undefined when it does: one frame sent (and
   * dropped on arrival). Some kernels refuse the mode to every program (EPERM on
   * 6.18.44-fc-v1300, where older builds of the same VM ran it): the figures it feeds are then
   * left out with this reason, not the whole run.
   */
  refusal(): string | undefined {
    try {
      this.run('drop', 1);
      return undefined;
    } catch (e) {
      if (e instanceof PwError && e.code === 'PW_ERR_PERMISSION')
        return `this kernel refuses BPF_PROG_TEST_RUN in live-frames mode (${e.message})`;
      throw e;
    }
  }

  run(mode: GeneratorMode, frames: number): LiveRun {
    // Written at each run: the frame loop (loop-generator.ts) shares the template.
    const template = this.bench.map(benchAbi.maps.bench_gen_frame);
    try {
      template.set(0, { data: this.frame });
    } finally {
      template.close();
    }
    const before = this.delivered();
    const t = performance.now();
    inNetns(this.ns, () =>
      this.bench.program(`bench_gen_${mode}`).testRunSync({
        data: this.frame,
        ctx: xdpMd(this.frame.length, this.ifindex),
        repeat: frames,
        flags: TestRunFlags.XDP_LIVE_FRAMES,
        batchSize: 64,
      }),
    );
    return { seconds: (performance.now() - t) / 1000, delivered: Number(this.delivered() - before) };
  }
}
