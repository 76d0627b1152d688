/**
 * A BPF object file: open, set `const volatile` settings, size and pin maps, load (off the JS
 * thread; a verifier rejection comes back as PW_ERR_VERIFIER with the log), then hand out
 * typed maps and programs. The object checks its maps against the generated codecs before
 * loading, so a stale build fails with PW_ERR_LAYOUT instead of corrupting data.
 */
import { type Codec, type MapSpec } from './codec.js';
import { isPerCpuMapType } from './kernel-constants.js';
import { BpfMap, PerCpuMap, checkLayout } from './map.js';
import { type NativeBpfObject, type ObjectMapInfo, native } from './native.js';
import { Program } from './program.js';
import { deepestStackChain, parseStatsLog, type VerifierStats } from './verifier-stats.js';
import { PwError, fromNative } from '../errors.js';

export interface RodataSpec<T> {
  readonly name: string;
  readonly size: number;
  readonly codec: Codec<T>;
}

/** What the generated module of an object exports. */
export interface ObjectSpec {
  readonly maps: Record<string, MapSpec<any, any>>;
  readonly rodata: Record<string, RodataSpec<any>>;
  readonly programs: readonly string[];
}

export interface LoadOptions<S extends ObjectSpec> {
  /** Generated description of the object; checked against the ELF before load. */
  spec: S;
  /** Values of the `const volatile` settings, by variable name. */
  rodata?: { [N in keyof S['rodata']]?: S['rodata'][N] extends RodataSpec<infer T> ? T : never };
  /** Resize maps before load (e.g. a blocklist sized by config). */
  maxEntries?: { [N in keyof S['maps']]?: number };
  /**
   * Pin maps under this bpffs directory; at load, libbpf reuses a compatible map already
   * pinned there (keeping its contents) and pins newly created ones.
   */
  pinDir?: string;
  /** Maps to pin (default: every non-internal map). */
  pinMaps?: (keyof S['maps'] & string)[];
  /** Maps that are not created but taken from these fds (another object's maps, shared). */
  reuseMaps?: Record<string, number>;
  /** Programs to leave unloaded. */
  skipPrograms?: string[];
  /**
   * Keep the verifier's statistics of each program loaded, for verifierStats(). The statistics
   * take the log's place, so a refusal is loaded once more without them, for the reason.
   */
  verifierStats?: boolean;
}

export class BpfObject<S extends ObjectSpec = ObjectSpec> {
  private constructor(
    readonly path: string,
    private readonly obj: NativeBpfObject,
    readonly spec: S,
  ) {}

  static async load<S extends ObjectSpec>(path: string, opts: LoadOptions<S>): Promise<BpfObject<S>> {
    if (!opts.verifierStats) return BpfObject.open(path, opts);
    try {
      return await BpfObject.open(path, opts);
    } catch (e) {
      // The statistics log holds no reason: the same load without it fails with one.
      (await BpfObject.open(path, { ...opts, verifierStats: false })).close();
      throw e;
    }
  }

