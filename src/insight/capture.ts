/**
 * Packet capture inside the pipeline. A tcpdump expression is compiled by libpcap
 * (pcap_compile), its classic BPF translated to an eBPF XDP program (cbpf-to-ebpf.ts) and put
 * in the pipeline's pw_capture_progs, which the pipeline tail-calls when a capture runs;
 * matching packets come back through the pw_capture ring buffer, at ingress (as they arrived)
 * or at the verdict (with what the pipeline decided). One capture runs at a time per
 * instance; one whose process died is taken over by the next.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { AttachType, native, openPinned, ProgType, RingBufferReader, XdpAction } from '../bpf/index.js';
import type { NativeFd } from '../bpf/native.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import type { PipelineMaps } from '../dataplane/pipeline.js';
import { ifName } from '../dataplane/nexthops.js';
import { metaDirOf, pinDirOf } from '../dataplane/pipeline.js';
import { reasonName, verdictName } from '../dataplane/verdicts.js';
import { PwError } from '../errors.js';
import * as abi from '../generated/pathwise.js';
import { isAlive } from '../util/process.js';
import { decodeClassic, translateClassic } from './cbpf-to-ebpf.js';
import { monoToEpochOffsetNs } from './clock.js';
import { summarizePacket, type PacketSummary } from './packet-summary.js';
import { LINKTYPE_ETHERNET } from './pcap-file.js';
import type { PcapngPacket } from './pcapng.js';
import { ringCounters } from './summary.js';

export type CapturePoint = 'ingress' | 'verdict';

export interface CaptureOptions {
  /** Only packets arriving on this interface (it must run the pipeline); all when absent. */
  iface?: string;
  point: CapturePoint;
  /** Bytes kept of each packet (at most 2048, PW_CAPTURE_BYTES). */
  snap: number;
  /** A tcpdump filter expression; empty: every packet. */
  expression: string;
}

export interface CapturedRecord {
  /** Nanoseconds since the epoch. */
  tsNs: bigint;
  iif: string;
  len: number;
  data: Buffer;
  point: CapturePoint;
  /** At the verdict point: what the pipeline decided. */
  verdict?: string;
  reason?: string;
  xdpAction?: number;
  rule?: number;
  route?: number;
  oif?: string | null;
}

/** The classic BPF libpcap compiles `expression` to (throws PW_ERR_INVALID for bad syntax). */
export function compileFilter(expression: string, snap = 262144): Buffer {
  try {
    return native().pcapCompile(expression, LINKTYPE_ETHERNET, snap);
  } catch (e) {
    throw new PwError('PW_ERR_INVALID', `${(e as Error).message} in '${expression}'`, { where: 'filter expression', hint: "the syntax is tcpdump's (man pcap-filter)" });
  }
}

/** Translates `classic` and loads it as the pipeline's capture filter program (not yet in place). */
export function loadFilter(maps: PipelineMaps, classic: Buffer): NativeFd {
  const { insns } = translateClassic(decodeClassic(classic), { scratchFd: maps.captureScratch.fd, progsFd: maps.captureProgs.fd });
  try {
    // BPF_XDP: what libbpf gave pw_xdp, and programs sharing a prog array must agree on it.
    return native().progLoadRaw(ProgType.XDP, insns, 'pw_capture_flt', AttachType.XDP);
  } catch (e) {
    const log = (e as { verifierLog?: string }).verifierLog;
    throw new PwError('PW_ERR_VERIFIER', `the kernel refused the translated filter: ${(e as Error).message}`, { details: { verifierLog: log } });
  }
}

const XDP_OF_VERDICT: Record<number, number> = {
  [abi.PwVerdict.PASS]: XdpAction.PASS,
  [abi.PwVerdict.DROP]: XdpAction.DROP,
  [abi.PwVerdict.REDIRECT]: XdpAction.REDIRECT,
  [abi.PwVerdict.TX]: XdpAction.TX,
  [abi.PwVerdict.ABORTED]: XdpAction.ABORTED,
};

export function decodeCaptureRecord(rec: Buffer, monoToEpochNs: bigint): CapturedRecord {
  const r = abi.PwCaptureRecord.decode(new DataView(rec.buffer, rec.byteOffset, rec.byteLength), 0);
  const out: CapturedRecord = {
    tsNs: r.ts_ns + monoToEpochNs,
    iif: ifName(r.ifindex),
    len: r.len,
    data: Buffer.from(r.data.subarray(0, Math.min(r.caplen, r.data.length))),
    point: r.point === abi.PwCapturePoint.VERDICT ? 'verdict' : 'ingress',
  };
  if (out.point === 'verdict') {
    Object.assign(out, {
      verdict: verdictName(r.verdict),
      reason: reasonName(r.reason),
      xdpAction: XDP_OF_VERDICT[r.verdict],
      rule: r.rule,
      route: r.route,
      oif: r.egress_ifindex ? ifName(r.egress_ifindex) : null,
    });
  }
  return out;
}

