/**
 * HTTP/1.x message heads (RFC 9112): the request line or status line, the header fields, and
 * how long the body that follows is. Functions over bytes, without side effects; the stream tracker
 * (http-tracker.ts) feeds them what it reassembled. A head is parsed only when it is complete
 * (its empty line seen): a head cut short is reported as such, never guessed at.
 */

export interface RequestHead {
  kind: 'request';
  method: string;
  target: string;
  /** "HTTP/1.1", "HTTP/1.0". */
  version: string;
  /** By lower-case name; a repeated field keeps every value, in order (built when first read). */
  readonly fields: Map<string, string[]>;
  /** The field lines, read by name (field()). */
  readonly lines: FieldLines;
  /** Bytes of the head, its final empty line included. */
  length: number;
}

export interface ResponseHead {
  kind: 'response';
  version: string;
  status: number;
  reason: string;
  readonly fields: Map<string, string[]>;
  readonly lines: FieldLines;
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

/* The framings without data of their own are shared. */
const NONE: BodyFraming = Object.freeze({ kind: 'none' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });
const CLOSE: BodyFraming = Object.freeze({ kind: 'close' });
const TUNNEL: BodyFraming = Object.freeze({ kind: 'tunnel' });

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

/** Non-empty and all visible ASCII (a request target: RFC 9112 §3.2). */
function visibleAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= SP || c >= 0x7f) return false;
  }
  return s.length > 0;
}

/** Bytes decoded first when looking for a head's end: most heads fit (see headTextAndEnd). */
const HEAD_WINDOW = 512;

/**
 * The head at the start of `buf` as text (one string: a Buffer and a string per line would
 * cost an allocation each), and where it ends: the index just past its empty line (CRLF CRLF,
 * or bare LFs, which servers accept too), or -1 when it has not ended within the first
 * MAX_HEAD_BYTES. The bytes are decoded and the text searched (a string's indexOf of one
 * character is the engine's fast path; the bytes searched line by line, then the head decoded,
 * cost a tenth of parsing one). The text returned stops at the head's end; it is a slice of
 * the decoded text, which stays alive as long as any part of the head does (a transaction's
 * target, kept among the recent ones): so the first HEAD_WINDOW bytes are tried alone before
 * the rest, rather than a segment's whole body decoded with its head.
 */
function headTextAndEnd(buf: Uint8Array): { text: string; end: number } {
  const first = headIn(buf, Math.min(buf.length, HEAD_WINDOW));
  return first.end >= 0 || buf.length <= HEAD_WINDOW ? first : headIn(buf, Math.min(buf.length, MAX_HEAD_BYTES));
}

/** headTextAndEnd within buf's first `n` bytes. */
function headIn(buf: Uint8Array, n: number): { text: string; end: number } {
  const text = Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1');
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
    // A line ends here; the head ends if the next line is empty (both of its bytes decoded: an
    // end cut by the window's edge is found in the next try).
    const next = text.charCodeAt(i + 1);
    const end = next === LF ? i + 2 : next === CR && text.charCodeAt(i + 2) === LF ? i + 3 : -1;
    if (end > 0) return { text: text.length === end ? text : text.slice(0, end), end };
  }
  return { text, end: -1 };
}

/**
 * A head's field lines, found in one pass over the head's text and kept as where they lie in
 * it: a field's value is cut out only when asked for (field(), values()), and the map of every
 * field (`fields`) is built only when something reads it. The tracker asks for three or four
 * fields of each head, tens of thousands of heads a second.
 */
export class FieldLines {
  private map: Map<string, string[]> | null = null;

  constructor(
    private readonly text: string,
    /** [start, colon, end] of each field line (`end`: before its line end; colon -1: a continuation). */
    private readonly spans: number[],
    /** A line continued another (obsolete folding): values are read from the map then. */
    private readonly folded: boolean,
  ) {}

  /** Every value of the field `name` (lower case), in order, or null. */
  values(name: string): string[] | null {
    if (this.folded) return this.all().get(name) ?? null;
    const { text, spans } = this;
    let out: string[] | null = null;
    for (let k = 0; k < spans.length; k += 3) {
      const start = spans[k]!;
      const colon = spans[k + 1]!;
      if (colon - start !== name.length || !sameName(text, start, name)) continue;
      (out ??= []).push(text.slice(colon + 1, spans[k + 2]).trim());
    }
    return out;
  }

