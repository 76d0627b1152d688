/**
 * Generates TypeScript from a compiled BPF object's BTF: the structs and enums of the
 * kernel↔user ABI with their codecs, the maps (type, sizes, key/value codecs), typed handles
 * to every map (what bpftool's skeletons and bpf2go give C and Go), the rodata settings and
 * the program names. The C header is the one source; this file is how TypeScript learns it.
 * Types of another object's module can be imported instead of emitted again (`extern`): the
 * bench object shares the pipeline's map definitions and so its types.
 *
 * BTF is read with `bpftool -j btf dump file`, the format bpftool documents for tooling.
 */
import { execFileSync } from 'node:child_process';

import { MapType, isPerCpuMapType } from '../src/kernel/kernel-constants.js';

interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
  bitfield_size?: number;
}
interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  encoding?: string;
  members?: BtfMember[];
  values?: { name: string; val: number }[];
  vars?: { type_id: number; offset: number; size: number }[];
  linkage?: string;
  index_type_id?: number;
  component_idx?: number;
}

/** The BTF tag of a global function that is a pipeline stage, not a program. */
const STAGE_TAG = 'pathwise:stage';

export class GenError extends Error {}

/** Loads the BTF of an object as a map from type id to type. */
export function readBtf(objectPath: string): Map<number, BtfType> {
  const json = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', objectPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const types = new Map<number, BtfType>();
  for (const t of JSON.parse(json).types as BtfType[]) types.set(t.id, t);
  return types;
}

/** A map's handle name: its C name without the object's prefix, in camelCase (pw_if_stats: ifStats). */
export const handleName = (cName: string, prefixes: string[]) => {
  const p = prefixes.find((x) => cName.startsWith(x)) ?? '';
  const pas = pascal(cName.slice(p.length));
  return pas[0]!.toLowerCase() + pas.slice(1);
};

const mapTypeName = (t: number) => {
  const name = Object.entries(MapType).find(([, v]) => v === t)?.[0];
  if (!name) throw new GenError(`map type ${t} has no name in src/kernel/kernel-constants.ts (MapType): add it`);
  return `MapType.${name}`;
};

export interface GeneratorOptions {
  /** Prefixes of the ABI's type names (pw_). */
  prefixes: string[];
  /** Types whose name has one of these prefixes come from that module instead of being emitted. */
  extern?: { prefix: string; module: string }[];
}

