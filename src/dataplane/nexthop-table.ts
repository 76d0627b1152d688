/**
 * Nexthops and nexthop groups in the data plane. Both are content-addressed and shared: two
 * routes via the same gateways use one group. A group is immutable once a route points at it
 * (changing a route's nexthops means a new group and one 32-bit store in the route), and
 * freed ids are reused last, so a packet that read an id a moment ago still finds what it
 * expected. Groups spread their members over buckets by weight (routing/ecmp.ts).
 *
 * Every gateway a nexthop uses is handed to the kernel as a managed neighbour: the kernel
 * resolves it and keeps it resolved by itself (no traffic needed, nothing waited for here),
 * and the neighbour follower copies its MAC into pw_neigh, and from there into the nexthop
 * record (gw_mac, nexthop-macs.ts), where the pipeline reads it.
 */
import {
  ifNameCache,
  interfaceMac,
  kernelRouteTo,
  manageNeighbor,
  releaseNeighbor,
  resolveIfindex,
  RouteType,
  type BpfMap,
} from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { MAX_WEIGHT, spreadBuckets } from '../routing/ecmp.js';
import { neighborKey, type NeighborEntry } from '../routing/neighbors.js';
import { invalidGateway, type NexthopSpec, type NexthopView } from '../routing/route.js';
import { formatAddress, parseAddress, type Family } from '../util/ip.js';
import { NexthopMacs } from './nexthop-macs.js';
import type { PipelineMaps } from './pipeline.js';

const ROUTE_TYPE_NAMES: Record<number, string> = {
  [RouteType.BROADCAST]: 'broadcast',
  [RouteType.ANYCAST]: 'anycast',
  [RouteType.MULTICAST]: 'multicast',
};

/** A gateway the kernel had no directly connected route to when last asked (gatewaysMoved). */
const UNREACHABLE = 0;

export interface Nexthop {
  id: number;
  family: Family;
  gw: Uint8Array | null;
  ifindex: number;
  weight: number;
}

/**
 * Free ids: those above every id in use at the open, never taken since, go first, in order (a
 * counter: listing all 80k free ids cost every command's open ~10 ms); then the others, those
 * below found free at the open and those given back, the longest free first.
 */
class IdPool {
  private next: number;
  private free: number[] = [];
  private head = 0;
  constructor(
    first: number,
    private readonly end: number,
    used: Set<number>,
  ) {
    let top = first;
    for (const id of used) if (id >= top) top = id + 1;
    for (let i = first; i < top; i++) if (!used.has(i)) this.free.push(i);
    this.next = top;
  }
  take(what: string): number {
    if (this.next < this.end) return this.next++;
    if (this.head >= this.free.length) throw new PwError('PW_ERR_FULL', `no free ${what} id left`);
    const id = this.free[this.head++]!;
    if (this.head > 4096 && this.head * 2 > this.free.length) {
      this.free = this.free.slice(this.head);
      this.head = 0;
    }
    return id;
  }
  give(id: number): void {
    this.free.push(id);
  }
}

interface Group {
  id: number;
  key: string;
  members: { nh: number; weight: number }[];
  refs: number;
  /** The path group steering it (config `paths:`): such a group is its own, never shared
   * with a route that merely lists the same nexthops, and its buckets change in place. */
  tag?: string;
}

/**
 * Bucket values at or above PW_NH_DECISION are decisions, not nexthops: a steered group whose
 * paths are all down falls back by filling its buckets with one.
 */
export const BUCKET_TO_KERNEL = abi.PwNhDecision.TO_KERNEL;
export const BUCKET_DROP = abi.PwNhDecision.DROP;

export class NexthopTable {
  private readonly nexthops = new Map<number, Nexthop & { key: string; refs: number }>();
  private readonly nhByKey = new Map<string, number>();
  private readonly groups = new Map<number, Group>();
  private readonly groupByKey = new Map<string, number>();
  private readonly nhIds: IdPool;
  private readonly groupIds: IdPool;
  /** Gateway -> egress ifindex, from the kernel, cached per table (UNREACHABLE: asked again). */
  private readonly devCache = new Map<string, number>();
  /** Gateway nexthops by their neighbour's pw_neigh key (neighborKey). */
  private readonly nhByNeighbor = new Map<string, number>();
  private readonly macs: NexthopMacs;
  /** Interface names for nexthops as people read them (a listing of routes names each one's). */
  private readonly ifName = ifNameCache(1000);

