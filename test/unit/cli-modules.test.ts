/**
 * The CLI loads only the module of the command it runs (src/cli/main.ts). Its table of
 * top-level commands must name every command each module registers, and nothing else: a
 * command missing from it would still run (all modules load for an unknown word), but a stale
 * entry would load the wrong module and fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';

import { allRegisters, buildProgram, MODULE_OF } from '../../src/cli/main.js';

describe('CLI command modules', () => {
  it('the table of top-level commands matches what each module registers', async () => {
    const registered: Record<string, string> = {};
    for (const [module, register] of Object.entries(await allRegisters())) {
      const program = new Command('pathwise');
      register(program);
      for (const c of program.commands) for (const name of [c.name(), ...c.aliases()]) registered[name] = module;
    }
    assert.deepEqual(Object.entries(MODULE_OF).sort(), Object.entries(registered).sort());
  });

  it('a program of one module holds its commands, and the full program all of them', async () => {
    const one = await buildProgram(['filter']);
    assert.deepEqual(one.commands.map((c) => c.name()).sort(), ['block', 'ratelimit', 'rule']);
    const all = await buildProgram();
    assert.equal(all.commands.length, Object.keys(MODULE_OF).length);
  });
});
