/**
 * IPFIX messages (RFC 7011): one template for IPv4 flows and one for IPv6, with information
 * elements from IANA's registry, and data records packed into messages that fit one UDP
 * datagram on a 1500-byte path; and two for HTTP transactions (IPv4, IPv6) with IANA's HTTP
 * elements (httpRequestMethod, httpRequestHost, httpRequestTarget, httpMessageVersion,
 * httpStatusCode), whose strings are variable-length fields (RFC 7011 §7). Only encoding lives
 * here; which flows and transactions to send and when is the exporter's business
 * (ipfix-exporter.ts).
 */

/** The template length of a variable-length element. */
const VARIABLE = 65535;

/** IANA IPFIX information elements used by the templates: [element id, length in bytes]. */
const IE = {
  octetDeltaCount: [1, 8],
  packetDeltaCount: [2, 8],
  protocolIdentifier: [4, 1],
  tcpControlBits: [6, 2], // RFC 7125: two bytes (the ECN-era flags need more than 8 bits)
  sourceTransportPort: [7, 2],
  sourceIPv4Address: [8, 4],
  ingressInterface: [10, 4],
  destinationTransportPort: [11, 2],
  destinationIPv4Address: [12, 4],
  egressInterface: [14, 4],
  sourceIPv6Address: [27, 16],
  destinationIPv6Address: [28, 16],
  vlanId: [58, 2],
  flowEndReason: [136, 1],
  flowStartMilliseconds: [152, 8],
  flowEndMilliseconds: [153, 8],
  httpStatusCode: [457, 2],
  // Variable length (RFC 7011 §7: 65535 in the template, a length before each value).
  httpRequestMethod: [459, VARIABLE],
  httpRequestHost: [460, VARIABLE],
  httpRequestTarget: [461, VARIABLE],
  httpMessageVersion: [462, VARIABLE],
} as const satisfies Record<string, readonly [number, number]>;

type Element = keyof typeof IE;

const COMMON: Element[] = [
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'tcpControlBits',
  'octetDeltaCount',
  'packetDeltaCount',
  'flowStartMilliseconds',
  'flowEndMilliseconds',
  'ingressInterface',
  'egressInterface',
  'vlanId',
  'flowEndReason',
];

/** Template ids: 256 and up are data templates (0-255 are reserved for set ids). */
export const TEMPLATE_IPV4 = 256;
export const TEMPLATE_IPV6 = 257;
export const TEMPLATE_HTTP4 = 258;
export const TEMPLATE_HTTP6 = 259;

const TEMPLATES: { id: number; fields: Element[] }[] = [
  { id: TEMPLATE_IPV4, fields: ['sourceIPv4Address', 'destinationIPv4Address', ...COMMON] },
  { id: TEMPLATE_IPV6, fields: ['sourceIPv6Address', 'destinationIPv6Address', ...COMMON] },
];

const HTTP_COMMON: Element[] = [
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'flowStartMilliseconds',
  'flowEndMilliseconds',
  'httpStatusCode',
  'httpRequestMethod',
  'httpRequestHost',
  'httpRequestTarget',
  'httpMessageVersion',
];
const HTTP_TEMPLATES: { id: number; fields: Element[] }[] = [
  { id: TEMPLATE_HTTP4, fields: ['sourceIPv4Address', 'destinationIPv4Address', ...HTTP_COMMON] },
  { id: TEMPLATE_HTTP6, fields: ['sourceIPv6Address', 'destinationIPv6Address', ...HTTP_COMMON] },
];

/** One HTTP transaction as IPFIX reports it: the client is the source. */
export interface IpfixHttp {
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  /** The request's first byte and the response's (or the request's, without one), ms since the epoch. */
  startMs: number;
  endMs: number;
  /** 0 when no response was seen. */
  status: number;
  method: string;
  host: string;
  target: string;
  /** e.g. HTTP/1.1 */
  version: string;
}

/**
 * A variable-length value: one length byte, or 255 and two (RFC 7011 §7). Values are cut to
 * `max` bytes so that any record fits one message (method 32, host 255, target 512, version 16:
 * at most ~880 bytes with the fixed fields).
 */
function varField(s: string, max: number): Buffer {
  let v = Buffer.from(s, 'utf8');
  if (v.length > max) v = v.subarray(0, max);
  const head = v.length < 255 ? Buffer.from([v.length]) : Buffer.from([255, v.length >> 8, v.length & 255]);
  return Buffer.concat([head, v]);
}

