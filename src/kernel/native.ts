/**
 * The native addon (native/, a thin binding over libbpf, libpcap and libmnl) with its TypeScript
 * signatures. Only src/kernel/ imports this module.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { PwError } from '../errors.js';
import { repoRoot } from '../util/paths.js';

export interface NativeFd {
  readonly fd: number;
  readonly kind: string;
  readonly closed: boolean;
  close(): void;
}

export interface ObjectMapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  internal: boolean;
  pinPath: string | null;
  fd: number;
}

export interface NativeBpfObject {
  readonly loaded: boolean;
  readonly closed: boolean;
  maps(): ObjectMapInfo[];
  programs(): { name: string; section: string; type: number; autoload: boolean }[];
  datasecVars(section: string): { name: string; offset: number; size: number }[];
  getInitialValue(map: string): Buffer;
  setInitialValue(map: string, value: Uint8Array): void;
  setMaxEntries(map: string, n: number): void;
  setPinPath(map: string, path: string | null): void;
  reuseMapFd(map: string, fd: number): void;
  setAutoload(program: string, on: boolean): void;
  /** Before load: keep the verifier's statistics of `program` (log level 4). */
  keepVerifierStats(program: string): void;
  /** After load: the statistics kept, or null. */
  verifierStats(program: string): string | null;
  load(): Promise<void>;
  mapFd(map: string): NativeFd;
  programFd(program: string): NativeFd;
  close(): void;
}

export interface TypeLayout {
  /** Canonical text of the type: equal texts, same layout and meaning. */
  signature: string;
  /** A struct's top-level byte-aligned members (a data section's variables). */
  fields: { name: string; offset: number; size: number; signature: string }[];
}

/** A map's key and value types from BTF (null: the map has no BTF type for it). */
export interface MapLayout {
  key: TypeLayout | null;
  value: TypeLayout | null;
}

export interface KernelMapInfo {
  id: number;
  type: number;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  btfId: number;
}

export interface TestRunOptions {
  data?: Uint8Array;
  dataOutSize?: number;
  ctx?: Uint8Array;
  ctxOutSize?: number;
  repeat?: number;
  flags?: number;
  batchSize?: number;
  cpu?: number;
}

export interface TestRunResult {
  retval: number;
  /** Mean run time per repetition in nanoseconds, as the kernel measured it. */
  duration: number;
  data: Buffer | null;
  ctx: Buffer | null;
}

/** Runs on each CPU (Program.testRunOnCpus). */
export interface CpuRuns {
  runs: { cpu: number; retval: number; duration: number }[];
  /** CPUs this thread may not run on (its cpuset excludes them): not run there. */
  skipped: number[];
}

type Bytes = Uint8Array | DataView;
interface BatchOpts {
  elemFlags?: number;
  flags?: number;
}

/** What the addon's route-file scanner found (src/kernel/scan.ts). */
export interface RouteTextScan {
  lines: number;
  v4: { count: number; addr: Uint32Array; plen: Uint8Array; text: Uint32Array; line: Uint32Array };
  v6: { count: number; addr: Uint8Array; plen: Uint8Array; text: Uint32Array; line: Uint32Array };
  texts: { family: 4 | 6; line: number; start: number; end: number }[];
  others: Uint32Array;
}

export interface NativeAddon {
  scanRouteText(bytes: Uint8Array): RouteTextScan;
  flaggedWords(words: Uint32Array, mask: number, stride?: number, offset?: number): Uint32Array;
  maglevFill(table: Uint32Array, offset: Uint32Array, skip: Uint32Array, turns: Uint32Array, ids: Uint32Array): void;
  Fd: new (fd: number, kind?: string) => NativeFd;
  BpfObject: new (path: string) => NativeBpfObject;
  Mmap: new (fd: number, length: number, writable?: boolean) => { readonly buffer: ArrayBuffer; readonly length: number; close(): void };
  RingBuffer: new (
    mapFd: number,
    /** Records back to back in `data`; record i ends at ends[i] and starts where i-1 ended. */
    onBatch: (data: Buffer, ends: Uint32Array) => void,
    maxBatch?: number,
    /** Also drain on a timer of this period (0: only when the kernel wakes the reader). */
    drainMs?: number,
  ) => { start(): void; pause(): void; consume(): number; close(): void; readonly closed: boolean };

