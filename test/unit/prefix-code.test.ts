/**
 * IPv4 prefixes as numbers (filter/blocklist.ts), which the reconciler sorts and merges to
 * compare a million-entry blocklist with the config: each code maps back to the canonical
 * text, the order is the address's then the length's, and host bits never make two codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { code4OfText, code4Text, prefix4Code } from '../../src/filter/blocklist.js';
import { formatPrefix, parsePrefix } from '../../src/util/ip.js';

const addrOf = (p: string) => new DataView(parsePrefix(p).addr.buffer, parsePrefix(p).addr.byteOffset).getUint32(0);

describe('IPv4 prefix codes', () => {
  it('round-trips canonical texts, the extremes included', () => {
    for (const text of ['0.0.0.0/0', '255.255.255.255/32', '10.0.0.0/8', '192.0.2.128/25', '128.0.0.0/1', '1.2.3.4/32']) {
      const p = parsePrefix(text);
      const code = prefix4Code(addrOf(text), p.plen);
      assert.equal(code4Text(code), formatPrefix(p));
      assert.equal(code4OfText(formatPrefix(p)), code);
    }
    assert.equal(code4OfText('2001:db8::/32'), undefined);
    assert.equal(code4OfText('::ffff:1.2.3.0/120'), undefined);
  });

  it('clears host bits, and orders by address, then length', () => {
    assert.equal(prefix4Code(0x0a010203, 8), prefix4Code(0x0a000000, 8));
    assert.equal(code4Text(prefix4Code(0xffffffff, 31)), '255.255.255.254/31');
    const sorted = ['10.0.0.0/8', '10.0.0.0/16', '10.0.0.0/24', '10.0.1.0/24', '11.0.0.0/8', '255.255.255.255/32'];
    const codes = sorted.map((t) => code4OfText(t)!);
    assert.deepEqual([...Float64Array.from(codes).sort()], codes);
  });
});
