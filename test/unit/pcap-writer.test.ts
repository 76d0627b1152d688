/** Capture files: created 0600 (they hold packet payloads), never written through a symbolic link. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { openPcapWriter } from '../../src/kernel/pcap.js';

describe('capture files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-pcap-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('are created readable by their owner only, even over an existing file', () => {
    const fresh = join(dir, 'fresh.pcap');
    openPcapWriter(fresh).close();
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
    const existing = join(dir, 'existing.pcap');
    writeFileSync(existing, 'old', { mode: 0o644 });
    openPcapWriter(existing).close();
    assert.equal(statSync(existing).mode & 0o777, 0o600);
  });

  it('are never written through a symbolic link', () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'precious');
    const link = join(dir, 'link.pcap');
    symlinkSync(target, link);
    assert.throws(() => openPcapWriter(link), /is a symbolic link/);
    assert.equal(readFileSync(target, 'utf8'), 'precious');
  });
});
