/**
 * The iproute2-like route syntax shared by `pathwise route add|del|replace` and the lines of
 * `pathwise route load FILE`:
 *
 *   [blackhole|local|kernel] PREFIX [via GW [dev IF] [weight N]]... [dev IF] [metric N]
 *
 * Several `via` make an ECMP group; `nexthop` is accepted (and ignored) before a `via`, as in
 * `ip route add ... nexthop via A nexthop via B`. `default` means 0.0.0.0/0.
 */
import { PwError } from '../errors.js';
import { parsePrefix, type Prefix } from '../util/ip.js';
import type { NexthopSpec } from './nexthops.js';
import type { RouteType } from './route-table.js';

export interface RouteSpec {
  prefix: Prefix;
  type: RouteType;
  nexthops: NexthopSpec[];
  metric: number;
  /** Where the spec came from, for error messages ("routes.txt:12", "argument 3"). */
  where: string;
}

const TYPES = new Set(['blackhole', 'local', 'kernel', 'unicast']);

export function parseRouteTokens(tokens: string[], where: (i: number) => string): RouteSpec {
  let i = 0;
  let type: RouteType = 'unicast';
  const fail = (msg: string, at = i, hint?: string): never => {
    throw new PwError('PW_ERR_INVALID', msg, { where: where(at), hint });
  };
  if (tokens.length === 0) fail('expected a route: PREFIX via GW [dev IF] [weight N] [metric N]', 0);
  if (TYPES.has(tokens[0]!)) type = tokens[i++] as RouteType;
  const prefixTok = tokens[i];
  if (prefixTok === undefined) fail('missing prefix', i);
  const prefix = parsePrefix(prefixTok === 'default' ? '0.0.0.0/0' : prefixTok!, where(i));
  i++;
  const nexthops: NexthopSpec[] = [];
  let metric = 0;
  let current: NexthopSpec | null = null;
  const value = (name: string): string => {
    const v = tokens[i + 1];
    if (v === undefined) fail(`'${name}' needs a value`, i);
    return v!;
  };
  const integer = (name: string, min: number, max: number): number => {
    const v = value(name);
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(`${name} must be an integer ${min}..${max}, got '${v}'`, i + 1);
    return Number(v);
  };
  while (i < tokens.length) {
    const t = tokens[i]!;
    switch (t) {
      case 'nexthop':
        i++;
        continue;
      case 'via': {
        current = { via: value('via') };
        nexthops.push(current);
        break;
      }
      case 'dev': {
        const dev = value('dev');
        if (current && !current.dev) current.dev = dev;
        else if (!current) {
          current = { dev };
          nexthops.push(current);
        } else fail(`a nexthop has one 'dev'; start another with 'via'`);
        break;
      }
      case 'weight':
        if (!current) fail(`'weight' belongs to a nexthop: put it after 'via GW'`);
        current!.weight = integer('weight', 1, 256);
        break;
      case 'metric':
        metric = integer('metric', 0, 0xffffffff);
        break;
      default:
        fail(`unexpected '${t}'`, i, "expected 'via', 'dev', 'weight' or 'metric'");
    }
    i += 2;
  }
  if (type === 'unicast' && nexthops.length === 0) fail(`a route to ${prefixTok} needs a nexthop: 'via GW' or 'dev IF'`, tokens.length - 1);
  if (type !== 'unicast' && nexthops.length > 0) fail(`a ${type} route takes no nexthops`, 0);
  for (const nh of nexthops) {
    if (nh.via && parsePrefix(nh.via, where(0)).family !== prefix.family && prefix.family === 4) {
      fail(`gateway ${nh.via} is IPv6 but ${prefixTok} is IPv4`, 0);
    }
  }
  return { prefix, type, nexthops, metric, where: where(0) };
}

/** One route per line; blank lines and # comments are skipped. Every error is collected. */
export function parseRouteFile(text: string, file: string): { specs: RouteSpec[]; errors: PwError[] } {
  const specs: RouteSpec[] = [];
  const errors: PwError[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const hash = raw.indexOf('#');
    const line = hash >= 0 ? raw.slice(0, hash) : raw;
    if (!line.trim()) continue;
    const tokens = line.trim().split(/\s+/);
    // Column of each token, for file:line:column positions.
    const cols: number[] = [];
    let from = 0;
    for (const t of tokens) {
      const c = line.indexOf(t, from);
      cols.push(c + 1);
      from = c + t.length;
    }
    try {
      specs.push(parseRouteTokens(tokens, (i) => `${file}:${n + 1}:${cols[Math.min(i, cols.length - 1)] ?? 1}`));
    } catch (e) {
      errors.push(e as PwError);
      if (errors.length >= 100) break;
    }
  }
  return { specs, errors };
}
