/**
 * Services as the user writes them and as the data plane takes them: a service address (VIP),
 * a protocol and a port (or every port), its backends with weights, the mode (NAT or layer-2
 * DSR) and what the Maglev hash covers. Parsing and checks only; no I/O.
 */
import { PwError } from '../errors.js';
import { formatAddress, parseAddress, SPECIAL_ADDRESS_TEXT, specialAddressKind, type Family } from '../util/ip.js';
import { DEFAULT_TABLE_SIZE, isPrime, MAX_TABLE_SIZE, MIN_TABLE_SIZE } from './maglev.js';

export const LB_MODES = ['nat', 'dsr'] as const;
/** What the Maglev hash covers: the 5-tuple, the 5-tuple without the source port, or the destination port only. */
export const LB_HASHES = ['five-tuple', 'no-source-port', 'destination-port'] as const;
export type LbMode = (typeof LB_MODES)[number];
export type LbHash = (typeof LB_HASHES)[number];
export type LbProto = 'tcp' | 'udp';
export const MAX_WEIGHT = 1000;

export interface Endpoint {
  family: Family;
  addr: Uint8Array;
  /** 0: every port (a service), or the client's port (a backend). */
  port: number;
}

export interface BackendSpec extends Endpoint {
  weight: number;
}

export interface ServiceSpec {
  name: string;
  vip: Endpoint;
  proto: LbProto;
  mode: LbMode;
  hash: LbHash;
  tableSize: number;
  backends: BackendSpec[];
  /** NAT mode: the source address backends see (so they need no route back to clients). */
  snat?: { family: Family; addr: Uint8Array };
  /** What becomes of the connections of a backend that goes down: kept until they end (the
   * default), or reset (their next packet chooses a live backend, which resets a TCP one). */
  onDown?: LbOnDown;
}

export const LB_ON_DOWN = ['keep', 'reset'] as const;
export type LbOnDown = (typeof LB_ON_DOWN)[number];

/** `ADDR:PORT`, `[V6ADDR]:PORT`, or an address alone (port 0). */
export function parseEndpoint(s: string, where: string, portOptional: boolean): Endpoint {
  let host = s;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (/^[^:]+:\d+$/.test(s)) {
    [host, portText] = s.split(':') as [string, string];
  } else if (s.includes(':') && !s.includes('.') && s.split(':').length > 2) {
    host = s; // a bare IPv6 address
  }
  const a = parseAddress(host, where);
  const port = portText === undefined ? 0 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new PwError('PW_ERR_INVALID', `'${portText}' is not a port (0-65535)`, { where });
  if (!port && !portOptional) throw new PwError('PW_ERR_INVALID', `'${s}' needs a port (ADDR:PORT, [V6ADDR]:PORT)`, { where });
  return { family: a.family, addr: a.addr, port };
}

export function formatEndpoint(e: Endpoint): string {
  const a = formatAddress(e.family, e.addr);
  if (!e.port) return a;
  return e.family === 6 ? `[${a}]:${e.port}` : `${a}:${e.port}`;
}

/** `VIP:PORT/PROTO` (PORT 0 or `*`: every port; PROTO tcp or udp, default tcp). */
export function parseServiceAddress(s: string, where: string): { vip: Endpoint; proto: LbProto } {
  // `s`: a line break in the text is the address's to refuse, not a failed match.
  const m = /^(.*?)(?:\/([^/]*))?$/s.exec(s)!;
  if (m[2] !== undefined && !/^(tcp|udp)$/i.test(m[2]))
    throw new PwError('PW_ERR_INVALID', `'${m[2]}' in '${s}' is not a protocol Pathwise balances (tcp or udp)`, { where });
  const proto = (m[2]?.toLowerCase() ?? 'tcp') as LbProto;
  const text = m[1]!.replace(/:\*$/, ':0');
  const vip = parseEndpoint(text, where, true);
  return { vip, proto };
}

/** `ADDR:PORT[@WEIGHT]` (the port may be left out in DSR mode or for an every-port service). */
export function parseBackend(s: string, where: string): BackendSpec {
  const at = s.lastIndexOf('@');
  const weightText = at >= 0 ? s.slice(at + 1) : undefined;
  const weight = weightText === undefined ? 1 : Number(weightText);
  if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT)
    throw new PwError('PW_ERR_INVALID', `'${weightText}' is not a backend weight (0-${MAX_WEIGHT})`, { where });
  return { ...parseEndpoint(at >= 0 ? s.slice(0, at) : s, where, true), weight };
}

