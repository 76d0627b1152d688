/**
 * Reading a configuration: YAML (JSON is YAML too), checked against the schema and for
 * cross-references. Every problem is reported — not just the first — with file:line:column
 * and the JSON path of the value at fault; a config with any problem is refused whole.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isCollection, isMap, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';

import type { z } from 'zod';

import { PwError } from '../../errors.js';
import * as abi from '../../generated/pathwise.js';
import { DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE, MIN_TABLE_SIZE } from '../../lb/maglev.js';
import { parseServiceAddress, serviceKey } from '../../lb/service.js';
import { invalidGateway } from '../../routing/route.js';
import { parseAddress } from '../../util/ip.js';
import { serviceSpecOf } from './forms.js';
import { Config, Service } from './schema.js';

export interface ConfigProblem {
  /** file:line:column */
  where: string;
  /** JSON path, e.g. rules[2].dport */
  path: string;
  message: string;
}

export function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(top level)';
}

/** The source position of the value at `path`, or of its nearest existing ancestor. */
function positionOf(doc: Document, lines: LineCounter, path: (string | number)[]): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    const range = node && (node as { range?: [number, number, number] }).range;
    if (range) {
      const { line, col } = lines.linePos(range[0]);
      return { line, col };
    }
  }
  return { line: 1, col: 1 };
}

/**
 * Cross-references the schema alone cannot see. It reads the raw document defensively, so it
 * runs even when the schema found problems: the user sees them all in one go.
 */
