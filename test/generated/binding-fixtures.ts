// generated — do not edit. From the BTF of binding-fixtures.bpf.o by scripts/gen-types.ts; `make gen` regenerates.
import { type Codec, type MapSpec, type NativeFd, type BpfMap, type PerCpuMap, type RawMap, scalar, MapType, openMapSet } from '../../src/kernel/index.js';

const bytesAt = (v: DataView, o: number, n: number) => new Uint8Array(v.buffer, v.byteOffset + o, n);

/** enum fx_limit */
export const FxLimit = {
  EVENT_BYTES: 64,
  BATCH_ENTRIES: 131072,
} as const;
export type FxLimit = (typeof FxLimit)[keyof typeof FxLimit];

/** struct fx_setting (8 bytes) */
export interface FxSetting {
  verdict: number;
  stamp: number;
}
export const FxSetting = {
  name: 'fx_setting',
  size: 8,
  offsets: { verdict: 0, stamp: 4 },
  encode(x: FxSetting, v: DataView, o: number): void {
    scalar.u32.encode(x.verdict, v, o + 0);
    scalar.be32.encode(x.stamp, v, o + 4);
  },
  decode(v: DataView, o: number): FxSetting {
    return {
      verdict: scalar.u32.decode(v, o + 0),
      stamp: scalar.be32.decode(v, o + 4),
    };
  },
  zero(): FxSetting {
    return { verdict: 0, stamp: 0 };
  },
} as const satisfies Codec<FxSetting> & { offsets: Record<string, number> };

/** struct fx_counter (16 bytes) */
export interface FxCounter {
  packets: bigint;
  bytes: bigint;
}
export const FxCounter = {
  name: 'fx_counter',
  size: 16,
  offsets: { packets: 0, bytes: 8 },
  encode(x: FxCounter, v: DataView, o: number): void {
    scalar.u64.encode(x.packets, v, o + 0);
    scalar.u64.encode(x.bytes, v, o + 8);
  },
  decode(v: DataView, o: number): FxCounter {
    return {
      packets: scalar.u64.decode(v, o + 0),
      bytes: scalar.u64.decode(v, o + 8),
    };
  },
  zero(): FxCounter {
    return { packets: 0n, bytes: 0n };
  },
} as const satisfies Codec<FxCounter> & { offsets: Record<string, number> };

/** struct fx_key (8 bytes) */
export interface FxKey {
  addr: number;
  port: number;
  proto: number;
}
export const FxKey = {
  name: 'fx_key',
  size: 8,
  offsets: { addr: 0, port: 4, proto: 6, _pad0: 7 },
  encode(x: FxKey, v: DataView, o: number): void {
    scalar.be32.encode(x.addr, v, o + 0);
    scalar.be16.encode(x.port, v, o + 4);
    scalar.u8.encode(x.proto, v, o + 6);
    bytesAt(v, o + 7, 1).fill(0);
  },
  decode(v: DataView, o: number): FxKey {
    return {
      addr: scalar.be32.decode(v, o + 0),
      port: scalar.be16.decode(v, o + 4),
      proto: scalar.u8.decode(v, o + 6),
    };
  },
  zero(): FxKey {
    return { addr: 0, port: 0, proto: 0 };
  },
} as const satisfies Codec<FxKey> & { offsets: Record<string, number> };

/** struct fx_value (16 bytes) */
export interface FxValue {
  packets: bigint;
  mac: Uint8Array;
  vlan: number;
}
export const FxValue = {
  name: 'fx_value',
  size: 16,
  offsets: { packets: 0, mac: 8, vlan: 14 },
  encode(x: FxValue, v: DataView, o: number): void {
    scalar.u64.encode(x.packets, v, o + 0);
    bytesAt(v, o + 8, 6).set(x.mac.subarray(0, 6));
    scalar.u16.encode(x.vlan, v, o + 14);
  },
  decode(v: DataView, o: number): FxValue {
    return {
      packets: scalar.u64.decode(v, o + 0),
      mac: bytesAt(v, o + 8, 6).slice(),
      vlan: scalar.u16.decode(v, o + 14),
    };
  },
  zero(): FxValue {
    return { packets: 0n, mac: new Uint8Array(6), vlan: 0 };
  },
} as const satisfies Codec<FxValue> & { offsets: Record<string, number> };

