/**
 * Decisions in the guard's blocklists: a block, or a seal (the prefix as a whole held to a
 * packet rate), with an expiry the pipeline enforces itself (guard.bpf.h, pw_listed). Entries
 * are PW_BLOCK_DECISION's: the config's blocklist entries and the rate limiters' escalations
 * are never overwritten or removed here, so an operational decision cannot undo a configured
 * block (a config entry on the same prefix stays and is reported as covering the decision).
 *
 * A seal needs a limiter: limiters from PW_SEAL_LIMITER_BASE up are this table's, one per
 * distinct (family, prefix length, rate, burst), shared by the prefixes sealed alike and freed
 * when the last goes. What the table wrote is what the control plane keeps (control/
 * decisions.ts): after a restart it keeps the entries that hold what is in force, with their
 * limiters, writes the others again (beginResync) and clears the entries no decision explains.
 */
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { blockEntry, deleteBlocks, limiterValue } from './filter-tables.js';
import { markListed } from './blocklist-listing.js';
import { formatPrefix, parsePrefix, type Prefix } from '../util/ip.js';
import type { PipelineMaps } from './pipeline.js';

/** What one prefix is held to. */
export interface SealSpec {
  prefix: Prefix;
  action: 'block' | 'limit';
  /** limit: packets per second for the whole prefix, and the burst above it. */
  rate?: number;
  burst?: number;
  /** Wall-clock expiry, ms since the epoch. */
  expiresAt: number;
}

export type SealOutcome = 'written' | 'covered';

const SEAL_LIMITERS = abi.PwLimit.RATELIMITS - abi.PwLimit.SEAL_LIMITER_BASE;

type BlockKey = { prefixlen: number; addr: Uint8Array };

/** A limiter's shape: the prefixes sealed alike (family, prefix length, rate, burst) share one. */
interface Shape {
  family: 4 | 6;
  plen: number;
  rate?: number;
  burst?: number;
}

/** What a prefix is held to, as a resync asks whether its entry holds it (SealTable.keeps):
 * its canonical text, its key in the blocklist walks (FilterTables.forEachBlockOf: IPv4 a
 * prefix4Code, IPv6 the text), and SealSpec's fields without the parsed prefix. */
export type HeldSpec = Shape & Omit<SealSpec, 'prefix'> & { text: string; key: number | string };

/** The decision entries a walk of the blocklists found, by key. */
export interface FoundDecisionEntries {
  /** Ms until each entry expires, counted from `at` (wall clock, ms since the epoch). */
  expiresInMs: Map<number | string, number>;
  /** The limiter of each entry that has one (a seal's). */
  limiter: Map<number | string, number>;
  at: number;
}

const NO_IDS: ReadonlySet<number> = new Set();

/** How far a pinned entry's expiry may be from its spec's and still be kept at a resync: the
 * wall clock and the pipeline's monotonic one drift apart (NTP), and the walk takes time. */
const EXPIRY_SLACK_MS = 1000;

const shapeKey = (s: Shape): string => `${s.family}/${s.plen} ${s.rate} ${s.burst}`;
const shapeOfSpec = (spec: SealSpec): Shape => ({ family: spec.prefix.family, plen: spec.prefix.plen, rate: spec.rate, burst: spec.burst });

/** The limiter of a seal's shape. The bucket is the prefix itself: every address in it shares the rate. */
function sealLimiterValue(s: Shape, id: number): abi.PwRatelimit {
  return limiterValue({
    name: shapeKey(s),
    id,
    rate: s.rate!,
    burst: s.burst!,
    per4: s.family === 4 ? s.plen : 32,
    per6: s.family === 6 ? s.plen : 128,
    blockAfter: 0,
    blockForMs: 0,
  });
}

export class SealTable {
  /** Limiter id by its shape, and how many prefixes use it. */
  private readonly limiters = new Map<string, { id: number; users: Set<string> }>();
  /** The shape each sealed prefix (by canonical text) uses. */
  private readonly shapeOf = new Map<string, string>();
  /** During a resync (beginResync() to endResync()): what the walk found, the seal limiters
   * pinned before it, those adopted (id to shape), the ids avoided (avoided()). */
  private resyncing:
    | { found: FoundDecisionEntries; pinned: Map<number, abi.PwRatelimit>; shapeById: Map<number, string>; avoid?: ReadonlySet<number> }
    | undefined;

  constructor(private readonly maps: PipelineMaps) {}

