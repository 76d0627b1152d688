/**
 * The pinned pipeline of one Pathwise instance: the XDP programs and every map, pinned under
 * /sys/fs/bpf/pathwise/<instance>/ so the data plane outlives any process that drives it.
 * open() adopts what is pinned; when nothing is, it loads the object with the given settings
 * and pins it. Instance metadata (settings) lives in /run/pathwise/<instance>/meta.json, which
 * like bpffs does not outlive a reboot.
 */
import { existsSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { BpfObject, Program, detachXdp, ensureBpffs, kernelLinks, openPinned, queryXdp, removePinDir } from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { pinDirOf, runDirOf, validInstance } from '../util/instance.js';
import {
  DEFAULT_SETTINGS,
  loadTcPipeline,
  loadXdpPipeline,
  pinnedMeta,
  TC_PROGRAM,
  setPipelineSlot,
  writeMeta,
  type PipelineMaps,
  type PipelineSettings,
} from './pipeline-object.js';
import { detachTcPipeline, tcProgramOn } from './tc-hook.js';
import { recoverPipeline, upgradePipeline, type Recovery, type UpgradeOptions } from './upgrade.js';

export { pinDirOf, runDirOf, validInstance };
export {
  checkUpgradable,
  DEFAULT_SETTINGS,
  objectHash,
  OBJECT_PATH,
  type FibMode,
  type PipelineMaps,
  type PipelineSettings,
  type UpgradeResult,
} from './pipeline-object.js';
export type { Recovery, UpgradeOptions } from './upgrade.js';

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
    /** Moves the flow cache into the flow table (flushFlowCache); null for a pipeline pinned
     * by a version without the cache. */
    readonly flush: Program | null = null,
    /** The same pipeline for TC ingress, on the same maps; null for a pipeline pinned by a
     * version without it (an upgrade adds it). */
    readonly tc: Program | null = null,
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
      obj = await loadXdpPipeline(s, dir);
      for (const p of abi.programs) {
        const prog = obj.program(p);
        // libbpf loads a program without BTF when the kernel refuses the object's BTF ("BTF is
        // optional"); the pipeline relies on it (bpf_loop callbacks need its function info).
        if (!prog.info().btfId)
          throw new PwError('PW_ERR_INTERNAL', `program ${p} was loaded without BTF: the kernel refused the object's BTF`);
        prog.pin(join(dir, p));
      }
      const tc = await loadTcPipeline(obj, s);
      try {
        setPipelineSlot(obj, obj.program('pw_xdp'), tc.program(TC_PROGRAM));
        tc.program(TC_PROGRAM).pin(join(dir, TC_PROGRAM));
      } finally {
        tc.close();
      }
      writeMeta(instance, s);
    } catch (e) {
      obj?.close();
      removePinDir(dir);
      throw e;
    }
    obj.close();
    const p = Pipeline.adopt(instance);
    return new Pipeline(p.instance, p.settings, p.maps, p.xdp, p.trace, p.replay, true, p.loadedHash, p.flush, p.tc);
  }

  /** Replaces the running program without a gap, crash-safe (upgrade.ts). */
  static upgrade(instance: string, settings: PipelineSettings, opts: UpgradeOptions = {}) {
    return upgradePipeline(instance, settings, opts);
  }

  /** Finishes or undoes an interrupted upgrade and adopts orphans (upgrade.ts); under the instance lock. */
  static recover(instance: string): Recovery {
    return recoverPipeline(instance);
  }

  /** What the pinned pipeline was loaded with (meta.json, or the pins when it is lost). */
  static pinnedMeta(instance: string): { settings: PipelineSettings; loadedHash: string | null } {
    return pinnedMeta(instance);
  }

  private static adopt(instance: string): Pipeline {
    const dir = pinDirOf(instance);
    const { settings, loadedHash } = pinnedMeta(instance);
    const maps = abi.openMaps((name) => openPinned(join(dir, name), 'map'));
    const prog = (name: abi.ProgramName) => Program.fromPin(join(dir, name), name);
    const flush = existsSync(join(dir, 'pw_xdp_flush')) ? prog('pw_xdp_flush') : null;
    const tc = existsSync(join(dir, TC_PROGRAM)) ? Program.fromPin(join(dir, TC_PROGRAM), TC_PROGRAM) : null;
    return new Pipeline(
      instance,
      settings,
      maps,
      prog('pw_xdp'),
      prog('pw_xdp_trace'),
      prog('pw_xdp_replay'),
      false,
      loadedHash,
      flush,
      tc,
    );
  }

  /** Closes this process's handles; the pinned pipeline keeps running. */
  close(): void {
    for (const m of Object.values(this.maps)) m.close();
    this.xdp.close();
    this.trace.close();
    this.replay.close();
    this.flush?.close();
    this.tc?.close();
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
    const tcPinned = join(pinDirOf(instance), TC_PROGRAM);
    if (existsSync(tcPinned)) {
      const prog = Program.fromPin(tcPinned, TC_PROGRAM);
      try {
        const id = prog.info().id;
        for (const { name, ifindex } of kernelLinks()) {
          if (tcProgramOn(ifindex) !== id) continue;
          detachTcPipeline(ifindex);
          if (!detached.includes(name)) detached.push(name);
        }
      } finally {
        prog.close();
      }
    }
    Pipeline.unpin(instance);
    return { detached };
  }
}
