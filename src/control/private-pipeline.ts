/**
 * A private data plane loaded with a config and attached nowhere: what `pathwise replay` runs
 * captures through. It is a pipeline instance of its own (replay-<pid>-<n>), so nothing it
 * does touches a running instance's maps; it is unpinned when done, and one left by a process
 * that died is removed the next time one is made.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { currentHostRoutes, Dataplane } from '../dataplane/dataplane.js';
import { Pipeline } from '../dataplane/pipeline.js';
import { PwError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { BPFFS_ROOT, runDirOf } from '../util/instance.js';
import { isAlive } from '../util/process.js';
import { applyChanges } from './apply.js';
import type { FileSource } from './config/files.js';
import type { Config } from './config/schema.js';
import { compileDesired, planChanges, readRunning } from './plan.js';
import { settingsOf } from './reconcilers/pipeline.js';

const PREFIX = 'replay-';
/** A file in a private pipeline's run directory: what reapPrivatePipelines() looks for. */
const MARKER = 'private-replay';
let sequence = 0;

/** Unpins private pipelines whose process is gone; returns their names. */
export function reapPrivatePipelines(): string[] {
  const root = join(BPFFS_ROOT, 'pathwise');
  if (!existsSync(root)) return [];
  const reaped: string[] = [];
  for (const name of readdirSync(root)) {
    const m = new RegExp(`^${PREFIX}(\\d+)-\\d+$`).exec(name);
    // Only what a replay made: the name (which users cannot give) and its marker pin.
    if (!m || isAlive(Number(m[1])) || !existsSync(join(runDirOf(name), MARKER))) continue;
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
function markPrivate(instance: string): void {
  writeFileAtomic(join(runDirOf(instance), MARKER), `${process.pid}\n`);
}

export async function withPrivatePipeline<T>(config: Config, files: FileSource, fn: (dp: Dataplane) => Promise<T>): Promise<T> {
  reapPrivatePipelines();
  const instance = `${PREFIX}${process.pid}-${sequence++}`;
  const dp = await Dataplane.open(instance, settingsOf(config));
  try {
    markPrivate(instance);
    const hostRoutes = currentHostRoutes();
    dp.syncHostRoutes(hostRoutes);
    dp.syncNeighbors();
    const desired = compileDesired(config, { files, now: Date.now(), blockedSince: new Map(), hostRoutes });
    [...desired.interfaces.keys()].forEach((name, i) => {
      try {
        dp.enableEgress(name);
      } catch (e) {
        if ((e as PwError).code !== 'PW_ERR_NOT_FOUND') throw e;
        throw new PwError('PW_ERR_NOT_FOUND', `the config names interface '${name}', which this host does not have`, {
          where: `interfaces[${i}]`,
          hint: 'replay on a host with the same interfaces, or edit the config',
        });
      }
    });
    const changes = planChanges(
      await readRunning(dp),
      { ...desired, interfaces: new Map() },
      { describeRoute: (spec) => dp.describeRoute(spec) },
    );
    await applyChanges(
      {
        dp: () => dp,
        upgrade: () =>
          Promise.reject(new PwError('PW_ERR_INTERNAL', 'a private pipeline is loaded with its settings; it is never upgraded')),
      },
      changes,
    );
    return await fn(dp);
  } finally {
    dp.close();
    Pipeline.unpin(instance);
  }
}
