/**
 * The data plane's copy of the kernel's neighbour table: next-hop MACs. The pipeline takes a
 * gateway's MAC from its copy; a packet whose neighbour is missing goes to the kernel. This is
 * the logic of keeping the copy equal to the kernel's usable entries; src/dataplane/
 * neighbor-table.ts writes it, src/kernel/netlink.ts reads the kernel's.
 */
export interface NeighborEntry {
  ifindex: number;
  /** 16 bytes, IPv4 in the first 4. */
  addr: Uint8Array;
  mac: Uint8Array;
}

/** A neighbour as the kernel reports it. */
export interface KernelNeighborState {
  ifindex: number;
  addr: Uint8Array;
  mac: Uint8Array | null;
  usable: boolean;
}

export const neighborKey = (ifindex: number, addr: Uint8Array) => `${ifindex}|${Buffer.from(addr).toString('hex')}`;

const sameMac = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** What the copy should hold: the kernel's usable entries. */
export function wantedNeighbors(kernel: KernelNeighborState[]): Map<string, NeighborEntry> {
  const want = new Map<string, NeighborEntry>();
  for (const n of kernel) if (n.usable && n.mac) want.set(neighborKey(n.ifindex, n.addr), { ifindex: n.ifindex, addr: n.addr, mac: n.mac });
  return want;
}

/** The entries to write and to remove so that `have` becomes `want`. */
export function diffNeighbors(
  have: ReadonlyMap<string, NeighborEntry>,
  want: ReadonlyMap<string, NeighborEntry>,
): { set: NeighborEntry[]; remove: NeighborEntry[] } {
  const set: NeighborEntry[] = [];
  const remove: NeighborEntry[] = [];
  for (const [k, e] of have) if (!want.has(k)) remove.push(e);
  for (const [k, e] of want) {
    const old = have.get(k);
    if (!old || !sameMac(old.mac, e.mac)) set.push(e);
  }
  return { set, remove };
}

/**
 * What one kernel event means for the copy: write the entry when it is usable, remove it when
 * the kernel deleted it or it is no longer usable (failed, or gone incomplete).
 */
export function neighborEventChange(
  op: 'new' | 'del',
  n: KernelNeighborState,
): { set?: NeighborEntry; remove?: { ifindex: number; addr: Uint8Array } } {
  if (op === 'new' && n.usable && n.mac) return { set: { ifindex: n.ifindex, addr: n.addr, mac: n.mac } };
  return { remove: { ifindex: n.ifindex, addr: n.addr } };
}
