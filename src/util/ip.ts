/**
 * IP addresses and prefixes. IPv4 is kept as an unsigned 32-bit number (fast paths: the FIB
 * builder handles a million of them), IPv6 as 16 bytes. Parsing is strict: a prefix with host
 * bits set is an error, as in iproute2.
 */
import { isIPv4, isIPv6 } from 'node:net';

import { PwError } from '../errors.js';
import { capOldest } from './recency-map.js';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** 16 bytes, network order; IPv4 uses the first 4. */
  addr: Uint8Array;
  /** IPv4 only: the address as an unsigned 32-bit number. */
  v4: number;
  plen: number;
}

/**
 * Dotted-quad IPv4: four parts of 1-3 decimal digits (leading zeros read as decimal, as
 * iproute2 does), each at most 255; null for anything else. A loop over the characters, not
 * split() and a pattern per part: a daemon removing a full table's routes parses 900k prefixes
 * (1.2 s of its start the other way).
 */
export function parseIpv4(s: string): number | null {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (!digits || part > 255 || ++dots > 3) return null;
      v = v * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return null;
      part = part * 10 + (c - 48);
    } else return null;
  }
  if (dots !== 3 || !digits || part > 255) return null;
  return (v * 256 + part) >>> 0;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function parseIpv6(s: string): Uint8Array | null {
  if (!isIPv6(s)) return null;
  let str = s;
  const out = new Uint8Array(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4tail = str.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4tail) {
    const v = parseIpv4(v4tail[1]!);
    if (v === null) return null;
    str = `${str.slice(0, -v4tail[1]!.length)}${((v >>> 16) & 0xffff).toString(16)}:${(v & 0xffff).toString(16)}`;
  }
  const [head, tail] = str.includes('::') ? str.split('::') : [str, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8) return null;
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 255;
  });
  return out;
}

export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function parseAddress(s: string, where = s): { family: Family; addr: Uint8Array; v4: number } {
  if (isIPv4(s)) {
    const v4 = parseIpv4(s)!;
    const addr = new Uint8Array(16);
    addr[0] = v4 >>> 24;
    addr[1] = (v4 >>> 16) & 255;
    addr[2] = (v4 >>> 8) & 255;
    addr[3] = v4 & 255;
    return { family: 4, addr, v4 };
  }
  const a6 = parseIpv6(s);
  if (a6) return { family: 6, addr: a6, v4: 0 };
  throw new PwError('PW_ERR_INVALID', `'${s}' is not an IPv4 or IPv6 address`, { where });
}

/** Addresses no host sends to or from as its own: the kernel's martians (the unspecified
 * address and the rest of 0.0.0.0/8, loopback, multicast, the limited broadcast). */
export type SpecialAddressKind = 'unspecified' | 'this-network' | 'loopback' | 'multicast' | 'broadcast';

/** Each kind as a message says it: "ADDR is …". */
export const SPECIAL_ADDRESS_TEXT: Readonly<Record<SpecialAddressKind, string>> = {
  unspecified: 'the unspecified address',
  'this-network': "in 0.0.0.0/8 ('this network')",
  loopback: 'a loopback address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
};

/** What kind of special address `addr` is, or null for an ordinary unicast one. */
export function specialAddressKind(family: Family, addr: Uint8Array): SpecialAddressKind | null {
  if (family === 4) {
    if (addr[0] === 0) return addr[1] || addr[2] || addr[3] ? 'this-network' : 'unspecified';
    if (addr[0] === 127) return 'loopback';
    if ((addr[0]! & 0xf0) === 0xe0) return 'multicast';
    if (addr[0] === 255 && addr[1] === 255 && addr[2] === 255 && addr[3] === 255) return 'broadcast';
    return null;
  }
  if (addr[0] === 0xff) return 'multicast';
  if (addr.subarray(0, 15).every((b) => b === 0)) {
    if (addr[15] === 0) return 'unspecified';
    if (addr[15] === 1) return 'loopback';
  }
  return null;
}

