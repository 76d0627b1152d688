/**
 * The config loader under mutated examples: whatever a hand or a tool leaves in the file (a
 * token out of place, a line repeated or cut, an alias to no anchor, a mapping as a key), the
 * loader answers with the config or with PW_ERR_INVALID naming where, never with an exception
 * of its own or of the YAML library's, and writes no warning of the library's.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { checkConfig, parseConfig } from '../../src/control/config/load.js';
import { PwError } from '../../src/errors.js';
import { repoRoot } from '../../src/util/paths.js';
import { rng } from '../helpers/rng.js';

const TOKENS = [
  '',
  ' ',
  ':',
  '-',
  '[',
  ']',
  '{',
  '}',
  '"',
  "'",
  '#',
  '\n',
  '  ',
  '0',
  '-1',
  '1e999',
  '65536',
  '::',
  '/33',
  '/129',
  'null',
  '~',
  '&a',
  '*a',
  '*b',
  '!!binary',
  '0x10',
  'true',
  '10.0.0.1',
  'fe80::1%eth0',
  '999.1.1.1',
  'NaN',
  '.inf',
  '<<: *a',
  '? [x]',
  '{ k: v }: x',
];

describe('the config loader under mutated examples', () => {
  it('returns a config or PW_ERR_INVALID with a place, and warns nothing (seed 1, 3,000 mutants)', async () => {
    const dir = join(repoRoot, 'examples');
    const texts = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join(dir, f), 'latin1'));
    const rand = rng(1);
    const int = (n: number) => Math.floor(rand() * n);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const seen = { ok: 0, invalid: 0 };
    // Warnings are emitted on the next tick: the listener stays until after the loop's.
    const judged = new Promise<void>((resolve) =>
      setImmediate(() => {
        process.off('warning', onWarning);
        resolve();
      }),
    );
    for (let n = 0; n < 3_000; n++) {
      let t = texts[int(texts.length)]!;
      for (let k = 1 + int(3); k > 0; k--) {
        const at = int(t.length);
        const r = int(4);
        if (r === 0) t = t.slice(0, at) + TOKENS[int(TOKENS.length)]! + t.slice(at + int(4));
        else if (r === 1) {
          const from = int(t.length);
          t = t.slice(0, at) + t.slice(from, from + int(40)) + t.slice(at);
        } else if (r === 2) t = t.slice(0, at) + t.slice(at + 1 + int(20));
        else {
          const lines = t.split('\n');
          lines.splice(int(lines.length), 0, lines[int(lines.length)]!);
          t = lines.join('\n');
        }
      }
      try {
        checkConfig(parseConfig(t, 'm.yaml'), 'm.yaml');
        seen.ok++;
      } catch (e) {
        if (!(e instanceof PwError)) assert.fail(`mutant ${n}: ${(e as Error).stack}\n${t}`);
        assert.equal(e.code, 'PW_ERR_INVALID');
        assert.match(String(e.where), /^m\.yaml:\d+:\d+$/, e.message);
        seen.invalid++;
      }
    }
    await judged;
    assert.deepEqual(warnings, []);
    assert.ok(seen.ok > 100 && seen.invalid > 1000, JSON.stringify(seen));
  });
});
