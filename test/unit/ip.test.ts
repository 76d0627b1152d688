/**
 * IPv4 address parsing (util/ip.ts) against its definition: four parts of 1-3 decimal digits,
 * each at most 255, split on dots. The parser is a character loop; the definition here is the
 * plain one, and both must agree on random strings built from the characters that matter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseAddress, parseIpv4, parsePrefix, specialAddressKind } from '../../src/util/ip.js';
import { rng } from '../helpers/rng.js';

function reference(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

describe('IPv4 parsing', () => {
  it('reads what the definition reads and refuses what it refuses', () => {
    const cases = [
      '0.0.0.0',
      '255.255.255.255',
      '10.0.0.1',
      '010.001.0.9',
      '1.2.3',
      '1.2.3.4.',
      '.1.2.3',
      '1..2.3',
      '256.0.0.1',
      '1.2.3.1000',
    ];
    cases.push('1.2.3.4 ', ' 1.2.3.4', '1.2.3.+4', '1.2.3.4/24', '', '1.2.3.٣', '0x1.2.3.4', '1e2.0.0.1', '999.9.9.9');
    for (const s of cases) assert.equal(parseIpv4(s), reference(s), JSON.stringify(s));
    const r = rng(3);
    const alphabet = '0123456789....25 x';
    for (let i = 0; i < 200_000; i++) {
      let s = '';
      const n = 1 + Math.floor(r() * 17);
      for (let k = 0; k < n; k++) s += alphabet[Math.floor(r() * alphabet.length)];
      assert.equal(parseIpv4(s), reference(s), JSON.stringify(s));
    }
    // Near-addresses: 3 to 5 parts of 0 to 4 digits, most of them valid.
    let valid = 0;
    for (let i = 0; i < 100_000; i++) {
      const parts = Array.from({ length: 3 + Math.floor(r() * 3) }, () => String(Math.floor(r() * 300)).slice(0, Math.floor(r() * 5)));
      const s = parts.join('.');
      assert.equal(parseIpv4(s), reference(s), JSON.stringify(s));
      if (reference(s) !== null) valid++;
    }
    assert.ok(valid > 10_000, `${valid} valid addresses among the near-addresses`);
  });

  it('keeps prefixes strict: length in range, no host bits', () => {
    assert.equal(parsePrefix('10.1.0.0/16').v4, 0x0a010000);
    assert.throws(() => parsePrefix('10.1.0.1/16'), /host bits/);
    assert.throws(() => parsePrefix('10.1.0.0/33'), /prefix length/);
    assert.throws(() => parsePrefix('10.1.0/16'), /not an IPv4 or IPv6 address/);
  });
});

describe('special addresses', () => {
  it('names the kernel’s martians and nothing else', () => {
    const kind = (text: string) => {
      const a = parseAddress(text);
      return specialAddressKind(a.family, a.addr);
    };
    const cases: [string, ReturnType<typeof specialAddressKind>][] = [
      ['0.0.0.0', 'unspecified'],
      ['0.255.0.1', 'this-network'],
      ['127.0.0.1', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.255', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['1.0.0.0', null],
      ['10.1.2.3', null],
      ['126.255.255.255', null],
      ['128.0.0.0', null],
      ['223.255.255.255', null],
      ['240.0.0.1', null],
      ['255.255.255.254', null],
      ['::', 'unspecified'],
      ['::1', 'loopback'],
      ['ff02::1', 'multicast'],
      ['ff0e::1:2', 'multicast'],
      ['::2', null],
      ['::ffff:0.0.0.0', null],
      ['fe80::1', null],
      ['2001:db8::', null],
      ['fe00::1', null],
    ];
    for (const [text, want] of cases) assert.equal(kind(text), want, text);
  });
});
