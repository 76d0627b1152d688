/** IPFIX encoding (RFC 7011): message and set framing, sequence numbers, the size bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { IpfixEncoder, MAX_MESSAGE, TEMPLATE_IPV4, TEMPLATE_IPV6, type IpfixFlow } from '../../src/insight/ipfix.js';

const flow = (family: 4 | 6, i: number): IpfixFlow => ({
  family,
  src: Uint8Array.from({ length: family === 4 ? 4 : 16 }, (_, k) => (k + i) & 255),
  dst: Uint8Array.from({ length: family === 4 ? 4 : 16 }, (_, k) => (k * 3 + i) & 255),
  sport: 1000 + i,
  dport: 53,
  proto: 17,
  tcpFlags: 0,
  octets: 92 * (i + 1),
  packets: i + 1,
  startMs: 1_700_000_000_000 + i,
  endMs: 1_700_000_001_000 + i,
  ingressIfindex: 2,
  egressIfindex: 3,
  vlan: 0,
  endReason: 1,
});

/** Sets of a message: [set id, body]. */
function sets(m: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  for (let off = 16; off < m.length;) {
    const id = m.readUInt16BE(off);
    const len = m.readUInt16BE(off + 2);
    assert.ok(len >= 4 && off + len <= m.length, 'a set fits its message');
    out.push([id, m.subarray(off + 4, off + len)]);
    off += len;
  }
  return out;
}

describe('IPFIX encoding', () => {
  it('frames templates and records, counts records in the sequence number, and keeps messages under the bound', () => {
    const enc = new IpfixEncoder(7);
    const flows = [...Array.from({ length: 50 }, (_, i) => flow(4, i)), ...Array.from({ length: 30 }, (_, i) => flow(6, i))];
    const messages = enc.encode(flows, 1_700_000_002, true);
    assert.ok(messages.length > 1, 'eighty records need more than one datagram');
    let sequence = 0;
    let v4 = 0;
    let v6 = 0;
    messages.forEach((m, k) => {
      assert.equal(m.readUInt16BE(0), 10, 'version');
      assert.equal(m.readUInt16BE(2), m.length, 'length');
      assert.ok(m.length <= MAX_MESSAGE);
      assert.equal(m.readUInt32BE(4), 1_700_000_002, 'export time');
      assert.equal(m.readUInt32BE(8), sequence, 'records sent before this message');
      assert.equal(m.readUInt32BE(12), 7, 'observation domain');
      for (const [id, body] of sets(m)) {
        if (id === 2) {
          assert.equal(k, 0, 'templates go first');
          assert.equal(body.readUInt16BE(0), TEMPLATE_IPV4);
          assert.equal(body.readUInt16BE(2), 14, 'fields of the IPv4 template');
          continue;
        }
        const len = id === TEMPLATE_IPV4 ? 58 : 82; // the fields' lengths summed
        assert.equal(body.length % len, 0);
        const n = body.length / len;
        if (id === TEMPLATE_IPV4) {
          // The first field is sourceIPv4Address, packetDeltaCount sits after 4+4+2+2+1+2+8.
          assert.equal(body.readBigUInt64BE(23), BigInt(v4 + 1));
          v4 += n;
        } else {
          assert.equal(id, TEMPLATE_IPV6);
          v6 += n;
        }
        sequence += n;
      }
    });
    assert.deepEqual([v4, v6], [50, 30]);
    const next = enc.encode([flow(4, 0)], 1_700_000_003, false);
    assert.equal(next[0]!.readUInt32BE(8), 80, 'the sequence continues across calls');
    assert.deepEqual(
      sets(next[0]!).map(([id]) => id),
      [TEMPLATE_IPV4],
    );
  });

  it('sends only templates when there is nothing to report (a refresh)', () => {
    const m = new IpfixEncoder(1).encode([], 0, true);
    assert.equal(m.length, 1);
    assert.deepEqual(
      sets(m[0]!).map(([id]) => id),
      [2],
    );
    assert.deepEqual(new IpfixEncoder(1).encode([], 0, false), []);
  });
});
