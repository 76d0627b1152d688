/**
 * A test file's own data plane: a Topology (names unique to the run, removed even after a
 * failure) whose prefix names the instance, and the instance's pipeline.
 *
 *   before(async () => ({ topo, instance, dp } = await openOwnDataplane('fc')));
 *   after(() => closeOwnDataplane(topo, instance, dp));
 */
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline, type PipelineSettings } from '../../src/dataplane/pipeline.js';
import { Topology } from './topology.js';

export async function openOwnDataplane(
  name: string,
  settings: Partial<PipelineSettings> = {},
): Promise<{ topo: Topology; instance: string; dp: Dataplane }> {
  const topo = new Topology(name);
  const instance = topo.prefix;
  topo.recordInstance(instance);
  try {
    return { topo, instance, dp: await Dataplane.open(instance, settings) };
  } catch (e) {
    closeOwnDataplane(topo, instance); // the caller gets nothing to close
    throw e;
  }
}

/** Closes the data plane, takes the instance's pipeline down and removes the topology; each
 * part may be missing (a `before` that failed early). */
export function closeOwnDataplane(topo?: Topology, instance?: string, dp?: Dataplane): void {
  dp?.close();
  if (instance) Pipeline.down(instance);
  topo?.destroy();
}
