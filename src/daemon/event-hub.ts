/**
 * One reader of the event ring, many subscribers: the daemon decodes each event once and hands
 * it to every subscriber whose filter wants it. A subscriber that cannot keep up loses events,
 * counted per subscriber (and the ring's own losses are counted in the kernel): never silent.
 */
import { eventDecoder, openEventRing } from '../dataplane/insight-tables.js';
import type { EventKind, PacketEvent } from '../insight/events.js';
import type { EventSource } from '../ops/events.js';
import type { Logger } from 'pino';

export interface Subscriber {
  kinds: Set<EventKind>;
  /** Takes the event, or counts it lost when it has no room. */
  deliver(e: PacketEvent): void;
}

export class EventHub implements EventSource {
  private readonly subs = new Set<Subscriber>();
  private reader: ReturnType<typeof openEventRing> | null = null;
  private readonly decode = eventDecoder();

  constructor(
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  /** Starts reading the ring (the caller owns it from now on). */
  start(): void {
    if (this.reader) return;
    const reader = openEventRing(this.instance);
    this.reader = reader;
    // A batch at a time, as the addon drains it: no promise per event.
    reader.onRecords((records) => {
      if (!this.subs.size) return; // read all the same, so the ring never fills for nobody
      for (const rec of records) this.dispatch(rec);
    });
  }

  private dispatch(rec: Buffer): void {
    let e: PacketEvent;
    try {
      e = this.decode(rec);
    } catch (err) {
      this.log.warn({ err }, 'an event record could not be decoded; skipped');
      return;
    }
    for (const s of this.subs) {
      if (!s.kinds.has(e.kind)) continue;
      try {
        s.deliver(e);
      } catch (err) {
        this.log.warn({ err }, 'an event subscriber failed; it is dropped');
        this.subs.delete(s);
      }
    }
  }

  /** Reads the ring pinned now (after a program upgrade gave it a new map); subscribers stay. */
  reopen(): void {
    this.reader?.close();
    this.reader = null;
    this.start();
  }

  subscribe(s: Subscriber): () => void {
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  get subscribers(): number {
    return this.subs.size;
  }

  stop(): void {
    this.reader?.close();
    this.reader = null;
    this.subs.clear();
  }
}
