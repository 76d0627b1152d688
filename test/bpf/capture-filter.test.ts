/**
 * Capture filters in the kernel: tcpdump expressions compiled by libpcap, translated to eBPF and
 * tail-called by the pipeline (pw_capture_progs), select exactly the packets that tcpdump's
 * own filtering selects — checked on every packet of the tcpdump test-suite captures, against
 * `tcpdump -r FILE -w - EXPR` and libpcap's interpreter. Also: the verdict capture point
 * carries the decision, a bad expression is refused clearly, and stopping detaches the filter.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { compilePcapFilter, ifName, runPcapFilter } from '../../src/kernel/index.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { CaptureSession } from '../../src/dataplane/capture-slot.js';
import { decodeCaptureRecord } from '../../src/insight/capture-record.js';
import { readCapture } from '../../src/kernel/pcap.js';
import { sharedData } from '../helpers/paths.js';
import { closeOwnDataplane, openOwnDataplane } from '../helpers/own-dataplane.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { tcRun } from '../helpers/tc-run.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const pcapDir = join(sharedData, 'pcaps');
const captures = readdirSync(pcapDir).filter((f) => f.endsWith('.pcap'));

/** Expressions that exercise every classic BPF form pcap_compile emits for Ethernet. */
const FILTERS = [
  '',
  'ip',
  'ip6',
  'arp',
  'tcp',
  'udp',
  'icmp',
  'icmp6',
  'vlan',
  'vlan and udp',
  'port 53',
  'tcp port 22',
  'udp and dst port 53',
  'src port 53 or dst port 53',
  'tcp portrange 1-1024',
  'tcp[tcpflags] & tcp-syn != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'tcp[13] & 8 != 0',
  'icmp[icmptype] = icmp-echo',
  'ip[8] < 64',
  'ip[2:2] > 500',
  'len > 100',
  'greater 200',
  'less 80',
  'ether[12:2] = 0x0800',
  'ether broadcast',
  'ether multicast',
  'ip multicast',
  'net 10.0.0.0/8',
  'host 192.168.1.1',
  'ip and not tcp',
  '(tcp or udp) and not port 53',
  'udp[8:2] != 0',
  'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420',
  'ip[6:2] & 0x1fff != 0',
  'ip6 and tcp',
  'ip6[6] = 58',
  'proto 47',
  'ip[0] & 0xf > 5',
  'tcp and (tcp[4:4] % 7 = 3)',
  'udp and (udp[4:2] / 4 > 10)',
  // Found by the capture filter fuzz: a shift by a count from the packet past 31 (the TTL)
  // is 0 for libpcap, where an eBPF shift takes the count modulo 32;
  '(ip[12:2] >> ip[8]) > 0',
  'ip and (1 << ip[8]) = 0',
  // and code libpcap's optimizer leaves unreachable (the comparison is never true);
  '(len | (icmp6[65535:4] - 4294967295)) < 0',
  // an indexed load whose X + k passes 2^32 (X = 0xffffffff, k = 14): no match, not byte 13.
  'ip and ip[ether[12:2] - 2049] = 0',
];

