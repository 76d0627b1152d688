/**
 * The Pathwise configuration, defined once: this zod schema gives the TypeScript types
 * (`Config`), the validator (load.ts), and the JSON Schema and reference in docs/
 * (scripts/gen-config-docs.ts). Field descriptions here are the documentation.
 */
import { z } from 'zod';

import { PRIVATE_INSTANCE } from '../../util/instance.js';

import { parseAddress, prefixKey } from '../../util/ip.js';
import { parseBandwidth, parseDuration } from '../../util/duration.js';
import { TOKEN_CHARS } from '../../util/token.js';
import { RULE_ACTIONS, PROTOCOLS, parseTcpFlags } from '../../filter/rule.js';
import { parsePer } from '../../filter/limiter.js';
import { parseSealPer } from '../../filter/decision.js';
import { parseProtocol, parseTable } from '../../routing/kernel-routes.js';
import { DEFAULT_TABLE_SIZE, isPrime, MAX_TABLE_SIZE, MIN_TABLE_SIZE } from '../../lb/maglev.js';
import { LB_HASHES, LB_MODES, LB_ON_DOWN, parseBackend, parseServiceAddress } from '../../lb/service.js';
import { compilePathPattern } from '../../insight/api-identity.js';
import { HEALTH_DEFAULTS } from './defaults.js';

/** A string that must pass a parser; the parser's message becomes the issue. */
const parsed = (what: string, parse: (s: string) => unknown) =>
  z.string().superRefine((s, ctx) => {
    try {
      parse(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^'.*?' /, `'${s}' `) || `invalid ${what}` });
    }
  });

const cidr = parsed('prefix', (s) => prefixKey(s)).describe('an IPv4 or IPv6 prefix (CIDR), or an address');
const address = parsed('address', (s) => parseAddress(s)).describe('an IPv4 or IPv6 address');
const duration = parsed('duration', (s) => parseDuration(s)).describe('a duration: 30s, 5m, 1h30m, 2d');
/** A duration's milliseconds for a check across fields; NaN (no comparison holds) for text
 * that is no duration, which its own field reports (as it reports one too short). */
const msOf = (s: string): number => {
  try {
    return parseDuration(s);
  } catch {
    return NaN;
  }
};
/** A duration of at least `minMs`. Text that is no duration is the parse's issue alone, at its
 * place in the file (a check that parsed it again would throw instead). */
const durationAtLeast = (minMs: number, message: string) =>
  duration.refine((s) => !(msOf(s) < minMs), message).describe('a duration: 30s, 5m, 1h30m, 2d');
/** A TTL, an expiry or a timer's period: 0 would expire at once, or spin. */
const positiveDuration = durationAtLeast(1000, 'at least 1s');
/** Refuses a list with two items of one key: the second would be ignored, or fight the first. */
const unique =
  <T>(keyOf: (item: T) => string, field: string, what: string) =>
  (list: T[], ctx: z.RefinementCtx) =>
    list.forEach((item, k) => {
      const key = keyOf(item);
      if (list.findIndex((x) => keyOf(x) === key) !== k)
        ctx.addIssue({ code: 'custom', message: `${what} ${key} is listed twice`, path: [k, field] });
    });
const ifname = z
  .string()
  .min(1)
  .max(15)
  .regex(/^[^\s/]+$/, 'interface names have no spaces or slashes')
  .describe('an interface name');
const bandwidth = parsed('bandwidth', (s) => parseBandwidth(s)).describe('bits per second: 10Gbit, 500Mbit, 64kbit, or a plain number');
/** A table's size, fixed when the pipeline loads: an integer within [min, max]. */
const tableSize = (min: number, max: number, byDefault: number, what: string) =>
  z.number().int().min(min).max(max).default(byDefault).describe(what);
const port = z.union([z.number().int().min(0).max(65535), z.string().regex(/^\d{1,5}(-\d{1,5})?$/, 'a port (22) or range (1000-2000)')]);

