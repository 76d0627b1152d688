/**
 * The pinned pipeline of one Pathwise instance: the XDP programs and every map, pinned under
 * /sys/fs/bpf/pathwise/<instance>/ so the data plane outlives any process that drives it.
 * open() adopts what is pinned; when nothing is, it loads the object with the given settings
 * and pins it. Instance metadata (settings) lives in /run/pathwise/<instance>/meta.json, which
 * like bpffs does not outlive a reboot.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import {
  BpfMap,
  BpfObject,
  BPFFS_ROOT,
  PerCpuMap,
  Program,
  detachXdp,
  ensureBpffs,
  native,
  attachXdp,
  openPinned,
  pinFd,
  queryXdp,
  removePinDir,
  repoRoot,
  type MapSpec,
} from '../bpf/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';

export type FibMode = 'own' | 'kernel';

export interface PipelineSettings {
  fib: FibMode;
  /** Keep the flow table. */
  flows: boolean;
  /** Count packets/bytes per route and nexthop. */
  routeStats: boolean;
  /** Drop malformed packets instead of passing them to the kernel. */
  dropMalformed: boolean;
  /** Second-level IPv4 FIB groups (one per /24 holding longer prefixes). */
  ipv4Groups: number;
  /** Run the guard stage (blocklists, rules, rate limits). */
  filter: boolean;
  /** Distinct classifier bitmaps (2 KiB each) for both rule banks. */
  ruleBitmaps: number;
}

export const DEFAULT_SETTINGS: PipelineSettings = {
  fib: 'own',
  flows: true,
  routeStats: true,
  dropMalformed: false,
  ipv4Groups: abi.PwLimit.FIB4_TBL8_GROUPS,
  filter: true,
  ruleBitmaps: abi.PwLimit.RULE_BITMAPS,
};

const PROGRAMS = ['pw_xdp', 'pw_xdp_trace', 'pw_xdp_replay'] as const;
export const OBJECT_PATH = join(repoRoot, 'build', 'pathwise.bpf.o');

/** The BPF object's content hash: a restart with a different hash upgrades the program. */
export function objectHash(path = OBJECT_PATH): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
  } catch (e) {
    throw new PwError('PW_ERR_NOT_BUILT', `cannot read ${path}: ${(e as Error).message}`, { hint: "run 'make build'" });
  }
}

const BPF_F_RDONLY_PROG = 1 << 7;
const isDevmap = (type: number) => type === 14 || type === 25; // BPF_MAP_TYPE_DEVMAP, DEVMAP_HASH
const scalarU32 = abi.maps.pw_tx_ports.key;

/** pw_capture_progs[PIPELINE] = the given pw_xdp (a prog array takes program fds). */
function setPipelineSlot(obj: BpfObject<typeof abi>, xdpFd: number): void {
  const progs = obj.mapHandle('pw_capture_progs');
  try {
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(4);
    key.writeUInt32LE(abi.PwCaptureSlot.PIPELINE);
    value.writeUInt32LE(xdpFd);
    native().mapUpdate(progs.fd, key, value, 0);
  } finally {
    progs.close();
  }
}

export interface UpgradeResult {
  /** Maps whose contents the new program took over. */
  carried: string[];
  /** Maps created empty (their layout changed). */
  fresh: string[];
  /** Interfaces switched to the new program. */
  interfaces: string[];
  progId: number;
}

export function validInstance(name: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)) {
    throw new PwError('PW_ERR_INVALID', `invalid instance name '${name}'`, { hint: 'use 1-32 characters: a-z, 0-9, _ and -, starting with a letter or digit' });
  }
  return name;
}

export const pinDirOf = (instance: string) => `${BPFFS_ROOT}/pathwise/${validInstance(instance)}`;
export const metaDirOf = (instance: string) => `/run/pathwise/${validInstance(instance)}`;

function settingsFlags(s: PipelineSettings): number {
  const F = abi.PwSetting;
  return (
    (s.fib === 'kernel' ? F.FIB_KERNEL : 0) |
    (s.flows ? F.FLOWS : 0) |
    (s.routeStats ? F.ROUTE_STATS : 0) |
    (s.dropMalformed ? F.DROP_MALFORMED : 0) |
    (s.filter ? F.FILTER : 0)
  );
}