  mapLookup(fd: number, key: Bytes, value: Bytes, flags?: number): boolean;
  mapLookupAndDelete(fd: number, key: Bytes | null, value: Bytes): boolean;
  mapUpdate(fd: number, key: Bytes | null, value: Bytes, flags?: number): void;
  mapDelete(fd: number, key: Bytes): boolean;
  mapGetNextKey(fd: number, key: Bytes | null, next: Bytes): boolean;
  mapLookupBatch(
    fd: number,
    inBatch: Bytes | null,
    outBatch: Bytes,
    keys: Bytes,
    values: Bytes,
    count: number,
    opts?: BatchOpts,
  ): { count: number; done: boolean };
  /** mapLookupBatch on a worker thread (the buffers must not be touched until it settles). */
  mapLookupBatchAsync(
    fd: number,
    inBatch: Bytes | null,
    outBatch: Bytes,
    keys: Bytes,
    values: Bytes,
    count: number,
  ): Promise<{ count: number; done: boolean }>;
  mapLookupAndDeleteBatch(
    fd: number,
    inBatch: Bytes | null,
    outBatch: Bytes,
    keys: Bytes,
    values: Bytes,
    count: number,
    opts?: BatchOpts,
  ): { count: number; done: boolean };
  mapUpdateBatch(fd: number, keys: Bytes, values: Bytes, count: number, opts?: BatchOpts): number;
  mapDeleteBatch(fd: number, keys: Bytes, count: number, opts?: BatchOpts): number;
  mapFreeze(fd: number): void;
  mapInfo(fd: number): KernelMapInfo;
  /** verifiedInsns: instructions the verifier processed at load (its limit is 1,000,000). */
  progInfo(fd: number): {
    id: number;
    type: number;
    name: string;
    tag: string;
    runTimeNs: number;
    runCount: number;
    btfId: number;
    verifiedInsns: number;
  };
  /** The program as the verifier left it (struct bpf_insn[]), and where each of its functions starts, with its name. */
  progXlated(fd: number): { insns: Buffer; funcStarts: number[]; funcNames: string[] };
  /** Where the JIT put the program's functions and each source line (bench/line-profile.ts). */
  progLines(fd: number): {
    funcs: { addr: bigint; len: number }[];
    lines: { addr: bigint; insn: number; file: string; line: number; col: number; source: string }[];
  };
  linkInfo(fd: number): { id: number; type: number; progId: number; ifindex?: number };
  mapFdById(id: number): NativeFd;
  progFdById(id: number): NativeFd;
  linkFdById(id: number): NativeFd;
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags?: number): NativeFd;
  numPossibleCpus(): number;

  xdpAttach(ifindex: number, progFd: number, flags: number, oldProgFd?: number): void;
  xdpDetach(ifindex: number, flags: number, oldProgFd?: number): void;
  netlinkXdpQuery(ifindex: number): { attachMode: number; progId: number; drvProgId: number; skbProgId: number; hwProgId: number };
  /** Every interface's XDP feature bits (NETDEV_XDP_ACT_*), or null before Linux 6.3. */
  netlinkXdpFeatures(): { ifindex: number; xdpFeatures: number }[] | null;
  xdpLinkCreate(progFd: number, ifindex: number, flags?: number): NativeFd;
  linkUpdate(linkFd: number, progFd: number, oldProgFd?: number): void;
  linkDetach(linkFd: number): void;
  tcAttach(
    ifindex: number,
    point: 'ingress' | 'egress',
    progFd: number,
    opts?: { handle?: number; priority?: number; replace?: boolean },
  ): { handle: number; priority: number; progId: number; hookCreated: boolean };
  tcDetach(ifindex: number, point: 'ingress' | 'egress', handle: number, priority: number): void;
  tcQuery(ifindex: number, point: 'ingress' | 'egress', handle: number, priority: number): number | null;
  tcHookDestroy(ifindex: number): void;
  objPin(fd: number, path: string): void;
  objGet(path: string, kind?: string): NativeFd;

  testRun(progFd: number, opts: TestRunOptions): Promise<TestRunResult>;
  testRunSync(progFd: number, opts: TestRunOptions): TestRunResult;
  testRunOnCpus(progFd: number, opts: TestRunOptions, cpus?: number[]): CpuRuns;

  libbpfVersion(): string;
  mountBpffs(path: string): void;
  lockFile(path: string): NativeFd | null;
  ifNameToIndex(name: string): number;
  ifIndexToName(ifindex: number): string;
  probeProgType(type: number): boolean;
  probeMapType(type: number): boolean;
  setNetns(path: string): NativeFd;
  setNetnsFd(fd: number): void;
  interfaces(): { ifindex: number; name: string }[];
  PcapReader: new (path: string) => {
    readonly linktype: number;
    readonly snaplen: number;
    next(max?: number): { tsSec: number; tsUsec: number; len: number; data: Buffer }[];
    close(): void;
  };
  PcapWriter: new (
    path: string,
    linktype?: number,
    snaplen?: number,
  ) => {
    write(tsSec: number, tsUsec: number, data: Uint8Array, origLen?: number): void;
    flush(): void;
    close(): void;
  };
  pcapCompile(expression: string, linktype?: number, snaplen?: number): Buffer;
  pcapFilter(insns: Uint8Array, packet: Uint8Array, wirelen?: number): number;
  progLoadRaw(progType: number, insns: Uint8Array, name: string, expectedAttachType?: number): NativeFd;
  pcapLibVersion(): string;
  ifHwAddr(name: string): Buffer;

  netlinkLinks(): NetlinkLink[];
  mapLayout(fd: number): MapLayout;
  objectMapLayouts(path: string): Record<string, MapLayout>;
  progMapIds(fd: number): number[];
  interfaceFeatures(ifname: string): Record<string, { active: boolean; changeable: boolean }>;
  setInterfaceFeatures(ifname: string, features: Record<string, boolean>): void;
  netlinkAddresses(family?: number): NetlinkAddress[];
  netlinkNeighbors(family?: number): NetlinkNeighbor[];
  netlinkRouteGet(
    family: number,
    dst: Uint8Array,
  ): { type: number; table: number; oif: number; gateway: Buffer | null; prefsrc: Buffer | null } | null;
  netlinkNeighManage(family: number, ifindex: number, dst: Uint8Array): void;
  netlinkNeighDelete(family: number, ifindex: number, dst: Uint8Array): boolean;
  RouteDumpReader: new (
    family: number,
    tables?: number[],
  ) => { read(max: number): { routes: NetlinkRouteSet; done: boolean }; close(): void };
  netlinkNexthops(): NetlinkNexthop[];
  PathProber: new (onUrgent?: () => void) => NativePathProber;
  NetlinkMonitor: new (groups: number[], onEvents: (events: NetlinkEvent[]) => void) => { close(): void; readonly closed: boolean };
}

