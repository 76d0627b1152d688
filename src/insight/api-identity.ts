/**
 * Which API a request calls, and which version: the configured `apis:` patterns first
 * ("/v{version}/orders/{id}", with methods and hosts), then for paths no pattern names, a
 * template made from the path itself (numbers, UUIDs, hex strings and long tokens become
 * {id}), at most `maxTemplates` of them; beyond that, "other". Versions come from the path,
 * then the configured request field, then the configured query parameter.
 */

export interface ApiPattern {
  name: string;
  /** "/v{version}/orders/{id}": {x} is one path segment or part of one; a final "*" is the rest. */
  path: string;
  methods?: readonly string[];
  hosts?: readonly string[];
}

export interface ApiIdentity {
  api: string;
  version: string | null;
}

export interface ApiNamerOptions {
  patterns?: readonly ApiPattern[];
  /** Automatic templates kept before the rest are "other". */
  maxTemplates?: number;
  /** A query parameter that names the version ("api-version"). */
  versionQuery?: string | null;
}

export const OTHER_API = 'other';

interface CompiledPattern {
  p: ApiPattern;
  re: RegExp;
  methods: Set<string> | null;
  hosts: Set<string> | null;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles a path pattern; throws with what is wrong (the config validator calls it). */
export function compilePathPattern(path: string): RegExp {
  if (!path.startsWith('/')) throw new Error(`an API path starts with '/': ${JSON.stringify(path)}`);
  let re = '^';
  const rest = path.endsWith('*') ? path.slice(0, -1) : path;
  const parts = rest.split(/(\{[^{}]*\})/);
  for (const part of parts) {
    if (!part) continue;
    const m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part);
    if (m) re += m[1] === 'version' ? '(?<version>[^/]+?)' : '[^/]+';
    else if (/[{}]/.test(part)) throw new Error(`a placeholder is {name} (letters, digits, _): ${JSON.stringify(path)}`);
    else re += escapeRe(part);
  }
  re += path.endsWith('*') ? '.*$' : '/?$';
  return new RegExp(re);
}

/**
 * The template of a path: identifiers in it become {id}. A segment is an identifier when it is
 * a number, a UUID, a hex string of 8 or more with a digit in it, or a token of 20 or more
 * letters, digits and "_~.-".
 */
export function templateOf(path: string): string {
  return pathShape(path).template;
}

/**
 * The path's template and the version a segment of it names ("v2", "v1.1": the first such
 * segment), in one pass over its characters: this runs for every request seen, and a split
 * with four regular expressions per segment cost more than the rest of naming it.
 */
function pathShape(path: string): { template: string; version: string | null } {
  let template = '';
  let copied = 0;
  let version: string | null = null;
  for (let start = 0; start <= path.length;) {
    let end = path.indexOf('/', start);
    if (end < 0) end = path.length;
    if (isIdentifier(path, start, end)) {
      template += path.slice(copied, start) + '{id}';
      copied = end;
    }
    if (version === null && isVersionSegment(path, start, end)) version = path.slice(start + 1, end);
    start = end + 1;
  }
  return { template: copied ? template + path.slice(copied) : path, version };
}

const HEX_DIGIT = 1;
const DECIMAL = 2;
const TOKEN_CHAR = 4;
const CLASS = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = HEX_DIGIT | DECIMAL | TOKEN_CHAR;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = TOKEN_CHAR | (c <= 0x46 ? HEX_DIGIT : 0);
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = TOKEN_CHAR | (c <= 0x66 ? HEX_DIGIT : 0);
for (const c of '_~.-') CLASS[c.charCodeAt(0)] = TOKEN_CHAR;

