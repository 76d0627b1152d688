/**
 * Replacing an instance's running program without a gap, and without losing anything to a
 * crash at any point of it.
 *
 * The new program is loaded against the pinned maps: a map whose layout (its BTF key and value
 * types, sizes and flags) is unchanged is shared; one whose layout changed gets a new map, into
 * which the old entries move field by field (map-migration.ts), and `prepare` may fill it
 * further. The new programs and new maps are pinned beside the old ones (NAME_next), a journal
 * says so, then each interface is switched with one atomic netlink replace, then the journal
 * says so, then the NAME_next pins are renamed over (rename(2) is atomic on bpffs). A crash
 * leaves a journal that recoverPipeline() acts on: before every interface was switched, it
 * switches them back and drops the new pins (and restores the files `prepare` rewrote); after,
 * it finishes the renames. Recovery also finds orphans: interfaces running a program that uses
 * this instance's maps but is not its pinned one, and switches them to the pinned program.
 *
 * All of it runs under the instance lock (instance-lock.ts).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

import {
  BpfMap,
  BpfObject,
  attachXdp,
  kernelLinks,
  MapFlags,
  mapLayoutOf,
  objectMapLayouts,
  openPinned,
  pinFd,
  progFdById,
  progMapIds,
  Program,
  queryXdp,
  RawMap,
  sameLayout,
  type MapLayout,
  type NativeFd,
} from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { writeFileAtomic } from '../util/fs.js';
import { pinDirOf, runDirOf } from '../util/instance.js';
import { flushFlowCache } from './insight-tables.js';
import { migrateMap, type Migration } from './map-migration.js';
import { attachTcPipeline, tcProgramOn } from './tc-hook.js';
import {
  checkUpgradable,
  isDevmap,
  loadTcPipeline,
  mapSizes,
  objectHash,
  OBJECT_PATH,
  pinnedMeta,
  setPipelineSlot,
  settingsFlags,
  TC_PROGRAM,
  writeMeta,
  type PipelineMaps,
  type PipelineSettings,
  type UpgradeResult,
} from './pipeline-object.js';

interface Journal {
  /** staged: new pins in place, interfaces may run either program; switched: all run the new one. */
  state: 'staged' | 'switched';
  oldProgId: number;
  newProgId: number;
  /** The TC pipeline's programs (oldId null: the old pipeline had none). */
  tc?: { oldId: number | null; newId: number };
  settings: PipelineSettings;
  objectHash: string;
  /** Pin names staged as NAME_next. */
  staged: string[];
  /** Files saved before `prepare` (restored on roll back): their paths. */
  saved: string[];
}

const journalFile = (instance: string) => join(runDirOf(instance), 'upgrade-journal.json');
const savedDir = (instance: string) => join(runDirOf(instance), 'upgrade-saved');
const savedCopy = (instance: string, file: string) => join(savedDir(instance), basename(file));

function writeJournal(instance: string, j: Journal): void {
  writeFileAtomic(journalFile(instance), JSON.stringify(j, null, 2));
}

function readJournal(instance: string): Journal | null {
  try {
    return JSON.parse(readFileSync(journalFile(instance), 'utf8')) as Journal;
  } catch {
    return null;
  }
}

function endJournal(instance: string): void {
  rmSync(journalFile(instance), { force: true });
  rmSync(savedDir(instance), { recursive: true, force: true });
}

/** Copies of `files` (a missing one recorded as missing) for a roll back. */
function saveFiles(instance: string, files: string[]): void {
  rmSync(savedDir(instance), { recursive: true, force: true });
  mkdirSync(savedDir(instance), { recursive: true });
  for (const f of files) if (existsSync(f)) copyFileSync(f, savedCopy(instance, f));
}

function restoreFiles(instance: string, files: string[]): void {
  for (const f of files) {
    const copy = savedCopy(instance, f);
    if (existsSync(copy)) writeFileAtomic(f, readFileSync(copy));
    else rmSync(f, { force: true });
  }
}

