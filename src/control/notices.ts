/**
 * Notices: what the control plane decided or saw, as one stream — operational decisions and
 * seals, anomalies, path changes, backends going down and up. The audit log records every
 * notice; webhooks and the WebSocket stream carry the kinds their subscribers ask for.
 * Packet events (the pipeline's ring) are another stream: events.ts.
 */

export type NoticeKind = 'decision' | 'anomaly' | 'path' | 'backend';
export const NOTICE_KINDS: NoticeKind[] = ['decision', 'anomaly', 'path', 'backend'];

export interface Notice {
  kind: NoticeKind;
  /** What happened to the subject: applied, revoked, expired, sealed, detected, changed, down, up... */
  event: string;
  time: string;
  /** What it is about: a prefix, an API, a path group, a service's backend. */
  subject: string;
  /** Who made it: a token's name, a gateway adapter, a detector, the daemon. */
  actor: string;
  /** One line for people. */
  summary: string;
  details: Record<string, unknown>;
  /** false: for the audit log and the event stream, not the webhooks (a detector set to 'event'). */
  webhook?: boolean;
}

export type NoticeListener = (n: Notice) => void;

export class Notices {
  private readonly listeners = new Set<NoticeListener>();
  /** Times a listener threw (each is told; the others still get the notice). */
  failures = 0;

  constructor(private readonly onError: (err: unknown, n: Notice) => void = () => {}) {}

  publish(n: Omit<Notice, 'time'> & { time?: string }): Notice {
    const notice: Notice = { ...n, time: n.time ?? new Date().toISOString() };
    for (const fn of this.listeners) {
      try {
        fn(notice);
      } catch (err) {
        this.failures++;
        this.onError(err, notice);
      }
    }
    return notice;
  }

  subscribe(fn: NoticeListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