  /**
   * Holds a prefix to `spec` until it expires, replacing this table's earlier entry for it. A
   * config blocklist entry or an escalation on the very prefix stays ('covered'): a config
   * block is at least as strong, an escalation lapses on its own and the next write replaces it.
   */
  write(spec: SealSpec): SealOutcome {
    const { map, key: k } = blockEntry(this.maps, spec.prefix);
    const old = map.get(k);
    if (old && old.origin === abi.PwBlockOrigin.CONFIG) return 'covered';
    const text = formatPrefix(spec.prefix);
    const before = this.shapeOf.get(text);
    map.set(k, this.entryOf(spec, text));
    markListed(this.maps, spec.prefix.family); // after the entry is in: the pipeline looks again
    this.released(spec, text, before);
    return 'written';
  }

  /**
   * write() for many prefixes at once, in batches: for the start, which writes every decision
   * in force again (hundreds of thousands at scale, two system calls each one by one). The
   * caller has read the blocklists and leaves out the prefixes a config entry holds; `text` is
   * each prefix's canonical text. A batch the kernel refuses throws, and what it wrote stays
   * (the caller writes them all again one by one).
   */
  writeMany(specs: (SealSpec & { text: string })[]): void {
    for (const family of [4, 6] as const) {
      const entries: [BlockKey, abi.PwBlock][] = [];
      let map: ReturnType<typeof blockEntry>['map'] | undefined;
      for (const spec of specs) {
        if (spec.prefix.family !== family) continue;
        const e = blockEntry(this.maps, spec.prefix);
        map = e.map;
        const before = this.shapeOf.get(spec.text);
        entries.push([e.key, this.entryOf(spec, spec.text)]);
        this.released(spec, spec.text, before);
      }
      if (!map) continue;
      map.updateBatch(entries);
      markListed(this.maps, family);
    }
  }

  /** The entry holding `spec` (a limit takes its limiter). */
  private entryOf(spec: SealSpec, text: string): abi.PwBlock {
    const limiter = spec.action === 'limit' ? this.limiterFor(spec, text) : 0;
    const msLeft = Math.max(1, spec.expiresAt - Date.now());
    return {
      expires_ns: process.hrtime.bigint() + BigInt(Math.round(msLeft)) * 1_000_000n,
      origin: abi.PwBlockOrigin.DECISION,
      plen: spec.prefix.plen,
      limiter,
    };
  }

  /** After a prefix's entry was written: the limiter it used before goes once the entry no longer points at it. */
  private released(spec: SealSpec, text: string, before: string | undefined): void {
    if (spec.action !== 'limit') this.shapeOf.delete(text);
    if (before !== undefined && before !== this.shapeOf.get(text)) this.drop(before, text);
  }

  /** Removes this table's entry for a prefix (a config entry or an escalation there stays). */
  clear(prefix: Prefix): boolean {
    const { map, key: k } = blockEntry(this.maps, prefix);
    const old = map.get(k);
    this.release(formatPrefix(prefix));
    if (!old || old.origin !== abi.PwBlockOrigin.DECISION) return false;
    return map.delete(k);
  }

  /**
   * Removes entries of this table's that the caller found in a walk of the blocklists (`texts`:
   * canonical prefix texts), in batches: at the start, a lost state may leave hundreds of
   * thousands no decision explains.
   */
  clearMany(texts: string[]): void {
    for (const t of texts) this.release(t);
    deleteBlocks(
      this.maps,
      texts.map((t) => parsePrefix(t)),
    );
  }

  /** Whether the prefix's entry is this table's and in force (for drift repair). */
  holds(prefix: Prefix): boolean {
    const { map, key: k } = blockEntry(this.maps, prefix);
    const v = map.get(k);
    return !!v && v.origin === abi.PwBlockOrigin.DECISION && (!v.expires_ns || v.expires_ns > process.hrtime.bigint());
  }

  /**
   * Starts taking over what the pinned maps hold, at a start or after an upgrade, before the
   * decisions in force are written again (decisions.resync): keeps() tells for each prefix
   * whether its entry holds its spec already, the caller writes the others (writeMany, or
   * write() one by one), then endResync(). An entry kept stays as it is with its limiter, which
   * is never zeroed or handed to another shape on the way: a sealed prefix would pass unlimited
   * meanwhile (a zero limiter lets everything through).
   */
  beginResync(found: FoundDecisionEntries): void {
    this.limiters.clear();
    this.shapeOf.clear();
    const pinned = new Map<number, abi.PwRatelimit>();
    for (let id = abi.PwLimit.SEAL_LIMITER_BASE; id < abi.PwLimit.RATELIMITS; id++) {
      const v = this.maps.ratelimits.get(id);
      if (v?.interval_ns) pinned.set(id, v);
    }
    this.resyncing = { found, pinned, shapeById: new Map() };
  }

