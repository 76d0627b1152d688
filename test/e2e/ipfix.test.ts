/**
 * IPFIX against nfdump's tools: captures are replayed through the pipeline with
 * `pathwise replay --ipfix`, nfcapd (in a namespace of the test's own) collects the records,
 * and nfdump must report the same flows — protocol, addresses, ports, exact packet and byte
 * counts, first and last packet times — as nfpcapd computes from the same capture. An IPv6
 * capture made here covers the IPv6 template. (Live export by the daemon, with its timeouts,
 * is in insight.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { writeCapture } from '../../src/kernel/pcap.js';
import { cli } from '../helpers/daemon.js';
import { flowOrder, nfdumpFlows, nfpcapdFlows, startNfcapd } from '../helpers/nfdump.js';
import { ipv6Packet } from '../helpers/packets.js';
import { sharedData } from '../helpers/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const PORT = 24739;

describe('IPFIX export against nfcapd and nfpcapd', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let ns = '';
  let dir = '';

  before(() => {
    topo = new Topology('ix');
    ns = topo.addNamespace('C');
    dir = mkdtempSync(join(tmpdir(), 'pw-ipfix-'));
    // Three IPv6 flows, TCP and UDP, over two seconds of capture time (not to port 53: nfpcapd
    // closes a DNS flow after each packet).
    const packets = [];
    const t0 = 1_700_000_000;
    for (let i = 0; i < 12; i++) {
      const k = i % 3;
      const data =
        k === 2
          ? ipv6Packet({
              src: '2001:db8::1',
              dst: '2001:db8:1::2',
              proto: 'tcp',
              sport: 41000,
              dport: 443,
              tcpFlags: i === 2 ? 0x02 : 0x10,
            })
          : ipv6Packet({ src: `2001:db8::${k + 1}`, dst: '2001:db8:1::53', proto: 'udp', sport: 42000 + k, dport: 5001 });
      packets.push({ data, tsSec: t0 + Math.floor(i / 6), tsUsec: (i * 83_333) % 1_000_000 });
    }
    writeCapture(join(dir, 'v6.pcap'), packets);
    writeFileSync(join(dir, 'empty.yaml'), '{}\n');
  });
  after(() => {
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const captures = [
    ['dns_tcp', join(sharedData, 'pcaps', 'dns_tcp.pcap')],
    ['dns_udp', join(sharedData, 'pcaps', 'dns_udp.pcap')],
    ['ssh', join(sharedData, 'pcaps', 'ssh.pcap')],
    ['ipv6', () => join(dir, 'v6.pcap')],
  ] as const;

  for (const [name, file] of captures) {
    it(`reports the flows of ${name} as nfpcapd computes them`, async () => {
      const pcap = typeof file === 'string' ? file : file();
      assert.ok(existsSync(pcap));
      const want = nfpcapdFlows(pcap, join(dir, `${name}-nfpcapd`)).sort(flowOrder);
      assert.ok(want.length >= 2, `nfpcapd found ${want.length} flows`);

      const collected = join(dir, `${name}-nfcapd`);
      const nfcapd = await startNfcapd(topo, ns, collected, PORT);
      let log = '';
      try {
        const r = cli([
          '--netns',
          ns,
          'replay',
          pcap,
          '--config',
          join(dir, 'empty.yaml'),
          '--summary',
          '--json',
          '--ipfix',
          `127.0.0.1:${PORT}`,
        ]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.json().ipfix.records, want.length);
      } finally {
        log = await nfcapd.stop();
      }
      const got = nfdumpFlows(collected).sort(flowOrder);
      assert.deepEqual(got, want);
      assert.match(log, /Sequence Errors: 0/, log);
      assert.match(log, /Bad Packets: 0/, log);
    });
  }
});
