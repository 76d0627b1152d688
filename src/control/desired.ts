/**
 * What a configuration asks of the data plane, in the data plane's own terms: route specs,
 * rule specs, limiters, blocked prefixes with their expiry, attached interfaces, pipeline
 * settings. Compiling a config reads the files it names (blocklists) and resolves nothing
 * else; the diff (plan.ts) compares this with what is running.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

import { PwError } from '../errors.js';
import { formatTcpFlags, parseRuleTokens, type RuleSpec } from '../filter/rule.js';
import type { Limiter } from '../dataplane/filter-tables.js';
import { parseBlockFile } from '../dataplane/filter-tables.js';
import type { EventsControl } from '../insight/summary.js';
import type { IpfixOptions } from '../insight/ipfix-exporter.js';
import type { PipelineSettings } from '../dataplane/pipeline.js';
import type { RouteSpec } from '../dataplane/route-syntax.js';
import type { XdpModeRequest } from '../bpf/index.js';
import { formatPrefix, parsePrefix, type Prefix } from '../util/ip.js';
import { parseDuration } from '../util/duration.js';
import type { Config } from './config/schema.js';

export type LimiterSpec = Omit<Limiter, 'id'>;

export interface DesiredBlock {
  prefix: Prefix;
  /** Wall-clock expiry (ms since the epoch); null: none. */
  expiresAt: number | null;
}

export interface DesiredState {
  settings: PipelineSettings;
  interfaces: Map<string, XdpModeRequest>;
  /** By canonical prefix text. */
  routes: Map<string, RouteSpec>;
  limiters: Map<string, LimiterSpec>;
  rules: RuleSpec[];
  /** By canonical prefix text; expired entries are left out. */
  blocks: Map<string, DesiredBlock>;
  /** Packet events: 1-in-N sampling (0: off) and every drop. */
  events: EventsControl;
}

export interface CompileContext {
  /** Relative file names in the config are relative to this directory. */
  baseDir: string;
  now: number;
  /** When each blocked prefix was first applied (ms since the epoch): `ttl` counts from there. */
  blockedSince: ReadonlyMap<string, number>;
}

export function settingsOf(cfg: Config): PipelineSettings {
  return {
    fib: cfg.fib,
    flows: cfg.pipeline.flows,
    routeStats: cfg.pipeline.routeStats,
    dropMalformed: cfg.pipeline.dropMalformed,
    ipv4Groups: cfg.pipeline.ipv4Groups,
    ruleBitmaps: cfg.pipeline.ruleBitmaps,
    filter: true,
  };
}

/** The IPFIX exporter's options from `insight.ipfix` (the daemon's and replay's). */
export function ipfixOptions(cfg: Config['insight']['ipfix']): IpfixOptions {
  return {
    collectors: cfg.collectors,
    activeTimeoutMs: parseDuration(cfg.activeTimeout),
    idleTimeoutMs: parseDuration(cfg.idleTimeout),
    templateRefreshMs: parseDuration(cfg.templateRefresh),
    observationDomain: cfg.observationDomain,
  };
}

/** A config route as a RouteSpec (nexthop groups expanded). */
export function routeSpecOf(cfg: Pick<Config, 'nexthopGroups'>, r: Config['routes'][number], where: string): RouteSpec {
  const via = r.nexthopGroup ? cfg.nexthopGroups[r.nexthopGroup] : r.via;
  if (r.nexthopGroup && !via) throw new PwError('PW_ERR_INVALID', `no nexthop group named '${r.nexthopGroup}'`, { where });
  return {
    prefix: parsePrefix(r.prefix, where),
    type: r.type,
    nexthops: (via ?? []).map((n) => ({ via: n.gateway, dev: n.dev, weight: n.weight })),
    metric: r.metric,
    where,
  };
}

/** The config form of a RouteSpec (what the API writes into the config). */
export function configRouteOf(spec: RouteSpec): Config['routes'][number] {
  const route: Config['routes'][number] = { prefix: formatPrefix(spec.prefix), type: spec.type, metric: spec.metric };
  if (spec.nexthops.length) route.via = spec.nexthops.map((n) => ({ ...(n.via ? { gateway: n.via } : {}), ...(n.dev ? { dev: n.dev } : {}), weight: n.weight ?? 1 }));
  return route;
}

