/**
 * The pinned pipeline of one Pathwise instance: the XDP programs and every map, pinned under
 * /sys/fs/bpf/pathwise/<instance>/ so the data plane outlives any process that drives it.
 * open() adopts what is pinned; when nothing is, it loads the object with the given settings
 * and pins it. Instance metadata (settings) lives in /run/pathwise/<instance>/meta.json, which
 * like bpffs does not outlive a reboot.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

import {
  BpfMap,
  BpfObject,
  MapFlags,
  MapType,
  Program,
  RawMap,
  attachXdp,
  detachXdp,
  ensureBpffs,
  kernelLinks,
  openPinned,
  pinFd,
  queryXdp,
  removePinDir,
} from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { pinDirOf, runDirOf, validInstance } from '../util/instance.js';
import { repoRoot } from '../util/paths.js';

export { pinDirOf, runDirOf, validInstance };

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
  unclassified: 'drop',
  ipv4Groups: abi.PwLimit.FIB4_TBL8_GROUPS,
  filter: true,
  ruleBitmaps: abi.PwLimit.RULE_BITMAPS,
};

/** Typed handles to every map of the pipeline (generated from the object's BTF). */
export type PipelineMaps = abi.Maps;

export const OBJECT_PATH = join(repoRoot, 'build', 'pathwise.bpf.o');

/** The BPF object's content hash: a restart with a different hash upgrades the program. */
export function objectHash(path = OBJECT_PATH): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
  } catch (e) {
    throw new PwError('PW_ERR_NOT_BUILT', `cannot read ${path}: ${(e as Error).message}`, { hint: "run 'make build'" });
  }
}

const isDevmap = (type: number) => type === MapType.DEVMAP || type === MapType.DEVMAP_HASH;

/** pw_capture_progs[PIPELINE] = the given pw_xdp: a capture filter returns into it (insight.bpf.h). */
function setPipelineSlot(obj: BpfObject<typeof abi>, xdp: Program): void {
  const progs = obj.map(abi.maps.pw_capture_progs);
  try {
    progs.set(abi.PwCaptureSlot.PIPELINE, xdp.fd); // a prog array takes program fds
  } finally {
    progs.close();
  }
}

/**
 * Refuses settings a program upgrade cannot move to: the sizes of tables whose contents are
 * carried over (a resized map would start empty).
 */
export function checkUpgradable(from: PipelineSettings, to: PipelineSettings): void {
  if (to.ipv4Groups !== from.ipv4Groups || to.ruleBitmaps !== from.ruleBitmaps) {
    throw new PwError(
      'PW_ERR_UNSUPPORTED',
      'table sizes (pipeline.ipv4Groups, pipeline.ruleBitmaps) cannot change while the pipeline runs',
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

function settingsFlags(s: PipelineSettings): number {
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

function writeMeta(instance: string, settings: PipelineSettings): void {
  writeFileAtomic(
    join(runDirOf(instance), 'meta.json'),
    JSON.stringify({ settings, objectHash: objectHash(), loadedAt: new Date().toISOString() }, null, 2),
  );
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
      setPipelineSlot(obj, obj.program('pw_xdp'));
      for (const p of abi.programs) {
        const prog = obj.program(p);
        // libbpf loads a program without BTF when the kernel refuses the object's BTF ("BTF is
        // optional"); the pipeline relies on it (bpf_loop callbacks need its function info).
        if (!prog.info().btfId)
          throw new PwError('PW_ERR_INTERNAL', `program ${p} was loaded without BTF: the kernel refused the object's BTF`);
        prog.pin(join(dir, p));
      }
      writeMeta(instance, s);
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
      checkUpgradable(old.settings, settings);
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
        const pinned = new RawMap(openPinned(join(dir, spec.name), 'map'));
        try {
          const info = pinned.info;
          const same =
            info.type === spec.type &&
            info.keySize === spec.keySize &&
            info.valueSize === spec.valueSize &&
            info.maxEntries === (maxEntries[spec.name] ?? spec.maxEntries) &&
            (info.flags & ~(isDevmap(spec.type) ? MapFlags.RDONLY_PROG : 0)) === spec.flags;
          if (!same) fresh.push(spec.name);
          else if (isDevmap(spec.type)) copied.push(spec.name);
          else carried.push(spec.name);
        } finally {
          pinned.close();
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
        const spec = abi.maps[name as abi.MapName] as typeof abi.maps.pw_tx_ports;
        const src = new BpfMap(openPinned(join(dir, name), 'map'), spec.key, spec.value);
        const dst = obj.map(spec);
        try {
          for (const [k, v] of src.entries()) dst.set(k, v);
        } finally {
          src.close();
          dst.close();
        }
      }
      const switched: { ifindex: number; name: string; mode: 'native' | 'generic' }[] = [];
      let progId = 0;
      try {
        if (opts.prepare) {
          const maps = abi.openMaps((name) => obj.mapHandle(name));
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
        const staged = abi.programs.map((name) => [name, name === 'pw_xdp' ? newProg : obj.program(name)] as const);
        for (const [name, prog] of staged) {
          rmSync(join(dir, `${name}_next`), { force: true });
          prog.pin(join(dir, `${name}_next`));
        }
        try {
          for (const { name, ifindex } of kernelLinks()) {
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
        setPipelineSlot(obj, newProg);
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
        writeMeta(instance, settings);
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
      const meta = JSON.parse(readFileSync(join(runDirOf(instance), 'meta.json'), 'utf8'));
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
    const maps = abi.openMaps((name) => openPinned(join(dir, name), 'map'));
    const prog = (name: abi.ProgramName) => Program.fromPin(join(dir, name), name);
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
    rmSync(runDirOf(instance), { recursive: true, force: true });
    // The last instance gone: leave no empty directories behind.
    for (const dir of [dirname(pinDirOf(instance)), dirname(runDirOf(instance))]) {
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
        for (const { name, ifindex } of kernelLinks()) {
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
