/**
 * Gateway adapters: what a gateway's access log says of each request, read from the formats
 * gateways write. An adapter turns one log line (or one JSON entry a gateway's HTTP logger
 * posts) into who asked and what the gateway answered; follower.ts decides what Pathwise
 * makes of repeated rejections. Another gateway is another entry in ADAPTERS.
 *
 *   nginx    `log_format ... escape=json` JSON lines (fields named as nginx variables, e.g.
 *            remote_addr, status, request_uri, request_method, host; or client, uri, method),
 *            or the default `combined` format
 *   kong     Kong's file-log and http-log plugins: { client_ip, request: { method, uri },
 *            response: { status } }
 *   apisix   APISIX's file-logger and http-logger: { client_ip, request: { method, uri,
 *            headers: { host } }, response: { status } }
 */
import { parseAddress } from '../util/ip.js';

export interface GatewayLogEntry {
  /** The client's address (no port). */
  source: string;
  status: number;
  method?: string;
  uri?: string;
  host?: string;
}

export interface GatewayAdapter {
  name: string;
  /** One entry, or null for a line that is not one (a blank line, another format). */
  parse(line: string): GatewayLogEntry | null;
  /** One object of a gateway's HTTP logger (posted as JSON). */
  parseObject(o: unknown): GatewayLogEntry | null;
}

/** An address as logs write it: bare, with :port (IPv4), or [v6]:port; null if it is none. */
export function addressOf(v: unknown): string | null {
  if (typeof v !== 'string' || !v) return null;
  let s = v.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracket) s = bracket[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  try {
    parseAddress(s);
    return s;
  } catch {
    return null;
  }
}

const statusOf = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 999 ? n : null;
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

function jsonLine(line: string): unknown {
  const s = line.trim();
  if (!s.startsWith('{')) return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** nginx's default `combined`: $remote_addr - $remote_user [$time_local] "$request" $status ... */
const COMBINED = /^(\S+) \S+ \S+ \[[^\]]*\] "(?:([A-Za-z]+) (\S+)[^"]*|[^"]*)" (\d{3}) /;

const nginx: GatewayAdapter = {
  name: 'nginx',
  parse(line) {
    const o = jsonLine(line);
    if (o !== undefined) return this.parseObject(o);
    const m = COMBINED.exec(line);
    if (!m) return null;
    const source = addressOf(m[1]);
    const status = statusOf(Number(m[4]));
    if (!source || !status) return null;
    return { source, status, ...(m[2] ? { method: m[2] } : {}), ...(m[3] ? { uri: m[3] } : {}) };
  },
  parseObject(v) {
    const o = obj(v);
    const source = addressOf(o.remote_addr ?? o.client ?? o.client_ip ?? o.addr);
    const status = statusOf(o.status);
    if (!source || !status) return null;
    const uri = str(o.request_uri) ?? str(o.uri) ?? str(o.request)?.split(' ')[1];
    const method = str(o.request_method) ?? str(o.method) ?? str(o.request)?.split(' ')[0];
    const host = str(o.host) ?? str(o.http_host);
    return { source, status, ...(method ? { method } : {}), ...(uri ? { uri } : {}), ...(host ? { host } : {}) };
  },
};

/** Kong and APISIX log a request alike: the client, the request object, the response object. */
function loggerEntry(v: unknown): GatewayLogEntry | null {
  const o = obj(v);
  const req = obj(o.request);
  const source = addressOf(o.client_ip);
  const status = statusOf(obj(o.response).status);
  if (!source || !status) return null;
  const method = str(req.method);
  const uri = str(req.uri) ?? str(req.url);
  const host = str(obj(req.headers).host);
  return { source, status, ...(method ? { method } : {}), ...(uri ? { uri } : {}), ...(host ? { host } : {}) };
}

const loggerAdapter = (name: string): GatewayAdapter => ({
  name,
  parse(line) {
    const o = jsonLine(line);
    return o === undefined ? null : loggerEntry(o);
  },
  parseObject: loggerEntry,
});

export const ADAPTERS: Record<string, GatewayAdapter> = {
  nginx,
  kong: loggerAdapter('kong'),
  apisix: loggerAdapter('apisix'),
};
export const ADAPTER_NAMES = Object.keys(ADAPTERS);