  constructor(private readonly maps: PipelineMaps) {
    // Adopt what the pinned maps hold (decoding only the slots in use).
    for (const [id, nh] of validEntries(maps.nexthops, abi.PwNexthop.offsets.flags, abi.PwNexthopFlag.VALID)) {
      const family: Family = nh.flags & abi.PwNexthopFlag.GW6 ? 6 : 4;
      const gw = nh.flags & abi.PwNexthopFlag.DIRECT ? null : nh.gw;
      const key = NexthopTable.nhKey(family, gw, nh.ifindex);
      this.nexthops.set(id, { id, family, gw, ifindex: nh.ifindex, weight: 1, key, refs: 0 });
      this.nhByKey.set(key, id);
      if (gw) this.nhByNeighbor.set(neighborKey(nh.ifindex, gw), id);
    }
    for (const [id, g] of validEntries(maps.nhgroups, abi.PwNhgroup.offsets.n_nexthops, 0xffffffff)) {
      const members = g.members.slice(0, g.n_nexthops).map((nh, i) => ({ nh, weight: g.weights[i]! }));
      // A group a path group steered has buckets of its own making: it must not be shared with
      // a route that lists the same nexthops (its routes move to a new steered group).
      const spread = spreadBuckets(members.map((m) => m.weight)).map((i) => members[i]!.nh);
      const steered = spread.some((nh, b) => g.buckets[b] !== nh);
      const key = steered ? `steered before a restart#${id}` : NexthopTable.groupKey(members);
      this.groups.set(id, { id, key, members, refs: 0 });
      this.groupByKey.set(key, id);
      for (const m of members) this.nexthops.get(m.nh)!.refs++;
    }
    this.nhIds = new IdPool(1, abi.PwLimit.MAX_NEXTHOPS, new Set(this.nexthops.keys()));
    this.groupIds = new IdPool(abi.PwNhgSpecial.FIRST, abi.PwLimit.MAX_NHGROUPS, new Set(this.groups.keys()));
    this.macs = new NexthopMacs(maps);
  }

  close(): void {
    this.macs.close();
  }

  /**
   * The neighbour `ifindex`/`addr` (a pw_neigh key) now has `mac`, or (null) none: the gateway
   * nexthop that sends to it, if any, follows. NeighborTable calls it after each change.
   */
  neighborChanged(ifindex: number, addr: Uint8Array, mac: Uint8Array | null): void {
    const id = this.nhByNeighbor.get(neighborKey(ifindex, addr));
    if (id !== undefined) this.macs.set(id, mac);
  }

  /**
   * Rewrites every gateway nexthop's MAC from `neighbors` (what pw_neigh holds, by
   * neighborKey): after a full neighbour sync, so that an entry a crash left behind between
   * the two writes is made right, and after an upgrade that migrated records without it.
   */
  syncMacs(neighbors: ReadonlyMap<string, NeighborEntry>): void {
    for (const [key, id] of this.nhByNeighbor) this.macs.set(id, neighbors.get(key)?.mac ?? null);
  }

  /** The neighbour MAC the pipeline reads for nexthop `id` (null: it looks in pw_neigh). */
  macOf(id: number): Uint8Array | null {
    return this.macs.get(id);
  }

  private static nhKey(family: Family, gw: Uint8Array | null, ifindex: number): string {
    return `${ifindex}|${gw ? formatAddress(family, gw) : 'direct'}`;
  }

  private static groupKey(members: { nh: number; weight: number }[]): string {
    return [...members]
      .sort((a, b) => a.nh - b.nh)
      .map((m) => `${m.nh}:${m.weight}`)
      .join(',');
  }

  /** `n` more routes reference this group. */
  addRefs(groupId: number, n: number): void {
    const g = this.groups.get(groupId);
    if (g) g.refs += n;
  }

