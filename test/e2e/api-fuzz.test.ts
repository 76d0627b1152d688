/**
 * The REST API under fuzzed requests (test/fuzz/api.ts makes them from the daemon's own
 * OpenAPI description): the daemon in its own namespace answers each with a result or a 4xx
 * whose body names the error (a PW_ERR_ code and a message), never a 5xx; a refused change
 * leaves the config version, the rules, the rate limiters, the routes and the services as they
 * were (the blocklist is not watched: what the fuzz blocked for a while may expire meanwhile);
 * and at the end the daemon is alive and logged no bug (an uncaught exception or an unhandled
 * rejection, which it survives but must not have). Then the same requests on a TCP listener
 * with tokens (test/fuzz/api-auth-run.ts judges them): each role gets what it may and no
 * more, whatever the header's form. AF_SEED and AF_N run other seeds and lengths.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { fuzzRequests, operationsOf, stateChanges, stateOf, type FuzzRequest } from '../fuzz/api.js';
import { request, socketOf, startDaemon, stopDaemon } from '../helpers/daemon.js';
import { bugsLogged, startFuzzLab, stopFuzzLab, type FuzzLab } from '../helpers/fuzz-lab.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const AUTH_RUN = join(dirname(fileURLToPath(import.meta.url)), '..', 'fuzz', 'api-auth-run.js');

const send = (socketPath: string, r: FuzzRequest) =>
  request({ socketPath }, r.method, r.path, r.body, undefined, { raw: r.raw, contentType: r.contentType });

describe('the REST API under fuzzed requests', { skip, timeout: 10 * 60_000 }, () => {
  let lab: FuzzLab | undefined;
  let instance = '';

  before(async () => {
    lab = await startFuzzLab('af');
    instance = lab.instance;
  });
  after(() => stopFuzzLab(lab));

  it('answers 3,000 fuzzed requests with a result or a named 4xx, a refusal changing nothing (seed 1)', async (t) => {
    const sock = socketOf(instance);
    const get = async (path: string) => (await send(sock, { method: 'GET', path })).json;
    const state = () => stateOf(get);
    const ops = operationsOf(await get('/openapi.json'));
    assert.ok(ops.length > 40, `${ops.length} operations`);
    const findings: string[] = [];
    const statuses: Record<string, number> = {};
    // Gateway logs taken, the seals they led to (the follower's decisions), and those of the
    // lab's exempt prefixes (decisions.exempt: answered, not applied).
    const logs = { taken: 0, seals: 0, exempt: 0 };
    let i = 0;
    for (const r of fuzzRequests(ops, Number(process.env.AF_SEED ?? 1), Number(process.env.AF_N ?? 3_000), {
      configText: lab!.configText,
      interfaces: lab!.interfaces,
    })) {
      const what = `#${i++} ${r.method} ${r.path.slice(0, 120)} ${(r.raw ?? JSON.stringify(r.body) ?? '').slice(0, 300)}`;
      const before = r.method === 'GET' ? null : await state();
      const a = await send(sock, r);
      statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      if (a.status === 200 && r.path.startsWith('/v1/gateway/logs?')) {
        logs.taken++;
        for (const x of a.json?.results ?? []) logs[x.status === 'exempt' ? 'exempt' : 'seals']++;
      }
      if (a.status >= 500) findings.push(`${what}: ${a.status} ${a.text.slice(0, 300)}`);
      else if (a.status >= 400) {
        const e = a.json?.error;
        if (typeof e?.code !== 'string' || !/^PW_ERR_[A-Z_]+$/.test(e.code) || typeof e.message !== 'string' || !e.message)
          findings.push(`${what}: ${a.status} without a named error: ${a.text.slice(0, 300)}`);
        else if (before) {
          const diff = stateChanges(before, await state());
          if (diff.length) findings.push(`${what}: refused (${e.code}) but the state changed: ${diff.join('; ')}`);
        }
      }
      if (findings.length >= 10) break;
    }
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}; gateway logs taken ${logs.taken}, seals ${logs.seals}, exempt ${logs.exempt}`);
    assert.deepEqual(findings, []);
    // The logs reached the follower, and some of them far enough to seal.
    assert.ok(logs.taken > 20 && logs.seals > 0, JSON.stringify(logs));
    assert.equal((await send(sock, { method: 'GET', path: '/healthz' })).status, 200);
    assert.equal(lab!.daemon.child.exitCode, null, 'the daemon is alive');
    assert.deepEqual(bugsLogged(lab!.daemon), [], 'the daemon logged no bug');
    // Enough of the requests were well-formed to reach past the schema checks.
    assert.ok((statuses['200'] ?? 0) + (statuses['201'] ?? 0) > 300, JSON.stringify(statuses));
  });

  it('answers 2,000 more, 16 at a time, the same way: changes racing each other are refused or done whole (seed 2)', async (t) => {
    const sock = socketOf(instance);
    const ops = operationsOf((await send(sock, { method: 'GET', path: '/openapi.json' })).json);
    const findings: string[] = [];
    const statuses: Record<string, number> = {};
    const requests = [
      ...fuzzRequests(ops, Number(process.env.AF_SEED ?? 1) + 1, Number(process.env.AF_N ?? 3_000) - 1_000, {
        configText: lab!.configText,
        interfaces: lab!.interfaces,
      }),
    ];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const a = await send(sock, r);
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        const e = a.json?.error;
        if (a.status >= 500 || (a.status >= 400 && !/^PW_ERR_[A-Z_]+$/.test(e?.code ?? '')))
          findings.push(`${r.method} ${r.path.slice(0, 120)}: ${a.status} ${a.text.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
    assert.deepEqual(findings.slice(0, 10), []);
    // The last version recorded is what the daemon runs, and that config checks out whole.
    const status = (await send(sock, { method: 'GET', path: '/v1/status' })).json;
    const config = (await send(sock, { method: 'GET', path: '/v1/config' })).json;
    const last = (await send(sock, { method: 'GET', path: `/v1/history/${status.version}` })).json;
    assert.deepEqual(last.config, config, 'the last version recorded is the config in force');
    const dry = await send(sock, { method: 'POST', path: '/v1/config', body: { text: JSON.stringify(config), dryRun: true } });
    assert.equal(dry.status, 200, `the running config checks out: ${dry.text.slice(0, 300)}`);
    assert.equal(lab!.daemon.child.exitCode, null, 'the daemon is alive');
    assert.deepEqual(bugsLogged(lab!.daemon), [], 'the daemon logged no bug');
  });

  it('holds every token to its role over 2,000 fuzzed requests on its TCP listener, in any header form (seed 3)', async (t) => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const token = (role: string) => `${role}-${randomBytes(12).toString('hex')}`;
    const [admin, readonly, gateway] = [token('admin'), token('readonly'), token('gateway')];
    const { configText, configFile, dir, ns } = lab!;
    const text = `${configText}api:
  listen: [{ host: 127.0.0.1, port: ${port} }]
  tokens:
    - { name: ops, token: ${admin}, role: admin }
    - { name: grafana, token: ${readonly}, role: readonly }
    - { name: kong, token: ${gateway}, role: gateway }
`;
    // Listeners are opened at start: the daemon restarts on the config that has them.
    writeFileSync(configFile, text);
    await stopDaemon(lab!.daemon);
    lab!.daemon = await startDaemon(ns, configFile, join(dir, 'state'));
    // The listener is on the daemon's namespace's loopback: the client runs there.
    const seed = Number(process.env.AF_SEED ?? 1) + 2;
    const out = lab!.topo.exec(ns, process.execPath, [
      AUTH_RUN,
      String(port),
      admin,
      readonly,
      gateway,
      String(seed),
      String(Number(process.env.AF_N ?? 3_000) - 1_000),
    ]);
    const r = JSON.parse(out) as { statuses: Record<string, number>; findings: string[] };
    t.diagnostic(`statuses (as whom: status): ${JSON.stringify(r.statuses)}`);
    assert.deepEqual(r.findings, []);
    // Each kind of caller was refused, and each role had requests go through.
    for (const k of ['none:401', 'readonly:403', 'gateway:403', 'readonly:200', 'gateway:200', 'admin:200'])
      assert.ok((r.statuses[k] ?? 0) > 10, `${k}: ${r.statuses[k] ?? 0}`);
    assert.equal(lab!.daemon.child.exitCode, null, 'the daemon is alive');
  });
});
