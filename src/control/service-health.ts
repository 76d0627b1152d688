/**
 * Health checks of the services' backends (config `services.NAME.health`), run by the daemon:
 * a TCP connection accepted, an HTTP(S) GET answered with the expected status, or a UDP
 * payload answered. Each backend is checked every `interval` (jittered ±10 %), from this
 * host, so a check takes the path the kernel routes to the backend. `fall` failures in a row
 * take a backend out of its service's Maglev table at once (its tracked connections stay
 * with it: they end by themselves); `rise` successes bring it back. States are kept with the
 * service in the data plane's services.json, so a restarted daemon starts where it left off.
 * The defaults (200 ms, 3 failures) take a dead backend out in well under a second.
 */
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';

import type { Dataplane } from '../dataplane/dataplane.js';
import type { BackendHealth } from '../dataplane/service-table.js';
import { backendKey, formatEndpoint } from '../lb/service.js';
import { parseDuration } from '../util/duration.js';
import { serviceSpecOf } from './config/forms.js';
import type { Config } from './config/schema.js';

type HealthConfig = Config['services'][string]['health'];

/** Passive health (see passiveTick): counters read every PASSIVE_TICK_MS. */
const PASSIVE_TICK_MS = 250;
const PASSIVE_TICKS = 2;
const PASSIVE_SYNS = 5;
/** Checks a second past which the daemon says they cost too much (see warnOfRate). */
const CHECKS_PER_SECOND_WARN = 5000;

/** A backend's change of state, for logs, metrics and the event stream. */
export interface BackendHealthEvent {
  time: string;
  service: string;
  backend: string;
  state: BackendHealth;
  /** What the last check saw. */
  detail: string;
}

export interface BackendCheckView {
  state: BackendHealth;
  rttMs?: number;
  lastError?: string;
}

interface Check {
  service: string;
  backend: string;
  /** Watch the connections too (NAT mode; see passiveTick). */
  passive: boolean;
  /** The data plane's SYN and SYN/ACK counts when the backend last answered a SYN, and the ticks since. */
  answered: { syns: number; synacks: number; ticks: number } | null;
  host: string;
  port: number;
  cfg: HealthConfig;
  /** Slow start of the service (ms; 0: none), and the ramp under way. */
  slowStartMs: number;
  /** The backend's weight in the config: from 0 (drained) to more starts a slow start too. */
  weight: number;
  ramp: NodeJS.Timeout | null;
  /** The config's health section as text: a change restarts the check. */
  cfgText: string;
  state: BackendHealth;
  passed: number;
  failed: number;
  rttMs?: number;
  lastError?: string;
  timer: NodeJS.Timeout | null;
}

export interface ServiceHealthStats {
  checks: number;
  failures: number;
  transitions: number;
  /** Backends taken down by passive health. */
  passiveDowns: number;
}

export class ServiceHealth {
  private readonly checks = new Map<string, Check>();
  readonly stats: ServiceHealthStats = { checks: 0, failures: 0, transitions: 0, passiveDowns: 0 };
  private readonly listeners = new Set<(e: BackendHealthEvent) => void>();
  private closed = false;
  private passiveTimer: NodeJS.Timeout | null = null;
  /** The rate warnOfRate() last warned of. */
  private warnedRate = 0;

  constructor(
    private readonly dp: () => Dataplane,
    private readonly log: Logger,
  ) {}