type Raw = Partial<Config> & Record<string, unknown>;
function crossCheck(raw: Raw): { path: (string | number)[]; message: string }[] {
  const list = <T>(x: unknown): T[] => (Array.isArray(x) ? (x as T[]) : []);
  const c = {
    routes: list<Config['routes'][number]>(raw.routes)
      .filter((r) => r && typeof r === 'object')
      .map((r) => ({ ...r, type: r.type ?? 'unicast' })),
    rules: list<Config['rules'][number]>(raw.rules).filter((r) => r && typeof r === 'object'),
    nexthopGroups: (raw.nexthopGroups && typeof raw.nexthopGroups === 'object' ? raw.nexthopGroups : {}) as Config['nexthopGroups'],
    ratelimits: (raw.ratelimits && typeof raw.ratelimits === 'object' ? raw.ratelimits : {}) as Config['ratelimits'],
    paths: (raw.paths && typeof raw.paths === 'object' ? raw.paths : {}) as Config['paths'],
    api: {
      tokens: list<Config['api']['tokens'][number]>((raw.api as { tokens?: unknown } | undefined)?.tokens).filter(
        (t) => t && typeof t === 'object',
      ),
    },
  };
  const out: { path: (string | number)[]; message: string }[] = [];
  // Gateways no nexthop can have, said here rather than when the apply resolves them.
  const gateways = (nexthops: unknown, path: (string | number)[]) =>
    list<{ gateway?: unknown } | null>(nexthops).forEach((n, j) => {
      if (typeof n?.gateway !== 'string') return;
      let gw;
      try {
        gw = parseAddress(n.gateway);
      } catch {
        return; // the schema names it
      }
      const invalid = invalidGateway(n.gateway, gw);
      if (invalid) out.push({ path: [...path, j, 'gateway'], message: invalid.message });
    });
  for (const [name, members] of Object.entries(c.nexthopGroups)) gateways(members, ['nexthopGroups', name]);
  c.routes.forEach((r, i) => {
    gateways(r.via, ['routes', i, 'via']);
    if (r.type === 'unicast' && !r.via && !r.nexthopGroup)
      out.push({ path: ['routes', i], message: "a unicast route needs 'via' or 'nexthopGroup'" });
    if (r.via && r.nexthopGroup) out.push({ path: ['routes', i, 'nexthopGroup'], message: "give 'via' or 'nexthopGroup', not both" });
    if (r.type !== 'unicast' && (r.via || r.nexthopGroup))
      out.push({ path: ['routes', i, 'type'], message: `a ${r.type} route takes no nexthops` });
    if (r.nexthopGroup && !c.nexthopGroups[r.nexthopGroup])
      out.push({ path: ['routes', i, 'nexthopGroup'], message: `no nexthop group named '${r.nexthopGroup}'` });
  });
  for (const [name, p] of Object.entries(c.paths)) {
    if (!p || typeof p !== 'object') continue;
    const members = c.nexthopGroups[name];
    if (!members) out.push({ path: ['paths', name], message: `no nexthop group named '${name}' to steer` });
    else if (!p.probe?.target && members.some((n) => !n.gateway))
      out.push({ path: ['paths', name, 'probe', 'target'], message: 'a path without a gateway needs a probe target' });
    if ((p.probe?.type === 'udp' || p.probe?.type === 'tcp') && !p.probe.port)
      out.push({ path: ['paths', name, 'probe', 'port'], message: `${p.probe.type} probes need a port` });
    const fb = p.fallback ?? 'kernel';
    if (fb !== 'kernel' && fb !== 'blackhole') {
      if (!c.nexthopGroups[fb])
        out.push({ path: ['paths', name, 'fallback'], message: `no nexthop group named '${fb}' (or kernel, blackhole)` });
      else if (fb === name) out.push({ path: ['paths', name, 'fallback'], message: 'a group cannot fall back to itself' });
    }
  }
  const seen = new Map<string, number>();
  c.routes.forEach((r, i) => {
    const k = r.prefix;
    if (seen.has(k)) out.push({ path: ['routes', i, 'prefix'], message: `${k} is also routes[${seen.get(k)}]` });
    seen.set(k, i);
  });
  c.rules.forEach((r, i) => {
    if (r.action === 'ratelimit' && !r.limiter) out.push({ path: ['rules', i], message: "action ratelimit needs 'limiter'" });
    if (r.limiter && !c.ratelimits[r.limiter]) out.push({ path: ['rules', i, 'limiter'], message: `no rate limiter named '${r.limiter}'` });
    const tcpUdp = r.proto === 'tcp' || r.proto === 'udp' || r.proto === 6 || r.proto === 17;
    if ((r.sport !== undefined || r.dport !== undefined) && !tcpUdp)
      out.push({ path: ['rules', i, r.dport !== undefined ? 'dport' : 'sport'], message: 'ports need proto tcp or udp' });
    if (r.flags && !(r.proto === 'tcp' || r.proto === 6)) out.push({ path: ['rules', i, 'flags'], message: 'flags need proto tcp' });
    if (typeof r.from === 'string' && typeof r.to === 'string' && r.from.includes(':') !== r.to.includes(':'))
      out.push({ path: ['rules', i, 'to'], message: "'from' and 'to' are of different address families" });
  });
  // Two services on one address: the apply would refuse the version; say where, at once.
  const addresses = new Map<string, string>();
  for (const [name, svc] of Object.entries(
    (raw.services && typeof raw.services === 'object' ? raw.services : {}) as Record<string, unknown>,
  )) {
    const address = (svc as { address?: unknown } | null)?.address;
    if (typeof address !== 'string') continue;
    let key: string;
    try {
      key = serviceKey(parseServiceAddress(address, `services.${name}.address`));
    } catch {
      continue; // the schema names it
    }
    const other = addresses.get(key);
    if (other !== undefined) out.push({ path: ['services', name, 'address'], message: `service '${other}' has ${key} too` });
    else addresses.set(key, name);
  }
  out.push(...serviceRoom(raw), ...serviceChecks(raw));
  c.api.tokens.forEach((t, i) => {
    if (c.api.tokens.findIndex((x) => x.name === t.name) !== i)
      out.push({ path: ['api', 'tokens', i, 'name'], message: `token name '${t.name}' is used twice` });
  });
  return out;
}