/** Whether path[start, end) is an identifier (see templateOf). */
function isIdentifier(path: string, start: number, end: number): boolean {
  const n = end - start;
  if (n === 0) return false;
  let all = HEX_DIGIT | DECIMAL | TOKEN_CHAR;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = path.charCodeAt(i);
    const k = c < 128 ? CLASS[c]! : 0;
    all &= k;
    if (k & DECIMAL) digits++;
  }
  if (all & DECIMAL) return true;
  if (all & HEX_DIGIT && n >= 8 && digits > 0) return true;
  if (n === 36 && isUuid(path, start)) return true;
  return n >= 20 && (all & TOKEN_CHAR) !== 0;
}

function isUuid(path: string, start: number): boolean {
  for (let i = 0; i < 36; i++) {
    const c = path.charCodeAt(start + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (c >= 128 || !(CLASS[c]! & HEX_DIGIT)) return false;
  }
  return true;
}

/** "v" or "V", then digits in groups joined by dots ("v2", "v1.10"). */
function isVersionSegment(path: string, start: number, end: number): boolean {
  const v = path.charCodeAt(start);
  if ((v !== 0x76 && v !== 0x56) || end - start < 2) return false;
  let digitBefore = false;
  for (let i = start + 1; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digitBefore = true;
    else if (c === 0x2e && digitBefore) digitBefore = false;
    else return false;
  }
  return digitBefore;
}

/** The path of a request target, and its query (from its "?", or ""). */
function splitTarget(target: string): { path: string; query: string } {
  if (target.charCodeAt(0) === 0x2f) {
    // The origin form, "/path?query", all but every request.
    const q = target.indexOf('?');
    const h = target.indexOf('#');
    const cut = q < 0 ? h : h < 0 ? q : Math.min(q, h);
    return { path: cut < 0 ? target : target.slice(0, cut) || '/', query: q < 0 ? '' : target.slice(q) };
  }
  // An absolute-form target ("http://host/path") names the path after the authority.
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/[^?#]*)?(\?[^#]*)?/i.exec(target);
  const path = abs ? (abs[1] ?? '/') : target.split(/[?#]/)[0]!;
  const q = abs ? (abs[2] ?? '') : target.includes('?') ? target.slice(target.indexOf('?')) : '';
  return { path: path || '/', query: q };
}

export class ApiNamer {
  private readonly patterns: CompiledPattern[];
  private readonly templates = new Set<string>();
  private readonly maxTemplates: number;
  /** Requests named "other" because the template cap was reached. */
  overflow = 0;

  constructor(private readonly opts: ApiNamerOptions = {}) {
    this.patterns = (opts.patterns ?? []).map((p) => ({
      p,
      re: compilePathPattern(p.path),
      methods: p.methods?.length ? new Set(p.methods.map((m) => m.toUpperCase())) : null,
      hosts: p.hosts?.length ? new Set(p.hosts.map((h) => h.toLowerCase())) : null,
    }));
    this.maxTemplates = opts.maxTemplates ?? 200;
  }

  /** Templates made so far (for tests and the status view). */
  get templateCount(): number {
    return this.templates.size;
  }

  identify(method: string, target: string, host: string | null, versionField: string | null): ApiIdentity {
    const { path, query } = splitTarget(target);
    const fromQuery = () => (this.opts.versionQuery && query && new URLSearchParams(query.slice(1)).get(this.opts.versionQuery)) || null;
    if (this.patterns.length) {
      const hostName = host?.replace(/:\d+$/, '').toLowerCase() ?? null;
      for (const c of this.patterns) {
        if (c.methods && !c.methods.has(method.toUpperCase())) continue;
        if (c.hosts && (!hostName || !c.hosts.has(hostName))) continue;
        const m = c.re.exec(path);
        if (m) return { api: c.p.name, version: m.groups?.version ?? versionField ?? fromQuery() };
      }
    }
    const shape = pathShape(path);
    const tpl = shape.template;
    const version = shape.version || versionField || fromQuery();
    if (this.templates.has(tpl)) return { api: tpl, version };
    if (this.templates.size < this.maxTemplates) {
      this.templates.add(tpl);
      return { api: tpl, version };
    }
    this.overflow++;
    return { api: OTHER_API, version };
  }
}
