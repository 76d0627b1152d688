// generated — do not edit. From the BTF of pathwise.bpf.o by scripts/gen-types.ts; `make gen` regenerates.
import { type Codec, type MapSpec, type NativeFd, type BpfMap, type PerCpuMap, type RawMap, scalar, MapType, openMapSet } from '../kernel/index.js';

const bytesAt = (v: DataView, o: number, n: number) => new Uint8Array(v.buffer, v.byteOffset + o, n);

/** enum pw_bank_flag */
export const PwBankFlag = {
  L4: 1,
  ANY_SHIFT: 1,
  EXACT_SHIFT: 5,
  SMALL_SHIFT: 9,
  OPEN_SHIFT: 13,
  PRESENCE_SHIFT: 20,
  EMPTY_ANY_SHIFT: 24,
  ONE_PROTO: 268435456,
} as const;
export type PwBankFlag = (typeof PwBankFlag)[keyof typeof PwBankFlag];

/** enum pw_block_origin */
export const PwBlockOrigin = {
  CONFIG: 0,
  ESCALATION: 1,
  DECISION: 2,
} as const;
export type PwBlockOrigin = (typeof PwBlockOrigin)[keyof typeof PwBlockOrigin];

/** enum pw_capture_point */
export const PwCapturePoint = {
  INGRESS: 0,
  VERDICT: 1,
} as const;
export type PwCapturePoint = (typeof PwCapturePoint)[keyof typeof PwCapturePoint];

/** enum pw_capture_slot */
export const PwCaptureSlot = {
  FILTER: 0,
  PIPELINE: 1,
} as const;
export type PwCaptureSlot = (typeof PwCaptureSlot)[keyof typeof PwCaptureSlot];

/** enum pw_capture_state */
export const PwCaptureState = {
  IDLE: 0,
  PENDING: 1,
  DONE: 2,
} as const;
export type PwCaptureState = (typeof PwCaptureState)[keyof typeof PwCaptureState];

/** enum pw_cidr_field */
export const PwCidrField = {
  SRC4: 0,
  DST4: 1,
  SRC6: 2,
  DST6: 3,
  FIELDS: 4,
} as const;
export type PwCidrField = (typeof PwCidrField)[keyof typeof PwCidrField];

/** enum pw_event_kind */
export const PwEventKind = {
  RULE_LOG: 1,
  SAMPLE: 2,
  DROP: 3,
} as const;
export type PwEventKind = (typeof PwEventKind)[keyof typeof PwEventKind];

/** enum pw_feature */
export const PwFeature = {
  CAPTURE: 0,
  EVENTS: 1,
  BALANCE: 2,
  HTTP: 3,
  COUNT: 4,
} as const;
export type PwFeature = (typeof PwFeature)[keyof typeof PwFeature];

/** enum pw_fib4 */
export const PwFib4 = {
  EXT_BIT: 31,
} as const;
export type PwFib4 = (typeof PwFib4)[keyof typeof PwFib4];

/** enum pw_flow_direction */
export const PwFlowDirection = {
  UNKNOWN: 0,
  INITIATOR: 1,
  RESPONDER: 2,
} as const;
export type PwFlowDirection = (typeof PwFlowDirection)[keyof typeof PwFlowDirection];

/** enum pw_iface_flag */
export const PwIfaceFlag = {
  IFACE_F_TX: 1,
} as const;
export type PwIfaceFlag = (typeof PwIfaceFlag)[keyof typeof PwIfaceFlag];

/** enum pw_lb_backend_flag */
export const PwLbBackendFlag = {
  VALID: 1,
  DOWN: 2,
} as const;
export type PwLbBackendFlag = (typeof PwLbBackendFlag)[keyof typeof PwLbBackendFlag];

/** enum pw_lb_flag */
export const PwLbFlag = {
  DSR: 1,
  NO_SPORT: 2,
  DPORT_ONLY: 4,
  SNAT: 8,
  RESET_DOWN: 16,
} as const;
export type PwLbFlag = (typeof PwLbFlag)[keyof typeof PwLbFlag];

/** enum pw_limit */
export const PwLimit = {
  IF_DIRECT: 1024,
  MAX_IFACES: 1024,
  FIB4_TBL24_SLOTS: 16,
  FIB4_TBL24_ELEMS: 1048576,
  FIB4_TBL8_SLOTS: 256,
  FIB4_TBL8_GROUPS: 16384,
  MAX_ROUTES: 2097152,
  FIB6_NODE_SLOTS: 256,
  FIB6_ROOT_NODES: 65536,
  FIB6_MAX_DEPTH: 13,
  FIB6_NODES: 65536,
  MAX_NHGROUPS: 16384,
  NHG_MAX_MEMBERS: 16,
  MAX_NEXTHOPS: 65536,
  NHG_BUCKETS: 64,
  MAX_EXT_HDRS: 6,
  FLOWS_MAX: 1048576,
  FLOW_CACHE_SLOTS: 4096,
  FLOW_CACHE_SHIFT: 52,
  FLOW_CACHE_IDLE_MS: 1000,
  FLOW_HANDSHAKE_WAIT_MS: 3000,
  TRACE_BYTES: 24,
  NEIGH_MAX: 65536,
  MAX_RULES: 16384,
  RULE_WORDS: 256,
  RULE_SUMMARY: 4,
  RULE_BITMAPS: 4096,
  PORT_SLOTS: 65537,
  FLAG_SLOTS: 257,
  RULE_LPM_MAX: 65536,
  CIDR_EXACT_LENS: 4,
  CIDR_SMALL_MAX: 16,
  RULE_EXACT_MAX: 262144,
  RULE_PRESENCE_BYTES: 8192,
  BLOCK_MAX: 1048576,
  RATELIMITS: 1024,
  SEAL_LIMITER_BASE: 512,
  RATELIMIT_STATE_MAX: 262144,
  EVENT_BYTES: 256,
  CAPTURE_BYTES: 2048,
  RING_WAKE_BYTES: 65536,
  RING_DRAIN_MS: 5,
  SIZE_BUCKETS: 8,
  FRAGS_MAX: 65536,
  FRAG_LIFETIME_S: 30,
  ESCALATIONS_MAX: 262144,
  BLOCK_SHADOW_MAX: 4,
  LB_MAX_SERVICES: 256,
  LB_MAX_BACKENDS: 4096,
  LB_TABLE_SLOTS: 4194304,
  LB_SLOTS_PER_ELEM: 16,
  HTTP_BYTES: 1024,
  HTTP_PORT_WORDS: 1024,
  LB_CT_MAX: 1048576,
} as const;
export type PwLimit = (typeof PwLimit)[keyof typeof PwLimit];

/** enum pw_nexthop_flag */
export const PwNexthopFlag = {
  VALID: 1,
  GW6: 2,
  DIRECT: 4,
} as const;
export type PwNexthopFlag = (typeof PwNexthopFlag)[keyof typeof PwNexthopFlag];

/** enum pw_nh_decision */
export const PwNhDecision = {
  DECISION: 65536,
  TO_KERNEL: 65539,
  DROP: 65538,
} as const;
export type PwNhDecision = (typeof PwNhDecision)[keyof typeof PwNhDecision];

/** enum pw_nhg_special */
export const PwNhgSpecial = {
  NONE: 0,
  LOCAL: 1,
  BLACKHOLE: 2,
  KERNEL: 3,
  FIRST: 16,
} as const;
export type PwNhgSpecial = (typeof PwNhgSpecial)[keyof typeof PwNhgSpecial];

/** enum pw_reason */
export const PwReason = {
  NONE: 0,
  TRUNCATED_ETH: 1,
  TRUNCATED_VLAN: 2,
  TOO_MANY_VLANS: 3,
  TRUNCATED_IP: 4,
  BAD_IP_HEADER: 5,
  TRUNCATED_L4: 6,
  TOO_MANY_EXT_HDRS: 7,
  MALFORMED_MAX: 8,
  NOT_IP: 8,
  NO_ROUTE: 9,
  LOCAL: 10,
  TTL_EXCEEDED: 11,
  NO_NEIGH: 12,
  MULTICAST: 13,
  BLACKHOLE: 14,
  KERNEL_ROUTE: 15,
  NO_TX_PORT: 16,
  FIB_KERNEL: 17,
  BLOCKED: 18,
  RULE_DROP: 19,
  RATE_LIMITED: 20,
  VLAN_TAGGED: 21,
  FRAG_ATTACK: 22,
  UNCLASSIFIED: 23,
  NOT_FOR_US: 24,
  MARTIAN: 25,
  MTU_EXCEEDED: 26,
  RULE_LIMIT: 27,
  LB_NO_BACKEND: 28,
  LB_FRAGMENT: 29,
  LB_NO_PORT: 30,
  SEALED: 31,
  LB_RESET: 32,
  MAX: 33,
} as const;
export type PwReason = (typeof PwReason)[keyof typeof PwReason];

/** enum pw_route_flag */
export const PwRouteFlag = {
  VALID: 1,
  SYSTEM: 2,
  IMPORTED: 4,
  PROTO: 65280,
} as const;
export type PwRouteFlag = (typeof PwRouteFlag)[keyof typeof PwRouteFlag];

/** enum pw_rule_action */
export const PwRuleAction = {
  PASS: 0,
  DROP: 1,
  RATELIMIT: 2,
  COUNT: 3,
  LOG: 4,
} as const;
export type PwRuleAction = (typeof PwRuleAction)[keyof typeof PwRuleAction];

/** enum pw_rule_field */
export const PwRuleField = {
  SRC: 0,
  DST: 1,
  PROTO: 2,
  SPORT: 3,
  DPORT: 4,
  FLAGS: 5,
  IFACE: 6,
} as const;
export type PwRuleField = (typeof PwRuleField)[keyof typeof PwRuleField];

