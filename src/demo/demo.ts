/**
 * `make demo`: a client, a router running the Pathwise daemon, and two upstreams with the same
 * service behind them, all in network namespaces. The daemon loads examples/demo.yaml;
 * traffic (ICMP, UDP, TCP) flows client → service through the router's XDP path, with the
 * kernel's forwarding off so only Pathwise forwards. A live view shows routes with rates,
 * drops by reason and the top flows until Ctrl-C (or DEMO_SECONDS), then everything created
 * is removed. Exits 0 only if traffic really crossed the XDP path.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { repoRoot } from '../util/paths.js';
import { ApiClient } from '../client/api-client.js';
import type { FlowsReport } from '../ops/insight.js';
import { SERVICE, buildRouterLab } from '../netlab/router-lab.js';
import { Topology, leaveSignalsToCaller, sh } from '../netlab/topology.js';

const seconds = Number(process.env.DEMO_SECONDS ?? 0);
const tty = process.stdout.isTTY && !seconds;
const bin = join(repoRoot, 'bin', 'pathwise');
const traffic = join(repoRoot, 'dist', 'src', 'netlab', 'traffic.js');

const fmtRate = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

async function main(): Promise<number> {
  leaveSignalsToCaller();
  const topo = new Topology('demo');
  const instance = `demo-${topo.prefix.slice(-6)}`;
  topo.recordInstance(instance);
  const dir = mkdtempSync(join(tmpdir(), 'pathwise-demo-'));
  let daemon: ChildProcess | undefined;
  const cleanup = async () => {
    // The daemon first (the data plane keeps forwarding without it), then the data plane.
    if (daemon && daemon.exitCode === null && !daemon.signalCode) {
      const exited = new Promise((res) => daemon!.once('exit', res));
      daemon.kill('SIGTERM');
      await exited;
    }
    sh(bin, ['--netns', topo.name('R'), 'down', '--instance', instance], { allowFail: true });
    topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    console.log('demo: building the topology (client — router — two upstreams)…');
    const { client: c, router: r, upstream1: u1, upstream2: u2 } = buildRouterLab(topo);

    // The example config, with this run's interface names and instance.
    const example = readFileSync(join(repoRoot, 'examples', 'demo.yaml'), 'utf8');
    const config = example.replace(/^instance: .*$/m, `instance: ${instance}`).replace(/pwdemo-(r\d)/g, (_, x: string) => topo.name(x));
    const configFile = join(dir, 'pathwise.yaml');
    writeFileSync(configFile, config);

    console.log(`demo: starting the daemon in the router namespace with ${configFile}`);
    daemon = topo.spawn(undefined, bin, [
      '--netns',
      r,
      'daemon',
      '--config',
      configFile,
      '--state-dir',
      join(dir, 'state'),
      '--log-level',
      'warn',
    ]);
    let daemonLog = '';
    daemon.stderr!.on('data', (d) => (daemonLog += d));
    daemon.stdout!.on('data', (d) => (daemonLog += d));
    const client = await waitForDaemon(
      instance,
      () => daemon!.exitCode,
      () => daemonLog,
    );

    // Servers behind both upstreams, then the client's traffic.
    for (const u of [u1, u2]) {
      topo.spawn(u, process.execPath, [traffic, 'udp-sink', '9000']);
      topo.spawn(u, process.execPath, [traffic, 'tcp-serve', '8080']);
    }
    const long = String(seconds || 24 * 3600);
    topo.spawn(c, 'ping', ['-q', '-i', '0.2', '-w', long, SERVICE]);
    for (let k = 0; k < 4; k++) topo.spawn(c, process.execPath, [traffic, 'udp-send', SERVICE, '9000', '500', long, String(41000 + k)]);
    topo.spawn(c, process.execPath, [traffic, 'udp-send', SERVICE, '7777', '50', long]); // dropped by rule 1
    topo.spawn(c, process.execPath, [traffic, 'udp-send', SERVICE, '8888', '2000', long]); // rate-limited by rule 2
    topo.spawn(c, process.execPath, [traffic, 'tcp-talk', SERVICE, '8080', long]);

    console.log(
      `demo: API: ${client.where}  (try: pathwise status --instance ${instance}; curl --unix-socket ${client.where} http://x/metrics)`,
    );
    console.log(`demo: metrics: GET /metrics on that socket; config version history: pathwise history --instance ${instance}`);
    console.log(seconds ? `demo: running for ${seconds} s` : 'demo: live view; Ctrl-C to stop and clean up');

    const stop = new Promise<void>((res) => {
      process.once('SIGINT', () => res());
      process.once('SIGTERM', () => res());
      if (seconds) setTimeout(res, seconds * 1000);
    });
    let prev = new Map<string, number>();
    let prevAt = Date.now();
    let stopped = false;
    void stop.then(() => (stopped = true));
    while (!stopped) {
      await Promise.race([stop, new Promise((res) => setTimeout(res, 1000))]);
      const [routes, stats, flows] = await Promise.all([
        client.request<
          {
            prefix: string;
            packets: number;
            bytes: number;
            nexthops: { via: string | null; dev: string; weight: number }[];
            origin: string;
          }[]
        >('GET', '/v1/routes?stats=true&user=true'),
        client.request<{ name: string; packets: Record<string, number>; reasons: Record<string, number> }[]>('GET', '/v1/stats'),
        client.request<FlowsReport>('GET', '/v1/flows?top=8'),
      ]);
      const now = Date.now();
      const dt = (now - prevAt) / 1000;
      const rate = (key: string, v: number) => {
        const r = prev.has(key) ? (v - prev.get(key)!) / dt : 0;
        return r;
      };
      const next = new Map<string, number>();
      const lines: string[] = [];
      lines.push(`Pathwise demo — instance ${instance} — ${new Date().toLocaleTimeString()}`);
      lines.push('', 'ROUTES                 pkts/s    total  nexthops');
      for (const rt of routes) {
        next.set(`route ${rt.prefix}`, rt.packets);
        lines.push(
          `  ${rt.prefix.padEnd(18)} ${fmtRate(rate(`route ${rt.prefix}`, rt.packets)).padStart(8)} ${String(rt.packets).padStart(8)}  ${rt.nexthops.map((n) => `${n.via ?? ''}@${n.dev}×${n.weight}`).join(' ')}`,
        );
      }
      lines.push('', 'PACKETS BY INTERFACE (verdicts) AND REASON');
      for (const s of stats) {
        const verdicts = Object.entries(s.packets)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        const reasons = Object.entries(s.reasons)
          .filter(([k]) => k !== 'none')
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        lines.push(`  ${s.name.padEnd(14)} ${verdicts}${reasons ? `  | ${reasons}` : ''}`);
      }
      lines.push('', 'TOP FLOWS (bytes)');
      for (const f of flows.flows) {
        const rtt = f.handshake ? `  rtt ${f.handshake.rttMs.toFixed(2)} ms` : '';
        lines.push(
          `  ${`${f.src}:${f.sport}`.padEnd(22)} → ${`${f.dst}:${f.dport}`.padEnd(20)} ${f.proto.padEnd(5)} ${String(f.packets).padStart(8)} pkts ${String(f.bytes).padStart(10)} B  ${f.verdict}${f.reason !== 'none' ? ` (${f.reason})` : ''}${f.oif ? ` → ${f.oif}` : ''}${rtt}`,
        );
      }
      prev = next;
      prevAt = now;
      if (tty) process.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`);
      else if (!seconds) process.stdout.write(`${lines.join('\n')}\n\n`);
    }

    // The verdict: traffic must have crossed the XDP path (redirected by the pipeline).
    const stats = await client.request<{ name: string; packets: Record<string, number>; reasons: Record<string, number> }[]>(
      'GET',
      '/v1/stats',
    );
    const redirected = stats.reduce((a, s) => a + (s.packets.redirect ?? 0), 0);
    const dropped = stats.reduce((a, s) => a + (s.packets.drop ?? 0), 0);
    const routes = await client.request<{ prefix: string; packets: number }[]>('GET', '/v1/routes?stats=true&user=true');
    const viaService = routes.find((x) => x.prefix === '10.220.0.0/16')?.packets ?? 0;
    console.log(
      `\ndemo: XDP redirected ${redirected} packets (${viaService} by the service route); dropped ${dropped} by rules and rate limits`,
    );
    for (const s of stats)
      console.log(
        `  ${s.name}: ${Object.entries(s.reasons)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
    const ok = redirected > 0 && viaService > 0;
    console.log(ok ? 'demo: OK — traffic flowed through the XDP path' : 'demo: FAILED — no traffic crossed the XDP path');
    if (!ok) console.log(daemonLog);
    return ok ? 0 : 1;
  } finally {
    console.log('demo: removing the namespaces, the pinned data plane and temporary files');
    await cleanup();
  }
}

async function waitForDaemon(instance: string, exitCode: () => number | null, log: () => string): Promise<ApiClient> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode() !== null) throw new Error(`the daemon exited (${exitCode()}):\n${log()}`);
    const client = ApiClient.find({ instance });
    if (client) {
      try {
        await client.request('GET', '/healthz');
        return client;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) throw new Error(`the daemon did not start within 60 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`demo: ${(e as Error).message}`);
    process.exit(1);
  },
);
