import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';

import { resolveGateways } from '../../dataplane/neighbors.js';
import { parseRouteFile, parseRouteTokens } from '../../dataplane/route-syntax.js';
import type { RouteView } from '../../dataplane/dataplane.js';
import type { LookupResult } from '../../dataplane/lookup.js';
import { PwError } from '../../errors.js';
import { formatPrefix, parsePrefix } from '../../util/ip.js';
import { color, printJson } from '../output.js';
import { daemonFor, printProposal, withDataplane, withInstance, type InstanceOptions, type ProposeResult } from './common.js';
import { configRouteOf } from '../../control/desired.js';

const SYNTAX = '[blackhole|local|kernel] PREFIX [via GW [dev IF] [weight N]]... [dev IF] [metric N]';

function formatRoute(r: RouteView): string {
  const nh = r.nexthops.map((n) => `${n.via ? `via ${n.via} ` : ''}dev ${n.dev}${r.nexthops.length > 1 || n.weight !== 1 ? ` weight ${n.weight}` : ''}`);
  const head = r.type === 'unicast' ? r.prefix : `${r.type} ${r.prefix}`;
  return [head, ...nh, r.metric ? `metric ${r.metric}` : '', r.origin === 'kernel' ? 'proto kernel' : ''].filter(Boolean).join(' ');
}

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
        const daemon = await daemonFor(opts);
        if (daemon) {
          const r = await daemon.request<ProposeResult>('POST', '/v1/routes', { route: configRouteOf(spec), replace: verb === 'replace' });
          return opts.json ? printJson(r) : printProposal(r);
        }
        const view = await withDataplane(opts, (dp) => {
          const v = verb === 'add' ? dp.addRoute(spec) : dp.replaceRoute(spec);
          resolveGateways(v.nexthops.filter((n) => n.via).map((n) => ({ via: n.via!, dev: n.dev })));
          return v;
        });
        if (opts.json) printJson(view);
        else console.log(`${verb === 'add' ? 'added' : 'replaced'}: ${formatRoute(view)}`);
      },
    );
  }

  withInstance(route.command('del').description('delete the route to PREFIX').argument('<prefix>').argument('[rest...]', 'ignored (accepts the add syntax)')).action(
    async (prefix: string, _rest: string[], opts: InstanceOptions) => {
      const p = parsePrefix(prefix === 'default' ? '0.0.0.0/0' : prefix, `argument 1 ('${prefix}')`);
      const daemon = await daemonFor(opts);
      if (daemon) {
        const r = await daemon.request<ProposeResult>('DELETE', `/v1/routes/${encodeURIComponent(formatPrefix(p))}`);
        return opts.json ? printJson(r) : printProposal(r);
      }
      const view = await withDataplane(opts, (dp) => dp.deleteRoute(p), false);
      if (opts.json) printJson(view);
      else console.log(`deleted: ${formatRoute(view)}`);
    },
  );

  withInstance(
    route
      .command('list')
      .description("list the routes in the data plane (with the host's local and connected routes, 'proto kernel')")
      .option('-4', 'IPv4 only')
      .option('-6', 'IPv6 only')
      .option('--user', 'only routes added by the user')
      .option('--stats', 'with packets and bytes forwarded by each route'),
  ).action(
    async (opts: InstanceOptions & { 4?: boolean; 6?: boolean; user?: boolean; stats?: boolean }) => {
      const daemon = await daemonFor(opts);
      const query = new URLSearchParams();
      if (opts[4] || opts[6]) query.set('family', opts[4] ? '4' : '6');
      if (opts.user) query.set('user', 'true');
      if (opts.stats) query.set('stats', 'true');
      const routes = daemon ? await daemon.request<RouteView[]>('GET', `/v1/routes?${query}`) : await withDataplane(
        opts,
        (dp) => {
          const list = dp.listRoutes().filter((r) => (opts[4] ? r.family === 4 : opts[6] ? r.family === 6 : true) && (!opts.user || r.origin === 'user'));
          if (!opts.stats) return list;
          const counters = dp.routeCounters();
          return list.map((r) => ({ ...r, ...(counters.get(r.id) ?? { packets: 0, bytes: 0 }) }));
        },
        false,
      );
      if (opts.stats && !opts.json) {
        for (const r of routes as (RouteView & { packets: number; bytes: number })[]) {
          process.stdout.write(`${formatRoute(r).padEnd(60)} ${color.dim(`${r.packets} pkts ${r.bytes} bytes`)}\n`);
        }
        return;
      }
      if (opts.json) return printJson(routes);
      process.stdout.write(routes.map((r) => `${formatRoute(r)}\n`).join(''));
    },
  );

  withInstance(
    route
      .command('load')
      .description(`install routes from a file, one per line (${SYNTAX}); nothing is installed if any line is bad`)
      .argument('<file>', "file to read ('-' for standard input)")
      .option('--replace', 'replace routes that exist instead of failing'),
  ).action(async (file: string, opts: InstanceOptions & { replace?: boolean }) => {
    let text: string;
    try {
      text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
    } catch (e) {
      throw new PwError('PW_ERR_NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`, { where: file });
    }
    const t0 = performance.now();
    const { batch, errors } = parseRouteFile(text, file === '-' ? '<stdin>' : file);
    const parseMs = performance.now() - t0;
    if (errors.length) {
      throw new PwError('PW_ERR_INVALID', `${errors.length}${errors.length >= 100 ? '+' : ''} bad line(s) in ${file}; nothing was installed:\n${errors.map((e) => `  ${e.where}: ${e.message}`).join('\n')}`, {
        details: { errors: errors.map((e) => e.toJSON()) },
      });
    }
    if (await daemonFor(opts)) {
      throw new PwError('PW_ERR_UNSUPPORTED', 'a daemon owns this instance: bulk-loaded routes would be outside its config', {
        hint: "put the routes in the config (routes:) and 'pathwise apply -f FILE', or stop the daemon",
      });
    }
    let seconds = 0;
    const r = await withDataplane(opts, (dp) => {
      const t1 = performance.now();
      const result = dp.loadRoutes(batch, { replace: opts.replace });
      seconds = (parseMs + performance.now() - t1) / 1000; // parse + install (not the pipeline's load)
      return { ...result, unresolvedGateways: dp.resolveNeighbors() };
    });
    if (opts.json) return printJson({ ...r, seconds });
    console.log(`installed ${r.added} routes${r.replaced ? `, replaced ${r.replaced}` : ''} in ${seconds.toFixed(2)} s`);
    for (const g of r.unresolvedGateways) console.log(color.yellow(`warning: gateway ${g.via} on ${g.dev} does not answer ARP/ND; its routes go to the kernel until it does`));
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
    const daemon = await daemonFor(opts);
    const results = daemon
      ? await daemon.request<LookupResult[]>('GET', `/v1/lookup?${new URLSearchParams(all.map((a): [string, string] => ['addr', a]))}`)
      : await withDataplane(opts, (dp) => dp.lookup(all), false);
    if (opts.json) return printJson(results);
    for (const r of results) console.log(r.prefix ? formatLookup(r) : color.dim(formatLookup(r)));
  });
}
