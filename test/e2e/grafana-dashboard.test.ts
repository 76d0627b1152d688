/**
 * The Grafana dashboard (packaging/grafana-dashboard.json) and the alerting rules
 * (packaging/prometheus-alerts.yml) against a real Prometheus (Debian's) scraping the real
 * daemon: the load-balancing lab (src/netlab/lb-lab.ts) with connections through its service.
 * Every query must be one Prometheus accepts and name only metrics the daemon exports; the
 * dashboard's, for the features this lab runs, must return series, and its load-balancing
 * panels show what the clients did; every rule must evaluate, and a backend whose server is
 * killed must raise PathwiseBackendDown.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parse } from 'yaml';

import { repoRoot } from '../../src/util/paths.js';
import { LbDaemonLab, lbBackend, webService } from '../helpers/lb-daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const READER = 'grafana-reader-token-0123456789';
/** Ports on the router namespace's own loopback. */
const API_PORT = 9101;
const PROM_PORT = 9090;

interface Target {
  panel: string;
  expr: string;
}

const ALERTS = join(repoRoot, 'packaging', 'prometheus-alerts.yml');
const dashboard = JSON.parse(readFileSync(join(repoRoot, 'packaging', 'grafana-dashboard.json'), 'utf8'));
const targets: Target[] = [
  ...dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => ({ panel: p.title, expr: t.expr }))),
  ...dashboard.annotations.list.filter((a: any) => a.expr).map((a: any) => ({ panel: `annotation ${a.name}`, expr: a.expr })),
];
/** Panels of features this lab does not configure (paths, webhooks, named APIs): their queries are checked, not their data. */
const NOT_IN_LAB = new Set([
  'Path RTT',
  'Path loss',
  'Share of new flows by path',
  'Path state and decisions',
  'Webhook deliveries',
  'API requests by status',
  'API latency',
]);

/** The dashboard's variables as Grafana fills them with "All". */
const withVariables = (expr: string) => expr.replaceAll('$service', '.*');