type Codecs<S> = S extends MapSpec<infer K, infer V> ? [K, V] : never;
type M<N extends keyof typeof abi.maps> = BpfMap<Codecs<(typeof abi.maps)[N]>[0], Codecs<(typeof abi.maps)[N]>[1]>;

/** Typed handles to every map of the pipeline. */
export interface PipelineMaps {
  /** Per-interface counters: by ifindex below PW_IF_DIRECT, hashed (ifStatsHi) above. */
  ifStats: PerCpuMap<number, abi.PwIfCounters>;
  ifStatsHi: PerCpuMap<number, abi.PwIfCounters>;
  fib4Tbl24: M<'pw_fib4_tbl24'>;
  fib4Tbl8: M<'pw_fib4_tbl8'>;
  fib6: M<'pw_fib6'>;
  routes: M<'pw_routes'>;
  routeStats: M<'pw_route_stats'>;
  nhgroups: M<'pw_nhgroups'>;
  nexthops: M<'pw_nexthops'>;
  nexthopStats: M<'pw_nexthop_stats'>;
  txPorts: M<'pw_tx_ports'>;
  neigh: M<'pw_neigh'>;
  flows: M<'pw_flows'>;
  block4: M<'pw_block4'>;
  block6: M<'pw_block6'>;
  ruleCtl: M<'pw_rule_ctl'>;
  rules: M<'pw_rules'>;
  ruleBitmaps: M<'pw_rule_bitmaps'>;
  ruleProto: M<'pw_rule_proto'>;
  ruleSport: M<'pw_rule_sport'>;
  ruleDport: M<'pw_rule_dport'>;
  ruleFlags: M<'pw_rule_flags'>;
  ruleIface: M<'pw_rule_iface'>;
  ruleIfaceHi: M<'pw_rule_iface_hi'>;
  ruleSrc4: M<'pw_rule_src4'>;
  ruleDst4: M<'pw_rule_dst4'>;
  ruleSrc6: M<'pw_rule_src6'>;
  ruleDst6: M<'pw_rule_dst6'>;
  ruleStats: PerCpuMap<number, abi.PwCounter>;
  ratelimits: M<'pw_ratelimits'>;
  ratelimitState: M<'pw_ratelimit_state'>;
  ringStats: PerCpuMap<number, abi.PwRingCounters>;
  eventsCtl: M<'pw_events_ctl'>;
  captureCtl: M<'pw_capture_ctl'>;
  /** Program fds by slot (enum pw_capture_slot); reads return program ids. */
  captureProgs: M<'pw_capture_progs'>;
  captureScratch: PerCpuMap<number, abi.PwCaptureScratch>;
  replayOut: M<'pw_replay_out'>;
  flowStats: PerCpuMap<number, abi.PwFlowCounters>;
  histogram: PerCpuMap<number, abi.PwHistogram>;
}

/** Typed handles to every map, each opened by `handle` (a pin, or a freshly loaded object). */
function openMaps(handle: (name: string) => ReturnType<typeof openPinned>): PipelineMaps {
  const open = <K, V>(spec: MapSpec<K, V>) => new BpfMap<K, V>(handle(spec.name), spec.key!, spec.value!);
  const perCpu = <K, V>(spec: MapSpec<K, V>) => new PerCpuMap<K, V>(handle(spec.name), spec.key!, spec.value!);
  const m = abi.maps;
  return {
    ifStats: perCpu(m.pw_if_stats),
    ifStatsHi: perCpu(m.pw_if_stats_hi),
    fib4Tbl24: open(m.pw_fib4_tbl24),
    fib4Tbl8: open(m.pw_fib4_tbl8),
    fib6: open(m.pw_fib6),
    routes: open(m.pw_routes),
    routeStats: open(m.pw_route_stats),
    nhgroups: open(m.pw_nhgroups),
    nexthops: open(m.pw_nexthops),
    nexthopStats: open(m.pw_nexthop_stats),
    txPorts: open(m.pw_tx_ports),
    neigh: open(m.pw_neigh),
    flows: open(m.pw_flows),
    block4: open(m.pw_block4),
    block6: open(m.pw_block6),
    ruleCtl: open(m.pw_rule_ctl),
    rules: open(m.pw_rules),
    ruleBitmaps: open(m.pw_rule_bitmaps),
    ruleProto: open(m.pw_rule_proto),
    ruleSport: open(m.pw_rule_sport),
    ruleDport: open(m.pw_rule_dport),
    ruleFlags: open(m.pw_rule_flags),
    ruleIface: open(m.pw_rule_iface),
    ruleIfaceHi: open(m.pw_rule_iface_hi),
    ruleSrc4: open(m.pw_rule_src4),
    ruleDst4: open(m.pw_rule_dst4),
    ruleSrc6: open(m.pw_rule_src6),
    ruleDst6: open(m.pw_rule_dst6),
    ruleStats: perCpu(m.pw_rule_stats),
    ratelimits: open(m.pw_ratelimits),
    ratelimitState: open(m.pw_ratelimit_state),
    ringStats: perCpu(m.pw_ring_stats),
    eventsCtl: open(m.pw_events_ctl),
    captureCtl: open(m.pw_capture_ctl),
    captureProgs: open(m.pw_capture_progs),
    captureScratch: perCpu(m.pw_capture_scratch),
    replayOut: open(m.pw_replay_out),
    flowStats: perCpu(m.pw_flow_stats),
    histogram: perCpu(m.pw_histogram),
  };
}

