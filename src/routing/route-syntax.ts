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
  /** The family of the prefixes that use it (a gateway's family is checked against theirs). */
  family: 4 | 6;
  type: RouteType;
  nexthops: NexthopSpec[];
  metric: number;
  where: string;
}

/** Plain lines of one family: prefixes, the template of each, and its line number. */
export interface PrefixArrays<A> {
  count: number;
  /** IPv4: the address as a number; IPv6: 16 bytes per prefix, network order. */
  addr: A;
  plen: Uint8Array;
  template: Uint32Array;
  line: Uint32Array;
}

/**
 * Many routes, as parsed from a file. Plain lines (a prefix and its nexthops: the bulk of a
 * full table) are kept as arrays per family, with one template per distinct "via ... dev ..."
 * text; other lines (a route type, `default`, an address the fast scanners leave to the
 * general parser) are RouteSpecs.
 */
export interface RouteBatch {
  v4: PrefixArrays<Uint32Array>;
  v6: PrefixArrays<Uint8Array>;
  templates: RouteTemplate[];
  others: RouteSpec[];
  file: string;
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 13;
const isEnd = (c: number) => isSpace(c) || c === 10 || Number.isNaN(c);

/** text[at..at+len) equals t (compared by char code, without a substring). */
function sameText(text: string, at: number, t: string, len: number): boolean {
  if (t.length !== len) return false;
  for (let i = 0; i < len; i++) if (text.charCodeAt(at + i) !== t.charCodeAt(i)) return false;
  return true;
}

// Results of the fast prefix scanners, in module scope so that a million lines allocate nothing.
let fastAddr = 0;
const fast6 = new Uint8Array(16);
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
  if (!fastLength(text, i + 1, 32)) return false;
  // Host bits set: leave it to the general parser, which explains the error.
  if (fastPlen < 32 && addr % 2 ** (32 - fastPlen) !== 0) return false;
  fastAddr = addr;
  return true;
}

/** "/len" digits at text[i..] up to max, followed by a space or the line's end: sets
 * fastPlen and fastEnd. */
function fastLength(text: string, i: number, max: number): boolean {
  let plen = 0;
  let digits = 0;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
    plen = plen * 10 + (c - 48);
    digits++;
  }
  if (digits === 0 || digits > 3 || plen > max || !isEnd(text.charCodeAt(i))) return false;
  fastPlen = plen;
  fastEnd = i;
  return true;
}

const hexValue = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);
const groups6 = new Uint16Array(8);

/** "x:x::x/len" at text[i..] (after spaces): the IPv6 fast path, into fast6/fastPlen/fastEnd.
 * False for anything else, an embedded IPv4 address and host bits set among them. */
