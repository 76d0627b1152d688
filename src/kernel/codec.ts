/**
 * Codecs turn TypeScript values into the bytes of the kernel↔user structs and back. Struct
 * codecs are generated from the BPF object's BTF (src/generated/); this module holds the
 * interface they implement and the scalar codecs they build on.
 *
 * Byte order: BPF maps hold host-order integers except fields typed __be16/__be32 (network
 * order), which the generator marks, so callers always deal in plain numbers.
 */

export interface Codec<T> {
  /** C name of the type ("pw_if_counters", "__u32"). */
  readonly name: string;
  /** sizeof() in bytes. */
  readonly size: number;
  /** Writes `value` at `offset`; padding bytes are written as zero. */
  encode(value: T, view: DataView, offset: number): void;
  decode(view: DataView, offset: number): T;
  /** The all-zero value. */
  zero(): T;
}

/** Static description of one map of an object, generated from BTF. */
export interface MapSpec<K, V> {
  readonly name: string;
  readonly type: number;
  readonly maxEntries: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly flags: number;
  /** null when the map declares sizes without types (ring buffers, perf arrays). */
  readonly key: Codec<K> | null;
  readonly value: Codec<V> | null;
}

const LE = true; // x86_64 and arm64 hosts: BPF maps use host byte order

function intCodec(name: string, size: 1 | 2 | 4, signed: boolean, bigEndian = false): Codec<number> {
  const le = !bigEndian && LE;
  const get =
    size === 1
      ? (v: DataView, o: number) => (signed ? v.getInt8(o) : v.getUint8(o))
      : size === 2
        ? (v: DataView, o: number) => (signed ? v.getInt16(o, le) : v.getUint16(o, le))
        : (v: DataView, o: number) => (signed ? v.getInt32(o, le) : v.getUint32(o, le));
  const set =
    size === 1
      ? (v: DataView, o: number, x: number) => (signed ? v.setInt8(o, x) : v.setUint8(o, x))
      : size === 2
        ? (v: DataView, o: number, x: number) => (signed ? v.setInt16(o, x, le) : v.setUint16(o, x, le))
        : (v: DataView, o: number, x: number) => (signed ? v.setInt32(o, x, le) : v.setUint32(o, x, le));
  return { name, size, encode: (x, v, o) => set(v, o, x), decode: get, zero: () => 0 };
}

function bigCodec(name: string, signed: boolean, bigEndian = false): Codec<bigint> {
  const le = !bigEndian && LE;
  return {
    name,
    size: 8,
    encode: (x, v, o) => (signed ? v.setBigInt64(o, x, le) : v.setBigUint64(o, x, le)),
    decode: (v, o) => (signed ? v.getBigInt64(o, le) : v.getBigUint64(o, le)),
    zero: () => 0n,
  };
}

export const scalar = {
  u8: intCodec('__u8', 1, false),
  u16: intCodec('__u16', 2, false),
  u32: intCodec('__u32', 4, false),
  s8: intCodec('__s8', 1, true),
  s16: intCodec('__s16', 2, true),
  s32: intCodec('__s32', 4, true),
  u64: bigCodec('__u64', false),
  s64: bigCodec('__s64', true),
  be16: intCodec('__be16', 2, false, true),
  be32: intCodec('__be32', 4, false, true),
  be64: bigCodec('__be64', false, true),
};

/** Raw bytes of a fixed size (keys without a BTF type, opaque blobs). */
export function bytesCodec(size: number, name = `u8[${size}]`): Codec<Uint8Array> {
  return {
    name,
    size,
    encode(x, v, o) {
      const dst = new Uint8Array(v.buffer, v.byteOffset + o, size);
      dst.fill(0);
      dst.set(x.subarray(0, size));
    },
    decode: (v, o) => new Uint8Array(v.buffer.slice(v.byteOffset + o, v.byteOffset + o + size)),
    zero: () => new Uint8Array(size),
  };
}

/** Encodes one value into a fresh Buffer of the codec's size. */
export function encodeOne<T>(codec: Codec<T>, value: T): Buffer {
  const buf = Buffer.alloc(codec.size);
  codec.encode(value, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0);
  return buf;
}

export function decodeOne<T>(codec: Codec<T>, bytes: Uint8Array, offset = 0): T {
  return codec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset);
}