  /** Calls `fn` on every change of a backend's state; returns the unsubscribe. */
  onChange(fn: (e: BackendHealthEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Follows the config's services: checks start, change and stop with their backends. */
  configure(cfg: Config): void {
    const wanted = new Set<string>();
    for (const [name, s] of Object.entries(cfg.services)) {
      const spec = serviceSpecOf(name, s, `services.${name}`);
      const states = this.dp().services.health(name);
      for (const b of spec.backends) {
        const backend = backendKey(b);
        const port = s.health.port ?? (b.port || spec.vip.port);
        const id = `${name} ${backend}`;
        if (s.health.type === 'none' || !port) {
          // No checks: the backend counts as up.
          if (states.get(backend) === 'down') this.dp().services.setHealth(name, backend, 'up');
          if (s.health.type !== 'none' && !port)
            this.log.warn({ service: name, backend }, 'no port to check (an every-port service): give health.port; not checked');
          continue;
        }
        wanted.add(id);
        const cfgText = `${JSON.stringify(s.health)} ${port} ${s.mode} ${s.slowStart}`;
        const old = this.checks.get(id);
        if (old && old.cfgText === cfgText) {
          // Back from a drain: the same slow start as back from being down.
          if (old.weight === 0 && b.weight > 0 && old.state === 'up' && old.slowStartMs > 0) this.startRamp(old);
          old.weight = b.weight;
          continue;
        }
        if (old) this.stop(old);
        // A slow start cut short (by a restart, a changed check) ends: the backend gets all its weight.
        this.dp().services.setRamp(name, backend, null);
        const c: Check = {
          service: name,
          backend,
          passive: s.health.passive && s.mode === 'nat' && spec.proto === 'tcp',
          answered: null,
          host: formatEndpoint({ ...b, port: 0 }),
          port,
          cfg: s.health,
          cfgText,
          slowStartMs: parseDuration(s.slowStart),
          weight: b.weight,
          ramp: null,
          state: states.get(backend) ?? 'up',
          passed: 0,
          failed: 0,
          timer: null,
        };
        this.checks.set(id, c);
        this.schedule(c, Math.random() * parseDuration(s.health.interval));
      }
    }
    for (const [id, c] of this.checks)
      if (!wanted.has(id)) {
        this.stop(c);
        this.checks.delete(id);
      }
    const passive = [...this.checks.values()].some((c) => c.passive);
    if (passive && !this.passiveTimer) {
      this.passiveTimer = setInterval(() => this.passiveTick(), PASSIVE_TICK_MS);
      this.passiveTimer.unref();
    } else if (!passive && this.passiveTimer) {
      clearInterval(this.passiveTimer);
      this.passiveTimer = null;
    }
    this.warnOfRate();
  }

  /**
   * Says when the checks ask more than the daemon runs on time. Each is a connection opened
   * and closed (~0.1 ms of CPU, measured on a 2-core VM): 4,061 backends every 200 ms asked
   * 20,300 a second, the daemon ran 11,000 on a whole core, and every check came late.
   */
  private warnOfRate(): void {
    let perSecond = 0;
    for (const c of this.checks.values()) perSecond += 1000 / Math.max(1, parseDuration(c.cfg.interval));
    const rounded = Math.round(perSecond);
    if (perSecond <= CHECKS_PER_SECOND_WARN || rounded === this.warnedRate) return;
    this.warnedRate = rounded;
    this.log.warn(
      { checks: this.checks.size, perSecond: rounded },
      `the health checks ask ${rounded} checks a second: past ~${CHECKS_PER_SECOND_WARN} they take most of a core and come late; give large services a longer interval (passive health still takes out a backend that stops answering within half a second, in NAT mode)`,
    );
  }

  /**
   * Passive health: every 250 ms, each watched backend's SYNs and SYN/ACKs as the data plane
   * counted them. A backend that has answered none of the last PASSIVE_SYNS or more new
   * connections for PASSIVE_TICKS ticks (half a second) is down at once: a host gone is down
   * before its checks time out, a server that refuses (a RST is no SYN/ACK) on its clients'
   * word. A backend that answers slowly but answers keeps resetting the count. The active
   * checks bring it back.
   */
  private passiveTick(): void {
    let byService: Map<string, Map<string, { syns: number; synacks: number }>>;
    try {
      byService = this.dp().services.handshakes();
    } catch {
      return;
    }
    for (const c of this.checks.values()) {
      if (!c.passive) continue;
      const counts = byService.get(c.service);
      if (!counts) continue;
      const now = counts.get(c.backend);
      if (!now) continue;
      const a = c.answered;
      if (!a || now.synacks !== a.synacks || now.syns < a.syns) {
        c.answered = { ...now, ticks: 0 };
        continue;
      }
      a.ticks++;
      const unanswered = now.syns - a.syns;
      if (c.state === 'up' && unanswered >= PASSIVE_SYNS && a.ticks >= PASSIVE_TICKS) {
        c.passed = 0;
        c.answered = null;
        this.stats.passiveDowns++;
        this.transition(c, 'down', `${unanswered} new connections unanswered for ${a.ticks * PASSIVE_TICK_MS} ms`);
      }
    }
  }

  /** Per service, per backend: its state and what its last check saw. */
  view(): Map<string, Map<string, BackendCheckView>> {
    const out = new Map<string, Map<string, BackendCheckView>>();
    for (const c of this.checks.values()) {
      if (!out.has(c.service)) out.set(c.service, new Map());
      out.get(c.service)!.set(c.backend, { state: c.state, rttMs: c.rttMs, lastError: c.lastError });
    }
    return out;
  }

  close(): void {
    this.closed = true;
    if (this.passiveTimer) clearInterval(this.passiveTimer);
    this.passiveTimer = null;
    for (const c of this.checks.values()) this.stop(c);
    this.checks.clear();
  }

  private stop(c: Check): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    if (c.ramp) clearInterval(c.ramp);
    c.ramp = null;
  }

  /**
   * Slow start: a backend back up gets a tenth of its weight, then more every tenth of the
   * slow-start time until all of it (each step a new table, swapped in whole).
   */
  private startRamp(c: Check): void {
    const dp = this.dp();
    const started = performance.now();
    const step = () => {
      const fraction = Math.max(0.1, (performance.now() - started) / c.slowStartMs);
      const done = fraction >= 1 || c.state !== 'up' || this.closed;
      try {
        this.dp().services.setRamp(c.service, c.backend, done ? null : fraction);
      } catch (e) {
        this.log.error({ err: e, service: c.service, backend: c.backend }, 'slow start: changing the table failed');
      }
      if (done && c.ramp) {
        clearInterval(c.ramp);
        c.ramp = null;
      }
    };
    if (c.ramp) clearInterval(c.ramp);
    dp.services.setRamp(c.service, c.backend, 0.1);
    c.ramp = setInterval(step, Math.max(100, c.slowStartMs / 10));
    c.ramp.unref();
  }

  private schedule(c: Check, delayMs: number): void {
    c.timer = setTimeout(() => void this.run(c), delayMs);
    c.timer.unref();
  }

  private async run(c: Check): Promise<void> {
    c.timer = null;
    if (this.closed || this.checks.get(`${c.service} ${c.backend}`) !== c) return;
    const interval = parseDuration(c.cfg.interval);
    const t0 = performance.now();
    let error: string | null;
    try {
      error = await probe(c, parseDuration(c.cfg.timeout));
    } catch (e) {
      error = (e as Error).message;
    }
    this.stats.checks++;
    if (error === null) {
      c.rttMs = performance.now() - t0;
      c.lastError = undefined;
      c.passed++;
      c.failed = 0;
      if (c.state === 'down' && c.passed >= c.cfg.rise) this.transition(c, 'up', `${c.passed} checks passed`);
    } else {
      this.stats.failures++;
      c.lastError = error;
      c.failed++;
      c.passed = 0;
      if (c.state === 'up' && c.failed >= c.cfg.fall) this.transition(c, 'down', `${c.failed} checks failed, the last: ${error}`);
    }
    if (this.checks.get(`${c.service} ${c.backend}`) === c && !this.closed) this.schedule(c, interval * (0.9 + Math.random() * 0.2));
  }

  private transition(c: Check, state: BackendHealth, detail: string): void {
    c.state = state;
    this.stats.transitions++;
    try {
      // A backend coming back with a slow start takes a tenth of its weight first.
      if (state === 'up' && c.slowStartMs > 0) this.startRamp(c);
      this.dp().services.setHealth(c.service, c.backend, state);
    } catch (e) {
      this.log.error({ err: e, service: c.service, backend: c.backend }, 'changing a backend state in the data plane failed');
    }
    const event: BackendHealthEvent = { time: new Date().toISOString(), service: c.service, backend: c.backend, state, detail };
    (state === 'down' ? this.log.warn : this.log.info).call(this.log, event, `backend ${c.backend} of service ${c.service} is ${state}`);
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch (err) {
        this.log.warn({ err }, 'a backend-state listener failed');
      }
    }
  }
}

