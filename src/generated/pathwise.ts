// generated — do not edit. From the BTF of pathwise.bpf.o by scripts/gen-types.ts; `make gen` regenerates.
import { type Codec, type MapSpec, scalar } from '../bpf/codec.js';

const bytesAt = (v: DataView, o: number, n: number) => new Uint8Array(v.buffer, v.byteOffset + o, n);

/** enum pw_limit */
export const PwLimit = {
  MAX_IFINDEX: 1024,
} as const;
export type PwLimit = (typeof PwLimit)[keyof typeof PwLimit];

/** enum pw_reason */
export const PwReason = {
  NONE: 0,
  TRUNCATED_ETH: 1,
  TRUNCATED_VLAN: 2,
  TOO_MANY_VLANS: 3,
  NOT_IP: 4,
  TRUNCATED_IP: 5,
  BAD_IP_HEADER: 6,
  TRUNCATED_L4: 7,
  MAX: 8,
} as const;
export type PwReason = (typeof PwReason)[keyof typeof PwReason];

/** enum pw_setting */
export const PwSetting = {
  DROP_MALFORMED: 1,
} as const;
export type PwSetting = (typeof PwSetting)[keyof typeof PwSetting];

/** enum pw_verdict */
export const PwVerdict = {
  PASS: 0,
  DROP: 1,
  REDIRECT: 2,
  TX: 3,
  ABORTED: 4,
  MAX: 5,
} as const;
export type PwVerdict = (typeof PwVerdict)[keyof typeof PwVerdict];

/** struct pw_if_counters (144 bytes) */
export interface PwIfCounters {
  packets: bigint[];
  bytes: bigint[];
  reasons: bigint[];
}
export const PwIfCounters = {
  name: 'pw_if_counters',
  size: 144,
  offsets: { packets: 0, bytes: 40, reasons: 80 },
  encode(x: PwIfCounters, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 5; i0++) { scalar.u64.encode(x.packets[i0] ?? 0n, v, o + 0 + i0 * 8); }
    for (let i0 = 0; i0 < 5; i0++) { scalar.u64.encode(x.bytes[i0] ?? 0n, v, o + 40 + i0 * 8); }
    for (let i0 = 0; i0 < 8; i0++) { scalar.u64.encode(x.reasons[i0] ?? 0n, v, o + 80 + i0 * 8); }
  },
  decode(v: DataView, o: number): PwIfCounters {
    return {
      packets: Array.from({ length: 5 }, (_, i0) => scalar.u64.decode(v, o + 0 + i0 * 8)),
      bytes: Array.from({ length: 5 }, (_, i0) => scalar.u64.decode(v, o + 40 + i0 * 8)),
      reasons: Array.from({ length: 8 }, (_, i0) => scalar.u64.decode(v, o + 80 + i0 * 8)),
    };
  },
  zero(): PwIfCounters {
    return { packets: Array.from({ length: 5 }, () => 0n), bytes: Array.from({ length: 5 }, () => 0n), reasons: Array.from({ length: 8 }, () => 0n) };
  },
} as const satisfies Codec<PwIfCounters> & { offsets: Record<string, number> };

/** struct pw_settings (8 bytes) */
export interface PwSettings {
  flags: number;
}
export const PwSettings = {
  name: 'pw_settings',
  size: 8,
  offsets: { flags: 0, _pad0: 4 },
  encode(x: PwSettings, v: DataView, o: number): void {
    scalar.u32.encode(x.flags, v, o + 0);
    bytesAt(v, o + 4, 4).fill(0);
  },
  decode(v: DataView, o: number): PwSettings {
    return {
      flags: scalar.u32.decode(v, o + 0),
    };
  },
  zero(): PwSettings {
    return { flags: 0 };
  },
} as const satisfies Codec<PwSettings> & { offsets: Record<string, number> };

/** Maps of pathwise.bpf.o, as declared in its .maps section. */
export const maps = {
  pw_if_stats: { name: 'pw_if_stats', type: 6, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 144, key: scalar.u32, value: PwIfCounters },
} as const satisfies Record<string, MapSpec<any, any>>;

/** `const volatile` settings in .rodata; offsets are resolved from the opened object. */
export const rodata = {
  pw_settings: { name: 'pw_settings', size: 8, codec: PwSettings },
} as const;

export const programs = ['pw_xdp'] as const;
