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
  host: string;
  port: number;
  cfg: HealthConfig;
  /** The config's health section as text: a change restarts the check. */
  cfgText: string;
  state: BackendHealth;
  passed: number;
  failed: number;
  rttMs?: number;
  lastError?: string;
  timer: NodeJS.Timeout | null;
  running: boolean;
}

export interface ServiceHealthStats {
  checks: number;
  failures: number;
  transitions: number;
}

export class ServiceHealth {
  private readonly checks = new Map<string, Check>();
  readonly stats: ServiceHealthStats = { checks: 0, failures: 0, transitions: 0 };
  private readonly listeners = new Set<(e: BackendHealthEvent) => void>();
  private closed = false;

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
        const cfgText = `${JSON.stringify(s.health)} ${port}`;
        const old = this.checks.get(id);
        if (old && old.cfgText === cfgText) continue;
        if (old) this.stop(old);
        const c: Check = {
          service: name,
          backend,
          host: formatEndpoint({ ...b, port: 0 }),
          port,
          cfg: s.health,
          cfgText,
          state: states.get(backend) ?? 'up',
          passed: 0,
          failed: 0,
          timer: null,
          running: false,
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
    for (const c of this.checks.values()) this.stop(c);
    this.checks.clear();
  }

  private stop(c: Check): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
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

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<string | null> {
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
    const timer = setTimeout(() => done(`no connection within ${timeoutMs} ms`), timeoutMs);
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
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
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
    const timer = setTimeout(() => done(`no reply within ${timeoutMs} ms`), timeoutMs);
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