function fastV6Prefix(text: string, i: number): boolean {
  while (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) i++;
  let n = 0; // groups read
  let gap = -1; // where '::' stands among them
  if (text.charCodeAt(i) === 58) {
    if (text.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  for (let afterGap = gap === 0; ;) {
    let v = 0;
    let digits = 0;
    for (let h = hexValue(text.charCodeAt(i)); h >= 0; h = hexValue(text.charCodeAt(++i))) {
      v = v * 16 + h;
      digits++;
    }
    if (digits === 0) {
      if (afterGap) break; // "...::/len"
      return false;
    }
    if (digits > 4 || n === 8) return false;
    groups6[n++] = v;
    if (text.charCodeAt(i) !== 58) break;
    if (text.charCodeAt(i + 1) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i += 2;
      afterGap = true;
    } else {
      i++;
      afterGap = false;
    }
  }
  if (text.charCodeAt(i) !== 47) return false; // '/' (a '.' is an embedded IPv4 address)
  if (gap < 0 ? n !== 8 : n > 7) return false;
  fast6.fill(0);
  const tail = gap < 0 ? 0 : n - gap; // groups after '::' go to the end
  for (let k = 0; k < n; k++) {
    const at = gap >= 0 && k >= gap ? 8 - tail + (k - gap) : k;
    fast6[2 * at] = groups6[k]! >> 8;
    fast6[2 * at + 1] = groups6[k]! & 255;
  }
  if (!fastLength(text, i + 1, 128)) return false;
  for (let bit = fastPlen; bit < 128; bit++) if (fast6[bit >> 3]! & (0x80 >> (bit & 7))) return false;
  return true;
}

/** The nexthop texts seen so far for one family, and the template of each. */
interface TemplateTable {
  family: 4 | 6;
  text: string[];
  ids: number[];
  index: Map<string, number>;
  /** The template of the previous line of this family: tables tend to repeat it. */
  last: number;
}

function prefixArrays<A>(addr: A, cap: number): PrefixArrays<A> {
  return { count: 0, addr, plen: new Uint8Array(cap), template: new Uint32Array(cap), line: new Uint32Array(cap) };
}

/**
 * One route per line; blank lines and # comments are skipped; CRLF line ends are fine. Every
 * error is collected (up to 100). Plain IPv4 and IPv6 lines are scanned in place (no substring
 * per line); their nexthop text is matched against the templates seen so far.
 */
export function parseRouteFile(text: string, file: string): { batch: RouteBatch; errors: PwError[] } {
  let cap = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) cap++;
  const v4 = prefixArrays(new Uint32Array(cap), cap);
  // IPv6 lines are counted first: 16 bytes per line of a million-line IPv4 table would be waste.
  let cap6 = 0;
  for (let i = text.indexOf(':'); i >= 0;) {
    cap6++; // a line with a ':' (at most one IPv6 prefix)
    const eol = text.indexOf('\n', i);
    i = eol < 0 ? -1 : text.indexOf(':', eol);
  }
  const v6 = prefixArrays(new Uint8Array(16 * cap6), cap6);
  const templates: RouteTemplate[] = [];
  const tables: Record<4 | 6, TemplateTable> = {
    4: { family: 4, text: [], ids: [], index: new Map(), last: -1 },
    6: { family: 6, text: [], ids: [], index: new Map(), last: -1 },
  };
  const others: RouteSpec[] = [];
  const errors: PwError[] = [];
  let nextHash = text.indexOf('#');
  for (let pos = 0, n = 0; pos <= text.length && errors.length < 100; n++) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = text.length;
    while (nextHash >= 0 && nextHash < pos) nextHash = text.indexOf('#', pos);
    const lineEnd = nextHash >= 0 && nextHash < eol ? nextHash : eol; // a comment ends the line
    const family = fastV4Prefix(text, pos) ? 4 : fastV6Prefix(text, pos) ? 6 : 0;
    if (family && fastEnd <= lineEnd) {
      const t = templateOf(tables[family], templates, text, pos, lineEnd, n, file, errors);
      if (t >= 0) {
        if (family === 4) {
          const k = v4.count++;
          v4.addr[k] = fastAddr;
          v4.plen[k] = fastPlen;
          v4.template[k] = t;
          v4.line[k] = n + 1;
        } else {
          const k = v6.count++;
          v6.addr.set(fast6, 16 * k);
          v6.plen[k] = fastPlen;
          v6.template[k] = t;
          v6.line[k] = n + 1;
        }
      }
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
  return { batch: { v4, v6, templates, others, file }, errors };
}

/**
 * The template for the nexthop text after the prefix the fast scanner just read (fastEnd up
 * to lineEnd), parsing the line once for a text not seen before. -1 (and an error recorded)
 * for a bad line.
 */
function templateOf(
  table: TemplateTable,
  templates: RouteTemplate[],
  text: string,
  pos: number,
  lineEnd: number,
  n: number,
  file: string,
  errors: PwError[],
): number {
  let rs = fastEnd;
  while (rs < lineEnd && isSpace(text.charCodeAt(rs))) rs++;
  let re = lineEnd;
  while (re > rs && isSpace(text.charCodeAt(re - 1))) re--;
  const len = re - rs;
  let k = -1;
  if (table.last >= 0 && sameText(text, rs, table.text[table.last]!, len)) k = table.last;
  // A table has few distinct nexthop texts: try them in place before making a substring.
  for (let j = 0; k < 0 && j < table.text.length && j < 16; j++) if (sameText(text, rs, table.text[j]!, len)) k = j;
  if (k < 0) {
    const rest = text.slice(rs, re);
    k = table.index.get(rest) ?? -1;
    if (k < 0) {
      try {
        const spec = parseLine(text.slice(pos, lineEnd), n, file);
        templates.push({ family: table.family, type: spec.type, nexthops: spec.nexthops, metric: spec.metric, where: spec.where });
        table.text.push(rest);
        table.ids.push(templates.length - 1);
        k = table.text.length - 1;
        table.index.set(rest, k);
      } catch (e) {
        errors.push(e as PwError);
        return -1;
      }
    }
  }
  table.last = k;
  return table.ids[k]!;
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
