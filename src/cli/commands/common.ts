/** Options every data-plane command shares, and opening the data plane they drive. */
import type { Command } from 'commander';

import { Dataplane } from '../../dataplane/dataplane.js';
import type { PipelineSettings } from '../../dataplane/pipeline.js';

export interface InstanceOptions {
  instance: string;
  json?: boolean;
}

export function withInstance(cmd: Command): Command {
  return cmd.option('--instance <name>', 'Pathwise instance (pins under /sys/fs/bpf/pathwise/NAME)', 'default').option('--json', 'print JSON');
}

/**
 * Runs `fn` with the instance's data plane and closes it after. Commands that only read pass
 * create=false, so they report "not loaded" instead of loading an empty pipeline.
 */
export async function withDataplane<T>(opts: InstanceOptions, fn: (dp: Dataplane) => T | Promise<T>, create = true, settings: Partial<PipelineSettings> = {}): Promise<T> {
  const dp = await Dataplane.open(opts.instance, settings, { create });
  try {
    // Commands that change the data plane first bring the host's own routes up to date, so
    // local and on-link addresses are never sent to a gateway.
    if (create) {
      dp.syncSystemRoutes();
      dp.syncNeighbors();
    }
    return await fn(dp);
  } finally {
    dp.close();
  }
}
