/**
 * Packet capture inside the pipeline. A tcpdump expression is compiled by libpcap, its classic
 * BPF translated to an eBPF XDP program (insight/cbpf-to-ebpf.ts) and put in the pipeline's
 * pw_capture_progs, which the pipeline tail-calls when a capture runs (and to a TC program in
 * pw_tc_capture_progs, for interfaces that run the TC pipeline); matching packets come
 * back through the pw_capture ring buffer, at ingress (as they arrived) or at the verdict (with
 * what the pipeline decided). One capture runs at a time per instance; one whose process died
 * is taken over by the next.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import {
  AttachType,
  BpfMap,
  compilePcapFilter,
  PerCpuMap,
  type Codec,
  ifNameCache,
  loadRawProgram,
  openPinned,
  ProgType,
  RingBufferReader,
  type NativeFd,
} from '../kernel/index.js';
import { PwError } from '../errors.js';
import * as abi from '../generated/pathwise.js';
import { decodeCaptureRecord, type CapturedRecord, type CaptureOptions } from '../insight/capture-record.js';
import { decodeClassic, translateClassic, type FilterContext } from '../insight/cbpf-to-ebpf.js';
import { monoToEpochOffsetNs } from '../util/clock.js';
import { writeFileAtomic } from '../util/fs.js';
import { pinDirOf, runDirOf } from '../util/instance.js';
import { isAlive } from '../util/process.js';
import type { Dataplane } from './dataplane.js';
import { switchFeature } from './feature-bytes.js';
import { ringCounters } from './insight-tables.js';
import type { PipelineMaps } from './pipeline.js';

/**
 * Translates `classic` and loads it as the pipeline's capture filter program (not yet in place):
 * for the XDP pipeline, or for the TC one.
 */
export function loadFilter(maps: PipelineMaps, classic: Buffer, context: FilterContext = 'xdp'): NativeFd {
  const progsFd = context === 'tc' ? maps.tcCaptureProgs.fd : maps.captureProgs.fd;
  const { insns } = translateClassic(decodeClassic(classic), { scratchFd: maps.captureScratch.fd, progsFd }, context);
  try {
    // The attach type libbpf gave the pipeline (programs sharing a prog array must agree on
    // it): BPF_XDP for pw_xdp, none (0) for pw_tc.
    return context === 'tc'
      ? loadRawProgram(ProgType.SCHED_CLS, insns, 'pw_capture_tc', 0)
      : loadRawProgram(ProgType.XDP, insns, 'pw_capture_flt', AttachType.XDP);
  } catch (e) {
    const err = e as PwError;
    throw new PwError('PW_ERR_VERIFIER', `the kernel refused the translated filter: ${err.message}`, { details: err.details });
  }
}

const ownerFile = (instance: string) => join(runDirOf(instance), 'capture.json');

/** The PID of the process that runs the instance's capture: null for none, 0 if unreadable. */
function captureOwner(instance: string): number | null {
  if (!existsSync(ownerFile(instance))) return null;
  try {
    return (JSON.parse(readFileSync(ownerFile(instance), 'utf8')) as { pid: number }).pid;
  } catch {
    return 0;
  }
}

/**
 * Turns off a capture whose process died without stopping it (kill -9): otherwise the
 * pipeline would go on filtering and filling a ring nobody reads. Returns the dead pid.
 */
export function reapStaleCapture(maps: PipelineMaps, instance: string): number | null {
  const pid = captureOwner(instance);
  if (pid === null || (pid && isAlive(pid))) return null;
  switchFeature(maps, abi.PwFeature.CAPTURE, false, () => maps.captureCtl.set(0, { active: 0, ifindex: 0, point: 0, snap: 0 }));
  removeFilters(maps);
  rmSync(ownerFile(instance), { force: true });
  return pid;
}

/** Empties both filter slots (the XDP pipeline's and the TC one's). */
function removeFilters(maps: Pick<PipelineMaps, 'captureProgs'> & { tcCaptureProgs?: PipelineMaps['tcCaptureProgs'] }): void {
  maps.captureProgs.delete(abi.PwCaptureSlot.FILTER);
  maps.tcCaptureProgs?.delete(abi.PwCaptureSlot.FILTER);
}

/**
 * Runs `fn` on the instance's currently pinned maps: a capture outlives the Dataplane object
 * that started it (a program upgrade replaces that), and must turn off whichever slot is live.
 */
type CaptureMaps = Pick<PipelineMaps, 'captureCtl' | 'captureProgs' | 'ringStats' | 'guardState'> & {
  tcCaptureProgs?: PipelineMaps['tcCaptureProgs'];
};

