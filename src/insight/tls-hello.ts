/**
 * The TLS ClientHello (RFC 8446 §4.1.2), read for what it says in the clear: the server name
 * (SNI, RFC 6066 §3) and the application protocols offered (ALPN, RFC 7301). Enough to count
 * HTTPS API use per host without decrypting anything.
 */

export interface ClientHello {
  /** The server name asked for, or null when the client sent none. */
  sni: string | null;
  /** ALPN protocols offered, in the client's order ("h2", "http/1.1"). */
  alpn: string[];
}

export type HelloParse = { state: 'complete'; hello: ClientHello } | { state: 'incomplete' } | { state: 'malformed'; why: string };

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

/** Could `buf` begin a TLS handshake record (type 22, version 3.x)? */
export function looksLikeTlsHandshake(buf: Uint8Array): boolean {
  return buf.length >= 3 && buf[0] === RECORD_HANDSHAKE && buf[1] === 3 && buf[2]! <= 4;
}

class Reader {
  constructor(
    private readonly b: Uint8Array,
    public pos = 0,
    private readonly end = b.length,
  ) {}
  left(): number {
    return this.end - this.pos;
  }
  u8(): number {
    if (this.pos + 1 > this.end) throw new Short();
    return this.b[this.pos++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u24(): number {
    return (this.u16() << 8) | this.u8();
  }
  skip(n: number): void {
    if (this.pos + n > this.end) throw new Short();
    this.pos += n;
  }
  /** A sub-reader over the next n bytes. */
  sub(n: number): Reader {
    if (this.pos + n > this.end) throw new Short();
    const r = new Reader(this.b, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end) throw new Short();
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** The bytes ran out before the hello did. */
class Short extends Error {}

/**
 * Parses the ClientHello at the start of a client's stream. Handshake messages may span
 * records; only the first record's fragment is read, which holds the hello in practice up to
 * 16 KiB.
 */
export function parseClientHello(buf: Uint8Array): HelloParse {
  try {
    const rec = new Reader(buf);
    if (rec.u8() !== RECORD_HANDSHAKE) return { state: 'malformed', why: 'not a handshake record' };
    rec.skip(2);
    const recLen = rec.u16();
    const frag = rec.left() >= recLen ? rec.sub(recLen) : rec;
    if (frag.u8() !== HANDSHAKE_CLIENT_HELLO) return { state: 'malformed', why: 'not a ClientHello' };
    frag.u24(); // its length: the fields below are read by their own lengths
    frag.skip(2 + 32); // legacy_version, random
    frag.skip(frag.u8()); // legacy_session_id
    frag.skip(frag.u16()); // cipher_suites
    frag.skip(frag.u8()); // legacy_compression_methods
    const hello: ClientHello = { sni: null, alpn: [] };
    if (frag.left() === 0) return { state: 'complete', hello };
    const exts = frag.sub(Math.min(frag.u16(), frag.left()));
    while (exts.left() >= 4) {
      const type = exts.u16();
      const len = exts.u16();
      const e = exts.sub(len);
      if (type === EXT_SERVER_NAME) {
        const list = e.sub(e.u16());
        while (list.left() > 0) {
          const nameType = list.u8();
          const name = list.bytes(list.u16());
          if (nameType === 0) hello.sni = Buffer.from(name).toString('latin1');
        }
      } else if (type === EXT_ALPN) {
        const list = e.sub(e.u16());
        while (list.left() > 0) hello.alpn.push(Buffer.from(list.bytes(list.u8())).toString('latin1'));
      }
    }
    return { state: 'complete', hello };
  } catch (e) {
    if (e instanceof Short) return { state: 'incomplete' };
    throw e;
  }
}