export class Pipeline {
  private constructor(
    readonly instance: string,
    readonly settings: PipelineSettings,
    readonly maps: PipelineMaps,
    readonly xdp: Program,
    readonly trace: Program,
    /** The pipeline with its side effects that also reports each decision (replay). */
    readonly replay: Program,
    /** True when this call loaded the pipeline (false: adopted from pins). */
    readonly created: boolean,
    /** Hash of the object the running program was loaded from (see objectHash). */
    readonly loadedHash: string | null = null,
  ) {}

  static isPinned(instance: string): boolean {
    return existsSync(join(pinDirOf(instance), 'pw_xdp'));
  }

  /**
   * Adopts the pinned pipeline of `instance`, or loads and pins one with `settings` when none
   * is pinned. Settings of an adopted pipeline are those it was loaded with.
   */
  static async open(instance: string, settings: Partial<PipelineSettings> = {}, opts: { create?: boolean } = {}): Promise<Pipeline> {
    ensureBpffs();
    const dir = pinDirOf(instance);
    if (Pipeline.isPinned(instance)) return Pipeline.adopt(instance);
    if (opts.create === false) {
      throw new PwError('PW_ERR_NOT_RUNNING', `no data plane is loaded for instance '${instance}'`, {
        where: dir,
        hint: "load it with 'pathwise attach IF' (or 'pathwise route add', which loads without attaching)",
      });
    }
    const s = { ...DEFAULT_SETTINGS, ...settings };
    mkdirSync(dir, { recursive: true });
    let obj: BpfObject<typeof abi> | undefined;
    try {
      obj = await BpfObject.load(OBJECT_PATH, {
        spec: abi,
        rodata: { pw_settings: { flags: settingsFlags(s) } },
        maxEntries: { pw_fib4_tbl8: s.ipv4Groups, pw_rule_bitmaps: s.ruleBitmaps },
        pinDir: dir,
      });
      // A capture filter returns into the pipeline through this slot (insight.bpf.h).
      setPipelineSlot(obj, obj.program('pw_xdp').fd);
      for (const p of PROGRAMS) {
        const prog = obj.program(p);
        // libbpf loads a program without BTF when the kernel refuses the object's BTF ("BTF is
        // optional"); the pipeline relies on it (bpf_loop callbacks need its function info).
        if (!prog.info().btfId) throw new PwError('PW_ERR_INTERNAL', `program ${p} was loaded without BTF: the kernel refused the object's BTF`);
        prog.pin(join(dir, p));
      }
      mkdirSync(metaDirOf(instance), { recursive: true });
      writeFileSync(join(metaDirOf(instance), 'meta.json'), JSON.stringify({ settings: s, objectHash: objectHash(), loadedAt: new Date().toISOString() }, null, 2));
    } catch (e) {
      obj?.close();
      removePinDir(dir);
      throw e;
    }
    obj.close();
    const p = Pipeline.adopt(instance);
    return new Pipeline(p.instance, p.settings, p.maps, p.xdp, p.trace, p.replay, true, p.loadedHash);
  }

