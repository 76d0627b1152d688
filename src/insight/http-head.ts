/**
 * HTTP/1.x message heads (RFC 9112): the request line or status line, the header fields, and
 * how long the body that follows is. Pure functions over bytes; the stream tracker
 * (http-tracker.ts) feeds them what it reassembled. A head is parsed only when it is complete
 * (its empty line seen): a head cut short is reported as such, never guessed at.
 */

export interface RequestHead {
  kind: 'request';
  method: string;
  target: string;
  /** "HTTP/1.1", "HTTP/1.0". */
  version: string;
  /** By lower-case name; a repeated field keeps every value, in order. */
  fields: Map<string, string[]>;
  /** Bytes of the head, its final empty line included. */
  length: number;
}

export interface ResponseHead {
  kind: 'response';
  version: string;
  status: number;
  reason: string;
  fields: Map<string, string[]>;
  length: number;
}

export type Head = RequestHead | ResponseHead;

export type HeadParse<H extends Head> = { state: 'complete'; head: H } | { state: 'incomplete' } | { state: 'malformed'; why: string };

/** How the body after a head is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; bytes: number }
  | { kind: 'chunked' }
  /** A response read until the connection closes. */
  | { kind: 'close' }
  /** The connection stops being HTTP (101 Switching Protocols, a CONNECT tunnel). */
  | { kind: 'tunnel' }
  | { kind: 'invalid'; why: string };

/** A head larger than this is refused as nginx and Node refuse one (their defaults are 8-16 KiB). */
export const MAX_HEAD_BYTES = 16384;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;

// tchar (RFC 9110 §5.6.2): the characters of a method or field name.
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * Where the head ends: the index just past its empty line (CRLF CRLF, or bare LFs, which
 * servers accept too), or -1 when it has not ended within `buf`.
 */
