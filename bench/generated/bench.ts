// generated — do not edit. From the BTF of bench.bpf.o by scripts/gen-types.ts; `make gen` regenerates.
import { type Codec, type MapSpec, type NativeFd, type BpfMap, type PerCpuMap, type RawMap, scalar, MapType, openMapSet } from '../../src/kernel/index.js';
import { PwFib4Block, PwFib4Group, PwFib6Node, PwFlow, PwFlowCounters, PwFlowKey, PwFlowPending, PwIface, PwNeigh, PwNeighKey, PwNexthop, PwNhMac, PwNhgroup, PwRoute } from '../../src/generated/pathwise.js';

const bytesAt = (v: DataView, o: number, n: number) => new Uint8Array(v.buffer, v.byteOffset + o, n);

/** struct bench_lpm_key (8 bytes) */
export interface BenchLpmKey {
  prefixlen: number;
  addr: Uint8Array;
}
export const BenchLpmKey = {
  name: 'bench_lpm_key',
  size: 8,
  offsets: { prefixlen: 0, addr: 4 },
  encode(x: BenchLpmKey, v: DataView, o: number): void {
    scalar.u32.encode(x.prefixlen, v, o + 0);
    bytesAt(v, o + 4, 4).set(x.addr.subarray(0, 4));
  },
  decode(v: DataView, o: number): BenchLpmKey {
    return {
      prefixlen: scalar.u32.decode(v, o + 0),
      addr: bytesAt(v, o + 4, 4).slice(),
    };
  },
  zero(): BenchLpmKey {
    return { prefixlen: 0, addr: new Uint8Array(4) };
  },
} as const satisfies Codec<BenchLpmKey> & { offsets: Record<string, number> };

/** struct bench_addr6 (16 bytes) */
export interface BenchAddr6 {
  a: Uint8Array;
}
export const BenchAddr6 = {
  name: 'bench_addr6',
  size: 16,
  offsets: { a: 0 },
  encode(x: BenchAddr6, v: DataView, o: number): void {
    bytesAt(v, o + 0, 16).set(x.a.subarray(0, 16));
  },
  decode(v: DataView, o: number): BenchAddr6 {
    return {
      a: bytesAt(v, o + 0, 16).slice(),
    };
  },
  zero(): BenchAddr6 {
    return { a: new Uint8Array(16) };
  },
} as const satisfies Codec<BenchAddr6> & { offsets: Record<string, number> };