export function formatAddress(family: Family, addr: Uint8Array): string {
  return family === 4 ? formatIpv4(((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0) : formatIpv6(addr);
}

/** Parses "a.b.c.d/len", "x::/len", or a bare address (a host route). */
export function parsePrefix(s: string, where = s): Prefix {
  const slash = s.indexOf('/');
  const addrPart = slash < 0 ? s : s.slice(0, slash);
  const a = parseAddress(addrPart, where);
  const max = a.family === 4 ? 32 : 128;
  let plen = max;
  if (slash >= 0) {
    const lenPart = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenPart) || Number(lenPart) > max) {
      throw new PwError('PW_ERR_INVALID', `invalid prefix length in '${s}': must be 0..${max}`, { where });
    }
    plen = Number(lenPart);
  }
  // Host bits must be zero, as iproute2 insists ("Invalid prefix for given prefix length").
  for (let bit = plen; bit < max; bit++) {
    if (a.addr[bit >> 3]! & (0x80 >> (bit & 7))) {
      const fixed = maskAddr(a.addr, plen);
      throw new PwError('PW_ERR_INVALID', `'${s}' has host bits set beyond /${plen}`, {
        where,
        hint: `did you mean ${formatAddress(a.family, fixed)}/${plen}?`,
      });
    }
  }
  return { family: a.family, addr: a.addr, v4: a.v4, plen };
}

export function maskAddr(addr: Uint8Array, plen: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, plen - i * 8));
    out[i] = addr[i]! & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

/** Whether `inner` lies inside `outer` (or is it): same family, as long or longer, the same leading bits. */
export function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.plen > inner.plen) return false;
  const m = maskAddr(inner.addr, outer.plen);
  for (let i = 0; i < 16; i++) if (m[i] !== outer.addr[i]) return false;
  return true;
}

/** Whether two prefixes share an address (one covers the other). */
export const prefixesOverlap = (a: Prefix, b: Prefix): boolean => prefixCovers(a, b) || prefixCovers(b, a);

export function formatPrefix(p: Pick<Prefix, 'family' | 'addr' | 'plen'>): string {
  return `${formatAddress(p.family, p.addr)}/${p.plen}`;
}

/**
 * A compact key of an IPv6 prefix for maps of a full table: the address's 16-bit words that
 * hold the prefix (bits past it cleared), then the prefix length, each a UTF-16 code unit. A
 * /48 is four code units, where its text is ~18 characters that take ~1 us to format. Not
 * text: format the prefix for anything a person reads. `at` is the address's offset in
 * `bytes`.
 */
export function prefixKey6(bytes: Uint8Array, at: number, plen: number): string {
  const n = (plen + 15) >> 4; // words holding the prefix
  const w = (i: number) => {
    const v = (bytes[at + 2 * i]! << 8) | bytes[at + 2 * i + 1]!;
    return i === n - 1 ? v & (0xffff << (16 * n - plen)) & 0xffff : v;
  };
  switch (n) {
    case 0:
      return String.fromCharCode(0);
    case 1:
      return String.fromCharCode(w(0), plen);
    case 2:
      return String.fromCharCode(w(0), w(1), plen);
    case 3:
      return String.fromCharCode(w(0), w(1), w(2), plen);
    case 4:
      return String.fromCharCode(w(0), w(1), w(2), w(3), plen);
    default: {
      const units: number[] = [];
      for (let i = 0; i < n; i++) units.push(w(i));
      units.push(plen);
      return String.fromCharCode(...units);
    }
  }
}

/** The prefix a prefixKey6() key stands for. */
export function prefixOfKey6(key: string): Prefix {
  const addr = new Uint8Array(16);
  const n = key.length - 1;
  for (let i = 0; i < n; i++) {
    const v = key.charCodeAt(i);
    addr[2 * i] = v >> 8;
    addr[2 * i + 1] = v & 255;
  }
  return { family: 6, addr, v4: 0, plen: key.charCodeAt(n) };
}

const memo = new Map<string, { prefix: Readonly<Prefix>; key: string }>();
const MEMO_MAX = 1 << 16;

/**
 * parsePrefix, remembered: a text seen before is not parsed again. Validating a config parses
 * its prefixes, compiling it needs them parsed, and an edit compares its prefix with every
 * route's: each text is parsed once. The memo keeps the last 65,536 texts; the prefix returned
 * is shared, never to be changed.
 */
export function parsePrefixShared(text: string, where = text): Readonly<Prefix> {
  return remember(text, where).prefix;
}

/** A prefix's canonical text (formatPrefix of parsePrefixShared), for comparing prefixes as written. */
export function prefixKey(text: string, where = text): string {
  return remember(text, where).key;
}

function remember(text: string, where: string): { prefix: Readonly<Prefix>; key: string } {
  const hit = memo.get(text);
  if (hit) return hit;
  const prefix = parsePrefix(text, where);
  const entry = { prefix, key: formatPrefix(prefix) };
  memo.set(text, entry);
  capOldest(memo, MEMO_MAX);
  return entry;
}