  all(): Map<string, string[]> {
    if (this.map) return this.map;
    const map = new Map<string, string[]>();
    const { text, spans } = this;
    let last: string[] | null = null;
    for (let k = 0; k < spans.length; k += 3) {
      const start = spans[k]!;
      const colon = spans[k + 1]!;
      if (colon < 0) {
        // Obsolete line folding (RFC 9112 §5.2): the value goes on.
        last![last!.length - 1] += ' ' + text.slice(start, spans[k + 2]).trim();
        continue;
      }
      const name = text.slice(start, colon).toLowerCase();
      last = map.get(name) ?? [];
      last.push(text.slice(colon + 1, spans[k + 2]).trim());
      map.set(name, last);
    }
    return (this.map = map);
  }
}

/** Whether text[start..] begins with `name` (lower case), letters compared without case. */
function sameName(text: string, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    let c = text.charCodeAt(start + i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** Where the line starting at `pos` ends, before its line feed and one carriage return. */
function lineEnd(text: string, pos: number): number {
  const lf = text.indexOf('\n', pos);
  const e = lf < 0 ? text.length : lf;
  return e > pos && text.charCodeAt(e - 1) === CR ? e - 1 : e;
}

/** Past the line feed of the line at `pos`. */
const nextLine = (text: string, pos: number) => {
  const lf = text.indexOf('\n', pos);
  return lf < 0 ? text.length : lf + 1;
};

/**
 * The field lines from `pos` to the empty line that ends the head (RFC 9112 §5), checked as
 * they are found: a name of token characters before a colon, a continuation only after a
 * field. Returns them, or why they are malformed.
 */
function fieldLines(text: string, pos: number): FieldLines | string {
  const spans: number[] = [];
  let folded = false;
  while (pos < text.length) {
    const end = lineEnd(text, pos);
    if (end === pos) break; // the empty line
    const first = text.charCodeAt(pos);
    if (first === SP || first === HT) {
      if (!spans.length) return 'a continuation line before any field';
      spans.push(pos, -1, end);
      folded = true;
    } else {
      const colon = text.indexOf(':', pos);
      if (colon <= pos || colon >= end) return `a field line without a name: ${JSON.stringify(text.slice(pos, Math.min(end, pos + 40)))}`;
      for (let i = pos; i < colon; i++) {
        if (!TCHAR[text.charCodeAt(i)]) return `a field name with ${JSON.stringify(text[i])} in it`;
      }
      spans.push(pos, colon, end);
    }
    pos = nextLine(text, pos);
  }
  return new FieldLines(text, spans, folded);
}

/* Heads as classes: the map of fields is a getter on their prototype (a getter in an object
 * literal is made anew with each head, and doubled the time to parse one). */
class ParsedRequest implements RequestHead {
  readonly kind = 'request';
  constructor(
    readonly method: string,
    readonly target: string,
    readonly version: string,
    readonly lines: FieldLines,
    readonly length: number,
  ) {}
  get fields(): Map<string, string[]> {
    return this.lines.all();
  }
}

class ParsedResponse implements ResponseHead {
  readonly kind = 'response';
  constructor(
    readonly version: string,
    readonly status: number,
    readonly reason: string,
    readonly lines: FieldLines,
    readonly length: number,
  ) {}
  get fields(): Map<string, string[]> {
    return this.lines.all();
  }
}

/** "HTTP/1.x", x a digit. */
const isHttp1 = (v: string) => v.length === 8 && v.startsWith('HTTP/1.') && isDigit(v.charCodeAt(7));

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
  const { text, end } = headTextAndEnd(buf);
  if (end < 0) return buf.length >= MAX_HEAD_BYTES ? { state: 'malformed', why: 'a head over 16 KiB' } : { state: 'incomplete' };
  // RFC 9112 §2.2: empty lines before a request line are ignored.
  let pos = 0;
  while (pos < text.length && lineEnd(text, pos) === pos) pos = nextLine(text, pos);
  if (pos >= text.length) return { state: 'malformed', why: 'an empty request' };
  const line = text.slice(pos, lineEnd(text, pos));
  // Three parts between two single spaces (found with indexOf: split() took a third of the
  // time to parse a head).
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) return { state: 'malformed', why: `a request line of ${line.split(' ').length} parts` };
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  for (let i = 0; i < method.length; i++) {
    if (!TCHAR[method.charCodeAt(i)]) return { state: 'malformed', why: 'a method that is not a token' };
  }
  if (!method.length || !visibleAscii(target)) return { state: 'malformed', why: 'an empty or invalid request target' };
  if (!isHttp1(version)) return { state: 'malformed', why: `version ${JSON.stringify(version.slice(0, 16))}` };
  const lines = fieldLines(text, nextLine(text, pos));
  if (typeof lines === 'string') return { state: 'malformed', why: lines };
  return { state: 'complete', head: new ParsedRequest(method, target, version, lines, end) };
}