/** The pinned pipelines back in their capture slots (setPipelineSlot, on the pins). */
function setSlot(dir: string, prog: Program): void {
  const tc = existsSync(join(dir, TC_PROGRAM)) ? Program.fromPin(join(dir, TC_PROGRAM), TC_PROGRAM) : null;
  try {
    for (const [spec, p] of [
      [abi.maps.pw_capture_progs, prog],
      [abi.maps.pw_tc_capture_progs, tc],
    ] as const) {
      if (!p || !existsSync(join(dir, spec.name))) continue;
      const progs = new BpfMap(openPinned(join(dir, spec.name), 'map'), spec.key, spec.value);
      try {
        progs.set(abi.PwCaptureSlot.PIPELINE, p.fd);
      } finally {
        progs.close();
      }
    }
  } finally {
    tc?.close();
  }
}

export interface UpgradeOptions {
  /** Fills the new program's maps before any interface switches (fresh: the maps created anew). */
  prepare?: (maps: PipelineMaps, fresh: string[]) => void;
  /** Files `prepare` may rewrite: restored if the upgrade is rolled back. */
  files?: string[];
  /** Test hook: throws after this step, leaving the journal as a crash would. */
  crashAfter?: 'staged' | 'switched' | 'renamed-one';
}

/**
 * The old program's flow cache, left behind by a new layout: its slots' pending counts move
 * into the flow table and the route counters (which the new program shares when their layout
 * is the same), by the old pw_xdp_flush on each CPU. After the switch, so nothing pends there
 * any more: on each CPU the test run and the XDP path never interleave. A pipeline pinned
 * before the cache has no flush program and nothing to flush. Best effort: the upgrade stands
 * if it fails, with those counts lost.
 */
function flushOldFlowCache(dir: string): void {
  const path = join(dir, 'pw_xdp_flush');
  if (!existsSync(path)) return;
  try {
    const flush = Program.fromPin(path, 'pw_xdp_flush');
    try {
      flushFlowCache({ flush });
    } finally {
      flush.close();
    }
  } catch {
    // counts lost, as before the flush existed
  }
}

/**
 * Test hook: PATHWISE_FAULT_INJECT=upgrade-pause:MS makes each step between staging and the
 * last rename take MS longer, so that the crash tests' kill -9 lands inside that window often
 * (it is a few milliseconds otherwise).
 */
function pauseForTests(): Promise<void> {
  const m = /^upgrade-pause:(\d+)$/.exec(process.env.PATHWISE_FAULT_INJECT ?? '');
  return m ? new Promise((r) => setTimeout(r, Number(m[1]))) : Promise.resolve();
}

