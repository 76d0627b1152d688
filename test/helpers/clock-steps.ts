/**
 * Wall-clock stamps back to monotonic time, across steps of the wall clock. A capture's stamps
 * are CLOCK_REALTIME, the pipeline's CLOCK_MONOTONIC; both run at one rate, but a step of the
 * wall clock (a VM's host resyncing it) moves only one. clock-steps.py records the offset
 * between them while a test's traffic runs; `toMonotonic` applies the offset that held when a
 * stamp was taken.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { repoRoot } from '../../src/util/paths.js';

/** clock-steps.py's threshold: smaller changes are its reads' noise. */
const STEP_NS = 20_000n;

/** A stretch of time with one offset: monotonic from `from` (the first sample that had it). */
interface Span {
  from: bigint;
  offset: bigint;
}

export class ClockSteps {
  private constructor(private readonly spans: Span[]) {}

  static fromSamples(samples: [string, string][]): ClockSteps {
    const spans: Span[] = [];
    for (const [m, o] of samples) {
      const offset = BigInt(o);
      const last = spans[spans.length - 1];
      const d = last ? offset - last.offset : 0n;
      // The sampler keeps the sample before a step and the last one: within its noise, no step.
      if (!last || d > STEP_NS || d < -STEP_NS) spans.push({ from: BigInt(m), offset });
    }
    return new ClockSteps(spans);
  }

  /** How many times the wall clock stepped, and the largest step in ms. */
  get steps(): { count: number; largestMs: number } {
    let largest = 0n;
    for (let i = 1; i < this.spans.length; i++) {
      const d = this.spans[i]!.offset - this.spans[i - 1]!.offset;
      if ((d < 0n ? -d : d) > largest) largest = d < 0n ? -d : d;
    }
    return { count: this.spans.length - 1, largestMs: Number(largest) / 1e6 };
  }

  /**
   * The monotonic time of a wall-clock stamp. A forward step of Δ leaves a gap in wall-clock
   * time: a stamp taken after it reads, by the offset before it, at least Δ past the step, so
   * past the first sample after it when Δ exceeds the time between samples (~0.2 ms). A
   * backward step replays Δ of wall-clock time: a stamp that reads, by the new offset, as
   * before the first sample after the step is taken as before the step, and may be wrong by Δ.
   */
  toMonotonic(realNs: bigint): bigint {
    for (let i = this.spans.length - 1; i > 0; i--) {
      const span = this.spans[i]!;
      const before = this.spans[i - 1]!;
      const forward = span.offset > before.offset;
      if (realNs - (forward ? before.offset : span.offset) >= span.from) return realNs - span.offset;
    }
    return realNs - this.spans[0]!.offset;
  }
}

/** Starts the sampler; `stop()` (once or more) ends it by its PID and returns what it saw. */
export async function sampleClockSteps(): Promise<{ stop: () => Promise<ClockSteps> }> {
  const child: ChildProcess = spawn('python3', [join(repoRoot, 'test', 'helpers', 'clock-steps.py')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`clock-steps.py exited (${code}) before sampling`)));
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
  });
  let stopped: Promise<ClockSteps> | undefined;
  return {
    stop: () =>
      (stopped ??= new Promise((resolve, reject) => {
        child.removeAllListeners('exit');
        child.once('exit', () => {
          try {
            const line = out.slice('ready\n'.length).trim();
            resolve(ClockSteps.fromSamples((JSON.parse(line) as { samples: [string, string][] }).samples));
          } catch (e) {
            reject(new Error(`clock-steps.py: ${(e as Error).message}: ${out}`));
          }
        });
        child.kill('SIGTERM');
      })),
  };
}

/** A decimal seconds string (tshark's frame.time_epoch, http.time) as integer nanoseconds. */
export function secondsToNs(s: string): bigint {
  const neg = s.startsWith('-');
  const [whole, frac = ''] = (neg ? s.slice(1) : s).split('.');
  const ns = BigInt(whole!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  return neg ? -ns : ns;
}
