/**
 * Mutations of real frames, some blind (bit flips, bytes, cuts, junk appended) and some that
 * know where the headers are (lengths, fragment fields, VLAN tags, IPv6 extension headers),
 * so that the mutants reach deep into the parser rather than dying at the first check.
 */
const INTERESTING = [0, 1, 2, 4, 5, 6, 8, 0x0f, 0x10, 0x11, 0x20, 0x3a, 0x2c, 0x2b, 0x3c, 0x3b, 0x40, 0x45, 0x60, 0x7f, 0x80, 0xfe, 0xff];

export type Rand = () => number;

const int = (rand: Rand, n: number) => Math.floor(rand() * n);

/** Where the IP header starts (after up to two VLAN tags), or -1. */
function ipOffset(f: Buffer): number {
  let at = 12;
  for (let i = 0; i < 3 && f.length >= at + 2; i++) {
    const t = f.readUInt16BE(at);
    if (t === 0x8100 || t === 0x88a8) at += 4;
    else return t === 0x0800 || t === 0x86dd ? at + 2 : -1;
  }
  return -1;
}

type Mutation = (f: Buffer, rand: Rand) => Buffer;

const MUTATIONS: Mutation[] = [
  // Blind ones, biased to the headers.
  (f, r) => {
    const at = int(r, Math.min(f.length, 96));
    f[at] = f[at]! ^ (1 << int(r, 8));
    return f;
  },
  (f, r) => {
    f[int(r, Math.min(f.length, 96))] = INTERESTING[int(r, INTERESTING.length)]!;
    return f;
  },
  (f, r) => f.subarray(0, int(r, f.length + 1)),
  (f, r) => Buffer.concat([f, Buffer.from(Array.from({ length: 1 + int(r, 64) }, () => int(r, 256)))]),
  // IPv4 and IPv6 length fields.
  (f, r) => {
    const ip = ipOffset(f);
    if (ip < 0 || f.length < ip + 8) return f;
    const field = f[ip]! >> 4 === 6 ? ip + 4 : ip + 2;
    const len = f.readUInt16BE(field);
    const choices = [0, 1, len - 1, len + 1, len + 8, len - 8, 0xffff, int(r, 0x10000), 20, 40];
    f.writeUInt16BE(choices[int(r, choices.length)]! & 0xffff, field);
    return f;
  },
  // IPv4 header length and fragment fields.
  (f, r) => {
    const ip = ipOffset(f);
    if (ip < 0 || f.length < ip + 20 || f[ip]! >> 4 !== 4) return f;
    if (r() < 0.5) f[ip] = 0x40 | int(r, 16);
    else f.writeUInt16BE([0x2000, 0x0001, 0x2001, 0x0003, 0x4000, int(r, 0x10000)][int(r, 6)]!, ip + 6);
    return f;
  },
  // The protocol / next header.
  (f, r) => {
    const ip = ipOffset(f);
    if (ip < 0 || f.length < ip + 10) return f;
    f[f[ip]! >> 4 === 6 ? ip + 6 : ip + 9] = [0, 1, 6, 17, 43, 44, 58, 59, 60, int(r, 256)][int(r, 10)]!;
    return f;
  },
  // A VLAN tag pushed in front of the ethertype.
  (f, r) => {
    if (f.length < 14) return f;
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(r() < 0.5 ? 0x8100 : 0x88a8, 0);
    tag.writeUInt16BE(int(r, 4096), 2);
    return Buffer.concat([f.subarray(0, 12), tag, f.subarray(12)]);
  },
  // An IPv6 extension header inserted after the fixed header (payload length kept right).
  (f, r) => {
    const ip = ipOffset(f);
    if (ip < 0 || f.length < ip + 40 || f[ip]! >> 4 !== 6) return f;
    const type = [0, 43, 60, 44][int(r, 4)]!;
    const h = Buffer.alloc(8);
    h[0] = f[ip + 6]!;
    if (type === 44) h.writeUInt16BE(r() < 0.5 ? 1 : int(r, 0x10000) & 0xfff9, 2);
    else {
      h[2] = 1;
      h[3] = 4;
    }
    const out = Buffer.concat([f.subarray(0, ip + 40), h, f.subarray(ip + 40)]);
    out[ip + 6] = type;
    out.writeUInt16BE((out.readUInt16BE(ip + 4) + 8) & 0xffff, ip + 4);
    return out;
  },
  // The ethertype itself.
  (f, r) => {
    if (f.length >= 14) f.writeUInt16BE([0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, int(r, 0x10000)][int(r, 6)]!, 12);
    return f;
  },
];

/** One mutant of `seed`: 1 to 4 mutations. Never longer than `max` bytes. */
export function mutate(seed: Buffer, rand: Rand, max = 1600): Buffer {
  let f: Buffer = Buffer.from(seed);
  const n = 1 + int(rand, 4);
  for (let i = 0; i < n; i++) f = MUTATIONS[int(rand, MUTATIONS.length)]!(Buffer.from(f), rand);
  return f.length > max ? f.subarray(0, max) : f;
}
