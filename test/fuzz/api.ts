/**
 * Requests for the REST API fuzz test (test/e2e/api-fuzz.test.ts), made from the daemon's own
 * OpenAPI description: for each route, a body built from its schema with values that mean
 * something to Pathwise (prefixes, addresses, services, durations) most of the time, then
 * mutated: a key dropped or added, a value of another type, an extreme number or string, a
 * path parameter or query value out of place, a body that is not JSON at all.
 */
import { rng } from '../helpers/rng.js';

/** The part of JSON Schema the API's schemas use. */
export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
}

export interface Operation {
  method: string;
  /** With {name} for its path parameters. */
  path: string;
  body?: Schema;
  query: string[];
}

export interface FuzzRequest {
  method: string;
  path: string;
  /** A JSON body, or the raw text to send as application/json (not JSON itself). */
  body?: unknown;
  raw?: string;
  /** The raw text's content type, when it is not application/json (a gateway's NDJSON log). */
  contentType?: string;
}

type Rand = () => number;

/** A run's randomness and what its values mean: MEANING, and the lab's interfaces. */
interface Ctx {
  rand: Rand;
  meanings: [RegExp, unknown[]][];
}

/** Routes left out: the capture (it streams until a count or a time), and two documents that take no input. */
const SKIPPED = new Set(['/v1/capture', '/metrics', '/openapi.json']);

export function operationsOf(openapi: { paths: Record<string, Record<string, any>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(openapi.paths)) {
    if (SKIPPED.has(path)) continue;
    for (const [method, op] of Object.entries(methods)) {
      ops.push({
        method: method.toUpperCase(),
        path,
        body: op.requestBody?.content?.['application/json']?.schema,
        query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name as string),
      });
    }
  }
  return ops;
}

/** Values with a meaning, by the field or parameter they go in. */
const MEANING: [RegExp, unknown[]][] = [
  [/^(prefix|from|to|target)$/, ['10.9.0.0/16', '10.77.0.0/24', 'fd00:9::/48', '0.0.0.0/0', '10.9.9.9', '::/0', '10.77.0.2/32']],
  [/^prefixes$/, ['10.66.0.0/16', '203.0.113.7', 'fd66::/64']],
  [/^(gateway|addr)$/, ['10.77.0.2', 'fd77::2', '10.77.0.1', '10.9.9.9']],
  [/^address$/, ['10.250.100.1:80/tcp', '[fd50::1]:53/udp', '10.9.9.9:*/udp', '10.77.0.9:443/tcp']],
  [/^backends?$/, ['10.77.0.2:8080', '10.77.0.3:80@2', '[fd77::2]:80', '10.77.0.2:8080@0']],
  [/^(ttl|since|until|duration|interval|timeout)$/, ['10m', '1h', '0s', 3600, '2026-12-05T10:00:00Z']],
  [/^(name|limiter|group|subject|source)$/, ['web', 'dns', 'lim', 'x', 'gw1']],
  [/^(id|version)$/, [1, 2, 3, 'a1', 1]],
  [/^per$/, ['address', '/24', '/24,/64']],
  [/^(limit|offset|top|count)$/, [1, 10, 100, 0]],
];

/** Values out of place, for any field. */
const ODD: unknown[] = [
  null,
  true,
  0,
  -1,
  0.5,
  65536,
  2 ** 31,
  2 ** 53 + 2,
  1e308,
  -1e308,
  '',
  ' ',
  'x'.repeat(5000),
  '\u0000',
  '\ud800',
  '../../etc/passwd',
  '%2e%2e%2f',
  '10.0.0.1/33',
  'fd00::/129',
  '999.1.1.1',
  '1e999',
  'NaN',
  '-0',
  '0x10',
  [],
  {},
  [[[[[[[[]]]]]]]],
  // Own keys named as the prototype's (JSON.parse makes them; an object literal would not).
  JSON.parse('{"__proto__": {"polluted": true}}'),
  { constructor: { prototype: { polluted: true } } },
];

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

function meaningful(name: string, ctx: Ctx): unknown[] | null {
  for (const [re, values] of ctx.meanings) if (re.test(name)) return values;
  return null;
}

