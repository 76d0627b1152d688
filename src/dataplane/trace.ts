/**
 * `route lookup`: the answer comes from the real pipeline. For each address a packet is
 * synthesised (UDP to that address, TTL 64) and run through pw_xdp_trace, the pipeline's
 * trace entry point, with BPF_PROG_TEST_RUN; the program writes its decision in front of the
 * packet (it moves the frame's start back), and the kernel copies the frame out from there.
 * Nothing is sent.
 */
import * as abi from '../generated/pathwise.js';
import { decodeOne, ifName, xdpMd, type Program } from '../kernel/index.js';
import { PwError } from '../errors.js';
import { reasonName, verdictName } from '../insight/verdicts.js';
import { formatPrefix, parseAddress } from '../util/ip.js';
import type { NexthopTable } from './nexthop-table.js';
import type { RouteTable } from './route-table.js';
import type { LookupResult } from '../routing/route.js';

/** What a trace needs: the pipeline's trace entry point and the tables to name its answer. */
export interface TraceTarget {
  traceProgram: Program;
  routes: RouteTable;
  nexthops: NexthopTable;
}

const SRC4 = [192, 0, 2, 1]; // TEST-NET-1: the synthetic packets are never sent
const SRC6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]; // 2001:db8::1

/** A UDP packet to `dst` (network-order bytes) from a documentation address. */
export function probePacket(family: 4 | 6, dst: Uint8Array): Buffer {
  const udp = 8 + 8; // header + 8 bytes payload
  const l3 = family === 4 ? 20 : 40;
  const b = Buffer.alloc(14 + l3 + udp);
  b.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0);
  b.writeUInt16BE(family === 4 ? 0x0800 : 0x86dd, 12);
  const ip = 14;
  if (family === 4) {
    b[ip] = 0x45;
    b.writeUInt16BE(l3 + udp, ip + 2);
    b[ip + 8] = 64;
    b[ip + 9] = 17;
    b.set(SRC4, ip + 12);
    b.set(dst.subarray(0, 4), ip + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(ip + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, ip + 10);
  } else {
    b[ip] = 0x60;
    b.writeUInt16BE(udp, ip + 4);
    b[ip + 6] = 17;
    b[ip + 7] = 64;
    b.set(SRC6, ip + 8);
    b.set(dst.subarray(0, 16), ip + 24);
  }
  const u = ip + l3;
  b.writeUInt16BE(40000, u);
  b.writeUInt16BE(33434, u + 2);
  b.writeUInt16BE(udp, u + 4);
  return b;
}

export function lookupAddresses(dp: TraceTarget, addresses: string[]): LookupResult[] {
  const parsed = addresses.map((a, i) => parseAddress(a.trim(), `address ${i + 1} ('${a}')`));
  const trace = dp.traceProgram;
  return parsed.map((a, i) => {
    const pkt = probePacket(a.family, a.addr);
    const r = trace.testRunSync({ data: pkt, dataOutSize: pkt.length + 64 });
    const traceLen = (r.data?.length ?? 0) - pkt.length;
    if (!r.data || traceLen !== abi.PwTrace.size) {
      throw new PwError(
        'PW_ERR_INTERNAL',
        `the trace program returned ${traceLen} bytes in front of the packet, expected ${abi.PwTrace.size}`,
      );
    }
    const t = decodeOne(abi.PwTrace, r.data);
    const route = t.route ? dp.routes.byId(t.route) : undefined;
    const nh = t.nexthop ? dp.nexthops.nexthop(t.nexthop) : null;
    return {
      addr: addresses[i]!.trim(),
      prefix: route ? formatPrefix(route.prefix) : null,
      via: nh?.via ?? null,
      dev: t.egress_ifindex ? ifName(t.egress_ifindex) : (nh?.dev ?? null),
      verdict: verdictName(t.verdict),
      reason: reasonName(t.reason),
      route: t.route || null,
      nexthop: t.nexthop || null,
    };
  });
}

/**
 * Runs one packet through the pipeline's trace entry point and returns its decision. The
 * trace program reads the maps like the real one but changes nothing (no counters, no token
 * bucket, no events).
 */
export function tracePacket(trace: Program, data: Uint8Array, ingressIfindex = 0): abi.PwTrace & { retval: number } {
  const r = trace.testRunSync({
    data,
    dataOutSize: data.length + 64,
    ...(ingressIfindex ? { ctx: xdpMd(data.length, ingressIfindex) } : {}),
  });
  if (!r.data || r.data.length - data.length !== abi.PwTrace.size)
    throw new PwError('PW_ERR_INTERNAL', 'the trace program returned no decision');
  return { ...decodeOne(abi.PwTrace, r.data), retval: r.retval };
}