  /** Turns a user's nexthop spec into an egress interface and gateway, asking the kernel for
   * the interface when only a gateway is given (as `ip route add ... via GW` does). */
  resolve(spec: NexthopSpec, where: string): Omit<Nexthop, 'id'> {
    const weight = spec.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) {
      throw new PwError('PW_ERR_INVALID', `weight ${spec.weight} is out of range 1..${MAX_WEIGHT}`, { where });
    }
    if (!spec.via && !spec.dev) throw new PwError('PW_ERR_INVALID', 'a nexthop needs a gateway (via) or an interface (dev)', { where });
    const gw = spec.via ? parseAddress(spec.via, where) : null;
    const invalid = gw && invalidGateway(spec.via!, gw);
    if (invalid) throw new PwError('PW_ERR_INVALID', invalid.message, { where, hint: invalid.hint });
    let ifindex: number;
    if (spec.dev) {
      try {
        ifindex = resolveIfindex(spec.dev);
      } catch {
        throw new PwError('PW_ERR_NOT_FOUND', `no interface named '${spec.dev}'`, { where, hint: "see 'ip link'" });
      }
    } else ifindex = this.interfaceFor(gw!, spec.via!, where);
    return { family: gw?.family ?? 4, gw: gw?.addr ?? null, ifindex, weight };
  }

  /**
   * Asks the kernel again where each gateway resolved so far is reached (one `ip route get`
   * each): whether any answer changed (an interface deleted and created again has a new
   * ifindex; an address moved to another link; a gateway on no connected network now). The
   * new answers are kept for the next resolve.
   */
  gatewaysMoved(): boolean {
    let moved = false;
    for (const [text, was] of this.devCache) {
      const gw = parseAddress(text, text);
      let now = UNREACHABLE;
      try {
        const r = kernelRouteTo(gw.family, gw.addr);
        if (r && !r.gateway) now = r.ifindex;
      } catch {
        // no answer: unreachable
      }
      if (now === was) continue;
      moved = true;
      this.devCache.set(text, now);
    }
    return moved;
  }

  /** The interface a gateway is directly reachable on, asking the kernel (`ip route get`). */
  private interfaceFor(gw: { family: Family; addr: Uint8Array }, text: string, where: string): number {
    const cached = this.devCache.get(text);
    if (cached !== undefined && cached !== UNREACHABLE) return cached;
    const r = kernelRouteTo(gw.family, gw.addr);
    // A connected network's broadcast address: the kernel refuses it as a gateway too.
    if (r && r.type !== RouteType.UNICAST && r.type !== RouteType.LOCAL)
      throw new PwError(
        'PW_ERR_INVALID',
        `gateway ${text} is not a unicast address here: the kernel routes it as ${ROUTE_TYPE_NAMES[r.type] ?? `type ${r.type}`}`,
        {
          where,
          hint: "a gateway is a neighbour's unicast address",
        },
      );
    if (!r || r.gateway) {
      throw new PwError('PW_ERR_INVALID', `gateway ${text} is not on a directly connected network`, {
        where,
        hint: 'name the interface with dev IF, or add an address on the link to the gateway',
      });
    }
    this.devCache.set(text, r.ifindex);
    return r.ifindex;
  }

  /**
   * A group for these nexthops, shared if one exists; the caller holds one reference. A
   * `tag` (a path group's name) makes a group of its own, shared only under the same tag.
   */
  acquire(nexthops: Omit<Nexthop, 'id'>[], tag?: string): number {
    // Merge duplicates (same gateway and interface): their weights add up.
    const merged = new Map<string, Omit<Nexthop, 'id'>>();
    for (const n of nexthops) {
      const k = NexthopTable.nhKey(n.family, n.gw, n.ifindex);
      const prev = merged.get(k);
      merged.set(k, prev ? { ...prev, weight: prev.weight + n.weight } : n);
    }
    const members = [...merged.values()].map((n) => ({ nh: this.nexthopId(n), weight: n.weight }));
    const key = (tag ? `${tag}#` : '') + NexthopTable.groupKey(members);
    const existing = this.groupByKey.get(key);
    if (existing !== undefined) {
      this.groups.get(existing)!.refs++;
      return existing;
    }
    let id: number;
    let spread: number[];
    try {
      spread = spreadBuckets(members.map((m) => m.weight));
      id = this.groupIds.take('nexthop group');
    } catch (e) {
      for (const m of members) this.unrefNexthopIfUnused(m.nh); // nothing half-made stays
      throw e;
    }
    this.maps.nhgroups.set(id, {
      n_nexthops: members.length,
      buckets: spread.map((i) => members[i]!.nh),
      members: members.map((m) => m.nh),
      weights: members.map((m) => m.weight),
    });
    for (const m of members) this.nexthops.get(m.nh)!.refs++;
    this.groups.set(id, { id, key, members, refs: 1, ...(tag ? { tag } : {}) });
    this.groupByKey.set(key, id);
    return id;
  }

  /** A nexthop as people read it: `via GW dev IF` (or `dev IF`). */
  label(n: Omit<Nexthop, 'id'>): string {
    return `${n.gw ? `via ${formatAddress(n.family, n.gw)} ` : ''}dev ${this.ifName(n.ifindex)}`;
  }

  /** The path group steering a group, if any. */
  tagOf(groupId: number): string | undefined {
    return this.groups.get(groupId)?.tag;
  }

  /** The groups a path group steers (one, or two while a config change swaps its members). */
  tagged(tag: string): { id: number; members: { nh: number; weight: number; nexthop: Nexthop }[] }[] {
    const out = [];
    for (const g of this.groups.values()) {
      if (g.tag !== tag) continue;
      out.push({ id: g.id, members: g.members.map((m) => ({ ...m, nexthop: this.nexthops.get(m.nh)! })) });
    }
    return out;
  }

  /** A group's buckets as the data plane reads them (nexthop ids, or BUCKET_* decisions). */
  bucketsOf(groupId: number): number[] {
    return this.maps.nhgroups.get(groupId)?.buckets ?? [];
  }

  /**
   * Rewrites a steered group's buckets in place (path-manager.ts). Each bucket is an aligned
   * 32-bit word: a packet reading one meanwhile sees its old or its new value, either a valid
   * member or decision. Members and weights as configured stay as they are.
   */
  writeBuckets(groupId: number, buckets: number[]): void {
    const g = this.groups.get(groupId);
    if (!g?.tag) throw new PwError('PW_ERR_INTERNAL', `group ${groupId} is not steered by a path group`);
    if (buckets.length !== abi.PwLimit.NHG_BUCKETS) throw new PwError('PW_ERR_INTERNAL', `a group has ${abi.PwLimit.NHG_BUCKETS} buckets`);
    const cur = this.maps.nhgroups.get(groupId)!;
    this.maps.nhgroups.set(groupId, { ...cur, buckets });
  }

  /** Drops one reference; the group (and nexthops no group uses) are freed at zero. */
  release(groupId: number): void {
    const g = this.groups.get(groupId);
    if (!g || --g.refs > 0) return;
    this.groups.delete(groupId);
    this.groupByKey.delete(g.key);
    this.maps.nhgroups.set(groupId, abi.PwNhgroup.zero());
    this.groupIds.give(groupId);
    for (const m of g.members) {
      const nh = this.nexthops.get(m.nh)!;
      nh.refs--;
      this.unrefNexthopIfUnused(m.nh);
    }
  }

  private nexthopId(n: Omit<Nexthop, 'id'>): number {
    const key = NexthopTable.nhKey(n.family, n.gw, n.ifindex);
    const known = this.nhByKey.get(key);
    if (known !== undefined) return known;
    const id = this.nhIds.take('nexthop');
    const F = abi.PwNexthopFlag;
    const flags = F.VALID | (n.gw ? 0 : F.DIRECT) | (n.family === 6 && n.gw ? F.GW6 : 0);
    const smac = interfaceMac(n.ifindex);
    // The gateway's MAC follows the kernel's neighbour table (neighbor-table.ts) into pw_neigh,
    // and from there into the record (gw_mac, nexthop-macs.ts): as pw_neigh has it now, then
    // at each change. The kernel is asked to keep the gateway resolved.
    const resolved = n.gw ? this.maps.neigh.get({ ifindex: n.ifindex, addr: n.gw })?.mac : undefined;
    const gw_mac = resolved ? { mac: resolved, known: 1 } : abi.PwNhMac.zero();
    if (n.gw) this.nhByNeighbor.set(neighborKey(n.ifindex, n.gw), id);
    this.maps.nexthops.set(id, { ifindex: n.ifindex, flags, gw: n.gw ?? new Uint8Array(16), smac, gw_mac });
    this.nexthops.set(id, { ...n, id, key, refs: 0 });
    this.nhByKey.set(key, id);
    if (n.gw) manageNeighbor(n.family, n.ifindex, n.gw);
    return id;
  }

  private unrefNexthopIfUnused(id: number): void {
    const nh = this.nexthops.get(id);
    if (!nh || nh.refs > 0) return;
    this.nexthops.delete(id);
    this.nhByKey.delete(nh.key);
    if (nh.gw) {
      // The MAC first, in one store: a packet that read the nexthop's id before its group went
      // never sees part of a MAC while the record is zeroed.
      this.macs.set(id, null);
      this.nhByNeighbor.delete(neighborKey(nh.ifindex, nh.gw));
    }
    this.maps.nexthops.set(id, abi.PwNexthop.zero());
    this.nhIds.give(id);
    if (nh.gw) releaseNeighbor(nh.family, nh.ifindex, nh.gw);
  }

  describe(groupId: number): NexthopView[] {
    const g = this.groups.get(groupId);
    if (!g) return [];
    return g.members.map((m) => {
      const nh = this.nexthops.get(m.nh)!;
      return { via: nh.gw ? formatAddress(nh.family, nh.gw) : null, dev: this.ifName(nh.ifindex), ifindex: nh.ifindex, weight: m.weight };
    });
  }

  nexthop(id: number): NexthopView | null {
    const nh = this.nexthops.get(id);
    return nh
      ? { via: nh.gw ? formatAddress(nh.family, nh.gw) : null, dev: this.ifName(nh.ifindex), ifindex: nh.ifindex, weight: nh.weight }
      : null;
  }

  /** Every gateway some group uses. */
  gateways(): Gateway[] {
    const out: Gateway[] = [];
    for (const nh of this.nexthops.values())
      if (nh.gw)
        out.push({
          family: nh.family,
          addr: nh.gw,
          ifindex: nh.ifindex,
          via: formatAddress(nh.family, nh.gw),
          dev: this.ifName(nh.ifindex),
        });
    return out;
  }

  /**
   * Asks the kernel again to keep every gateway resolved (after a restart, or when entries
   * were flushed behind our back); idempotent.
   */
  manageGateways(known?: ReadonlyMap<string, { managed: boolean; state: number }>): void {
    for (const g of this.gateways()) {
      try {
        // With the kernel's table at hand, a gateway missing from it has no entry (null);
        // without, manageNeighbor reads the entry itself.
        manageNeighbor(g.family, g.ifindex, g.addr, known ? (known.get(neighborKey(g.ifindex, g.addr)) ?? null) : undefined);
      } catch {
        // the interface went away: its routes go to the kernel until it is back
      }
    }
  }

  get counts() {
    return { nexthops: this.nexthops.size, groups: this.groups.size };
  }
}

/** Entries of an array map whose u32 at `flagOffset` has any bit of `mask` set. */
function* validEntries<V>(map: BpfMap<number, V>, flagOffset: number, mask: number): IterableIterator<[number, V]> {
  const size = map.valueCodec.size;
  // Pages of 512 entries: the buffers are reused, so the 5 MiB of a full read of the groups
  // are not fresh memory first written at every open (~30 ms here); the syscalls are few.
  for (const page of map.lookupBatchRaw(512)) {
    const view = new DataView(page.values.buffer, page.values.byteOffset, page.values.byteLength);
    for (let i = 0; i < page.count; i++) {
      if (!(view.getUint32(i * size + flagOffset, true) & mask)) continue;
      yield [page.keys.readUInt32LE(i * 4), map.valueCodec.decode(view, i * size)];
    }
  }
}

/** A gateway a nexthop sends to. */
export interface Gateway {
  family: Family;
  addr: Uint8Array;
  ifindex: number;
  via: string;
  dev: string;
}