export const formatBackend = (b: BackendSpec) => `${formatEndpoint(b)}${b.weight === 1 ? '' : `@${b.weight}`}`;

/** The backend's identity within its service (what its Maglev permutation is drawn from). */
export const backendKey = (b: Endpoint) => formatEndpoint(b);

/** Refuses an address no packet of a service can carry (unspecified, loopback, multicast,
 * broadcast): the kernel drops such packets as martians, so a service, backend or snat address
 * of that kind would take its configuration and never carry a connection. */
function refuseSpecial(e: { family: Family; addr: Uint8Array }, what: string, hint: string, where: string): void {
  const kind = specialAddressKind(e.family, e.addr);
  if (kind)
    throw new PwError('PW_ERR_INVALID', `${what} is ${SPECIAL_ADDRESS_TEXT[kind]}`, {
      where,
      hint,
    });
}

/** Checks a whole service; `where` names it in messages (a config path or the command). */
export function checkService(s: ServiceSpec, where: string): ServiceSpec {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(s.name))
    throw new PwError('PW_ERR_INVALID', `'${s.name}' is not a service name (letters, digits, _ . -, up to 64)`, { where });
  // The bounds first: a prime test of a huge number is slow.
  if (s.tableSize < MIN_TABLE_SIZE || s.tableSize > MAX_TABLE_SIZE || !isPrime(s.tableSize))
    throw new PwError(
      'PW_ERR_INVALID',
      `table size ${s.tableSize} must be a prime between ${MIN_TABLE_SIZE} and ${MAX_TABLE_SIZE} (default ${DEFAULT_TABLE_SIZE})`,
      {
        where: `${where}.tableSize`,
      },
    );
  refuseSpecial(
    s.vip,
    `the service address ${formatAddress(s.vip.family, s.vip.addr)}`,
    'a service address is a unicast address clients connect to',
    `${where}.address`,
  );
  const seen = new Set<string>();
  s.backends.forEach((b, i) => {
    const w = `${where}.backends[${i}]`;
    refuseSpecial(b, `backend ${formatEndpoint(b)}`, "a backend is a host's unicast address", w);
    if (b.family === s.vip.family && b.addr.every((byte, j) => byte === s.vip.addr[j]))
      throw new PwError('PW_ERR_INVALID', `backend ${formatEndpoint(b)} is the service address itself`, {
        where: w,
        hint: "a backend is a host's own address; in DSR mode the backend holds the service address besides it, on its loopback",
      });
    if (b.family !== s.vip.family)
      throw new PwError('PW_ERR_INVALID', `backend ${formatEndpoint(b)} is IPv${b.family}, the service address IPv${s.vip.family}`, {
        where: w,
        hint: 'NAT between the families is not done: give the service an address of each family',
      });
    if (s.mode === 'dsr' && b.port && b.port !== s.vip.port)
      throw new PwError('PW_ERR_INVALID', `in DSR mode a backend answers on the service's own port (${b.port} given)`, { where: w });
    const k = backendKey(b);
    if (seen.has(k)) throw new PwError('PW_ERR_INVALID', `backend ${k} is listed twice`, { where: w });
    seen.add(k);
  });
  if (s.snat && s.mode === 'dsr')
    throw new PwError('PW_ERR_INVALID', 'snat is for NAT mode: in DSR mode the backend answers the client itself', {
      where: `${where}.snat`,
    });
  if (s.snat)
    refuseSpecial(
      s.snat,
      `the snat address ${formatAddress(s.snat.family, s.snat.addr)}`,
      'the snat address is a unicast address the backends answer to, routed to this host',
      `${where}.snat`,
    );
  if (s.snat && s.snat.family !== s.vip.family)
    throw new PwError('PW_ERR_INVALID', `the snat address is IPv${s.snat.family}, the service address IPv${s.vip.family}`, {
      where: `${where}.snat`,
    });
  if (s.backends.length > 1024) throw new PwError('PW_ERR_INVALID', 'a service has at most 1024 backends', { where: `${where}.backends` });
  if (s.backends.length * 4 > s.tableSize)
    throw new PwError('PW_ERR_INVALID', `a table of ${s.tableSize} slots is too small for ${s.backends.length} backends`, {
      where: `${where}.tableSize`,
    });
  return s;
}

/** A service's identity in the data plane: the same address, protocol and port is the same service. */
export const serviceKey = (s: Pick<ServiceSpec, 'vip' | 'proto'>) => `${formatEndpoint(s.vip)}${s.vip.port ? '' : ':*'}/${s.proto}`;