function pascal(cName: string): string {
  return cName
    .split('_')
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

/** Typedef names that mean network byte order. */
const BIG_ENDIAN = new Set(['__be16', '__be32', '__be64']);

/** How one field (or element) is represented in TypeScript and encoded. */
type Shape =
  | { kind: 'int'; size: number; signed: boolean; be: boolean; cName: string }
  | { kind: 'bytes'; n: number }
  | { kind: 'array'; elem: Shape; n: number; stride: number }
  | { kind: 'struct'; cName: string }
  | { kind: 'enum'; size: number; cName: string };

export class Generator {
  private structs = new Map<string, BtfType>(); // emitted struct codecs by C name
  private order: string[] = []; // emission order (dependencies first)
  private enums = new Map<string, BtfType>();

  private readonly prefixes: string[];
  private readonly extern: { prefix: string; module: string }[];
  /** Names imported from extern modules, by module. */
  private readonly imported = new Map<string, Set<string>>();

  constructor(
    private types: Map<number, BtfType>,
    opts: GeneratorOptions | string,
  ) {
    const o = typeof opts === 'string' ? { prefixes: [opts] } : opts;
    this.prefixes = o.prefixes;
    this.extern = o.extern ?? [];
  }

  /** The extern module a C type name comes from, if any (and records the import). */
  private externOf(cName: string): string | undefined {
    const e = this.extern.find((x) => cName.startsWith(x.prefix));
    if (!e) return undefined;
    if (!this.imported.has(e.module)) this.imported.set(e.module, new Set());
    this.imported.get(e.module)!.add(pascal(cName));
    return e.module;
  }

  private t(id: number): BtfType {
    const t = this.types.get(id);
    if (!t) throw new GenError(`BTF type id ${id} missing`);
    return t;
  }

  /** Skips const/volatile/typedef, remembering a byte-order typedef on the way. */
  private resolve(id: number): { t: BtfType; be: boolean; typedef?: string } {
    let be = false;
    let typedef: string | undefined;
    let t = this.t(id);
    while (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT') {
      if (t.kind === 'TYPEDEF') {
        typedef ??= t.name;
        if (BIG_ENDIAN.has(t.name)) be = true;
      }
      t = this.t(t.type_id!);
    }
    return { t, be, typedef };
  }

  sizeOf(id: number): number {
    const { t } = this.resolve(id);
    switch (t.kind) {
      case 'INT':
      case 'ENUM':
      case 'STRUCT':
      case 'UNION':
        return t.size!;
      case 'ARRAY':
        return t.nr_elems! * this.sizeOf(t.type_id!);
      case 'PTR':
        return 8;
      default:
        throw new GenError(`cannot size BTF kind ${t.kind}`);
    }
  }

  shapeOf(id: number, where: string): Shape {
    const { t, be, typedef } = this.resolve(id);
    switch (t.kind) {
      case 'INT':
        if (t.encoding === 'BOOL')
          throw new GenError(`${where}: bool is not allowed in the ABI (its size is the compiler's choice); use __u8`);
        if (![1, 2, 4, 8].includes(t.size!)) throw new GenError(`${where}: unsupported int size ${t.size}`);
        return { kind: 'int', size: t.size!, signed: t.encoding === 'SIGNED', be, cName: typedef ?? t.name };
      case 'ENUM':
        if (t.name && t.name !== '(anon)' && !this.externOf(t.name)) this.enums.set(t.name, t);
        return { kind: 'enum', size: t.size!, cName: t.name };
      case 'ARRAY': {
        const elem = this.shapeOf(t.type_id!, `${where}[]`);
        if (elem.kind === 'int' && elem.size === 1 && !elem.signed) return { kind: 'bytes', n: t.nr_elems! };
        return { kind: 'array', elem, n: t.nr_elems!, stride: this.sizeOf(t.type_id!) };
      }
      case 'STRUCT':
        if (!t.name || t.name === '(anon)') throw new GenError(`${where}: anonymous structs are not allowed in the ABI`);
        this.addStruct(t);
        return { kind: 'struct', cName: t.name };
      default:
        throw new GenError(`${where}: BTF kind ${t.kind} is not allowed in the ABI (use __u8..__u64, arrays, structs)`);
    }
  }

  addStruct(t: BtfType): void {
    if (this.structs.has(t.name) || this.externOf(t.name)) return;
    this.structs.set(t.name, t);
    for (const m of t.members!) {
      if (m.bitfield_size) throw new GenError(`struct ${t.name}.${m.name}: bitfields are not allowed in the ABI`);
      this.shapeOf(m.type_id, `struct ${t.name}.${m.name}`);
    }
    this.order.push(t.name);
  }

  /**
   * Collects named enums and structs whose C name has the project's prefix and that the
   * object's variables reach: maps, rodata and the BTF anchors. Types reached only through
   * a function's parameters (the pipeline's stages take kernel-internal structs) are not ABI.
   */
  collectPrefixed(): void {
    const reached = new Set<number>();
    const visit = (id: number | undefined) => {
      if (!id || reached.has(id)) return;
      reached.add(id);
      const t = this.types.get(id);
      if (!t) return;
      visit(t.type_id);
      visit(t.index_type_id);
      for (const m of t.members ?? []) visit(m.type_id);
    };
    for (const t of this.types.values()) if (t.kind === 'DATASEC') for (const v of t.vars ?? []) visit(v.type_id);
    for (const t of this.types.values()) {
      if (!reached.has(t.id) || !this.prefixes.some((p) => t.name.startsWith(p))) continue;
      if (t.kind === 'ENUM' && !this.externOf(t.name)) this.enums.set(t.name, t);
      if (t.kind === 'STRUCT') this.addStruct(t);
    }
  }

  tsType(s: Shape): string {
    switch (s.kind) {
      case 'int':
        return s.size === 8 ? 'bigint' : 'number';
      case 'enum':
        return 'number';
      case 'bytes':
        return 'Uint8Array';
      case 'array':
        return `${this.tsType(s.elem)}[]`;
      case 'struct':
        return pascal(s.cName);
    }
  }

  private scalarCodec(s: Shape): string {
    if (s.kind === 'enum') return `scalar.${s.size === 1 ? 'u8' : s.size === 2 ? 'u16' : 'u32'}`;
    if (s.kind !== 'int') throw new GenError('not a scalar');
    const base = s.signed ? 's' : 'u';
    if (s.be) return `scalar.be${s.size * 8}`;
    return `scalar.${base}${s.size * 8}`;
  }

  /** A codec expression for a shape (used for map keys/values and rodata). */
  codecExpr(s: Shape): string {
    switch (s.kind) {
      case 'int':
      case 'enum':
        return this.scalarCodec(s);
      case 'bytes':
        return `bytesCodec(${s.n})`;
      case 'struct':
        return pascal(s.cName);
      case 'array':
        throw new GenError('arrays as map keys/values: wrap them in a struct');
    }
  }

  private encodeStmt(s: Shape, val: string, off: string, depth: number): string {
    switch (s.kind) {
      case 'int':
      case 'enum':
        return `${this.scalarCodec(s)}.encode(${val}, v, ${off});`;
      case 'bytes':
        return `bytesAt(v, ${off}, ${s.n}).set(${val}.subarray(0, ${s.n}));`;
      case 'struct':
        return `${pascal(s.cName)}.encode(${val}, v, ${off});`;
      case 'array': {
        const i = `i${depth}`;
        return `for (let ${i} = 0; ${i} < ${s.n}; ${i}++) { ${this.encodeStmt(s.elem, `${val}[${i}] ?? ${this.zeroExpr(s.elem)}`, `${off} + ${i} * ${s.stride}`, depth + 1)} }`;
      }
    }
  }

  private decodeExpr(s: Shape, off: string, depth: number): string {
    switch (s.kind) {
      case 'int':
      case 'enum':
        return `${this.scalarCodec(s)}.decode(v, ${off})`;
      case 'bytes':
        return `bytesAt(v, ${off}, ${s.n}).slice()`;
      case 'struct':
        return `${pascal(s.cName)}.decode(v, ${off})`;
      case 'array': {
        const i = `i${depth}`;
        return `Array.from({ length: ${s.n} }, (_, ${i}) => ${this.decodeExpr(s.elem, `${off} + ${i} * ${s.stride}`, depth + 1)})`;
      }
    }
  }

  private zeroExpr(s: Shape): string {
    switch (s.kind) {
      case 'int':
        return s.size === 8 ? '0n' : '0';
      case 'enum':
        return '0';
      case 'bytes':
        return `new Uint8Array(${s.n})`;
      case 'struct':
        return `${pascal(s.cName)}.zero()`;
      case 'array':
        return `Array.from({ length: ${s.n} }, () => ${this.zeroExpr(s.elem)})`;
    }
  }

  emitStruct(cName: string): string {
    const t = this.structs.get(cName)!;
    const name = pascal(cName);
    const fields = t.members!.map((m) => {
      if (m.bits_offset % 8) throw new GenError(`struct ${cName}.${m.name}: not byte aligned`);
      return { name: m.name, off: m.bits_offset / 8, size: this.sizeOf(m.type_id), shape: this.shapeOf(m.type_id, `${cName}.${m.name}`) };
    });
    // Holes would be bytes the codecs never write; the ABI rules ask for explicit padding.
    let end = 0;
    for (const f of fields) {
      if (f.off !== end) throw new GenError(`struct ${cName}: ${f.off - end} byte hole before .${f.name}; add an explicit _padN field`);
      end = f.off + f.size;
    }
    if (end !== t.size) throw new GenError(`struct ${cName}: ${t.size! - end} byte tail padding; add an explicit _padN field`);

    const visible = fields.filter((f) => !f.name.startsWith('_pad'));
    const lines: string[] = [];
    lines.push(`/** struct ${cName} (${t.size} bytes) */`);
    lines.push(`export interface ${name} {`);
    for (const f of visible) lines.push(`  ${f.name}: ${this.tsType(f.shape)};`);
    lines.push(`}`);
    lines.push(`export const ${name} = {`);
    lines.push(`  name: '${cName}',`);
    lines.push(`  size: ${t.size},`);
    lines.push(`  offsets: { ${fields.map((f) => `${f.name}: ${f.off}`).join(', ')} },`);
    lines.push(`  encode(x: ${name}, v: DataView, o: number): void {`);
    for (const f of fields) {
      if (f.name.startsWith('_pad')) lines.push(`    bytesAt(v, o + ${f.off}, ${f.size}).fill(0);`);
      else lines.push(`    ${this.encodeStmt(f.shape, `x.${f.name}`, `o + ${f.off}`, 0)}`);
    }
    lines.push(`  },`);
    lines.push(`  decode(v: DataView, o: number): ${name} {`);
    lines.push(`    return {`);
    for (const f of visible) lines.push(`      ${f.name}: ${this.decodeExpr(f.shape, `o + ${f.off}`, 0)},`);
    lines.push(`    };`);
    lines.push(`  },`);
    lines.push(`  zero(): ${name} {`);
    lines.push(`    return { ${visible.map((f) => `${f.name}: ${this.zeroExpr(f.shape)}`).join(', ')} };`);
    lines.push(`  },`);
    lines.push(`} as const satisfies Codec<${name}> & { offsets: Record<string, number> };`);
    return lines.join('\n');
  }

  emitEnum(t: BtfType): string {
    const name = pascal(t.name);
    // Key names: "PW_VERDICT_PASS" in enum pw_verdict -> "PASS" (the enum's own name goes);
    // otherwise the values' common NAME_ prefix goes ("PW_NH_F_VALID" -> "VALID"); a lone value
    // loses only the project prefix ("PW_FIB4_EXT_BIT" -> "FIB4_EXT_BIT").
    const names = t.values!.map((v) => v.name);
    const own = `${t.name.toUpperCase()}_`;
    let strip = (this.prefixes.find((p) => t.name.startsWith(p)) ?? '').toUpperCase();
    if (names.every((n) => n.startsWith(own))) strip = own;
    else if (names.length > 1) {
      let common = names[0]!;
      for (const n of names) while (!n.startsWith(common)) common = common.slice(0, -1);
      common = common.slice(0, common.lastIndexOf('_') + 1);
      if (common.length > strip.length) strip = common;
    }
    const keys = names.map((n) => (n.startsWith(strip) ? n.slice(strip.length) : n));
    const lines = [`/** enum ${t.name} */`, `export const ${name} = {`];
    t.values!.forEach((v, i) => lines.push(`  ${/^[A-Za-z_]/.test(keys[i]!) ? keys[i] : `_${keys[i]}`}: ${v.val},`));
    lines.push(`} as const;`);
    lines.push(`export type ${name} = (typeof ${name})[keyof typeof ${name}];`);
    return lines.join('\n');
  }

  /** Map definitions from the .maps section: __uint(x, N) is `int (*x)[N]`, __type(x, T) is `T *x`. */
  collectMaps(): {
    name: string;
    type: number;
    maxEntries: number;
    flags: number;
    keySize: number;
    valueSize: number;
    key: string;
    value: string;
    keyType: string | null;
    valueType: string | null;
  }[] {
    const sec = [...this.types.values()].find((t) => t.kind === 'DATASEC' && t.name === '.maps');
    if (!sec) return [];
    return sec.vars!.map(({ type_id }) => {
      const v = this.t(type_id);
      const def = this.resolve(v.type_id!).t;
      const fields = new Map(def.members!.map((m) => [m.name, m.type_id]));
      const uint = (n: string) => {
        const id = fields.get(n);
        if (id === undefined) return 0;
        return this.t(this.t(id).type_id!).nr_elems!;
      };
      const typed = (n: string): Shape | null => {
        const id = fields.get(n);
        return id === undefined ? null : this.shapeOf(this.t(id).type_id!, `map ${v.name}.${n}`);
      };
      const size = (n: string, sz: string) => {
        const id = fields.get(n);
        return id === undefined ? uint(sz) : this.sizeOf(this.t(id).type_id!);
      };
      const k = typed('key');
      const val = typed('value');
      return {
        name: v.name,
        type: uint('type'),
        maxEntries: uint('max_entries'),
        flags: uint('map_flags'),
        keySize: size('key', 'key_size'),
        valueSize: size('value', 'value_size'),
        key: k ? this.codecExpr(k) : 'null',
        value: val ? this.codecExpr(val) : 'null',
        keyType: k ? this.tsType(k) : null,
        valueType: val ? this.tsType(val) : null,
      };
    });
  }

  collectRodata(): { name: string; codec: string; size: number }[] {
    const sec = [...this.types.values()].find((t) => t.kind === 'DATASEC' && t.name === '.rodata');
    if (!sec) return [];
    // Static consts (lookup tables) live in .rodata too; only global variables are settings.
    const vars = sec.vars!.map(({ type_id }) => this.t(type_id)).filter((v) => v.linkage !== 'static');
    return vars.map((v) => {
      return { name: v.name, codec: this.codecExpr(this.shapeOf(v.type_id!, `rodata ${v.name}`)), size: this.sizeOf(v.type_id!) };
    });
  }

  /** Global functions, except those tagged as pipeline stages (bpf/include/pathwise/stage.bpf.h). */
  collectPrograms(): string[] {
    const stages = new Set(
      [...this.types.values()].filter((t) => t.kind === 'DECL_TAG' && t.name === STAGE_TAG && t.component_idx === -1).map((t) => t.type_id),
    );
    return [...this.types.values()].filter((t) => t.kind === 'FUNC' && t.linkage === 'global' && !stages.has(t.id)).map((t) => t.name);
  }

  /**
   * The module's text. `kernelImport` is the path of src/kernel/index.js from the output file
   * (codecs, map classes and MapType come from there).
   */
  generate(source: string, kernelImport: string): string {
    this.collectPrefixed();
    const maps = this.collectMaps();
    const rodata = this.collectRodata();
    const programs = this.collectPrograms();
    const out: string[] = [];
    out.push(`// generated — do not edit. From the BTF of ${source} by scripts/gen-types.ts; \`make gen\` regenerates.`);
    const body: string[] = [];
    for (const e of [...this.enums.values()].sort((a, b) => a.name.localeCompare(b.name))) body.push('', this.emitEnum(e));
    for (const s of this.order) body.push('', this.emitStruct(s));
    body.push('', `/** Maps of ${source}, as declared in its .maps section. */`, `export const maps = {`);
    for (const m of maps) {
      body.push(
        `  ${m.name}: { name: '${m.name}', type: ${mapTypeName(m.type)}, maxEntries: ${m.maxEntries}, flags: ${m.flags}, keySize: ${m.keySize}, valueSize: ${m.valueSize}, key: ${m.key}, value: ${m.value} },`,
      );
    }
    body.push(`} as const satisfies Record<string, MapSpec<any, any>>;`);
    body.push('', 'export type MapName = keyof typeof maps;');
    const handles = maps.map((m) => {
      const handle = handleName(m.name, this.prefixes);
      const cls =
        !m.keyType || !m.valueType
          ? 'RawMap'
          : isPerCpuMapType(m.type)
            ? `PerCpuMap<${m.keyType}, ${m.valueType}>`
            : `BpfMap<${m.keyType}, ${m.valueType}>`;
      return { handle, name: m.name, cls };
    });
    body.push('', `/** Typed handles to every map of ${source}, by short name (see openMaps). */`, 'export interface Maps {');
    for (const h of handles) body.push(`  /** ${h.name} */`, `  ${h.handle}: ${h.cls};`);
    body.push('}');
    body.push('', "/** Each handle's map. */", 'export const mapHandles = {');
    for (const h of handles) body.push(`  ${h.handle}: '${h.name}',`);
    body.push('} as const satisfies Record<keyof Maps, MapName>;');
    body.push(
      '',
      '/**',
      ' * Opens a typed handle to every map, each on the fd `open` gives for its name (a pin, or a',
      " * loaded object's map); per-CPU maps get PerCpuMap, maps without types (ring buffers) RawMap.",
      " * Every layout is checked against the kernel's; on any failure the handles opened are closed.",
      ' */',
      'export function openMaps(open: (name: MapName) => NativeFd): Maps {',
      '  return openMapSet(maps, mapHandles, open) as unknown as Maps;',
      '}',
    );
    body.push('', `/** \`const volatile\` settings in .rodata; offsets are resolved from the opened object. */`, `export const rodata = {`);
    for (const r of rodata) body.push(`  ${r.name}: { name: '${r.name}', size: ${r.size}, codec: ${r.codec} },`);
    body.push(`} as const;`);
    body.push('', `export const programs = [${programs.map((p) => `'${p}'`).join(', ')}] as const;`);
    body.push('export type ProgramName = (typeof programs)[number];', '');
    const text = body.join('\n');
    const values = ['bytesCodec', 'scalar', 'MapType', 'openMapSet'].filter((n) => new RegExp(`\\b${n}\\b`).test(text));
    const types = ['Codec', 'MapSpec', 'NativeFd', 'BpfMap', 'PerCpuMap', 'RawMap'].filter((n) => new RegExp(`\\b${n}\\b`).test(text));
    out.push(`import { ${[...types.map((t) => `type ${t}`), ...values].join(', ')} } from '${kernelImport}';`);
    for (const [module, names] of [...this.imported].sort()) out.push(`import { ${[...names].sort().join(', ')} } from '${module}';`);
    if (/\bbytesAt\(/.test(text)) {
      out.push('', `const bytesAt = (v: DataView, o: number, n: number) => new Uint8Array(v.buffer, v.byteOffset + o, n);`);
    }
    out.push(text);
    return out.join('\n');
  }
}