/** A config rule in the rule syntax, parsed by the one rule parser. */
export function ruleSpecOf(r: Config['rules'][number], where: string): RuleSpec {
  const tokens: string[] = [r.action];
  if (r.action === 'ratelimit') tokens.push(r.limiter ?? '');
  if (r.from) tokens.push('from', r.from);
  if (r.to) tokens.push('to', r.to);
  if (r.proto !== undefined) tokens.push('proto', String(r.proto));
  if (r.sport !== undefined) tokens.push('sport', String(r.sport));
  if (r.dport !== undefined) tokens.push('dport', String(r.dport));
  if (r.flags) tokens.push('flags', r.flags);
  if (r.iif) tokens.push('iif', r.iif);
  return parseRuleTokens(tokens, () => where);
}

/** The config form of a rule spec. */
export function configRuleOf(r: RuleSpec): Config['rules'][number] {
  const out: Config['rules'][number] = { action: r.action };
  if (r.limiter) out.limiter = r.limiter;
  if (r.src) out.from = formatPrefix(r.src);
  if (r.dst) out.to = formatPrefix(r.dst);
  if (r.proto !== undefined) out.proto = r.proto;
  const range = (p: [number, number]) => (p[0] === p[1] ? p[0] : `${p[0]}-${p[1]}`);
  if (r.sport) out.sport = range(r.sport);
  if (r.dport) out.dport = range(r.dport);
  if (r.iif) out.iif = r.iif;
  if (r.tcpFlags) out.flags = formatTcpFlags(r.tcpFlags);
  return out;
}

export function limiterSpecOf(name: string, l: Config['ratelimits'][string]): LimiterSpec {
  let per4 = 32;
  let per6 = 128;
  if (l.per !== 'address') {
    const [a, b] = l.per.split(',').map((x) => Number(x.slice(1)));
    per4 = a!;
    per6 = b ?? 128;
  }
  return { name, rate: l.rate, burst: l.burst ?? Math.max(1, l.rate), per4, per6, blockAfter: l.blockAfter, blockForMs: parseDuration(l.blockFor) };
}

export function compileDesired(cfg: Config, ctx: CompileContext): DesiredState {
  const routes = new Map<string, RouteSpec>();
  cfg.routes.forEach((r, i) => {
    const spec = routeSpecOf(cfg, r, `routes[${i}]`);
    routes.set(formatPrefix(spec.prefix), spec);
  });
  const limiters = new Map<string, LimiterSpec>();
  for (const [name, l] of Object.entries(cfg.ratelimits)) limiters.set(name, limiterSpecOf(name, l));
  const rules = cfg.rules.map((r, i) => ruleSpecOf(r, `rules[${i}]`));
  const blocks = new Map<string, DesiredBlock>();
  cfg.blocklists.forEach((b, i) => {
    const prefixes = b.prefixes.map((p, k) => parsePrefix(p, `blocklists[${i}].prefixes[${k}]`));
    if (b.file) {
      const file = isAbsolute(b.file) ? b.file : join(ctx.baseDir, b.file);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new PwError('PW_ERR_NOT_FOUND', `cannot read blocklist file ${file}: ${(e as Error).message}`, { where: `blocklists[${i}].file` });
      }
      prefixes.push(...parseBlockFile(text, file));
    }
    for (const prefix of prefixes) {
      const key = formatPrefix(prefix);
      let expiresAt: number | null = null;
      if (b.until) expiresAt = Date.parse(b.until);
      else if (b.ttl) expiresAt = (ctx.blockedSince.get(key) ?? ctx.now) + parseDuration(b.ttl);
      if (expiresAt !== null && expiresAt <= ctx.now) continue;
      const prev = blocks.get(key);
      // The same prefix in two lists: the longer-lived entry wins.
      if (!prev || (prev.expiresAt !== null && (expiresAt === null || expiresAt > prev.expiresAt))) blocks.set(key, { prefix, expiresAt });
    }
  });
  return {
    settings: settingsOf(cfg),
    interfaces: new Map(cfg.interfaces.map((i) => [i.name, i.mode])),
    routes,
    limiters,
    rules,
    blocks,
    events: { sampleRate: cfg.insight.sampleRate, drops: cfg.insight.dropEvents },
  };
}