/** enum pw_setting */
export const PwSetting = {
  DROP_MALFORMED: 1,
  FIB_KERNEL: 2,
  FLOWS: 4,
  ROUTE_STATS: 8,
  FILTER: 16,
  PASS_UNCLASSIFIED: 32,
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

/** struct pw_nh_mac (8 bytes) */
export interface PwNhMac {
  mac: Uint8Array;
  known: number;
}
export const PwNhMac = {
  name: 'pw_nh_mac',
  size: 8,
  offsets: { mac: 0, _pad0: 6, known: 7 },
  encode(x: PwNhMac, v: DataView, o: number): void {
    bytesAt(v, o + 0, 6).set(x.mac.subarray(0, 6));
    bytesAt(v, o + 6, 1).fill(0);
    scalar.u8.encode(x.known, v, o + 7);
  },
  decode(v: DataView, o: number): PwNhMac {
    return {
      mac: bytesAt(v, o + 0, 6).slice(),
      known: scalar.u8.decode(v, o + 7),
    };
  },
  zero(): PwNhMac {
    return { mac: new Uint8Array(6), known: 0 };
  },
} as const satisfies Codec<PwNhMac> & { offsets: Record<string, number> };

/** struct pw_nexthop (40 bytes) */
export interface PwNexthop {
  ifindex: number;
  flags: number;
  gw: Uint8Array;
  smac: Uint8Array;
  gw_mac: PwNhMac;
}
export const PwNexthop = {
  name: 'pw_nexthop',
  size: 40,
  offsets: { ifindex: 0, flags: 4, gw: 8, smac: 24, _pad0: 30, gw_mac: 32 },
  encode(x: PwNexthop, v: DataView, o: number): void {
    scalar.u32.encode(x.ifindex, v, o + 0);
    scalar.u32.encode(x.flags, v, o + 4);
    bytesAt(v, o + 8, 16).set(x.gw.subarray(0, 16));
    bytesAt(v, o + 24, 6).set(x.smac.subarray(0, 6));
    bytesAt(v, o + 30, 2).fill(0);
    PwNhMac.encode(x.gw_mac, v, o + 32);
  },
  decode(v: DataView, o: number): PwNexthop {
    return {
      ifindex: scalar.u32.decode(v, o + 0),
      flags: scalar.u32.decode(v, o + 4),
      gw: bytesAt(v, o + 8, 16).slice(),
      smac: bytesAt(v, o + 24, 6).slice(),
      gw_mac: PwNhMac.decode(v, o + 32),
    };
  },
  zero(): PwNexthop {
    return { ifindex: 0, flags: 0, gw: new Uint8Array(16), smac: new Uint8Array(6), gw_mac: PwNhMac.zero() };
  },
} as const satisfies Codec<PwNexthop> & { offsets: Record<string, number> };

/** struct pw_neigh_key (20 bytes) */
export interface PwNeighKey {
  ifindex: number;
  addr: Uint8Array;
}
export const PwNeighKey = {
  name: 'pw_neigh_key',
  size: 20,
  offsets: { ifindex: 0, addr: 4 },
  encode(x: PwNeighKey, v: DataView, o: number): void {
    scalar.u32.encode(x.ifindex, v, o + 0);
    bytesAt(v, o + 4, 16).set(x.addr.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwNeighKey {
    return {
      ifindex: scalar.u32.decode(v, o + 0),
      addr: bytesAt(v, o + 4, 16).slice(),
    };
  },
  zero(): PwNeighKey {
    return { ifindex: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwNeighKey> & { offsets: Record<string, number> };

/** struct pw_neigh (8 bytes) */
export interface PwNeigh {
  mac: Uint8Array;
}
export const PwNeigh = {
  name: 'pw_neigh',
  size: 8,
  offsets: { mac: 0, _pad0: 6 },
  encode(x: PwNeigh, v: DataView, o: number): void {
    bytesAt(v, o + 0, 6).set(x.mac.subarray(0, 6));
    bytesAt(v, o + 6, 2).fill(0);
  },
  decode(v: DataView, o: number): PwNeigh {
    return {
      mac: bytesAt(v, o + 0, 6).slice(),
    };
  },
  zero(): PwNeigh {
    return { mac: new Uint8Array(6) };
  },
} as const satisfies Codec<PwNeigh> & { offsets: Record<string, number> };

/** struct pw_lb_vip_key (20 bytes) */
export interface PwLbVipKey {
  family: number;
  proto: number;
  port: number;
  addr: Uint8Array;
}
export const PwLbVipKey = {
  name: 'pw_lb_vip_key',
  size: 20,
  offsets: { family: 0, proto: 1, port: 2, addr: 4 },
  encode(x: PwLbVipKey, v: DataView, o: number): void {
    scalar.u8.encode(x.family, v, o + 0);
    scalar.u8.encode(x.proto, v, o + 1);
    scalar.be16.encode(x.port, v, o + 2);
    bytesAt(v, o + 4, 16).set(x.addr.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwLbVipKey {
    return {
      family: scalar.u8.decode(v, o + 0),
      proto: scalar.u8.decode(v, o + 1),
      port: scalar.be16.decode(v, o + 2),
      addr: bytesAt(v, o + 4, 16).slice(),
    };
  },
  zero(): PwLbVipKey {
    return { family: 0, proto: 0, port: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwLbVipKey> & { offsets: Record<string, number> };

/** struct pw_lb_ct_key (40 bytes) */
export interface PwLbCtKey {
  family: number;
  proto: number;
  sport: number;
  dport: number;
  saddr: Uint8Array;
  daddr: Uint8Array;
}
export const PwLbCtKey = {
  name: 'pw_lb_ct_key',
  size: 40,
  offsets: { family: 0, proto: 1, _pad0: 2, sport: 4, dport: 6, saddr: 8, daddr: 24 },
  encode(x: PwLbCtKey, v: DataView, o: number): void {
    scalar.u8.encode(x.family, v, o + 0);
    scalar.u8.encode(x.proto, v, o + 1);
    bytesAt(v, o + 2, 2).fill(0);
    scalar.be16.encode(x.sport, v, o + 4);
    scalar.be16.encode(x.dport, v, o + 6);
    bytesAt(v, o + 8, 16).set(x.saddr.subarray(0, 16));
    bytesAt(v, o + 24, 16).set(x.daddr.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwLbCtKey {
    return {
      family: scalar.u8.decode(v, o + 0),
      proto: scalar.u8.decode(v, o + 1),
      sport: scalar.be16.decode(v, o + 4),
      dport: scalar.be16.decode(v, o + 6),
      saddr: bytesAt(v, o + 8, 16).slice(),
      daddr: bytesAt(v, o + 24, 16).slice(),
    };
  },
  zero(): PwLbCtKey {
    return { family: 0, proto: 0, sport: 0, dport: 0, saddr: new Uint8Array(16), daddr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwLbCtKey> & { offsets: Record<string, number> };

/** struct pw_lb_rnat (48 bytes) */
export interface PwLbRnat {
  vip: Uint8Array;
  vport: number;
  snat: number;
  backend: number;
  client: Uint8Array;
  cport: number;
}
export const PwLbRnat = {
  name: 'pw_lb_rnat',
  size: 48,
  offsets: { vip: 0, vport: 16, snat: 18, _pad0: 19, backend: 20, client: 24, cport: 40, _pad1: 42, _pad2: 44 },
  encode(x: PwLbRnat, v: DataView, o: number): void {
    bytesAt(v, o + 0, 16).set(x.vip.subarray(0, 16));
    scalar.be16.encode(x.vport, v, o + 16);
    scalar.u8.encode(x.snat, v, o + 18);
    bytesAt(v, o + 19, 1).fill(0);
    scalar.u32.encode(x.backend, v, o + 20);
    bytesAt(v, o + 24, 16).set(x.client.subarray(0, 16));
    scalar.be16.encode(x.cport, v, o + 40);
    bytesAt(v, o + 42, 2).fill(0);
    bytesAt(v, o + 44, 4).fill(0);
  },
  decode(v: DataView, o: number): PwLbRnat {
    return {
      vip: bytesAt(v, o + 0, 16).slice(),
      vport: scalar.be16.decode(v, o + 16),
      snat: scalar.u8.decode(v, o + 18),
      backend: scalar.u32.decode(v, o + 20),
      client: bytesAt(v, o + 24, 16).slice(),
      cport: scalar.be16.decode(v, o + 40),
    };
  },
  zero(): PwLbRnat {
    return { vip: new Uint8Array(16), vport: 0, snat: 0, backend: 0, client: new Uint8Array(16), cport: 0 };
  },
} as const satisfies Codec<PwLbRnat> & { offsets: Record<string, number> };

/** struct pw_lb_ct (24 bytes) */
export interface PwLbCt {
  backend: number;
  service: number;
  seen_ns: bigint;
  snat_port: number;
}
export const PwLbCt = {
  name: 'pw_lb_ct',
  size: 24,
  offsets: { backend: 0, service: 4, seen_ns: 8, snat_port: 16, _pad0: 18, _pad1: 20 },
  encode(x: PwLbCt, v: DataView, o: number): void {
    scalar.u32.encode(x.backend, v, o + 0);
    scalar.u32.encode(x.service, v, o + 4);
    scalar.u64.encode(x.seen_ns, v, o + 8);
    scalar.be16.encode(x.snat_port, v, o + 16);
    bytesAt(v, o + 18, 2).fill(0);
    bytesAt(v, o + 20, 4).fill(0);
  },
  decode(v: DataView, o: number): PwLbCt {
    return {
      backend: scalar.u32.decode(v, o + 0),
      service: scalar.u32.decode(v, o + 4),
      seen_ns: scalar.u64.decode(v, o + 8),
      snat_port: scalar.be16.decode(v, o + 16),
    };
  },
  zero(): PwLbCt {
    return { backend: 0, service: 0, seen_ns: 0n, snat_port: 0 };
  },
} as const satisfies Codec<PwLbCt> & { offsets: Record<string, number> };

/** struct pw_lb_backend (24 bytes) */
export interface PwLbBackend {
  family: number;
  flags: number;
  port: number;
  service: number;
  addr: Uint8Array;
}
export const PwLbBackend = {
  name: 'pw_lb_backend',
  size: 24,
  offsets: { family: 0, flags: 1, port: 2, service: 4, addr: 8 },
  encode(x: PwLbBackend, v: DataView, o: number): void {
    scalar.u8.encode(x.family, v, o + 0);
    scalar.u8.encode(x.flags, v, o + 1);
    scalar.be16.encode(x.port, v, o + 2);
    scalar.u32.encode(x.service, v, o + 4);
    bytesAt(v, o + 8, 16).set(x.addr.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwLbBackend {
    return {
      family: scalar.u8.decode(v, o + 0),
      flags: scalar.u8.decode(v, o + 1),
      port: scalar.be16.decode(v, o + 2),
      service: scalar.u32.decode(v, o + 4),
      addr: bytesAt(v, o + 8, 16).slice(),
    };
  },
  zero(): PwLbBackend {
    return { family: 0, flags: 0, port: 0, service: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwLbBackend> & { offsets: Record<string, number> };

/** struct pw_lb_service (32 bytes) */
export interface PwLbService {
  id: number;
  table: number;
  table_size: number;
  flags: number;
  snat: Uint8Array;
}
export const PwLbService = {
  name: 'pw_lb_service',
  size: 32,
  offsets: { id: 0, table: 4, table_size: 8, flags: 12, _pad0: 14, snat: 16 },
  encode(x: PwLbService, v: DataView, o: number): void {
    scalar.u32.encode(x.id, v, o + 0);
    scalar.u32.encode(x.table, v, o + 4);
    scalar.u32.encode(x.table_size, v, o + 8);
    scalar.u16.encode(x.flags, v, o + 12);
    bytesAt(v, o + 14, 2).fill(0);
    bytesAt(v, o + 16, 16).set(x.snat.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwLbService {
    return {
      id: scalar.u32.decode(v, o + 0),
      table: scalar.u32.decode(v, o + 4),
      table_size: scalar.u32.decode(v, o + 8),
      flags: scalar.u16.decode(v, o + 12),
      snat: bytesAt(v, o + 16, 16).slice(),
    };
  },
  zero(): PwLbService {
    return { id: 0, table: 0, table_size: 0, flags: 0, snat: new Uint8Array(16) };
  },
} as const satisfies Codec<PwLbService> & { offsets: Record<string, number> };

/** struct pw_flow_key (40 bytes) */
export interface PwFlowKey {
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  proto: number;
  family: number;
  vlan: number;
}
export const PwFlowKey = {
  name: 'pw_flow_key',
  size: 40,
  offsets: { src: 0, dst: 16, sport: 32, dport: 34, proto: 36, family: 37, vlan: 38 },
  encode(x: PwFlowKey, v: DataView, o: number): void {
    bytesAt(v, o + 0, 16).set(x.src.subarray(0, 16));
    bytesAt(v, o + 16, 16).set(x.dst.subarray(0, 16));
    scalar.be16.encode(x.sport, v, o + 32);
    scalar.be16.encode(x.dport, v, o + 34);
    scalar.u8.encode(x.proto, v, o + 36);
    scalar.u8.encode(x.family, v, o + 37);
    scalar.u16.encode(x.vlan, v, o + 38);
  },
  decode(v: DataView, o: number): PwFlowKey {
    return {
      src: bytesAt(v, o + 0, 16).slice(),
      dst: bytesAt(v, o + 16, 16).slice(),
      sport: scalar.be16.decode(v, o + 32),
      dport: scalar.be16.decode(v, o + 34),
      proto: scalar.u8.decode(v, o + 36),
      family: scalar.u8.decode(v, o + 37),
      vlan: scalar.u16.decode(v, o + 38),
    };
  },
  zero(): PwFlowKey {
    return { src: new Uint8Array(16), dst: new Uint8Array(16), sport: 0, dport: 0, proto: 0, family: 0, vlan: 0 };
  },
} as const satisfies Codec<PwFlowKey> & { offsets: Record<string, number> };

/** struct pw_flow_pending (96 bytes) */
export interface PwFlowPending {
  key: PwFlowKey;
  packets: bigint;
  bytes: bigint;
  since_ns: bigint;
  last_ns: bigint;
  route_bytes: bigint;
  route: number;
  egress_ifindex: number;
  ifindex: number;
  tcp_flags: number;
  verdict: number;
  reason: number;
  owned: number;
}
export const PwFlowPending = {
  name: 'pw_flow_pending',
  size: 96,
  offsets: { key: 0, packets: 40, bytes: 48, since_ns: 56, last_ns: 64, route_bytes: 72, route: 80, egress_ifindex: 84, ifindex: 88, tcp_flags: 92, verdict: 93, reason: 94, owned: 95 },
  encode(x: PwFlowPending, v: DataView, o: number): void {
    PwFlowKey.encode(x.key, v, o + 0);
    scalar.u64.encode(x.packets, v, o + 40);
    scalar.u64.encode(x.bytes, v, o + 48);
    scalar.u64.encode(x.since_ns, v, o + 56);
    scalar.u64.encode(x.last_ns, v, o + 64);
    scalar.u64.encode(x.route_bytes, v, o + 72);
    scalar.u32.encode(x.route, v, o + 80);
    scalar.u32.encode(x.egress_ifindex, v, o + 84);
    scalar.u32.encode(x.ifindex, v, o + 88);
    scalar.u8.encode(x.tcp_flags, v, o + 92);
    scalar.u8.encode(x.verdict, v, o + 93);
    scalar.u8.encode(x.reason, v, o + 94);
    scalar.u8.encode(x.owned, v, o + 95);
  },
  decode(v: DataView, o: number): PwFlowPending {
    return {
      key: PwFlowKey.decode(v, o + 0),
      packets: scalar.u64.decode(v, o + 40),
      bytes: scalar.u64.decode(v, o + 48),
      since_ns: scalar.u64.decode(v, o + 56),
      last_ns: scalar.u64.decode(v, o + 64),
      route_bytes: scalar.u64.decode(v, o + 72),
      route: scalar.u32.decode(v, o + 80),
      egress_ifindex: scalar.u32.decode(v, o + 84),
      ifindex: scalar.u32.decode(v, o + 88),
      tcp_flags: scalar.u8.decode(v, o + 92),
      verdict: scalar.u8.decode(v, o + 93),
      reason: scalar.u8.decode(v, o + 94),
      owned: scalar.u8.decode(v, o + 95),
    };
  },
  zero(): PwFlowPending {
    return { key: PwFlowKey.zero(), packets: 0n, bytes: 0n, since_ns: 0n, last_ns: 0n, route_bytes: 0n, route: 0, egress_ifindex: 0, ifindex: 0, tcp_flags: 0, verdict: 0, reason: 0, owned: 0 };
  },
} as const satisfies Codec<PwFlowPending> & { offsets: Record<string, number> };

/** struct pw_flow (72 bytes) */
export interface PwFlow {
  packets: bigint;
  bytes: bigint;
  first_ns: bigint;
  last_ns: bigint;
  syn_ns: bigint;
  synack_ns: bigint;
  ack_ns: bigint;
  ifindex: number;
  egress_ifindex: number;
  route: number;
  tcp_flags: number;
  verdict: number;
  reason: number;
  direction: number;
}
export const PwFlow = {
  name: 'pw_flow',
  size: 72,
  offsets: { packets: 0, bytes: 8, first_ns: 16, last_ns: 24, syn_ns: 32, synack_ns: 40, ack_ns: 48, ifindex: 56, egress_ifindex: 60, route: 64, tcp_flags: 68, verdict: 69, reason: 70, direction: 71 },
  encode(x: PwFlow, v: DataView, o: number): void {
    scalar.u64.encode(x.packets, v, o + 0);
    scalar.u64.encode(x.bytes, v, o + 8);
    scalar.u64.encode(x.first_ns, v, o + 16);
    scalar.u64.encode(x.last_ns, v, o + 24);
    scalar.u64.encode(x.syn_ns, v, o + 32);
    scalar.u64.encode(x.synack_ns, v, o + 40);
    scalar.u64.encode(x.ack_ns, v, o + 48);
    scalar.u32.encode(x.ifindex, v, o + 56);
    scalar.u32.encode(x.egress_ifindex, v, o + 60);
    scalar.u32.encode(x.route, v, o + 64);
    scalar.u8.encode(x.tcp_flags, v, o + 68);
    scalar.u8.encode(x.verdict, v, o + 69);
    scalar.u8.encode(x.reason, v, o + 70);
    scalar.u8.encode(x.direction, v, o + 71);
  },
  decode(v: DataView, o: number): PwFlow {
    return {
      packets: scalar.u64.decode(v, o + 0),
      bytes: scalar.u64.decode(v, o + 8),
      first_ns: scalar.u64.decode(v, o + 16),
      last_ns: scalar.u64.decode(v, o + 24),
      syn_ns: scalar.u64.decode(v, o + 32),
      synack_ns: scalar.u64.decode(v, o + 40),
      ack_ns: scalar.u64.decode(v, o + 48),
      ifindex: scalar.u32.decode(v, o + 56),
      egress_ifindex: scalar.u32.decode(v, o + 60),
      route: scalar.u32.decode(v, o + 64),
      tcp_flags: scalar.u8.decode(v, o + 68),
      verdict: scalar.u8.decode(v, o + 69),
      reason: scalar.u8.decode(v, o + 70),
      direction: scalar.u8.decode(v, o + 71),
    };
  },
  zero(): PwFlow {
    return { packets: 0n, bytes: 0n, first_ns: 0n, last_ns: 0n, syn_ns: 0n, synack_ns: 0n, ack_ns: 0n, ifindex: 0, egress_ifindex: 0, route: 0, tcp_flags: 0, verdict: 0, reason: 0, direction: 0 };
  },
} as const satisfies Codec<PwFlow> & { offsets: Record<string, number> };

/** struct pw_http_counters (16 bytes) */
export interface PwHttpCounters {
  segments_sent: bigint;
  segments_lost: bigint;
}
export const PwHttpCounters = {
  name: 'pw_http_counters',
  size: 16,
  offsets: { segments_sent: 0, segments_lost: 8 },
  encode(x: PwHttpCounters, v: DataView, o: number): void {
    scalar.u64.encode(x.segments_sent, v, o + 0);
    scalar.u64.encode(x.segments_lost, v, o + 8);
  },
  decode(v: DataView, o: number): PwHttpCounters {
    return {
      segments_sent: scalar.u64.decode(v, o + 0),
      segments_lost: scalar.u64.decode(v, o + 8),
    };
  },
  zero(): PwHttpCounters {
    return { segments_sent: 0n, segments_lost: 0n };
  },
} as const satisfies Codec<PwHttpCounters> & { offsets: Record<string, number> };

/** struct pw_replay_result (64 bytes) */
export interface PwReplayResult {
  verdict: number;
  reason: number;
  family: number;
  proto: number;
  tcp_flags: number;
  has_ports: number;
  vlan: number;
  sport: number;
  dport: number;
  route: number;
  nexthop: number;
  egress_ifindex: number;
  rule: number;
  ip_len: number;
  src: Uint8Array;
  dst: Uint8Array;
}
export const PwReplayResult = {
  name: 'pw_replay_result',
  size: 64,
  offsets: { verdict: 0, reason: 1, family: 2, proto: 3, tcp_flags: 4, has_ports: 5, vlan: 6, sport: 8, dport: 10, route: 12, nexthop: 16, egress_ifindex: 20, rule: 24, ip_len: 28, src: 32, dst: 48 },
  encode(x: PwReplayResult, v: DataView, o: number): void {
    scalar.u8.encode(x.verdict, v, o + 0);
    scalar.u8.encode(x.reason, v, o + 1);
    scalar.u8.encode(x.family, v, o + 2);
    scalar.u8.encode(x.proto, v, o + 3);
    scalar.u8.encode(x.tcp_flags, v, o + 4);
    scalar.u8.encode(x.has_ports, v, o + 5);
    scalar.u16.encode(x.vlan, v, o + 6);
    scalar.be16.encode(x.sport, v, o + 8);
    scalar.be16.encode(x.dport, v, o + 10);
    scalar.u32.encode(x.route, v, o + 12);
    scalar.u32.encode(x.nexthop, v, o + 16);
    scalar.u32.encode(x.egress_ifindex, v, o + 20);
    scalar.u32.encode(x.rule, v, o + 24);
    scalar.u32.encode(x.ip_len, v, o + 28);
    bytesAt(v, o + 32, 16).set(x.src.subarray(0, 16));
    bytesAt(v, o + 48, 16).set(x.dst.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwReplayResult {
    return {
      verdict: scalar.u8.decode(v, o + 0),
      reason: scalar.u8.decode(v, o + 1),
      family: scalar.u8.decode(v, o + 2),
      proto: scalar.u8.decode(v, o + 3),
      tcp_flags: scalar.u8.decode(v, o + 4),
      has_ports: scalar.u8.decode(v, o + 5),
      vlan: scalar.u16.decode(v, o + 6),
      sport: scalar.be16.decode(v, o + 8),
      dport: scalar.be16.decode(v, o + 10),
      route: scalar.u32.decode(v, o + 12),
      nexthop: scalar.u32.decode(v, o + 16),
      egress_ifindex: scalar.u32.decode(v, o + 20),
      rule: scalar.u32.decode(v, o + 24),
      ip_len: scalar.u32.decode(v, o + 28),
      src: bytesAt(v, o + 32, 16).slice(),
      dst: bytesAt(v, o + 48, 16).slice(),
    };
  },
  zero(): PwReplayResult {
    return { verdict: 0, reason: 0, family: 0, proto: 0, tcp_flags: 0, has_ports: 0, vlan: 0, sport: 0, dport: 0, route: 0, nexthop: 0, egress_ifindex: 0, rule: 0, ip_len: 0, src: new Uint8Array(16), dst: new Uint8Array(16) };
  },
} as const satisfies Codec<PwReplayResult> & { offsets: Record<string, number> };

/** struct pw_fib4_block (64 bytes) */
export interface PwFib4Block {
  entry: number[];
}
export const PwFib4Block = {
  name: 'pw_fib4_block',
  size: 64,
  offsets: { entry: 0 },
  encode(x: PwFib4Block, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 16; i0++) { scalar.u32.encode(x.entry[i0] ?? 0, v, o + 0 + i0 * 4); }
  },
  decode(v: DataView, o: number): PwFib4Block {
    return {
      entry: Array.from({ length: 16 }, (_, i0) => scalar.u32.decode(v, o + 0 + i0 * 4)),
    };
  },
  zero(): PwFib4Block {
    return { entry: Array.from({ length: 16 }, () => 0) };
  },
} as const satisfies Codec<PwFib4Block> & { offsets: Record<string, number> };

/** struct pw_fib4_group (1024 bytes) */
export interface PwFib4Group {
  entry: number[];
}
export const PwFib4Group = {
  name: 'pw_fib4_group',
  size: 1024,
  offsets: { entry: 0 },
  encode(x: PwFib4Group, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 256; i0++) { scalar.u32.encode(x.entry[i0] ?? 0, v, o + 0 + i0 * 4); }
  },
  decode(v: DataView, o: number): PwFib4Group {
    return {
      entry: Array.from({ length: 256 }, (_, i0) => scalar.u32.decode(v, o + 0 + i0 * 4)),
    };
  },
  zero(): PwFib4Group {
    return { entry: Array.from({ length: 256 }, () => 0) };
  },
} as const satisfies Codec<PwFib4Group> & { offsets: Record<string, number> };

/** struct pw_fib6_node (1024 bytes) */
export interface PwFib6Node {
  slot: number[];
}
export const PwFib6Node = {
  name: 'pw_fib6_node',
  size: 1024,
  offsets: { slot: 0 },
  encode(x: PwFib6Node, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 256; i0++) { scalar.u32.encode(x.slot[i0] ?? 0, v, o + 0 + i0 * 4); }
  },
  decode(v: DataView, o: number): PwFib6Node {
    return {
      slot: Array.from({ length: 256 }, (_, i0) => scalar.u32.decode(v, o + 0 + i0 * 4)),
    };
  },
  zero(): PwFib6Node {
    return { slot: Array.from({ length: 256 }, () => 0) };
  },
} as const satisfies Codec<PwFib6Node> & { offsets: Record<string, number> };

/** struct pw_route (32 bytes) */
export interface PwRoute {
  nhg: number;
  plen: number;
  family: number;
  flags: number;
  prefix: Uint8Array;
  metric: number;
}
export const PwRoute = {
  name: 'pw_route',
  size: 32,
  offsets: { nhg: 0, plen: 4, family: 5, flags: 6, prefix: 8, metric: 24, _pad0: 28 },
  encode(x: PwRoute, v: DataView, o: number): void {
    scalar.u32.encode(x.nhg, v, o + 0);
    scalar.u8.encode(x.plen, v, o + 4);
    scalar.u8.encode(x.family, v, o + 5);
    scalar.u16.encode(x.flags, v, o + 6);
    bytesAt(v, o + 8, 16).set(x.prefix.subarray(0, 16));
    scalar.u32.encode(x.metric, v, o + 24);
    bytesAt(v, o + 28, 4).fill(0);
  },
  decode(v: DataView, o: number): PwRoute {
    return {
      nhg: scalar.u32.decode(v, o + 0),
      plen: scalar.u8.decode(v, o + 4),
      family: scalar.u8.decode(v, o + 5),
      flags: scalar.u16.decode(v, o + 6),
      prefix: bytesAt(v, o + 8, 16).slice(),
      metric: scalar.u32.decode(v, o + 24),
    };
  },
  zero(): PwRoute {
    return { nhg: 0, plen: 0, family: 0, flags: 0, prefix: new Uint8Array(16), metric: 0 };
  },
} as const satisfies Codec<PwRoute> & { offsets: Record<string, number> };

/** struct pw_nhgroup (360 bytes) */
export interface PwNhgroup {
  n_nexthops: number;
  buckets: number[];
  members: number[];
  weights: number[];
}
export const PwNhgroup = {
  name: 'pw_nhgroup',
  size: 360,
  offsets: { n_nexthops: 0, _pad0: 4, buckets: 8, members: 264, weights: 328 },
  encode(x: PwNhgroup, v: DataView, o: number): void {
    scalar.u32.encode(x.n_nexthops, v, o + 0);
    bytesAt(v, o + 4, 4).fill(0);
    for (let i0 = 0; i0 < 64; i0++) { scalar.u32.encode(x.buckets[i0] ?? 0, v, o + 8 + i0 * 4); }
    for (let i0 = 0; i0 < 16; i0++) { scalar.u32.encode(x.members[i0] ?? 0, v, o + 264 + i0 * 4); }
    for (let i0 = 0; i0 < 16; i0++) { scalar.u16.encode(x.weights[i0] ?? 0, v, o + 328 + i0 * 2); }
  },
  decode(v: DataView, o: number): PwNhgroup {
    return {
      n_nexthops: scalar.u32.decode(v, o + 0),
      buckets: Array.from({ length: 64 }, (_, i0) => scalar.u32.decode(v, o + 8 + i0 * 4)),
      members: Array.from({ length: 16 }, (_, i0) => scalar.u32.decode(v, o + 264 + i0 * 4)),
      weights: Array.from({ length: 16 }, (_, i0) => scalar.u16.decode(v, o + 328 + i0 * 2)),
    };
  },
  zero(): PwNhgroup {
    return { n_nexthops: 0, buckets: Array.from({ length: 64 }, () => 0), members: Array.from({ length: 16 }, () => 0), weights: Array.from({ length: 16 }, () => 0) };
  },
} as const satisfies Codec<PwNhgroup> & { offsets: Record<string, number> };

/** struct pw_iface (12 bytes) */
export interface PwIface {
  mac: Uint8Array;
  known: number;
  flags: number;
  mtu: number;
}
export const PwIface = {
  name: 'pw_iface',
  size: 12,
  offsets: { mac: 0, known: 6, flags: 7, mtu: 8 },
  encode(x: PwIface, v: DataView, o: number): void {
    bytesAt(v, o + 0, 6).set(x.mac.subarray(0, 6));
    scalar.u8.encode(x.known, v, o + 6);
    scalar.u8.encode(x.flags, v, o + 7);
    scalar.u32.encode(x.mtu, v, o + 8);
  },
  decode(v: DataView, o: number): PwIface {
    return {
      mac: bytesAt(v, o + 0, 6).slice(),
      known: scalar.u8.decode(v, o + 6),
      flags: scalar.u8.decode(v, o + 7),
      mtu: scalar.u32.decode(v, o + 8),
    };
  },
  zero(): PwIface {
    return { mac: new Uint8Array(6), known: 0, flags: 0, mtu: 0 };
  },
} as const satisfies Codec<PwIface> & { offsets: Record<string, number> };

/** struct pw_frag_key (40 bytes) */
export interface PwFragKey {
  src: Uint8Array;
  dst: Uint8Array;
  id: number;
  proto: number;
  family: number;
}
export const PwFragKey = {
  name: 'pw_frag_key',
  size: 40,
  offsets: { src: 0, dst: 16, id: 32, proto: 36, family: 37, _pad0: 38 },
  encode(x: PwFragKey, v: DataView, o: number): void {
    bytesAt(v, o + 0, 16).set(x.src.subarray(0, 16));
    bytesAt(v, o + 16, 16).set(x.dst.subarray(0, 16));
    scalar.u32.encode(x.id, v, o + 32);
    scalar.u8.encode(x.proto, v, o + 36);
    scalar.u8.encode(x.family, v, o + 37);
    bytesAt(v, o + 38, 2).fill(0);
  },
  decode(v: DataView, o: number): PwFragKey {
    return {
      src: bytesAt(v, o + 0, 16).slice(),
      dst: bytesAt(v, o + 16, 16).slice(),
      id: scalar.u32.decode(v, o + 32),
      proto: scalar.u8.decode(v, o + 36),
      family: scalar.u8.decode(v, o + 37),
    };
  },
  zero(): PwFragKey {
    return { src: new Uint8Array(16), dst: new Uint8Array(16), id: 0, proto: 0, family: 0 };
  },
} as const satisfies Codec<PwFragKey> & { offsets: Record<string, number> };

/** struct pw_frag (24 bytes) */
export interface PwFrag {
  expires_ns: bigint;
  rule: number;
  verdict: number;
  reason: number;
  has_ports: number;
  sport: number;
  dport: number;
}
export const PwFrag = {
  name: 'pw_frag',
  size: 24,
  offsets: { expires_ns: 0, rule: 8, verdict: 12, reason: 13, has_ports: 14, _pad0: 15, sport: 16, dport: 18, _pad1: 20 },
  encode(x: PwFrag, v: DataView, o: number): void {
    scalar.u64.encode(x.expires_ns, v, o + 0);
    scalar.u32.encode(x.rule, v, o + 8);
    scalar.u8.encode(x.verdict, v, o + 12);
    scalar.u8.encode(x.reason, v, o + 13);
    scalar.u8.encode(x.has_ports, v, o + 14);
    bytesAt(v, o + 15, 1).fill(0);
    scalar.be16.encode(x.sport, v, o + 16);
    scalar.be16.encode(x.dport, v, o + 18);
    bytesAt(v, o + 20, 4).fill(0);
  },
  decode(v: DataView, o: number): PwFrag {
    return {
      expires_ns: scalar.u64.decode(v, o + 0),
      rule: scalar.u32.decode(v, o + 8),
      verdict: scalar.u8.decode(v, o + 12),
      reason: scalar.u8.decode(v, o + 13),
      has_ports: scalar.u8.decode(v, o + 14),
      sport: scalar.be16.decode(v, o + 16),
      dport: scalar.be16.decode(v, o + 18),
    };
  },
  zero(): PwFrag {
    return { expires_ns: 0n, rule: 0, verdict: 0, reason: 0, has_ports: 0, sport: 0, dport: 0 };
  },
} as const satisfies Codec<PwFrag> & { offsets: Record<string, number> };

/** struct pw_block4_key (8 bytes) */
export interface PwBlock4Key {
  prefixlen: number;
  addr: Uint8Array;
}
export const PwBlock4Key = {
  name: 'pw_block4_key',
  size: 8,
  offsets: { prefixlen: 0, addr: 4 },
  encode(x: PwBlock4Key, v: DataView, o: number): void {
    scalar.u32.encode(x.prefixlen, v, o + 0);
    bytesAt(v, o + 4, 4).set(x.addr.subarray(0, 4));
  },
  decode(v: DataView, o: number): PwBlock4Key {
    return {
      prefixlen: scalar.u32.decode(v, o + 0),
      addr: bytesAt(v, o + 4, 4).slice(),
    };
  },
  zero(): PwBlock4Key {
    return { prefixlen: 0, addr: new Uint8Array(4) };
  },
} as const satisfies Codec<PwBlock4Key> & { offsets: Record<string, number> };

/** struct pw_block (16 bytes) */
export interface PwBlock {
  expires_ns: bigint;
  origin: number;
  plen: number;
  limiter: number;
}
export const PwBlock = {
  name: 'pw_block',
  size: 16,
  offsets: { expires_ns: 0, origin: 8, plen: 9, _pad0: 10, limiter: 12 },
  encode(x: PwBlock, v: DataView, o: number): void {
    scalar.u64.encode(x.expires_ns, v, o + 0);
    scalar.u8.encode(x.origin, v, o + 8);
    scalar.u8.encode(x.plen, v, o + 9);
    bytesAt(v, o + 10, 2).fill(0);
    scalar.u32.encode(x.limiter, v, o + 12);
  },
  decode(v: DataView, o: number): PwBlock {
    return {
      expires_ns: scalar.u64.decode(v, o + 0),
      origin: scalar.u8.decode(v, o + 8),
      plen: scalar.u8.decode(v, o + 9),
      limiter: scalar.u32.decode(v, o + 12),
    };
  },
  zero(): PwBlock {
    return { expires_ns: 0n, origin: 0, plen: 0, limiter: 0 };
  },
} as const satisfies Codec<PwBlock> & { offsets: Record<string, number> };

/** struct pw_block6_key (20 bytes) */
export interface PwBlock6Key {
  prefixlen: number;
  addr: Uint8Array;
}
export const PwBlock6Key = {
  name: 'pw_block6_key',
  size: 20,
  offsets: { prefixlen: 0, addr: 4 },
  encode(x: PwBlock6Key, v: DataView, o: number): void {
    scalar.u32.encode(x.prefixlen, v, o + 0);
    bytesAt(v, o + 4, 16).set(x.addr.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwBlock6Key {
    return {
      prefixlen: scalar.u32.decode(v, o + 0),
      addr: bytesAt(v, o + 4, 16).slice(),
    };
  },
  zero(): PwBlock6Key {
    return { prefixlen: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwBlock6Key> & { offsets: Record<string, number> };

/** struct pw_rule_bank (40 bytes) */
export interface PwRuleBank {
  count: number;
  proto: number;
  flags: number;
  any: number[];
  lens: Uint8Array[];
}
export const PwRuleBank = {
  name: 'pw_rule_bank',
  size: 40,
  offsets: { count: 0, proto: 2, _pad0: 3, flags: 4, any: 8, lens: 24 },
  encode(x: PwRuleBank, v: DataView, o: number): void {
    scalar.u16.encode(x.count, v, o + 0);
    scalar.u8.encode(x.proto, v, o + 2);
    bytesAt(v, o + 3, 1).fill(0);
    scalar.u32.encode(x.flags, v, o + 4);
    for (let i0 = 0; i0 < 4; i0++) { scalar.u32.encode(x.any[i0] ?? 0, v, o + 8 + i0 * 4); }
    for (let i0 = 0; i0 < 4; i0++) { bytesAt(v, o + 24 + i0 * 4, 4).set(x.lens[i0] ?? new Uint8Array(4).subarray(0, 4)); }
  },
  decode(v: DataView, o: number): PwRuleBank {
    return {
      count: scalar.u16.decode(v, o + 0),
      proto: scalar.u8.decode(v, o + 2),
      flags: scalar.u32.decode(v, o + 4),
      any: Array.from({ length: 4 }, (_, i0) => scalar.u32.decode(v, o + 8 + i0 * 4)),
      lens: Array.from({ length: 4 }, (_, i0) => bytesAt(v, o + 24 + i0 * 4, 4).slice()),
    };
  },
  zero(): PwRuleBank {
    return { count: 0, proto: 0, flags: 0, any: Array.from({ length: 4 }, () => 0), lens: Array.from({ length: 4 }, () => new Uint8Array(4)) };
  },
} as const satisfies Codec<PwRuleBank> & { offsets: Record<string, number> };

/** struct pw_rule (16 bytes) */
export interface PwRule {
  action: number;
  limiter: number;
  id: number;
}
export const PwRule = {
  name: 'pw_rule',
  size: 16,
  offsets: { action: 0, limiter: 4, id: 8, _pad0: 12 },
  encode(x: PwRule, v: DataView, o: number): void {
    scalar.u32.encode(x.action, v, o + 0);
    scalar.u32.encode(x.limiter, v, o + 4);
    scalar.u32.encode(x.id, v, o + 8);
    bytesAt(v, o + 12, 4).fill(0);
  },
  decode(v: DataView, o: number): PwRule {
    return {
      action: scalar.u32.decode(v, o + 0),
      limiter: scalar.u32.decode(v, o + 4),
      id: scalar.u32.decode(v, o + 8),
    };
  },
  zero(): PwRule {
    return { action: 0, limiter: 0, id: 0 };
  },
} as const satisfies Codec<PwRule> & { offsets: Record<string, number> };

/** struct pw_rule_bitmap (2080 bytes) */
export interface PwRuleBitmap {
  summary: bigint[];
  words: bigint[];
}
export const PwRuleBitmap = {
  name: 'pw_rule_bitmap',
  size: 2080,
  offsets: { summary: 0, words: 32 },
  encode(x: PwRuleBitmap, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 4; i0++) { scalar.u64.encode(x.summary[i0] ?? 0n, v, o + 0 + i0 * 8); }
    for (let i0 = 0; i0 < 256; i0++) { scalar.u64.encode(x.words[i0] ?? 0n, v, o + 32 + i0 * 8); }
  },
  decode(v: DataView, o: number): PwRuleBitmap {
    return {
      summary: Array.from({ length: 4 }, (_, i0) => scalar.u64.decode(v, o + 0 + i0 * 8)),
      words: Array.from({ length: 256 }, (_, i0) => scalar.u64.decode(v, o + 32 + i0 * 8)),
    };
  },
  zero(): PwRuleBitmap {
    return { summary: Array.from({ length: 4 }, () => 0n), words: Array.from({ length: 256 }, () => 0n) };
  },
} as const satisfies Codec<PwRuleBitmap> & { offsets: Record<string, number> };

/** struct pw_rule_iface_key (8 bytes) */
export interface PwRuleIfaceKey {
  bank: number;
  ifindex: number;
}
export const PwRuleIfaceKey = {
  name: 'pw_rule_iface_key',
  size: 8,
  offsets: { bank: 0, ifindex: 4 },
  encode(x: PwRuleIfaceKey, v: DataView, o: number): void {
    scalar.u32.encode(x.bank, v, o + 0);
    scalar.u32.encode(x.ifindex, v, o + 4);
  },
  decode(v: DataView, o: number): PwRuleIfaceKey {
    return {
      bank: scalar.u32.decode(v, o + 0),
      ifindex: scalar.u32.decode(v, o + 4),
    };
  },
  zero(): PwRuleIfaceKey {
    return { bank: 0, ifindex: 0 };
  },
} as const satisfies Codec<PwRuleIfaceKey> & { offsets: Record<string, number> };

/** struct pw_rule_lpm4_key (12 bytes) */
export interface PwRuleLpm4Key {
  prefixlen: number;
  bank: number;
  addr: Uint8Array;
}
export const PwRuleLpm4Key = {
  name: 'pw_rule_lpm4_key',
  size: 12,
  offsets: { prefixlen: 0, bank: 4, addr: 5, _pad0: 9 },
  encode(x: PwRuleLpm4Key, v: DataView, o: number): void {
    scalar.u32.encode(x.prefixlen, v, o + 0);
    scalar.u8.encode(x.bank, v, o + 4);
    bytesAt(v, o + 5, 4).set(x.addr.subarray(0, 4));
    bytesAt(v, o + 9, 3).fill(0);
  },
  decode(v: DataView, o: number): PwRuleLpm4Key {
    return {
      prefixlen: scalar.u32.decode(v, o + 0),
      bank: scalar.u8.decode(v, o + 4),
      addr: bytesAt(v, o + 5, 4).slice(),
    };
  },
  zero(): PwRuleLpm4Key {
    return { prefixlen: 0, bank: 0, addr: new Uint8Array(4) };
  },
} as const satisfies Codec<PwRuleLpm4Key> & { offsets: Record<string, number> };

/** struct pw_rule_lpm6_key (24 bytes) */
export interface PwRuleLpm6Key {
  prefixlen: number;
  bank: number;
  addr: Uint8Array;
}
export const PwRuleLpm6Key = {
  name: 'pw_rule_lpm6_key',
  size: 24,
  offsets: { prefixlen: 0, bank: 4, addr: 5, _pad0: 21 },
  encode(x: PwRuleLpm6Key, v: DataView, o: number): void {
    scalar.u32.encode(x.prefixlen, v, o + 0);
    scalar.u8.encode(x.bank, v, o + 4);
    bytesAt(v, o + 5, 16).set(x.addr.subarray(0, 16));
    bytesAt(v, o + 21, 3).fill(0);
  },
  decode(v: DataView, o: number): PwRuleLpm6Key {
    return {
      prefixlen: scalar.u32.decode(v, o + 0),
      bank: scalar.u8.decode(v, o + 4),
      addr: bytesAt(v, o + 5, 16).slice(),
    };
  },
  zero(): PwRuleLpm6Key {
    return { prefixlen: 0, bank: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwRuleLpm6Key> & { offsets: Record<string, number> };

/** struct pw_rule_exact_key (20 bytes) */
export interface PwRuleExactKey {
  field: number;
  bank: number;
  plen: number;
  addr: Uint8Array;
}
export const PwRuleExactKey = {
  name: 'pw_rule_exact_key',
  size: 20,
  offsets: { field: 0, bank: 1, plen: 2, _pad0: 3, addr: 4 },
  encode(x: PwRuleExactKey, v: DataView, o: number): void {
    scalar.u8.encode(x.field, v, o + 0);
    scalar.u8.encode(x.bank, v, o + 1);
    scalar.u8.encode(x.plen, v, o + 2);
    bytesAt(v, o + 3, 1).fill(0);
    bytesAt(v, o + 4, 16).set(x.addr.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwRuleExactKey {
    return {
      field: scalar.u8.decode(v, o + 0),
      bank: scalar.u8.decode(v, o + 1),
      plen: scalar.u8.decode(v, o + 2),
      addr: bytesAt(v, o + 4, 16).slice(),
    };
  },
  zero(): PwRuleExactKey {
    return { field: 0, bank: 0, plen: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwRuleExactKey> & { offsets: Record<string, number> };

/** struct pw_rule_small_prefix (40 bytes) */
export interface PwRuleSmallPrefix {
  addr: number[];
  mask: number[];
  bitmap: number;
}
export const PwRuleSmallPrefix = {
  name: 'pw_rule_small_prefix',
  size: 40,
  offsets: { addr: 0, mask: 16, bitmap: 32, _pad0: 36 },
  encode(x: PwRuleSmallPrefix, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 4; i0++) { scalar.be32.encode(x.addr[i0] ?? 0, v, o + 0 + i0 * 4); }
    for (let i0 = 0; i0 < 4; i0++) { scalar.be32.encode(x.mask[i0] ?? 0, v, o + 16 + i0 * 4); }
    scalar.u32.encode(x.bitmap, v, o + 32);
    bytesAt(v, o + 36, 4).fill(0);
  },
  decode(v: DataView, o: number): PwRuleSmallPrefix {
    return {
      addr: Array.from({ length: 4 }, (_, i0) => scalar.be32.decode(v, o + 0 + i0 * 4)),
      mask: Array.from({ length: 4 }, (_, i0) => scalar.be32.decode(v, o + 16 + i0 * 4)),
      bitmap: scalar.u32.decode(v, o + 32),
    };
  },
  zero(): PwRuleSmallPrefix {
    return { addr: Array.from({ length: 4 }, () => 0), mask: Array.from({ length: 4 }, () => 0), bitmap: 0 };
  },
} as const satisfies Codec<PwRuleSmallPrefix> & { offsets: Record<string, number> };

/** struct pw_rule_cidr (8840 bytes) */
export interface PwRuleCidr {
  count: number;
  prefixes: PwRuleSmallPrefix[];
  presence: Uint8Array;
}
export const PwRuleCidr = {
  name: 'pw_rule_cidr',
  size: 8840,
  offsets: { count: 0, _pad0: 4, prefixes: 8, presence: 648 },
  encode(x: PwRuleCidr, v: DataView, o: number): void {
    scalar.u32.encode(x.count, v, o + 0);
    bytesAt(v, o + 4, 4).fill(0);
    for (let i0 = 0; i0 < 16; i0++) { PwRuleSmallPrefix.encode(x.prefixes[i0] ?? PwRuleSmallPrefix.zero(), v, o + 8 + i0 * 40); }
    bytesAt(v, o + 648, 8192).set(x.presence.subarray(0, 8192));
  },
  decode(v: DataView, o: number): PwRuleCidr {
    return {
      count: scalar.u32.decode(v, o + 0),
      prefixes: Array.from({ length: 16 }, (_, i0) => PwRuleSmallPrefix.decode(v, o + 8 + i0 * 40)),
      presence: bytesAt(v, o + 648, 8192).slice(),
    };
  },
  zero(): PwRuleCidr {
    return { count: 0, prefixes: Array.from({ length: 16 }, () => PwRuleSmallPrefix.zero()), presence: new Uint8Array(8192) };
  },
} as const satisfies Codec<PwRuleCidr> & { offsets: Record<string, number> };

/** struct pw_counter (16 bytes) */
export interface PwCounter {
  packets: bigint;
  bytes: bigint;
}
export const PwCounter = {
  name: 'pw_counter',
  size: 16,
  offsets: { packets: 0, bytes: 8 },
  encode(x: PwCounter, v: DataView, o: number): void {
    scalar.u64.encode(x.packets, v, o + 0);
    scalar.u64.encode(x.bytes, v, o + 8);
  },
  decode(v: DataView, o: number): PwCounter {
    return {
      packets: scalar.u64.decode(v, o + 0),
      bytes: scalar.u64.decode(v, o + 8),
    };
  },
  zero(): PwCounter {
    return { packets: 0n, bytes: 0n };
  },
} as const satisfies Codec<PwCounter> & { offsets: Record<string, number> };

/** struct pw_ratelimit (32 bytes) */
export interface PwRatelimit {
  interval_ns: bigint;
  tolerance_ns: bigint;
  block_ns: bigint;
  block_after: number;
  plen4: number;
  plen6: number;
}
export const PwRatelimit = {
  name: 'pw_ratelimit',
  size: 32,
  offsets: { interval_ns: 0, tolerance_ns: 8, block_ns: 16, block_after: 24, plen4: 28, plen6: 29, _pad0: 30 },
  encode(x: PwRatelimit, v: DataView, o: number): void {
    scalar.u64.encode(x.interval_ns, v, o + 0);
    scalar.u64.encode(x.tolerance_ns, v, o + 8);
    scalar.u64.encode(x.block_ns, v, o + 16);
    scalar.u32.encode(x.block_after, v, o + 24);
    scalar.u8.encode(x.plen4, v, o + 28);
    scalar.u8.encode(x.plen6, v, o + 29);
    bytesAt(v, o + 30, 2).fill(0);
  },
  decode(v: DataView, o: number): PwRatelimit {
    return {
      interval_ns: scalar.u64.decode(v, o + 0),
      tolerance_ns: scalar.u64.decode(v, o + 8),
      block_ns: scalar.u64.decode(v, o + 16),
      block_after: scalar.u32.decode(v, o + 24),
      plen4: scalar.u8.decode(v, o + 28),
      plen6: scalar.u8.decode(v, o + 29),
    };
  },
  zero(): PwRatelimit {
    return { interval_ns: 0n, tolerance_ns: 0n, block_ns: 0n, block_after: 0, plen4: 0, plen6: 0 };
  },
} as const satisfies Codec<PwRatelimit> & { offsets: Record<string, number> };

/** struct pw_ratelimit_key (24 bytes) */
export interface PwRatelimitKey {
  limiter: number;
  family: number;
  addr: Uint8Array;
}
export const PwRatelimitKey = {
  name: 'pw_ratelimit_key',
  size: 24,
  offsets: { limiter: 0, family: 4, _pad0: 5, addr: 8 },
  encode(x: PwRatelimitKey, v: DataView, o: number): void {
    scalar.u32.encode(x.limiter, v, o + 0);
    scalar.u8.encode(x.family, v, o + 4);
    bytesAt(v, o + 5, 3).fill(0);
    bytesAt(v, o + 8, 16).set(x.addr.subarray(0, 16));
  },
  decode(v: DataView, o: number): PwRatelimitKey {
    return {
      limiter: scalar.u32.decode(v, o + 0),
      family: scalar.u8.decode(v, o + 4),
      addr: bytesAt(v, o + 8, 16).slice(),
    };
  },
  zero(): PwRatelimitKey {
    return { limiter: 0, family: 0, addr: new Uint8Array(16) };
  },
} as const satisfies Codec<PwRatelimitKey> & { offsets: Record<string, number> };

/** struct pw_ratelimit_state (16 bytes) */
export interface PwRatelimitState {
  tat_ns: bigint;
  violations: number;
}
export const PwRatelimitState = {
  name: 'pw_ratelimit_state',
  size: 16,
  offsets: { tat_ns: 0, violations: 8, _pad0: 12 },
  encode(x: PwRatelimitState, v: DataView, o: number): void {
    scalar.u64.encode(x.tat_ns, v, o + 0);
    scalar.u32.encode(x.violations, v, o + 8);
    bytesAt(v, o + 12, 4).fill(0);
  },
  decode(v: DataView, o: number): PwRatelimitState {
    return {
      tat_ns: scalar.u64.decode(v, o + 0),
      violations: scalar.u32.decode(v, o + 8),
    };
  },
  zero(): PwRatelimitState {
    return { tat_ns: 0n, violations: 0 };
  },
} as const satisfies Codec<PwRatelimitState> & { offsets: Record<string, number> };

/** struct pw_guard_state (40 bytes) */
export interface PwGuardState {
  escalations: number;
  features: number;
  escalations_refused: bigint;
  listing: bigint[];
  rule_bank: number;
}
export const PwGuardState = {
  name: 'pw_guard_state',
  size: 40,
  offsets: { escalations: 0, features: 4, escalations_refused: 8, listing: 16, rule_bank: 32, _pad0: 36 },
  encode(x: PwGuardState, v: DataView, o: number): void {
    scalar.u32.encode(x.escalations, v, o + 0);
    scalar.u32.encode(x.features, v, o + 4);
    scalar.u64.encode(x.escalations_refused, v, o + 8);
    for (let i0 = 0; i0 < 2; i0++) { scalar.u64.encode(x.listing[i0] ?? 0n, v, o + 16 + i0 * 8); }
    scalar.u32.encode(x.rule_bank, v, o + 32);
    bytesAt(v, o + 36, 4).fill(0);
  },
  decode(v: DataView, o: number): PwGuardState {
    return {
      escalations: scalar.u32.decode(v, o + 0),
      features: scalar.u32.decode(v, o + 4),
      escalations_refused: scalar.u64.decode(v, o + 8),
      listing: Array.from({ length: 2 }, (_, i0) => scalar.u64.decode(v, o + 16 + i0 * 8)),
      rule_bank: scalar.u32.decode(v, o + 32),
    };
  },
  zero(): PwGuardState {
    return { escalations: 0, features: 0, escalations_refused: 0n, listing: Array.from({ length: 2 }, () => 0n), rule_bank: 0 };
  },
} as const satisfies Codec<PwGuardState> & { offsets: Record<string, number> };

/** struct pw_coarse_clock (16 bytes) */
export interface PwCoarseClock {
  tick: bigint;
  ns: bigint;
}
export const PwCoarseClock = {
  name: 'pw_coarse_clock',
  size: 16,
  offsets: { tick: 0, ns: 8 },
  encode(x: PwCoarseClock, v: DataView, o: number): void {
    scalar.u64.encode(x.tick, v, o + 0);
    scalar.u64.encode(x.ns, v, o + 8);
  },
  decode(v: DataView, o: number): PwCoarseClock {
    return {
      tick: scalar.u64.decode(v, o + 0),
      ns: scalar.u64.decode(v, o + 8),
    };
  },
  zero(): PwCoarseClock {
    return { tick: 0n, ns: 0n };
  },
} as const satisfies Codec<PwCoarseClock> & { offsets: Record<string, number> };

/** struct pw_lb_slots (64 bytes) */
export interface PwLbSlots {
  backend: number[];
}
export const PwLbSlots = {
  name: 'pw_lb_slots',
  size: 64,
  offsets: { backend: 0 },
  encode(x: PwLbSlots, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 16; i0++) { scalar.u32.encode(x.backend[i0] ?? 0, v, o + 0 + i0 * 4); }
  },
  decode(v: DataView, o: number): PwLbSlots {
    return {
      backend: Array.from({ length: 16 }, (_, i0) => scalar.u32.decode(v, o + 0 + i0 * 4)),
    };
  },
  zero(): PwLbSlots {
    return { backend: Array.from({ length: 16 }, () => 0) };
  },
} as const satisfies Codec<PwLbSlots> & { offsets: Record<string, number> };

/** struct pw_lb_counter (48 bytes) */
export interface PwLbCounter {
  packets: bigint;
  bytes: bigint;
  connections: bigint;
  syns: bigint;
  synacks: bigint;
  rsts: bigint;
}
export const PwLbCounter = {
  name: 'pw_lb_counter',
  size: 48,
  offsets: { packets: 0, bytes: 8, connections: 16, syns: 24, synacks: 32, rsts: 40 },
  encode(x: PwLbCounter, v: DataView, o: number): void {
    scalar.u64.encode(x.packets, v, o + 0);
    scalar.u64.encode(x.bytes, v, o + 8);
    scalar.u64.encode(x.connections, v, o + 16);
    scalar.u64.encode(x.syns, v, o + 24);
    scalar.u64.encode(x.synacks, v, o + 32);
    scalar.u64.encode(x.rsts, v, o + 40);
  },
  decode(v: DataView, o: number): PwLbCounter {
    return {
      packets: scalar.u64.decode(v, o + 0),
      bytes: scalar.u64.decode(v, o + 8),
      connections: scalar.u64.decode(v, o + 16),
      syns: scalar.u64.decode(v, o + 24),
      synacks: scalar.u64.decode(v, o + 32),
      rsts: scalar.u64.decode(v, o + 40),
    };
  },
  zero(): PwLbCounter {
    return { packets: 0n, bytes: 0n, connections: 0n, syns: 0n, synacks: 0n, rsts: 0n };
  },
} as const satisfies Codec<PwLbCounter> & { offsets: Record<string, number> };

/** struct pw_lb_ctl (8 bytes) */
export interface PwLbCtl {
  services: number;
  nat_services: number;
}
export const PwLbCtl = {
  name: 'pw_lb_ctl',
  size: 8,
  offsets: { services: 0, nat_services: 4 },
  encode(x: PwLbCtl, v: DataView, o: number): void {
    scalar.u32.encode(x.services, v, o + 0);
    scalar.u32.encode(x.nat_services, v, o + 4);
  },
  decode(v: DataView, o: number): PwLbCtl {
    return {
      services: scalar.u32.decode(v, o + 0),
      nat_services: scalar.u32.decode(v, o + 4),
    };
  },
  zero(): PwLbCtl {
    return { services: 0, nat_services: 0 };
  },
} as const satisfies Codec<PwLbCtl> & { offsets: Record<string, number> };

/** struct pw_if_counters (344 bytes) */
export interface PwIfCounters {
  packets: bigint[];
  bytes: bigint[];
  reasons: bigint[];
}
export const PwIfCounters = {
  name: 'pw_if_counters',
  size: 344,
  offsets: { packets: 0, bytes: 40, reasons: 80 },
  encode(x: PwIfCounters, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 5; i0++) { scalar.u64.encode(x.packets[i0] ?? 0n, v, o + 0 + i0 * 8); }
    for (let i0 = 0; i0 < 5; i0++) { scalar.u64.encode(x.bytes[i0] ?? 0n, v, o + 40 + i0 * 8); }
    for (let i0 = 0; i0 < 33; i0++) { scalar.u64.encode(x.reasons[i0] ?? 0n, v, o + 80 + i0 * 8); }
  },
  decode(v: DataView, o: number): PwIfCounters {
    return {
      packets: Array.from({ length: 5 }, (_, i0) => scalar.u64.decode(v, o + 0 + i0 * 8)),
      bytes: Array.from({ length: 5 }, (_, i0) => scalar.u64.decode(v, o + 40 + i0 * 8)),
      reasons: Array.from({ length: 33 }, (_, i0) => scalar.u64.decode(v, o + 80 + i0 * 8)),
    };
  },
  zero(): PwIfCounters {
    return { packets: Array.from({ length: 5 }, () => 0n), bytes: Array.from({ length: 5 }, () => 0n), reasons: Array.from({ length: 33 }, () => 0n) };
  },
} as const satisfies Codec<PwIfCounters> & { offsets: Record<string, number> };

/** struct pw_flow_counters (16 bytes) */
export interface PwFlowCounters {
  created: bigint;
  insert_failed: bigint;
}
export const PwFlowCounters = {
  name: 'pw_flow_counters',
  size: 16,
  offsets: { created: 0, insert_failed: 8 },
  encode(x: PwFlowCounters, v: DataView, o: number): void {
    scalar.u64.encode(x.created, v, o + 0);
    scalar.u64.encode(x.insert_failed, v, o + 8);
  },
  decode(v: DataView, o: number): PwFlowCounters {
    return {
      created: scalar.u64.decode(v, o + 0),
      insert_failed: scalar.u64.decode(v, o + 8),
    };
  },
  zero(): PwFlowCounters {
    return { created: 0n, insert_failed: 0n };
  },
} as const satisfies Codec<PwFlowCounters> & { offsets: Record<string, number> };

/** struct pw_http_ctl (16 bytes) */
export interface PwHttpCtl {
  enabled: number;
  all_ports: number;
  snap: number;
}
export const PwHttpCtl = {
  name: 'pw_http_ctl',
  size: 16,
  offsets: { enabled: 0, all_ports: 4, snap: 8, _pad0: 12 },
  encode(x: PwHttpCtl, v: DataView, o: number): void {
    scalar.u32.encode(x.enabled, v, o + 0);
    scalar.u32.encode(x.all_ports, v, o + 4);
    scalar.u32.encode(x.snap, v, o + 8);
    bytesAt(v, o + 12, 4).fill(0);
  },
  decode(v: DataView, o: number): PwHttpCtl {
    return {
      enabled: scalar.u32.decode(v, o + 0),
      all_ports: scalar.u32.decode(v, o + 4),
      snap: scalar.u32.decode(v, o + 8),
    };
  },
  zero(): PwHttpCtl {
    return { enabled: 0, all_ports: 0, snap: 0 };
  },
} as const satisfies Codec<PwHttpCtl> & { offsets: Record<string, number> };

/** struct pw_ring_counters (32 bytes) */
export interface PwRingCounters {
  events_sent: bigint;
  events_lost: bigint;
  capture_sent: bigint;
  capture_lost: bigint;
}
export const PwRingCounters = {
  name: 'pw_ring_counters',
  size: 32,
  offsets: { events_sent: 0, events_lost: 8, capture_sent: 16, capture_lost: 24 },
  encode(x: PwRingCounters, v: DataView, o: number): void {
    scalar.u64.encode(x.events_sent, v, o + 0);
    scalar.u64.encode(x.events_lost, v, o + 8);
    scalar.u64.encode(x.capture_sent, v, o + 16);
    scalar.u64.encode(x.capture_lost, v, o + 24);
  },
  decode(v: DataView, o: number): PwRingCounters {
    return {
      events_sent: scalar.u64.decode(v, o + 0),
      events_lost: scalar.u64.decode(v, o + 8),
      capture_sent: scalar.u64.decode(v, o + 16),
      capture_lost: scalar.u64.decode(v, o + 24),
    };
  },
  zero(): PwRingCounters {
    return { events_sent: 0n, events_lost: 0n, capture_sent: 0n, capture_lost: 0n };
  },
} as const satisfies Codec<PwRingCounters> & { offsets: Record<string, number> };

/** struct pw_events_ctl (8 bytes) */
export interface PwEventsCtl {
  sample_rate: number;
  drops: number;
}
export const PwEventsCtl = {
  name: 'pw_events_ctl',
  size: 8,
  offsets: { sample_rate: 0, drops: 4 },
  encode(x: PwEventsCtl, v: DataView, o: number): void {
    scalar.u32.encode(x.sample_rate, v, o + 0);
    scalar.u32.encode(x.drops, v, o + 4);
  },
  decode(v: DataView, o: number): PwEventsCtl {
    return {
      sample_rate: scalar.u32.decode(v, o + 0),
      drops: scalar.u32.decode(v, o + 4),
    };
  },
  zero(): PwEventsCtl {
    return { sample_rate: 0, drops: 0 };
  },
} as const satisfies Codec<PwEventsCtl> & { offsets: Record<string, number> };

/** struct pw_capture_ctl (16 bytes) */
export interface PwCaptureCtl {
  active: number;
  ifindex: number;
  point: number;
  snap: number;
}
export const PwCaptureCtl = {
  name: 'pw_capture_ctl',
  size: 16,
  offsets: { active: 0, ifindex: 4, point: 8, snap: 12 },
  encode(x: PwCaptureCtl, v: DataView, o: number): void {
    scalar.u32.encode(x.active, v, o + 0);
    scalar.u32.encode(x.ifindex, v, o + 4);
    scalar.u32.encode(x.point, v, o + 8);
    scalar.u32.encode(x.snap, v, o + 12);
  },
  decode(v: DataView, o: number): PwCaptureCtl {
    return {
      active: scalar.u32.decode(v, o + 0),
      ifindex: scalar.u32.decode(v, o + 4),
      point: scalar.u32.decode(v, o + 8),
      snap: scalar.u32.decode(v, o + 12),
    };
  },
  zero(): PwCaptureCtl {
    return { active: 0, ifindex: 0, point: 0, snap: 0 };
  },
} as const satisfies Codec<PwCaptureCtl> & { offsets: Record<string, number> };

/** struct pw_capture_scratch (8 bytes) */
export interface PwCaptureScratch {
  state: number;
  match: number;
}
export const PwCaptureScratch = {
  name: 'pw_capture_scratch',
  size: 8,
  offsets: { state: 0, match: 4 },
  encode(x: PwCaptureScratch, v: DataView, o: number): void {
    scalar.u32.encode(x.state, v, o + 0);
    scalar.u32.encode(x.match, v, o + 4);
  },
  decode(v: DataView, o: number): PwCaptureScratch {
    return {
      state: scalar.u32.decode(v, o + 0),
      match: scalar.u32.decode(v, o + 4),
    };
  },
  zero(): PwCaptureScratch {
    return { state: 0, match: 0 };
  },
} as const satisfies Codec<PwCaptureScratch> & { offsets: Record<string, number> };

/** struct pw_histogram (2112 bytes) */
export interface PwHistogram {
  size: bigint[];
  proto: bigint[];
}
export const PwHistogram = {
  name: 'pw_histogram',
  size: 2112,
  offsets: { size: 0, proto: 64 },
  encode(x: PwHistogram, v: DataView, o: number): void {
    for (let i0 = 0; i0 < 8; i0++) { scalar.u64.encode(x.size[i0] ?? 0n, v, o + 0 + i0 * 8); }
    for (let i0 = 0; i0 < 256; i0++) { scalar.u64.encode(x.proto[i0] ?? 0n, v, o + 64 + i0 * 8); }
  },
  decode(v: DataView, o: number): PwHistogram {
    return {
      size: Array.from({ length: 8 }, (_, i0) => scalar.u64.decode(v, o + 0 + i0 * 8)),
      proto: Array.from({ length: 256 }, (_, i0) => scalar.u64.decode(v, o + 64 + i0 * 8)),
    };
  },
  zero(): PwHistogram {
    return { size: Array.from({ length: 8 }, () => 0n), proto: Array.from({ length: 256 }, () => 0n) };
  },
} as const satisfies Codec<PwHistogram> & { offsets: Record<string, number> };

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

/** struct pw_trace (24 bytes) */
export interface PwTrace {
  verdict: number;
  reason: number;
  family: number;
  route: number;
  nexthop: number;
  egress_ifindex: number;
  rule: number;
  nhg: number;
}
export const PwTrace = {
  name: 'pw_trace',
  size: 24,
  offsets: { verdict: 0, reason: 1, family: 2, _pad0: 3, route: 4, nexthop: 8, egress_ifindex: 12, rule: 16, nhg: 20 },
  encode(x: PwTrace, v: DataView, o: number): void {
    scalar.u8.encode(x.verdict, v, o + 0);
    scalar.u8.encode(x.reason, v, o + 1);
    scalar.u8.encode(x.family, v, o + 2);
    bytesAt(v, o + 3, 1).fill(0);
    scalar.u32.encode(x.route, v, o + 4);
    scalar.u32.encode(x.nexthop, v, o + 8);
    scalar.u32.encode(x.egress_ifindex, v, o + 12);
    scalar.u32.encode(x.rule, v, o + 16);
    scalar.u32.encode(x.nhg, v, o + 20);
  },
  decode(v: DataView, o: number): PwTrace {
    return {
      verdict: scalar.u8.decode(v, o + 0),
      reason: scalar.u8.decode(v, o + 1),
      family: scalar.u8.decode(v, o + 2),
      route: scalar.u32.decode(v, o + 4),
      nexthop: scalar.u32.decode(v, o + 8),
      egress_ifindex: scalar.u32.decode(v, o + 12),
      rule: scalar.u32.decode(v, o + 16),
      nhg: scalar.u32.decode(v, o + 20),
    };
  },
  zero(): PwTrace {
    return { verdict: 0, reason: 0, family: 0, route: 0, nexthop: 0, egress_ifindex: 0, rule: 0, nhg: 0 };
  },
} as const satisfies Codec<PwTrace> & { offsets: Record<string, number> };

/** struct pw_http_segment (1096 bytes) */
export interface PwHttpSegment {
  ts_ns: bigint;
  seq: number;
  ack: number;
  payload_len: number;
  caplen: number;
  family: number;
  tcp_flags: number;
  sport: number;
  dport: number;
  vlan: number;
  verdict: number;
  src: Uint8Array;
  dst: Uint8Array;
  ifindex: number;
  data: Uint8Array;
}
export const PwHttpSegment = {
  name: 'pw_http_segment',
  size: 1096,
  offsets: { ts_ns: 0, seq: 8, ack: 12, payload_len: 16, caplen: 20, family: 22, tcp_flags: 23, sport: 24, dport: 26, vlan: 28, verdict: 30, _pad0: 31, src: 32, dst: 48, ifindex: 64, _pad1: 68, data: 72 },
  encode(x: PwHttpSegment, v: DataView, o: number): void {
    scalar.u64.encode(x.ts_ns, v, o + 0);
    scalar.u32.encode(x.seq, v, o + 8);
    scalar.u32.encode(x.ack, v, o + 12);
    scalar.u32.encode(x.payload_len, v, o + 16);
    scalar.u16.encode(x.caplen, v, o + 20);
    scalar.u8.encode(x.family, v, o + 22);
    scalar.u8.encode(x.tcp_flags, v, o + 23);
    scalar.be16.encode(x.sport, v, o + 24);
    scalar.be16.encode(x.dport, v, o + 26);
    scalar.u16.encode(x.vlan, v, o + 28);
    scalar.u8.encode(x.verdict, v, o + 30);
    bytesAt(v, o + 31, 1).fill(0);
    bytesAt(v, o + 32, 16).set(x.src.subarray(0, 16));
    bytesAt(v, o + 48, 16).set(x.dst.subarray(0, 16));
    scalar.u32.encode(x.ifindex, v, o + 64);
    bytesAt(v, o + 68, 4).fill(0);
    bytesAt(v, o + 72, 1024).set(x.data.subarray(0, 1024));
  },
  decode(v: DataView, o: number): PwHttpSegment {
    return {
      ts_ns: scalar.u64.decode(v, o + 0),
      seq: scalar.u32.decode(v, o + 8),
      ack: scalar.u32.decode(v, o + 12),
      payload_len: scalar.u32.decode(v, o + 16),
      caplen: scalar.u16.decode(v, o + 20),
      family: scalar.u8.decode(v, o + 22),
      tcp_flags: scalar.u8.decode(v, o + 23),
      sport: scalar.be16.decode(v, o + 24),
      dport: scalar.be16.decode(v, o + 26),
      vlan: scalar.u16.decode(v, o + 28),
      verdict: scalar.u8.decode(v, o + 30),
      src: bytesAt(v, o + 32, 16).slice(),
      dst: bytesAt(v, o + 48, 16).slice(),
      ifindex: scalar.u32.decode(v, o + 64),
      data: bytesAt(v, o + 72, 1024).slice(),
    };
  },
  zero(): PwHttpSegment {
    return { ts_ns: 0n, seq: 0, ack: 0, payload_len: 0, caplen: 0, family: 0, tcp_flags: 0, sport: 0, dport: 0, vlan: 0, verdict: 0, src: new Uint8Array(16), dst: new Uint8Array(16), ifindex: 0, data: new Uint8Array(1024) };
  },
} as const satisfies Codec<PwHttpSegment> & { offsets: Record<string, number> };

/** struct pw_event (288 bytes) */
export interface PwEvent {
  ts_ns: bigint;
  ifindex: number;
  len: number;
  rule: number;
  route: number;
  verdict: number;
  reason: number;
  kind: number;
  egress_ifindex: number;
  head: Uint8Array;
}
export const PwEvent = {
  name: 'pw_event',
  size: 288,
  offsets: { ts_ns: 0, ifindex: 8, len: 12, rule: 16, route: 20, verdict: 24, reason: 25, kind: 26, _pad0: 27, egress_ifindex: 28, head: 32 },
  encode(x: PwEvent, v: DataView, o: number): void {
    scalar.u64.encode(x.ts_ns, v, o + 0);
    scalar.u32.encode(x.ifindex, v, o + 8);
    scalar.u32.encode(x.len, v, o + 12);
    scalar.u32.encode(x.rule, v, o + 16);
    scalar.u32.encode(x.route, v, o + 20);
    scalar.u8.encode(x.verdict, v, o + 24);
    scalar.u8.encode(x.reason, v, o + 25);
    scalar.u8.encode(x.kind, v, o + 26);
    bytesAt(v, o + 27, 1).fill(0);
    scalar.u32.encode(x.egress_ifindex, v, o + 28);
    bytesAt(v, o + 32, 256).set(x.head.subarray(0, 256));
  },
  decode(v: DataView, o: number): PwEvent {
    return {
      ts_ns: scalar.u64.decode(v, o + 0),
      ifindex: scalar.u32.decode(v, o + 8),
      len: scalar.u32.decode(v, o + 12),
      rule: scalar.u32.decode(v, o + 16),
      route: scalar.u32.decode(v, o + 20),
      verdict: scalar.u8.decode(v, o + 24),
      reason: scalar.u8.decode(v, o + 25),
      kind: scalar.u8.decode(v, o + 26),
      egress_ifindex: scalar.u32.decode(v, o + 28),
      head: bytesAt(v, o + 32, 256).slice(),
    };
  },
  zero(): PwEvent {
    return { ts_ns: 0n, ifindex: 0, len: 0, rule: 0, route: 0, verdict: 0, reason: 0, kind: 0, egress_ifindex: 0, head: new Uint8Array(256) };
  },
} as const satisfies Codec<PwEvent> & { offsets: Record<string, number> };

/** struct pw_capture_record (2088 bytes) */
export interface PwCaptureRecord {
  ts_ns: bigint;
  ifindex: number;
  len: number;
  caplen: number;
  rule: number;
  route: number;
  egress_ifindex: number;
  point: number;
  verdict: number;
  reason: number;
  data: Uint8Array;
}
export const PwCaptureRecord = {
  name: 'pw_capture_record',
  size: 2088,
  offsets: { ts_ns: 0, ifindex: 8, len: 12, caplen: 16, rule: 20, route: 24, egress_ifindex: 28, point: 32, verdict: 33, reason: 34, _pad0: 35, data: 40 },
  encode(x: PwCaptureRecord, v: DataView, o: number): void {
    scalar.u64.encode(x.ts_ns, v, o + 0);
    scalar.u32.encode(x.ifindex, v, o + 8);
    scalar.u32.encode(x.len, v, o + 12);
    scalar.u32.encode(x.caplen, v, o + 16);
    scalar.u32.encode(x.rule, v, o + 20);
    scalar.u32.encode(x.route, v, o + 24);
    scalar.u32.encode(x.egress_ifindex, v, o + 28);
    scalar.u8.encode(x.point, v, o + 32);
    scalar.u8.encode(x.verdict, v, o + 33);
    scalar.u8.encode(x.reason, v, o + 34);
    bytesAt(v, o + 35, 5).fill(0);
    bytesAt(v, o + 40, 2048).set(x.data.subarray(0, 2048));
  },
  decode(v: DataView, o: number): PwCaptureRecord {
    return {
      ts_ns: scalar.u64.decode(v, o + 0),
      ifindex: scalar.u32.decode(v, o + 8),
      len: scalar.u32.decode(v, o + 12),
      caplen: scalar.u32.decode(v, o + 16),
      rule: scalar.u32.decode(v, o + 20),
      route: scalar.u32.decode(v, o + 24),
      egress_ifindex: scalar.u32.decode(v, o + 28),
      point: scalar.u8.decode(v, o + 32),
      verdict: scalar.u8.decode(v, o + 33),
      reason: scalar.u8.decode(v, o + 34),
      data: bytesAt(v, o + 40, 2048).slice(),
    };
  },
  zero(): PwCaptureRecord {
    return { ts_ns: 0n, ifindex: 0, len: 0, caplen: 0, rule: 0, route: 0, egress_ifindex: 0, point: 0, verdict: 0, reason: 0, data: new Uint8Array(2048) };
  },
} as const satisfies Codec<PwCaptureRecord> & { offsets: Record<string, number> };

/** Maps of pathwise.bpf.o, as declared in its .maps section. */
export const maps = {
  pw_nexthops: { name: 'pw_nexthops', type: MapType.ARRAY, maxEntries: 65536, flags: 1024, keySize: 4, valueSize: 40, key: scalar.u32, value: PwNexthop },
  pw_neigh: { name: 'pw_neigh', type: MapType.HASH, maxEntries: 65536, flags: 0, keySize: 20, valueSize: 8, key: PwNeighKey, value: PwNeigh },
  pw_lb_vips: { name: 'pw_lb_vips', type: MapType.HASH, maxEntries: 256, flags: 0, keySize: 20, valueSize: 4, key: PwLbVipKey, value: scalar.u32 },
  pw_lb_rnat: { name: 'pw_lb_rnat', type: MapType.LRU_HASH, maxEntries: 1048576, flags: 0, keySize: 40, valueSize: 48, key: PwLbCtKey, value: PwLbRnat },
  pw_lb_ct: { name: 'pw_lb_ct', type: MapType.LRU_HASH, maxEntries: 1048576, flags: 0, keySize: 40, valueSize: 24, key: PwLbCtKey, value: PwLbCt },
  pw_lb_backends: { name: 'pw_lb_backends', type: MapType.ARRAY, maxEntries: 4096, flags: 0, keySize: 4, valueSize: 24, key: scalar.u32, value: PwLbBackend },
  pw_lb_services: { name: 'pw_lb_services', type: MapType.HASH, maxEntries: 256, flags: 0, keySize: 20, valueSize: 32, key: PwLbVipKey, value: PwLbService },
  pw_flow_cache: { name: 'pw_flow_cache', type: MapType.PERCPU_ARRAY, maxEntries: 4096, flags: 0, keySize: 4, valueSize: 96, key: scalar.u32, value: PwFlowPending },
  pw_flows: { name: 'pw_flows', type: MapType.LRU_HASH, maxEntries: 1048576, flags: 0, keySize: 40, valueSize: 72, key: PwFlowKey, value: PwFlow },
  pw_http_stats: { name: 'pw_http_stats', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwHttpCounters },
  pw_replay_out: { name: 'pw_replay_out', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 64, key: scalar.u32, value: PwReplayResult },
  pw_fib4_tbl24: { name: 'pw_fib4_tbl24', type: MapType.ARRAY, maxEntries: 1048576, flags: 1024, keySize: 4, valueSize: 64, key: scalar.u32, value: PwFib4Block },
  pw_fib4_tbl8: { name: 'pw_fib4_tbl8', type: MapType.ARRAY, maxEntries: 16384, flags: 1024, keySize: 4, valueSize: 1024, key: scalar.u32, value: PwFib4Group },
  pw_fib6_nodes: { name: 'pw_fib6_nodes', type: MapType.ARRAY, maxEntries: 131072, flags: 1024, keySize: 4, valueSize: 1024, key: scalar.u32, value: PwFib6Node },
  pw_routes: { name: 'pw_routes', type: MapType.ARRAY, maxEntries: 2097152, flags: 1024, keySize: 4, valueSize: 32, key: scalar.u32, value: PwRoute },
  pw_nhgroups: { name: 'pw_nhgroups', type: MapType.ARRAY, maxEntries: 16384, flags: 0, keySize: 4, valueSize: 360, key: scalar.u32, value: PwNhgroup },
  pw_tx_ports: { name: 'pw_tx_ports', type: MapType.DEVMAP_HASH, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_ifaces: { name: 'pw_ifaces', type: MapType.ARRAY, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 12, key: scalar.u32, value: PwIface },
  pw_ifaces_hi: { name: 'pw_ifaces_hi', type: MapType.HASH, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 12, key: scalar.u32, value: PwIface },
  pw_frags: { name: 'pw_frags', type: MapType.LRU_HASH, maxEntries: 65536, flags: 0, keySize: 40, valueSize: 24, key: PwFragKey, value: PwFrag },
  pw_block4: { name: 'pw_block4', type: MapType.LPM_TRIE, maxEntries: 1048576, flags: 1, keySize: 8, valueSize: 16, key: PwBlock4Key, value: PwBlock },
  pw_block6: { name: 'pw_block6', type: MapType.LPM_TRIE, maxEntries: 1048576, flags: 1, keySize: 20, valueSize: 16, key: PwBlock6Key, value: PwBlock },
  pw_rule_banks: { name: 'pw_rule_banks', type: MapType.ARRAY, maxEntries: 2, flags: 0, keySize: 4, valueSize: 40, key: scalar.u32, value: PwRuleBank },
  pw_rules: { name: 'pw_rules', type: MapType.ARRAY, maxEntries: 32768, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwRule },
  pw_rule_bitmaps: { name: 'pw_rule_bitmaps', type: MapType.ARRAY, maxEntries: 4096, flags: 0, keySize: 4, valueSize: 2080, key: scalar.u32, value: PwRuleBitmap },
  pw_rule_proto: { name: 'pw_rule_proto', type: MapType.ARRAY, maxEntries: 512, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_rule_sport: { name: 'pw_rule_sport', type: MapType.ARRAY, maxEntries: 131074, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_rule_dport: { name: 'pw_rule_dport', type: MapType.ARRAY, maxEntries: 131074, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_rule_flags: { name: 'pw_rule_flags', type: MapType.ARRAY, maxEntries: 514, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_rule_iface: { name: 'pw_rule_iface', type: MapType.ARRAY, maxEntries: 2048, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_rule_iface_hi: { name: 'pw_rule_iface_hi', type: MapType.HASH, maxEntries: 2048, flags: 0, keySize: 8, valueSize: 4, key: PwRuleIfaceKey, value: scalar.u32 },
  pw_rule_src4: { name: 'pw_rule_src4', type: MapType.LPM_TRIE, maxEntries: 65536, flags: 1, keySize: 12, valueSize: 4, key: PwRuleLpm4Key, value: scalar.u32 },
  pw_rule_dst4: { name: 'pw_rule_dst4', type: MapType.LPM_TRIE, maxEntries: 65536, flags: 1, keySize: 12, valueSize: 4, key: PwRuleLpm4Key, value: scalar.u32 },
  pw_rule_src6: { name: 'pw_rule_src6', type: MapType.LPM_TRIE, maxEntries: 65536, flags: 1, keySize: 24, valueSize: 4, key: PwRuleLpm6Key, value: scalar.u32 },
  pw_rule_dst6: { name: 'pw_rule_dst6', type: MapType.LPM_TRIE, maxEntries: 65536, flags: 1, keySize: 24, valueSize: 4, key: PwRuleLpm6Key, value: scalar.u32 },
  pw_rule_exact: { name: 'pw_rule_exact', type: MapType.HASH, maxEntries: 262144, flags: 1, keySize: 20, valueSize: 4, key: PwRuleExactKey, value: scalar.u32 },
  pw_rule_cidr: { name: 'pw_rule_cidr', type: MapType.ARRAY, maxEntries: 8, flags: 0, keySize: 4, valueSize: 8840, key: scalar.u32, value: PwRuleCidr },
  pw_rule_exact_scratch: { name: 'pw_rule_exact_scratch', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 20, key: scalar.u32, value: PwRuleExactKey },
  pw_rule_stats: { name: 'pw_rule_stats', type: MapType.PERCPU_ARRAY, maxEntries: 16384, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwCounter },
  pw_ratelimits: { name: 'pw_ratelimits', type: MapType.ARRAY, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 32, key: scalar.u32, value: PwRatelimit },
  pw_ratelimit_state: { name: 'pw_ratelimit_state', type: MapType.LRU_HASH, maxEntries: 262144, flags: 0, keySize: 24, valueSize: 16, key: PwRatelimitKey, value: PwRatelimitState },
  pw_guard_state: { name: 'pw_guard_state', type: MapType.ARRAY, maxEntries: 1, flags: 1024, keySize: 4, valueSize: 40, key: scalar.u32, value: PwGuardState },
  pw_coarse_clock: { name: 'pw_coarse_clock', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwCoarseClock },
  pw_lb_maglev: { name: 'pw_lb_maglev', type: MapType.ARRAY, maxEntries: 262144, flags: 1024, keySize: 4, valueSize: 64, key: scalar.u32, value: PwLbSlots },
  pw_lb_service_stats: { name: 'pw_lb_service_stats', type: MapType.PERCPU_ARRAY, maxEntries: 256, flags: 0, keySize: 4, valueSize: 48, key: scalar.u32, value: PwLbCounter },
  pw_lb_backend_stats: { name: 'pw_lb_backend_stats', type: MapType.PERCPU_ARRAY, maxEntries: 4096, flags: 0, keySize: 4, valueSize: 48, key: scalar.u32, value: PwLbCounter },
  pw_lb_ctl: { name: 'pw_lb_ctl', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 8, key: scalar.u32, value: PwLbCtl },
  pw_if_stats: { name: 'pw_if_stats', type: MapType.PERCPU_ARRAY, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 344, key: scalar.u32, value: PwIfCounters },
  pw_if_stats_hi: { name: 'pw_if_stats_hi', type: MapType.PERCPU_HASH, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 344, key: scalar.u32, value: PwIfCounters },
  pw_if_zero: { name: 'pw_if_zero', type: MapType.ARRAY, maxEntries: 1, flags: 128, keySize: 4, valueSize: 344, key: scalar.u32, value: PwIfCounters },
  pw_route_stats: { name: 'pw_route_stats', type: MapType.ARRAY, maxEntries: 2097152, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwCounter },
  pw_nexthop_stats: { name: 'pw_nexthop_stats', type: MapType.PERCPU_ARRAY, maxEntries: 65536, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwCounter },
  pw_flow_stats: { name: 'pw_flow_stats', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwFlowCounters },
  pw_http_ctl: { name: 'pw_http_ctl', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwHttpCtl },
  pw_http_ports: { name: 'pw_http_ports', type: MapType.ARRAY, maxEntries: 1024, flags: 0, keySize: 4, valueSize: 8, key: scalar.u32, value: scalar.u64 },
  pw_http: { name: 'pw_http', type: MapType.RINGBUF, maxEntries: 16777216, flags: 0, keySize: 0, valueSize: 0, key: null, value: null },
  pw_events: { name: 'pw_events', type: MapType.RINGBUF, maxEntries: 4194304, flags: 0, keySize: 0, valueSize: 0, key: null, value: null },
  pw_capture: { name: 'pw_capture', type: MapType.RINGBUF, maxEntries: 16777216, flags: 0, keySize: 0, valueSize: 0, key: null, value: null },
  pw_ring_stats: { name: 'pw_ring_stats', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 32, key: scalar.u32, value: PwRingCounters },
  pw_events_ctl: { name: 'pw_events_ctl', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 8, key: scalar.u32, value: PwEventsCtl },
  pw_capture_ctl: { name: 'pw_capture_ctl', type: MapType.ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 16, key: scalar.u32, value: PwCaptureCtl },
  pw_capture_progs: { name: 'pw_capture_progs', type: MapType.PROG_ARRAY, maxEntries: 2, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_tc_capture_progs: { name: 'pw_tc_capture_progs', type: MapType.PROG_ARRAY, maxEntries: 2, flags: 0, keySize: 4, valueSize: 4, key: scalar.u32, value: scalar.u32 },
  pw_capture_scratch: { name: 'pw_capture_scratch', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 8, key: scalar.u32, value: PwCaptureScratch },
  pw_histogram: { name: 'pw_histogram', type: MapType.PERCPU_ARRAY, maxEntries: 1, flags: 0, keySize: 4, valueSize: 2112, key: scalar.u32, value: PwHistogram },
} as const satisfies Record<string, MapSpec<any, any>>;

export type MapName = keyof typeof maps;

/** Typed handles to every map of pathwise.bpf.o, by short name (see openMaps). */
export interface Maps {
  /** pw_nexthops */
  nexthops: BpfMap<number, PwNexthop>;
  /** pw_neigh */
  neigh: BpfMap<PwNeighKey, PwNeigh>;
  /** pw_lb_vips */
  lbVips: BpfMap<PwLbVipKey, number>;
  /** pw_lb_rnat */
  lbRnat: BpfMap<PwLbCtKey, PwLbRnat>;
  /** pw_lb_ct */
  lbCt: BpfMap<PwLbCtKey, PwLbCt>;
  /** pw_lb_backends */
  lbBackends: BpfMap<number, PwLbBackend>;
  /** pw_lb_services */
  lbServices: BpfMap<PwLbVipKey, PwLbService>;
  /** pw_flow_cache */
  flowCache: PerCpuMap<number, PwFlowPending>;
  /** pw_flows */
  flows: BpfMap<PwFlowKey, PwFlow>;
  /** pw_http_stats */
  httpStats: PerCpuMap<number, PwHttpCounters>;
  /** pw_replay_out */
  replayOut: BpfMap<number, PwReplayResult>;
  /** pw_fib4_tbl24 */
  fib4Tbl24: BpfMap<number, PwFib4Block>;
  /** pw_fib4_tbl8 */
  fib4Tbl8: BpfMap<number, PwFib4Group>;
  /** pw_fib6_nodes */
  fib6Nodes: BpfMap<number, PwFib6Node>;
  /** pw_routes */
  routes: BpfMap<number, PwRoute>;
  /** pw_nhgroups */
  nhgroups: BpfMap<number, PwNhgroup>;
  /** pw_tx_ports */
  txPorts: BpfMap<number, number>;
  /** pw_ifaces */
  ifaces: BpfMap<number, PwIface>;
  /** pw_ifaces_hi */
  ifacesHi: BpfMap<number, PwIface>;
  /** pw_frags */
  frags: BpfMap<PwFragKey, PwFrag>;
  /** pw_block4 */
  block4: BpfMap<PwBlock4Key, PwBlock>;
  /** pw_block6 */
  block6: BpfMap<PwBlock6Key, PwBlock>;
  /** pw_rule_banks */
  ruleBanks: BpfMap<number, PwRuleBank>;
  /** pw_rules */
  rules: BpfMap<number, PwRule>;
  /** pw_rule_bitmaps */
  ruleBitmaps: BpfMap<number, PwRuleBitmap>;
  /** pw_rule_proto */
  ruleProto: BpfMap<number, number>;
  /** pw_rule_sport */
  ruleSport: BpfMap<number, number>;
  /** pw_rule_dport */
  ruleDport: BpfMap<number, number>;
  /** pw_rule_flags */
  ruleFlags: BpfMap<number, number>;
  /** pw_rule_iface */
  ruleIface: BpfMap<number, number>;
  /** pw_rule_iface_hi */
  ruleIfaceHi: BpfMap<PwRuleIfaceKey, number>;
  /** pw_rule_src4 */
  ruleSrc4: BpfMap<PwRuleLpm4Key, number>;
  /** pw_rule_dst4 */
  ruleDst4: BpfMap<PwRuleLpm4Key, number>;
  /** pw_rule_src6 */
  ruleSrc6: BpfMap<PwRuleLpm6Key, number>;
  /** pw_rule_dst6 */
  ruleDst6: BpfMap<PwRuleLpm6Key, number>;
  /** pw_rule_exact */
  ruleExact: BpfMap<PwRuleExactKey, number>;
  /** pw_rule_cidr */
  ruleCidr: BpfMap<number, PwRuleCidr>;
  /** pw_rule_exact_scratch */
  ruleExactScratch: PerCpuMap<number, PwRuleExactKey>;
  /** pw_rule_stats */
  ruleStats: PerCpuMap<number, PwCounter>;
  /** pw_ratelimits */
  ratelimits: BpfMap<number, PwRatelimit>;
  /** pw_ratelimit_state */
  ratelimitState: BpfMap<PwRatelimitKey, PwRatelimitState>;
  /** pw_guard_state */
  guardState: BpfMap<number, PwGuardState>;
  /** pw_coarse_clock */
  coarseClock: PerCpuMap<number, PwCoarseClock>;
  /** pw_lb_maglev */
  lbMaglev: BpfMap<number, PwLbSlots>;
  /** pw_lb_service_stats */
  lbServiceStats: PerCpuMap<number, PwLbCounter>;
  /** pw_lb_backend_stats */
  lbBackendStats: PerCpuMap<number, PwLbCounter>;
  /** pw_lb_ctl */
  lbCtl: BpfMap<number, PwLbCtl>;
  /** pw_if_stats */
  ifStats: PerCpuMap<number, PwIfCounters>;
  /** pw_if_stats_hi */
  ifStatsHi: PerCpuMap<number, PwIfCounters>;
  /** pw_if_zero */
  ifZero: BpfMap<number, PwIfCounters>;
  /** pw_route_stats */
  routeStats: BpfMap<number, PwCounter>;
  /** pw_nexthop_stats */
  nexthopStats: PerCpuMap<number, PwCounter>;
  /** pw_flow_stats */
  flowStats: PerCpuMap<number, PwFlowCounters>;
  /** pw_http_ctl */
  httpCtl: BpfMap<number, PwHttpCtl>;
  /** pw_http_ports */
  httpPorts: BpfMap<number, bigint>;
  /** pw_http */
  http: RawMap;
  /** pw_events */
  events: RawMap;
  /** pw_capture */
  capture: RawMap;
  /** pw_ring_stats */
  ringStats: PerCpuMap<number, PwRingCounters>;
  /** pw_events_ctl */
  eventsCtl: BpfMap<number, PwEventsCtl>;
  /** pw_capture_ctl */
  captureCtl: BpfMap<number, PwCaptureCtl>;
  /** pw_capture_progs */
  captureProgs: BpfMap<number, number>;
  /** pw_tc_capture_progs */
  tcCaptureProgs: BpfMap<number, number>;
  /** pw_capture_scratch */
  captureScratch: PerCpuMap<number, PwCaptureScratch>;
  /** pw_histogram */
  histogram: PerCpuMap<number, PwHistogram>;
}

/** Each handle's map. */
export const mapHandles = {
  nexthops: 'pw_nexthops',
  neigh: 'pw_neigh',
  lbVips: 'pw_lb_vips',
  lbRnat: 'pw_lb_rnat',
  lbCt: 'pw_lb_ct',
  lbBackends: 'pw_lb_backends',
  lbServices: 'pw_lb_services',
  flowCache: 'pw_flow_cache',
  flows: 'pw_flows',
  httpStats: 'pw_http_stats',
  replayOut: 'pw_replay_out',
  fib4Tbl24: 'pw_fib4_tbl24',
  fib4Tbl8: 'pw_fib4_tbl8',
  fib6Nodes: 'pw_fib6_nodes',
  routes: 'pw_routes',
  nhgroups: 'pw_nhgroups',
  txPorts: 'pw_tx_ports',
  ifaces: 'pw_ifaces',
  ifacesHi: 'pw_ifaces_hi',
  frags: 'pw_frags',
  block4: 'pw_block4',
  block6: 'pw_block6',
  ruleBanks: 'pw_rule_banks',
  rules: 'pw_rules',
  ruleBitmaps: 'pw_rule_bitmaps',
  ruleProto: 'pw_rule_proto',
  ruleSport: 'pw_rule_sport',
  ruleDport: 'pw_rule_dport',
  ruleFlags: 'pw_rule_flags',
  ruleIface: 'pw_rule_iface',
  ruleIfaceHi: 'pw_rule_iface_hi',
  ruleSrc4: 'pw_rule_src4',
  ruleDst4: 'pw_rule_dst4',
  ruleSrc6: 'pw_rule_src6',
  ruleDst6: 'pw_rule_dst6',
  ruleExact: 'pw_rule_exact',
  ruleCidr: 'pw_rule_cidr',
  ruleExactScratch: 'pw_rule_exact_scratch',
  ruleStats: 'pw_rule_stats',
  ratelimits: 'pw_ratelimits',
  ratelimitState: 'pw_ratelimit_state',
  guardState: 'pw_guard_state',
  coarseClock: 'pw_coarse_clock',
  lbMaglev: 'pw_lb_maglev',
  lbServiceStats: 'pw_lb_service_stats',
  lbBackendStats: 'pw_lb_backend_stats',
  lbCtl: 'pw_lb_ctl',
  ifStats: 'pw_if_stats',
  ifStatsHi: 'pw_if_stats_hi',
  ifZero: 'pw_if_zero',
  routeStats: 'pw_route_stats',
  nexthopStats: 'pw_nexthop_stats',
  flowStats: 'pw_flow_stats',
  httpCtl: 'pw_http_ctl',
  httpPorts: 'pw_http_ports',
  http: 'pw_http',
  events: 'pw_events',
  capture: 'pw_capture',
  ringStats: 'pw_ring_stats',
  eventsCtl: 'pw_events_ctl',
  captureCtl: 'pw_capture_ctl',
  captureProgs: 'pw_capture_progs',
  tcCaptureProgs: 'pw_tc_capture_progs',
  captureScratch: 'pw_capture_scratch',
  histogram: 'pw_histogram',
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
  pw_settings: { name: 'pw_settings', size: 8, codec: PwSettings },
} as const;

export const programs = ['pw_xdp', 'pw_xdp_trace', 'pw_xdp_replay', 'pw_xdp_flush'] as const;
export type ProgramName = (typeof programs)[number];
