/**
 * Filter rules: what they match and what they do, and the CLI syntax for them:
 *
 *   ACTION [LIMITER] [from CIDR] [to CIDR] [proto tcp|udp|icmp|icmpv6|N] [sport P[-Q]]
 *          [dport P[-Q]] [flags F[,F...]] [iif IF]
 *
 * ACTION is pass, drop, count, log or ratelimit (followed by the limiter's name). flags lists
 * TCP flags that must be set, or cleared with a leading '!': `flags syn,!ack` is a
 * connection attempt. Every criterion left out matches anything.
 */
import { PwError } from '../errors.js';
import { formatPrefix, parsePrefix, type Family, type Prefix } from '../util/ip.js';

export type RuleAction = 'pass' | 'drop' | 'count' | 'log' | 'ratelimit';
export const RULE_ACTIONS: RuleAction[] = ['pass', 'drop', 'count', 'log', 'ratelimit'];

export interface RuleMatch {
  src?: Prefix;
  dst?: Prefix;
  proto?: number;
  sport?: [number, number];
  dport?: [number, number];
  /** TCP flags: (flags & mask) === value. */
  tcpFlags?: { mask: number; value: number };
  /** Ingress interface name. */
  iif?: string;
}

export interface RuleSpec extends RuleMatch {
  action: RuleAction;
  /** ratelimit: the limiter's name. */
  limiter?: string;
}

/** A rule in the data plane: the spec plus its stable id (which keys its hit counter). */
export interface Rule extends RuleSpec {
  id: number;
}

export const PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, gre: 47, esp: 50, sctp: 132 };
export const TCP_FLAGS: Record<string, number> = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ece: 0x40, cwr: 0x80 };

/** The address family a rule is limited to by its CIDRs (null: both). */
export function ruleFamily(r: RuleMatch): Family | null {
  return r.src?.family ?? r.dst?.family ?? null;
}

function parsePortRange(s: string, where: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || lo > 65535 || hi > 65535 || lo > hi)
    throw new PwError('PW_ERR_INVALID', `invalid port or range '${s}': use P or P-Q within 0-65535`, { where });
  return [lo, hi];
}

export function parseTcpFlags(s: string, where: string): { mask: number; value: number } {
  let mask = 0;
  let value = 0;
  for (const part of s.toLowerCase().split(',')) {
    const neg = part.startsWith('!');
    const bit = TCP_FLAGS[neg ? part.slice(1) : part];
    if (!bit)
      throw new PwError('PW_ERR_INVALID', `unknown TCP flag '${part}'`, {
        where,
        hint: `flags are ${Object.keys(TCP_FLAGS).join(', ')} (prefix ! for cleared)`,
      });
    // Set and cleared at once: a rule no packet could match, surely not what was meant.
    if (mask & bit && !(value & bit) !== neg)
      throw new PwError('PW_ERR_INVALID', `TCP flag '${neg ? part.slice(1) : part}' is both set and cleared in '${s}'`, { where });
    mask |= bit;
    if (!neg) value |= bit;
  }
  return { mask, value };
}

/** Parses rule tokens (the CLI syntax above). `where(i)` names token i in errors. */
export function parseRuleTokens(tokens: string[], where: (i: number) => string): RuleSpec {
  let i = 0;
  const action = tokens[i] as RuleAction;
  if (!RULE_ACTIONS.includes(action)) {
    throw new PwError('PW_ERR_INVALID', `a rule starts with its action (${RULE_ACTIONS.join(', ')}), not '${tokens[i] ?? ''}'`, {
      where: where(i),
    });
  }
  i++;
  const spec: RuleSpec = { action };
  if (action === 'ratelimit') {
    const name = tokens[i];
    if (!name || /^(from|to|proto|sport|dport|flags|iif)$/.test(name))
      throw new PwError('PW_ERR_INVALID', `'ratelimit' needs the limiter's name`, { where: where(i) });
    spec.limiter = name;
    i++;
  }
  const given = new Set<string>();
  while (i < tokens.length) {
    const key = tokens[i]!;
    const value = tokens[i + 1];
    const at = where(i + 1);
    if (value === undefined) throw new PwError('PW_ERR_INVALID', `'${key}' needs a value`, { where: where(i) });
    // The second would silently replace the first; a rule matches one value of each.
    if (given.has(key))
      throw new PwError('PW_ERR_INVALID', `'${key}' is given twice`, {
        where: where(i),
        hint:
          key === 'flags'
            ? 'list the flags once, comma-separated: flags syn,!ack'
            : `a rule takes one ${key}; add another rule for the other value`,
      });
    given.add(key);
    switch (key) {
      case 'from':
        spec.src = parsePrefix(value, at);
        break;
      case 'to':
        spec.dst = parsePrefix(value, at);
        break;
      case 'proto': {
        const p = PROTOCOLS[value.toLowerCase()] ?? (/^\d{1,3}$/.test(value) && Number(value) <= 255 ? Number(value) : undefined);
        if (p === undefined)
          throw new PwError('PW_ERR_INVALID', `unknown protocol '${value}'`, {
            where: at,
            hint: `use ${Object.keys(PROTOCOLS).join(', ')} or a number 0-255`,
          });
        spec.proto = p;
        break;
      }
      case 'sport':
        spec.sport = parsePortRange(value, at);
        break;
      case 'dport':
        spec.dport = parsePortRange(value, at);
        break;
      case 'flags':
        spec.tcpFlags = parseTcpFlags(value, at);
        break;
      case 'iif':
        spec.iif = value;
        break;
      default:
        throw new PwError('PW_ERR_INVALID', `unexpected '${key}'`, {
          where: where(i),
          hint: 'expected from, to, proto, sport, dport, flags or iif',
        });
    }
    i += 2;
  }
  validateRule(spec, where(0));
  return spec;
}

