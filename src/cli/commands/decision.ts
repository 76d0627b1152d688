/**
 * `pathwise decision`: blocks and seals with a TTL, as operational state (the daemon keeps,
 * applies and audits them); and `pathwise audit`, the trail of everything decided.
 */
import { Command, InvalidArgumentError } from 'commander';

import type { AuditKind, AuditRecord } from '../../control/audit.js';
import { AUDIT_KINDS, auditJsonLines } from '../../ops/audit.js';
import type { Decision, DecisionResult } from '../../control/decisions.js';
import type { DecisionInput } from '../../filter/decision.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { backendFor } from '../backend.js';
import { color, printJson, printTable } from '../output.js';
import { positiveInt, usage, withInstance, type InstanceOptions } from './common.js';

interface AddOptions extends InstanceOptions {
  ttl?: string;
  rate?: number;
  burst?: number;
  api?: string;
  reason?: string;
  id?: string;
  source?: string;
}

const rateOf = (v: string) => {
  const n = Number(v.replace(/\/s$/, ''));
  if (!(n > 0)) throw new InvalidArgumentError(`--rate takes packets per second, e.g. 100 or 100/s; not '${v}'`);
  return n;
};

function left(d: Decision): string {
  if (d.state !== 'active') return d.state;
  return d.expiresAt ? `${formatDuration(Math.max(0, Date.parse(d.expiresAt) - Date.now()))} left` : 'active';
}

function printResults(results: DecisionResult[]): void {
  for (const r of results) {
    const d = r.decision;
    const what = d.action === 'limit' ? `limit ${d.target} to ${d.rate}/s (burst ${d.burst})` : `${d.action} ${d.target}`;
    const held = r.held === 'config' ? color.yellow(' (a config blocklist entry holds it)') : '';
    const revoked = r.revoked?.length ? color.dim(` (ended ${r.revoked.join(', ')})`) : '';
    const exempt = r.status === 'exempt' ? color.yellow(` (not applied: ${d.endedBy})`) : '';
    console.log(`${r.status}: ${what}${d.expiresAt ? ` until ${d.expiresAt}` : ''} ${color.dim(`id ${d.id}`)}${held}${revoked}${exempt}`);
  }
}

function printDecisions(list: Decision[]): void {
  if (!list.length) return console.log(color.dim('no decisions'));
  printTable(
    ['ID', 'ACTION', 'TARGET', 'RATE', 'STATE', 'SOURCE', 'API', 'REASON'],
    list.map((d) => [
      d.id,
      d.action,
      d.target,
      d.rate === undefined ? '-' : `${d.rate}/s`,
      left(d),
      d.source,
      d.api ?? '-',
      d.reason ?? '-',
    ]),
  );
}

