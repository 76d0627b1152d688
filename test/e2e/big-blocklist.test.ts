/**
 * A daemon with a blocklist file of 250,000 prefixes, IPv4 and IPv6: every entry listed once
 * through the paged API (three pages, cut from one walk), an unrelated edit that changes no
 * block, and a file edited by three lines that is three changes, found by comparing the whole
 * list with what runs. The list is written in batches (Reconciler.applyRun) and compared as
 * sorted numbers (planBlocks): this checks both against the kernel's own maps. The metrics
 * count both lists whole. Then 100,000 prefixes blocked and unblocked through the API in one
 * request each.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  cli,
  createDaemonLab,
  destroyDaemonLab,
  request,
  routerConfig,
  socketOf,
  startDaemon,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';

const V4 = 240_000;
const V6 = 10_000;
const v4 = (i: number) => `${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`;
const v6 = (i: number) => `2001:db8:${(i + 1).toString(16)}::/48`; // canonical: no :0:

describe('a daemon with a 250,000-prefix blocklist', { skip: privilegedSkip(), timeout: 10 * 60_000 }, () => {
  let lab: DaemonLab | undefined;
  let daemon: RunningDaemon | undefined;
  let listFile = '';
  let prefixes: string[] = [];
  const pw = (...args: string[]) => cli([...args, '--instance', lab!.instance]);
  const listed = () => {
    const r = pw('block', 'list', '--json');
    assert.equal(r.status, 0, r.stderr);
    return (r.json() as { prefix: string; origin: string }[]).map((b) => {
      assert.equal(b.origin, 'config');
      return b.prefix;
    });
  };
  const writeList = (list: string[]) => writeFileSync(listFile, `# a big list\n${list.join('\n')}\n`);

  before(async () => {
    lab = createDaemonLab('bb');
    listFile = join(lab.dir, 'blocklist.txt');
    prefixes = [...Array.from({ length: V4 }, (_, i) => v4(i)), ...Array.from({ length: V6 }, (_, i) => v6(i))];
    writeList(prefixes);
    writeFileSync(lab.configFile, routerConfig(lab.topo, lab.instance, `blocklists:\n  - file: ${listFile}\n`));
    daemon = await startDaemon(lab.ns.r, lab.configFile, join(lab.dir, 'state'));
  });

  after(() => destroyDaemonLab(lab, daemon));

  it('lists every prefix of the file once, across pages', () => {
    const list = listed();
    assert.equal(list.length, V4 + V6);
    assert.deepEqual(new Set(list), new Set(prefixes));
  });

  it('counts the blocklists whole in /metrics (read in turns of the event loop)', async () => {
    const metrics = (await request({ socketPath: socketOf(lab!.instance) }, 'GET', '/metrics')).text;
    assert.match(metrics, new RegExp(`^pathwise_map_entries\\{map="pw_block4"\\} ${V4}$`, 'm'));
    assert.match(metrics, new RegExp(`^pathwise_map_entries\\{map="pw_block6"\\} ${V6}$`, 'm'));
  });

  it('an unrelated edit changes no block', () => {
    const r = pw('route', 'add', 'blackhole', '10.99.0.0/16', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.json().changes.map((c: { kind: string; op: string; key: string }) => `${c.kind} ${c.op} ${c.key}`),
      ['route add 10.99.0.0/16'],
    );
  });

  it('a file edited by three lines is three block changes, and the list then matches it', () => {
    const next = prefixes.filter((p) => p !== v4(1234) && p !== v6(77));
    next.push('198.51.100.0/24');
    writeList(next);
    const d = pw('diff', '-f', lab!.configFile, '--json');
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(
      d
        .json()
        .changes.map((c: { kind: string; op: string; key: string }) => `${c.kind} ${c.op} ${c.key}`)
        .sort(),
      ['block add 198.51.100.0/24', `block delete ${v4(1234)}`, `block delete ${v6(77)}`, 'route delete 10.99.0.0/16'],
    );
    const a = pw('apply', '-f', lab!.configFile, '--json');
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.json().changes.length, 4);
    assert.deepEqual(new Set(listed()), new Set(next));
    assert.deepEqual(pw('diff', '-f', lab!.configFile, '--json').json().changes, [], 'nothing left to do');
  });

  it('blocks and unblocks 100,000 prefixes in one request each (1.7 MB), all or none', async () => {
    const api = (method: string, body: unknown) => request({ socketPath: socketOf(lab!.instance) }, method, '/v1/blocklist', body);
    const batch = Array.from({ length: 100_000 }, (_, i) => `${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
    const before = listed().length;
    const added = await api('POST', { prefixes: batch });
    assert.equal(added.status, 200, added.text.slice(0, 300));
    assert.equal(listed().length, before + batch.length);
    // One prefix not listed refuses the whole batch.
    const refused = await api('DELETE', { prefixes: [...batch.slice(1), '192.0.2.0/24'] });
    assert.equal(refused.status, 404);
    assert.match(refused.json.error.message, /^192\.0\.2\.0\/24 is not in the config's blocklists; nothing was unblocked$/);
    assert.equal(listed().length, before + batch.length);
    const removed = await api('DELETE', { prefixes: batch });
    assert.equal(removed.status, 200, removed.text.slice(0, 300));
    assert.equal(listed().length, before);
    // A TTL under a second (or empty) is refused, not a block that ends as it begins.
    for (const ttl of ['0s', '500ms', '']) {
      const r = await api('POST', { prefixes: ['192.0.2.0/24'], ttl });
      assert.equal(r.status, 400, `ttl '${ttl}': ${r.text.slice(0, 300)}`);
      assert.equal(r.json.error.where, 'body.ttl');
    }
    assert.equal(listed().length, before);
  });
});
