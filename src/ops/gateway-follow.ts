/**
 * `pathwise gateway follow`: reads a gateway's access log as it grows (tail -F: a log rotated
 * or truncated is followed to its new start), feeds each entry to a RejectionFollower, and
 * sends the decisions it makes to the daemon in one batch per read. A decision the daemon did
 * not take (it was down, restarting) is sent again on the next read, under the same id: it is
 * applied once. The log is read every `pollMs` (50 ms): the time from a rejection written to
 * its seal in force is that, plus the daemon's answer.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { PwError } from '../errors.js';
import type { DecisionResult } from '../control/decisions.js';
import type { DecisionInput } from '../filter/decision.js';
import type { GatewayAdapter } from '../gateway/adapters.js';
import { RejectionFollower, type FollowerStats, type FollowPolicy } from '../gateway/follower.js';
import type { Operations } from './operations.js';

export interface FollowOptions {
  file: string;
  adapter: GatewayAdapter;
  policy: FollowPolicy;
  /** The decisions' source tag (which gateway). */
  tag: string;
  /** Read the log from its start (default: from its end, as it is when following starts). */
  fromStart?: boolean;
  /** Decide and report, send nothing. */
  dryRun?: boolean;
  pollMs?: number;
}

export interface FollowHooks {
  signal: AbortSignal;
  /** A decision made: with the daemon's answer, or alone in a dry run. */
  onDecision(d: DecisionInput, result: DecisionResult | null): void;
  /** Sending failed (it is tried again); reading failed (the log is looked for again). */
  onError(e: PwError): void;
}

/** Decisions kept for sending again while the daemon does not answer; beyond it the oldest go. */
const PENDING_MAX = 10_000;
const CHUNK = 1 << 20;

/** Follows a file by name as it grows, is truncated, or is replaced. */
class LogTail {
  private fd: number | null = null;
  private ino = 0;
  private offset = 0;
  private partial = '';

  constructor(
    private readonly file: string,
    private fromStart: boolean,
  ) {}

  /** The complete lines written since the last read. */
  read(): string[] {
    if (this.fd === null) this.open();
    if (this.fd === null) return [];
    // Replaced (rotated) or truncated: the new file is read from its start.
    let byName: ReturnType<typeof statSync> | null = null;
    try {
      byName = statSync(this.file);
    } catch {
      // Gone for now (between a rotation's rename and the new file): keep reading the old one.
    }
    const lines = this.drain();
    if (byName && Number(byName.ino) !== this.ino) {
      this.close();
      this.fromStart = true;
      this.open();
      return [...lines, ...this.drain()];
    }
    if (Number(fstatSync(this.fd!).size) < this.offset) {
      this.offset = 0;
      this.partial = '';
    }
    return lines;
  }

  private drain(): string[] {
    if (this.fd === null) return [];
    const out: string[] = [];
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const n = readSync(this.fd, buf, 0, CHUNK, this.offset);
      if (n <= 0) break;
      this.offset += n;
      const text = this.partial + buf.toString('utf8', 0, n);
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        this.partial = text;
        continue;
      }
      for (const line of text.slice(0, cut).split('\n')) out.push(line);
      this.partial = text.slice(cut + 1);
    }
    return out;
  }

  private open(): void {
    try {
      this.fd = openSync(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const st = fstatSync(this.fd);
    this.ino = Number(st.ino);
    this.offset = this.fromStart ? 0 : Number(st.size);
    this.partial = '';
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export async function followGatewayLog(
  ops: Operations,
  opts: FollowOptions,
  hooks: FollowHooks,
): Promise<FollowerStats & { pending: number }> {
  try {
    statSync(opts.file);
  } catch {
    throw new PwError('PW_ERR_NOT_FOUND', `the log ${opts.file} does not exist`, {
      where: opts.file,
      hint: 'give the access log the gateway writes (nginx: access_log in its config)',
    });
  }
  const follower = new RejectionFollower(opts.policy, opts.tag);
  const tail = new LogTail(opts.file, !!opts.fromStart);
  const pending: DecisionInput[] = [];
  let failing = false;
  try {
    while (!hooks.signal.aborted) {
      for (const line of tail.read()) {
        const entry = opts.adapter.parse(line);
        const d = entry && follower.see(entry);
        if (!d) continue;
        if (opts.dryRun) hooks.onDecision(d, null);
        else pending.push(d);
      }
      if (pending.length > PENDING_MAX) pending.splice(0, pending.length - PENDING_MAX);
      if (pending.length) {
        try {
          const { results } = await ops.submitDecisions({ source: opts.tag, decisions: pending });
          results.forEach((r, i) => hooks.onDecision(pending[i]!, r));
          pending.length = 0;
          failing = false;
        } catch (e) {
          const err = e instanceof PwError ? e : new PwError('PW_ERR_INTERNAL', (e as Error).message);
          if (err.code === 'PW_ERR_INVALID' || err.code === 'PW_ERR_EXISTS') {
            // The daemon refused the batch as it is (e.g. a TTL beyond decisions.maxTtl): sending
            // it again would be refused again. Said, dropped, and the sources may be decided anew.
            for (const d of pending) follower.forget(d.target);
            pending.length = 0;
            hooks.onError(err);
          } else if (!failing) {
            failing = true;
            hooks.onError(err);
          }
        }
      }
      await sleep(opts.pollMs ?? 50, undefined, { signal: hooks.signal }).catch(() => undefined);
    }
  } finally {
    tail.close();
  }
  return { ...follower.stats, pending: pending.length };
}
