/**
 * What a pipeline is loaded from and with: the BPF object and its content hash, the settings
 * (and their rodata flags), the instance's meta.json, and the capture slot that points back
 * at the running program. Shared by loading (pipeline.ts) and upgrading (upgrade.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  BpfMap,
  bytesCodec,
  mapFdById,
  mapInfoOf,
  mapLayoutOf,
  MapType,
  objectMapLayouts,
  openPinned,
  progMapIds,
  Program,
  sameLayout,
  scalar,
  BpfObject,
  type NativeFd,
} from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { pinDirOf, runDirOf } from '../util/instance.js';
import { repoRoot } from '../util/paths.js';

export type FibMode = 'own' | 'kernel';

export interface PipelineSettings {
  fib: FibMode;
  /** Keep the flow table. */
  flows: boolean;
  /** Count packets/bytes per route and nexthop. */
  routeStats: boolean;
  /** Drop malformed packets instead of passing them to the kernel. */
  dropMalformed: boolean;
  /**
   * What becomes of a packet the rules cannot classify (its ports or flags unseen, while rules
   * match on them): dropped (the default: fail closed), or passed on as carrying none.
   */
  unclassified: 'drop' | 'pass';
  /** Second-level IPv4 FIB groups (one per /24 holding longer prefixes). */
  ipv4Groups: number;
  /** IPv6 FIB nodes below the first level (256 entries each; pw_fib6_nodes holds the first
   * level's 2^24 entries in front of them). */
  ipv6Nodes: number;
  /** Run the guard stage (blocklists, rules, rate limits). */
  filter: boolean;
  /** Distinct classifier bitmaps (2 KiB each) for both rule banks. */
  ruleBitmaps: number;
  /** Tracked connections of the load-balanced services (LRU), and as many reverse-NAT entries. */
  connections: number;
  /** Entries of the flow table (LRU). */
  flowEntries: number;
  /** Maglev slots for all services' tables (two each), a multiple of LB_SLOTS_PER_ELEM. */
  serviceSlots: number;
}

export const DEFAULT_SETTINGS: PipelineSettings = {
  fib: 'own',
  flows: true,
  routeStats: true,
  dropMalformed: false,
  unclassified: 'drop',
  ipv4Groups: abi.PwLimit.FIB4_TBL8_GROUPS,
  ipv6Nodes: abi.PwLimit.FIB6_NODES,
  filter: true,
  ruleBitmaps: abi.PwLimit.RULE_BITMAPS,
  connections: abi.PwLimit.LB_CT_MAX,
  flowEntries: abi.PwLimit.FLOWS_MAX,
  serviceSlots: abi.PwLimit.LB_TABLE_SLOTS,
};

/**
 * The settings that size maps, and the maps each sizes. A size is fixed when the map is made:
 * an upgrade, which carries the maps' contents over, keeps it (checkUpgradable).
 */
export const SIZED_MAPS = {
  ipv4Groups: ['pw_fib4_tbl8'],
  ipv6Nodes: ['pw_fib6_nodes'],
  ruleBitmaps: ['pw_rule_bitmaps'],
  connections: ['pw_lb_ct', 'pw_lb_rnat'],
  flowEntries: ['pw_flows'],
  serviceSlots: ['pw_lb_maglev'],
} as const satisfies Record<string, readonly (keyof typeof abi.maps)[]>;

/** Units of a setting in one map entry: a pw_lb_maglev element holds 16 slots; elsewhere one. */
const PER_ENTRY: Partial<Record<keyof typeof SIZED_MAPS, number>> = { serviceSlots: abi.PwLimit.LB_SLOTS_PER_ELEM };
/** Entries a map holds in front of the setting's: pw_fib6_nodes starts with the first level. */
const FIXED_ENTRIES: Partial<Record<keyof typeof SIZED_MAPS, number>> = { ipv6Nodes: abi.PwLimit.FIB6_ROOT_NODES };

export type SizeSetting = keyof typeof SIZED_MAPS;
export const SIZE_SETTINGS = Object.keys(SIZED_MAPS) as SizeSetting[];

/** max_entries of each sized map under settings `s`, by map name (for the loader). */
export function mapSizes(s: PipelineSettings): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of SIZE_SETTINGS) for (const m of SIZED_MAPS[k]) out[m] = (FIXED_ENTRIES[k] ?? 0) + Math.ceil(s[k] / (PER_ENTRY[k] ?? 1));
  return out;
}

/** Typed handles to every map of the pipeline (generated from the object's BTF). */
export type PipelineMaps = abi.Maps;

