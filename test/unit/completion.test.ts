/**
 * `pathwise completion bash`: the script the CLI prints, sourced into a real bash and asked
 * what it completes, as bash asks it on a TAB (COMP_WORDS, COMP_CWORD, then COMPREPLY).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Command } from 'commander';

import { buildProgram } from '../../src/cli/main.js';
import { repoRoot } from '../../src/util/paths.js';

const pathwise = join(repoRoot, 'bin', 'pathwise');

describe('shell completion', () => {
  let script = '';
  before(() => {
    const r = spawnSync(pathwise, ['completion', 'bash'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    script = r.stdout;
  });

  /** What bash completes for each line (the words typed, the last the one under the cursor). */
  const complete = (lines: string[][]): string[][] => {
    const calls = lines
      .map(
        (words) =>
          `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _pathwise; echo "\${COMPREPLY[*]}"`,
      )
      .join('\n');
    const r = spawnSync('bash', ['--norc', '-c', `${script}\n${calls}`], { encoding: 'utf8' });
    assert.equal(r.stderr, '', 'bash ran the script without a complaint');
    assert.equal(r.status, 0);
    return r.stdout
      .split('\n')
      .slice(0, lines.length)
      .map((l) => l.split(' ').filter(Boolean));
  };

  it('completes commands, subcommands, options, their choices, and skips option values on the way', () => {
    const cases: [string[], string[]][] = [
      [['pathwise', 'ser'], ['service']],
      [
        ['pathwise', 'service', ''],
        ['add', 'del', 'drain', 'weight', 'list', 'help'],
      ],
      [['pathwise', 'service', 'add', '--mo'], ['--mode']],
      [
        ['pathwise', 'service', 'add', '--mode', ''],
        ['nat', 'dsr'],
      ],
      [['pathwise', 'service', 'add', '--hash', 'n'], ['no-source-port']],
      // --netns and its value before the command, and an option's value that looks like a command.
      [
        ['pathwise', '--netns', 'service', 'service', 'd'],
        ['del', 'drain'],
      ],
      [
        ['pathwise', 'service', 'add', 'web', '10.0.0.1:80', '--backend', '10.0.1.1:80', '--h'],
        ['--hash', '--health', '--help'],
      ],
      [
        ['pathwise', 'attach', '--mode', ''],
        ['native', 'generic', 'auto', 'tc'],
      ],
      [
        ['pathwise', 'flows', 'list', '--sort', 'r'],
        ['rate', 'rtt'],
      ],
      [['pathwise', 'attach', 'l'], ['lo']], // an interface argument: the host's interfaces
      [['pathwise', 'completion', ''], []],
      [['pathwise', '--v'], ['--version']],
    ];
    assert.deepEqual(
      complete(cases.map(([words]) => words)),
      cases.map(([, want]) => want),
    );
  });

  it("knows every command of the program, and every option's choices", async () => {
    const program = await buildProgram();
    const lines: string[][] = [];
    const want: string[][] = [];
    const walk = (cmd: Command, words: string[]) => {
      if (cmd.commands.length) {
        lines.push([...words, '']);
        want.push([...cmd.commands.flatMap((c) => [c.name(), ...c.aliases()]), 'help']);
      }
      for (const o of cmd.options)
        if (o.argChoices) {
          lines.push([...words, o.long!, '']);
          want.push(o.argChoices);
        }
      for (const c of cmd.commands) walk(c, [...words, c.name()]);
    };
    walk(program, ['pathwise']);
    assert.ok(lines.length > 20, `${lines.length} command lines`);
    assert.deepEqual(complete(lines), want);
  });

  it('zsh gets the same through bashcompinit; another shell is a usage error', () => {
    const zsh = spawnSync(pathwise, ['completion', 'zsh'], { encoding: 'utf8' });
    assert.equal(zsh.status, 0);
    assert.match(zsh.stdout, /^# zsh completion[^\n]*\nautoload -U \+X bashcompinit && bashcompinit\n# bash completion/);
    const fish = spawnSync(pathwise, ['completion', 'fish', '--json'], { encoding: 'utf8' });
    assert.equal(fish.status, 2);
    assert.match(JSON.parse(fish.stderr).error.message, /value 'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh/);
  });
});