/** A path probe's target (native/src/prober.cc). */
export interface NativeProbeTarget {
  ifindex: number;
  family: 4 | 6;
  srcMac: Uint8Array;
  /** The gateway's MAC: the frame goes to it, whatever its IP destination. */
  dstMac: Uint8Array;
  /** Our address on the egress interface (4 or 16 bytes). */
  src: Uint8Array;
  /** What answers: the gateway, or a host beyond it. */
  dst: Uint8Array;
  /** 0 ICMP echo, 1 UDP, 2 TCP SYN. */
  kind: number;
  /** UDP reflector's or TCP port (0 for ICMP). */
  port: number;
  intervalMs: number;
  /** A probe not answered within this is lost (and the next one goes out at once). */
  timeoutMs: number;
  /** The interval varies by ± this fraction, so probes of many targets do not align. */
  jitter: number;
}

export interface NativeProberStats {
  sent: number;
  replies: number;
  lost: number;
  late: number;
  sendErrors: number;
  /** Times the prober woke the event loop for a result that could not wait. */
  urgent: number;
}

export interface NativePathProber {
  set(id: number, target: NativeProbeTarget): void;
  remove(id: number): void;
  drain(): Float64Array;
  stats(): NativeProberStats;
  close(): void;
}

/** rtnetlink messages as the addon decodes them (families are AF_INET = 2, AF_INET6 = 10). */
export interface NetlinkLink {
  ifindex: number;
  name: string | null;
  flags: number;
  mtu: number;
  mac: Buffer | null;
  /** IF_OPER_* (6: up). */
  operstate: number;
  /** A virtual device's kind (veth, vxlan...); null for hardware. */
  kind: string | null;
  /** IFLA_LINK: the device it sits on, or a veth's peer (an ifindex in the peer's namespace). */
  link: number | null;
  /** The IFLA_LINK device is in another network namespace. */
  linkElsewhere: boolean;
}
export interface NetlinkAddress {
  ifindex: number;
  family: number;
  prefixlen: number;
  scope: number;
  flags: number;
  address: Buffer | null;
}
export interface NetlinkNeighbor {
  ifindex: number;
  family: number;
  /** NUD_* bits. */
  state: number;
  flags: number;
  /** NTF_EXT_* bits (NTF_EXT_MANAGED = 1). */
  extFlags: number;
  dst: Buffer | null;
  lladdr: Buffer | null;
}
/**
 * Routes packed by the addon (a full table is a million routes). Per route, 7 words of `head`:
 * [family | dst_len << 8 | protocol << 16 | type << 24, table, priority, tos | deleted << 8,
 * first nexthop, nexthop count, nexthop object id] and 16 bytes of `dst`; per nexthop 3
 * words of `nh`: [ifindex, weight, gateway family (0, 4, 6) | RTNH_F_* << 8] and 16 bytes of
 * `gw`.
 */
export interface NetlinkRouteSet {
  count: number;
  head: Uint32Array;
  dst: Uint8Array;
  nh: Uint32Array;
  gw: Uint8Array;
}
/** A kernel nexthop object; `group` holds [id, weight] pairs flattened. */
export interface NetlinkNexthop {
  id: number;
  family: number;
  flags: number;
  oif: number;
  gateway: Buffer | null;
  blackhole: boolean;
  group: number[];
}
export type NetlinkEvent =
  | (NetlinkLink & { event: 'link'; op: 'new' | 'del' })
  | (NetlinkAddress & { event: 'address'; op: 'new' | 'del' })
  | (NetlinkNeighbor & { event: 'neighbor'; op: 'new' | 'del' })
  | (NetlinkRouteSet & { event: 'routes' })
  | { event: 'nexthops' }
  | { event: 'overrun' };

const addonPath = join(repoRoot, 'native', 'build', 'Release', 'pathwise.node');

let addon: NativeAddon | undefined;

/** The addon, loaded on first use so that commands which don't need it start without it. */
export function native(): NativeAddon {
  if (!addon) {
    if (!existsSync(addonPath)) {
      throw new PwError('PW_ERR_NOT_BUILT', `the native addon is not built (${addonPath} is missing)`, { hint: "run 'make build'" });
    }
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
  }
  return addon;
}
