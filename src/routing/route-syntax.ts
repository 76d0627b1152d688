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
import { parsePrefix } from '../util/ip.js';
import type { NexthopSpec, RouteSpec, RouteType } from './route.js';

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

/** What a route line says besides its prefix; shared by every line that says the same. */
export interface RouteTemplate {
  type: RouteType;
  nexthops: NexthopSpec[];
  metric: number;
  where: string;
}

/**
 * Many routes, as parsed from a file. Plain IPv4 lines (the bulk of a full table) are kept as
 * arrays, with one template per distinct "via ... dev ..." text; other lines are RouteSpecs.
 */
export interface RouteBatch {
  v4: { count: number; addr: Uint32Array; plen: Uint8Array; template: Uint32Array; line: Uint32Array };
  templates: RouteTemplate[];
  others: RouteSpec[];
  file: string;
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 13;

/** text[at..at+len) equals t (compared by char code, without a substring). */
function sameText(text: string, at: number, t: string, len: number): boolean {
  if (t.length !== len) return false;
  for (let i = 0; i < len; i++) if (text.charCodeAt(at + i) !== t.charCodeAt(i)) return false;
  return true;
}

// Results of fastV4Prefix, in module scope so that a million lines allocate nothing.
let fastAddr = 0;
let fastPlen = 0;
let fastEnd = 0;

/** "a.b.c.d/len" at text[i..] (after spaces), read from char codes: the fast path for a
 * million lines. Sets fastAddr/fastPlen/fastEnd and returns true; false for anything else
 * (the general parser handles it). */
function fastV4Prefix(text: string, i: number): boolean {
  while (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) i++;
  let addr = 0;
  for (let octet = 0; octet < 4; octet++) {
    let v = 0;
    let digits = 0;
    for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
      v = v * 10 + (c - 48);
      digits++;
    }
    if (digits === 0 || digits > 3 || v > 255) return false;
    addr = addr * 256 + v;
    if (octet < 3) {
      if (text.charCodeAt(i) !== 46) return false; // '.'
      i++;
    }
  }
  if (text.charCodeAt(i) !== 47) return false; // '/'
  i++;
  let plen = 0;
  let digits = 0;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
    plen = plen * 10 + (c - 48);
    digits++;
  }
  if (digits === 0 || digits > 2 || plen > 32) return false;
  const c = text.charCodeAt(i);
  if (!(isSpace(c) || c === 10 || Number.isNaN(c))) return false;
  // Host bits set: leave it to the general parser, which explains the error.
  if (plen < 32 && addr % 2 ** (32 - plen) !== 0) return false;
  fastAddr = addr;
  fastPlen = plen;
  fastEnd = i;
  return true;
}

/**
 * One route per line; blank lines and # comments are skipped; CRLF line ends are fine. Every
 * error is collected (up to 100). Plain IPv4 lines are scanned in place (no substring per
 * line); their nexthop text is matched against the templates seen so far.
 */
export function parseRouteFile(text: string, file: string): { batch: RouteBatch; errors: PwError[] } {
  let cap = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) cap++;
  const v4 = {
    count: 0,
    addr: new Uint32Array(cap),
    plen: new Uint8Array(cap),
    template: new Uint32Array(cap),
    line: new Uint32Array(cap),
  };
  const templates: RouteTemplate[] = [];
  const templateText: string[] = [];
  const templateIndex = new Map<string, number>();
  const others: RouteSpec[] = [];
  const errors: PwError[] = [];
  let nextHash = text.indexOf('#');
  let last = -1; // the template of the previous line: tables tend to repeat it
  for (let pos = 0, n = 0; pos <= text.length && errors.length < 100; n++) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = text.length;
    while (nextHash >= 0 && nextHash < pos) nextHash = text.indexOf('#', pos);
    const lineEnd = nextHash >= 0 && nextHash < eol ? nextHash : eol; // a comment ends the line
    if (fastV4Prefix(text, pos) && fastEnd <= lineEnd) {
      let rs = fastEnd;
      while (rs < lineEnd && isSpace(text.charCodeAt(rs))) rs++;
      let re = lineEnd;
      while (re > rs && isSpace(text.charCodeAt(re - 1))) re--;
      const len = re - rs;
      let t = -1;
      if (last >= 0 && sameText(text, rs, templateText[last]!, len)) t = last;
      // A table has few distinct nexthop texts: try them in place before making a substring.
      for (let k = 0; t < 0 && k < templateText.length && k < 16; k++) if (sameText(text, rs, templateText[k]!, len)) t = k;
      if (t < 0) {
        const rest = text.slice(rs, re);
        t = templateIndex.get(rest) ?? -1;
        if (t < 0) {
          try {
            const spec = parseLine(text.slice(pos, lineEnd), n, file);
            templates.push({ type: spec.type, nexthops: spec.nexthops, metric: spec.metric, where: spec.where });
            templateText.push(rest);
            t = templates.length - 1;
            templateIndex.set(rest, t);
          } catch (e) {
            errors.push(e as PwError);
            pos = eol + 1;
            continue;
          }
        }
      }
      last = t;
      const k = v4.count++;
      v4.addr[k] = fastAddr;
      v4.plen[k] = fastPlen;
      v4.template[k] = t;
      v4.line[k] = n + 1;
    } else {
      const line = text.slice(pos, lineEnd);
      if (line.trim()) {
        try {
          others.push(parseLine(line, n, file));
        } catch (e) {
          errors.push(e as PwError);
        }
      }
    }
    pos = eol + 1;
  }
  return { batch: { v4, templates, others, file }, errors };
}

function parseLine(line: string, n: number, file: string): RouteSpec {
  const tokens = line.trim().split(/\s+/);
  // Column of each token, for file:line:column positions.
  const cols: number[] = [];
  let from = 0;
  for (const t of tokens) {
    const c = line.indexOf(t, from);
    cols.push(c + 1);
    from = c + t.length;
  }
  return parseRouteTokens(tokens, (i) => `${file}:${n + 1}:${cols[Math.min(i, cols.length - 1)] ?? 1}`);
}