  /**
   * Replaces the running program with one loaded from the current object and `settings`,
   * without a gap: the new program is loaded against the pinned maps (libbpf reuses every map
   * whose layout is unchanged, so routes, rules and counters carry over), then each interface
   * is switched with one atomic netlink replace (XDP_FLAGS_REPLACE, checked against the old
   * program), then the pins are renamed over. A map whose layout changed starts empty;
   * `prepare` sees the new program's maps before any interface switches, to fill them. If it
   * throws, nothing switches. If any interface refuses the switch, those already switched go
   * back to the old program.
   */
  static async upgrade(
    instance: string,
    settings: PipelineSettings,
    opts: { prepare?: (maps: PipelineMaps, fresh: string[]) => void } = {},
  ): Promise<UpgradeResult> {
    const dir = pinDirOf(instance);
    // Only the old program and settings: its maps may have an older layout than the codecs.
    const old = Pipeline.pinnedMeta(instance);
    const oldProg = Program.fromPin(join(dir, 'pw_xdp'), 'pw_xdp');
    try {
      if (settings.ipv4Groups !== old.settings.ipv4Groups || settings.ruleBitmaps !== old.settings.ruleBitmaps) {
        throw new PwError('PW_ERR_UNSUPPORTED', 'table sizes (pipeline.ipv4Groups, pipeline.ruleBitmaps) cannot change while the pipeline runs', {
          hint: "apply the new sizes after 'pathwise down' (which stops forwarding), or keep the old ones",
        });
      }
      const maxEntries: Record<string, number> = { pw_fib4_tbl8: settings.ipv4Groups, pw_rule_bitmaps: settings.ruleBitmaps };
      const carried: string[] = [];
      const fresh: string[] = [];
      // The kernel adds BPF_F_RDONLY_PROG to every devmap, and libbpf 1.1 then refuses to reuse
      // it ("parameter mismatch"): devmaps get a new map with the old one's entries copied.
      const copied: string[] = [];
      for (const spec of Object.values(abi.maps)) {
        if (!existsSync(join(dir, spec.name))) {
          fresh.push(spec.name);
          continue;
        }
        const fd = openPinned(join(dir, spec.name), 'map');
        try {
          const info = native().mapInfo(fd.fd);
          const same =
            info.type === spec.type &&
            info.keySize === spec.keySize &&
            info.valueSize === spec.valueSize &&
            info.maxEntries === (maxEntries[spec.name] ?? spec.maxEntries) &&
            (info.flags & ~(isDevmap(spec.type) ? BPF_F_RDONLY_PROG : 0)) === spec.flags;
          if (!same) fresh.push(spec.name);
          else if (isDevmap(spec.type)) copied.push(spec.name);
          else carried.push(spec.name);
        } finally {
          fd.close();
        }
      }
      const obj = await BpfObject.load(OBJECT_PATH, {
        spec: abi,
        rodata: { pw_settings: { flags: settingsFlags(settings) } },
        maxEntries: maxEntries as never,
        pinDir: dir,
        pinMaps: carried as never,
      });
      for (const name of copied) {
        const from = openPinned(join(dir, name), 'map');
        const to = obj.mapHandle(name);
        try {
          const src = new BpfMap<number, number>(from, scalarU32, scalarU32);
          const dst = new BpfMap<number, number>(to, scalarU32, scalarU32);
          for (const [k, v] of src.entries()) dst.set(k, v);
        } finally {
          from.close();
          to.close();
        }
      }
      const switched: { ifindex: number; name: string; mode: 'native' | 'generic' }[] = [];
      let progId = 0;
      try {
        if (opts.prepare) {
          const maps = openMaps((name) => obj.mapHandle(name));
          try {
            opts.prepare(maps, fresh);
          } finally {
            for (const m of Object.values(maps)) m.close();
          }
        }
        const newProg = obj.program('pw_xdp');
        progId = newProg.info().id;
        const oldId = oldProg.info().id;
        // The new programs are pinned beside the old ones first (bpffs names take no dots), so
        // nothing can fail between switching the interfaces and renaming the pins over.
        const staged = PROGRAMS.map((name) => [name, name === 'pw_xdp' ? newProg : obj.program(name)] as const);
        for (const [name, prog] of staged) {
          rmSync(join(dir, `${name}_next`), { force: true });
          prog.pin(join(dir, `${name}_next`));
        }
        try {
          for (const { name, ifindex } of native().interfaces()) {
            const state = queryXdp(ifindex);
            if (!state.mode || state.progId !== oldId) continue;
            const mode = state.mode as 'native' | 'generic';
            attachXdp(newProg, ifindex, { mode, replace: oldProg });
            switched.push({ ifindex, name, mode });
          }
        } catch (e) {
          for (const s of switched.reverse()) attachXdp(oldProg, s.ifindex, { mode: s.mode, replace: newProg });
          for (const [name] of staged) rmSync(join(dir, `${name}_next`), { force: true });
          throw e;
        }
        // A running capture's filter now returns into the new program.
        setPipelineSlot(obj, newProg.fd);
        // rename(2) is atomic on bpffs: the pin names never point at nothing.
        for (const [name, prog] of staged) {
          renameSync(join(dir, `${name}_next`), join(dir, name));
          prog.close();
        }
        for (const name of [...fresh, ...copied]) {
          const h = obj.mapHandle(name);
          try {
            if (existsSync(join(dir, name))) unlinkSync(join(dir, name));
            pinFd(h.fd, join(dir, name));
          } finally {
            h.close();
          }
        }
        const metaDir = metaDirOf(instance);
        mkdirSync(metaDir, { recursive: true });
        writeFileSync(join(metaDir, 'meta.json'), JSON.stringify({ settings, objectHash: objectHash(), loadedAt: new Date().toISOString() }, null, 2));
      } finally {
        obj.close();
      }
      return { carried: [...carried, ...copied], fresh, interfaces: switched.map((s) => s.name), progId };
    } finally {
      oldProg.close();
    }
  }

