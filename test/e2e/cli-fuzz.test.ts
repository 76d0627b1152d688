/**
 * The CLI under fuzzed command lines (test/fuzz/cli-args.ts makes them from the CLI's own
 * command tree), against a daemon in its own namespace. Each run must end on its own, with 0
 * or an exit code of the error catalog (never 70, an internal error, and never a signal), with
 * no stack trace; a failure must name its error (`error: ...`, or under --json an object with
 * a PW_ERR_ code and a message on stderr), a success under --json must print JSON; a refused
 * change must leave the config version, rules, rate limiters, routes and services as they
 * were. At the end the daemon is alive and logged no bug. CLI_SEED and CLI_N run other seeds
 * and lengths; CLI_LOG=FILE writes each command line and how it ended (to find what led up to
 * a finding).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { buildProgram, jsonAsked } from '../../src/cli/main.js';
import { ErrorCatalog } from '../../src/errors.js';
import { stateChanges, stateOf } from '../fuzz/api.js';
import { commandsOf, fuzzCommandLines } from '../fuzz/cli-args.js';
import { cli, request, socketOf } from '../helpers/daemon.js';
import { bugsLogged, startFuzzLab, stopFuzzLab, type FuzzLab } from '../helpers/fuzz-lab.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();

/** Commands that only read: nothing to compare after they fail. */
const READS =
  /^(route (list|lookup)|stats|neigh list|path \w+|rule list|block list|ratelimit list|service list|flows \w+|api \w+|decision list|audit|status|diff|history|config show|doctor)$/;
const EXITS = new Set<number>(Object.values(ErrorCatalog).map((e) => e.exit));
const STACK = /\n\s+at .*:\d+:\d+\)?$/m;

/** Whether `text` is JSON, or JSON lines. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    const lines = text.split('\n').filter(Boolean);
    try {
      return lines.length > 0 && lines.every((l) => JSON.parse(l) !== undefined);
    } catch {
      return false;
    }
  }
}

/**
 * What is wrong with one run's ending, or null. `valueFlags`: the command's options that take
 * a value (`--cert --json` gives --cert the value '--json' and asks for no JSON).
 */
function judgeRun(
  words: string[],
  valueFlags: Set<string>,
  r: { status: number | null; stdout: string; stderr: string; signal: string | null },
): string | null {
  if (r.status === null) return `ended by ${r.signal ?? 'a timeout'}`;
  if (!EXITS.has(r.status) && r.status !== 0) return `exit ${r.status}, not one of the catalog's`;
  if (r.status === ErrorCatalog.PW_ERR_INTERNAL.exit) return 'an internal error';
  if (STACK.test(r.stderr) || STACK.test(r.stdout)) return 'a stack trace';
  // A failure is reported as main() decides before parsing; a success as the command took it.
  const json = jsonAsked(words);
  if (r.status !== 0) {
    if (!json) return /^error: \S/.test(r.stderr) ? null : 'a failure that names no error';
    try {
      const e = JSON.parse(r.stderr).error;
      return /^PW_ERR_[A-Z_]+$/.test(e.code) && typeof e.message === 'string' && e.message ? null : 'a JSON error without code or message';
    } catch {
      return 'a failure under --json whose stderr is not JSON';
    }
  }
  if (json && !valueFlags.has(words[words.indexOf('--json') - 1]!) && r.stdout.trim() && !isJson(r.stdout))
    return 'a success under --json whose output is not JSON';
  return null;
}

