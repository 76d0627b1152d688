/**
 * Packet events (rule log action, 1-in-N samples, drops). One process reads an instance's ring:
 * the daemon when it runs (its hub fans each event out to every subscriber: EventSource), else
 * `pathwise events` itself (eventsLocal).
 */
import { Dataplane } from '../dataplane/dataplane.js';
import { eventDecoder, eventsControl, openEventRing, ringCounters, setEventsControl } from '../dataplane/insight-tables.js';
import { EVENT_KINDS, type EventKind, type PacketEvent } from '../insight/events.js';
import type { EventsRequest, StreamHooks } from './operations.js';

/** What the daemon's event stream subscribes to (daemon/event-hub.ts). */
export interface EventSource {
  /** Takes events of these kinds until the returned function is called. */
  subscribe(s: { kinds: Set<EventKind>; deliver(e: PacketEvent): void }): () => void;
  /** How many subscribe now. */
  readonly subscribers: number;
}

/**
 * Reads the instance's event ring in this process, sampling and sending drops while it runs if
 * asked (and putting the controls back after).
 */
export async function eventsLocal(instance: string, req: EventsRequest, hooks: StreamHooks<PacketEvent>): Promise<{ lost: number }> {
  const dp = await Dataplane.open(instance, {}, { create: false });
  const maps = dp.pipeline.maps;
  const before = eventsControl(maps);
  const want = { sampleRate: req.sample ?? before.sampleRate, drops: req.drops || before.drops };
  const changed = want.sampleRate !== before.sampleRate || want.drops !== before.drops;
  const lostAtStart = ringCounters(maps).eventsLost;
  const ring = openEventRing(instance);
  const stop = () => ring.close();
  hooks.signal.addEventListener('abort', stop, { once: true });
  if (changed) setEventsControl(maps, want);
  const kinds = new Set(req.kinds ?? EVENT_KINDS);
  let n = 0;
  try {
    const on = [want.sampleRate ? `1 in ${want.sampleRate} sampled` : '', want.drops ? 'drops' : '', 'rule log'].filter(Boolean).join(', ');
    hooks.started(`instance ${instance} (${on})`);
    if (!hooks.signal.aborted) {
      const decode = eventDecoder();
      for await (const rec of ring) {
        const e = decode(rec);
        if (!kinds.has(e.kind)) continue;
        hooks.item(e);
        if (++n === req.count) break;
      }
    }
  } finally {
    hooks.signal.removeEventListener('abort', stop);
    // Put back what this command changed (the next packets stop being sent).
    if (changed) setEventsControl(maps, before);
    ring.close();
  }
  const lost = ringCounters(maps).eventsLost - lostAtStart;
  dp.close();
  return { lost };
}

/** Events the kernel ring had no room for, since the pipeline was loaded. */
export const eventsLost = (dp: Dataplane): number => ringCounters(dp.pipeline.maps).eventsLost;