export function parseResponseHead(buf: Uint8Array): HeadParse<ResponseHead> {
  const { text, end } = headTextAndEnd(buf);
  if (end < 0) return buf.length >= MAX_HEAD_BYTES ? { state: 'malformed', why: 'a head over 16 KiB' } : { state: 'incomplete' };
  const line = text.slice(0, lineEnd(text, 0));
  const sp = line.indexOf(' ');
  const version = line.slice(0, sp);
  if (sp < 0 || !isHttp1(version)) return { state: 'malformed', why: 'no HTTP/1.x status line' };
  if (!threeDigits(line, sp + 1) || (line.length > sp + 4 && line.charCodeAt(sp + 4) !== SP))
    return { state: 'malformed', why: 'a status code that is not three digits' };
  // RFC 9110 (15): no status code is below 100.
  if (line.charCodeAt(sp + 1) === 0x30) return { state: 'malformed', why: 'a status code below 100' };
  const lines = fieldLines(text, nextLine(text, 0));
  if (typeof lines === 'string') return { state: 'malformed', why: lines };
  return { state: 'complete', head: new ParsedResponse(version, Number(line.slice(sp + 1, sp + 4)), line.slice(sp + 5), lines, end) };
}

const threeDigits = (s: string, at: number) => isDigit(s.charCodeAt(at)) && isDigit(s.charCodeAt(at + 1)) && isDigit(s.charCodeAt(at + 2));

/** The one value of a field, or null (absent); a list field's values are joined with commas. */
export function field(head: Head, name: string): string | null {
  const v = head.lines.values(name);
  return v ? v.join(', ') : null;
}

const CONTENT_LENGTH = /^\d{1,15}$/;

/** Content-Length, as RFC 9112 §6.3 reads it: repeated equal values are one; else invalid. */
function contentLength(head: Head): number | 'invalid' | null {
  const v = head.lines.values('content-length');
  if (!v) return null;
  // The common case, one plain value, without building the list.
  if (v.length === 1 && CONTENT_LENGTH.test(v[0]!)) return Number(v[0]);
  const all = v.flatMap((x) => x.split(',').map((s) => s.trim()));
  if (!all.every((s) => CONTENT_LENGTH.test(s)) || new Set(all).size !== 1) return 'invalid';
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
  if (chunked) return CHUNKED;
  const len = contentLength(head);
  if (len === 'invalid') return { kind: 'invalid', why: 'an invalid Content-Length' };
  return len ? { kind: 'length', bytes: len } : NONE;
}

/** How a response's body is delimited; it depends on the request it answers. */
export function responseFraming(head: ResponseHead, requestMethod: string | null): BodyFraming {
  const method = requestMethod?.toUpperCase() ?? null;
  if (head.status === 101) return TUNNEL;
  if (method === 'CONNECT' && head.status >= 200 && head.status < 300) return TUNNEL;
  if (method === 'HEAD' || head.status < 200 || head.status === 204 || head.status === 304) return NONE;
  const chunked = chunkedLast(head);
  if (chunked) return CHUNKED;
  if (chunked === false) return CLOSE;
  const len = contentLength(head);
  if (len === 'invalid') return { kind: 'invalid', why: 'an invalid Content-Length' };
  return len === null ? CLOSE : len ? { kind: 'length', bytes: len } : NONE;
}