/** Consistency checks shared by every way a rule comes in. */
export function validateRule(r: RuleSpec, where: string): void {
  if (r.src && r.dst && r.src.family !== r.dst.family)
    throw new PwError('PW_ERR_INVALID', `from is IPv${r.src.family} but to is IPv${r.dst.family}`, { where });
  if ((r.sport || r.dport) && r.proto !== 6 && r.proto !== 17) {
    throw new PwError('PW_ERR_INVALID', 'ports need proto tcp or udp', { where, hint: 'add proto tcp or proto udp' });
  }
  if (r.tcpFlags && r.proto !== 6) throw new PwError('PW_ERR_INVALID', 'flags need proto tcp', { where });
  if (r.action === 'ratelimit' && !r.limiter) throw new PwError('PW_ERR_INVALID', "'ratelimit' needs the limiter's name", { where });
}

/** TCP flags as the rule syntax and the config write them: syn,!ack */
export function formatTcpFlags(f: { mask: number; value: number }): string {
  return Object.entries(TCP_FLAGS)
    .filter(([, b]) => f.mask & b)
    .map(([n, b]) => (f.value & b ? n : `!${n}`))
    .join(',');
}

/** The rule in the CLI syntax (round-trips through parseRuleTokens). */
export function formatRule(r: RuleSpec): string {
  const parts: string[] = [r.action];
  if (r.limiter) parts.push(r.limiter);
  if (r.src) parts.push('from', formatPrefix(r.src));
  if (r.dst) parts.push('to', formatPrefix(r.dst));
  if (r.proto !== undefined) parts.push('proto', Object.entries(PROTOCOLS).find(([, n]) => n === r.proto)?.[0] ?? String(r.proto));
  const range = (p: [number, number]) => (p[0] === p[1] ? String(p[0]) : `${p[0]}-${p[1]}`);
  if (r.sport) parts.push('sport', range(r.sport));
  if (r.dport) parts.push('dport', range(r.dport));
  if (r.tcpFlags) parts.push('flags', formatTcpFlags(r.tcpFlags));
  if (r.iif) parts.push('iif', r.iif);
  return parts.join(' ');
}

/** Does a rule match a packet? The reference semantics (tests compare the pipeline to it). */
export function ruleMatches(
  r: RuleMatch,
  p: { family: Family; src: Uint8Array; dst: Uint8Array; proto: number; sport?: number; dport?: number; tcpFlags?: number; iif?: string },
): boolean {
  const fam = ruleFamily(r);
  if (fam && fam !== p.family) return false;
  const inPrefix = (pre: Prefix, a: Uint8Array) => {
    for (let bit = 0; bit < pre.plen; bit++) {
      const m = 0x80 >> (bit & 7);
      if ((pre.addr[bit >> 3]! & m) !== (a[bit >> 3]! & m)) return false;
    }
    return true;
  };
  if (r.src && !inPrefix(r.src, p.src)) return false;
  if (r.dst && !inPrefix(r.dst, p.dst)) return false;
  if (r.proto !== undefined && r.proto !== p.proto) return false;
  if (r.sport && (p.sport === undefined || p.sport < r.sport[0] || p.sport > r.sport[1])) return false;
  if (r.dport && (p.dport === undefined || p.dport < r.dport[0] || p.dport > r.dport[1])) return false;
  if (r.tcpFlags && (p.tcpFlags === undefined || (p.tcpFlags & r.tcpFlags.mask) !== r.tcpFlags.value)) return false;
  if (r.iif && r.iif !== p.iif) return false;
  return true;
}