export const OBJECT_PATH = join(repoRoot, 'build', 'pathwise.bpf.o');
/** The same pipeline built for TC ingress (bpf/pathwise-tc.bpf.c), loaded on the XDP object's maps. */
export const TC_OBJECT_PATH = join(repoRoot, 'build', 'pathwise-tc.bpf.o');
export const TC_PROGRAM = 'pw_tc';

/** The BPF objects' content hash: a restart with a different hash upgrades the programs. */
export function objectHash(paths = [OBJECT_PATH, TC_OBJECT_PATH]): string {
  const h = createHash('sha256');
  for (const path of paths) {
    try {
      h.update(readFileSync(path));
    } catch (e) {
      throw new PwError('PW_ERR_NOT_BUILT', `cannot read ${path}: ${(e as Error).message}`, { hint: "run 'make build'" });
    }
  }
  return h.digest('hex').slice(0, 16);
}

const tcSpec = { maps: abi.maps, rodata: abi.rodata, programs: [TC_PROGRAM] } as const;

/**
 * Loads the XDP pipeline object with `settings`: its features (rodata flags) and map sizes.
 * With `pinDir`, libbpf reuses the maps pinned there and pins the new ones; without, nothing is
 * pinned (doctor's check).
 */
export function loadXdpPipeline(settings: PipelineSettings, pinDir?: string): Promise<BpfObject<typeof abi>> {
  return BpfObject.load(OBJECT_PATH, {
    spec: abi,
    rodata: { pw_settings: { flags: settingsFlags(settings) } },
    maxEntries: mapSizes(settings),
    ...(pinDir ? { pinDir } : {}),
  });
}

/**
 * Loads the TC pipeline on the maps of a loaded XDP pipeline object: every map is that
 * object's, so both programs keep one state (routes, rules, services, connections, counters).
 * Devmaps excepted: TC redirects by ifindex, and needs none. The caller pins the program and
 * closes the object.
 */
export async function loadTcPipeline(xdp: BpfObject<typeof abi>, settings: PipelineSettings): Promise<BpfObject<typeof tcSpec>> {
  const handles = xdp
    .maps()
    .filter((m) => !m.internal && !isDevmap(m.type))
    .map((m) => ({ name: m.name, fd: xdp.mapHandle(m.name) }));
  try {
    return await BpfObject.load(TC_OBJECT_PATH, {
      spec: tcSpec,
      rodata: { pw_settings: { flags: settingsFlags(settings) } },
      reuseMaps: Object.fromEntries(handles.map((h) => [h.name, h.fd.fd])),
    });
  } finally {
    for (const h of handles) h.fd.close();
  }
}

export const isDevmap = (type: number) => type === MapType.DEVMAP || type === MapType.DEVMAP_HASH;

/**
 * pw_capture_progs[PIPELINE] = the given pw_xdp, and pw_tc_capture_progs[PIPELINE] = pw_tc: a
 * capture filter returns into its pipeline (insight.bpf.h).
 */
export function setPipelineSlot(obj: BpfObject<typeof abi>, xdp: Program, tc?: Program): void {
  for (const [spec, prog] of [
    [abi.maps.pw_capture_progs, xdp],
    [abi.maps.pw_tc_capture_progs, tc],
  ] as const) {
    if (!prog) continue;
    const progs = obj.map(spec);
    try {
      progs.set(abi.PwCaptureSlot.PIPELINE, prog.fd); // a prog array takes program fds
    } finally {
      progs.close();
    }
  }
}

/**
 * Refuses settings a program upgrade cannot move to: the sizes of tables whose contents are
 * carried over (a resized map would start empty).
 */