function withPinnedMaps<T>(instance: string, fn: (maps: CaptureMaps) => T): T {
  const dir = pinDirOf(instance);
  const open = <K, V>(spec: { name: string; key: Codec<K>; value: Codec<V> }) =>
    new BpfMap(openPinned(join(dir, spec.name), 'map'), spec.key, spec.value);
  const captureCtl = open(abi.maps.pw_capture_ctl);
  try {
    const captureProgs = open(abi.maps.pw_capture_progs);
    // A pipeline pinned by a version without the TC pipeline has no second slot.
    const tcCaptureProgs = existsSync(join(dir, abi.maps.pw_tc_capture_progs.name)) ? open(abi.maps.pw_tc_capture_progs) : undefined;
    try {
      const ringStats = new PerCpuMap(
        openPinned(join(dir, abi.maps.pw_ring_stats.name), 'map'),
        abi.maps.pw_ring_stats.key,
        abi.maps.pw_ring_stats.value,
      );
      try {
        const guardState = open(abi.maps.pw_guard_state);
        try {
          return fn({ captureCtl, captureProgs, tcCaptureProgs, ringStats, guardState });
        } finally {
          guardState.close();
        }
      } finally {
        ringStats.close();
      }
    } finally {
      captureProgs.close();
      tcCaptureProgs?.close();
    }
  } finally {
    captureCtl.close();
  }
}

export class CaptureSession {
  /** Instances with a capture running in this process. */
  private static readonly running = new Set<string>();
  private stopped = false;

  private constructor(
    private readonly instance: string,
    /** The filter programs: the XDP pipeline's, and the TC pipeline's where it has one. */
    private readonly filters: NativeFd[],
    readonly ring: RingBufferReader,
    /** Add to bpf_ktime_get_ns() for the epoch in ns. */
    readonly monoToEpochNs: bigint,
  ) {}

  static start(dp: Dataplane, opts: CaptureOptions): CaptureSession {
    const instance = dp.pipeline.instance;
    const maps = dp.pipeline.maps;
    let ifindex = 0;
    if (opts.iface) {
      const a = dp.attached().find((x) => x.name === opts.iface);
      if (!a) {
        throw new PwError('PW_ERR_NOT_FOUND', `${opts.iface} does not run the pipeline of instance '${instance}'`, {
          where: opts.iface,
          hint: `capture sees what the pipeline sees: attach it first (attached: ${
            dp
              .attached()
              .map((x) => x.name)
              .join(', ') || 'none'
          })`,
        });
      }
      ifindex = a.ifindex;
    }
    if (opts.snap < 1 || opts.snap > abi.PwLimit.CAPTURE_BYTES) {
      throw new PwError('PW_ERR_INVALID', `the snap length must be 1 to ${abi.PwLimit.CAPTURE_BYTES} bytes`, { where: '--snaplen' });
    }
    // One capture at a time per instance: there is one filter slot. (A daemon serves several
    // listeners from one process, so its own pid in the owner file is not enough to go on.)
    const owner = captureOwner(instance);
    if (CaptureSession.running.has(instance) || (owner && owner !== process.pid && isAlive(owner))) {
      throw new PwError('PW_ERR_BUSY', `a capture already runs on instance '${instance}' (pid ${owner ?? process.pid})`, {
        hint: 'one capture at a time; stop the other first',
      });
    }
    const classic = compilePcapFilter(opts.expression, undefined, opts.snap);
    const filters: NativeFd[] = [];
    let ring: RingBufferReader | undefined;
    try {
      filters.push(loadFilter(maps, classic));
      if (dp.pipeline.tc) filters.push(loadFilter(maps, classic, 'tc'));
      ring = new RingBufferReader(openPinned(join(pinDirOf(instance), abi.maps.pw_capture.name), 'map'), {
        highWaterMark: 16384,
        drainMs: abi.PwLimit.RING_DRAIN_MS,
      });
      maps.captureProgs.set(abi.PwCaptureSlot.FILTER, filters[0]!.fd);
      if (filters[1]) maps.tcCaptureProgs.set(abi.PwCaptureSlot.FILTER, filters[1].fd);
    } catch (e) {
      ring?.close();
      removeFilters(maps);
      for (const f of filters) f.close();
      throw e;
    }
    writeFileAtomic(ownerFile(instance), JSON.stringify({ pid: process.pid, since: new Date().toISOString(), ...opts }));
    CaptureSession.running.add(instance);
    const epochNs = monoToEpochOffsetNs();
    switchFeature(maps, abi.PwFeature.CAPTURE, true, () =>
      maps.captureCtl.set(0, {
        active: 1,
        ifindex,
        point: opts.point === 'verdict' ? abi.PwCapturePoint.VERDICT : abi.PwCapturePoint.INGRESS,
        snap: opts.snap,
      }),
    );
    return new CaptureSession(instance, filters, ring, epochNs);
  }

  /** Captured packets as they come, until stop(). */
  async *records(): AsyncGenerator<CapturedRecord> {
    const names = ifNameCache(1000);
    for await (const rec of this.ring) yield decodeCaptureRecord(rec, this.monoToEpochNs, names);
  }

  /** Capture records the ring had no room for, since the pipeline was loaded. */
  lost(): number {
    return withPinnedMaps(this.instance, (maps) => ringCounters(maps).captureLost);
  }

  /** Turns the capture off, detaches the filter and frees the ring. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      withPinnedMaps(this.instance, (maps) => {
        switchFeature(maps, abi.PwFeature.CAPTURE, false, () => maps.captureCtl.set(0, { active: 0, ifindex: 0, point: 0, snap: 0 }));
        removeFilters(maps);
      });
    } finally {
      for (const f of this.filters) f.close();
      this.ring.close();
      rmSync(ownerFile(this.instance), { force: true });
      CaptureSession.running.delete(this.instance);
    }
  }
}