function httpRecord(fields: Element[], t: IpfixHttp): Buffer {
  return Buffer.concat(
    fields.map((f) => {
      switch (f) {
        case 'httpRequestMethod':
          return varField(t.method, 32);
        case 'httpRequestHost':
          return varField(t.host, 255);
        case 'httpRequestTarget':
          return varField(t.target, 512);
        case 'httpMessageVersion':
          return varField(t.version, 16);
        case 'httpStatusCode': {
          const b = Buffer.alloc(2);
          b.writeUInt16BE(t.status);
          return b;
        }
        default: {
          // The address, port and time fields, as a flow record has them.
          const b = Buffer.alloc(IE[f][1]);
          writeValue(b, 0, f, {
            ...NO_FLOW,
            family: t.family,
            src: t.src,
            dst: t.dst,
            sport: t.sport,
            dport: t.dport,
            proto: 6,
            startMs: t.startMs,
            endMs: t.endMs,
          });
          return b;
        }
      }
    }),
  );
}

const NO_FLOW: IpfixFlow = {
  family: 4,
  src: new Uint8Array(4),
  dst: new Uint8Array(4),
  sport: 0,
  dport: 0,
  proto: 0,
  tcpFlags: 0,
  octets: 0,
  packets: 0,
  startMs: 0,
  endMs: 0,
  ingressIfindex: 0,
  egressIfindex: 0,
  vlan: 0,
  endReason: 0,
};

const recordLength = (fields: Element[]) => fields.reduce((n, f) => n + IE[f][1], 0);

const VERSION = 10;
const MESSAGE_HEADER = 16;
const SET_HEADER = 4;
const TEMPLATE_SET_ID = 2;
/** 1500-byte MTU less IPv6 and UDP headers, rounded down: no datagram needs fragmenting. */
export const MAX_MESSAGE = 1400;

/** flowEndReason values (IANA). */
export const FlowEndReason = { IDLE_TIMEOUT: 1, ACTIVE_TIMEOUT: 2, END_OF_FLOW: 3, FORCED_END: 4, LACK_OF_RESOURCES: 5 } as const;

export interface IpfixFlow {
  family: 4 | 6;
  /** Network-order addresses (4 or 16 bytes). */
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  proto: number;
  tcpFlags: number;
  /** IP bytes (total length) and packets since the flow's previous record. */
  octets: number;
  packets: number;
  startMs: number;
  endMs: number;
  ingressIfindex: number;
  egressIfindex: number;
  vlan: number;
  endReason: number;
}

function writeValue(b: Buffer, off: number, f: Element, flow: IpfixFlow): number {
  const v = (x: number, len: number) => {
    if (len === 8) b.writeBigUInt64BE(BigInt(Math.max(0, Math.round(x))), off);
    else b.writeUIntBE(x, off, len);
  };
  switch (f) {
    case 'sourceIPv4Address':
    case 'sourceIPv6Address':
      b.set(flow.src.subarray(0, IE[f][1]), off);
      break;
    case 'destinationIPv4Address':
    case 'destinationIPv6Address':
      b.set(flow.dst.subarray(0, IE[f][1]), off);
      break;
    case 'sourceTransportPort':
      v(flow.sport, 2);
      break;
    case 'destinationTransportPort':
      v(flow.dport, 2);
      break;
    case 'protocolIdentifier':
      v(flow.proto, 1);
      break;
    case 'tcpControlBits':
      v(flow.tcpFlags, 2);
      break;
    case 'octetDeltaCount':
      v(flow.octets, 8);
      break;
    case 'packetDeltaCount':
      v(flow.packets, 8);
      break;
    case 'flowStartMilliseconds':
      v(flow.startMs, 8);
      break;
    case 'flowEndMilliseconds':
      v(flow.endMs, 8);
      break;
    case 'ingressInterface':
      v(flow.ingressIfindex, 4);
      break;
    case 'egressInterface':
      v(flow.egressIfindex, 4);
      break;
    case 'vlanId':
      v(flow.vlan & 0xfff, 2);
      break;
    case 'flowEndReason':
      v(flow.endReason, 1);
      break;
  }
  return off + IE[f][1];
}

/**
 * Encodes messages for one observation domain. The sequence number counts the data records
 * sent before each message, as RFC 7011 §3.1 defines it for a domain.
 */