const IPFIX_DEFAULTS = {
  collectors: [],
  activeTimeout: '60s',
  idleTimeout: '15s',
  templateRefresh: '60s',
  observationDomain: 1,
  http: true,
};
/** HTTP insight: which connections the data plane copies segment heads of (src/insight/http-*.ts). */
const HttpInsight = z
  .object({
    ports: z
      .array(z.number().int().min(1).max(65535))
      .max(1024)
      .default([])
      .describe('TCP ports whose connections are followed as HTTP (and TLS, for the server name); empty: HTTP insight is off'),
    snap: z
      .number()
      .int()
      .min(64)
      .max(1024)
      .default(1024)
      .describe('payload bytes copied per segment: a request head or TLS ClientHello longer than this is counted as unparsed'),
    versionField: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header field name')
      .transform((v) => v.toLowerCase())
      .nullable()
      .default(null)
      .describe('the request header that names an API version, e.g. API-Version (null: versions come from paths only)'),
    versionQuery: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a query parameter name')
      .nullable()
      .default(null)
      .describe('the query parameter that names an API version, e.g. api-version (after the path and the header field)'),
    maxApis: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .default(200)
      .describe('automatic API templates kept (paths no pattern in apis: names); the rest are counted as "other"'),
  })
  .strict();
const HTTP_DEFAULTS = { ports: [], snap: 1024, versionField: null, versionQuery: null, maxApis: 200 };

const ApiPatternSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.:/{}-]{1,128}$/, 'letters, digits and _.:/{}- (1-128)'),
    path: parsed('path pattern', (s) => compilePathPattern(s)).describe(
      '"/v{version}/orders/{id}": {x} is a path segment or part of one, {version} names the version, a final * the rest',
    ),
    methods: z
      .array(z.string().regex(/^[A-Za-z]{1,16}$/, 'a method such as GET'))
      .optional()
      .describe('only these methods (default: any)'),
    hosts: z
      .array(z.string().min(1).max(255))
      .optional()
      .describe('only requests to these hosts (the Host field without its port; default: any)'),
  })
  .strict();

export const Ipfix = z
  .object({
    collectors: z
      .array(z.object({ host: address, port: z.number().int().min(1).max(65535).default(4739) }).strict())
      .default([])
      .describe('IPFIX collectors the flow records go to over UDP (none: no export)'),
    activeTimeout: duration.default('60s').describe('a flow still active is reported this often'),
    idleTimeout: duration.default('15s').describe('a flow that has seen no packet for this long is reported and its record closed'),
    templateRefresh: duration.default('60s').describe('templates are sent again this often (UDP collectors may restart)'),
    observationDomain: z.number().int().min(0).max(4294967295).default(1).describe('the observation domain id in every message'),
    http: z
      .boolean()
      .default(true)
      .describe(
        'also a record per HTTP transaction HTTP insight sees, with the IANA HTTP elements (method, host, target, version, status)',
      ),
  })
  .strict()
  .describe('IPFIX (RFC 7011) export of the flow table');

export const Nexthop = z
  .object({
    gateway: address.optional().describe('the gateway; omit for a directly connected route'),
    dev: ifname.optional().describe('egress interface; found from the gateway when omitted'),
    weight: z.number().int().min(1).max(256).default(1).describe('ECMP weight'),
    capacity: bandwidth.optional().describe("the link's capacity, for a load-aware path policy (e.g. 10Gbit, 500Mbit)"),
  })
  .strict()
  .refine((n) => n.gateway || n.dev, { message: 'a nexthop needs a gateway or a dev' });