export async function upgradePipeline(
  instance: string,
  settings: PipelineSettings,
  opts: UpgradeOptions = {},
): Promise<UpgradeResult & { migrated: Migration[] }> {
  const dir = pinDirOf(instance);
  const old = pinnedMeta(instance);
  const oldProg = Program.fromPin(join(dir, 'pw_xdp'), 'pw_xdp');
  const oldTc = existsSync(join(dir, TC_PROGRAM)) ? Program.fromPin(join(dir, TC_PROGRAM), TC_PROGRAM) : null;
  try {
    checkUpgradable(old.settings, settings);
    const maxEntries = mapSizes(settings);
    const layouts = objectMapLayouts(OBJECT_PATH);
    const carried: string[] = [];
    const fresh: string[] = [];
    // The kernel adds BPF_F_RDONLY_PROG to every devmap, and libbpf 1.1 then refuses to reuse
    // it ("parameter mismatch"): devmaps get a new map with the old one's entries copied.
    const copied: string[] = [];
    const oldLayouts = new Map<string, { layout: MapLayout; type: number; keySize: number; valueSize: number }>();
    for (const spec of Object.values(abi.maps)) {
      if (!existsSync(join(dir, spec.name))) {
        fresh.push(spec.name);
        continue;
      }
      const pinned = new RawMap(openPinned(join(dir, spec.name), 'map'));
      try {
        const info = pinned.info;
        const layout = mapLayoutOf(pinned.fd, spec.name);
        oldLayouts.set(spec.name, { layout, type: info.type, keySize: info.keySize, valueSize: info.valueSize });
        const same =
          info.type === spec.type &&
          info.keySize === spec.keySize &&
          info.valueSize === spec.valueSize &&
          info.maxEntries === (maxEntries[spec.name] ?? spec.maxEntries) &&
          (info.flags & ~(isDevmap(spec.type) ? MapFlags.RDONLY_PROG : 0)) === spec.flags &&
          // Same sizes are not enough: a field renamed or retyped in place changes its meaning.
          sameLayout(layout, layouts[spec.name] ?? { key: null, value: null });
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
    const migrated: Migration[] = [];
    const switched: { ifindex: number; name: string; mode: 'native' | 'generic' }[] = [];
    const switchedTc: { ifindex: number; name: string }[] = [];
    let progId = 0;
    const staged: string[] = [];
    let tcObj: Awaited<ReturnType<typeof loadTcPipeline>> | undefined;
    try {
      tcObj = await loadTcPipeline(obj, settings);
      const newTc = tcObj.program(TC_PROGRAM);
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
      // Entries of maps whose layout changed move into the new maps, field by field.
      for (const name of fresh) {
        const was = oldLayouts.get(name);
        const spec = abi.maps[name as abi.MapName];
        if (!was || was.type !== spec.type || was.keySize !== spec.keySize) continue;
        const oldFd = openPinned(join(dir, name), 'map');
        const newFd: NativeFd = obj.mapHandle(name as abi.MapName);
        try {
          const m = migrateMap(name, spec.type, oldFd, newFd, was.layout, layouts[name] ?? { key: null, value: null }, {
            key: spec.keySize,
            oldValue: was.valueSize,
            newValue: spec.valueSize,
          });
          if (m) migrated.push(m);
        } finally {
          oldFd.close();
          newFd.close();
        }
      }
      if (opts.files) saveFiles(instance, opts.files);
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
      // Everything new is pinned beside the old (bpffs names take no dots) before anything
      // switches, and the journal says so.
      for (const name of abi.programs) {
        rmSync(join(dir, `${name}_next`), { force: true });
        obj.program(name).pin(join(dir, `${name}_next`));
        staged.push(name);
      }
      rmSync(join(dir, `${TC_PROGRAM}_next`), { force: true });
      newTc.pin(join(dir, `${TC_PROGRAM}_next`));
      staged.push(TC_PROGRAM);
      const oldTcId = oldTc?.info().id ?? null;
      for (const name of [...fresh, ...copied]) {
        const h = obj.mapHandle(name as abi.MapName);
        try {
          rmSync(join(dir, `${name}_next`), { force: true });
          pinFd(h.fd, join(dir, `${name}_next`));
          staged.push(name);
        } finally {
          h.close();
        }
      }
      const journal: Journal = {
        state: 'staged',
        oldProgId: oldId,
        newProgId: progId,
        tc: { oldId: oldTcId, newId: newTc.info().id },
        settings,
        objectHash: objectHash(),
        staged,
        saved: opts.files ?? [],
      };
      writeJournal(instance, journal);
      if (opts.crashAfter === 'staged') throw new Error('test: crash after staging');
      await pauseForTests();
      try {
        for (const { name, ifindex } of kernelLinks()) {
          const state = queryXdp(ifindex);
          if (!state.mode || state.progId !== oldId) continue;
          const mode = state.mode as 'native' | 'generic';
          attachXdp(newProg, ifindex, { mode, replace: oldProg });
          switched.push({ ifindex, name, mode });
          await pauseForTests();
        }
        for (const { name, ifindex } of oldTcId === null ? [] : kernelLinks()) {
          if (tcProgramOn(ifindex) !== oldTcId) continue;
          attachTcPipeline(newTc, ifindex, true); // one atomic replace, as for XDP
          switchedTc.push({ ifindex, name });
          await pauseForTests();
        }
      } catch (e) {
        for (const s of switchedTc.reverse()) attachTcPipeline(oldTc!, s.ifindex, true);
        for (const s of switched.reverse()) attachXdp(oldProg, s.ifindex, { mode: s.mode, replace: newProg });
        for (const name of staged) rmSync(join(dir, `${name}_next`), { force: true });
        if (opts.files) restoreFiles(instance, opts.files);
        endJournal(instance);
        throw e;
      }
      writeJournal(instance, { ...journal, state: 'switched' });
      if (opts.crashAfter === 'switched') throw new Error('test: crash after switching');
      await pauseForTests();
      if (fresh.includes('pw_flow_cache')) flushOldFlowCache(dir);
      // A running capture's filter now returns into the new program.
      setPipelineSlot(obj, newProg, newTc);
      finishRenames(instance, staged, opts.crashAfter === 'renamed-one');
      unpinObsoleteMaps(dir);
      writeMeta(instance, settings, journal.objectHash);
      endJournal(instance);
    } finally {
      tcObj?.close();
      obj.close();
    }
    return { carried: [...carried, ...copied], fresh, interfaces: [...switched, ...switchedTc].map((s) => s.name), progId, migrated };
  } finally {
    oldProg.close();
    oldTc?.close();
  }
}

/** Renames every NAME_next pin over NAME (each rename atomic); idempotent. */
function finishRenames(instance: string, staged: string[], crashAfterOne = false): void {
  const dir = pinDirOf(instance);
  let n = 0;
  for (const name of staged) {
    const next = join(dir, `${name}_next`);
    if (!existsSync(next)) continue; // renamed before a crash
    renameSync(next, join(dir, name));
    if (crashAfterOne && ++n === 1) throw new Error('test: crash after one rename');
  }
}

export interface Recovery {
  /** What an interrupted upgrade left, and what was done about it. */
  upgrade: 'none' | 'rolled-back' | 'completed';
  /** Interfaces found running a program of this instance that was not its pinned one. */
  orphans: string[];
}

/**
 * Finishes or undoes an upgrade a crash interrupted, then adopts orphans. Call under the
 * instance lock, before opening the data plane. Cheap when there is nothing to do.
 */
export function recoverPipeline(instance: string): Recovery {
  const dir = pinDirOf(instance);
  const out: Recovery = { upgrade: 'none', orphans: [] };
  if (!existsSync(join(dir, 'pw_xdp'))) {
    endJournal(instance);
    return out;
  }
  const j = readJournal(instance);
  if (j?.state === 'staged') {
    // Not every interface may have switched: back to the old program, which is still pinned.
    const oldProg = Program.fromPin(join(dir, 'pw_xdp'), 'pw_xdp');
    try {
      for (const { ifindex } of kernelLinks()) {
        const state = queryXdp(ifindex);
        if (!state.mode || state.progId !== j.newProgId) continue;
        const running = new Program('pw_xdp', progFdById(j.newProgId));
        try {
          attachXdp(oldProg, ifindex, { mode: state.mode as 'native' | 'generic', replace: running });
        } finally {
          running.close();
        }
      }
      setSlot(dir, oldProg);
    } finally {
      oldProg.close();
    }
    if (j.tc?.oldId) switchTcBack(dir, j.tc.newId);
    for (const name of j.staged) rmSync(join(dir, `${name}_next`), { force: true });
    restoreFiles(instance, j.saved);
    endJournal(instance);
    out.upgrade = 'rolled-back';
  } else if (j?.state === 'switched') {
    // Every interface runs the new program: finish what the crash cut short.
    finishRenames(instance, j.staged);
    const prog = Program.fromPin(join(dir, 'pw_xdp'), 'pw_xdp');
    try {
      setSlot(dir, prog);
    } finally {
      prog.close();
    }
    writeMeta(instance, j.settings, j.objectHash);
    endJournal(instance);
    out.upgrade = 'completed';
  } else {
    // No journal: no stray staged pins either.
    for (const name of [...abi.programs, TC_PROGRAM, ...Object.keys(abi.maps)]) {
      const next = join(dir, `${name}_next`);
      if (existsSync(next)) unlinkSync(next);
    }
  }
  out.orphans = adoptOrphans(instance);
  return out;
}

/**
 * Interfaces (of this network namespace) running a program that uses this instance's maps but
 * is not its pinned pw_xdp: left by an upgrade interrupted before journals existed, or by a
 * process killed mid-attach. They are switched to the pinned program.
 */
function adoptOrphans(instance: string): string[] {
  const dir = pinDirOf(instance);
  const current = Program.fromPin(join(dir, 'pw_xdp'), 'pw_xdp');
  const orphans: string[] = [];
  try {
    const currentId = current.info().id;
    const ours = new Set<number>();
    for (const name of ['pw_routes', 'pw_if_stats', 'pw_guard_state']) {
      const m = new RawMap(openPinned(join(dir, name), 'map'));
      try {
        ours.add(m.info.id);
      } finally {
        m.close();
      }
    }
    for (const { name, ifindex } of kernelLinks()) {
      const state = queryXdp(ifindex);
      if (!state.mode || !state.progId || state.progId === currentId) continue;
      const mode = state.mode as 'native' | 'generic';
      if (switchOrphan(state.progId, ours, (running) => attachXdp(current, ifindex, { mode, replace: running }))) orphans.push(name);
    }
    if (existsSync(join(dir, TC_PROGRAM))) orphans.push(...adoptTcOrphans(dir, ours));
  } finally {
    current.close();
  }
  return orphans;
}

/** adoptOrphans() for the TC slot: what runs there on this instance's maps becomes the pinned pw_tc. */
function adoptTcOrphans(dir: string, ours: Set<number>): string[] {
  const current = Program.fromPin(join(dir, TC_PROGRAM), TC_PROGRAM);
  const orphans: string[] = [];
  try {
    const currentId = current.info().id;
    for (const { name, ifindex } of kernelLinks()) {
      const id = tcProgramOn(ifindex);
      if (!id || id === currentId) continue;
      if (switchOrphan(id, ours, () => attachTcPipeline(current, ifindex, true))) orphans.push(name);
    }
  } finally {
    current.close();
  }
  return orphans;
}

/**
 * Runs `switchIt` on the running program `progId` when it uses one of this instance's maps
 * (`ours`): an orphan. False for another's program, or one gone meanwhile.
 */
function switchOrphan(progId: number, ours: Set<number>, switchIt: (running: Program) => void): boolean {
  let running: Program;
  try {
    running = new Program('orphan', progFdById(progId));
  } catch {
    return false; // gone meanwhile
  }
  try {
    if (!progMapIds(running.fd).some((id) => ours.has(id))) return false; // another program's
    switchIt(running);
    return true;
  } finally {
    running.close();
  }
}

/** Interfaces whose TC slot runs `fromId` go back to the pinned pw_tc (an upgrade rolled back). */
function switchTcBack(dir: string, fromId: number): void {
  const pinned = Program.fromPin(join(dir, TC_PROGRAM), TC_PROGRAM);
  try {
    for (const { ifindex } of kernelLinks()) if (tcProgramOn(ifindex) === fromId) attachTcPipeline(pinned, ifindex, true);
  } finally {
    pinned.close();
  }
}

/** Unpins the maps of an older object that the current one no longer has (the LPM trie that
 * held IPv6 routes before 2026-12-02): their pins would keep them, and their memory, alive. */
function unpinObsoleteMaps(dir: string): void {
  const known = new Set<string>([...Object.keys(abi.maps), ...abi.programs, TC_PROGRAM]);
  for (const f of readdirSync(dir)) if (f.startsWith('pw_') && !f.endsWith('_next') && !known.has(f)) rmSync(join(dir, f), { force: true });
}
