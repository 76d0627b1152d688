/** `pathwise gateway follow`: a gateway's rejections, followed in its log, become seals at XDP. */
import { Command, InvalidArgumentError } from 'commander';

import { PwError } from '../../errors.js';
import { parseSealPer } from '../../filter/decision.js';
import { ADAPTER_NAMES, ADAPTERS } from '../../gateway/adapters.js';
import { DEFAULT_POLICY, type FollowPolicy } from '../../gateway/follower.js';
import { followGatewayLog } from '../../ops/gateway-follow.js';
import { parseTtl } from '../../util/duration.js';
import { backendFor } from '../backend.js';
import { color } from '../output.js';
import { positiveInt, usage, withInstance, type InstanceOptions } from './common.js';

interface FollowCliOptions extends InstanceOptions {
  nginxLog?: string;
  log?: string;
  format: string;
  statuses: number[];
  threshold: number;
  window: number;
  ttl: number;
  maxTtl: number;
  action: 'block' | 'limit';
  rate?: number;
  burst?: number;
  per: { per4: number; per6: number };
  source?: string;
  fromStart?: boolean;
  dryRun?: boolean;
}

const statusesOf = (v: string): number[] => {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (!out.length || out.some((n) => !Number.isInteger(n) || n < 100 || n > 599))
    throw new InvalidArgumentError(`--statuses takes HTTP statuses, comma-separated (e.g. 429,403); not '${v}'`);
  return out;
};
const ms = (flag: string) => usage((v: string) => parseTtl(v, flag));

export function registerGateway(program: Command): void {
  const gateway = program.command('gateway').description("an API gateway's decisions moved down to XDP");
  withInstance(
    gateway
      .command('follow')
      .description(
        "follow a gateway's access log: a source it keeps rejecting (429/403) is sealed at XDP with a TTL, doubled on each new offense",
      )
      .option('--nginx-log <file>', "nginx's access log (JSON lines with escape=json, or the combined format)")
      .option('--log <file>', 'a log in --format')
      .option('--format <name>', `the log's format: ${ADAPTER_NAMES.join(', ')}`, 'nginx')
      .option('--statuses <list>', 'statuses that mean rejected', statusesOf, DEFAULT_POLICY.statuses)
      .option(
        '--threshold <n>',
        'rejections of a source within --window that seal it',
        positiveInt('--threshold', 1_000_000),
        DEFAULT_POLICY.threshold,
      )
      .option('--window <dur>', 'the window the rejections are counted in', ms('--window'), DEFAULT_POLICY.windowMs)
      .option('--ttl <dur>', "a first seal's length", ms('--ttl'), DEFAULT_POLICY.ttlMs)
      .option('--max-ttl <dur>', 'the longest a seal grows to by escalation', ms('--max-ttl'), DEFAULT_POLICY.maxTtlMs)
      .option('--action <action>', 'block, or limit (with --rate)', 'block')
      .option('--rate <pps>', 'limit: packets per second for the source as a whole', Number)
      .option('--burst <n>', 'limit: packets above the rate at once', positiveInt('--burst', 1_000_000))
      .option(
        '--per <what>',
        "a source: 'address', or prefix lengths like /24 or /24,/56",
        usage((v: string) => parseSealPer(v, '--per')),
        {
          per4: 32,
          per6: 128,
        },
      )
      .option('--source <tag>', 'the decisions source tag (default: the format name)')
      .option('--from-start', 'read the log from its start (default: from its end)')
      .option('--dry-run', 'print the decisions, send none'),
  ).action(async (opts: FollowCliOptions) => {
    const file = opts.nginxLog ?? opts.log;
    if (!file) throw new InvalidArgumentError('give the log: --nginx-log FILE, or --log FILE --format NAME');
    const format = opts.nginxLog ? 'nginx' : opts.format;
    const adapter = ADAPTERS[format];
    if (!adapter) throw new InvalidArgumentError(`--format takes ${ADAPTER_NAMES.join(', ')}; not '${format}'`);
    if (opts.action !== 'block' && opts.action !== 'limit') throw new InvalidArgumentError("--action takes 'block' or 'limit'");
    if (opts.action === 'limit' && !(opts.rate! > 0)) throw new InvalidArgumentError('--action limit needs --rate (packets per second)');
    const policy: FollowPolicy = {
      statuses: opts.statuses,
      threshold: opts.threshold,
      windowMs: opts.window,
      ttlMs: opts.ttl,
      maxTtlMs: Math.max(opts.ttl, opts.maxTtl),
      action: opts.action,
      ...(opts.action === 'limit' ? { rate: opts.rate, burst: opts.burst ?? Math.max(1, Math.ceil(opts.rate!)) } : {}),
      ...opts.per,
    };
    const ops = await backendFor(opts);
    // Seals are the daemon's (kept, expired, audited): without one only a dry run makes sense.
    if (ops.mode !== 'daemon' && !opts.dryRun)
      throw new PwError('PW_ERR_NOT_RUNNING', `no daemon serves instance '${opts.instance}': seals are the daemon's`, {
        hint: "start one with 'pathwise daemon --config FILE' (or give --server URL --token T); --dry-run shows the decisions without it",
      });
    const stop = new AbortController();
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
    if (!opts.json)
      console.error(
        color.dim(
          `following ${file} (${format}): ${policy.threshold} x ${policy.statuses.join('/')} within ${policy.windowMs / 1000}s seals a source for ${policy.ttlMs / 1000}s${opts.dryRun ? ' (dry run)' : ''}`,
        ),
      );
    const stats = await followGatewayLog(
      ops,
      { file, adapter, policy, tag: opts.source ?? format, fromStart: opts.fromStart, dryRun: opts.dryRun },
      {
        signal: stop.signal,
        onDecision(d, r) {
          if (opts.json)
            return void process.stdout.write(
              `${JSON.stringify({ type: 'decision', at: new Date().toISOString(), decision: d, result: r })}\n`,
            );
          const held = r ? ` -> ${r.status}, held: ${r.held}` : ' (dry run)';
          console.log(`${new Date().toISOString()} ${d.action} ${d.target} for ${d.ttl}s: ${d.reason}${held}`);
        },
        onError(e) {
          if (opts.json)
            return void process.stdout.write(`${JSON.stringify({ type: 'error', at: new Date().toISOString(), error: e.toJSON() })}\n`);
          console.error(color.yellow(`${e.message}${e.hint ? ` (${e.hint})` : ''}; following goes on`));
        },
      },
    );
    if (opts.json) process.stdout.write(`${JSON.stringify({ type: 'stats', ...stats })}\n`);
    else
      console.error(
        color.dim(
          `${stats.entries} entries, ${stats.rejections} rejections, ${stats.decisions} decisions, ${stats.whileSealed} while sealed`,
        ),
      );
  });
}
