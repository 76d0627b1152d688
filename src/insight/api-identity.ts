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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^(?=.*\d)[0-9a-f]{8,}$/i;
const NUMBER = /^\d+$/;
const TOKEN = /^[A-Za-z0-9_~.-]{20,}$/;
const VERSION_SEGMENT = /^v(\d+(?:\.\d+)*)$/i;

/** The template of a path: identifiers in it become {id}. */
export function templateOf(path: string): string {
  return path
    .split('/')
    .map((seg) => (NUMBER.test(seg) || UUID.test(seg) || HEX.test(seg) || TOKEN.test(seg) ? '{id}' : seg))
    .join('/');
}

function splitTarget(target: string): { path: string; query: URLSearchParams | null } {
  // An absolute-form target ("http://host/path") names the path after the authority.
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/[^?#]*)?(\?[^#]*)?/i.exec(target);
  const path = abs ? (abs[1] ?? '/') : target.split(/[?#]/)[0]!;
  const q = abs ? (abs[2] ?? '') : target.includes('?') ? target.slice(target.indexOf('?')) : '';
  return { path: path || '/', query: q ? new URLSearchParams(q.slice(1)) : null };
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
    const hostName = host?.replace(/:\d+$/, '').toLowerCase() ?? null;
    const fromQuery = () => (this.opts.versionQuery && query?.get(this.opts.versionQuery)) || null;
    for (const c of this.patterns) {
      if (c.methods && !c.methods.has(method.toUpperCase())) continue;
      if (c.hosts && (!hostName || !c.hosts.has(hostName))) continue;
      const m = c.re.exec(path);
      if (m) return { api: c.p.name, version: m.groups?.version ?? versionField ?? fromQuery() };
    }
    const tpl = templateOf(path);
    const seg = path.split('/').find((s) => VERSION_SEGMENT.test(s));
    const version = (seg && VERSION_SEGMENT.exec(seg)![1]!) || versionField || fromQuery();
    if (this.templates.has(tpl)) return { api: tpl, version };
    if (this.templates.size < this.maxTemplates) {
      this.templates.add(tpl);
      return { api: tpl, version };
    }
    this.overflow++;
    return { api: OTHER_API, version };
  }
}