  /**
   * What the pinned pipeline of `instance` was loaded with, read without opening its maps
   * (whose layout may be an older release's).
   */
  static pinnedMeta(instance: string): { settings: PipelineSettings; loadedHash: string | null } {
    try {
      const meta = JSON.parse(readFileSync(join(metaDirOf(instance), 'meta.json'), 'utf8'));
      return { settings: { ...DEFAULT_SETTINGS, ...meta.settings }, loadedHash: meta.objectHash ?? null };
    } catch {
      // Metadata lost (e.g. /run cleared while pins stayed): defaults describe the maps well
      // enough; the program's own rodata still holds the real settings.
      return { settings: DEFAULT_SETTINGS, loadedHash: null };
    }
  }

  private static adopt(instance: string): Pipeline {
    const dir = pinDirOf(instance);
    const { settings, loadedHash } = Pipeline.pinnedMeta(instance);
    const maps = openMaps((name) => openPinned(join(dir, name), 'map'));
    const prog = (name: (typeof PROGRAMS)[number]) => Program.fromPin(join(dir, name), name);
    return new Pipeline(instance, settings, maps, prog('pw_xdp'), prog('pw_xdp_trace'), prog('pw_xdp_replay'), false, loadedHash);
  }

  /** Closes this process's handles; the pinned pipeline keeps running. */
  close(): void {
    for (const m of Object.values(this.maps)) m.close();
    this.xdp.close();
    this.trace.close();
    this.replay.close();
  }

  /** Unpins everything of an instance (callers detach interfaces first). */
  static unpin(instance: string): void {
    removePinDir(pinDirOf(instance));
    rmSync(metaDirOf(instance), { recursive: true, force: true });
    // The last instance gone: leave no empty directories behind.
    for (const dir of [dirname(pinDirOf(instance)), dirname(metaDirOf(instance))]) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty (other instances), or already gone
      }
    }
  }

  /**
   * Detaches the instance's program from every interface (of this network namespace) that
   * runs it, then unpins the instance. Needs no map, so it also removes an instance whose maps
   * an older or newer version laid out differently.
   */
  static down(instance: string): { detached: string[] } {
    const detached: string[] = [];
    const pinned = join(pinDirOf(instance), 'pw_xdp');
    if (existsSync(pinned)) {
      const prog = Program.fromPin(pinned, 'pw_xdp');
      try {
        const id = prog.info().id;
        for (const { name, ifindex } of native().interfaces()) {
          const state = queryXdp(ifindex);
          if (state.mode && state.progId === id) {
            detachXdp(ifindex, prog);
            detached.push(name);
          }
        }
      } finally {
        prog.close();
      }
    }
    Pipeline.unpin(instance);
    return { detached };
  }
}
