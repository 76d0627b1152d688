/**
 * `pathwise replay`: what would this config do to this traffic? Every packet of a capture runs
 * through the real pipeline, loaded privately with the config and attached nowhere
 * (control/private-pipeline.ts); each packet's verdict, route and rule are reported.
 */
import { ipfixOptions } from '../control/config/forms.js';
import type { Config } from '../control/config/schema.js';
import { withPrivatePipeline } from '../control/private-pipeline.js';
import { readFlows } from '../dataplane/insight-tables.js';
import { replayPackets } from '../dataplane/replay-run.js';
import { PwError } from '../errors.js';
import { IpfixExporter, type Collector } from '../insight/ipfix-exporter.js';
import type { ReplayedPacket } from '../insight/replay.js';
import type { Capture } from '../kernel/pcap.js';
import { confinedFiles } from '../control/config/files.js';
import { monoNowNs } from '../util/clock.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { HTTP_SNAP_MAX, httpCounters, openHttpRing, setHttpControl } from '../dataplane/http-tables.js';
import { HttpTracker, type HttpTrackerStats, type HttpTransaction, type TcpSegment, type TlsHello } from '../insight/http-tracker.js';

export interface ReplayRun {
  packets: ReplayedPacket[];
  /** With `http`: the HTTP transactions and TLS hellos the replay saw, and what could not be parsed. */
  http?: { transactions: HttpTransaction[]; tls: TlsHello[]; stats: HttpTrackerStats; segmentsLost: number };
  /** Flow records sent to the IPFIX collector, when one was given. */
  exported?: number;
}

/**
 * Replays `capture` under `config` (the files it names are in `baseDir`, the config file's
 * directory, or below: config/files.ts). With
 * `ipfix`, the replay's flows go to that collector, timed by the capture.
 */
export async function replayCapture(
  config: Config,
  baseDir: string,
  capture: Capture,
  opts: { ingress?: string; signal?: AbortSignal; ipfix?: Collector; http?: boolean } = {},
): Promise<ReplayRun> {
  return withPrivatePipeline(config, confinedFiles(baseDir), async (dp) => {
    const flowTimes = new Map<string, { firstMs: number; lastMs: number }>();
    const http = opts.http ? httpFollower(dp, config) : undefined;
    let packets: ReplayedPacket[];
    try {
      packets = await replayPackets(dp, capture.linktype, capture.packets, {
        ingress: opts.ingress,
        signal: opts.signal,
        flowTimes,
        http: http?.input,
      });
    } finally {
      http?.input.ring.close();
    }
    const httpRun = http?.finish(dp);
    if (!opts.ipfix) return { packets, ...(httpRun ? { http: httpRun } : {}) };
    // Every flow the replay made, reported once, timed by the capture.
    const exporter = new IpfixExporter({ ...ipfixOptions(config.insight.ipfix), collectors: [opts.ipfix] });
    try {
      const exported = await exporter.export(await readFlows(dp.pipeline), Number(monoNowNs()), {
        flush: true,
        times: (id) => flowTimes.get(id),
      });
      if (exporter.stats.sendErrors)
        throw new PwError('PW_ERR_UNREACHABLE', `sending IPFIX to ${opts.ipfix.host}:${opts.ipfix.port} failed`);
      return { packets, exported, ...(httpRun ? { http: httpRun } : {}) };
    } finally {
      exporter.close();
    }
  });
}

/**
 * The HTTP stage switched on for every TCP port of the replay, its ring read after each
 * packet into a tracker: the same parser the daemon runs, over the capture.
 */
function httpFollower(dp: Dataplane, config: Config) {
  const transactions: HttpTransaction[] = [];
  const tls: TlsHello[] = [];
  const tracker = new HttpTracker({
    onTransaction: (t) => transactions.push(t),
    onTls: (h) => tls.push(h),
    versionField: config.insight.http.versionField ?? undefined,
  });
  setHttpControl(dp.pipeline.maps, { enabled: true, allPorts: true, ports: [], snap: HTTP_SNAP_MAX });
  const ring = openHttpRing(dp.instance);
  return {
    input: { ring, onSegment: (seg: TcpSegment) => tracker.push(seg) },
    finish(d: Dataplane) {
      tracker.flush();
      transactions.sort((a, b) => a.requestUs - b.requestUs);
      return { transactions, tls, stats: tracker.stats, segmentsLost: httpCounters(d.pipeline.maps).segmentsLost };
    },
  };
}
