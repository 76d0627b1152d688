/** `pathwise route …`: routes in the data plane, in iproute2-like syntax. */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';

import { PwError } from '../../errors.js';
import { readFileMapped } from '../../kernel/file-map.js';
import type { RouteRow } from '../../ops/operations.js';
import { formatRoute, type LookupResult } from '../../routing/route.js';
import { parseRouteFile, parseRouteTokens } from '../../routing/route-syntax.js';
import { parsePrefix } from '../../util/ip.js';
import { backendFor } from '../backend.js';
import { color, printJson } from '../output.js';
import { printWritten, withInstance, type InstanceOptions } from './common.js';

const SYNTAX = '[blackhole|local|kernel] PREFIX [via GW [dev IF] [weight N]]... [dev IF] [metric N]';

function formatLookup(r: LookupResult): string {
  if (!r.prefix) return `${r.addr}: no route → ${r.verdict} (${r.reason})`;
  const via = r.via ? ` via ${r.via}` : '';
  const dev = r.dev ? ` dev ${r.dev}` : '';
  const why = r.reason !== 'none' ? ` (${r.reason})` : '';
  return `${r.addr}: ${r.prefix}${via}${dev} → ${r.verdict}${why}`;
}

async function readStdinLines(): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: process.stdin })) if (line.trim()) lines.push(line.trim());
  return lines;
}

export function registerRoute(program: Command): void {
  const route = program.command('route').description('routes in the data plane (iproute2-like syntax)');

  for (const verb of ['add', 'replace'] as const) {
    withInstance(route.command(verb).description(`${verb} a route: ${SYNTAX}`).argument('<route...>').allowUnknownOption(false)).action(
      async (tokens: string[], opts: InstanceOptions) => {
        const spec = parseRouteTokens(tokens, (i) => `argument ${i + 1} ('${tokens[i] ?? ''}')`);
        const w = await (await backendFor(opts)).addRoute(spec, verb === 'replace');
        printWritten(w, opts.json, (view) => console.log(`${verb === 'add' ? 'added' : 'replaced'}: ${formatRoute(view)}`));
      },
    );
  }

  withInstance(
    route
      .command('del')
      .description('delete the route to PREFIX')
      .argument('<prefix>')
      .argument('[rest...]', 'ignored (accepts the add syntax)'),
  ).action(async (prefix: string, _rest: string[], opts: InstanceOptions) => {
    const p = parsePrefix(prefix === 'default' ? '0.0.0.0/0' : prefix, `argument 1 ('${prefix}')`);
    const w = await (await backendFor(opts)).deleteRoute(p);
    printWritten(w, opts.json, (view) => console.log(`deleted: ${formatRoute(view)}`));
  });

  withInstance(
    route
      .command('list')
      .description("list the routes in the data plane (with the host's local and connected routes, 'proto kernel')")
      .option('-4', 'IPv4 only')
      .option('-6', 'IPv6 only')
      .option('--user', 'only routes added by the user')
      .option('--stats', 'with packets and bytes forwarded by each route'),
  ).action(async (opts: InstanceOptions & { 4?: boolean; 6?: boolean; user?: boolean; stats?: boolean }) => {
    // Written as the rows come (a full table is a million routes): --json is one array, a row
    // to a line. (stdout to a file, a pipe or a terminal is written synchronously on Linux.)
    const out = process.stdout;
    const backend = await backendFor(opts);
    const q = { family: opts[4] ? 4 : opts[6] ? 6 : undefined, user: opts.user, stats: opts.stats } as const;
    if (opts.json) {
      await backend.routesJson(q, (piece) => out.write(piece));
      return;
    }
    const line = opts.stats
      ? (r: RouteRow) => `${formatRoute(r).padEnd(60)} ${color.dim(`${r.packets ?? 0} pkts ${r.bytes ?? 0} bytes`)}`
      : formatRoute;
    await backend.eachRoute(q, (rows) => out.write(`${rows.map(line).join('\n')}\n`));
  });

  withInstance(
    route
      .command('load')
      .description(`install routes from a file, one per line (${SYNTAX}); nothing is installed if any line is bad`)
      .argument('<file>', "file to read ('-' for standard input)")
      .option('--replace', 'replace routes that exist instead of failing'),
  ).action(async (file: string, opts: InstanceOptions & { replace?: boolean }) => {
    let bytes: Uint8Array;
    try {
      bytes = file === '-' ? readFileSync(0) : readFileMapped(file);
    } catch (e) {
      throw new PwError('PW_ERR_NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`, { where: file });
    }
    const t0 = performance.now();
    const { batch, errors } = parseRouteFile(bytes, file === '-' ? '<stdin>' : file);
    const parseSeconds = (performance.now() - t0) / 1000;
    if (errors.length) {
      throw new PwError(
        'PW_ERR_INVALID',
        `${errors.length}${errors.length >= 100 ? '+' : ''} bad line(s) in ${file}; nothing was installed:\n${errors.map((e) => `  ${e.where}: ${e.message}`).join('\n')}`,
        {
          details: { errors: errors.map((e) => e.toJSON()) },
        },
      );
    }
    const r = await (await backendFor(opts)).loadRoutes(batch, { replace: opts.replace, parseSeconds });
    if (opts.json) return printJson(r);
    console.log(`installed ${r.added} routes${r.replaced ? `, replaced ${r.replaced}` : ''} in ${r.seconds.toFixed(2)} s`);
    for (const g of r.unresolvedGateways)
      console.log(color.yellow(`warning: gateway ${g.via} on ${g.dev} does not answer ARP/ND; its routes go to the kernel until it does`));
  });

  withInstance(
    route
      .command('lookup')
      .description('which route the data plane uses for addresses (runs the real XDP program on a synthesized packet)')
      .argument('[addresses...]')
      .option('--stdin', 'read addresses from standard input, one per line'),
  ).action(async (addrs: string[], opts: InstanceOptions & { stdin?: boolean }) => {
    const all = opts.stdin ? [...addrs, ...(await readStdinLines())] : addrs;
    if (all.length === 0) throw new PwError('PW_ERR_USAGE', 'give addresses to look up, or --stdin');
    const results = await (await backendFor(opts)).lookup(all);
    if (opts.json) return printJson(results);
    for (const r of results) console.log(r.prefix ? formatLookup(r) : color.dim(formatLookup(r)));
  });
}
