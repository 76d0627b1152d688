/** A loaded BPF program: one owned fd, BPF_PROG_TEST_RUN, pinning. */
import { type CpuRuns, type NativeFd, type TestRunOptions, type TestRunResult, native } from './native.js';
import { fromNative } from '../errors.js';

export type { CpuRuns, TestRunOptions, TestRunResult };

export class Program {
  constructor(
    readonly name: string,
    private readonly handle: NativeFd,
  ) {}

  get fd(): number {
    return this.handle.fd;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  info() {
    return native().progInfo(this.fd);
  }

  /** Runs the program on a packet in the kernel (BPF_PROG_TEST_RUN), off the JS thread. */
  async testRun(opts: TestRunOptions): Promise<TestRunResult> {
    try {
      return await native().testRun(this.fd, opts);
    } catch (e) {
      throw fromNative(e, `test run of program ${this.name}`);
    }
  }

  /** Same, on the calling thread: for many short runs where the thread hop costs more. */
  testRunSync(opts: TestRunOptions): TestRunResult {
    try {
      return native().testRunSync(this.fd, opts);
    } catch (e) {
      throw fromNative(e, `test run of program ${this.name}`);
    }
  }

  /**
   * Runs the program once on each CPU in `cpus` (default: every online CPU), the calling thread
   * moved to each in turn: the way to reach each CPU's values of a per-CPU map from the
   * program. The thread gets its own CPU set back.
   */
  testRunOnCpus(opts: TestRunOptions, cpus?: number[]): CpuRuns {
    try {
      return native().testRunOnCpus(this.fd, opts, cpus);
    } catch (e) {
      throw fromNative(e, `test run of program ${this.name} on each CPU`);
    }
  }

  pin(path: string): void {
    try {
      native().objPin(this.fd, path);
    } catch (e) {
      throw fromNative(e, `pin of program ${this.name}`, path);
    }
  }

  close(): void {
    this.handle.close();
  }

  /** A program pinned in bpffs. */
  static fromPin(path: string, name = path): Program {
    try {
      return new Program(name, native().objGet(path, 'prog'));
    } catch (e) {
      throw fromNative(e, `open pinned program`, path);
    }
  }
}

/**
 * struct xdp_md for BPF_PROG_TEST_RUN's ctx_in. The kernel insists that data is 0 (no
 * metadata) and data_end equals the packet length; ingress_ifindex is resolved in the calling
 * thread's network namespace.
 */
export function xdpMd(packetLength: number, ingressIfindex = 0, rxQueueIndex = 0): Buffer {
  const b = Buffer.alloc(24); // data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
  b.writeUInt32LE(0, 0);
  b.writeUInt32LE(packetLength, 4);
  b.writeUInt32LE(ingressIfindex, 12);
  b.writeUInt32LE(rxQueueIndex, 16);
  return b;
}

/**
 * Loads raw eBPF instructions (a translated capture filter) as a program of `progType`; a
 * verifier refusal comes back as PW_ERR_VERIFIER with the log.
 */
export function loadRawProgram(progType: number, insns: Uint8Array, name: string, expectedAttachType?: number): NativeFd {
  try {
    return native().progLoadRaw(progType, insns, name, expectedAttachType);
  } catch (e) {
    throw fromNative(e, `load of program ${name}`);
  }
}
