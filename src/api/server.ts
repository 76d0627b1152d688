/**
 * The REST API (fastify). Everything the CLI does goes through here when a daemon runs: the
 * CLI is a client of it. Errors are JSON: { error: { code, message, where, hint } } with the
 * catalog's HTTP status. Bodies are bounded (1 MiB; 64 MiB for a whole config with its files).
 * /openapi.json documents every route from the same schemas that validate requests.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';

import { PwError } from '../errors.js';
import type { Controller } from '../control/controller.js';
import { authenticate, type Principal } from './auth.js';
import { createMetrics, type MetricSources } from './metrics.js';
import type { IpfixExportTotals } from '../insight/ipfix-exporter.js';
import type { ApiInsightSource } from '../ops/api-insight.js';
import type { Metric } from 'prom-client';
import { registerApiInsightRoutes } from './routes/api-insight.js';
import type { EventSource } from '../ops/events.js';
import { registerCaptureRoute } from './capture-route.js';
import { registerEventStream } from './event-stream.js';
import { registerConfigRoutes } from './routes/config.js';
import { registerFilterRoutes } from './routes/filter.js';
import { registerInsightRoutes } from './routes/insight.js';
import { registerRoutingRoutes } from './routes/routing.js';
import { registerServiceRoutes } from './routes/services.js';
import { registerDecisionRoutes } from './routes/decisions.js';

import { BATCH_BODY_LIMIT, BODY_LIMIT, CONFIG_BODY_LIMIT, LOG_BODY_LIMIT } from './limits.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

function toApiError(e: unknown): PwError {
  if (e instanceof PwError) return e;
  const err = e as Error & {
    code?: string;
    statusCode?: number;
    validation?: { instancePath: string; message?: string; params?: Record<string, unknown> }[];
    validationContext?: string;
  };
  if (err.validation?.length) {
    const v = err.validation[0]!;
    const field = v.params?.missingProperty
      ? `${v.instancePath}/${v.params.missingProperty}`
      : v.params?.additionalProperty
        ? `${v.instancePath}/${v.params.additionalProperty}`
        : v.instancePath;
    const where = `${err.validationContext ?? 'body'}${field.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
    const what = v.params?.additionalProperty ? 'is not a known field' : v.message;
    return new PwError('PW_ERR_INVALID', `${where}: ${what}`, { where, details: { problems: err.validation } });
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new PwError('PW_ERR_TOO_LARGE', err.message, {
      hint: `bodies are at most ${BODY_LIMIT} bytes (${BATCH_BODY_LIMIT} for a batch of blocks or decisions, ${LOG_BODY_LIMIT} for gateway logs, ${CONFIG_BODY_LIMIT} for /v1/config)`,
    });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new PwError('PW_ERR_INVALID', err.message);
  return new PwError('PW_ERR_INTERNAL', err.message ?? String(e));
}

/** Reads what is left of a request body and throws it away: at most 64 MiB or 2 s, then the socket goes. */
function discardBody(raw: FastifyRequest['raw']): Promise<void> {
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > 64 << 20) {
        raw.destroy();
        done();
      }
    };
    const timer = setTimeout(() => {
      raw.destroy();
      done();
    }, 2000);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('close', done);
    raw.resume();
  });
}

export interface ApiOptions {
  /** Require bearer tokens (TCP listeners). */
  requireToken: boolean;
  log: Logger;
  /** The daemon's reader of the event ring, for GET /v1/events (WebSocket). */
  events?: EventSource;
  /** The daemon's IPFIX export counters, for /metrics. */
  ipfix?: () => IpfixExportTotals;
  /** The daemon's HTTP insight, for /v1/api/* and /metrics. */
  http?: ApiInsightSource & { metrics: Metric[] };
  webhooks?: MetricSources['webhooks'];
  anomalies?: MetricSources['anomalies'];
  /** Serve HTTPS: PEM certificate and key; with `ca`, clients must present a certificate it signed. */
  https?: { cert: string; key: string; ca?: string };
}

export async function buildApi(ctrl: Controller, opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.https
      ? {
          https: {
            cert: opts.https.cert,
            key: opts.https.key,
            ...(opts.https.ca ? { ca: opts.https.ca, requestCert: true, rejectUnauthorized: true } : {}),
            minVersion: 'TLSv1.2' as const,
          },
        }
      : {}),
    loggerInstance: opts.log.child({ component: 'api' }) as unknown as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    // Requests are not logged one by one: a scrape every few seconds would fill the log, and
    // every change is in the audit trail.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allErrors: false, strict: false } },
    // What the router refuses before any route runs (a percent-encoding that is not UTF-8, a
    // path parameter past its 100 characters) is answered in the API's error shape too.
    frameworkErrors: (e, _req, reply) => {
      const err = toApiError(e);
      void (reply as FastifyReply).status(err.httpStatus).send({ error: err.toJSON() });
    },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Pathwise API', version: '1', description: "eBPF routing, filtering and packet insight: the daemon's REST API" },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    // Liveness needs no token, whatever query a prober adds (a cache-buster, say).
    if (req.url.split('?', 1)[0] === '/healthz') return;
    req.principal = opts.requireToken
      ? authenticate(req.headers.authorization, ctrl.config().api.tokens, req.method, req.url)
      : { name: 'local', role: 'admin' };
  });
  app.setErrorHandler(async (e, req: FastifyRequest, reply: FastifyReply) => {
    const err = toApiError(e);
    if (err.httpStatus >= 500) req.log.error({ err: e }, 'request failed');
    // A body refused for its size is read to its end (within bounds) before the answer: a
    // client still sending it would otherwise meet a closed connection, not the 413.
    if (err.code === 'PW_ERR_TOO_LARGE') await discardBody(req.raw);
    return reply.status(err.httpStatus).send({ error: err.toJSON() });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({
      error: new PwError('PW_ERR_NOT_FOUND', `no API route ${req.method} ${req.url.split('?')[0]}`, {
        hint: 'see /openapi.json',
      }).toJSON(),
    });
  });

  const registry = createMetrics(ctrl, { ipfix: opts.ipfix, http: opts.http, webhooks: opts.webhooks, anomalies: opts.anomalies });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['metrics'] } }, async (_req, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/healthz', { schema: { summary: 'Liveness (no token needed)', tags: ['status'] } }, async () => ({ ok: true }));
  registerConfigRoutes(app, ctrl);
  registerRoutingRoutes(app, ctrl);
  registerFilterRoutes(app, ctrl);
  registerServiceRoutes(app, ctrl);
  registerDecisionRoutes(app, ctrl);
  registerInsightRoutes(app, ctrl);
  registerCaptureRoute(app, ctrl);
  if (opts.http) registerApiInsightRoutes(app, opts.http);
  if (opts.events) await registerEventStream(app, ctrl, opts.events);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
