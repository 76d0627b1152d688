/**
 * The iproute2-like route syntax shared by `pathwise route add|del|replace` and the lines of
 * `pathwise route load FILE`:
 *
 *   [blackhole|local|kernel] PREFIX [via GW [dev IF] [weight N]]... [dev IF] [metric N]
 *
 * Several `via` make an ECMP group; `nexthop` is accepted (and ignored) before a `via`, as in
 * `ip route add ... nexthop via A nexthop via B`. `default` means 0.0.0.0/0.
 */
import { Buffer } from 'node:buffer';

import { PwError } from '../errors.js';
import { scanRouteText, type RouteTextScan } from '../kernel/scan.js';
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

/** A line the general parser reads: 0-based, and its bytes without its comment. */
interface SlowLine {
  line: number;
  start: number;
  end: number;
}

/** The most errors a file reports (in line order). */
const MAX_ERRORS = 100;

/**
 * One route per line; blank lines and # comments are skipped; CRLF line ends are fine. Every
 * error is collected (the first 100, by line). The addon's scanner (src/kernel/scan.ts)
 * reads the plain IPv4 and IPv6 lines (the bulk of a full table) and groups them by nexthop
 * text; each distinct text is parsed here once, on the first line that has it, and every other
 * line by the general parser.
 */
export function parseRouteFile(input: string | Uint8Array, file: string): { batch: RouteBatch; errors: PwError[] } {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const scan = scanRouteText(bytes);
  const errors: { line: number; error: PwError }[] = [];
  const parseAt = (l: SlowLine) => parseLine(bytes.toString('utf8', l.start, l.end), l.line, file);

  // One template per distinct nexthop text, from its first line. A text the general parser
  // refuses is refused on every line that has it (the same text after a prefix of the same
  // family), each line with its own error.
  const templates: RouteTemplate[] = [];
  const templateOfText = new Int32Array(scan.texts.length);
  let refused = 0;
  scan.texts.forEach((t, k) => {
    try {
      const spec = parseAt(t);
      templates.push({ family: t.family, type: spec.type, nexthops: spec.nexthops, metric: spec.metric, where: spec.where });
      templateOfText[k] = templates.length - 1;
    } catch (e) {
      errors.push({ line: t.line, error: e as PwError });
      templateOfText[k] = -1;
      refused++;
    }
  });
  const firstLineErrors = errors.length;

  // The general parser's lines, in line order, until 100 errors come before the next one: the
  // lines the scanner left, and those of refused texts after their first (read lazily: a file
  // whose every line is refused may have a million, and the parser stops at 100 errors).
  const others: RouteSpec[] = [];
  let before = 0; // errors of first lines before the current line
  for (const l of inLineOrder(scan, templateOfText, refused > 0, bytes)) {
    while (before < firstLineErrors && errors[before]!.line < l.line) before++;
    if (before + errors.length - firstLineErrors >= MAX_ERRORS) break;
    try {
      others.push(parseAt(l));
    } catch (e) {
      errors.push({ line: l.line, error: e as PwError });
    }
  }
  errors.sort((a, b) => a.line - b.line);

  const v4 = prefixArrays(scan.v4, 4, templateOfText, refused > 0);
  const v6 = prefixArrays(scan.v6, 16, templateOfText, refused > 0);
  return {
    batch: { v4: v4 as PrefixArrays<Uint32Array>, v6: v6 as PrefixArrays<Uint8Array>, templates, others, file },
    errors: errors.slice(0, MAX_ERRORS).map((e) => e.error),
  };
}

/** A family's scanned lines with the template of each; without the lines of refused texts. */
function prefixArrays(
  f: RouteTextScan['v4'] | RouteTextScan['v6'],
  addrBytes: 4 | 16,
  templateOfText: Int32Array,
  anyRefused: boolean,
): PrefixArrays<Uint32Array | Uint8Array> {
  // With no text refused, every text has a template, in the texts' order: the scan's text
  // indexes are the template indexes, kept as they are (a copy of a full table's was ~20 ms,
  // most of it the first writes to fresh pages).
  if (!anyRefused) return { count: f.count, addr: f.addr, plen: f.plen, template: f.text, line: f.line };
  // Only when the file has errors (nothing is installed then): keep the lines that parsed.
  const keep: number[] = [];
  for (let i = 0; i < f.count; i++) if (templateOfText[f.text[i]!]! >= 0) keep.push(i);
  const addr = addrBytes === 4 ? new Uint32Array(keep.length) : new Uint8Array(16 * keep.length);
  const out = {
    count: keep.length,
    addr,
    plen: new Uint8Array(keep.length),
    template: new Uint32Array(keep.length),
    line: new Uint32Array(keep.length),
  };
  keep.forEach((i, k) => {
    if (addrBytes === 4) (addr as Uint32Array)[k] = (f.addr as Uint32Array)[i]!;
    else addr.set(f.addr.subarray(16 * i, 16 * i + 16), 16 * k);
    out.plen[k] = f.plen[i]!;
    out.template[k] = templateOfText[f.text[i]!]!;
    out.line[k] = f.line[i]!;
  });
  return out;
}

/**
 * The lines for the general parser, in line order: the scan's `others`, merged with (when a
 * nexthop text was refused) the lines after the first of each refused text, whose bytes are
 * found as they are reached (the scan keeps only each text's first line).
 */
function* inLineOrder(scan: RouteTextScan, templateOfText: Int32Array, anyRefused: boolean, bytes: Buffer): Generator<SlowLine> {
  const o = scan.others;
  if (!anyRefused) {
    for (let i = 0; i < o.length; i += 3) yield { line: o[i]!, start: o[i + 1]!, end: o[i + 2]! };
    return;
  }
  let starts: Uint32Array | undefined; // each line's first byte, found once, when first needed
  const bounds = (line: number): SlowLine => {
    if (!starts) {
      starts = new Uint32Array(scan.lines + 1);
      for (let n = 1, at = bytes.indexOf(10); at >= 0 && n <= scan.lines; at = bytes.indexOf(10, at + 1)) starts[n++] = at + 1;
    }
    const start = starts[line]!;
    const eol = line + 1 < scan.lines ? starts[line + 1]! - 1 : bytes.length;
    const hash = bytes.subarray(start, eol).indexOf(35); // '#': a comment ends the line
    return { line, start, end: hash >= 0 ? start + hash : eol };
  };
  // The next refused line of each family at or after position at[f] (0-based line, or -1).
  const fams = [scan.v4, scan.v6];
  const at = [0, 0];
  const next = (f: number): number => {
    const fam = fams[f]!;
    for (; at[f]! < fam.count; at[f]!++) {
      const k = fam.text[at[f]!]!;
      const line = fam.line[at[f]!]! - 1;
      if (templateOfText[k]! < 0 && scan.texts[k]!.line !== line) return line;
    }
    return -1;
  };
  let i = 0;
  for (;;) {
    const lines = [i < o.length ? o[i]! : -1, next(0), next(1)];
    let pick = -1;
    for (let s = 0; s < 3; s++) if (lines[s]! >= 0 && (pick < 0 || lines[s]! < lines[pick]!)) pick = s;
    if (pick < 0) return;
    if (pick === 0) {
      yield { line: o[i]!, start: o[i + 1]!, end: o[i + 2]! };
      i += 3;
    } else {
      yield bounds(lines[pick]!);
      at[pick - 1]!++;
    }
  }
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
