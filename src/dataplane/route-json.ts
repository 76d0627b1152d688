/**
 * Route rows as JSON bytes, written straight into a Buffer for a listing: a full table is ~900k
 * rows, and building each row as a string (a dozen concatenations), then flattening and
 * encoding it, cost ~1 s of a listing's ~2 s here (a profile of `route list --json`: the
 * writes or joins that flatten the strings, their garbage). Each row's bytes are exactly
 * JSON.stringify(Dataplane.view(route)) in UTF-8, keys in the same order
 * (test/bpf/route-rows.test.ts checks every kind of route).
 *
 * What repeats is encoded once: per route group its type, nexthops and paths tag (a full
 * table shares a few groups), per origin and protocol their keys. Per route, the prefix and
 * the numbers are written as ASCII digits.
 */
import { protocolName } from '../routing/kernel-routes.js';
import type { RouteType } from '../routing/route.js';
import type { RouteTable } from './route-table.js';

/** What a row needs of a route's group. */
export interface GroupText {
  type: RouteType;
  /** The nexthops as the view lists them, as JSON. */
  nexthops: string;
  tag?: string;
}

/** Bytes appended to a growing Buffer. */
class ByteWriter {
  buf: Buffer;
  off = 0;

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(bytes, 256));
  }

  room(bytes: number): void {
    if (this.off + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.off + bytes));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  /** Bytes known to fit (room() first). One set() call costs about what a loop over 10
   * bytes does (~45 ns here), so rows are written in a few long pieces. */
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  /** A text of ASCII characters only (digits, hex, punctuation). */
  ascii(s: string): void {
    const buf = this.buf;
    let off = this.off;
    for (let i = 0; i < s.length; i++) buf[off++] = s.charCodeAt(i);
    this.off = off;
  }

  /** A non-negative integer below 2^53 in decimal. */
  uint(n: number): void {
    const buf = this.buf;
    const off = this.off;
    if (n < 10) {
      buf[off] = 48 + n;
      this.off = off + 1;
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let x = n;
    for (let i = off + digits - 1; i >= off; i--) {
      const q = Math.floor(x / 10);
      buf[i] = 48 + (x - q * 10);
      x = q;
    }
    this.off = off + digits;
  }

  /** An IPv4 address (a number, host order) in dotted decimal. */
  ipv4(a: number): void {
    this.uint(a >>> 24);
    this.buf[this.off++] = 46;
    this.uint((a >>> 16) & 255);
    this.buf[this.off++] = 46;
    this.uint((a >>> 8) & 255);
    this.buf[this.off++] = 46;
    this.uint(a & 255);
  }

  result(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** A group's pieces of a row, around the route's own metric and id. */
interface GroupPieces {
  /** `","family":4,"type":"…","metric":` (after the prefix), and with 6 */
  family4: Buffer;
  family6: Buffer;
  /** `,"nexthops":[…],"id":` */
  nexthops: Buffer;
  /** `,"paths":"…"` or nothing */
  tag: Buffer;
}

/**
 * The rows of the routes `ids` (ids of routes gone meanwhile are skipped), each followed by
 * `separator` but the last, then `after`; with `counters`, each row ends with the route's
 * packets and bytes (0 when it has none). Returns the bytes and how many rows they hold.
 */
export function packRouteRows(
  routes: RouteTable,
  groupText: (nhg: number) => GroupText,
  ids: Uint32Array,
  counters: { get(id: number): { packets: number; bytes: number } | undefined } | undefined,
  separator: string,
  after: string,
): { bytes: Buffer; rows: number } {
  const groups = new Map<number, GroupPieces>();
  /** `{"origin":"…"[,"proto":"…"],"prefix":"` by origin (imported: by protocol, 0-255). */
  const heads = new Map<number, Buffer>();
  const sep = utf8(separator);
  const out = new ByteWriter(ids.length * 200);
  let rows = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!routes.has(id)) continue;
    const nhg = routes.groupOf(id);
    let g = groups.get(nhg);
    if (!g) {
      const t = groupText(nhg);
      g = {
        family4: utf8(`","family":4,"type":"${t.type}","metric":`),
        family6: utf8(`","family":6,"type":"${t.type}","metric":`),
        nexthops: utf8(`,"nexthops":${t.nexthops},"id":`),
        tag: utf8(t.tag ? `,"paths":${JSON.stringify(t.tag)}` : ''),
      };
      groups.set(nhg, g);
    }
    const origin = routes.originOf(id);
    const headKey = origin === 'imported' ? routes.protoOf(id) : origin === 'user' ? 256 : 257;
    let head = heads.get(headKey);
    if (!head) {
      const proto = origin === 'imported' ? `,"proto":${JSON.stringify(protocolName(headKey))}` : '';
      heads.set(headKey, (head = utf8(`{"origin":"${origin}"${proto},"prefix":"`)));
    }
    // The pieces, the longest prefix text (IPv6, 43) and five numbers of 16 digits at most.
    out.room(sep.length + head.length + g.family6.length + g.nexthops.length + g.tag.length + 240);
    if (rows++) out.bytes(sep);
    out.bytes(head);
    const addr = routes.v4AddrOf(id);
    if (addr >= 0) {
      out.ipv4(addr);
      out.buf[out.off++] = 47; // '/'
      out.uint(routes.plenOf(id));
      out.bytes(g.family4);
    } else {
      out.ascii(routes.prefixText(id));
      out.bytes(g.family6);
    }
    out.uint(routes.metricOf(id));
    out.bytes(g.nexthops);
    out.uint(id);
    if (g.tag.length) out.bytes(g.tag);
    if (counters) {
      const c = counters.get(id);
      out.bytes(PACKETS_KEY);
      out.uint(c ? c.packets : 0);
      out.bytes(BYTES_KEY);
      out.uint(c ? c.bytes : 0);
    }
    out.buf[out.off++] = 125; // '}'
  }
  if (rows && after) {
    const a = utf8(after);
    out.room(a.length);
    out.bytes(a);
  }
  return { bytes: out.result(), rows };
}

const PACKETS_KEY = utf8(',"packets":');
const BYTES_KEY = utf8(',"bytes":');