  private static async open<S extends ObjectSpec>(path: string, opts: LoadOptions<S>): Promise<BpfObject<S>> {
    const n = native();
    let obj: NativeBpfObject;
    try {
      obj = new n.BpfObject(path);
    } catch (e) {
      throw fromNative(e, 'open BPF object', path);
    }
    try {
      const self = new BpfObject(path, obj, opts.spec);
      self.checkAgainstSpec(obj.maps());
      if (opts.rodata) self.setRodata(opts.rodata as Record<string, unknown>);
      for (const [name, n] of Object.entries(opts.maxEntries ?? {})) if (n !== undefined) obj.setMaxEntries(name, n as number);
      if (opts.pinDir) {
        const pinned =
          opts.pinMaps ??
          obj
            .maps()
            .filter((m) => !m.internal)
            .map((m) => m.name);
        for (const name of pinned) obj.setPinPath(name, `${opts.pinDir}/${name}`);
      }
      for (const [name, fd] of Object.entries(opts.reuseMaps ?? {})) obj.reuseMapFd(name, fd);
      for (const p of opts.skipPrograms ?? []) obj.setAutoload(p, false);
      if (opts.verifierStats) for (const p of obj.programs()) if (p.autoload) obj.keepVerifierStats(p.name);
      try {
        await obj.load();
      } catch (e) {
        throw fromNative(e, `load of ${path}`, path);
      }
      return self;
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  private checkAgainstSpec(maps: ObjectMapInfo[]): void {
    for (const spec of Object.values(this.spec.maps)) {
      const m = maps.find((x) => x.name === spec.name);
      if (!m)
        throw new PwError('PW_ERR_LAYOUT', `map ${spec.name} of the generated codecs is not in ${this.path}`, { hint: "run 'make gen'" });
      checkLayout({ ...m, id: 0, btfId: 0 }, spec, spec.key, spec.value);
    }
  }

  private setRodata(values: Record<string, unknown>): void {
    const vars = this.obj.datasecVars('.rodata');
    const image = this.obj.getInitialValue('.rodata');
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      const spec = this.spec.rodata[name];
      const v = vars.find((x) => x.name === name);
      if (!spec || !v) throw new PwError('PW_ERR_INVALID', `${this.path} has no setting named ${name}`);
      if (v.size !== spec.codec.size) {
        throw new PwError('PW_ERR_LAYOUT', `setting ${name} is ${v.size} bytes in the object, ${spec.codec.size} in the generated codec`);
      }
      spec.codec.encode(value, view, v.offset);
    }
    this.obj.setInitialValue('.rodata', image);
  }

  /** Current value of a setting (what the loaded program sees: rodata is frozen at load). */
  rodata<N extends keyof S['rodata'] & string>(name: N): S['rodata'][N] extends RodataSpec<infer T> ? T : never {
    const spec = this.spec.rodata[name]!;
    const v = this.obj.datasecVars('.rodata').find((x) => x.name === name)!;
    const image = this.obj.getInitialValue('.rodata');
    return spec.codec.decode(new DataView(image.buffer, image.byteOffset, image.byteLength), v.offset);
  }

  /** A typed handle to one of the object's maps (a new fd owned by the caller). */
  map<K, V>(spec: MapSpec<K, V>): BpfMap<K, V> {
    if (!spec.key || !spec.value) throw new PwError('PW_ERR_INVALID', `map ${spec.name} has no key/value types; use mapFd()`);
    return new BpfMap(this.mapHandle(spec.name), spec.key, spec.value);
  }

  perCpuMap<K, V>(spec: MapSpec<K, V>): PerCpuMap<K, V> {
    if (!spec.key || !spec.value) throw new PwError('PW_ERR_INVALID', `map ${spec.name} has no key/value types`);
    if (!isPerCpuMapType(spec.type)) throw new PwError('PW_ERR_INVALID', `map ${spec.name} is not per-CPU`);
    return new PerCpuMap(this.mapHandle(spec.name), spec.key, spec.value);
  }

  /** An owned fd of a map without codecs (ring buffers, devmaps). */
  mapHandle(name: string) {
    try {
      return this.obj.mapFd(name);
    } catch (e) {
      throw fromNative(e, `map ${name}`);
    }
  }

  program(name: S['programs'][number]): Program {
    try {
      return new Program(name, this.obj.programFd(name));
    } catch (e) {
      throw fromNative(e, `program ${name}`);
    }
  }

  maps(): ObjectMapInfo[] {
    return this.obj.maps();
  }

  /** What the verifier reported of a program (the object loaded with `verifierStats`). */
  verifierStats(name: S['programs'][number]): VerifierStats {
    const log = this.obj.verifierStats(name);
    if (log === null) throw new PwError('PW_ERR_INVALID', `${this.path}: no verifier statistics of ${name} (load with verifierStats)`);
    const { processed, stackDepths } = parseStatsLog(log);
    const prog = this.program(name);
    try {
      const { insns, funcStarts, funcNames } = native().progXlated(prog.fd);
      return { processed, stackDepths, functionNames: funcNames, deepestChain: deepestStackChain(insns, funcStarts, stackDepths) };
    } catch (e) {
      throw fromNative(e, `instructions of program ${name}`);
    } finally {
      prog.close();
    }
  }

  programs() {
    return this.obj.programs();
  }

  /**
   * Releases libbpf's object. Maps and programs stay alive while handed-out handles, pins or
   * attachments hold them.
   */
  close(): void {
    this.obj.close();
  }
}