export function checkUpgradable(from: PipelineSettings, to: PipelineSettings): void {
  const changed = SIZE_SETTINGS.filter((k) => to[k] !== from[k]);
  if (changed.length) {
    throw new PwError(
      'PW_ERR_UNSUPPORTED',
      `table sizes cannot change while the pipeline runs: ${changed.map((k) => `pipeline.${k} ${from[k]} -> ${to[k]}`).join(', ')}`,
      {
        where: 'pipeline',
        hint: "apply the new sizes after 'pathwise down' (which stops forwarding), or keep the old ones",
      },
    );
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

export function settingsFlags(s: PipelineSettings): number {
  const F = abi.PwSetting;
  return (
    (s.fib === 'kernel' ? F.FIB_KERNEL : 0) |
    (s.flows ? F.FLOWS : 0) |
    (s.routeStats ? F.ROUTE_STATS : 0) |
    (s.dropMalformed ? F.DROP_MALFORMED : 0) |
    (s.unclassified === 'pass' ? F.PASS_UNCLASSIFIED : 0) |
    (s.filter ? F.FILTER : 0)
  );
}

/** Settings from rodata flags (the sizes are the maps'). */
export function settingsFromFlags(flags: number, sizes: Pick<PipelineSettings, SizeSetting>): PipelineSettings {
  const F = abi.PwSetting;
  return {
    fib: flags & F.FIB_KERNEL ? 'kernel' : 'own',
    flows: !!(flags & F.FLOWS),
    routeStats: !!(flags & F.ROUTE_STATS),
    dropMalformed: !!(flags & F.DROP_MALFORMED),
    unclassified: flags & F.PASS_UNCLASSIFIED ? 'pass' : 'drop',
    filter: !!(flags & F.FILTER),
    ...sizes,
  };
}

export function writeMeta(instance: string, settings: PipelineSettings, hash = objectHash()): void {
  writeFileAtomic(
    join(runDirOf(instance), 'meta.json'),
    JSON.stringify({ settings, objectHash: hash, loadedAt: new Date().toISOString() }, null, 2),
  );
}

/**
 * What the pinned pipeline of `instance` was loaded with: meta.json, or when that is lost
 * (/run cleared while the pins stayed), what the pins themselves say — the table sizes from
 * the maps, the settings from the program's rodata — so that an upgrade never mistakes a
 * non-default table for a new one and recreates it empty. Reads no map through the codecs (the
 * maps may be an older release's).
 */
export function pinnedMeta(instance: string): { settings: PipelineSettings; loadedHash: string | null; derived: boolean } {
  try {
    const meta = JSON.parse(readFileSync(join(runDirOf(instance), 'meta.json'), 'utf8'));
    return { settings: { ...DEFAULT_SETTINGS, ...meta.settings }, loadedHash: meta.objectHash ?? null, derived: false };
  } catch {
    return { settings: settingsFromPins(instance), loadedHash: null, derived: true };
  }
}

function settingsFromPins(instance: string): PipelineSettings {
  const dir = pinDirOf(instance);
  const layouts = objectMapLayouts(OBJECT_PATH);
  /** The pinned map's entries, and whether it has this release's layout; null if none. */
  const pinned = (name: string) => {
    try {
      const fd = openPinned(join(dir, name), 'map');
      try {
        const current = sameLayout(mapLayoutOf(fd.fd, name), layouts[name] ?? { key: null, value: null });
        return { maxEntries: mapInfoOf(fd).maxEntries, current };
      } finally {
        fd.close();
      }
    } catch {
      return null;
    }
  };
  const sizes = Object.fromEntries(
    SIZE_SETTINGS.map((k) => {
      const per = PER_ENTRY[k] ?? 1;
      const map = pinned(SIZED_MAPS[k][0]);
      if (!map) return [k, DEFAULT_SETTINGS[k]];
      // The fixed part is this release's: a map of an earlier layout has none (the IPv6 FIB's
      // nodes until 2026-12-06 counted its first level's 256 among them: all are nodes).
      return [k, (map.maxEntries - (map.current ? (FIXED_ENTRIES[k] ?? 0) : 0)) * per];
    }),
  ) as Pick<PipelineSettings, SizeSetting>;
  const flags = rodataFlags(join(dir, 'pw_xdp'));
  return flags === null ? { ...DEFAULT_SETTINGS, ...sizes } : settingsFromFlags(flags, sizes);
}

/** pw_settings.flags as the pinned program at `path` was loaded with (its .rodata map), or null. */
function rodataFlags(path: string): number | null {
  let prog: Program | undefined;
  try {
    prog = Program.fromPin(path, 'pw_xdp');
    for (const id of progMapIds(prog.fd)) {
      const fd = mapFdById(id);
      try {
        const info = mapInfoOf(fd);
        if (info.type !== MapType.ARRAY || !info.name.endsWith('.rodata')) continue;
        const v = mapLayoutOf(fd.fd, info.name).value?.fields.find((f) => f.name === 'pw_settings');
        if (!v) continue;
        const m = new BpfMap(borrowFd(fd), scalar.u32, bytesCodec(info.valueSize));
        const bytes = m.get(0);
        if (!bytes) return null;
        const settings = abi.PwSettings.decode(new DataView(bytes.buffer, bytes.byteOffset + v.offset, abi.PwSettings.size), 0);
        return settings.flags;
      } finally {
        fd.close();
      }
    }
    return null;
  } catch {
    return null;
  } finally {
    prog?.close();
  }
}

/** An fd view whose close() does nothing, for a handle that must not close its owner's fd. */
export function borrowFd(fd: NativeFd): NativeFd {
  return { fd: fd.fd, kind: fd.kind, closed: false, close: () => undefined };
}