  /** Whether the entry found for `spec` holds it already (the same action and limiter shape, an
   * expiry within EXPIRY_SLACK_MS): then it stays, its limiter adopted. */
  keeps(spec: HeldSpec): boolean {
    const { found } = this.resyncing!;
    const left = found.expiresInMs.get(spec.key);
    if (left === undefined || Math.abs(left - (spec.expiresAt - found.at)) > EXPIRY_SLACK_MS) return false;
    const limiter = found.limiter.get(spec.key) ?? 0;
    return spec.action === 'block' ? limiter === 0 : this.adoptLimiter(spec, limiter);
  }

  /** Ends a resync, once the prefixes not kept are written: the pinned seal limiters no entry in force uses are zeroed (free). */
  endResync(): void {
    const r = this.resyncing;
    if (!r) return;
    this.resyncing = undefined;
    const used = new Set([...this.limiters.values()].map((l) => l.id));
    for (const id of r.pinned.keys()) if (!used.has(id)) this.maps.ratelimits.set(id, abi.PwRatelimit.zero());
  }

  /** A limit's entry found pointing at `id`: kept when the pinned limiter there is its shape's, and no other shape claimed it. */
  private adoptLimiter(spec: HeldSpec, id: number): boolean {
    const { pinned, shapeById } = this.resyncing!;
    const have = pinned.get(id);
    if (!have || spec.rate === undefined || spec.burst === undefined) return false;
    const shape = shapeKey(spec);
    const claimed = shapeById.get(id);
    if (claimed !== undefined) {
      if (claimed !== shape) return false;
    } else {
      const want = sealLimiterValue(spec, id);
      if ((Object.keys(want) as (keyof abi.PwRatelimit)[]).some((k) => have[k] !== want[k])) return false;
      if (this.limiters.has(shape)) return false; // the shape holds another id already
      shapeById.set(id, shape);
      this.limiters.set(shape, { id, users: new Set() });
    }
    this.limiters.get(shape)!.users.add(spec.text);
    this.shapeOf.set(spec.text, shape);
    return true;
  }

  /** During a resync, the ids that entries not kept point at: a new shape takes another while
   * there is one, so that an entry still to be rewritten keeps its old limiter's rate till then. */
  private avoided(): ReadonlySet<number> {
    const r = this.resyncing;
    if (!r) return NO_IDS;
    r.avoid ??= new Set([...r.found.limiter.values()].filter((id) => !r.shapeById.has(id)));
    return r.avoid;
  }

  private limiterFor(spec: SealSpec, text: string): number {
    const { rate, burst } = spec;
    if (rate === undefined || burst === undefined) throw new PwError('PW_ERR_INVALID', `a limit on ${text} needs a rate and a burst`);
    const shape = shapeKey(shapeOfSpec(spec));
    let lim = this.limiters.get(shape);
    if (!lim) {
      const used = new Set([...this.limiters.values()].map((l) => l.id));
      const free = (avoid: ReadonlySet<number>) => {
        let id = abi.PwLimit.SEAL_LIMITER_BASE;
        while (id < abi.PwLimit.RATELIMITS && (used.has(id) || avoid.has(id))) id++;
        return id;
      };
      let id = free(this.avoided());
      if (id >= abi.PwLimit.RATELIMITS) id = free(NO_IDS);
      if (id >= abi.PwLimit.RATELIMITS)
        throw new PwError('PW_ERR_FULL', `at most ${SEAL_LIMITERS} distinct seal rates (prefix length, rate, burst) at once`, {
          hint: 'seal alike prefixes at one rate, or block them',
        });
      this.maps.ratelimits.set(id, sealLimiterValue(shapeOfSpec(spec), id));
      lim = { id, users: new Set() };
      this.limiters.set(shape, lim);
    }
    lim.users.add(text);
    this.shapeOf.set(text, shape);
    return lim.id;
  }

  private release(text: string): void {
    const shape = this.shapeOf.get(text);
    if (shape === undefined) return;
    this.shapeOf.delete(text);
    this.drop(shape, text);
  }

  /** Takes a prefix off a limiter's users; the last one gone, the limiter is zeroed and free. */
  private drop(shape: string, text: string): void {
    const lim = this.limiters.get(shape);
    if (!lim) return;
    lim.users.delete(text);
    if (lim.users.size) return;
    this.limiters.delete(shape);
    this.maps.ratelimits.set(lim.id, abi.PwRatelimit.zero());
  }
}