/** struct bench_lpm6_key (20 bytes) */
export interface BenchLpm6Key {
  prefixlen: number;
  addr: Uint8Array;
}
export const BenchLpm6Key = {
  name: 'bench_lpm6_key',
  size: 20,
  offsets: { prefixlen: 0, addr: 4 },
  encode(x: BenchLpm6Key, v: DataView, o: number): void {
    scalar.u32.encode(x.prefixlen, v, o + 0);
    bytesAt(v, o + 4, 16).set(x.addr.subarray(0, 16));
  },
  decode(v: DataView, o: number): BenchLpm6Key {
    return {
      prefixlen: scalar.u32.decode(v, o + 0),
      addr: bytesAt(v, o + 4, 16).slice(),
    };
  },
  zero(): BenchLpm6Key {
    return { prefixlen: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<BenchLpm6Key> & { offsets: Record<string, number> };

/** struct bench_gen_frame (60 bytes) */
export interface BenchGenFrame {
  data: Uint8Array;
}
export const BenchGenFrame = {
  name: 'bench_gen_frame',
  size: 60,
  offsets: { data: 0 },
  encode(x: BenchGenFrame, v: DataView, o: number): void {
    bytesAt(v, o + 0, 60).set(x.data.subarray(0, 60));
  },
  decode(v: DataView, o: number): BenchGenFrame {
    return {
      data: bytesAt(v, o + 0, 60).slice(),
    };
  },
  zero(): BenchGenFrame {
    return { data: new Uint8Array(60) };
  },
} as const satisfies Codec<BenchGenFrame> & { offsets: Record<string, number> };

/** struct bench_loop (16 bytes) */
export interface BenchLoop {
  back_ifindex: number;
  into_ifindex: number;
  stop: number;
}
export const BenchLoop = {
  name: 'bench_loop',
  size: 16,
  offsets: { back_ifindex: 0, into_ifindex: 4, stop: 8, _pad: 12 },
  encode(x: BenchLoop, v: DataView, o: number): void {
    scalar.u32.encode(x.back_ifindex, v, o + 0);
    scalar.u32.encode(x.into_ifindex, v, o + 4);
    scalar.u32.encode(x.stop, v, o + 8);
    bytesAt(v, o + 12, 4).fill(0);
  },
  decode(v: DataView, o: number): BenchLoop {
    return {
      back_ifindex: scalar.u32.decode(v, o + 0),
      into_ifindex: scalar.u32.decode(v, o + 4),
      stop: scalar.u32.decode(v, o + 8),
    };
  },
  zero(): BenchLoop {
    return { back_ifindex: 0, into_ifindex: 0, stop: 0 };
  },
} as const satisfies Codec<BenchLoop> & { offsets: Record<string, number> };

/** Maps of bench.bpf.o, as declared in its .maps section. */
export const maps = {
  pw_nexthops: { name: 'pw_nexthops', type: MapType.ARRAY, maxEntries: 65536, flags: 1024, keySize: 4, valueSize: 40, key: scalar.u32, value: PwNexthop },
  pw_neigh: { name: 'pw_neigh', type: MapType.HASH, maxEntries: 65536, flags: 0, keySize: 20, valueSize: 8, key: PwNeighKey, value: PwNeigh },
  bench_lpm_map: { name: 'bench_lpm_map', type: MapType.LPM_TRIE, maxEntries: 1048576, flags: 1, keySize: 8, valueSize: 4, key: BenchLpmKey, value: scalar.u32 },
  bench_addrs6: { name: 'bench_addrs6', type: MapType.ARRAY, maxEntries: 65536, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: BenchAddr6 },
  bench_lpm6_map: { name: 'bench_lpm6_map', type: MapType.LPM_TRIE, maxEntries: 1048576, flags: 1, keySize: 20, valueSize: 4, key: BenchLpm6Key, value: scalar.u32 },
  pw_routes: { name: 'pw_routes', type: MapType.ARRAY, maxEntries: 2097152, flags: 1024, keySize: 4, valueSize: 32, key: scalar.u32, value: PwRoute },
  pw_nhgroups: { name: 'pw_nhgroups', type: MapType.ARRAY, maxEntries: 16384, flags: 0, keySize: 4, valueSize: 360, key: scalar.u32, value: PwNhgroup },
  bench_fwd_ports: { name: 'bench_fwd_ports', type: MapType.DEVMAP_HASH, maxEntries: 64, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_flows: { name: 'pw_flows', type: MapType.LRU_HASH, maxEntries: 1048576, flags: 0, keySize: 40, valueSize: 72, key: PwFlowKey, value: PwFlow },
  bench_gen_next: { name: 'bench_gen_next', type: MapType.PROG_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_flow_cache: { name: 'pw_flow_cache', type: MapType.PERCPU_ARRAY, maxEntries: 4096, flags: 0, keySize: 4, valueSize: 96, key: scalar.u32, value: PwFlowPending },
  pw_flow_stats: { name: 'pw_flow_stats', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwFlowCounters },
  pw_fib4_tbl24: { name: 'pw_fib4_tbl24', type: MapType.ARRAY, maxEntries: 1048576, flags: 1024, keySize: 4, valueSize: 64, key: scalar.u32, value: PwFib4Block },
  pw_fib4_tbl8: { name: 'pw_fib4_tbl8', type: MapType.ARRAY, maxEntries: 16384, flags: 1024, keySize: 4, valueSize: 1024, key: scalar.u32, value: PwFib4Group },
  pw_fib6_nodes: { name: 'pw_fib6_nodes', type: MapType.ARRAY, maxEntries: 131072, flags: 1024, keySize: 4, valueSize: 1024, key: scalar.u32, value: PwFib6Node },
  pw_tx_ports: { name: 'pw_tx_ports', type: MapType.DEVMAP_HASH, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_ifaces: { name: 'pw_ifaces', type: MapType.ARRAY, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 12, key: scalar.u32, value: PwIface },
  pw_ifaces_hi: { name: 'pw_ifaces_hi', type: MapType.HASH, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 12, key: scalar.u32, value: PwIface },
  bench_addrs: { name: 'bench_addrs', type: MapType.ARRAY, maxEntries: 65536, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.be32 },
  bench_state: { name: 'bench_state', type: MapType.PERCPU_ARRAY, maxEntries: 2, flags: 0, keySize: 4, valueSize: 8, key: scalar.u32, value: scalar.u64 },
  bench_gen_frame: { name: 'bench_gen_frame', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 60, key: scalar.u32, value: BenchGenFrame },
  bench_loop: { name: 'bench_loop', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: BenchLoop },
} as const satisfies Record<string, MapSpec<any, any>>;

export type MapName = keyof typeof maps;

/** Typed handles to every map of bench.bpf.o, by short name (see openMaps). */
export interface Maps {
  /** pw_nexthops */
  nexthops: BpfMap<number, PwNexthop>;
  /** pw_neigh */
  neigh: BpfMap<PwNeighKey, PwNeigh>;
  /** bench_lpm_map */
  lpmMap: BpfMap<BenchLpmKey, number>;
  /** bench_addrs6 */
  addrs6: BpfMap<number, BenchAddr6>;
  /** bench_lpm6_map */
  lpm6Map: BpfMap<BenchLpm6Key, number>;
  /** pw_routes */
  routes: BpfMap<number, PwRoute>;
  /** pw_nhgroups */
  nhgroups: BpfMap<number, PwNhgroup>;
  /** bench_fwd_ports */
  fwdPorts: BpfMap<number, number>;
  /** pw_flows */
  flows: BpfMap<PwFlowKey, PwFlow>;
  /** bench_gen_next */
  genNext: BpfMap<number, number>;
  /** pw_flow_cache */
  flowCache: PerCpuMap<number, PwFlowPending>;
  /** pw_flow_stats */
  flowStats: PerCpuMap<number, PwFlowCounters>;
  /** pw_fib4_tbl24 */
  fib4Tbl24: BpfMap<number, PwFib4Block>;
  /** pw_fib4_tbl8 */
  fib4Tbl8: BpfMap<number, PwFib4Group>;
  /** pw_fib6_nodes */
  fib6Nodes: BpfMap<number, PwFib6Node>;
  /** pw_tx_ports */
  txPorts: BpfMap<number, number>;
  /** pw_ifaces */
  ifaces: BpfMap<number, PwIface>;
  /** pw_ifaces_hi */
  ifacesHi: BpfMap<number, PwIface>;
  /** bench_addrs */
  addrs: BpfMap<number, number>;
  /** bench_state */
  state: PerCpuMap<number, bigint>;
  /** bench_gen_frame */
  genFrame: BpfMap<number, BenchGenFrame>;
  /** bench_loop */
  loop: BpfMap<number, BenchLoop>;
}

/** Each handle's map. */
export const mapHandles = {
  nexthops: 'pw_nexthops',
  neigh: 'pw_neigh',
  lpmMap: 'bench_lpm_map',
  addrs6: 'bench_addrs6',
  lpm6Map: 'bench_lpm6_map',
  routes: 'pw_routes',
  nhgroups: 'pw_nhgroups',
  fwdPorts: 'bench_fwd_ports',
  flows: 'pw_flows',
  genNext: 'bench_gen_next',
  flowCache: 'pw_flow_cache',
  flowStats: 'pw_flow_stats',
  fib4Tbl24: 'pw_fib4_tbl24',
  fib4Tbl8: 'pw_fib4_tbl8',
  fib6Nodes: 'pw_fib6_nodes',
  txPorts: 'pw_tx_ports',
  ifaces: 'pw_ifaces',
  ifacesHi: 'pw_ifaces_hi',
  addrs: 'bench_addrs',
  state: 'bench_state',
  genFrame: 'bench_gen_frame',
  loop: 'bench_loop',
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
} as const;

export const programs = ['bench_base', 'bench_own', 'bench_lpm', 'bench_kernel', 'bench_own6', 'bench_lpm6', 'bench_base6', 'bench_fwd', 'bench_redirect', 'bench_empty', 'bench_calls', 'bench_flow_floor', 'bench_sink', 'bench_gen_pass', 'bench_gen_pipeline', 'bench_gen_drop', 'bench_loop_back', 'bench_loop_refill'] as const;
export type ProgramName = (typeof programs)[number];