/** A value for `schema` (a field named `name`), valid by the schema most of the time. */
export function valueOf(schema: Schema | undefined, name: string, ctx: Ctx, depth = 0): unknown {
  const { rand } = ctx;
  if (!schema || depth > 6) return pick(rand, ODD);
  if (schema.enum) return pick(rand, schema.enum);
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts) return valueOf(pick(rand, alts), name, ctx, depth + 1);
  const type = Array.isArray(schema.type) ? pick(rand, schema.type) : schema.type;
  const known = meaningful(name, ctx);
  switch (type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(schema.properties ?? {}))
        if (schema.required?.includes(k) || rand() < 0.5) o[k] = valueOf(s, k, ctx, depth + 1);
      if (!schema.properties && schema.additionalProperties && typeof schema.additionalProperties === 'object')
        o[pick(rand, ['a.yaml', 'b', '/etc/shadow'])] = valueOf(schema.additionalProperties, name, ctx, depth + 1);
      return o;
    }
    case 'array': {
      const n = Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 1 + Math.floor(rand() * 3)));
      return Array.from({ length: n }, () => valueOf(schema.items, name, ctx, depth + 1));
    }
    case 'string':
      return known
        ? (pick(
            rand,
            known.filter((v) => typeof v === 'string'),
          ) ?? 'x')
        : pick(rand, ['a', 'web', 'tcp', '10.9.9.9']);
    case 'integer':
    case 'number': {
      const nums = (known ?? []).filter((v): v is number => typeof v === 'number');
      if (nums.length && rand() < 0.7) return pick(rand, nums);
      const lo = schema.minimum ?? 0;
      const hi = schema.maximum ?? lo + 100;
      const v = lo + rand() * (hi - lo);
      return type === 'integer' ? Math.floor(v) : v;
    }
    case 'boolean':
      return rand() < 0.5;
    default:
      return known ? pick(rand, known) : pick(rand, ODD);
  }
}

