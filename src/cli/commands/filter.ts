import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

import { parseBlockFile } from '../../dataplane/filter-tables.js';
import { formatRule, parseRuleTokens } from '../../filter/rule.js';
import { PwError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { parsePrefix } from '../../util/ip.js';
import { color, printJson } from '../output.js';
import { daemonFor, printProposal, readVia, withDataplane, withInstance, type InstanceOptions, type ProposeResult } from './common.js';
import { configRuleOf } from '../../control/desired.js';
import { formatPrefix } from '../../util/ip.js';

const RULE_SYNTAX = 'ACTION [LIMITER] [from CIDR] [to CIDR] [proto P] [sport N[-M]] [dport N[-M]] [flags syn,!ack] [iif IF]';

function parseRate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(s);
  if (!m) throw new PwError('PW_ERR_USAGE', `invalid rate '${s}': packets per second, e.g. 100 or 100/s`, { where: '--rate' });
  return Number(m[1]);
}

function parsePer(s: string): { per4: number; per6: number } {
  if (s === 'address') return { per4: 32, per6: 128 };
  const m = /^\/(\d{1,2})(?:,\/(\d{1,3}))?$/.exec(s);
  if (!m) throw new PwError('PW_ERR_USAGE', `invalid --per '${s}': 'address', or prefix lengths like /24 or /24,/64`, { where: '--per' });
  return { per4: Number(m[1]), per6: m[2] ? Number(m[2]) : 64 };
}