describe('the Grafana dashboard against Prometheus and the daemon', { skip, timeout: 5 * 60_000 }, () => {
  let l: LbDaemonLab;
  const backends = [1, 2, 3].map((k) => `${lbBackend(k)}:8080`);

  /** curl in the router's namespace (the daemon and Prometheus listen on its loopback). */
  const curl = (...args: string[]) => l.topo.exec(l.lab.router, 'curl', args);
  const prom = (path: string) => JSON.parse(curl('-sS', `http://127.0.0.1:${PROM_PORT}${path}`));
  /** The metric names a query uses that the daemon does not export (histograms by their series' suffixes). */
  let exported: Set<string> | undefined;
  const unknownMetrics = (expr: string) => {
    exported ??= new Set(
      [...curl('-sSf', '-H', `Authorization: Bearer ${READER}`, `http://127.0.0.1:${API_PORT}/metrics`).matchAll(/^# TYPE (\S+) /gm)].map(
        (m) => m[1]!,
      ),
    );
    return [...expr.matchAll(/pathwise_[a-z0-9_]+/g)]
      .map(([n]) => n)
      .filter((n) => !exported!.has(n) && !exported!.has(n.replace(/_(bucket|sum|count)$/, '')));
  };

  /** An instant query to the lab's Prometheus. */
  const query = (
    expr: string,
  ): { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } } =>
    JSON.parse(curl('-sS', '-G', '--data-urlencode', `query=${withVariables(expr)}`, `http://127.0.0.1:${PROM_PORT}/api/v1/query`));

  before(async () => {
    l = await LbDaemonLab.start(
      'gf',
      webService(backends, '    health: { interval: 200ms }'),
      4, // the lab's interfaces (the config names all five); the service uses three
      `api:
  listen: [{ host: 127.0.0.1, port: ${API_PORT} }]
  tokens:
    - { name: grafana, token: ${READER}, role: readonly }`,
    );
    const config = join(l.dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ['${ALERTS}']
scrape_configs:
  - job_name: pathwise
    authorization: { credentials: ${READER} }
    static_configs: [{ targets: ['127.0.0.1:${API_PORT}'] }]
`,
    );
    const prom = l.topo.spawn(l.lab.router, 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(l.dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${PROM_PORT}`,
      '--log.level=warn',
    ]);
    let log = '';
    prom.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = l.topo.exec(
        l.lab.router,
        'curl',
        ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${PROM_PORT}/-/ready`],
        {
          allowFail: true,
        },
      );
      if (ready === '200') break;
      if (prom.exitCode !== null || Date.now() > deadline) throw new Error(`prometheus did not start:\n${log}`);
      await sleep(200);
    }
  });
  after(() => l?.stop());

  it('every query is valid PromQL over metrics the daemon exports, and the panels of what runs here show it', async (t) => {
    // Prometheus takes its targets a few seconds after it starts: traffic and the drain (a new
    // config version, for the annotation) only once it has scraped the daemon twice.
    const deadline = Date.now() + 30_000;
    while (Number(query('count_over_time(up[1m])').data?.result[0]?.value[1] ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error('Prometheus has not scraped the daemon after 30 s');
      await sleep(250);
    }
    const r = l.count(3000);
    assert.deepEqual(r.errors, {}, 'every connection answered');
    const drain = l.pw('service', 'drain', 'web', backends[2]!, '--json');
    assert.equal(drain.status, 0, drain.stderr);
    await sleep(3500);

    const targetsUp = prom('/api/v1/targets').data.activeTargets.map((x: any) => [x.health, x.lastError]);
    assert.deepEqual(targetsUp, [['up', '']], 'Prometheus scrapes the daemon with the read-only token');

    for (const { panel, expr } of targets) assert.deepEqual(unknownMetrics(expr), [], `${panel}: metrics the daemon does not export`);
    let withData = 0;
    for (const { panel, expr } of targets) {
      const q = query(expr);
      assert.equal(q.status, 'success', `${panel}: ${expr}: ${q.error}`);
      if (NOT_IN_LAB.has(panel)) continue;
      assert.ok(q.data!.result.length > 0, `${panel}: ${expr} returns no series`);
      withData++;
    }
    t.diagnostic(`${targets.length} queries valid, ${withData} with series (${NOT_IN_LAB.size} panels of features not in this lab)`);

    // The load-balancing panels show what the clients did.
    const byBackend = (expr: string) =>
      Object.fromEntries(query(expr).data!.result.map((s) => [s.metric.backend ?? s.metric.service, Number(s.value[1])]));
    const panelExpr = (title: string, i = 0) => targets.filter((x) => x.panel === title)[i]!.expr;
    const conns = byBackend(panelExpr('New connections by backend'));
    t.diagnostic(`new connections per second by backend: ${JSON.stringify(conns)}`);
    for (const b of backends) assert.ok(conns[b]! > 0, `${b} took connections: ${JSON.stringify(conns)}`);
    assert.deepEqual(byBackend(panelExpr('Backends up')), Object.fromEntries(backends.map((b) => [b, 1])), 'all three backends up');
    const share = byBackend(panelExpr('Share of new connections (Maglev table)'));
    assert.equal(share[backends[2]!], 0, `the drained backend gets no new connections: ${JSON.stringify(share)}`);
    assert.ok(Math.abs(share[backends[0]!]! - 0.5) < 0.01, `the other two half each: ${JSON.stringify(share)}`);
    assert.deepEqual(
      Object.keys(byBackend(panelExpr('Share of new connections (Maglev table)', 1))),
      [backends[2]],
      'the drained one is marked',
    );
    const rtt = byBackend(panelExpr('Health check round trip'));
    for (const b of backends) assert.ok(rtt[b]! > 0 && rtt[b]! < 1, `${b}'s check round trip in seconds: ${JSON.stringify(rtt)}`);
  });

  it('the alerting rules: promtool accepts them, each evaluates, and a killed backend raises PathwiseBackendDown', async (t) => {
    const check = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const rules = () => prom('/api/v1/rules').data.groups.flatMap((g: any) => g.rules) as any[];
    const written = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    for (const r of written) assert.deepEqual(unknownMetrics(r.expr), [], `${r.alert}: metrics the daemon does not export`);
    assert.deepEqual(
      rules().map((r) => r.name),
      written.map((r) => r.alert),
      'Prometheus loaded every rule',
    );

    // The first backend's HTTP server dies: its checks (every 200 ms, 3 falls) take it out.
    const server = l.lab.backends[0]!.servers[0]!;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGKILL');
    await exited;
    const deadline = Date.now() + 30_000;
    const alertOf = (name: string) => rules().find((r) => r.name === name)!;
    while (!alertOf('PathwiseBackendDown').alerts.length) {
      if (Date.now() > deadline)
        throw new Error(`no PathwiseBackendDown 30 s after the kill: ${JSON.stringify(alertOf('PathwiseBackendDown'))}`);
      await sleep(250);
    }
    await sleep(2000); // two more evaluations of every rule, with the backend down
    const all = rules();
    for (const r of all) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError}`);
    const active = Object.fromEntries(
      all.filter((r) => r.alerts.length).map((r) => [r.name, r.alerts.map((a: any) => [a.labels.backend, a.state])]),
    );
    t.diagnostic(`active: ${JSON.stringify(active)}`);
    // Only the dead backend; the service still has one backend up and not drained, so it is not without backends.
    assert.deepEqual(active, { PathwiseBackendDown: [[backends[0], 'pending']] });
  });
});
