/** The CLI's contract with scripts: exit codes by failure kind, JSON errors with --json. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { repoRoot } from '../../src/util/paths.js';

const run = (...args: string[]) => spawnSync(join(repoRoot, 'bin', 'pathwise'), args, { encoding: 'utf8' });

describe('pathwise CLI', () => {
  it('prints help and exits 0', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: pathwise/);
    assert.match(r.stdout, /doctor/);
  });

  it('exits 2 with a hint on an unknown command', () => {
    const r = run('frobnicate');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
    assert.match(r.stderr, /pathwise --help/);
  });

  it("names a group's unknown command, its commands and its help", () => {
    const r = run('route', 'lst');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'lst' for 'pathwise route' \(did you mean list\?\)/);
    assert.match(r.stderr, /its commands: add, replace, del, list, load, lookup; see 'pathwise route --help'/);
    // A group with a default command (flows runs flows list) once passed the word to it:
    // "too many arguments for 'list'".
    const d = run('flows', 'top', '--json');
    assert.equal(d.status, 2);
    const body = JSON.parse(d.stderr);
    assert.equal(body.error.message, "unknown command 'top' for 'pathwise flows'");
    assert.equal(body.error.hint, "its commands: list, talkers, summary; see 'pathwise flows --help'");
    // Named, the default command's own arguments are its own to refuse.
    assert.match(run('flows', 'list', 'top').stderr, /too many arguments for 'list'[^]*see 'pathwise flows list --help'/);
    assert.match(run('route', 'add').stderr, /missing required argument 'route'[^]*see 'pathwise route add --help'/);
  });

  it('sends a config to the daemon of the instance the file names, unless --instance says otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-cli-unit-'));
    try {
      const file = join(dir, 'edge.yaml');
      writeFileSync(file, 'instance: edge7\n');
      for (const verb of ['diff', 'apply']) {
        const r = spawnSync(join(repoRoot, 'bin', 'pathwise'), [verb, '-f', file, '--json'], {
          encoding: 'utf8',
          env: { ...process.env, PATHWISE_INSTANCE: undefined },
        });
        assert.equal(r.status, 12, r.stderr);
        assert.equal(JSON.parse(r.stderr).error.message, "no daemon serves instance 'edge7'", verb);
      }
      const named = run('diff', '-f', file, '--instance', 'other', '--json');
      assert.equal(JSON.parse(named.stderr).error.message, "no daemon serves instance 'other'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports usage errors as JSON under --json', () => {
    const r = run('doctor', '--json', '--no-such-flag');
    assert.equal(r.status, 2);
    const body = JSON.parse(r.stderr);
    assert.equal(body.error.code, 'PW_ERR_USAGE');
    assert.match(body.error.message, /--no-such-flag/);
  });

  it('refuses a token no Authorization header can carry, before any request (the CLI fuzz found exit 70)', () => {
    for (const token of ['💥', 'a b']) {
      const r = run('stats', '--server', 'http://127.0.0.1:1', '--token', token, '--json');
      assert.equal(r.status, 2, r.stderr);
      assert.match(JSON.parse(r.stderr).error.message, /--token must be printable ASCII without spaces/);
    }
  });

  it('refuses a TTL under a second before it touches anything (a block for 0s was reported and gone at once)', () => {
    for (const args of [
      ['block', 'add', '192.0.2.0/24', '--ttl', '0s'],
      ['block', 'load', '/dev/null', '--ttl', '500ms'],
      ['ratelimit', 'add', 'l', '--rate', '10', '--block-after', '3', '--block-for', '0s'],
    ]) {
      const r = run(...args, '--instance', 'pw-never-loaded', '--json');
      assert.equal(r.status, 3, r.stderr);
      assert.match(JSON.parse(r.stderr).error.message, /is under 1s: what it times would end at once/);
    }
    const r = run('gateway', 'follow', '--log', '/dev/null', '--window', '0s', '--json');
    assert.equal(r.status, 2, r.stderr);
    assert.match(JSON.parse(r.stderr).error.message, /--window .* '0s' is under 1s/);
  });
});
