/**
 * Replay: every packet of a capture goes through the pipeline's pw_xdp_replay entry point with
 * BPF_PROG_TEST_RUN. That entry is pw_xdp with its side effects (counters, flows, rate-limit
 * buckets) and one addition: it leaves what it parsed and decided in pw_replay_out, which is
 * read back after each run. Nothing is sent: a test run returns XDP_REDIRECT without
 * redirecting.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import { ifNameCache, resolveIfindex, xdpMd, type CapturedPacket, type RingBufferReader } from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { formatRule } from '../filter/rule.js';
import { flowId } from '../insight/flow-table.js';
import { formatTcpFlagBits, protocolName } from '../insight/names.js';
import { asEthernet, replayableLinktype, XDP_LINEAR_MAX, type ReplayedPacket, type ReplayOptions } from '../insight/replay.js';
import { reasonName, verdictName } from '../insight/verdicts.js';
import { formatAddress, formatPrefix } from '../util/ip.js';
import type { Dataplane } from './dataplane.js';
import { decodeHttpSegment } from './http-tables.js';
import type { TcpSegment } from '../insight/http-tracker.js';

/** Reads pw_replay_out and names what it holds. */
function decodeResult(
  dp: Dataplane,
  r: abi.PwReplayResult,
  ruleText: (id: number) => string,
  ifName: (ifindex: number) => string,
): Omit<ReplayedPacket, 'n' | 'time' | 'len' | 'caplen' | 'beyondBuffer'> {
  const family = r.family === 4 || r.family === 6 ? r.family : null;
  const route = r.route ? dp.routes.byId(r.route) : undefined;
  const nh = r.nexthop ? dp.nexthops.nexthop(r.nexthop) : null;
  const addrLen = family === 4 ? 4 : 16;
  return {
    family,
    proto: family ? protocolName(r.proto) : null,
    src: family ? formatAddress(family, r.src.subarray(0, addrLen)) : null,
    dst: family ? formatAddress(family, r.dst.subarray(0, addrLen)) : null,
    sport: family && r.has_ports ? r.sport : null,
    dport: family && r.has_ports ? r.dport : null,
    tcpFlags: family && r.proto === 6 ? formatTcpFlagBits(r.tcp_flags) : null,
    vlan: r.vlan || null,
    verdict: verdictName(r.verdict),
    reason: reasonName(r.reason),
    malformed: r.reason !== abi.PwReason.NONE && r.reason < abi.PwReason.MALFORMED_MAX,
    route: route ? formatPrefix(route.prefix) : null,
    via: nh?.via ?? null,
    egress: r.egress_ifindex ? ifName(r.egress_ifindex) : null,
    rule: r.rule ? { id: r.rule, text: ruleText(r.rule) } : null,
  };
}

/**
 * Runs packets through the data plane's replay entry, in capture order (rate limits and flows
 * see them in that order, at the speed of the replay, not of the capture).
 */
export async function replayPackets(
  dp: Dataplane,
  linktype: number,
  packets: CapturedPacket[],
  opts: ReplayOptions & {
    ingress?: string;
    /** The HTTP stage's ring (read after each packet) and who takes its segments, timed by the capture. */
    http?: { ring: RingBufferReader; onSegment: (seg: TcpSegment) => void };
  } = {},
): Promise<ReplayedPacket[]> {
  const ingressIfindex = opts.ingress ? resolveIfindex(opts.ingress) : (opts.ingressIfindex ?? 0);
  if (!replayableLinktype(linktype)) {
    throw new PwError(
      'PW_ERR_UNSUPPORTED',
      `the capture's link type is ${linktype}; replay reads Ethernet (1), raw IP (101) and Linux cooked (113, 276) captures`,
      {
        hint: "capture on an Ethernet interface (tcpdump -i IF), not a tunnel or 'any'-style pseudo device of another kind",
      },
    );
  }
  const rules = new Map(dp.filter.rules().map((r) => [r.id, r]));
  // Each replayed packet names its egress interface: asked of the kernel once a second.
  const ifName = ifNameCache(1000);
  const ruleText = (id: number) => {
    const r = rules.get(id);
    return r ? formatRule(r) : `rule ${id}`;
  };
  const prog = dp.pipeline.replay;
  const out = dp.pipeline.maps.replayOut;
  const results: ReplayedPacket[] = [];
  for (const p of packets) {
    // Signals (Ctrl-C) are handled between batches: test runs are synchronous.
    if (results.length % 1024 === 1023) await yieldToEventLoop();
    if (opts.signal?.aborted) break;
    const frame = asEthernet(linktype, p.data);
    prog.testRunSync({ data: frame, ...(ingressIfindex ? { ctx: xdpMd(frame.length, ingressIfindex) } : {}) });
    const r = out.get(0);
    if (!r) throw new PwError('PW_ERR_INTERNAL', 'the replay program left no result');
    if (opts.http) {
      const tsUs = p.tsSec * 1e6 + p.tsUsec;
      for (const rec of opts.http.ring.takeAll()) opts.http.onSegment(decodeHttpSegment(rec, tsUs));
    }
    if (opts.flowTimes && (r.family === 4 || r.family === 6)) {
      const id = flowId({
        family: r.family,
        src: r.src,
        dst: r.dst,
        sport: r.has_ports ? r.sport : 0,
        dport: r.has_ports ? r.dport : 0,
        proto: r.proto,
        vlan: r.vlan,
      });
      // Milliseconds truncated, as capture tools report them.
      const ms = p.tsSec * 1000 + Math.floor(p.tsUsec / 1000);
      const t = opts.flowTimes.get(id);
      if (t) t.lastMs = Math.max(t.lastMs, ms);
      else opts.flowTimes.set(id, { firstMs: ms, lastMs: ms });
    }
    results.push({
      n: p.index + 1,
      time: `${p.tsSec}.${String(p.tsUsec).padStart(6, '0')}`,
      len: p.len,
      caplen: p.data.length,
      beyondBuffer: frame.length > XDP_LINEAR_MAX,
      ...decodeResult(dp, r, ruleText, ifName),
    });
  }
  return results;
}