export class IpfixEncoder {
  private sequence = 0;

  constructor(readonly observationDomain: number) {}

  /** The template set announcing every template (flows and HTTP, both families). */
  templateSet(): Buffer {
    const parts = [...TEMPLATES, ...HTTP_TEMPLATES].map((t) => {
      const b = Buffer.alloc(4 + 4 * t.fields.length);
      b.writeUInt16BE(t.id, 0);
      b.writeUInt16BE(t.fields.length, 2);
      t.fields.forEach((f, i) => {
        b.writeUInt16BE(IE[f][0], 4 + 4 * i);
        b.writeUInt16BE(IE[f][1], 6 + 4 * i);
      });
      return b;
    });
    return set(TEMPLATE_SET_ID, Buffer.concat(parts));
  }

  /**
   * Messages carrying `flows` (none when there are none), each at most MAX_MESSAGE bytes; the
   * templates go first in the first message when `withTemplates`.
   */
  encode(flows: IpfixFlow[], exportTimeSec: number, withTemplates: boolean): Buffer[] {
    const records: { template: number; data: Buffer }[] = [];
    for (const t of TEMPLATES) {
      const len = recordLength(t.fields);
      for (const flow of flows) {
        if ((flow.family === 4 ? TEMPLATE_IPV4 : TEMPLATE_IPV6) !== t.id) continue;
        const data = Buffer.alloc(len);
        t.fields.reduce((off, f) => writeValue(data, off, f, flow), 0);
        records.push({ template: t.id, data });
      }
    }
    return this.pack(records, exportTimeSec, withTemplates);
  }

  /** Messages carrying HTTP transactions, each at most MAX_MESSAGE bytes (templates first when asked). */
  encodeHttp(txs: IpfixHttp[], exportTimeSec: number, withTemplates: boolean): Buffer[] {
    const records = txs.map((t) => {
      const tpl = HTTP_TEMPLATES[t.family === 4 ? 0 : 1]!;
      return { template: tpl.id, data: httpRecord(tpl.fields, t) };
    });
    return this.pack(records, exportTimeSec, withTemplates);
  }

  /**
   * Packs records into messages of at most MAX_MESSAGE bytes: consecutive records of one
   * template share a data set; the templates go first in the first message when asked (and
   * make a message of their own when there is no record).
   */
  private pack(records: { template: number; data: Buffer }[], exportTimeSec: number, withTemplates: boolean): Buffer[] {
    const messages: Buffer[] = [];
    let sets: Buffer[] = withTemplates ? [this.templateSet()] : [];
    let size = MESSAGE_HEADER + (sets[0]?.length ?? 0);
    let count = 0;
    // The data set being filled: its template id (0: none) and its records.
    let openId = 0;
    let parts: Buffer[] = [];
    const closeSet = () => {
      if (!openId) return;
      sets.push(set(openId, Buffer.concat(parts)));
      openId = 0;
      parts = [];
    };
    const flushMessage = () => {
      closeSet();
      if (!sets.length) return;
      messages.push(this.message(sets, exportTimeSec));
      this.sequence = (this.sequence + count) >>> 0;
      sets = [];
      size = MESSAGE_HEADER;
      count = 0;
    };
    for (const r of records) {
      if (size + r.data.length + (openId === r.template ? 0 : SET_HEADER) > MAX_MESSAGE) flushMessage();
      if (openId !== r.template) {
        closeSet();
        openId = r.template;
        size += SET_HEADER;
      }
      parts.push(r.data);
      size += r.data.length;
      count++;
    }
    flushMessage();
    return messages;
  }

  private message(sets: Buffer[], exportTimeSec: number): Buffer {
    const body = Buffer.concat(sets);
    const h = Buffer.alloc(MESSAGE_HEADER);
    h.writeUInt16BE(VERSION, 0);
    h.writeUInt16BE(MESSAGE_HEADER + body.length, 2);
    h.writeUInt32BE(exportTimeSec >>> 0, 4);
    h.writeUInt32BE(this.sequence, 8);
    h.writeUInt32BE(this.observationDomain >>> 0, 12);
    return Buffer.concat([h, body]);
  }
}

function set(id: number, body: Buffer): Buffer {
  const h = Buffer.alloc(SET_HEADER);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(SET_HEADER + body.length, 2);
  return Buffer.concat([h, body]);
}
