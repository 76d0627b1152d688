/** Attaching the pipeline to interfaces, and unloading an instance. */
import { Dataplane } from '../dataplane/dataplane.js';
import { Pipeline } from '../dataplane/pipeline.js';
import type { Gateway } from '../dataplane/nexthop-table.js';
import { releaseGateways } from '../dataplane/neighbor-table.js';
import type { AttachMode } from '../dataplane/dataplane.js';
import type { AttachResult } from './operations.js';

export function attach(dp: Dataplane, ifaces: string[], mode: AttachMode): AttachResult {
  return { loaded: dp.pipeline.created, settings: dp.pipeline.settings, interfaces: dp.attach(ifaces, mode) };
}

export const detach = (dp: Dataplane, ifaces: string[]) => dp.detach(ifaces);

/**
 * Detaches the instance from every interface, unpins it, and hands its gateways back to the
 * kernel's normal neighbour handling. Needs no map of the current layout (an instance pinned by
 * another release goes too; its gateways, unread, stay managed).
 */
export async function down(instance: string): Promise<{ instance: string; detached: string[]; unloaded: boolean }> {
  if (!Pipeline.isPinned(instance)) return { instance, detached: [], unloaded: false };
  let gateways: Gateway[] = [];
  try {
    const dp = await Dataplane.open(instance, {}, { create: false });
    try {
      gateways = dp.nexthops.gateways();
    } finally {
      dp.close();
    }
  } catch {
    // maps of another layout: unpinned all the same
  }
  const { detached } = Pipeline.down(instance);
  releaseGateways(gateways);
  return { instance, detached, unloaded: true };
}
