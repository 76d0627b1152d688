/** `pathwise path …`: nexthop groups steered by measured path quality (config `paths:`). */
import type { Command } from 'commander';

import { PwError } from '../../errors.js';
import { backendFor } from '../backend.js';
import { color, printJson } from '../output.js';
import { withInstance, type InstanceOptions } from './common.js';

const ms = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : `${x.toFixed(2)}ms`);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const stateColor = (s: string) => (s === 'up' ? color.green(s) : s === 'degraded' ? color.yellow(s) : color.red(s));
const shares = (x: Record<string, number> | string) =>
  typeof x === 'string'
    ? x
    : Object.entries(x)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${pct(v)}`)
        .join(', ') || 'none';

export function registerPath(program: Command): void {
  const path = program.command('path').description('paths chosen by measured latency, loss and load (config `paths:`)');

  withInstance(
    path.command('list').description("each steered group's paths: RTT, jitter, loss, load, state and share of new flows"),
  ).action(async (opts: InstanceOptions) => {
    const groups = await (await backendFor(opts)).paths();
    if (opts.json) return printJson(groups);
    if (!groups.length) return console.log('no steered groups (config `paths:`)');
    for (const g of groups) {
      console.log(
        `${color.bold(g.name)}  policy ${g.policy}, fallback ${g.fallback}${g.active === 'fallback' ? color.red(' (in force: every path is down)') : ''}, ${g.decisions} decisions`,
      );
      for (const p of g.paths) {
        console.log(
          `  ${p.name.padEnd(34)} ${stateColor(p.state).padEnd(18)} share ${pct(p.share).padStart(6)}  rtt ${ms(p.srtt)} (p50 ${ms(p.p50)}, p95 ${ms(p.p95)})` +
            `  jitter ${ms(p.jitter)}  loss ${pct(p.loss)}  load ${(p.loadBps / 1e6).toFixed(2)}Mbit/s` +
            (p.capacityBps ? ` of ${(p.capacityBps / 1e6).toFixed(0)}` : '') +
            (p.suppressed ? color.yellow(' damped') : '') +
            (p.waiting ? color.yellow(` (not probed: ${p.waiting})`) : ''),
        );
      }
      if (g.lastDecision)
        console.log(color.dim(`  last decision ${g.lastDecision.at}: ${shares(g.lastDecision.to)} (${g.lastDecision.reason})`));
    }
  });

  withInstance(
    path
      .command('decisions')
      .description('path decisions, newest first: when, from what to what, why')
      .option('-g, --group <name>', 'of one group')
      .option('-n, --limit <n>', 'how many', '20'),
  ).action(async (opts: InstanceOptions & { group?: string; limit: string }) => {
    if (!/^\d+$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 10000)
      throw new PwError('PW_ERR_USAGE', `--limit must be a number from 1 to 10000, got '${opts.limit}'`);
    const list = await (await backendFor(opts)).pathDecisions({ group: opts.group, limit: Number(opts.limit) });
    if (opts.json) return printJson(list);
    for (const d of list) console.log(`${d.at}  ${d.group}  ${shares(d.from)} -> ${shares(d.to)}  ${color.dim(d.reason)}`);
  });
}
