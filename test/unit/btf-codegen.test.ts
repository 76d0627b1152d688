/**
 * The generator enforces the ABI rules on real clang output (clang -target bpf needs no
 * privilege): holes, bitfields and bools are refused with a message naming the field.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { GenError, Generator, readBtf } from '../../scripts/btf-codegen.js';

const dir = mkdtempSync(join(tmpdir(), 'pw-gen-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function compile(body: string): string {
  const src = join(dir, `t${Math.random().toString(36).slice(2)}.c`);
  const obj = `${src}.o`;
  writeFileSync(
    src,
    `typedef unsigned char __u8; typedef unsigned short __u16; typedef unsigned int __u32;
typedef unsigned long long __u64; typedef __u32 __be32;
#define SEC(n) __attribute__((section(n), used))
${body}
char LICENSE[] SEC("license") = "GPL";`,
  );
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', src, '-o', obj]);
  return obj;
}

const generate = (obj: string) => new Generator(readBtf(obj), { prefixes: ['t_'] }).generate('t.o', '../kernel/index.js');

describe('BTF code generator', () => {
  it('generates codecs, enums and map specs from an object', () => {
    const code = generate(
      compile(`struct t_key { __be32 addr; __u16 port; __u8 proto; __u8 _pad0; };
enum t_color { T_COLOR_RED = 1, T_COLOR_BLUE = 4 };
enum t_color *anchor;
struct { int (*type)[1]; int (*max_entries)[16]; struct t_key *key; __u64 *value; } t_map SEC(".maps");`),
    );
    assert.match(code, /^\/\/ generated — do not edit/);
    assert.match(code, /export interface TKey \{\n {2}addr: number;\n {2}port: number;\n {2}proto: number;\n\}/);
    assert.match(code, /scalar\.be32\.encode\(x\.addr, v, o \+ 0\)/);
    assert.match(code, /RED: 1,\n {2}BLUE: 4,/);
    assert.match(
      code,
      /t_map: \{ name: 't_map', type: MapType\.HASH, maxEntries: 16, flags: 0, keySize: 8, valueSize: 8, key: TKey, value: scalar\.u64 \}/,
    );
    // A typed handle per map, named without the prefix.
    assert.match(code, /export interface Maps \{\n {2}\/\*\* t_map \*\/\n {2}map: BpfMap<TKey, bigint>;\n\}/);
    assert.match(code, /export const mapHandles = \{\n {2}map: 't_map',\n\}/);
  });

  it("imports another object's types instead of emitting them again (--extern)", () => {
    const obj = compile(`struct t_key { __u32 a; };
struct x_val { __u32 b; };
struct { int (*type)[1]; int (*max_entries)[4]; struct t_key *key; struct x_val *value; } x_map SEC(".maps");`);
    const code = new Generator(readBtf(obj), { prefixes: ['x_', 't_'], extern: [{ prefix: 't_', module: '../t.js' }] }).generate(
      'x.o',
      '../kernel/index.js',
    );
    assert.match(code, /^import \{ TKey \} from '\.\.\/t\.js';$/m);
    assert.doesNotMatch(code, /export interface TKey/);
    assert.match(code, /export interface XVal /);
    assert.match(code, /x_map: \{ name: 'x_map', type: MapType\.HASH, .* key: TKey, value: XVal \}/);
  });

  it('leaves out pipeline stages and the internal structs only their parameters reach', () => {
    const code = generate(
      compile(`struct xdp_md { __u32 data; };
struct t_internal { _Bool seen; };
struct t_abi { __u32 a; };
struct t_abi *anchor;
__attribute__((noinline)) __attribute__((btf_decl_tag("pathwise:stage"))) int t_stage(struct xdp_md *ctx, struct t_internal *p) { return p ? p->seen : ctx->data; }
SEC("xdp") int t_prog(struct xdp_md *ctx) { struct t_internal p = { 1 }; return t_stage(ctx, &p); }`),
    );
    assert.match(code, /export const programs = \['t_prog'\] as const;/);
    assert.match(code, /export interface TAbi /);
    // t_internal holds a bool, which the ABI refuses: reached, it would have thrown.
    assert.doesNotMatch(code, /TInternal/);
  });

  it('refuses a struct with an implicit hole, naming the field', () => {
    const obj = compile(`struct t_bad { __u8 a; __u32 b; }; struct t_bad *anchor;`);
    assert.throws(
      () => generate(obj),
      (e: Error) => e instanceof GenError && /t_bad: 3 byte hole before \.b/.test(e.message),
    );
  });

  it('refuses tail padding', () => {
    const obj = compile(`struct t_tail { __u64 a; __u8 b; }; struct t_tail *anchor;`);
    assert.throws(() => generate(obj), /t_tail: 7 byte tail padding/);
  });

  it('refuses bitfields', () => {
    const obj = compile(`struct t_bits { __u32 a : 4; __u32 b : 28; }; struct t_bits *anchor;`);
    assert.throws(() => generate(obj), /t_bits\.a: bitfields are not allowed/);
  });

  it('refuses bool', () => {
    const obj = compile(`struct t_flag { _Bool on; __u8 _pad0[3]; }; struct t_flag *anchor;`);
    assert.throws(() => generate(obj), /t_flag\.on/);
  });
});
