/**
 * The interfaces reconciler's moves, on a recording fake of the data plane (control-plane
 * logic only: what it asks the data plane for, in which order). Between XDP and TC it attaches
 * the new program without detaching first (attach() puts it in place before the old one goes);
 * between XDP modes it detaches first, one XDP program being all an interface holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Dataplane } from '../../src/dataplane/dataplane.js';
import { Phase, type ApplyTarget } from '../../src/control/reconcile.js';
import { interfacesReconciler, type InterfaceChange } from '../../src/control/reconcilers/interfaces.js';

function recorder() {
  const calls: string[] = [];
  const dp = {
    attach: (names: string[], mode: string) => {
      calls.push(`attach ${names.join(',')} ${mode}`);
      return names.map((name) => ({ name, notes: [] }));
    },
    detach: (names: string[]) => {
      calls.push(`detach ${names.join(',')}`);
      return [];
    },
  } as unknown as Dataplane;
  const target: ApplyTarget = { dp: () => dp, upgrade: async () => {} };
  return { calls, target };
}

const reattach = (before: string, mode: InterfaceChange['mode']): InterfaceChange => ({
  kind: 'interface',
  phase: Phase.DETACH,
  op: 'reattach',
  name: 'eth1',
  mode,
  before,
});

describe('the interfaces reconciler', () => {
  it('plans a move to tc as a reattach', () => {
    const plan = interfacesReconciler.plan(new Map([['eth1', 'native']]), new Map([['eth1', 'tc']]), {} as never);
    assert.deepEqual(plan, [reattach('native', 'tc')]);
  });

  for (const [before, mode] of [
    ['native', 'tc'],
    ['tc', 'generic'],
  ] as const) {
    it(`moves ${before} to ${mode} with no detach in between, and back the same way`, async () => {
      const { calls, target } = recorder();
      const undo = await interfacesReconciler.apply(reattach(before, mode), target);
      assert.deepEqual(calls, [`attach eth1 ${mode}`]);
      await undo();
      assert.deepEqual(calls, [`attach eth1 ${mode}`, `attach eth1 ${before}`]);
    });
  }

  it('moves native to generic by detaching first, and back', async () => {
    const { calls, target } = recorder();
    const undo = await interfacesReconciler.apply(reattach('native', 'generic'), target);
    assert.deepEqual(calls, ['detach eth1', 'attach eth1 generic']);
    await undo();
    assert.deepEqual(calls.slice(2), ['detach eth1', 'attach eth1 native']);
  });
});