const checked = (parse: (v: string | number) => unknown) => (v: string | number, ctx: z.RefinementCtx) => {
  try {
    parse(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
};

export const ImportSource = z
  .object({
    table: z
      .union([z.string(), z.number().int()])
      .superRefine(checked((v) => parseTable(v, 'table')))
      .refine((v) => v !== 'local' && v !== 255, "the local table is the host's own addresses: Pathwise follows them already")
      .default('main')
      .describe('the kernel routing table: main, default, or a number (as `ip route show table N`)'),
    protocols: z
      .array(z.union([z.string(), z.number().int()]).superRefine(checked((v) => parseProtocol(v, 'protocol'))))
      .min(1)
      .optional()
      .describe(
        'route protocols to copy, by name (bgp, ospf, static, zebra, bird, boot, dhcp...) or number; default: all but kernel (connected routes, which Pathwise derives from the addresses itself)',
      ),
    prefixes: z.array(cidr).min(1).optional().describe('copy only routes inside one of these prefixes; default: all'),
  })
  .strict();

export const Import = z
  .object({
    from: z
      .array(ImportSource)
      .max(64)
      .default([])
      .describe(
        "kernel routing tables whose routes Pathwise copies into its own FIB, followed as they change (the first entry that accepts a route wins a tie on metric); a route of the config or of the host's addresses for the same prefix takes precedence",
      ),
    reconcile: durationAtLeast(1000, 'at least 1s: a full read of a large table takes a while')
      .default('60s')
      .describe(
        'every this often the tables are read again in full and any difference repaired in either direction (counted as drift); a full BGP table costs ~4 s of CPU per read (BENCHMARKS.md)',
      ),
  })
  .strict()
  .describe('routes imported from the kernel, where a routing daemon (BIRD, FRR) or an operator keeps them');

const PATH_DEFAULTS = {
  probe: { type: 'icmp' as const, interval: '100ms', timeout: 'auto', lost: 3 },
  recover: 10,
  degradedLoss: 0.1,
  hysteresis: { relative: 0.1, absolute: '1ms', hold: '500ms', noise: 1.5 },
  damping: { halfLife: '15s', suppress: 2500, reuse: 1200 },
  targetUtilisation: 0.8,
  fallback: 'kernel',
};

export const PathGroup = z
  .object({
    policy: z
      .enum(['weighted', 'lowest-latency', 'latency-weighted', 'load-aware'])
      .default('lowest-latency')
      .describe(
        'weighted: the configured weights over the paths that are up; lowest-latency: all new flows on the path with the lowest RTT; latency-weighted: shares by weight / RTT, cut by loss; load-aware: the fastest path filled to targetUtilisation of its capacity, the rest spilled to the next',
      ),
    probe: z
      .object({
        type: z
          .enum(['icmp', 'udp', 'tcp'])
          .default('icmp')
          .describe('ICMP echo, UDP to a reflector that echoes the payload, or TCP SYN (a SYN/ACK or a RST answers)'),
        target: address.optional().describe('what to probe through each path (default: its gateway)'),
        port: z.number().int().min(1).max(65535).optional().describe('UDP or TCP port'),
        interval: durationAtLeast(10, 'at least 10ms').default('100ms').describe('between probes of one path (jittered ±10 %)'),
        timeout: z
          .union([z.literal('auto'), durationAtLeast(1, 'at least 1ms, or auto')])
          .default('auto')
          .describe('a probe unanswered this long is lost (auto: 3 × RTT + 4 × deviation + 10 ms, at least 20 ms, at most the interval)'),
        lost: z.number().int().min(1).max(100).default(3).describe('probes lost in a row before a path is down'),
      })
      .strict()
      .default(PATH_DEFAULTS.probe),
    recover: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe('probes answered in a row before a path that was down is trusted again'),
    degradedLoss: z.number().min(0).max(1).default(0.1).describe('loss ratio (over the last 50 probes) at which a path is degraded'),
    hysteresis: z
      .object({
        relative: z.number().min(0).max(10).default(0.1).describe('a better path must lead by this fraction of the current RTT...'),
        absolute: duration.default('1ms').describe('...and by this much...'),
        hold: duration.default('500ms').describe('...for this long (a lead of k margins switches k times sooner)'),
        noise: z
          .number()
          .min(0)
          .max(100)
          .default(1.5)
          .describe(
            "...and by this many times the paths' combined spread (each the larger of its RTT estimate's deviation and its jitter)",
          ),
      })
      .strict()
      .default(PATH_DEFAULTS.hysteresis),
    damping: z
      .object({
        halfLife: positiveDuration.default('15s').describe('a fall to down costs 1000 penalty points, halved every halfLife'),
        suppress: z.number().min(1).default(2500).describe('above this penalty a path stays down however well it answers...'),
        reuse: z.number().min(1).default(1200).describe('...until the penalty decays below this'),
      })
      .strict()
      .default(PATH_DEFAULTS.damping),
    targetUtilisation: z.number().min(0.01).max(1).default(0.8).describe('load-aware: fill each path up to this fraction of its capacity'),
    fallback: z
      .string()
      .default('kernel')
      .describe('when every path is down: kernel (the kernel routes), blackhole (drop), or the name of another nexthop group'),
  })
  .strict();

export const Route = z
  .object({
    prefix: cidr.describe('destination prefix'),
    type: z
      .enum(['unicast', 'blackhole', 'local', 'kernel'])
      .default('unicast')
      .describe('blackhole drops; local delivers here; kernel hands to the kernel'),
    via: z.array(Nexthop).min(1).max(16).optional().describe('nexthops (several make an ECMP group)'),
    nexthopGroup: z.string().optional().describe('the name of a group in nexthopGroups, instead of via'),
    metric: z.number().int().min(0).max(0xffffffff).default(0),
  })
  .strict();

export const ServiceHealth = z
  .object({
    type: z
      .enum(['tcp', 'http', 'https', 'udp', 'none'])
      .default('tcp')
      .describe(
        'tcp: a connection accepted; http(s): GET path answered with status; udp: `send` answered (with `expect` in it); none: no checks',
      ),
    path: z.string().startsWith('/').default('/').describe('http(s): the path to GET'),
    status: z.number().int().min(100).max(599).default(200).describe('http(s): the status a healthy backend answers'),
    send: z.string().max(512).optional().describe('udp: the payload to send'),
    expect: z.string().max(512).optional().describe('udp: text the reply must hold (default: any reply)'),
    port: z.number().int().min(1).max(65535).optional().describe("the port to check (default: the backend's, or the service's)"),
    interval: durationAtLeast(10, 'at least 10ms').default('200ms').describe('between checks of one backend'),
    timeout: durationAtLeast(10, 'at least 10ms').default('200ms').describe('a check unanswered this long failed'),
    rise: z.number().int().min(1).max(100).default(2).describe('checks passed in a row before a backend that was down is up'),
    fall: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe('checks failed in a row before a backend is down (it leaves the table at once)'),
    passive: z
      .boolean()
      .default(true)
      .describe(
        'NAT mode: also watch the connections themselves; a backend that answers none of 5 or more new connections (SYNs) for half a second is down at once (the active checks bring it back)',
      ),
  })
  .strict()
  .refine((h) => h.type !== 'udp' || h.send !== undefined, { message: 'a udp check needs `send`', path: ['send'] });

export const Service = z
  .object({
    address: parsed('service address', (s) => parseServiceAddress(s, 'address')).describe(
      'VIP:PORT/PROTO: the address clients connect to, its port (* or 0: every port) and protocol (tcp or udp); [V6ADDR]:PORT/PROTO for IPv6',
    ),
    backends: z
      .array(parsed('backend', (s) => parseBackend(s, 'backend')))
      .max(1024)
      .default([])
      .describe('ADDR:PORT[@WEIGHT] each (weight 1 by default; 0 drains: no new connections, established ones stay)'),
    mode: z
      .enum(LB_MODES)
      .default('nat')
      .describe(
        'nat: the destination becomes the backend, replies are translated back; dsr: layer-2 direct server return (the backend, on a segment of this host, holds the service address and answers clients itself)',
      ),
    hash: z
      .enum(LB_HASHES)
      .default('five-tuple')
      .describe("what picks a new connection's backend: the 5-tuple, the 5-tuple without the source port, or the destination port only"),
    snat: address
      .optional()
      .describe(
        'NAT mode: the source address the backends see (each connection gets a port of it), so they need no route back to the clients, only to this address, routed to this host',
      ),
    tableSize: z
      .number()
      .int()
      .min(MIN_TABLE_SIZE)
      .max(MAX_TABLE_SIZE)
      // Out of bounds is named above; a prime test of a huge number is slow.
      .refine((n) => n < MIN_TABLE_SIZE || n > MAX_TABLE_SIZE || isPrime(n), 'a prime')
      .default(DEFAULT_TABLE_SIZE)
      .describe('Maglev table slots (a prime; 65537 by default, as Maglev; at least 4 per backend)'),
    onBackendDown: z
      .enum(LB_ON_DOWN)
      .optional()
      .describe(
        "what becomes of a backend's connections when its health checks fail: keep (the default: they go on until they end, or until it answers no more) or reset (Pathwise answers each TCP connection's next segment with a reset from the service address, so the client learns at once; a UDP flow moves to a live backend)",
      ),
    health: ServiceHealth.default(HEALTH_DEFAULTS).describe("the daemon's checks of each backend"),
    slowStart: duration
      .default('0s')
      .describe(
        'a backend that comes back up, or back from a drain (weight 0 to more, while its health checks run), gets its weight step by step over this long (from a tenth), not its full share at once; 0s: at once',
      ),
  })
  .strict();

export const RateLimit = z
  .object({
    rate: z.number().min(0.001).max(1_000_000).describe('packets per second per source (0.001 to 1,000,000)'),
    burst: z.number().min(1).max(1_000_000).optional().describe('bucket size in packets (default: one second of rate)'),
    per: parsed('per', (s) => parsePer(s))
      .default('address')
      .describe('what a source is: an address, or a prefix'),
    blockAfter: z.number().int().min(0).default(0).describe('escalation: limited packets in a row before the source is blocked (0: never)'),
    blockFor: positiveDuration.default('60s').describe('escalation: how long a source is blocked'),
  })
  .strict();

export const Rule = z
  .object({
    action: z.enum(RULE_ACTIONS as [string, ...string[]]).describe('pass, drop, count, log or ratelimit'),
    limiter: z.string().optional().describe('ratelimit: the name of a rate limiter'),
    from: cidr.optional(),
    to: cidr.optional(),
    proto: z.union([z.enum(Object.keys(PROTOCOLS) as [string, ...string[]]), z.number().int().min(0).max(255)]).optional(),
    sport: port.optional(),
    dport: port.optional(),
    flags: parsed('TCP flags', (s) => parseTcpFlags(s, 'flags'))
      .optional()
      .describe('TCP flags that must be set (or, with !, clear)'),
    iif: ifname.optional().describe('ingress interface'),
  })
  .strict();

export const Blocklist = z
  .object({
    prefixes: z.array(cidr).default([]),
    file: z.string().optional().describe('a file of prefixes, one per line (all lists together: at most 1,048,576 IPv4 and as many IPv6)'),
    ttl: positiveDuration.optional().describe('expiry of these entries, counted from when they are first applied'),
    until: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('absolute expiry (ISO 8601), as the API writes for blocks added with a TTL'),
  })
  .strict()
  .refine((b) => b.ttl === undefined || b.until === undefined, { message: 'give ttl or until, not both', path: ['until'] });

export const ApiToken = z
  .object({
    name: z.string().min(1),
    token: z
      .string()
      .min(16, 'tokens are at least 16 characters')
      .regex(TOKEN_CHARS, 'tokens are printable ASCII without spaces: they travel in an Authorization header'),
    role: z
      .enum(['admin', 'readonly', 'gateway'])
      .default('readonly')
      .describe('admin: everything; readonly: GET only; gateway: GET, POST/DELETE of /v1/decisions, POST /v1/gateway/logs'),
  })
  .strict();

/** A loopback address (or localhost): traffic that never leaves the host. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const Listener = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535),
    tls: z
      .object({
        cert: z.string().describe("PEM certificate (with its chain), a file in the config's directory or below"),
        key: z.string().describe('PEM private key of cert'),
        clientCa: z.string().optional().describe('PEM CA certificate(s): clients must present a certificate one of them signed'),
      })
      .strict()
      .optional()
      .describe('serve HTTPS (required off loopback)'),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (!l.tls && !isLoopbackHost(l.host)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['tls'],
        message: `a listener on ${l.host} needs tls: tokens and captured packets would cross the network in clear`,
      });
    }
  });

/** What an anomaly detector does when it fires, and how its baseline judges (insight/anomaly.ts). */
const DETECTOR_DEFAULTS = {
  requestFlood: { floor: 50, action: 'seal' as const },
  packetFlood: { floor: 5000, action: 'seal' as const },
  newSources: { floor: 50, action: 'webhook' as const },
  errorSpike: { floor: 0.2, action: 'webhook' as const },
  scan: { floor: 30, action: 'seal' as const },
  synFlood: { floor: 100, action: 'webhook' as const },
};
const SEAL_DEFAULTS = { action: 'block' as const, ttl: '5m', maxTtl: '1h' };
const detector = (name: keyof typeof DETECTOR_DEFAULTS, unit: string) => {
  const d = DETECTOR_DEFAULTS[name];
  return z
    .object({
      enabled: z.boolean().default(true),
      action: z
        .enum(['event', 'webhook', 'seal'])
        .default(d.action)
        .describe('event: a notice (audit, event stream); webhook: also to the webhooks; seal: also seal the sources behind it'),
      sigmas: z.number().positive().max(100).default(6).describe('standard deviations above the mean that are abnormal'),
      factor: z.number().min(1).max(1000).default(3).describe('and at least this many times the mean'),
      floor: z.number().min(0).default(d.floor).describe(`and at least this (${unit})`),
      seal: z
        .object({
          action: z.enum(['block', 'limit']).default('block'),
          rate: z.number().positive().max(1_000_000).optional().describe('limit: packets per second'),
          ttl: positiveDuration.default('5m').describe("a first seal's length; doubled for each repeat"),
          maxTtl: positiveDuration.default('1h'),
        })
        .strict()
        .refine((s) => s.action !== 'limit' || s.rate !== undefined, { message: 'a limit needs a rate', path: ['rate'] })
        .default(SEAL_DEFAULTS),
    })
    .strict()
    .default({ enabled: true, action: d.action, sigmas: 6, factor: 3, floor: d.floor, seal: SEAL_DEFAULTS });
};
const Anomalies = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe('run the detectors (HTTP ones need insight.http.ports; flow ones read the flow table each interval)'),
    interval: positiveDuration.default('5s').describe('how often activity is judged and baselines learn'),
    warmup: z.number().int().min(1).max(10_000).default(12).describe('intervals a baseline learns before it judges'),
    alpha: z.number().positive().max(1).default(0.05).describe('weight of each new interval in the baselines (0.05: about the last 20)'),
    detectors: z
      .object({
        requestFlood: detector('requestFlood', 'requests/s'),
        packetFlood: detector('packetFlood', 'packets/s'),
        newSources: detector('newSources', 'new sources/s'),
        errorSpike: detector('errorSpike', 'share of answers'),
        scan: detector('scan', 'distinct 4xx paths and new destinations per interval'),
        synFlood: detector('synFlood', 'half-open handshakes/s per destination'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** Where the daemon sends notices (control/notices.ts) as signed JSON (src/daemon/webhooks.ts). */
export const Webhook = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits and _.- (1-64)'),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'an http:// or https:// URL')
      .describe('receives POSTs of one notice each (JSON)'),
    secret: z
      .string()
      .min(16, 'secrets are at least 16 characters')
      .describe('signs each body: X-Pathwise-Signature is sha256= and the HMAC-SHA256 of the timestamp, a dot and the body'),
    kinds: z
      .array(z.enum(['decision', 'anomaly', 'path', 'backend']))
      .min(1)
      .default(['decision', 'anomaly', 'path', 'backend'])
      .describe('which notices it gets'),
    timeout: durationAtLeast(100, 'at least 100ms').default('5s').describe('per delivery attempt'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(6)
      .describe('attempts after the first, with doubling backoff from 500 ms (capped at 60 s)'),
  })
  .strict();
const WEBHOOK_NOTE = 'deliveries that exhaust their retries are dead letters (counted in metrics, kept in the audit log)';

export const Config = z
  .object({
    instance: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/)
      .refine((n) => !PRIVATE_INSTANCE.test(n), "names like replay-N-N are pathwise replay's own")
      .default('default')
      .describe('names the pins: /sys/fs/bpf/pathwise/INSTANCE'),
    interfaces: z
      .array(
        z
          .object({
            name: ifname,
            mode: z
              .enum(['native', 'generic', 'auto', 'tc'])
              .default('auto')
              .describe(
                'XDP in the driver (native) or on the socket buffer (generic); auto: generic on a veth (native XDP on a veth copies what a stack sends, and its redirects reach a peer only with GRO on there), native elsewhere where the driver has it; tc: the same pipeline at TC ingress, on the socket buffer (on a veth it copies nothing)',
              ),
          })
          .strict(),
      )
      .default([])
      .superRefine(unique((i) => i.name, 'name', 'interface'))
      .describe('interfaces the pipeline is attached to (and may forward out of)'),
    fib: z
      .enum(['own', 'kernel'])
      .default('own')
      .describe("own: Pathwise's FIB with the routes below; kernel: the kernel's FIB (ip route, FRR, BIRD)"),
    pipeline: z
      .object({
        flows: z.boolean().default(true).describe('keep the flow table'),
        routeStats: z.boolean().default(true),
        dropMalformed: z.boolean().default(false).describe('drop malformed packets instead of passing them to the kernel'),
        unclassified: z
          .enum(['drop', 'pass'])
          .default('drop')
          .describe(
            'packets the rules cannot classify (ports or TCP flags unseen: cut short, a later fragment without its first, too many IPv6 extension headers; VLAN tags beyond two) while rules match on them: drop (fail closed), or pass them on as carrying none',
          ),
        ipv4Groups: tableSize(1, 1 << 20, 16384, 'second-level IPv4 FIB groups'),
        ipv6Nodes: tableSize(
          512,
          1 << 20,
          65536,
          'IPv6 FIB nodes below the first level (1 KiB each; the first level is a fixed 64 MiB): a full Internet table (~160k prefixes) takes ~38k',
        ),
        ruleBitmaps: tableSize(16, 1 << 20, 4096, 'classifier bitmaps (2 KiB each)'),
        connections: tableSize(
          1024,
          1 << 24,
          1 << 20,
          'connections to services tracked at once (an LRU: the least recent gives way when full), and as many reverse-NAT entries: 280 bytes of kernel memory each (280 MiB at the default)',
        ),
        flowEntries: tableSize(
          1024,
          1 << 24,
          1 << 20,
          'flows in the flow table (an LRU: the least recent gives way when full): 176 bytes of kernel memory each (176 MiB at the default)',
        ),
        serviceSlots: tableSize(
          1 << 10,
          1 << 26,
          1 << 22,
          "Maglev slots for all the services' tables, a multiple of 16: each service takes two tables (the one in use, the next one written beside it), each rounded up to 16 slots; 4 bytes each (16 MiB at the default: 31 services of 65537 slots; 255 need 33,431,520)",
        ).refine((n) => n % 16 === 0, 'a multiple of 16'),
      })
      .strict()
      .default({
        flows: true,
        routeStats: true,
        dropMalformed: false,
        unclassified: 'drop',
        ipv4Groups: 16384,
        ipv6Nodes: 65536,
        ruleBitmaps: 4096,
        connections: 1 << 20,
        flowEntries: 1 << 20,
        serviceSlots: 1 << 22,
      }),
    nexthopGroups: z.record(z.string(), z.array(Nexthop).min(1).max(16)).default({}),
    paths: z
      .record(z.string(), PathGroup)
      .default({})
      .describe('nexthop groups (by name) whose paths are probed and chosen by measured latency, loss and load'),
    routes: z.array(Route).default([]),
    import: Import.default({ from: [], reconcile: '60s' }),
    services: z
      .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), Service)
      .default({})
      .describe('load-balanced services (L4): Maglev over the backends, connections tracked, NAT or DSR'),
    apis: z
      .array(ApiPatternSchema)
      .max(1000)
      .default([])
      .describe('named APIs, matched in order against the requests HTTP insight sees (unnamed paths get automatic templates)'),
    ratelimits: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), RateLimit).default({}),
    // Rule ids 1-16383 name the hit counters (filter-tables.ts, MAX_RULE_ID).
    rules: z.array(Rule).max(16383).default([]),
    blocklists: z.array(Blocklist).default([]),
    insight: z
      .object({
        sampleRate: z.number().int().min(0).default(0).describe('send 1 packet in N as an event (0: off)'),
        dropEvents: z.boolean().default(false).describe('send every dropped packet as an event'),
        metricsTopN: z
          .number()
          .int()
          .min(0)
          .max(1000)
          .default(20)
          .describe('routes and rules exported to /metrics with their own labels (the busiest N; the rest are summed)'),
        ipfix: Ipfix.default(IPFIX_DEFAULTS),
        http: HttpInsight.default(HTTP_DEFAULTS),
      })
      .strict()
      .default({ sampleRate: 0, dropEvents: false, metricsTopN: 20, ipfix: IPFIX_DEFAULTS, http: HTTP_DEFAULTS }),
    decisions: z
      .object({
        defaultTtl: positiveDuration.default('1h').describe('how long a decision lasts when it gives no ttl'),
        maxTtl: positiveDuration.default('7d').describe('the longest a decision may last (a lasting block belongs in blocklists:)'),
        maxActive: z.number().int().min(1).max(500_000).default(100_000).describe('decisions in force at once'),
        exempt: z
          .array(cidr)
          .max(1024)
          .default([])
          .describe(
            "sources no decision may block or limit (the operators' networks, the gateways themselves, the load balancers in front of them): a block or limit whose target overlaps one is answered 'exempt' and not applied, and a config that adds one ends those in force on it",
          ),
      })
      .strict()
      .refine((d) => !(msOf(d.defaultTtl) > msOf(d.maxTtl) && msOf(d.maxTtl) >= 1000), {
        message: 'longer than maxTtl: every decision that gives no ttl would be refused',
        path: ['defaultTtl'],
      })
      .default({ defaultTtl: '1h', maxTtl: '7d', maxActive: 100_000, exempt: [] })
      .describe('operational decisions (POST /v1/decisions, gateway adapters, anomaly seals): blocks and seals with a TTL'),
    anomalies: Anomalies.prefault({}).describe(
      'anomaly detection: baselines per source, API and destination; floods, new-source bursts, error spikes, scans, SYN floods',
    ),
    gateway: z
      .object({
        statuses: z.array(z.number().int().min(100).max(599)).min(1).default([429, 403]).describe('statuses that mean "rejected"'),
        threshold: z.number().int().min(1).max(1_000_000).default(20).describe('rejections of a source within window that seal it'),
        window: positiveDuration.default('10s'),
        ttl: positiveDuration.default('5m').describe("a first seal's length; each new offense doubles it"),
        maxTtl: positiveDuration.default('1h').describe('the longest a seal grows to'),
        action: z.enum(['block', 'limit']).default('block'),
        rate: z.number().positive().max(1_000_000).optional().describe('limit: packets per second for the source as a whole'),
        burst: z.number().int().min(1).max(1_000_000).optional(),
        per: parsed('per', (s) => parseSealPer(s))
          .default('address')
          .describe("a source: 'address', or prefix lengths like /24 or /24,/56"),
      })
      .strict()
      .refine((g) => g.action !== 'limit' || g.rate !== undefined, { message: 'action limit needs a rate', path: ['rate'] })
      .default({ statuses: [429, 403], threshold: 20, window: '10s', ttl: '5m', maxTtl: '1h', action: 'block', per: 'address' })
      .describe("how the logs gateways post (POST /v1/gateway/logs) become seals; 'pathwise gateway follow' takes the same as flags"),
    webhooks: z
      .array(Webhook)
      .max(32)
      .superRefine(unique((w) => w.name, 'name', 'webhook'))
      .default([])
      .describe(`notices sent to HTTP endpoints; ${WEBHOOK_NOTE}`),
    audit: z
      .object({
        retentionDays: z.number().int().min(1).max(3650).default(90).describe('audit records older than this are deleted'),
      })
      .strict()
      .default({ retentionDays: 90 }),
    history: z
      .object({
        keep: z.number().int().min(1).max(1_000_000).default(1000).describe('versions kept in the history (older ones are deleted)'),
      })
      .strict()
      .default({ keep: 1000 }),
    api: z
      .object({
        socket: z.string().optional().describe('unix socket (mode 0600), always on; default /run/pathwise/INSTANCE/api.sock'),
        listen: z
          .array(Listener)
          .superRefine(unique((l) => `${l.host}:${l.port}`, 'port', 'listener'))
          .default([])
          .describe('TCP listeners; every request then needs a bearer token, and one not on loopback needs TLS'),
        tokens: z.array(ApiToken).default([]),
      })
      .strict()
      .default({ listen: [], tokens: [] }),
  })
  .strict();

export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