export function headEnd(buf: Uint8Array): number {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== LF) continue;
    // A line ends here; the head ends if the next line is empty.
    if (buf[i + 1] === LF) return i + 2;
    if (buf[i + 1] === CR && buf[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** The head's lines, without their line ends (the last, empty one left out). `end` is just
 * past a line feed (headEnd). One string for the whole head, split: a Buffer and a string per
 * line cost an allocation each, tens of thousands of heads a second. */
function lines(buf: Uint8Array, end: number): string[] {
  const out = Buffer.from(buf.buffer, buf.byteOffset, end).toString('latin1').split('\n');
  out.pop(); // what follows the last line feed
  for (let k = 0; k < out.length; k++) if (out[k]!.endsWith('\r')) out[k] = out[k]!.slice(0, -1);
  if (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

const HTTP_VERSION = /^HTTP\/(\d)\.(\d)$/;

function parseFields(ls: string[]): Map<string, string[]> | string {
  const fields = new Map<string, string[]>();
  let last: string[] | null = null;
  for (const line of ls) {
    if (line.length && (line.charCodeAt(0) === SP || line.charCodeAt(0) === HT)) {
      // Obsolete line folding (RFC 9112 §5.2): the value goes on.
      if (!last) return 'a continuation line before any field';
      last[last.length - 1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return `a field line without a name: ${JSON.stringify(line.slice(0, 40))}`;
    for (let i = 0; i < colon; i++) {
      if (!TCHAR[line.charCodeAt(i)]) return `a field name with ${JSON.stringify(line[i])} in it`;
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    last = fields.get(name) ?? [];
    last.push(value);
    fields.set(name, last);
  }
  return fields;
}

/**
 * Could `buf` be the start of a request? For resynchronizing a stream, so stricter than the
 * parser: a method token, a space, a target, and when the line ends within `buf`, " HTTP/1.x"
 * before its end (a body's bytes rarely look like that).
 */
export function looksLikeRequest(buf: Uint8Array): boolean {
  let i = 0;
  while (i < buf.length && i < 24 && TCHAR[buf[i]!]) i++;
  if (i === 0 || i >= buf.length - 1 || buf[i] !== SP || buf[i + 1]! <= SP || buf[i + 1]! >= 0x7f) return false;
  const lf = buf.indexOf(LF);
  if (lf < 0) return true;
  const line = Buffer.from(buf.buffer, buf.byteOffset, lf).toString('latin1').replace(/\r$/, '');
  return /^\S+ \S+ HTTP\/1\.\d$/.test(line);
}

/** Could `buf` be the start of a response ("HTTP/1.x NNN")? */
export function looksLikeResponse(buf: Uint8Array): boolean {
  const s = Buffer.from(buf.buffer, buf.byteOffset, Math.min(buf.length, 13)).toString('latin1');
  return /^HTTP\/1\.\d \d{3}/.test(s);
}

export function parseRequestHead(buf: Uint8Array): HeadParse<RequestHead> {
  const end = headEnd(buf.length > MAX_HEAD_BYTES ? buf.subarray(0, MAX_HEAD_BYTES) : buf);
  if (end < 0) return buf.length >= MAX_HEAD_BYTES ? { state: 'malformed', why: 'a head over 16 KiB' } : { state: 'incomplete' };
  const ls = lines(buf, end);
  // RFC 9112 §2.2: empty lines before a request line are ignored.
  while (ls.length && ls[0] === '') ls.shift();
  const line = ls.shift();
  if (!line) return { state: 'malformed', why: 'an empty request' };
  const parts = line.split(' ');
  if (parts.length !== 3) return { state: 'malformed', why: `a request line of ${parts.length} parts` };
  const [method, target, version] = parts as [string, string, string];
  for (let i = 0; i < method.length; i++) {
    if (!TCHAR[method.charCodeAt(i)]) return { state: 'malformed', why: 'a method that is not a token' };
  }
  if (!method.length || !target.length || ![...target].every((ch) => ch > ' ' && ch < '\x7f'))
    return { state: 'malformed', why: 'an empty or invalid request target' };
  const v = HTTP_VERSION.exec(version);
  if (!v || v[1] !== '1') return { state: 'malformed', why: `version ${JSON.stringify(version.slice(0, 16))}` };
  const fields = parseFields(ls);
  if (typeof fields === 'string') return { state: 'malformed', why: fields };
  return { state: 'complete', head: { kind: 'request', method, target, version, fields, length: end } };
}

export function parseResponseHead(buf: Uint8Array): HeadParse<ResponseHead> {
  const end = headEnd(buf.length > MAX_HEAD_BYTES ? buf.subarray(0, MAX_HEAD_BYTES) : buf);
  if (end < 0) return buf.length >= MAX_HEAD_BYTES ? { state: 'malformed', why: 'a head over 16 KiB' } : { state: 'incomplete' };
  const ls = lines(buf, end);
  const line = ls.shift() ?? '';
  const sp = line.indexOf(' ');
  const version = line.slice(0, sp);
  const v = HTTP_VERSION.exec(version);
  const code = line.slice(sp + 1, sp + 4);
  if (sp < 0 || !v || v[1] !== '1') return { state: 'malformed', why: 'no HTTP/1.x status line' };
  if (code.length !== 3 || ![...code].every((c) => isDigit(c.charCodeAt(0))) || (line.length > sp + 4 && line[sp + 4] !== ' '))
    return { state: 'malformed', why: 'a status code that is not three digits' };
  // RFC 9110 (15): no status code is below 100.
  if (code[0] === '0') return { state: 'malformed', why: 'a status code below 100' };
  const fields = parseFields(ls);
  if (typeof fields === 'string') return { state: 'malformed', why: fields };
  return {
    state: 'complete',
    head: { kind: 'response', version, status: Number(code), reason: line.slice(sp + 5), fields, length: end },
  };
}

/** The one value of a field, or null (absent); a list field's values are joined with commas. */
export function field(head: Head, name: string): string | null {
  const v = head.fields.get(name);
  return v ? v.join(', ') : null;
}

/** Content-Length, as RFC 9112 §6.3 reads it: repeated equal values are one; else invalid. */
function contentLength(head: Head): number | 'invalid' | null {
  const v = head.fields.get('content-length');
  if (!v) return null;
  const all = v.flatMap((x) => x.split(',').map((s) => s.trim()));
  if (!all.every((s) => /^\d{1,15}$/.test(s)) || new Set(all).size !== 1) return 'invalid';
  return Number(all[0]);
}

function chunkedLast(head: Head): boolean | null {
  const te = field(head, 'transfer-encoding');
  if (te === null) return null;
  const codings = te.split(',').map((s) => s.trim().toLowerCase());
  return codings[codings.length - 1] === 'chunked';
}

/** How a request's body is delimited. */
export function requestFraming(head: RequestHead): BodyFraming {
  const chunked = chunkedLast(head);
  if (chunked === false) return { kind: 'invalid', why: 'a transfer coding other than chunked last' };
  if (chunked) return { kind: 'chunked' };
  const len = contentLength(head);
  if (len === 'invalid') return { kind: 'invalid', why: 'an invalid Content-Length' };
  return len ? { kind: 'length', bytes: len } : { kind: 'none' };
}

/** How a response's body is delimited; it depends on the request it answers. */
export function responseFraming(head: ResponseHead, requestMethod: string | null): BodyFraming {
  const method = requestMethod?.toUpperCase() ?? null;
  if (head.status === 101) return { kind: 'tunnel' };
  if (method === 'CONNECT' && head.status >= 200 && head.status < 300) return { kind: 'tunnel' };
  if (method === 'HEAD' || head.status < 200 || head.status === 204 || head.status === 304) return { kind: 'none' };
  const chunked = chunkedLast(head);
  if (chunked) return { kind: 'chunked' };
  if (chunked === false) return { kind: 'close' };
  const len = contentLength(head);
  if (len === 'invalid') return { kind: 'invalid', why: 'an invalid Content-Length' };
  return len === null ? { kind: 'close' } : len ? { kind: 'length', bytes: len } : { kind: 'none' };
}
