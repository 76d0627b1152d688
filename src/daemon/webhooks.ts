/**
 * Webhooks: each notice (control/notices.ts) of the kinds a webhook asks for is POSTed to it
 * as JSON, signed: `X-Pathwise-Signature: sha256=HEX` is the HMAC-SHA256, under the webhook's
 * secret, of `TIMESTAMP.BODY`, with the timestamp (Unix seconds) in `X-Pathwise-Timestamp`
 * (a receiver refuses old timestamps: a captured delivery cannot be replayed later). Each
 * delivery has an id (`X-Pathwise-Delivery`) that stays the same over its retries.
 *
 * A delivery that fails (no answer within the timeout, or a status other than 2xx) is tried
 * again after 0.5 s, 1 s, 2 s... (capped at 60 s) up to the webhook's retries; then it is a
 * dead letter: counted in metrics and recorded in the audit log with its last error. A slow
 * receiver never blocks the daemon: each webhook has a bounded queue, one delivery in flight,
 * and what does not fit is a dead letter at once.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';

import type { AuditLog } from '../control/audit.js';
import type { Config } from '../control/config/schema.js';
import type { Notice, Notices } from '../control/notices.js';
import { parseDuration } from '../util/duration.js';

type WebhookConfig = Config['webhooks'][number];

/** Notices waiting per webhook; beyond it they are dead letters (a receiver down for long). */
const QUEUE_MAX = 10_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 60_000;
/** Dead letters are logged at most once in this long per webhook, with how many there were. */
const DEAD_LOG_MS = 10_000;

export interface WebhookStats {
  delivered: number;
  failedAttempts: number;
  deadLetters: number;
  queued: number;
}

interface Delivery {
  id: string;
  notice: Notice;
  attempt: number;
}

/** The signature of a body at a time, as receivers check it. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

class Webhook {
  private readonly queue: Delivery[] = [];
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Dead letters not logged yet (a full queue makes thousands at once: each is audited, not each logged). */
  private unlogged: { count: number; delivery: string; error: string } = { count: 0, delivery: '', error: '' };
  private deadLogTimer: NodeJS.Timeout | null = null;
  readonly stats: WebhookStats = { delivered: 0, failedAttempts: 0, deadLetters: 0, queued: 0 };

  constructor(
    public cfg: WebhookConfig,
    private readonly audit: AuditLog,
    private readonly log: Logger,
  ) {}

  enqueue(notice: Notice): void {
    if (!this.cfg.kinds.includes(notice.kind) || notice.webhook === false) return;
    const d: Delivery = { id: randomUUID(), notice, attempt: 0 };
    if (this.queue.length >= QUEUE_MAX) return this.dead(d, `the queue is full (${QUEUE_MAX} waiting)`);
    this.queue.push(d);
    this.stats.queued = this.queue.length;
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.timer || this.stopped || !this.queue.length) return;
    this.busy = true;
    const d = this.queue[0]!;
    void this.send(d).then((error) => {
      this.busy = false;
      if (this.stopped) return;
      if (error === null) {
        this.queue.shift();
        this.stats.delivered++;
        this.record(d, 'delivered', `delivered ${d.notice.kind} ${d.notice.event} to ${this.cfg.name}`);
      } else {
        this.stats.failedAttempts++;
        if (d.attempt >= this.cfg.retries) {
          this.queue.shift();
          this.dead(d, error);
        } else {
          // The head waits its backoff; the ones behind it keep their order.
          const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** d.attempt);
          d.attempt++;
          this.timer = setTimeout(() => {
            this.timer = null;
            this.pump();
          }, wait);
          this.timer.unref();
          return;
        }
      }
      this.stats.queued = this.queue.length;
      this.pump();
    });
  }

  /** One attempt; null when the receiver took it (2xx), else what went wrong. */
  private async send(d: Delivery): Promise<string | null> {
    const body = JSON.stringify({ delivery: d.id, notice: d.notice });
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(this.cfg.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'pathwise-webhook',
          'x-pathwise-delivery': d.id,
          'x-pathwise-timestamp': String(timestamp),
          'x-pathwise-signature': webhookSignature(this.cfg.secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(parseDuration(this.cfg.timeout)),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      return err.name === 'TimeoutError' ? `no answer within ${this.cfg.timeout}` : (err.cause?.code ?? err.cause?.message ?? err.message);
    }
  }

  private dead(d: Delivery, error: string): void {
    this.stats.deadLetters++;
    this.unlogged = { count: this.unlogged.count + 1, delivery: d.id, error };
    // The first at once; those after it within DEAD_LOG_MS in one line when it is over.
    if (!this.deadLogTimer) {
      this.logDead();
      this.deadLogTimer = setTimeout(() => {
        this.deadLogTimer = null;
        if (this.unlogged.count) this.logDead();
      }, DEAD_LOG_MS);
      this.deadLogTimer.unref();
    }
    this.record(
      d,
      'failed',
      `dead letter: ${d.notice.kind} ${d.notice.event} to ${this.cfg.name} after ${d.attempt + 1} attempt(s): ${error}`,
      error,
    );
  }

  private logDead(): void {
    const { count, delivery, error } = this.unlogged;
    this.log.warn(
      { webhook: this.cfg.name, delivery, error, deadLetters: count },
      count > 1
        ? `${count} webhook deliveries are dead letters (each is in the audit log); the last: ${error}`
        : 'a webhook delivery is a dead letter',
    );
    this.unlogged = { count: 0, delivery: '', error: '' };
  }

  private record(d: Delivery, event: 'delivered' | 'failed', summary: string, error?: string): void {
    try {
      this.audit.append({
        kind: 'webhook',
        event,
        subject: this.cfg.name,
        actor: 'daemon',
        summary,
        details: {
          delivery: d.id,
          url: this.cfg.url,
          attempts: d.attempt + 1,
          notice: { kind: d.notice.kind, event: d.notice.event, subject: d.notice.subject },
          ...(error ? { error } : {}),
        },
      });
    } catch (err) {
      this.log.error({ err }, 'recording a webhook delivery in the audit log failed');
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.deadLogTimer) clearTimeout(this.deadLogTimer);
    if (this.unlogged.count) this.logDead();
  }
}

