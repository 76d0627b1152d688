/** `pathwise rule|block|ratelimit …`: ordered filter rules, blocklists and rate limiters. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

import { PwError } from '../../errors.js';
import { parseBlockFile } from '../../filter/blocklist.js';
import { parsePer, parseRate } from '../../filter/limiter.js';
import { formatRule, parseRuleTokens } from '../../filter/rule.js';
import { formatDuration, parseTtl } from '../../util/duration.js';
import { parsePrefix } from '../../util/ip.js';
import { backendFor } from '../backend.js';
import { color, printJson, printLines } from '../output.js';
import { printWritten, usage, withInstance, type InstanceOptions } from './common.js';

const RULE_SYNTAX = 'ACTION [LIMITER] [from CIDR] [to CIDR] [proto P] [sport N[-M]] [dport N[-M]] [flags syn,!ack] [iif IF]';

const prefixesOf = (cidrs: string[]) => cidrs.map((c, i) => parsePrefix(c, `argument ${i + 1} ('${c}')`));

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new PwError('PW_ERR_NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`, { where: file });
  }
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
    if (at !== undefined && !(Number.isInteger(at) && at >= 1))
      throw new PwError('PW_ERR_USAGE', `--at must be a position from 1, got '${opts.at}'`);
    const w = await (await backendFor(opts)).addRule(spec, at);
    printWritten(
      w,
      opts.json,
      (r) => console.log(`rule ${r.id}: ${formatRule(r)}`),
      (r) => ({ ...r, text: formatRule(r) }),
    );
  });
  withInstance(rule.command('del').description('delete a rule by id').argument('<id>')).action(
    async (id: string, opts: InstanceOptions) => {
      if (!/^\d+$/.test(id)) throw new PwError('PW_ERR_USAGE', `rule id must be a number, got '${id}'`);
      const w = await (await backendFor(opts)).deleteRule(Number(id));
      printWritten(
        w,
        opts.json,
        (r) => console.log(`deleted rule ${r.id}: ${formatRule(r)}`),
        (r) => ({ ...r, text: formatRule(r) }),
      );
    },
  );
  withInstance(rule.command('list').description('list rules in order, with hit counters')).action(async (opts: InstanceOptions) => {
    const rows = (await (await backendFor(opts)).listRules()).map(({ text, ...r }) => ({ ...r, rule: text }));
    if (opts.json) return printJson(rows);
    if (!rows.length) return console.log(color.dim('no rules: every packet goes on to routing'));
    for (const r of rows) {
      console.log(
        `${String(r.position).padStart(4)}  id ${String(r.id).padEnd(5)} ${r.rule.padEnd(60)} ${color.dim(`${r.packets} pkts ${r.bytes} bytes`)}`,
      );
      if (r.missingInterface)
        console.log(color.yellow(`        no interface named ${r.missingInterface}: matches nothing until it exists`));
    }
  });

  // ---- blocklists ------------------------------------------------------------------------
  const block = program.command('block').description('blocked source prefixes (dropped first), with optional expiry');
  withInstance(
    block
      .command('add')
      .description('block source prefixes')
      .argument('<cidr...>')
      .option('--ttl <duration>', 'remove the block after this long (e.g. 10m, 1h)'),
  ).action(async (cidrs: string[], opts: InstanceOptions & { ttl?: string }) => {
    const prefixes = prefixesOf(cidrs);
    const ttl = opts.ttl === undefined ? undefined : { ms: parseTtl(opts.ttl, '--ttl'), text: opts.ttl };
    const w = await (await backendFor(opts)).block(prefixes, ttl);
    printWritten(w, opts.json, (r) => console.log(`blocked ${r.blocked} prefix(es)${r.ttlMs ? ` for ${formatDuration(r.ttlMs)}` : ''}`));
  });
  withInstance(
    block
      .command('load')
      .description('block every prefix in a file (one per line); nothing is blocked if a line is bad')
      .argument('<file>')
      .option('--ttl <duration>', 'remove the blocks after this long'),
  ).action(async (file: string, opts: InstanceOptions & { ttl?: string }) => {
    const prefixes = parseBlockFile(readInput(file), file);
    const ops = await backendFor(opts);
    const r = await ops.loadBlocks(prefixes, opts.ttl === undefined ? undefined : parseTtl(opts.ttl, '--ttl'));
    if (opts.json) return printJson(r);
    console.log(`blocked ${r.blocked} prefix(es) in ${r.seconds.toFixed(2)} s`);
  });
  withInstance(
    block.command('del').description('unblock prefixes, all or none (one not blocked: nothing is unblocked)').argument('<cidr...>'),
  ).action(async (cidrs: string[], opts: InstanceOptions) => {
    const w = await (await backendFor(opts)).unblock(prefixesOf(cidrs));
    printWritten(w, opts.json, (result) => result.forEach((r) => console.log(`${r.prefix}: unblocked`)));
  });
  withInstance(block.command('list').description('blocked prefixes in force (expired ones are swept)')).action(
    async (opts: InstanceOptions) => {
      const list = await (await backendFor(opts)).listBlocks();
      if (opts.json) return printJson(list);
      printLines(
        list.map((b) => {
          const by =
            b.origin === 'escalation'
              ? color.yellow(` rate limiter ${b.limiter}`)
              : b.origin === 'decision'
                ? color.yellow(b.sealed ? ' decision (sealed at a rate)' : ' decision')
                : '';
          return `${b.prefix}${by}${b.expiresInMs === null ? '' : color.dim(` (expires in ${formatDuration(b.expiresInMs)})`)}`;
        }),
      );
    },
  );

  // ---- rate limiters ---------------------------------------------------------------------
  const rl = program.command('ratelimit').description('per-source token-bucket rate limiters, used by rules with action ratelimit');
  withInstance(
    rl
      .command('add')
      .description('define a rate limiter')
      .argument('<name>')
      .requiredOption(
        '--rate <pps>',
        'packets per second per source (e.g. 100 or 100/s)',
        usage((v) => parseRate(v, '--rate')),
      )
      .option('--burst <packets>', 'bucket size (default: one second of rate)')
      .option('--per <scope>', "a source is an 'address' or a prefix (/24, or /24,/64 for IPv6)", 'address')
      .option('--block-after <n>', 'escalate: limited packets in a row before the source is blocked')
      .option('--block-for <duration>', 'escalate: how long a source is blocked', '60s'),
  ).action(
    async (name: string, opts: InstanceOptions & { rate: number; burst?: string; per: string; blockAfter?: string; blockFor: string }) => {
      const rate = opts.rate;
      const burst = opts.burst === undefined ? Math.max(1, Math.ceil(rate)) : Number(opts.burst);
      if (!Number.isFinite(burst)) throw new PwError('PW_ERR_USAGE', `--burst must be a number, got '${opts.burst}'`);
      const blockAfter = opts.blockAfter === undefined ? 0 : Number(opts.blockAfter);
      if (!Number.isInteger(blockAfter) || blockAfter < 0)
        throw new PwError('PW_ERR_USAGE', `--block-after must be a whole number, got '${opts.blockAfter}'`);
      const per = usage((v) => parsePer(v, '--per'))(opts.per);
      const blockForMs = blockAfter ? parseTtl(opts.blockFor, '--block-for') : 0;
      const w = await (
        await backendFor(opts)
      ).addLimiter({ name, rate, burst, ...per, blockAfter, blockForMs }, { per: opts.per, blockFor: opts.blockFor });
      printWritten(w, opts.json, (lim) =>
        console.log(
          `rate limiter ${lim.name}: ${lim.rate}/s burst ${lim.burst} per source${lim.blockAfter ? `, blocks for ${formatDuration(lim.blockForMs)} after ${lim.blockAfter} limited packets` : ''}`,
        ),
      );
    },
  );
  withInstance(rl.command('del').description('delete a rate limiter (no rule may use it)').argument('<name>')).action(
    async (name: string, opts: InstanceOptions) => {
      const w = await (await backendFor(opts)).deleteLimiter(name);
      printWritten(w, opts.json, (lim) => console.log(`deleted rate limiter ${lim.name}`));
    },
  );
  withInstance(rl.command('list').description('rate limiters')).action(async (opts: InstanceOptions) => {
    const list = await (await backendFor(opts)).listLimiters();
    if (opts.json) return printJson(list);
    for (const l of list)
      console.log(
        `${l.name}: ${l.rate}/s burst ${l.burst} per /${l.per4},/${l.per6}${l.blockAfter ? `; block ${formatDuration(l.blockForMs)} after ${l.blockAfter}` : ''}`,
      );
  });
}