describe('the CLI under fuzzed command lines', { skip, timeout: 10 * 60_000 }, () => {
  let lab: FuzzLab | undefined;

  before(async () => {
    lab = await startFuzzLab('cf');
  });
  after(() => stopFuzzLab(lab));

  it('changes all or nothing through the daemon: block del and detach with one that is not there, a service on a taken address (bugs the fuzz found)', async () => {
    const { ns, instance } = lab!;
    const pw = (...args: string[]) => cli(['--netns', ns, ...args, '--instance', instance, '--json']);
    assert.equal(pw('apply', '-f', lab!.configFile).status, 0, 'the lab as configured');
    const version = () => pw('status').json().version as number;
    const blocked = () => (pw('block', 'list').json() as { prefix: string }[]).map((b) => b.prefix).sort();
    assert.equal(pw('block', 'add', '192.0.2.10', '192.0.2.11').status, 0);
    const attached = () => (pw('status').json().interfaces as { name: string }[]).map((i) => i.name);
    const before = { version: version(), blocked: blocked(), attached: attached() };
    assert.deepEqual(before.attached, [lab!.interfaces[0]]);
    const del = pw('block', 'del', '192.0.2.10/32', '192.0.2.99/32', '192.0.2.11/32');
    assert.equal(del.status, ErrorCatalog.PW_ERR_NOT_FOUND.exit, del.stderr);
    assert.match(JSON.parse(del.stderr).error.message, /192\.0\.2\.99\/32 is not in the config's blocklists/);
    const detach = pw('detach', lab!.interfaces[0]!, 'nosuch0');
    assert.equal(detach.status, ErrorCatalog.PW_ERR_NOT_FOUND.exit, detach.stderr);
    assert.deepEqual({ version: version(), blocked: blocked(), attached: attached() }, before, 'nothing changed');
    // A refused service (its address is web's) stays out of the config in force: the next
    // change goes through (it failed on the service before, the fuzz found).
    const syn = pw('service', 'add', 'syn', '10.77.0.9:80/tcp', '--backend', '10.77.0.2:8080');
    assert.equal(syn.status, ErrorCatalog.PW_ERR_INVALID.exit, syn.stderr);
    assert.match(JSON.parse(syn.stderr).error.message, /services\.syn\.address: service 'web' has 10\.77\.0\.9:80\/tcp too/);
    assert.equal(pw('config', 'show').json().services.syn, undefined);
    assert.deepEqual({ version: version(), blocked: blocked(), attached: attached() }, before, 'nothing changed');
    // Given only what is there, each goes through whole, as one version.
    assert.equal(pw('block', 'del', '192.0.2.10/32', '192.0.2.11/32', '192.0.2.10').status, 0);
    assert.deepEqual([version(), blocked()], [before.version + 1, before.blocked.filter((p) => !p.startsWith('192.0.2.1'))]);
  });

  it('ends 600 fuzzed command lines with a result or a named error, a refused change changing nothing (seed 1)', async (t) => {
    const { dir, configText, configFile, ns, instance } = lab!;
    const lines = configText.split('\n');
    const files = {
      'cut.yaml': lines.slice(0, 7).join('\n'),
      'misplaced.yaml': [...lines.slice(0, 4), '  - { name: 1 }', ...lines.slice(4)].join('\n'),
      'routes.txt': '10.9.5.0/24 via 10.77.0.2\nfd00:9:5::/48 via fd77::2\nblackhole 10.9.6.0/24\n',
      'routes-bad.txt': '10.9.7.0/24 via 10.77.0.2\n10.9.8.0/33 via 10.77.0.2\n',
      'blocks.txt': '192.0.2.1\n198.51.100.0/24 # a comment\nfd66::/64\n',
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    mkdirSync(join(dir, 'subdir'), { recursive: true });
    const sock = socketOf(instance);
    const state = () => stateOf(async (path) => (await request({ socketPath: sock }, 'GET', path)).json);

    const commands = commandsOf(await buildProgram());
    assert.ok(commands.length > 40, `${commands.length} commands`);
    const seed = Number(process.env.CLI_SEED ?? 1);
    const n = Number(process.env.CLI_N ?? 600);
    const findings: string[] = [];
    const exits: Record<string, number> = {};
    let i = 0;
    for (const words of fuzzCommandLines(commands, seed, n, {
      interfaces: lab!.interfaces,
      socket: sock,
      files: [configFile, ...Object.keys(files).map((f) => join(dir, f)), join(dir, 'subdir')],
    })) {
      const { path, options } = commands.find((c) => c.path.join(' ') === words.slice(0, c.path.length).join(' '))!;
      const argv = ['--netns', ns, ...path, '--instance', instance, ...words.slice(path.length)];
      const what = `#${i++} pathwise ${argv.slice(2).join(' ').slice(0, 300)}`;
      const changes = !READS.test(path.join(' '));
      const before = changes ? await state() : null;
      const r = cli(argv, {}, 30_000);
      exits[r.status ?? 'signal'] = (exits[r.status ?? 'signal'] ?? 0) + 1;
      if (process.env.CLI_LOG)
        appendFileSync(process.env.CLI_LOG, `${what} => ${r.status} ${r.stderr.slice(0, 400).replace(/\n/g, ' ')}\n`);
      const wrong = judgeRun(words, new Set(options.filter((o) => o.value).map((o) => o.flag)), r);
      if (wrong) findings.push(`${what}: ${wrong}: exit ${r.status}\n${r.stderr.slice(0, 600)}${r.stdout.slice(0, 300)}`);
      else if (before && r.status !== 0) {
        const diff = stateChanges(before, await state());
        if (diff.length)
          findings.push(`${what}: refused (exit ${r.status}: ${r.stderr.slice(0, 300)}) but the state changed: ${diff.join('; ')}`);
      }
      if (findings.length >= 10) break;
    }
    t.diagnostic(`exit codes: ${JSON.stringify(exits)}`);
    assert.deepEqual(findings, []);
    assert.equal(lab!.daemon.child.exitCode, null, 'the daemon is alive');
    assert.deepEqual(bugsLogged(lab!.daemon), [], 'the daemon logged no bug');
    // Enough command lines were well-formed to reach past the argument checks.
    assert.ok((exits['0'] ?? 0) > n / 6, JSON.stringify(exits));
  });
});
