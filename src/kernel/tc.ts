/** TC (clsact) attachment, for traffic XDP cannot see (egress, locally generated packets). */
import { native } from './native.js';
import type { Program } from './program.js';
import { resolveIfindex } from './netlink.js';
import { fromNative } from '../errors.js';

export type TcPoint = 'ingress' | 'egress';

export class TcAttachment {
  constructor(
    readonly ifindex: number,
    readonly point: TcPoint,
    readonly handle: number,
    readonly priority: number,
    /** The clsact qdisc did not exist before this attachment created it. */
    readonly hookCreated: boolean,
  ) {}

  /** Program id currently attached at this handle/priority, or null. */
  query(): number | null {
    return queryTc(this.ifindex, this.point, this.handle, this.priority);
  }

  /**
   * Removes this filter; if this attachment created the clsact qdisc, removes the qdisc too
   * (it was not there before, so nothing of anyone else's depended on it then).
   */
  detach(): void {
    detachTc(this.ifindex, this.point, this.handle, this.priority);
    if (this.hookCreated) native().tcHookDestroy(this.ifindex);
  }
}

export function attachTc(
  prog: Program,
  iface: string | number,
  point: TcPoint,
  opts: { handle?: number; priority?: number; replace?: boolean } = {},
): TcAttachment {
  const ifindex = resolveIfindex(iface);
  try {
    const r = native().tcAttach(ifindex, point, prog.fd, { handle: opts.handle ?? 1, priority: opts.priority ?? 1, replace: opts.replace });
    return new TcAttachment(ifindex, point, r.handle, r.priority, r.hookCreated);
  } catch (e) {
    throw fromNative(e, `TC attach (${point})`, String(iface));
  }
}

/** The id of the program at `handle`/`priority` of an interface's TC hook, or null. */
export function queryTc(iface: string | number, point: TcPoint, handle: number, priority: number): number | null {
  const ifindex = resolveIfindex(iface);
  try {
    return native().tcQuery(ifindex, point, handle, priority);
  } catch (e) {
    throw fromNative(e, `TC query (${point})`, String(iface));
  }
}

/**
 * Removes the filter at `handle`/`priority` (a missing one is no error). The clsact qdisc
 * stays: other programs may hang from it, and removing it removes them.
 */
export function detachTc(iface: string | number, point: TcPoint, handle: number, priority: number): void {
  const ifindex = resolveIfindex(iface);
  try {
    native().tcDetach(ifindex, point, handle, priority);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw fromNative(e, `TC detach (${point})`, String(iface));
  }
}