/**
 * Each service checked whole, as the apply will check it (a backend of the other family, an
 * address no packet can carry, a table too small…), said at its place in the file rather than
 * when the apply reaches it. A service the schema refuses is left to the schema.
 */
function serviceChecks(raw: Raw): { path: (string | number)[]; message: string }[] {
  const services = raw.services && typeof raw.services === 'object' ? Object.entries(raw.services as Record<string, unknown>) : [];
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const [name, svc] of services) {
    const parsed = Service.safeParse(svc);
    if (!parsed.success) continue;
    const where = `services.${name}`;
    try {
      serviceSpecOf(name, parsed.data, where);
    } catch (e) {
      if (!(e instanceof PwError)) throw e;
      // The rest of `where` after the service (.backends[2], .snat) is the path within it.
      const rest = e.where?.startsWith(where) ? e.where.slice(where.length) : '';
      const within = [...rest.matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
      out.push({ path: ['services', name, ...within], message: e.message });
    }
  }
  return out;
}

/**
 * Whether the services fit the data plane's tables, said at the service that does not fit
 * (the apply would stop there and undo the version): at most LB_MAX_SERVICES - 1 services and
 * LB_MAX_BACKENDS - 1 backends, and two Maglev tables per service (each in whole 16-slot
 * elements) within pipeline.serviceSlots. Values of the wrong type are left to the schema.
 */
function serviceRoom(raw: Raw): { path: (string | number)[]; message: string }[] {
  const services = raw.services && typeof raw.services === 'object' ? Object.entries(raw.services as Record<string, unknown>) : [];
  const pipeline = raw.pipeline as { serviceSlots?: unknown } | undefined;
  const pool = typeof pipeline?.serviceSlots === 'number' ? pipeline.serviceSlots : abi.PwLimit.LB_TABLE_SLOTS;
  const perElem = abi.PwLimit.LB_SLOTS_PER_ELEM;
  let slots = 0;
  let backends = 0;
  let count = 0;
  for (const [name, svc] of services) {
    if (!svc || typeof svc !== 'object') continue;
    const s = svc as { tableSize?: unknown; backends?: unknown };
    if (++count === abi.PwLimit.LB_MAX_SERVICES)
      return [{ path: ['services', name], message: `more services than the data plane holds (${abi.PwLimit.LB_MAX_SERVICES - 1})` }];
    if (Array.isArray(s.backends) && (backends += s.backends.length) >= abi.PwLimit.LB_MAX_BACKENDS)
      return [
        {
          path: ['services', name, 'backends'],
          message: `more backends in all than the data plane holds (${abi.PwLimit.LB_MAX_BACKENDS - 1})`,
        },
      ];
    const size = s.tableSize === undefined ? DEFAULT_TABLE_SIZE : s.tableSize;
    if (typeof size !== 'number' || size < MIN_TABLE_SIZE || size > MAX_TABLE_SIZE) continue;
    const two = 2 * Math.ceil(size / perElem) * perElem;
    if (slots + two > pool)
      return [
        {
          path: ['services', name],
          message: `its two Maglev tables of ${size} slots do not fit: the services before it take ${slots} of pipeline.serviceSlots (${pool}); raise it (fixed while the pipeline runs: 'pathwise down' first), or give smaller tableSize`,
        },
      ];
    slots += two;
  }
  return [];
}

/**
 * The document as plain values. Aliases resolve here, so an alias to no anchor (or aliases
 * nested past yaml's resource-exhaustion count) surfaces now: as a problem at the first alias
 * that resolves to nothing (or at the top), not as an exception of the YAML library's.
 */