export class WebhookService {
  private hooks = new Map<string, Webhook>();
  private unsubscribe: (() => void) | null = null;
  /** Of webhooks since removed from the config: the metrics' counters never go back. */
  private readonly retired: WebhookStats = { delivered: 0, failedAttempts: 0, deadLetters: 0, queued: 0 };

  constructor(
    private readonly config: () => Config,
    private readonly notices: Notices,
    private readonly audit: AuditLog,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.sync();
    this.unsubscribe = this.notices.subscribe((n) => {
      this.sync();
      for (const h of this.hooks.values()) h.enqueue(n);
    });
  }

  /** Follows the config's webhooks: new ones start, changed ones take their new settings, gone ones stop. */
  sync(): void {
    const want = new Map(this.config().webhooks.map((w) => [w.name, w]));
    for (const [name, h] of this.hooks) {
      if (want.has(name)) continue;
      h.stop();
      for (const k of ['delivered', 'failedAttempts', 'deadLetters'] as const) this.retired[k] += h.stats[k];
      this.hooks.delete(name);
    }
    for (const [name, cfg] of want) {
      const h = this.hooks.get(name);
      if (h) h.cfg = cfg;
      else this.hooks.set(name, new Webhook(cfg, this.audit, this.log));
    }
  }

  stats(): { total: WebhookStats; byName: Record<string, WebhookStats> } {
    const total = { ...this.retired, queued: 0 };
    const byName: Record<string, WebhookStats> = {};
    for (const [name, h] of this.hooks) {
      byName[name] = { ...h.stats };
      for (const k of ['delivered', 'failedAttempts', 'deadLetters', 'queued'] as const) total[k] += h.stats[k];
    }
    return { total, byName };
  }

  stop(): void {
    this.unsubscribe?.();
    for (const h of this.hooks.values()) h.stop();
  }
}