describe('capture filters in the kernel', { skip, timeout: 5 * 60_000 }, () => {
  let dp: Dataplane;
  let instance: string;
  let topo: Topology;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-cf-'));
    ({ topo, instance, dp } = await openOwnDataplane('cf'));
  });
  after(() => {
    closeOwnDataplane(topo, instance, dp);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a packet through the XDP pipeline's live entry point. */
  const xdpRun = (data: Buffer): void => void dp.pipeline.xdp.testRunSync({ data });

  /** Runs every packet through the live entry point; returns which indexes the capture got. */
  function capturedIndexes(session: CaptureSession, packets: Buffer[], run: (data: Buffer) => void = xdpRun): number[] {
    const got: number[] = [];
    packets.forEach((data, i) => {
      run(data);
      const recs = session.ring.takeAll();
      assert.ok(recs.length <= 1, `packet ${i}: ${recs.length} records`);
      if (recs.length) {
        const rec = decodeCaptureRecord(recs[0]!, 0n, ifName);
        assert.deepEqual(rec.data, data.subarray(0, 2048), `packet ${i}: captured bytes (up to the 2048-byte snap)`);
        assert.equal(rec.len, data.length);
        got.push(i);
      }
    });
    return got;
  }

  /** What tcpdump selects: the indexes of its output's packets in the input. */
  function tcpdumpIndexes(file: string, expr: string, packets: Buffer[]): number[] {
    const out = join(dir, 'out.pcap');
    const r = spawnSync('tcpdump', ['-r', file, '-w', out, ...(expr ? [expr] : [])], { encoding: 'utf8' });
    assert.equal(r.status, 0, `tcpdump '${expr}': ${r.stderr}`);
    const picked = readCapture(out).packets;
    const idx: number[] = [];
    let from = 0;
    for (const p of picked) {
      while (from < packets.length && !packets[from]!.equals(p.data)) from++;
      assert.ok(from < packets.length, 'tcpdump output comes from the input');
      idx.push(from++);
    }
    return idx;
  }

  for (const file of captures) {
    it(`selects what tcpdump selects in ${file}, for ${FILTERS.length} expressions`, () => {
      const path = join(pcapDir, file);
      const packets = readCapture(path).packets.map((p) => p.data);
      let nonTrivial = 0;
      for (const expr of FILTERS) {
        const session = CaptureSession.start(dp, { point: 'ingress', snap: 2048, expression: expr });
        let got: number[];
        try {
          got = capturedIndexes(session, packets);
        } finally {
          session.stop();
        }
        const want = tcpdumpIndexes(path, expr, packets);
        assert.deepEqual(got, want, `'${expr}' on ${file}`);
        // libpcap's interpreter agrees too (the same program tcpdump ran).
        const classic = compilePcapFilter(expr, undefined, 2048);
        assert.deepEqual(
          packets.map((d, i) => (runPcapFilter(classic, d) ? i : -1)).filter((i) => i >= 0),
          want,
        );
        if (want.length && want.length < packets.length) nonTrivial++;
      }
      assert.ok(nonTrivial >= 3, `at least a few expressions split ${file} (${nonTrivial})`);
    });
  }

  it('selects the same through the TC pipeline, its filter built for socket buffers', () => {
    // Frames the kernel's test run makes no socket buffer of (an IPv4 header cut short) are
    // left out of both sides.
    const refused = new Set<Buffer>();
    const tcRunOf = (data: Buffer) => {
      try {
        tcRun(dp.pipeline.tc!, data);
      } catch (e) {
        if ((e as { code?: string }).code !== 'PW_ERR_INVALID') throw e;
        refused.add(data);
      }
    };
    let compared = 0;
    for (const file of captures) {
      const path = join(pcapDir, file);
      const packets = readCapture(path).packets.map((p) => p.data);
      for (const expr of FILTERS) {
        const session = CaptureSession.start(dp, { point: 'ingress', snap: 2048, expression: expr });
        let got: number[];
        try {
          got = capturedIndexes(session, packets, tcRunOf);
        } finally {
          session.stop();
        }
        const want = tcpdumpIndexes(path, expr, packets).filter((i) => !refused.has(packets[i]!));
        assert.deepEqual(got, want, `'${expr}' on ${file}`);
        compared += packets.length;
      }
    }
    assert.ok(refused.size < 10, `${refused.size} frames refused`);
    assert.ok(compared > 1000);
  });

  it('at the verdict point, records carry the decision; stopping detaches the filter', () => {
    const data = readCapture(join(pcapDir, 'dns_udp.pcap')).packets[0]!.data;
    const session = CaptureSession.start(dp, { point: 'verdict', snap: 64, expression: 'udp port 53' });
    try {
      dp.pipeline.xdp.testRunSync({ data });
      const recs = session.ring.takeAll().map((r) => decodeCaptureRecord(r, 0n, ifName));
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.point, 'verdict');
      assert.equal(recs[0]!.verdict, 'pass');
      assert.equal(recs[0]!.reason, 'no_route');
      assert.equal(recs[0]!.data.length, 64, 'cut to the snap length');
      assert.equal(recs[0]!.len, data.length);
    } finally {
      session.stop();
    }
    // Off: nothing more arrives, and a new capture can start at once.
    const again = CaptureSession.start(dp, { point: 'ingress', snap: 2048, expression: 'tcp' });
    again.stop();
    assert.equal(dp.pipeline.maps.captureCtl.get(0)!.active, 0);
  });

  it("refuses a bad expression with libpcap's message, changing nothing", () => {
    assert.throws(
      () => CaptureSession.start(dp, { point: 'ingress', snap: 2048, expression: 'tcp port banana' }),
      (e: any) => e.code === 'PW_ERR_INVALID' && /banana/.test(e.message),
    );
    assert.equal(dp.pipeline.maps.captureCtl.get(0)!.active, 0);
    assert.throws(
      () => CaptureSession.start(dp, { iface: 'lo', point: 'ingress', snap: 2048, expression: '' }),
      (e: any) => e.code === 'PW_ERR_NOT_FOUND',
    );
  });
});
