/**
 * The decisions in force, kept in memory beside their store (control/decisions.ts): what each
 * prefix is held to. Every write into the pipeline, the repair and the start read them by
 * prefix, hundreds of thousands at a time at scale (decisions.maxActive goes to 500,000): a
 * query per prefix cost 15-30 µs, and a repair every 5 s over 500,000 prefixes kept the daemon
 * busy all the time. The store stays the truth: this is loaded from it, changed with it, and
 * loaded again when one of its transactions is rolled back.
 */
import { code4OfText } from '../filter/blocklist.js';

/** A decision in force, as the pipeline's entry needs it. */
export interface HeldDecision {
  id: string;
  action: 'block' | 'limit';
  rate: number | null;
  burst: number | null;
  expiresMs: number;
}

/** The store's columns load() reads, in this order. */
export const ACTIVE_COLUMNS = 'id, action, target, rate, burst, expires_ms';
type ActiveRow = [id: string, action: string, target: string, rate: number | null, burst: number | null, expires: number];

const NONE: readonly HeldDecision[] = [];

export class ActiveDecisions {
  /** Most prefixes have one decision: held bare, not in an array (half the memory at 500,000). */
  private readonly byTarget = new Map<string, HeldDecision | HeldDecision[]>();
  private count = 0;

  /** Replaces what is held with the store's rows in force (ACTIVE_COLUMNS, raw). */
  load(rows: Iterable<unknown[]>): void {
    this.byTarget.clear();
    this.count = 0;
    for (const r of rows as Iterable<ActiveRow>) {
      this.add(r[2], { id: r[0], action: r[1] as HeldDecision['action'], rate: r[3], burst: r[4], expiresMs: r[5] });
    }
  }

  /** `target` is a canonical prefix text (formatPrefix's). */
  add(target: string, d: HeldDecision): void {
    const held = this.byTarget.get(target);
    if (!held) this.byTarget.set(target, d);
    else if (Array.isArray(held)) held.push(d);
    else this.byTarget.set(target, [held, d]);
    this.count++;
  }

  remove(target: string, id: string): void {
    const held = this.byTarget.get(target);
    if (!held) return;
    if (!Array.isArray(held)) {
      if (held.id !== id) return;
      this.byTarget.delete(target);
    } else {
      const i = held.findIndex((d) => d.id === id);
      if (i < 0) return;
      held.splice(i, 1);
      if (held.length === 1) this.byTarget.set(target, held[0]!);
    }
    this.count--;
  }

  on(target: string): readonly HeldDecision[] {
    const held = this.byTarget.get(target);
    return held === undefined ? NONE : Array.isArray(held) ? held : [held];
  }

  /** The prefixes held. */
  targets(): IterableIterator<string> {
    return this.byTarget.keys();
  }

  /** Decisions in force. */
  get size(): number {
    return this.count;
  }
}

/** A canonical prefix text's key in the blocklist walks (FilterTables.forEachBlockOf): IPv4 its prefix4Code, IPv6 the text. */
export const blockKeyOf = (target: string): number | string => code4OfText(target) ?? target;
