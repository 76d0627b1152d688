/** `pathwise api`: API usage seen in the packets (the daemon's HTTP insight). */
import { Command, InvalidArgumentError } from 'commander';

import type { UsageDimension, UsageRow } from '../../insight/api-usage.js';
import { USAGE_DIMENSIONS, type ApiUsageReport } from '../../ops/api-insight.js';
import { parseDuration } from '../../util/duration.js';
import { backendFor } from '../backend.js';
import { color, printJson, printTable } from '../output.js';
import { positiveInt, withInstance, type InstanceOptions } from './common.js';

function dimensions(v: string): UsageDimension[] {
  const dims = v.split(',').map((s) => s.trim());
  const bad = dims.find((d) => !(USAGE_DIMENSIONS as string[]).includes(d));
  if (bad) throw new InvalidArgumentError(`--by takes ${USAGE_DIMENSIONS.join(', ')} (comma-separated); not '${bad}'`);
  return [...new Set(dims)] as UsageDimension[];
}

function window(v: string): string {
  let ms: number;
  try {
    ms = parseDuration(v, '--since');
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  if (ms < 1000 || ms > 3_600_000) throw new InvalidArgumentError('--since takes 1s to 1h (usage is kept for an hour)');
  return v;
}

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(0));
const classes = (r: UsageRow) =>
  ['2xx', '3xx', '4xx', '5xx', 'none']
    .filter((c) => r.statusClasses[c])
    .map((c) => `${c} ${r.statusClasses[c]}`)
    .join(' ') || '-';

function printUsage(r: ApiUsageReport): void {
  const s = r.insight;
  if (!s.enabled) console.log(color.yellow('HTTP insight is off: set insight.http.ports in the config'));
  const head = r.by.map((d) => d.toUpperCase());
  printTable(
    [...head, 'REQS', 'RATE/s', 'STATUS', 'P50ms', 'P95ms', 'P99ms', 'TOP CALLER'],
    r.rows.map((row) => [
      ...r.by.map((d) => String((row as unknown as Record<string, unknown>)[d] ?? '-')),
      String(row.requests),
      row.rate.toFixed(2),
      classes(row),
      ms(row.latencyMs.p50),
      ms(row.latencyMs.p95),
      ms(row.latencyMs.p99),
      row.topCallers?.[0] ? `${row.topCallers[0].source} (${row.topCallers[0].requests})` : '-',
    ]),
  );
  console.log(
    color.dim(
      `last ${r.sinceSeconds}s; ${s.transactions} transactions, unparsed ${s.unparsedRequests} requests / ${s.unparsedResponses} responses` +
        (s.segmentsLost ? `; ${s.segmentsLost} segments lost (ring full)` : ''),
    ),
  );
}

export function registerApi(program: Command): void {
  const api = program
    .command('api')
    .description('API usage seen in the packets: requests, versions, status, latency, callers (needs the daemon)');

  withInstance(
    api
      .command('usage', { isDefault: true })
      .description('requests, rate, status classes, latency p50/p95/p99 and top callers, grouped')
      .option('--by <dims>', `group by ${USAGE_DIMENSIONS.join(', ')} (comma-separated)`, dimensions, ['api'] as UsageDimension[])
      .option('--since <dur>', 'the window, up to 1h', window, '1h'),
  ).action(async (opts: InstanceOptions & { by: UsageDimension[]; since: string }) => {
    const r = await (await backendFor(opts)).apiUsage({ by: opts.by, since: opts.since });
    if (opts.json) return printJson(r);
    printUsage(r);
  });

  withInstance(
    api
      .command('versions')
      .description('who still calls which version of each API, and how often')
      .option('--since <dur>', 'the window, up to 1h', window, '1h'),
  ).action(async (opts: InstanceOptions & { since: string }) => {
    const r = await (await backendFor(opts)).apiVersions({ since: opts.since });
    if (opts.json) return printJson(r);
    printTable(
      ['API', 'VERSION', 'REQS', 'RATE/s', 'CALLERS', 'LAST SEEN', 'TOP CALLERS'],
      r.versions.map((v) => [
        v.api,
        v.version ?? '-',
        String(v.requests),
        v.rate.toFixed(2),
        String(v.callers),
        v.lastSeen,
        v.topCallers.map((c) => `${c.source} (${c.requests})`).join(', '),
      ]),
    );
  });

  withInstance(
    api
      .command('recent')
      .description('the latest HTTP transactions, oldest first')
      .option('--limit <n>', 'how many', positiveInt('--limit', 2000), 20),
  ).action(async (opts: InstanceOptions & { limit: number }) => {
    const r = await (await backendFor(opts)).apiRecent({ limit: opts.limit });
    if (opts.json) return printJson(r);
    for (const t of r.transactions) {
      const lat = t.latencyUs !== undefined ? `${(t.latencyUs / 1000).toFixed(3)} ms` : '';
      console.log(
        `${new Date(t.requestUs / 1000).toISOString()} ${t.client}:${t.clientPort} ${t.method} ${t.host ?? '-'}${t.uri} → ${t.status ?? color.yellow('---')} ${color.dim(`${t.api} v${t.apiVersion ?? '-'} ${lat}`)}`,
      );
    }
  });
}
