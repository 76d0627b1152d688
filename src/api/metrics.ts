/**
 * Prometheus metrics, read from the maps at scrape time (prom-client collect callbacks).
 * Cardinality is bounded: interfaces × verdicts and reasons (fixed enums); routes and rules
 * only the busiest N (insight.metricsTopN) get their own label, the rest are summed under
 * "other"; map pressure per map (a fixed set).
 */
import type { BackendRow, LbCounters, ServiceRow } from '../dataplane/service-table.js';
import { listServices } from '../ops/services.js';
import client from 'prom-client';

import type { Controller } from '../control/controller.js';
import type { InterfaceStats } from '../dataplane/dataplane.js';
import type { InsightSummary } from '../dataplane/insight-tables.js';
import type { AnomalyStats } from '../insight/anomaly.js';
import type { IpfixExportTotals } from '../insight/ipfix-exporter.js';
import type { HttpInsightStats } from '../ops/api-insight.js';
import {
  insightCounters,
  interfaceStats,
  mapPressure as readMapPressure,
  pipelineInfo,
  routeCounts,
  routeTraffic,
  ruleTraffic,
} from '../ops/telemetry.js';

/** A webhook's deliveries (the daemon's webhooks.ts keeps them). */
interface WebhookStats {
  delivered: number;
  failedAttempts: number;
  deadLetters: number;
  queued: number;
}

export interface MetricSources {
  ipfix?: () => IpfixExportTotals;
  /** HTTP insight: its request counter and duration histogram (kept by the daemon), and its counts. */
  http?: { metrics: client.Metric[]; stats(): HttpInsightStats };
  /** Anomaly detection's counts (the daemon's). */
  anomalies?: () => AnomalyStats;
  /** Webhook deliveries, per webhook (the daemon's). */
  webhooks?: () => { byName: Record<string, WebhookStats> };
}