export function registerFilter(program: Command): void {
  // ---- rules ---------------------------------------------------------------------------
  const rule = program.command('rule').description('ordered filter rules (first decisive match wins)');
  withInstance(
    rule
      .command('add')
      .description(`add a rule: ${RULE_SYNTAX}`)
      .argument('<rule...>')
      .option('--at <position>', 'insert at this position (1 = first); default: last'),
  ).action(async (tokens: string[], opts: InstanceOptions & { at?: string }) => {
    const spec = parseRuleTokens(tokens, (i) => `argument ${i + 1} ('${tokens[i] ?? ''}')`);
    const at = opts.at === undefined ? undefined : Number(opts.at);
    if (at !== undefined && !(Number.isInteger(at) && at >= 1)) throw new PwError('PW_ERR_USAGE', `--at must be a position from 1, got '${opts.at}'`);
    const daemon = await daemonFor(opts);
    if (daemon) {
      const p = await daemon.request<ProposeResult>('POST', '/v1/rules', { rule: configRuleOf(spec), ...(at ? { position: at } : {}) });
      return opts.json ? printJson(p) : printProposal(p);
    }
    const r = await withDataplane(opts, (dp) => dp.filter.addRule(spec, at));
    if (opts.json) return printJson({ ...r, text: formatRule(r) });
    console.log(`rule ${r.id}: ${formatRule(r)}`);
  });
  withInstance(rule.command('del').description('delete a rule by id').argument('<id>')).action(async (id: string, opts: InstanceOptions) => {
    if (!/^\d+$/.test(id)) throw new PwError('PW_ERR_USAGE', `rule id must be a number, got '${id}'`);
    const daemon = await daemonFor(opts);
    if (daemon) {
      const p = await daemon.request<ProposeResult>('DELETE', `/v1/rules/${id}`);
      return opts.json ? printJson(p) : printProposal(p);
    }
    const r = await withDataplane(opts, (dp) => dp.filter.deleteRule(Number(id)));
    if (opts.json) return printJson({ ...r, text: formatRule(r) });
    console.log(`deleted rule ${r.id}: ${formatRule(r)}`);
  });
  withInstance(rule.command('list').description('list rules in order, with hit counters')).action(async (opts: InstanceOptions) => {
    const daemon = await daemonFor(opts);
    const rows = daemon
      ? (await daemon.request<{ position: number; id: number; text: string; packets: number; bytes: number }[]>('GET', '/v1/rules')).map(({ text, ...r }) => ({ ...r, rule: text }))
      : await withDataplane(
      opts,
      (dp) => {
        const hits = dp.filter.ruleCounters();
        return dp.filter.rules().map((r, i) => ({ position: i + 1, id: r.id, rule: formatRule(r), ...(hits.get(r.id) ?? { packets: 0, bytes: 0 }) }));
      },
      false,
    );
    if (opts.json) return printJson(rows);
    if (!rows.length) return console.log(color.dim('no rules: every packet goes on to routing'));
    for (const r of rows) console.log(`${String(r.position).padStart(4)}  id ${String(r.id).padEnd(5)} ${r.rule.padEnd(60)} ${color.dim(`${r.packets} pkts ${r.bytes} bytes`)}`);
  });

  // ---- blocklists ------------------------------------------------------------------------
  const block = program.command('block').description('blocked source prefixes (dropped first), with optional expiry');
  withInstance(
    block.command('add').description('block source prefixes').argument('<cidr...>').option('--ttl <duration>', 'remove the block after this long (e.g. 10m, 1h)'),
  ).action(async (cidrs: string[], opts: InstanceOptions & { ttl?: string }) => {
    const prefixes = cidrs.map((c, i) => parsePrefix(c, `argument ${i + 1} ('${c}')`));
    const ttl = opts.ttl === undefined ? undefined : parseDuration(opts.ttl, '--ttl');
    const daemon = await daemonFor(opts);
    if (daemon) {
      const p = await daemon.request<ProposeResult>('POST', '/v1/blocklist', { prefixes: prefixes.map(formatPrefix), ...(opts.ttl ? { ttl: opts.ttl } : {}) });
      return opts.json ? printJson(p) : printProposal(p);
    }
    const n = await withDataplane(opts, (dp) => dp.filter.block(prefixes, ttl));
    if (opts.json) return printJson({ blocked: n, ttlMs: ttl ?? null });
    console.log(`blocked ${n} prefix(es)${ttl ? ` for ${formatDuration(ttl)}` : ''}`);
  });
  withInstance(
    block
      .command('load')
      .description('block every prefix in a file (one per line); nothing is blocked if a line is bad')
      .argument('<file>')
      .option('--ttl <duration>', 'remove the blocks after this long'),
  ).action(async (file: string, opts: InstanceOptions & { ttl?: string }) => {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      throw new PwError('PW_ERR_NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`, { where: file });
    }
    const prefixes = parseBlockFile(text, file);
    if (await daemonFor(opts)) {
      throw new PwError('PW_ERR_UNSUPPORTED', 'a daemon owns this instance: load blocklist files through its config', {
        hint: "add '- { file: PATH }' under blocklists: and 'pathwise apply -f FILE', or stop the daemon",
      });
    }
    const ttl = opts.ttl === undefined ? undefined : parseDuration(opts.ttl, '--ttl');
    const t0 = performance.now();
    const n = await withDataplane(opts, (dp) => dp.filter.block(prefixes, ttl));
    const seconds = (performance.now() - t0) / 1000;
    if (opts.json) return printJson({ blocked: n, seconds });
    console.log(`blocked ${n} prefix(es) in ${seconds.toFixed(2)} s`);
  });
  withInstance(block.command('del').description('unblock prefixes').argument('<cidr...>')).action(async (cidrs: string[], opts: InstanceOptions) => {
    const prefixes = cidrs.map((c, i) => parsePrefix(c, `argument ${i + 1} ('${c}')`));
    const daemon = await daemonFor(opts);
    if (daemon) {
      let last: ProposeResult | undefined;
      for (const p of prefixes) last = await daemon.request<ProposeResult>('DELETE', `/v1/blocklist/${encodeURIComponent(formatPrefix(p))}`);
      return opts.json ? printJson(last) : printProposal(last!);
    }
    const result = await withDataplane(opts, (dp) => prefixes.map((p, i) => ({ prefix: cidrs[i], removed: dp.filter.unblock(p) })), false);
    if (opts.json) return printJson(result);
    for (const r of result) console.log(`${r.prefix}: ${r.removed ? 'unblocked' : color.dim('was not blocked')}`);
    if (result.some((r) => !r.removed)) process.exitCode = 4;
  });
  withInstance(block.command('list').description('blocked prefixes in force (expired ones are swept)')).action(async (opts: InstanceOptions) => {
    const list = await readVia(opts, '/v1/blocklist', (dp) => dp.filter.blocklist());
    if (opts.json) return printJson(list);
    for (const b of list) console.log(`${b.prefix}${b.expiresInMs === null ? '' : color.dim(` (expires in ${formatDuration(b.expiresInMs)})`)}`);
  });

  // ---- rate limiters ---------------------------------------------------------------------
  const rl = program.command('ratelimit').description('per-source token-bucket rate limiters, used by rules with action ratelimit');
  withInstance(
    rl
      .command('add')
      .description('define a rate limiter')
      .argument('<name>')
      .requiredOption('--rate <pps>', 'packets per second per source (e.g. 100 or 100/s)')
      .option('--burst <packets>', 'bucket size (default: one second of rate)')
      .option('--per <scope>', "a source is an 'address' or a prefix (/24, or /24,/64 for IPv6)", 'address')
      .option('--block-after <n>', 'escalate: limited packets in a row before the source is blocked')
      .option('--block-for <duration>', 'escalate: how long a source is blocked', '60s'),
  ).action(async (name: string, opts: InstanceOptions & { rate: string; burst?: string; per: string; blockAfter?: string; blockFor: string }) => {
    const rate = parseRate(opts.rate);
    const burst = opts.burst === undefined ? Math.max(1, Math.ceil(rate)) : Number(opts.burst);
    if (!Number.isFinite(burst)) throw new PwError('PW_ERR_USAGE', `--burst must be a number, got '${opts.burst}'`);
    const blockAfter = opts.blockAfter === undefined ? 0 : Number(opts.blockAfter);
    if (!Number.isInteger(blockAfter) || blockAfter < 0) throw new PwError('PW_ERR_USAGE', `--block-after must be a whole number, got '${opts.blockAfter}'`);
    const daemon = await daemonFor(opts);
    if (daemon) {
      const limiter = { rate, burst, per: opts.per, blockAfter, ...(blockAfter ? { blockFor: opts.blockFor } : {}) };
      const p = await daemon.request<ProposeResult>('POST', '/v1/ratelimits', { name, limiter });
      return opts.json ? printJson(p) : printProposal(p);
    }
    const lim = await withDataplane(opts, (dp) =>
      dp.filter.addLimiter({ name, rate, burst, ...parsePer(opts.per), blockAfter, blockForMs: blockAfter ? parseDuration(opts.blockFor, '--block-for') : 0 }),
    );
    if (opts.json) return printJson(lim);
    console.log(`rate limiter ${lim.name}: ${lim.rate}/s burst ${lim.burst} per source${lim.blockAfter ? `, blocks for ${formatDuration(lim.blockForMs)} after ${lim.blockAfter} limited packets` : ''}`);
  });
  withInstance(rl.command('del').description('delete a rate limiter (no rule may use it)').argument('<name>')).action(async (name: string, opts: InstanceOptions) => {
    const daemon = await daemonFor(opts);
    if (daemon) {
      const p = await daemon.request<ProposeResult>('DELETE', `/v1/ratelimits/${encodeURIComponent(name)}`);
      return opts.json ? printJson(p) : printProposal(p);
    }
    const lim = await withDataplane(opts, (dp) => dp.filter.deleteLimiter(name), false);
    if (opts.json) return printJson(lim);
    console.log(`deleted rate limiter ${lim.name}`);
  });
  withInstance(rl.command('list').description('rate limiters')).action(async (opts: InstanceOptions) => {
    const list = await readVia(opts, '/v1/ratelimits', (dp) => dp.filter.limiters());
    if (opts.json) return printJson(list);
    for (const l of list) console.log(`${l.name}: ${l.rate}/s burst ${l.burst} per /${l.per4},/${l.per6}${l.blockAfter ? `; block ${formatDuration(l.blockForMs)} after ${l.blockAfter}` : ''}`);
  });
}
