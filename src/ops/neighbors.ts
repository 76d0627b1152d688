/** The data plane's neighbour table: listed, synced with the kernel's, followed. */
import type { Dataplane } from '../dataplane/dataplane.js';
import { KernelFollower, NetlinkGroup } from '../dataplane/kernel-follower.js';
import type { NeighborRow, NeighborSyncResult } from './operations.js';
import { settleGateways } from './routes.js';

export const listNeighbors = (dp: Dataplane): NeighborRow[] => dp.neighbors.list();

/**
 * Asks the kernel again to keep every gateway resolved, waits briefly for it, and copies the
 * kernel's neighbours into the data plane.
 */
export async function syncNeighbors(dp: Dataplane): Promise<NeighborSyncResult> {
  dp.nexthops.manageGateways();
  const unresolvedGateways = await settleGateways(dp);
  return { ...dp.syncNeighbors(), unresolvedGateways };
}

/** Follows the kernel's neighbour events into the data plane until `signal` aborts. */
export async function watchNeighbors(
  dp: Dataplane,
  report: (r: { set: number; removed: number }) => void,
  signal: AbortSignal,
): Promise<void> {
  const follower = new KernelFollower(() => dp, { neighbors: report }, [NetlinkGroup.NEIGH]);
  try {
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    follower.close();
  }
}