export function createMetrics(ctrl: Controller, sources: MetricSources = {}): client.Registry {
  const registry = new client.Registry();
  // The event-loop lag histogram samples every 10 ms by default: 100 wake-ups a second of an
  // otherwise idle daemon, each a context switch (costly on a VM). 200 ms still sees a stall.
  client.collectDefaultMetrics({ register: registry, prefix: 'pathwise_process_', eventLoopMonitoringPrecision: 200 });

  // A fill may wait (a read in turns of the event loop); prom-client awaits collect().
  type Fill = (set: (labels: Record<string, string>, v: number) => void) => void | Promise<void>;
  // Counters are the maps' running totals: each scrape resets the family and writes them.
  const counter = (name: string, help: string, labelNames: string[], fill: Fill) =>
    new client.Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        await fill((labels, v) => this.inc(labels, v));
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], fill: Fill) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        await fill((labels, v) => this.set(labels, v));
      },
    });

  // One read of the interface counters per scrape, shared by the three families below.
  let ifCache: { at: number; stats: InterfaceStats[] } | null = null;
  const ifStats = () => {
    if (!ifCache || Date.now() - ifCache.at > 500) ifCache = { at: Date.now(), stats: interfaceStats(ctrl.dp()) };
    return ifCache.stats;
  };
  counter(
    'pathwise_interface_packets_total',
    'Packets seen by the XDP pipeline, by ingress interface and verdict',
    ['interface', 'verdict'],
    (set) => {
      for (const s of ifStats()) for (const [verdict, v] of Object.entries(s.packets)) set({ interface: s.name, verdict }, v);
    },
  );
  counter(
    'pathwise_interface_bytes_total',
    'Bytes seen by the XDP pipeline, by ingress interface and verdict',
    ['interface', 'verdict'],
    (set) => {
      for (const s of ifStats()) for (const [verdict, v] of Object.entries(s.bytes)) set({ interface: s.name, verdict }, v);
    },
  );
  counter(
    'pathwise_packets_by_reason_total',
    'Packets by the reason for their verdict (drop and pass reasons), by ingress interface',
    ['interface', 'reason'],
    (set) => {
      for (const s of ifStats()) for (const [reason, v] of Object.entries(s.reasons)) set({ interface: s.name, reason }, v);
    },
  );

  const topN = () => ctrl.config().insight.metricsTopN;
  counter(
    'pathwise_route_packets_total',
    'Packets forwarded per route (the busiest insight.metricsTopN routes; the rest under prefix="other")',
    ['prefix'],
    async (set) => {
      const { top, otherPackets } = await routeTraffic(ctrl.dp(), topN());
      for (const r of top) set({ prefix: r.prefix }, r.packets);
      set({ prefix: 'other' }, otherPackets);
    },
  );
  counter(
    'pathwise_rule_packets_total',
    'Packets matched per rule (the busiest insight.metricsTopN rules; the rest under rule="other")',
    ['rule', 'action'],
    (set) => {
      let other = 0;
      ruleTraffic(ctrl.dp()).forEach((r, i) => {
        if (i < topN() && r.action) set({ rule: String(r.id), action: r.action }, r.packets);
        else other += r.packets;
      });
      set({ rule: 'other', action: 'any' }, other);
    },
  );

  // Map pressure: hash and LPM maps are counted, at most every 15 s, in turns of the event loop
  // (a million-prefix blocklist is walked: ~0.7 s); one read for every family that asks.
  type PressureRows = Awaited<ReturnType<typeof readMapPressure>>;
  let pressure: { at: number; rows: PressureRows } | null = null;
  let pressureRead: Promise<PressureRows> | null = null;
  const mapPressure = async () => {
    if (!pressure || Date.now() - pressure.at >= 15_000) {
      pressureRead ??= readMapPressure(ctrl.dp()).finally(() => (pressureRead = null));
      pressure = { at: Date.now(), rows: await pressureRead };
    }
    return pressure.rows;
  };
  gauge('pathwise_map_entries', 'Entries in each BPF map (arrays count as full, except the route table)', ['map'], async (set) => {
    for (const r of await mapPressure()) set({ map: r.map }, r.entries);
  });
  gauge('pathwise_map_max_entries', 'Capacity of each BPF map', ['map'], async (set) => {
    for (const r of await mapPressure()) set({ map: r.map }, r.max);
  });
  gauge('pathwise_routes', "Routes in the data plane, by origin (user; kernel: the host's own; imported)", ['origin'], (set) => {
    const routes = routeCounts(ctrl.dp());
    set({ origin: 'user' }, routes.user);
    set({ origin: 'kernel' }, routes.kernel);
    set({ origin: 'imported' }, routes.imported);
  });
  gauge('pathwise_route_import_kernel_routes', "Routes in the kernel's tables that the import accepts (one per prefix)", [], (set) =>
    set({}, ctrl.imports.stats.kernelRoutes),
  );
  counter('pathwise_route_import_events_total', 'Kernel route events the import applied', [], (set) => set({}, ctrl.imports.stats.events));
  counter('pathwise_route_import_full_syncs_total', "Full reads of the kernel's tables", [], (set) =>
    set({}, ctrl.imports.stats.fullSyncs),
  );
  counter(
    'pathwise_route_import_drift_repaired_total',
    'Differences between the kernel and the imported routes that a periodic full read found and repaired',
    [],
    (set) => set({}, ctrl.imports.stats.driftRepaired),
  );
  gauge('pathwise_route_import_full_sync_seconds', 'How long the last full read and sync took', [], (set) =>
    set({}, ctrl.imports.stats.lastFullSyncSeconds),
  );
  const pathRows = () => ctrl.paths.groupsView().flatMap((g) => g.paths.map((p) => ({ g, p, l: { group: g.name, path: p.name } })));
  gauge(
    'pathwise_path_rtt_seconds',
    'Smoothed RTT of each steered path (probes; TCP handshakes without probes)',
    ['group', 'path'],
    (set) => {
      for (const { p, l } of pathRows()) if (!Number.isNaN(p.srtt)) set(l, p.srtt / 1000);
    },
  );
  gauge('pathwise_path_rtt_p95_seconds', 'p95 RTT of the last 50 probes of each steered path', ['group', 'path'], (set) => {
    for (const { p, l } of pathRows()) if (!Number.isNaN(p.p95)) set(l, p.p95 / 1000);
  });
  gauge('pathwise_path_jitter_seconds', 'RTT jitter (RFC 3550) of each steered path', ['group', 'path'], (set) => {
    for (const { p, l } of pathRows()) set(l, p.jitter / 1000);
  });
  gauge('pathwise_path_loss_ratio', 'Probes lost over the last 50, per steered path', ['group', 'path'], (set) => {
    for (const { p, l } of pathRows()) set(l, p.loss);
  });
  gauge('pathwise_path_load_bps', 'Bits per second each steered path carried (last second)', ['group', 'path'], (set) => {
    for (const { p, l } of pathRows()) set(l, p.loadBps);
  });
  gauge('pathwise_path_share', 'Share of new flows each steered path gets', ['group', 'path'], (set) => {
    for (const { p, l } of pathRows()) set(l, p.share);
  });
  gauge('pathwise_path_up', 'State of each steered path: 1 up, 0.5 degraded, 0 down', ['group', 'path'], (set) => {
    for (const { p, l } of pathRows()) set(l, p.state === 'up' ? 1 : p.state === 'degraded' ? 0.5 : 0);
  });
  counter('pathwise_path_decisions_total', 'Decisions that changed what a steered group sends new flows to', ['group'], (set) => {
    for (const g of ctrl.paths.groupsView()) set({ group: g.name }, g.decisions);
  });
  counter('pathwise_path_probes_total', 'Path probes, by outcome', ['result'], (set) => {
    const p = ctrl.paths.stats().probes;
    set({ result: 'sent' }, p.sent);
    set({ result: 'answered' }, p.replies);
    set({ result: 'lost' }, p.lost);
    set({ result: 'late' }, p.late);
  });
  gauge('pathwise_pipeline_attached_interfaces', 'Interfaces running the pipeline', [], (set) => set({}, pipelineInfo(ctrl.dp()).attached));
  gauge('pathwise_pipeline_info', 'The running program (value 1)', ['prog_id', 'fib', 'object_hash'], (set) => {
    const p = pipelineInfo(ctrl.dp());
    set({ prog_id: String(p.progId), fib: p.fib, object_hash: p.objectHash ?? 'unknown' }, 1);
  });
  gauge('pathwise_config_version', 'The config version in force (see pathwise history)', [], (set) => set({}, ctrl.version()));
  counter('pathwise_reconciles_total', 'Changes applied or attempted (start, reload, API, rollback)', [], (set) =>
    set({}, ctrl.stats.reconciles),
  );
  counter('pathwise_reconcile_failures_total', 'Changes that failed and were rolled back', [], (set) =>
    set({}, ctrl.stats.reconcileFailures),
  );
  gauge('pathwise_reconcile_duration_seconds', 'How long the last change took to validate, diff and apply', [], (set) =>
    set({}, ctrl.stats.lastReconcileSeconds),
  );
  counter('pathwise_program_upgrades_total', 'In-place program replacements', [], (set) => set({}, ctrl.stats.upgrades));
  // One read of the insight counters per scrape, shared by the families below.
  let insightCache: { at: number; summary: InsightSummary } | null = null;
  const insight = async () => {
    if (!insightCache || Date.now() - insightCache.at > 500) {
      // The flow count is map pressure's (sampled past 65,536: a scrape reads no million flows).
      const flows = (await mapPressure()).find((r) => r.map === 'pw_flows')?.entries ?? 0;
      insightCache = { at: Date.now(), summary: insightCounters(ctrl.dp(), flows) };
    }
    return insightCache.summary;
  };
  counter('pathwise_ring_records_total', 'Records the pipeline queued to its ring buffers, by ring', ['ring'], async (set) => {
    const { rings } = await insight();
    set({ ring: 'events' }, rings.eventsSent);
    set({ ring: 'capture' }, rings.captureSent);
  });
  counter('pathwise_ring_records_lost_total', 'Records the pipeline could not queue (ring buffer full), by ring', ['ring'], async (set) => {
    const { rings } = await insight();
    set({ ring: 'events' }, rings.eventsLost);
    set({ ring: 'capture' }, rings.captureLost);
  });
  counter('pathwise_flows_created_total', 'Flows the pipeline created', [], async (set) => set({}, (await insight()).flowTable.created));
  counter('pathwise_flows_evicted_total', 'Flows the full flow table evicted (LRU)', [], async (set) =>
    set({}, (await insight()).flowTable.evicted),
  );
  counter('pathwise_flow_insert_failures_total', 'New flows the flow table refused', [], async (set) =>
    set({}, (await insight()).flowTable.insertFailed),
  );
  counter('pathwise_packet_sizes_total', 'IP packets by frame size', ['bucket'], async (set) => {
    for (const b of (await insight()).sizes) set({ bucket: b.bucket }, b.packets);
  });
  counter('pathwise_packet_protocols_total', 'IP packets by L4 protocol', ['proto'], async (set) => {
    for (const p of (await insight()).protocols) set({ proto: p.proto }, p.packets);
  });
  // Services: one read of the service table per scrape (it walks the tracked connections).
  let lbCache: { at: number; rows: ServiceRow[] } | null = null;
  const lb = () => {
    if (!lbCache || Date.now() - lbCache.at > 500) lbCache = { at: Date.now(), rows: listServices(ctrl.dp()) };
    return lbCache.rows;
  };
  const perService = (pick: (r: LbCounters) => number) => (set: (l: Record<string, string>, v: number) => void) => {
    for (const s of lb()) set({ service: s.name }, pick(s));
  };
  const perBackend = (pick: (b: BackendRow) => number) => (set: (l: Record<string, string>, v: number) => void) => {
    for (const s of lb()) for (const b of s.backends) set({ service: s.name, backend: b.backend }, pick(b));
  };
  counter(
    'pathwise_lb_service_packets_total',
    'Packets to a service (clients to the service)',
    ['service'],
    perService((r) => r.packets),
  );
  counter(
    'pathwise_lb_service_bytes_total',
    'IP bytes to a service',
    ['service'],
    perService((r) => r.bytes),
  );
  counter(
    'pathwise_lb_service_connections_total',
    "New connections a service's table sent to a backend",
    ['service'],
    perService((r) => r.connections),
  );
  gauge(
    'pathwise_lb_service_active_connections',
    'Tracked connections to a service that saw a packet in the last minute',
    ['service'],
    (set) => {
      for (const s of lb()) set({ service: s.name }, s.active);
    },
  );
  counter(
    'pathwise_lb_backend_packets_total',
    'Packets to a backend, and (NAT) its replies translated back',
    ['service', 'backend'],
    perBackend((b) => b.packets),
  );
  counter(
    'pathwise_lb_backend_bytes_total',
    'IP bytes to a backend, and (NAT) of its replies translated back',
    ['service', 'backend'],
    perBackend((b) => b.bytes),
  );
  counter(
    'pathwise_lb_backend_connections_total',
    'New connections sent to a backend',
    ['service', 'backend'],
    perBackend((b) => b.connections),
  );
  gauge(
    'pathwise_lb_backend_active_connections',
    'Tracked connections to a backend that saw a packet in the last minute',
    ['service', 'backend'],
    perBackend((b) => b.active),
  );
  gauge(
    'pathwise_lb_backend_up',
    '1 when the health checks pass (or none run), 0 when the backend is down',
    ['service', 'backend'],
    perBackend((b) => (b.health === 'up' ? 1 : 0)),
  );
  gauge(
    'pathwise_lb_backend_weight',
    "A backend's weight (0: drained)",
    ['service', 'backend'],
    perBackend((b) => b.weight),
  );
  gauge(
    'pathwise_lb_backend_table_share',
    "A backend's share of its service's Maglev table: what new connections it gets (weight, health, drain and slow start)",
    ['service', 'backend'],
    perBackend((b) => b.share),
  );
  gauge(
    'pathwise_lb_backend_check_rtt_seconds',
    "The round trip of a backend's last passing health check (the daemon's checks only)",
    ['service', 'backend'],
    (set) => {
      for (const [service, checks] of ctrl.health.view())
        for (const [backend, c] of checks) if (c.rttMs !== undefined) set({ service, backend }, c.rttMs / 1000);
    },
  );
  counter('pathwise_lb_health_checks_total', 'Backend health checks run', [], (set) => set({}, ctrl.health.stats.checks));
  counter('pathwise_lb_health_check_failures_total', 'Backend health checks that failed', [], (set) => set({}, ctrl.health.stats.failures));
  counter('pathwise_lb_backend_transitions_total', 'Backends that went down or came back up', [], (set) =>
    set({}, ctrl.health.stats.transitions),
  );
  counter('pathwise_lb_passive_downs_total', 'Backends taken down by passive health (new connections unanswered)', [], (set) =>
    set({}, ctrl.health.stats.passiveDowns),
  );
  counter(
    'pathwise_lb_backend_resets_total',
    'RSTs a backend sent (NAT mode)',
    ['service', 'backend'],
    perBackend((b) => b.resets),
  );

  gauge('pathwise_decisions_active', 'Decisions (blocks and seals) in force', [], (set) => set({}, ctrl.decisions.counts().active));
  counter('pathwise_decisions_total', 'Decisions by what happened to them', ['event'], (set) => {
    const s = ctrl.decisions.counts();
    for (const event of ['applied', 'duplicates', 'exempt', 'revoked', 'expired', 'repaired'] as const) set({ event }, s[event]);
  });
  const anomalies = sources.anomalies;
  if (anomalies) {
    counter('pathwise_anomalies_total', 'Anomalies the detectors found (each subject told once per cooldown)', [], (set) =>
      set({}, anomalies().anomalies),
    );
    counter('pathwise_anomaly_seals_total', 'Seals the detectors made', [], (set) => set({}, anomalies().seals));
    counter('pathwise_anomaly_requests_skipped_total', 'HTTP transactions not examined (an interval held its maximum)', [], (set) =>
      set({}, anomalies().requestsSkipped),
    );
    counter(
      'pathwise_anomalies_deferred_total',
      'Anomalies left to a later interval: more than 1,000 in one (the most severe are acted on first)',
      [],
      (set) => set({}, anomalies().deferred),
    );
    gauge(
      'pathwise_anomaly_interval_duration_seconds',
      'How long the last detection interval took (flow-table read and judging)',
      [],
      (set) => set({}, anomalies().lastIntervalMs / 1000),
    );
  }
  const webhooks = sources.webhooks;
  if (webhooks) {
    const perHook =
      (pick: (s: WebhookStats) => number): Fill =>
      (set) => {
        for (const [webhook, s] of Object.entries(webhooks().byName)) set({ webhook }, pick(s));
      };
    counter(
      'pathwise_webhook_deliveries_total',
      'Notices a webhook took (2xx)',
      ['webhook'],
      perHook((s) => s.delivered),
    );
    counter(
      'pathwise_webhook_failed_attempts_total',
      'Delivery attempts that failed (each retry counted)',
      ['webhook'],
      perHook((s) => s.failedAttempts),
    );
    counter(
      'pathwise_webhook_dead_letters_total',
      'Deliveries given up after their retries (or refused by a full queue)',
      ['webhook'],
      perHook((s) => s.deadLetters),
    );
    gauge(
      'pathwise_webhook_queued',
      'Notices waiting for a webhook',
      ['webhook'],
      perHook((s) => s.queued),
    );
  }

  const http = sources.http;
  if (http) {
    for (const m of http.metrics) registry.registerMetric(m);
    counter('pathwise_http_segments_total', 'TCP segments the HTTP stage copied to user space', [], (set) =>
      set({}, http.stats().segmentsSent),
    );
    counter('pathwise_http_segments_lost_total', 'TCP segments the HTTP stage could not copy (its ring was full)', [], (set) =>
      set({}, http.stats().segmentsLost),
    );
    counter(
      'pathwise_http_unparsed_total',
      'HTTP messages seen but not parsed (malformed, cut short, or lost with their stream)',
      ['direction'],
      (set) => {
        const s = http.stats();
        set({ direction: 'request' }, s.unparsedRequests);
        set({ direction: 'response' }, s.unparsedResponses);
      },
    );
  }
  const ipfix = sources.ipfix;
  if (ipfix) {
    gauge('pathwise_ipfix_collectors', 'IPFIX collectors configured (insight.ipfix.collectors)', [], (set) => set({}, ipfix().collectors));
    counter('pathwise_ipfix_messages_total', 'IPFIX messages sent (each collector counted)', [], (set) => set({}, ipfix().messages));
    counter('pathwise_ipfix_records_total', 'IPFIX flow records exported', [], (set) => set({}, ipfix().records));
    counter(
      'pathwise_ipfix_send_errors_total',
      'IPFIX messages that could not be sent (a collector down answers with ICMP unreachable)',
      [],
      (set) => set({}, ipfix().sendErrors),
    );
    counter('pathwise_ipfix_lost_flows_total', 'Flows evicted from the flow table with packets never exported', [], (set) =>
      set({}, ipfix().lostFlows),
    );
    gauge('pathwise_ipfix_export_duration_seconds', 'How long the last IPFIX export pass took (flow-table read and sends)', [], (set) =>
      set({}, ipfix().lastExportSeconds),
    );
  }
  return registry;
}
