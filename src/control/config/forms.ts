/**
 * A config's parts in the data plane's terms and back: a config route as a RouteSpec (nexthop
 * groups expanded), a config rule in the rule syntax, a limiter with its durations in ms, the
 * pipeline settings, IPFIX options. The reverse forms are what a client writes into a config
 * through the API (`route add` against a daemon becomes a config route).
 */
import { PwError } from '../../errors.js';
import type { IpfixOptions } from '../../insight/ipfix-exporter.js';
import { parsePer, type LimiterSpec } from '../../filter/limiter.js';
import { formatTcpFlags, parseRuleTokens, type RuleSpec } from '../../filter/rule.js';
import type { RouteSpec } from '../../routing/route.js';
import { checkService, formatBackend, parseBackend, parseServiceAddress, serviceKey, type ServiceSpec } from '../../lb/service.js';
import { parseDuration } from '../../util/duration.js';
import { formatAddress, formatPrefix, parseAddress, parsePrefixShared, type Prefix } from '../../util/ip.js';
import type { Config } from './schema.js';

export type ConfigRoute = Config['routes'][number];
export type ConfigRule = Config['rules'][number];
export type ConfigLimiter = Config['ratelimits'][string];

/** A config route as a RouteSpec (a nexthop group's members in its place). */
export function routeSpecOf(cfg: Pick<Config, 'nexthopGroups' | 'paths'>, r: ConfigRoute, where: string): RouteSpec {
  const via = r.nexthopGroup ? cfg.nexthopGroups[r.nexthopGroup] : r.via;
  if (r.nexthopGroup && !via) throw new PwError('PW_ERR_INVALID', `no nexthop group named '${r.nexthopGroup}'`, { where });
  return {
    prefix: parsePrefixShared(r.prefix, where) as Prefix,
    type: r.type,
    nexthops: (via ?? []).map((n) => ({ via: n.gateway, dev: n.dev, weight: n.weight })),
    metric: r.metric,
    // A group steered by measured path quality gets a data-plane group of its own.
    ...(r.nexthopGroup && cfg.paths[r.nexthopGroup] ? { paths: r.nexthopGroup } : {}),
    where,
  };
}

/** The config form of a RouteSpec (what the API writes into the config). */
export function configRouteOf(spec: RouteSpec): ConfigRoute {
  const route: ConfigRoute = { prefix: formatPrefix(spec.prefix), type: spec.type, metric: spec.metric };
  if (spec.nexthops.length)
    route.via = spec.nexthops.map((n) => ({
      ...(n.via ? { gateway: n.via } : {}),
      ...(n.dev ? { dev: n.dev } : {}),
      weight: n.weight ?? 1,
    }));
  return route;
}

/** A config rule in the rule syntax, parsed by the one rule parser. */
export function ruleSpecOf(r: ConfigRule, where: string): RuleSpec {
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
export function configRuleOf(r: RuleSpec): ConfigRule {
  const out: ConfigRule = { action: r.action };
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

/** A config limiter in data-plane terms. */
export function limiterSpecOf(name: string, l: ConfigLimiter, where = `ratelimits.${name}`): LimiterSpec {
  const { per4, per6 } = parsePer(l.per, `${where}.per`);
  return {
    name,
    rate: l.rate,
    burst: l.burst ?? Math.max(1, l.rate),
    per4,
    per6,
    blockAfter: l.blockAfter,
    blockForMs: parseDuration(l.blockFor),
  };
}

/** The config form of a limiter, with `per` and `blockFor` as the user wrote them. */
export function configLimiterOf(l: LimiterSpec, text: { per: string; blockFor: string }): ConfigLimiter {
  return {
    rate: l.rate,
    burst: l.burst,
    per: text.per,
    blockAfter: l.blockAfter,
    ...(l.blockAfter ? { blockFor: text.blockFor } : {}),
  } as ConfigLimiter;
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

export type ConfigService = Config['services'][string];

/** A config service as the data plane's ServiceSpec. */
export function serviceSpecOf(name: string, s: ConfigService, where: string): ServiceSpec {
  const { vip, proto } = parseServiceAddress(s.address, `${where}.address`);
  return checkService(
    {
      name,
      vip,
      proto,
      mode: s.mode,
      hash: s.hash,
      tableSize: s.tableSize,
      backends: s.backends.map((b, i) => parseBackend(b, `${where}.backends[${i}]`)),
      ...(s.snat ? { snat: parseAddress(s.snat, `${where}.snat`) } : {}),
      ...(s.onBackendDown === 'reset' ? { onDown: 'reset' as const } : {}),
    },
    where,
  );
}

/** The config form of a ServiceSpec (what the API writes into the config), with its health checks if given. */
export function configServiceOf(
  spec: ServiceSpec,
  health?: ConfigService['health'],
): Omit<ConfigService, 'health' | 'slowStart'> & { health?: ConfigService['health'] } {
  return {
    address: serviceKey(spec),
    backends: spec.backends.map(formatBackend),
    mode: spec.mode,
    hash: spec.hash,
    tableSize: spec.tableSize,
    ...(spec.snat ? { snat: formatAddress(spec.snat.family, spec.snat.addr) } : {}),
    ...(spec.onDown === 'reset' ? { onBackendDown: 'reset' as const } : {}),
    ...(health ? { health } : {}),
  };
}
