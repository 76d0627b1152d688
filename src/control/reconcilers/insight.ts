/** Packet events: 1-in-N sampling and every drop, switched on and off with no reload. */
import type { Dataplane } from '../../dataplane/dataplane.js';
import { eventsControl, setEventsControl, type EventsControl } from '../../dataplane/insight-tables.js';
import type { Config } from '../config/schema.js';
import { Phase, type Reconciler } from '../reconcile.js';

export type EventsChange = { kind: 'events'; phase: number; before: EventsControl; after: EventsControl };

const eventsText = (e: EventsControl) => `sample ${e.sampleRate ? `1 in ${e.sampleRate}` : 'off'}, drops ${e.drops ? 'on' : 'off'}`;

export const insightReconciler: Reconciler<EventsControl, EventsControl, EventsChange> = {
  kinds: ['events'],
  desired: (cfg: Config) => ({ sampleRate: cfg.insight.sampleRate, drops: cfg.insight.dropEvents }),
  running: (dp: Dataplane) => eventsControl(dp.pipeline.maps),
  plan: (r, d) => (eventsText(r) !== eventsText(d) ? [{ kind: 'events', phase: Phase.EVENTS, before: r, after: d }] : []),
  apply(c, t) {
    setEventsControl(t.dp().pipeline.maps, c.after);
    return () => setEventsControl(t.dp().pipeline.maps, c.before);
  },
  summarize: (c) => ({ kind: c.kind, op: 'replace', key: 'insight', before: eventsText(c.before), after: eventsText(c.after) }),
};