/** One change somewhere in a JSON value: a key dropped or added, a value replaced by an odd one. */
export function mutateValue(v: unknown, rand: Rand): unknown {
  if (v === null || typeof v !== 'object') return rand() < 0.5 ? pick(rand, ODD) : v;
  if (Array.isArray(v)) {
    const a = [...v];
    const r = rand();
    if (r < 0.2 || a.length === 0) a.push(pick(rand, ODD));
    else if (r < 0.4) a.splice(Math.floor(rand() * a.length), 1);
    else {
      const i = Math.floor(rand() * a.length);
      a[i] = mutateValue(a[i], rand);
    }
    return a;
  }
  const o = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  const r = rand();
  if (r < 0.2 || keys.length === 0)
    Object.defineProperty(o, pick(rand, ['extra', 'Prefix', '__proto__', 'constructor', '']), {
      value: pick(rand, ODD),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else if (r < 0.4) delete o[pick(rand, keys)];
  else {
    const k = pick(rand, keys);
    o[k] = mutateValue(o[k], rand);
  }
  return o;
}

/** Client addresses as gateways log them, odd ones among them. */
const LOG_CLIENTS = [
  '203.0.113.7',
  '203.0.113.7:51000',
  '198.51.100.9',
  '[2001:db8::7]:443',
  '2001:db8::7',
  '::ffff:203.0.113.8',
  '10.77.0.1',
  '127.0.0.1',
  '0.0.0.0',
  '::',
  '255.255.255.255',
  'unknown',
  '',
];
const LOG_STATUSES: unknown[] = [429, 429, 403, 200, 502, '429', 999, 100, 0, -1, 429.5];
const LOG_URIS = ['/v1/orders?id=1', '/v2/users/42', '/', '', '/x'.repeat(3000), '/%00/../..', 'no-slash'];

/**
 * A body for /v1/gateway/logs: a batch of one format's entries (src/gateway/adapters.ts), most
 * of them one client rejected again and again so that the follower seals some (its default
 * threshold is 20), as JSON objects or, for nginx, NDJSON lines (JSON or the combined format).
 */
function gatewayLogs(format: string, rand: Rand): { body?: unknown; raw?: string; contentType?: string } {
  const client = pick(rand, LOG_CLIENTS);
  const n = 1 + Math.floor(rand() * 40);
  const entries = Array.from({ length: n }, () => {
    const c = rand() < 0.8 ? client : pick(rand, LOG_CLIENTS);
    const status = pick(rand, LOG_STATUSES);
    const uri = pick(rand, LOG_URIS);
    const method = pick(rand, ['GET', 'POST', '', 'G E T']);
    if (format === 'nginx') return { remote_addr: c, status, request_uri: uri, request_method: method, host: 'api.example' };
    return { client_ip: c, request: { method, uri, headers: { host: 'api.example' } }, response: { status } };
  });
  if (format !== 'nginx' || rand() < 0.5) {
    const body = rand() < 0.5 ? mutateValue(entries, rand) : entries;
    return { body: Array.isArray(body) && body.length === 1 && rand() < 0.5 ? body[0] : body };
  }
  const lines = entries.map((e) =>
    rand() < 0.5
      ? JSON.stringify(rand() < 0.3 ? mutateValue(e, rand) : e)
      : `${e.remote_addr} - - [05/Dec/2026:10:00:00 +0000] "${e.request_method} ${e.request_uri} HTTP/1.1" ${String(e.status)} 12 "-" "curl"`,
  );
  if (rand() < 0.2) lines.splice(Math.floor(rand() * lines.length), 0, pick(rand, ['', '{', 'garbage', '\u0000', '{"a":']));
  return { raw: lines.join(pick(rand, ['\n', '\r\n'])), contentType: 'application/x-ndjson' };
}

/** What a path parameter may hold. */
const PATH_VALUES = [
  'web',
  'dns',
  '1',
  '2',
  '0',
  '-1',
  '10.9.0.0/16',
  'fd00:9::/48',
  'lo',
  'nosuch',
  '..',
  '%00',
  '%2F',
  'x'.repeat(300),
  '%E2%82',
  ' ',
];

function fillPath(path: string, ctx: Ctx, interfaces: string[]): string {
  return path.replace(/\{[^}]+\}/g, () => {
    const v = pick(ctx.rand, [...PATH_VALUES, ...interfaces]);
    return v.startsWith('%') ? v : encodeURIComponent(v);
  });
}

function queryOf(names: string[], ctx: Ctx): string {
  const { rand } = ctx;
  const parts: string[] = [];
  for (const n of names) {
    if (rand() < 0.6) continue;
    const known = meaningful(n, ctx);
    const v =
      known && rand() < 0.6
        ? pick(rand, known)
        : pick(rand, ['', '-1', '0', '1', 'true', 'x', '1e999', '99999999999999999999', '%00', 'a,b']);
    parts.push(`${n}=${typeof v === 'string' && v.startsWith('%') ? v : encodeURIComponent(String(v))}`);
  }
  if (rand() < 0.1) parts.push(`${pick(rand, ['limit', 'x', ''])}=${pick(rand, ['1', '-5', ''])}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The requests of a fuzz run: `n` of them over the operations, from `seed`. */
export function* fuzzRequests(
  ops: Operation[],
  seed: number,
  n: number,
  lab: { configText: string; interfaces: string[] },
): Generator<FuzzRequest> {
  const rand = rng(seed);
  const ctx: Ctx = { rand, meanings: [[/^(dev|interface)$/, [...lab.interfaces, 'lo', 'nosuch0']], ...MEANING] };
  const configText = lab.configText;
  const gatewayLog = ops.find((o) => o.path === '/v1/gateway/logs' && o.method === 'POST');
  for (let i = 0; i < n; i++) {
    // The gateway log intake a few times more often than one operation in ~50 would be: its
    // bodies (below) are the ones the schema does not describe.
    const op = (rand() < 0.05 && gatewayLog) || pick(rand, ops);
    // A gateway's log: a format it names (most of the time), entries as gateways write them.
    if (op === gatewayLog && rand() < 0.8) {
      const format = pick(rand, ['nginx', 'kong', 'apisix', 'nginx', 'envoy']);
      const source = pick(rand, ['', `&source=${pick(rand, ['gw1', 'kong-1', 'a%20b', 'x'.repeat(70)])}`]);
      yield { method: op.method, path: `${op.path}?format=${format}${source}`, ...gatewayLogs(format, rand) };
      continue;
    }
    const path = fillPath(op.path, ctx, lab.interfaces) + queryOf(op.query, ctx);
    if (!op.body) {
      yield { method: op.method, path };
      continue;
    }
    let body = valueOf(op.body, '', ctx);
    // The config's text: the lab's own, cut or with a line out of place, most of the time.
    if (op.path === '/v1/config' && body && typeof body === 'object' && 'text' in body) {
      const lines = configText.split('\n');
      const j = Math.floor(rand() * lines.length);
      const variants = [configText, lines.slice(0, j).join('\n'), [...lines.slice(0, j), '  - { name: 1 }', ...lines.slice(j)].join('\n')];
      (body as Record<string, unknown>).text = pick(rand, variants);
    }
    const r = rand();
    if (r < 0.6) body = mutateValue(body, rand);
    if (r > 0.95) {
      const text = JSON.stringify(body) ?? '';
      yield { method: op.method, path, raw: text.slice(0, Math.floor(rand() * text.length)) };
      continue;
    }
    yield { method: op.method, path, body };
  }
}

/**
 * What a refused change must leave as it was, read through `get` (a GET's JSON): the config
 * version, the rules and rate limiters, the routes the user added, and the services (rules
 * without their counters, which the veths' own chatter may move; services without their
 * counters and health). Each part as text, so that two readings compare part by part.
 */
export async function stateOf(get: (path: string) => Promise<any>): Promise<Record<string, string>> {
  return {
    version: JSON.stringify((await get('/v1/status')).version),
    rules: JSON.stringify(((await get('/v1/rules')) as any[]).map((r) => [r.id, r.text])),
    ratelimits: JSON.stringify(await get('/v1/ratelimits')),
    routes: JSON.stringify(await get('/v1/routes?user=true')),
    services: JSON.stringify(
      ((await get('/v1/services')) as any[]).map((s) => [s.name, s.address, s.mode, s.backends.map((b: any) => [b.backend, b.weight])]),
    ),
  };
}

/** The parts of two readings of stateOf that differ, as "part: before → after" around the first difference. */
export const stateChanges = (a: Record<string, string>, b: Record<string, string>): string[] =>
  Object.keys(a)
    .filter((k) => a[k] !== b[k])
    .map((k) => {
      let i = 0;
      while (a[k]![i] === b[k]![i]) i++;
      const around = (s: string) => s.slice(Math.max(0, i - 100), i + 200);
      return `${k}: …${around(a[k]!)} → …${around(b[k]!)}`;
    });