export function registerDecision(program: Command): void {
  const decision = program
    .command('decision')
    .description('blocks and rate seals with a TTL from gateways, operators and detectors (operational state; needs the daemon)');

  const add = (action: 'block' | 'limit') =>
    withInstance(
      decision
        .command(action)
        .description(
          action === 'block'
            ? 'drop everything from an address or prefix at XDP until the TTL ends'
            : 'hold an address or prefix, as a whole, to a packet rate until the TTL ends',
        )
        .argument('<target>', 'an address or CIDR prefix')
        .option(
          '--ttl <dur>',
          'how long (default: decisions.defaultTtl, 1h)',
          usage((v) => (parseDuration(v, '--ttl'), v)),
        )
        .option('--api <name>', 'the API it is about (recorded; the whole source is held)')
        .option('--reason <text>', 'why (kept in the audit log)')
        .option('--id <id>', 'idempotency id: the same id again is answered, not applied twice')
        .option('--source <tag>', 'which gateway or tool says it (default: who asks)'),
    );
  add('block').action(async (target: string, opts: AddOptions) => submit(opts, { action: 'block', target }));
  add('limit')
    .requiredOption('--rate <pps>', 'packets per second for the target as a whole', rateOf)
    .option('--burst <n>', 'packets above the rate at once (default: one second of it)', positiveInt('--burst', 1_000_000))
    .action(async (target: string, opts: AddOptions) => submit(opts, { action: 'limit', target, rate: opts.rate, burst: opts.burst }));

  withInstance(
    decision
      .command('unblock')
      .description('end every decision in force on exactly this address or prefix')
      .argument('<target>', 'an address or CIDR prefix')
      .option('--id <id>', 'idempotency id')
      .option('--source <tag>', 'which gateway or tool says it'),
  ).action(async (target: string, opts: AddOptions) => submit(opts, { action: 'unblock', target }));

  withInstance(
    decision
      .command('list')
      .description('decisions in force (--all: ended ones too, kept 7 days)')
      .option('--all', 'revoked, expired and unblocks too')
      .option('--source <tag>', 'only from this gateway or tool')
      .option('--target <prefix>', 'only on exactly this address or prefix')
      .option('--limit <n>', 'at most this many, the newest', positiveInt('--limit', 1_000_000), 10_000),
  ).action(async (opts: InstanceOptions & { all?: boolean; source?: string; target?: string; limit: number }) => {
    // One more than asked: whether there are more is said, not left to guess.
    const backend = await backendFor(opts);
    const list = await backend.decisions({ all: opts.all, source: opts.source, target: opts.target, limit: opts.limit + 1 });
    const more = list.length > opts.limit;
    if (more) {
      list.pop();
      process.stderr.write(
        color.dim(`the newest ${opts.limit.toLocaleString('en')} shown; more match (--limit, --source, --target narrow or widen it)\n`),
      );
    }
    if (opts.json) return printJson(list);
    printDecisions(list);
  });

  withInstance(decision.command('revoke').description('end one decision now').argument('<id>')).action(
    async (id: string, opts: InstanceOptions) => {
      const d = await (await backendFor(opts)).revokeDecision(id);
      if (opts.json) return printJson(d);
      console.log(`revoked: ${d.action} ${d.target} ${color.dim(`id ${d.id}`)}`);
    },
  );

  withInstance(
    program
      .command('audit')
      .description(
        'the audit trail: decisions, anomalies, config versions, path and backend changes, webhook deliveries (needs the daemon)',
      )
      .option('--since <when>', 'from this long ago (10m, 2h, 7d) or an ISO 8601 time')
      .option('--until <when>', 'up to this long ago or time')
      .option('--subject <text>', 'a subject (a prefix, an API, a path group, service/backend, a webhook) or the start of one')
      .option('--kind <kinds>', `only these kinds: ${AUDIT_KINDS.join(', ')} (comma-separated)`, kindsOf)
      .option('--limit <n>', 'at most this many records (without --since: the newest)', positiveInt('--limit', 100_000), 1000)
      .option('--jsonl', 'one JSON record per line (for export)'),
  ).action(
    async (
      opts: InstanceOptions & { since?: string; until?: string; subject?: string; kind?: AuditKind[]; limit: number; jsonl?: boolean },
    ) => {
      const records = await (
        await backendFor(opts)
      ).audit({
        since: opts.since,
        until: opts.until,
        subject: opts.subject,
        kinds: opts.kind,
        limit: opts.limit,
        // Without a start, the latest records, as tail shows a log.
        last: opts.since === undefined,
      });
      if (opts.jsonl) return void process.stdout.write(auditJsonLines(records));
      if (opts.json) return printJson(records);
      printAudit(records);
    },
  );
}

function kindsOf(v: string): AuditKind[] {
  const kinds = v.split(',').map((s) => s.trim());
  const bad = kinds.find((k) => !(AUDIT_KINDS as string[]).includes(k));
  if (bad) throw new InvalidArgumentError(`--kind takes ${AUDIT_KINDS.join(', ')}; not '${bad}'`);
  return kinds as AuditKind[];
}

function printAudit(records: AuditRecord[]): void {
  if (!records.length) return console.log(color.dim('no records'));
  for (const r of records)
    console.log(`${color.dim(r.at)} ${r.kind.padEnd(8)} ${r.event.padEnd(9)} ${r.summary} ${color.dim(`by ${r.actor}`)}`);
}

async function submit(opts: AddOptions, d: DecisionInput): Promise<void> {
  const input: DecisionInput = {
    ...d,
    ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
    ...(opts.api !== undefined ? { api: opts.api } : {}),
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    ...(opts.id !== undefined ? { id: opts.id } : {}),
  };
  const r = await (await backendFor(opts)).submitDecisions({ ...(opts.source ? { source: opts.source } : {}), decisions: [input] });
  if (opts.json) return printJson(r);
  printResults(r.results);
}
