/**
 * CLI of the BTF code generator (scripts/btf-codegen.ts):
 *
 *   node dist/scripts/gen-types.js OBJECT.o OUT.ts [--prefix pw_[,bench_]] [--kernel-import PATH]
 *        [--extern PREFIX=MODULE]...
 *
 * --kernel-import is src/kernel/index.js as the output file imports it; --extern takes the
 * types whose names start with PREFIX from MODULE (another object's generated module).
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';

import { GenError, Generator, readBtf } from './btf-codegen.js';

function main(argv: string[]): void {
  const args = argv.slice(2);
  const opt = (name: string, def: string) => {
    const i = args.indexOf(name);
    if (i < 0) return def;
    const v = args[i + 1];
    args.splice(i, 2);
    if (!v) throw new GenError(`${name} needs a value`);
    return v;
  };
  const extern: { prefix: string; module: string }[] = [];
  for (let i = args.indexOf('--extern'); i >= 0; i = args.indexOf('--extern')) {
    const [prefix, module] = (args[i + 1] ?? '').split('=');
    if (!prefix || !module) throw new GenError('--extern takes PREFIX=MODULE');
    extern.push({ prefix, module });
    args.splice(i, 2);
  }
  const prefixes = opt('--prefix', 'pw_').split(',');
  const kernelImport = opt('--kernel-import', '../kernel/index.js');
  const [object, outPath] = args;
  if (!object || !outPath)
    throw new GenError('usage: gen-types OBJECT.o OUT.ts [--prefix pw_] [--kernel-import PATH] [--extern PREFIX=MODULE]');
  const code = new Generator(readBtf(object), { prefixes, extern }).generate(basename(object), kernelImport);
  writeFileSync(outPath, code);
}

try {
  main(process.argv);
} catch (e) {
  process.stderr.write(`gen-types: ${(e as Error).message}\n`);
  process.exit(1);
}