function plainOf(doc: Document, lines: LineCounter, file: string, problems: ConfigProblem[]): Raw | null {
  // A mapping or list as a key has no plain form (the library would turn it into a string,
  // with a warning on standard error): no setting is named that way.
  let key: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (key === undefined && isCollection(pair.key)) key = pair.key.range?.[0] ?? 0;
    },
  });
  if (key !== undefined) {
    const pos = lines.linePos(key);
    problems.push({ where: `${file}:${pos.line}:${pos.col}`, path: '', message: 'a key must be a plain value, not a mapping or a list' });
    return null;
  }
  try {
    return (doc.toJS() ?? {}) as Raw;
  } catch (e) {
    let at: number | undefined;
    visit(doc, {
      Alias(_, node) {
        if (at === undefined && !node.resolve(doc)) at = node.range?.[0];
      },
    });
    const pos = lines.linePos(at ?? 0);
    problems.push({ where: `${file}:${pos.line}:${pos.col}`, path: '', message: (e as Error).message });
    return null;
  }
}

/** Parses and validates a config text; throws PwError listing every problem. */
export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
    problems.push({ where: `${file}:${pos.line}:${pos.col}`, path: '', message: e.message.split('\n')[0]! });
  }
  if (problems.length === 0) {
    const root = doc.contents;
    if (root && !isMap(root)) {
      problems.push({
        where: `${file}:1:1`,
        path: '',
        message: `the config must be a mapping of settings, not ${isSeq(root) ? 'a list' : 'a value'}`,
      });
    } else {
      const raw = plainOf(doc, lines, file, problems);
      const result = raw ? Config.safeParse(raw) : null;
      const found =
        raw && result
          ? [
              ...(result.success ? [] : result.error.issues.map((i) => ({ path: i.path as (string | number)[], message: i.message }))),
              ...crossCheck(raw),
            ]
          : [];
      for (const { path, message } of found) {
        const pos = positionOf(doc, lines, path);
        problems.push({ where: `${file}:${pos.line}:${pos.col}`, path: formatPath(path), message });
      }
      // Sorted by position in the file, as an editor would list them.
      problems.sort((a, b) => {
        const [la, ca] = a.where.split(':').slice(-2).map(Number);
        const [lb, cb] = b.where.split(':').slice(-2).map(Number);
        return la! - lb! || ca! - cb!;
      });
      if (!problems.length && result?.success) return result.data;
    }
  }
  const list = problems.map((p) => `  ${p.where}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n');
  throw new PwError(
    'PW_ERR_INVALID',
    `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}; nothing was applied:\n${list}`,
    {
      where: problems[0]!.where,
      details: { problems },
    },
  );
}

/**
 * Checks the cross-references of a config built in code (an API edit of the running config,
 * whose items were each validated against the schema on their way in): a unicast route needs a
 * nexthop, a limiter a rule names must exist, and so on. Throws PW_ERR_INVALID listing them.
 */
export function checkConfig(cfg: Config, source: string): Config {
  const found = crossCheck(cfg as unknown as Raw);
  if (!found.length) return cfg;
  const list = found.map((p) => `  ${formatPath(p.path)}: ${p.message}`).join('\n');
  throw new PwError(
    'PW_ERR_INVALID',
    `${found.length} problem${found.length === 1 ? '' : 's'} in ${source}; nothing was applied:\n${list}`,
    {
      where: formatPath(found[0]!.path),
      details: { problems: found.map((p) => ({ where: source, path: formatPath(p.path), message: p.message })) },
    },
  );
}

/**
 * One item of a config (a route, a rule...) checked against its schema, with defaults filled in,
 * as it will stand at `path` (routes[3]); PW_ERR_INVALID naming each field at fault otherwise.
 * For items an API call adds to the running config.
 */
export function validateItem<S extends z.ZodType>(schema: S, value: unknown, path: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => ({
    path: `${path}${formatPath(i.path as (string | number)[]).replace(/^(?=[^[])/, '.')}`.replace(/\.\(top level\)$/, ''),
    message: i.message,
  }));
  throw new PwError('PW_ERR_INVALID', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
    where: problems[0]!.path,
    details: { problems },
  });
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PwError('PW_ERR_NOT_FOUND', `cannot read config ${file}: ${(e as Error).message}`, { where: file });
  }
  return parseConfig(text, file);
}
