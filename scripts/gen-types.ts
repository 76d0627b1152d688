/**
 * CLI of the BTF code generator (scripts/btf-codegen.ts):
 *
 *   node dist/scripts/gen-types.js OBJECT.o OUT.ts [--prefix pw_] [--codec-import PATH]
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
  const prefix = opt('--prefix', 'pw_');
  const codecImport = opt('--codec-import', '../bpf/codec.js');
  const [object, outPath] = args;
  if (!object || !outPath) throw new GenError('usage: gen-types OBJECT.o OUT.ts [--prefix pw_] [--codec-import PATH]');
  const code = new Generator(readBtf(object), prefix).generate(basename(object), codecImport);
  writeFileSync(outPath, code);
}

try {
  main(process.argv);
} catch (e) {
  process.stderr.write(`gen-types: ${(e as Error).message}\n`);
  process.exit(1);
}
