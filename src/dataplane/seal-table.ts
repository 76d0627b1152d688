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
 * decisions.ts): after a restart it writes every decision in force again (resync) and clears
 * the entries no decision explains.
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

export class SealTable {
  /** Limiter id by its shape, and how many prefixes use it. */
  private readonly limiters = new Map<string, { id: number; users: Set<string> }>();
  /** The shape each sealed prefix (by canonical text) uses. */
  private readonly shapeOf = new Map<string, string>();

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

  /** Forgets the limiters it handed out and zeroes them all (before a full resync). */
  resetLimiters(): void {
    this.limiters.clear();
    this.shapeOf.clear();
    for (let id = abi.PwLimit.SEAL_LIMITER_BASE; id < abi.PwLimit.RATELIMITS; id++) this.maps.ratelimits.set(id, abi.PwRatelimit.zero());
  }

  private limiterFor(spec: SealSpec, text: string): number {
    const { rate, burst } = spec;
    if (rate === undefined || burst === undefined) throw new PwError('PW_ERR_INVALID', `a limit on ${text} needs a rate and a burst`);
    const shape = `${spec.prefix.family}/${spec.prefix.plen} ${rate} ${burst}`;
    let lim = this.limiters.get(shape);
    if (!lim) {
      const used = new Set([...this.limiters.values()].map((l) => l.id));
      let id = abi.PwLimit.SEAL_LIMITER_BASE;
      while (id < abi.PwLimit.RATELIMITS && used.has(id)) id++;
      if (id >= abi.PwLimit.RATELIMITS)
        throw new PwError('PW_ERR_FULL', `at most ${SEAL_LIMITERS} distinct seal rates (prefix length, rate, burst) at once`, {
          hint: 'seal alike prefixes at one rate, or block them',
        });
      // The bucket is the prefix itself: every address in it shares the rate.
      this.maps.ratelimits.set(
        id,
        limiterValue({
          name: shape,
          id,
          rate,
          burst,
          per4: spec.prefix.family === 4 ? spec.prefix.plen : 32,
          per6: spec.prefix.family === 6 ? spec.prefix.plen : 128,
          blockAfter: 0,
          blockForMs: 0,
        }),
      );
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
