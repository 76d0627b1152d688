/**
 * A private data plane loaded with a config and attached nowhere: what `pathwise replay` runs
 * captures through. It is a pipeline instance of its own (replay-<pid>-<n>), so nothing it
 * does touches a running instance's maps; it is unpinned when done, and one left by a process
 * that died is removed the next time one is made.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { BPFFS_ROOT, resolveIfindex } from '../bpf/index.js';
import { Dataplane } from '../dataplane/dataplane.js';
import { Pipeline } from '../dataplane/pipeline.js';
import { PwError } from '../errors.js';
import { isAlive } from '../util/process.js';
import { applyChanges } from './apply.js';
import type { Config } from './config/schema.js';
import { compileDesired, settingsOf } from './desired.js';
import { planChanges } from './plan.js';
import { describeRoute, runningState } from './running.js';

const PREFIX = 'replay-';
let sequence = 0;

/** Unpins private pipelines whose process is gone; returns their names. */
export function reapPrivatePipelines(): string[] {
  const root = join(BPFFS_ROOT, 'pathwise');
  if (!existsSync(root)) return [];
  const reaped: string[] = [];
  for (const name of readdirSync(root)) {
    const m = new RegExp(`^${PREFIX}(\\d+)-\\d+$`).exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    Pipeline.unpin(name);
    reaped.push(name);
  }
  return reaped;
}

/**
 * Loads a pipeline with `config` applied as the daemon would apply it — routes, rules, rate
 * limits, blocklists, the host's own routes and neighbours — except that its interfaces are
 * only enabled as egress ports, not attached. Runs `fn` with it, then unpins it.
 */
export async function withPrivatePipeline<T>(config: Config, baseDir: string, fn: (dp: Dataplane) => Promise<T>): Promise<T> {
  reapPrivatePipelines();
  const instance = `${PREFIX}${process.pid}-${sequence++}`;
  const dp = await Dataplane.open(instance, settingsOf(config));
  try {
    dp.syncSystemRoutes();
    dp.syncNeighbors();
    const desired = compileDesired(config, { baseDir, now: Date.now(), blockedSince: new Map() });
    for (const [i, name] of [...desired.interfaces.keys()].entries()) {
      let ifindex: number;
      try {
        ifindex = resolveIfindex(name);
      } catch {
        throw new PwError('PW_ERR_NOT_FOUND', `the config names interface '${name}', which this host does not have`, {
          where: `interfaces[${i}]`,
          hint: 'replay on a host with the same interfaces, or edit the config',
        });
      }
      dp.pipeline.maps.txPorts.set(ifindex, ifindex);
    }
    const changes = planChanges(runningState(dp), { ...desired, interfaces: new Map() }, (spec) => describeRoute(dp, spec));
    await applyChanges(
      {
        dp: () => dp,
        upgrade: () => Promise.reject(new PwError('PW_ERR_INTERNAL', 'a private pipeline is loaded with its settings; it is never upgraded')),
      },
      changes,
    );
    return await fn(dp);
  } finally {
    dp.close();
    Pipeline.unpin(instance);
  }
}