/**
 * A captured packet as one JSON object: what `capture --json` prints and the daemon's
 * /v1/capture streams as NDJSON. `timeNs` (a decimal string) keeps the nanoseconds that
 * `time` rounds away, so a remote client writes the same capture file a local one would.
 */
export interface CapturedRecordJson extends Omit<CapturedRecord, 'tsNs' | 'data'> {
  time: string;
  timeNs: string;
  packet: PacketSummary;
  /** The captured bytes, base64. */
  data: string;
}

export function captureRecordToJson(r: CapturedRecord): CapturedRecordJson {
  const { data, tsNs, ...rest } = r;
  return { ...rest, time: new Date(Number(tsNs / 1_000_000n)).toISOString(), timeNs: String(tsNs), packet: summarizePacket(data), data: data.toString('base64') };
}

export function captureRecordFromJson(j: CapturedRecordJson): CapturedRecord {
  const { time: _time, timeNs, packet: _packet, data, ...rest } = j;
  return { ...rest, tsNs: BigInt(timeNs), data: Buffer.from(data, 'base64') };
}

/** A captured packet as a pcapng block: at the verdict point, the XDP action and a comment. */
export function pcapngPacketOf(r: CapturedRecord): PcapngPacket {
  const comment = r.verdict ? `pathwise: ${r.verdict} (${r.reason})${r.oif ? ` via ${r.oif}` : ''}${r.route ? ` route ${r.route}` : ''}${r.rule ? ` rule ${r.rule}` : ''}` : undefined;
  return { tsNs: r.tsNs, interfaceName: r.iif, data: r.data, len: r.len, xdpAction: r.xdpAction, comment };
}

const ownerFile = (instance: string) => join(metaDirOf(instance), 'capture.json');

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
  maps.captureCtl.set(0, { active: 0, ifindex: 0, point: 0, snap: 0 });
  maps.captureProgs.delete(abi.PwCaptureSlot.FILTER);
  rmSync(ownerFile(instance), { force: true });
  return pid;
}

export class CaptureSession {
  /** Instances with a capture running in this process. */
  private static readonly running = new Set<string>();
  private stopped = false;

  private constructor(
    private readonly dp: Dataplane,
    private readonly filter: NativeFd,
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
          hint: `capture sees what the pipeline sees: attach it first (attached: ${dp.attached().map((x) => x.name).join(', ') || 'none'})`,
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
      throw new PwError('PW_ERR_BUSY', `a capture already runs on instance '${instance}' (pid ${owner ?? process.pid})`, { hint: 'one capture at a time; stop the other first' });
    }
    const filter = loadFilter(maps, compileFilter(opts.expression, opts.snap));
    let ring: RingBufferReader | undefined;
    try {
      ring = new RingBufferReader(openPinned(join(pinDirOf(instance), abi.maps.pw_capture.name), 'map'), { highWaterMark: 16384 });
      maps.captureProgs.set(abi.PwCaptureSlot.FILTER, filter.fd);
    } catch (e) {
      ring?.close();
      filter.close();
      throw e;
    }
    writeFileSync(ownerFile(instance), JSON.stringify({ pid: process.pid, since: new Date().toISOString(), ...opts }));
    CaptureSession.running.add(instance);
    const epochNs = monoToEpochOffsetNs();
    maps.captureCtl.set(0, { active: 1, ifindex, point: opts.point === 'verdict' ? abi.PwCapturePoint.VERDICT : abi.PwCapturePoint.INGRESS, snap: opts.snap });
    return new CaptureSession(dp, filter, ring, epochNs);
  }

  /** Captured packets as they come, until stop(). */
  async *records(): AsyncGenerator<CapturedRecord> {
    for await (const rec of this.ring) yield decodeCaptureRecord(rec, this.monoToEpochNs);
  }

  /** Capture records the ring had no room for, since the pipeline was loaded. */
  lost(): number {
    return ringCounters(this.dp.pipeline.maps).captureLost;
  }

  /** Turns the capture off, detaches the filter and frees the ring. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const maps = this.dp.pipeline.maps;
    try {
      maps.captureCtl.set(0, { active: 0, ifindex: 0, point: 0, snap: 0 });
      maps.captureProgs.delete(abi.PwCaptureSlot.FILTER);
    } finally {
      this.filter.close();
      this.ring.close();
      rmSync(ownerFile(this.dp.pipeline.instance), { force: true });
      CaptureSession.running.delete(this.dp.pipeline.instance);
    }
  }
}