/**
 * A check's timeout, called only after the I/O already waiting has been handled: after the
 * event loop was held up (a large apply runs for seconds), it runs its due timers before it
 * polls, so an answer that arrived in time would count as a timeout. This covers a check of one
 * round trip (TCP, UDP); an HTTP check's later steps still need the loop to run.
 */
function timeoutAfterIo(ms: number, fn: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(fn), ms);
}

/** One check; null when it passed, else what went wrong. */
function probe(c: Check, timeoutMs: number): Promise<string | null> {
  switch (c.cfg.type) {
    case 'tcp':
      return tcpCheck(c.host, c.port, timeoutMs);
    case 'http':
    case 'https':
      return httpCheck(c, timeoutMs);
    case 'udp':
      return udpCheck(c, timeoutMs);
    default:
      return Promise.resolve(null);
  }
}

export function tcpCheck(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let settled = false;
    const done = (r: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = timeoutAfterIo(timeoutMs, () => done(`no connection within ${timeoutMs} ms`));
    sock.once('connect', () => done(null));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

function httpCheck(c: Check, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const request = c.cfg.type === 'https' ? httpsRequest : httpRequest;
    let settled = false;
    const done = (r: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = request({
      host: c.host,
      port: c.port,
      path: c.cfg.path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'pathwise-health', connection: 'close' },
      // A backend's certificate is usually for the service's name, not its address.
      rejectUnauthorized: false,
    });
    const timer = timeoutAfterIo(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    req.once('response', (res) => {
      res.resume();
      done(res.statusCode === c.cfg.status ? null : `status ${res.statusCode} (want ${c.cfg.status})`);
    });
    req.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    req.end();
  });
}

function udpCheck(c: Check, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = createSocket(c.host.includes(':') ? 'udp6' : 'udp4');
    let settled = false;
    const done = (r: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = timeoutAfterIo(timeoutMs, () => done(`no reply within ${timeoutMs} ms`));
    sock.on('message', (msg, from) => {
      if (from.port !== c.port) return;
      if (c.cfg.expect !== undefined && !msg.toString('latin1').includes(c.cfg.expect)) done(`reply without '${c.cfg.expect}'`);
      else done(null);
    });
    // An ICMP port unreachable surfaces as an error on a connected socket.
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    sock.connect(c.port, c.host, () => sock.send(Buffer.from(c.cfg.send ?? '', 'latin1')));
  });
}
