import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { bytesCodec, decodeOne, encodeOne, scalar } from '../../src/kernel/codec.js';
import * as pw from '../../src/generated/pathwise.js';
import * as fx from '../generated/binding-fixtures.js';

describe('codecs', () => {
  it('writes host-order integers little-endian and __be fields in network order', () => {
    assert.deepEqual([...encodeOne(scalar.u32, 0x01020304)], [4, 3, 2, 1]);
    assert.deepEqual([...encodeOne(scalar.be32, 0x01020304)], [1, 2, 3, 4]);
    assert.deepEqual([...encodeOne(scalar.be16, 0x0102)], [1, 2]);
    assert.equal(decodeOne(scalar.u64, encodeOne(scalar.u64, 2n ** 63n + 5n)), 2n ** 63n + 5n);
  });

  it('round-trips generated structs and zeroes their padding', () => {
    const key = { addr: 0xc0a80001, port: 8080, proto: 17 };
    const buf = encodeOne(fx.FxKey, key);
    assert.equal(buf.length, 8);
    assert.deepEqual([...buf], [0xc0, 0xa8, 0x00, 0x01, 0x1f, 0x90, 17, 0]);
    assert.deepEqual(decodeOne(fx.FxKey, buf), key);
    // Padding is written as zero even over dirty memory.
    const dirty = Buffer.alloc(8, 0xff);
    fx.FxKey.encode(key, new DataView(dirty.buffer, dirty.byteOffset, 8), 0);
    assert.equal(dirty[7], 0);
  });

  it('encodes arrays and nested byte fields', () => {
    const c = {
      packets: [1n, 2n, 3n, 4n, 5n],
      bytes: [0n, 0n, 0n, 0n, 9n],
      reasons: Array.from({ length: pw.PwReason.MAX }, (_, i) => BigInt(i)),
    };
    const back = decodeOne(pw.PwIfCounters, encodeOne(pw.PwIfCounters, c));
    assert.deepEqual(back, c);
    assert.equal(pw.PwIfCounters.offsets.bytes, 8 * pw.PwVerdict.MAX);
    const v = { packets: 7n, mac: Uint8Array.from([1, 2, 3, 4, 5, 6]), vlan: 12 };
    assert.deepEqual(decodeOne(fx.FxValue, encodeOne(fx.FxValue, v)), v);
  });

  it('generates enums with their C values', () => {
    assert.equal(pw.PwVerdict.DROP, 1);
    assert.equal(pw.PwReason.NOT_IP, 8);
    assert.equal(pw.PwSetting.DROP_MALFORMED, 1);
    assert.equal(pw.PwLimit.MAX_IFACES, 1024);
  });

  it('pads short byte arrays with zeros', () => {
    const c = bytesCodec(6);
    assert.deepEqual([...encodeOne(c, Uint8Array.from([1, 2]))], [1, 2, 0, 0, 0, 0]);
  });
});
