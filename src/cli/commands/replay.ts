/**
 * `pathwise replay FILE`: what would this config do to this traffic? Every packet of a capture
 * runs through the real pipeline (BPF_PROG_TEST_RUN) loaded privately with the config and
 * attached nowhere; each packet's verdict, route and rule are reported, then a summary. With
 * --diff, the capture runs under both configs and the packets whose fate changes are listed.
 */
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { InvalidArgumentError, type Command } from 'commander';

import type { Config } from '../../control/config/schema.js';
import { PwError } from '../../errors.js';
import type { Collector } from '../../insight/ipfix-exporter.js';
import {
  diffReplays,
  fateOf,
  formatEndpoints,
  summarizeReplay,
  XDP_LINEAR_MAX,
  type Fate,
  type ReplayedPacket,
  type ReplaySummary,
} from '../../insight/replay.js';
import { readCaptureFile, type Capture } from '../../ops/capture-files.js';
import { replayCapture, type ReplayRun } from '../../ops/replay.js';
import { backendFor } from '../backend.js';
import { color, printJson } from '../output.js';
import { withInstance, type InstanceOptions } from './common.js';

interface ReplayCommandOptions extends InstanceOptions {
  config?: string;
  diff?: string;
  interface?: string;
  summary?: boolean;
  ipfix?: Collector;
  http?: boolean;
}

interface ConfigSource {
  config: Config;
  /** Where it came from, for the report. */
  source: string;
  baseDir: string;
}

/** The config loader, loaded when a command needs it (the schema is slow to load: see
 * control/config/defaults.ts). */
const configLoader = () => import('../../control/config/load.js');

async function configFile(file: string): Promise<ConfigSource> {
  const { loadConfigFile } = await configLoader();
  return { config: loadConfigFile(file), source: file, baseDir: dirname(resolve(file)) };
}

/** --config FILE, or else the config the instance's daemon runs. */
async function baseConfig(opts: ReplayCommandOptions): Promise<ConfigSource> {
  if (opts.config) return configFile(opts.config);
  const ops = await backendFor(opts);
  if (ops.mode === 'local') {
    throw new PwError('PW_ERR_USAGE', 'give the config to replay under with --config FILE', {
      hint: `no daemon serves instance '${opts.instance}' to take its running config from`,
    });
  }
  const running = (await ops.config()) as unknown as Record<string, unknown>;
  // The API section (tokens redacted) plays no part in a packet's fate.
  delete running.api;
  const { parseConfig } = await configLoader();
  return {
    config: parseConfig(JSON.stringify(running), `the running config of instance '${opts.instance}'`),
    source: `the daemon of instance '${opts.instance}'`,
    baseDir: process.cwd(),
  };
}

/** "192.0.2.1:4739", "[2001:db8::1]:4739"; the port defaults to IPFIX's 4739. */
function parseCollector(v: string): Collector {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(v);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3] ?? 4739);
  if (!host || isIP(host) === 0 || port < 1 || port > 65535)
    throw new InvalidArgumentError('--ipfix takes ADDRESS[:PORT], e.g. 127.0.0.1:4739 or [::1]:4739');
  return { host, port };
}

function replayUnder(
  src: ConfigSource,
  capture: Capture,
  opts: ReplayCommandOptions & { export?: boolean },
  signal: AbortSignal,
): Promise<ReplayRun> {
  return replayCapture(src.config, src.baseDir, capture, {
    ingress: opts.interface,
    signal,
    ipfix: opts.export ? opts.ipfix : undefined,
    http: opts.export && opts.http,
  });
}

function fateText(f: Fate): string {
  const verdict =
    f.verdict === 'drop' ? color.red(f.verdict) : f.verdict === 'redirect' || f.verdict === 'tx' ? color.green(f.verdict) : f.verdict;
  const parts = [verdict];
  if (f.egress) parts.push(`→ ${f.egress}${f.via ? ` via ${f.via}` : ''}`);
  if (f.reason !== 'none') parts.push(`(${f.reason})`);
  if (f.route) parts.push(color.dim(`route ${f.route}`));
  if (f.rule) parts.push(color.dim(`rule ${f.rule}`));
  return parts.join(' ');
}

function printPacket(p: ReplayedPacket): void {
  const flags = p.tcpFlags !== null ? ` [${p.tcpFlags}]` : '';
  const vlan = p.vlan ? ` vlan ${p.vlan}` : '';
  const cut = p.caplen < p.len ? color.dim(` (${p.caplen} of ${p.len} bytes captured)`) : '';
  const bad = p.malformed
    ? color.yellow(p.beyondBuffer ? ` MALFORMED (longer than one XDP buffer of ${XDP_LINEAR_MAX} bytes)` : ' MALFORMED')
    : '';
  console.log(`${String(p.n).padStart(5)} ${p.time} ${formatEndpoints(p)}${flags}${vlan} len ${p.len}${cut}  ${fateText(fateOf(p))}${bad}`);
}

function printSummary(s: ReplaySummary): void {
  const list = (m: Record<string, number>) =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '-';
  console.log(color.bold(`${s.packets} packets`) + (s.malformed ? color.yellow(`, ${s.malformed} malformed`) : ''));
  console.log(`  verdicts: ${list(s.verdicts)}`);
  console.log(`  reasons:  ${list(s.reasons)}`);
  console.log(`  routes:   ${list(s.routes)}`);
  console.log(`  egress:   ${list(s.egress)}`);
  console.log(`  rules:    ${list(s.rules)}`);
}

/** "seconds.microseconds", as the packets' times. */
const usTime = (us: number) => `${Math.floor(us / 1e6)}.${String(Math.round(us % 1e6)).padStart(6, '0')}`;

