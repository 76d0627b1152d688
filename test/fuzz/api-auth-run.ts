/**
 * The API's tokens under fuzzed requests, run inside the daemon's namespace (its TCP listener
 * is on that namespace's loopback): `node api-auth-run.js PORT ADMIN READONLY GATEWAY SEED N`.
 * Each request of test/fuzz/api.ts goes with no token, a wrong one, a read-only one, a
 * gateway's or the admin's, in one of the forms a header may take; the judge:
 *
 *  - no token or a wrong one: 401 PW_ERR_AUTH, whatever the route (but /healthz);
 *  - read-only: any GET goes on; anything else is 403 PW_ERR_FORBIDDEN;
 *  - a gateway's: GETs, and changes to decisions and gateway logs, go on; anything else 403;
 *  - a refused change (401 or 403) leaves the config version, rules, limiters, routes and
 *    services as they were (read with the admin token); no answer is a 5xx.
 *
 * What the router refuses before any route runs (a percent-encoding that is not UTF-8, a path
 * parameter over 100 characters) is a 400 whoever asks: nothing ran, so it counts as refused.
 * Requests are judged by the path fetch() sends (it resolves dot segments: /v1/decisions/..
 * goes as /v1/).
 *
 * Prints {"statuses": {...}, "findings": [...]} as JSON.
 */
import { fuzzRequests, operationsOf, stateOf, type FuzzRequest } from './api.js';
import { rng } from '../helpers/rng.js';

const [port, admin, readonly, gateway, seedText, countText] = process.argv.slice(2) as [string, string, string, string, string, string];
const base = `http://127.0.0.1:${port}`;

interface Answer {
  status: number;
  json: any;
  text: string;
}

async function send(r: FuzzRequest, authorization?: string): Promise<Answer> {
  const payload = r.raw ?? (r.body === undefined ? undefined : JSON.stringify(r.body));
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers['content-type'] = r.contentType ?? 'application/json';
  if (authorization !== undefined) headers.authorization = authorization;
  const res = await fetch(base + r.path, { method: r.method, headers, body: payload });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

const adminHeader = `Bearer ${admin}`;
const get = async (path: string) => (await send({ method: 'GET', path }, adminHeader)).json;
const state = async () => JSON.stringify(await stateOf(get));

type Who = 'none' | 'wrong' | 'readonly' | 'gateway' | 'admin';
const TOKENS: Record<Who, string> = { none: '', wrong: `${admin}x`, readonly, gateway, admin };
/** A header for `who`, in one of the forms a client may send it. */
function headerOf(who: Who, rand: () => number): string | undefined {
  const token = TOKENS[who];
  if (who === 'none')
    return [undefined, '', 'Bearer', 'Bearer ', `Basic ${Buffer.from(`x:${admin}`).toString('base64')}`][Math.floor(rand() * 5)];
  const forms = [`Bearer ${token}`, `bearer ${token}`, `Bearer  ${token} `, `Bearer ${token} ${admin}`, `Token ${token}`, token];
  return forms[Math.floor(rand() * forms.length)];
}
/** Whether a header of that form is one the API takes (Bearer, any case, one token). */
const wellFormed = (h: string | undefined, token: string) => h !== undefined && new RegExp(`^bearer\\s+${token}\\s*$`, 'i').test(h);

const GATEWAY_ROUTE = /^\/v1\/(decisions(\/[^/?]*)?|gateway\/logs)(\?|$)/;

async function main(): Promise<void> {
  const rand = rng(Number(seedText) * 7919);
  // Not the whole-config changes: an admin's would take the listener and its tokens away.
  const ops = operationsOf(await get('/openapi.json')).filter(
    (o) => !(o.method === 'POST' && (o.path === '/v1/config' || o.path === '/v1/rollback')),
  );
  const statuses: Record<string, number> = {};
  const findings: string[] = [];
  const whos: Who[] = ['none', 'wrong', 'readonly', 'gateway', 'admin'];
  let i = 0;
  for (const r of fuzzRequests(ops, Number(seedText), Number(countText), { configText: '', interfaces: [] })) {
    const who = whos[Math.floor(rand() * whos.length)]!;
    const header = headerOf(who, rand);
    // Who the API must take the request for: a malformed header is no token.
    const as: Who = who === 'none' || who === 'wrong' || !wellFormed(header, TOKENS[who]) ? 'none' : who;
    const changes = r.method !== 'GET' && r.method !== 'HEAD';
    const before = changes ? await state() : '';
    const sent = new URL(base + r.path);
    const path = sent.pathname + sent.search;
    const a = await send(r, header);
    statuses[`${as}:${a.status}`] = (statuses[`${as}:${a.status}`] ?? 0) + 1;
    const what = `#${i++} ${who} (${JSON.stringify(header)?.slice(0, 40)}) ${r.method} ${path.slice(0, 100)}`;
    const code = a.json?.error?.code;
    const route = sent.pathname;
    const badUrl = a.status === 400 && code === 'PW_ERR_INVALID' && /not a valid url component|max param length/.test(a.json.error.message);
    let refused: string | null = null;
    if (as === 'none' && route !== '/healthz') refused = 'PW_ERR_AUTH';
    else if (changes && as === 'readonly') refused = 'PW_ERR_FORBIDDEN';
    else if (changes && as === 'gateway' && !GATEWAY_ROUTE.test(path)) refused = 'PW_ERR_FORBIDDEN';
    if (a.status >= 500) findings.push(`${what}: ${a.status} ${a.text.slice(0, 200)}`);
    else if (refused && code !== refused && !badUrl) findings.push(`${what}: ${a.status} ${code ?? a.text.slice(0, 200)}, not ${refused}`);
    else if (!refused && (code === 'PW_ERR_AUTH' || code === 'PW_ERR_FORBIDDEN'))
      findings.push(`${what}: refused (${code}), but ${as} may`);
    else if (refused && changes && (await state()) !== before) findings.push(`${what}: refused, but the state changed`);
    if (findings.length >= 10) break;
  }
  process.stdout.write(`${JSON.stringify({ statuses, findings })}\n`);
}

void main();
