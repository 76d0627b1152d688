/**
 * A pcapng writer (IETF draft-ietf-opsawg-pcapng): a section header, one interface description
 * per interface seen, and enhanced packet blocks carrying the pipeline's verdict in the
 * standard epb_verdict option (type 2: Linux eBPF XDP) and in a comment. libpcap reads pcapng
 * but cannot write it; the format is a few fixed blocks, so this is written here.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const SHB = 0x0a0d0d0a,
  IDB = 0x00000001,
  EPB = 0x00000006;
const OPT_COMMENT = 1,
  IF_NAME = 2,
  IF_TSRESOL = 9,
  EPB_VERDICT = 7;
const VERDICT_XDP = 2;
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function option(code: number, value: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + value.length + pad4(value.length));
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  Buffer.from(value).copy(b, 4);
  return b;
}

function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  b.writeUInt32LE(total, total - 4);
  return b;
}

const endOfOptions = () => Buffer.alloc(4); // opt_endofopt, length 0

export interface PcapngPacket {
  /** Nanoseconds since the epoch. */
  tsNs: bigint;
  interfaceName: string;
  data: Uint8Array;
  /** Length on the wire. */
  len: number;
  /** The XDP action taken (XDP_ABORTED 0, DROP 1, PASS 2, TX 3, REDIRECT 4), if known. */
  xdpAction?: number;
  comment?: string;
}

/**
 * Encodes a pcapng stream block by block: the section header first, then each packet, with an
 * interface description block before the first packet of each interface.
 */
export class PcapngEncoder {
  private readonly interfaces = new Map<string, number>();

  constructor(
    private readonly linktype = 1,
    private readonly snaplen = 262144,
  ) {}

  /** The section header block that starts the stream. */
  header(): Buffer {
    const body = Buffer.alloc(16);
    body.writeUInt32LE(0x1a2b3c4d, 0); // byte-order magic
    body.writeUInt16LE(1, 4); // version 1.0
    body.writeUInt16LE(0, 6);
    body.writeBigInt64LE(-1n, 8); // section length: not given
    return block(SHB, Buffer.concat([body, endOfOptions()]));
  }

  /** One packet (preceded by its interface's description the first time the interface is seen). */
  packet(p: PcapngPacket): Buffer {
    const out: Buffer[] = [];
    let id = this.interfaces.get(p.interfaceName);
    if (id === undefined) {
      id = this.interfaces.size;
      this.interfaces.set(p.interfaceName, id);
      const head = Buffer.alloc(8);
      head.writeUInt16LE(this.linktype, 0);
      head.writeUInt32LE(this.snaplen, 4);
      out.push(
        block(
          IDB,
          Buffer.concat([head, option(IF_NAME, Buffer.from(p.interfaceName)), option(IF_TSRESOL, Uint8Array.of(9)), endOfOptions()]),
        ),
      );
    }
    const head = Buffer.alloc(20);
    head.writeUInt32LE(id, 0);
    head.writeUInt32LE(Number(p.tsNs >> 32n), 4);
    head.writeUInt32LE(Number(p.tsNs & 0xffffffffn), 8);
    head.writeUInt32LE(p.data.length, 12);
    head.writeUInt32LE(p.len, 16);
    const parts: Buffer[] = [head, Buffer.from(p.data), Buffer.alloc(pad4(p.data.length))];
    if (p.xdpAction !== undefined) {
      const v = Buffer.alloc(9);
      v.writeUInt8(VERDICT_XDP, 0);
      v.writeBigUInt64LE(BigInt(p.xdpAction), 1);
      parts.push(option(EPB_VERDICT, v));
    }
    if (p.comment) parts.push(option(OPT_COMMENT, Buffer.from(p.comment)));
    if (p.xdpAction !== undefined || p.comment) parts.push(endOfOptions());
    out.push(block(EPB, Buffer.concat(parts)));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** A pcapng file (or standard output for "-"). */
export class PcapngWriter {
  private readonly fd: number;
  private readonly owned: boolean;
  private readonly encoder: PcapngEncoder;

  constructor(path: string, linktype = 1, snaplen = 262144) {
    this.owned = path !== '-';
    this.fd = this.owned ? openSync(path, 'w', 0o600) : 1;
    this.encoder = new PcapngEncoder(linktype, snaplen);
    writeSync(this.fd, this.encoder.header() as Uint8Array);
  }

  write(p: PcapngPacket): void {
    writeSync(this.fd, this.encoder.packet(p) as Uint8Array);
  }

  close(): void {
    if (this.owned) closeSync(this.fd);
  }
}
