import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ErrorCatalog, PwError, fromNative } from '../../src/errors.js';

describe('error catalog', () => {
  it('gives every code its own exit code', () => {
    const exits = Object.values(ErrorCatalog).map((e) => e.exit);
    assert.equal(new Set(exits).size, exits.length);
    assert.ok(
      exits.every((e) => e > 1),
      'exit 1 is reserved for doctor verdicts and generic failure',
    );
  });

  it('maps native errno codes to catalog codes', () => {
    const native = Object.assign(new Error('bpf_map_update_elem: File exists (EEXIST)'), {
      code: 'EEXIST',
      errno: -17,
      syscall: 'bpf_map_update_elem',
    });
    const e = fromNative(native, 'update of map x');
    assert.equal(e.code, 'PW_ERR_EXISTS');
    assert.equal(e.httpStatus, 409);
    assert.equal(e.details?.errno, -17);
    assert.match(e.message, /^update of map x: /);
  });

  it('turns a verifier log into PW_ERR_VERIFIER with the log attached', () => {
    const native = Object.assign(new Error('bpf_object__load: Permission denied (EACCES)'), {
      code: 'EACCES',
      verifierLog: '0: (71) r0 = *(u8 *)(r2 +20)\ninvalid access to packet, off=20 size=1\nprocessed 2 insns',
    });
    const e = fromNative(native, 'load of x.o');
    assert.equal(e.code, 'PW_ERR_VERIFIER');
    assert.match(e.message, /invalid access to packet/);
    assert.match(String(e.details?.verifierLog), /r0 = \*\(u8 \*\)/);
  });

  it('serialises to JSON with code, message, where and hint', () => {
    const e = new PwError('PW_ERR_INVALID', 'bad prefix 10.0.0.0/33', { where: 'routes[3].prefix', hint: 'prefix length is at most 32' });
    assert.deepEqual(JSON.parse(JSON.stringify(e)), {
      code: 'PW_ERR_INVALID',
      message: 'bad prefix 10.0.0.0/33',
      where: 'routes[3].prefix',
      hint: 'prefix length is at most 32',
    });
  });
});