/** struct fx_config (8 bytes) */
export interface FxConfig {
  verdict: number;
}
export const FxConfig = {
  name: 'fx_config',
  size: 8,
  offsets: { verdict: 0, _pad0: 4 },
  encode(x: FxConfig, v: DataView, o: number): void {
    scalar.u32.encode(x.verdict, v, o + 0);
    bytesAt(v, o + 4, 4).fill(0);
  },
  decode(v: DataView, o: number): FxConfig {
    return {
      verdict: scalar.u32.decode(v, o + 0),
    };
  },
  zero(): FxConfig {
    return { verdict: 0 };
  },
} as const satisfies Codec<FxConfig> & { offsets: Record<string, number> };

/** struct fx_event (80 bytes) */
export interface FxEvent {
  ifindex: number;
  len: number;
  seq: bigint;
  head: Uint8Array;
}
export const FxEvent = {
  name: 'fx_event',
  size: 80,
  offsets: { ifindex: 0, len: 4, seq: 8, head: 16 },
  encode(x: FxEvent, v: DataView, o: number): void {
    scalar.u32.encode(x.ifindex, v, o + 0);
    scalar.u32.encode(x.len, v, o + 4);
    scalar.u64.encode(x.seq, v, o + 8);
    bytesAt(v, o + 16, 64).set(x.head.subarray(0, 64));
  },
  decode(v: DataView, o: number): FxEvent {
    return {
      ifindex: scalar.u32.decode(v, o + 0),
      len: scalar.u32.decode(v, o + 4),
      seq: scalar.u64.decode(v, o + 8),
      head: bytesAt(v, o + 16, 64).slice(),
    };
  },
  zero(): FxEvent {
    return { ifindex: 0, len: 0, seq: 0n, head: new Uint8Array(64) };
  },
} as const satisfies Codec<FxEvent> & { offsets: Record<string, number> };

/** Maps of binding-fixtures.bpf.o, as declared in its .maps section. */
export const maps = {
  fx_settings: { name: 'fx_settings', type: MapType.ARRAY, maxEntries: 4, flags: 1024, keySize: 4, valueSize: 8, key: scalar.u32, value: FxSetting },
  fx_events: { name: 'fx_events', type: MapType.RINGBUF, maxEntries: 65536, flags: 0, keySize: 0, valueSize: 0, key: null, value: null },
  fx_events_lost: { name: 'fx_events_lost', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 8, key: scalar.u32, value: scalar.u64 },
  fx_counters: { name: 'fx_counters', type: MapType.PERCPU_ARRAY, maxEntries: 2, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: FxCounter },
  fx_table: { name: 'fx_table', type: MapType.HASH, maxEntries: 131072, flags: 0, keySize: 8, valueSize: 16, key: FxKey, value: FxValue },
} as const satisfies Record<string, MapSpec<any, any>>;

export type MapName = keyof typeof maps;

/** Typed handles to every map of binding-fixtures.bpf.o, by short name (see openMaps). */
export interface Maps {
  /** fx_settings */
  settings: BpfMap<number, FxSetting>;
  /** fx_events */
  events: RawMap;
  /** fx_events_lost */
  eventsLost: BpfMap<number, bigint>;
  /** fx_counters */
  counters: PerCpuMap<number, FxCounter>;
  /** fx_table */
  table: BpfMap<FxKey, FxValue>;
}

/** Each handle's map. */
export const mapHandles = {
  settings: 'fx_settings',
  events: 'fx_events',
  eventsLost: 'fx_events_lost',
  counters: 'fx_counters',
  table: 'fx_table',
} as const satisfies Record<keyof Maps, MapName>;

/**
 * Opens a typed handle to every map, each on the fd `open` gives for its name (a pin, or a
 * loaded object's map); per-CPU maps get PerCpuMap, maps without types (ring buffers) RawMap.
 * Every layout is checked against the kernel's; on any failure the handles opened are closed.
 */
export function openMaps(open: (name: MapName) => NativeFd): Maps {
  return openMapSet(maps, mapHandles, open) as unknown as Maps;
}

/** `const volatile` settings in .rodata; offsets are resolved from the opened object. */
export const rodata = {
  fx_config: { name: 'fx_config', size: 8, codec: FxConfig },
} as const;

export const programs = ['fx_count', 'fx_read_mmap', 'fx_emit', 'fx_rodata', 'fx_tx', 'fx_tc_count', 'fx_tc_vlan_push'] as const;
export type ProgramName = (typeof programs)[number];