function httpReport(h: NonNullable<ReplayRun['http']>) {
  return {
    http: h.transactions.map((t) => ({
      client: `${formatHostPort(t.client, t.clientPort)}`,
      server: `${formatHostPort(t.server, t.serverPort)}`,
      method: t.method,
      host: t.host,
      uri: t.uri,
      version: t.version,
      ...(t.apiVersion !== null ? { apiVersion: t.apiVersion } : {}),
      ...(t.status !== undefined ? { status: t.status } : {}),
      requestTime: usTime(t.requestUs),
      ...(t.responseUs !== undefined ? { responseTime: usTime(t.responseUs), latencyMs: t.latencyUs! / 1000 } : {}),
      ...(t.requestBytes !== undefined ? { requestBytes: t.requestBytes } : {}),
      ...(t.responseBytes !== undefined ? { responseBytes: t.responseBytes } : {}),
    })),
    tls: h.tls.map((x) => ({
      client: formatHostPort(x.client, x.clientPort),
      server: formatHostPort(x.server, x.serverPort),
      sni: x.sni,
      alpn: x.alpn,
      time: usTime(x.tsUs),
    })),
    httpStats: { ...h.stats, segmentsLost: h.segmentsLost },
  };
}

const formatHostPort = (addr: string, port: number) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

function printHttp(r: ReturnType<typeof httpReport>): void {
  for (const t of r.http) {
    const status = t.status !== undefined ? String(t.status) : color.yellow('---');
    const lat = t.latencyMs !== undefined ? color.dim(` ${t.latencyMs.toFixed(3)} ms`) : '';
    console.log(`${t.requestTime} ${t.client} → ${t.server}  ${t.method} ${t.host ?? '-'}${t.uri} ${t.version}  ${status}${lat}`);
  }
  for (const x of r.tls) console.log(`${x.time} ${x.client} → ${x.server}  TLS ${x.sni ?? '(no server name)'} ${x.alpn.join(',')}`);
  const s = r.httpStats;
  console.log(
    color.bold(`${s.transactions} HTTP transactions`) +
      `, ${s.tlsHellos} TLS hellos; unparsed: ${s.unparsedRequests} requests, ${s.unparsedResponses} responses, ${s.orphanResponses} responses without a request` +
      (s.segmentsLost ? color.yellow(`; ${s.segmentsLost} segments lost (ring full)`) : ''),
  );
}

export function registerReplay(program: Command): void {
  withInstance(
    program
      .command('replay')
      .description('run every packet of a capture through the pipeline under a config (nothing is attached or sent) and report each fate')
      .argument('<file>', 'capture file (pcap or pcapng) to replay')
      .option('--config <file>', "the config to replay under (default: the running daemon's)")
      .option('--diff <file>', 'a second config: list the packets whose fate it changes')
      .option('-i, --interface <name>', 'the interface the packets arrive on (for rules that match one; default: loopback)')
      .option('--summary', 'print only the summary, not every packet')
      .option('--http', 'report the HTTP transactions and TLS server names the pipeline saw (every TCP port), instead of each packet')
      .option(
        '--ipfix <address:port>',
        'send the flows of the replay (under --config) as IPFIX to this collector, timed by the capture',
        parseCollector,
      ),
  ).action(async (file: string, opts: ReplayCommandOptions) => {
    if (opts.http && opts.diff)
      throw new PwError('PW_ERR_USAGE', '--http and --diff do not go together', { hint: 'replay each config with --http on its own' });
    const capture = readCaptureFile(file, { partial: true });
    const base = await baseConfig(opts);
    const other = opts.diff ? await configFile(opts.diff) : undefined;
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const baseRun = await replayUnder(base, capture, { ...opts, export: true }, abort.signal);
      const before = baseRun.packets;
      const after = other ? (await replayUnder(other, capture, opts, abort.signal)).packets : undefined;
      const interrupted = abort.signal.aborted;
      const report = {
        file,
        linktype: capture.linktype,
        config: base.source,
        ...(capture.damage ? { damage: capture.damage } : {}),
        ...(interrupted ? { interrupted: true } : {}),
        ...(baseRun.exported !== undefined
          ? { ipfix: { collector: `${opts.ipfix!.host}:${opts.ipfix!.port}`, records: baseRun.exported } }
          : {}),
      };
      if (baseRun.http) {
        const withHttp = { ...report, ...httpReport(baseRun.http) };
        if (opts.json) printJson(withHttp);
        else printHttp(withHttp);
      } else if (after) {
        const changes = diffReplays(before, after);
        if (opts.json) {
          printJson({ ...report, diff: other!.source, changes, before: summarizeReplay(before), after: summarizeReplay(after) });
        } else {
          for (const c of changes) {
            console.log(`${String(c.n).padStart(5)} ${formatEndpoints(c.packet)}  ${fateText(c.before)}  ⇒  ${fateText(c.after)}`);
          }
          console.log(color.bold(`${changes.length} of ${before.length} packets change fate`) + ` from ${base.source} to ${other!.source}`);
        }
      } else if (opts.json) {
        printJson({ ...report, ...(opts.summary ? {} : { packets: before }), summary: summarizeReplay(before) });
      } else {
        if (!opts.summary) before.forEach(printPacket);
        printSummary(summarizeReplay(before));
      }
      if (!opts.json && report.ipfix)
        process.stderr.write(`${report.ipfix.records} flow records sent as IPFIX to ${report.ipfix.collector}\n`);
      if (!opts.json && capture.damage)
        process.stderr.write(color.yellow(`${file}: ${capture.damage}; the packets before it were replayed\n`));
      if (!opts.json && interrupted) process.stderr.write(color.yellow('interrupted: the packets replayed so far are shown\n'));
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}
