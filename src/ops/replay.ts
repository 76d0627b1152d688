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

export interface ReplayRun {
  packets: ReplayedPacket[];
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
  opts: { ingress?: string; signal?: AbortSignal; ipfix?: Collector } = {},
): Promise<ReplayRun> {
  return withPrivatePipeline(config, confinedFiles(baseDir), async (dp) => {
    const flowTimes = new Map<string, { firstMs: number; lastMs: number }>();
    const packets = await replayPackets(dp, capture.linktype, capture.packets, { ingress: opts.ingress, signal: opts.signal, flowTimes });
    if (!opts.ipfix) return { packets };
    // Every flow the replay made, reported once, timed by the capture.
    const exporter = new IpfixExporter({ ...ipfixOptions(config.insight.ipfix), collectors: [opts.ipfix] });
    try {
      const exported = await exporter.export(readFlows(dp.pipeline.maps), Number(monoNowNs()), {
        flush: true,
        times: (id) => flowTimes.get(id),
      });
      if (exporter.stats.sendErrors)
        throw new PwError('PW_ERR_UNREACHABLE', `sending IPFIX to ${opts.ipfix.host}:${opts.ipfix.port} failed`);
      return { packets, exported };
    } finally {
      exporter.close();
    }
  });
}
