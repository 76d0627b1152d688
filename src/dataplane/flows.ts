/**
 * Reading the flow table (pw_flows, an LRU hash the pipeline updates per packet): batch
 * lookups, decoded in place.
 */
import * as abi from '../generated/pathwise.js';
import { formatAddress } from '../util/ip.js';
import { ifName } from './nexthops.js';
import type { PipelineMaps } from './pipeline.js';
import { reasonName, verdictName } from './verdicts.js';

export interface FlowView {
  family: 4 | 6;
  src: string;
  dst: string;
  proto: number;
  sport: number;
  dport: number;
  packets: number;
  bytes: number;
  /** Seconds since the flow's first and last packet. */
  ageSeconds: number;
  idleSeconds: number;
  iif: string;
  verdict: string;
  reason: string;
}

/** The `n` flows with the most bytes (n = Infinity: all). */
export function topFlows(maps: PipelineMaps, n: number): FlowView[] {
  const K = abi.PwFlowKey;
  const V = abi.PwFlow;
  const nowNs = process.hrtime.bigint();
  const all: FlowView[] = [];
  for (const page of maps.flows.lookupBatchRaw(16384)) {
    const kv = new DataView(page.keys.buffer, page.keys.byteOffset, page.keys.byteLength);
    const vv = new DataView(page.values.buffer, page.values.byteOffset, page.values.byteLength);
    for (let i = 0; i < page.count; i++) {
      const k = K.decode(kv, i * K.size);
      const v = V.decode(vv, i * V.size);
      const family = k.family === 6 ? 6 : 4;
      all.push({
        family,
        src: formatAddress(family, k.src),
        dst: formatAddress(family, k.dst),
        proto: k.proto,
        sport: k.sport, // the codec reads __be16 in network order
        dport: k.dport,
        packets: Number(v.packets),
        bytes: Number(v.bytes),
        ageSeconds: Number(nowNs - v.first_ns) / 1e9,
        idleSeconds: Number(nowNs - v.last_ns) / 1e9,
        iif: ifName(v.ifindex),
        verdict: verdictName(v.verdict),
        reason: reasonName(v.reason),
      });
    }
  }
  all.sort((a, b) => b.bytes - a.bytes);
  return Number.isFinite(n) ? all.slice(0, n) : all;
}
