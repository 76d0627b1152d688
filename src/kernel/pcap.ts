/** Capture files read through libpcap (pcap and pcapng): Pathwise parses no capture format. */
import { native } from './native.js';
import { PwError } from '../errors.js';
import { LINKTYPE_ETHERNET } from '../util/linktypes.js';

export interface CapturedPacket {
  /** Index in the file, from 0. */
  index: number;
  tsSec: number;
  tsUsec: number;
  /** Length on the wire (may exceed data.length when the capture was truncated). */
  len: number;
  data: Buffer;
}

export interface Capture {
  linktype: number;
  packets: CapturedPacket[];
  /** With `partial`: why reading stopped before the end of the file (a damaged capture). */
  damage?: string;
}

/**
 * Reads every packet of a capture file. A file damaged part-way is an error, unless `partial`
 * is set: then the packets before the damage are returned, and what stopped the reading.
 */
export function readCapture(path: string, opts: { partial?: boolean } = {}): Capture {
  let reader;
  try {
    reader = new (native().PcapReader)(path);
  } catch (e) {
    throw new PwError('PW_ERR_INVALID', `${path} is not a capture file libpcap can read: ${(e as Error).message}`, { where: path });
  }
  const packets: CapturedPacket[] = [];
  try {
    for (let batch = reader.next(4096); batch.length; batch = reader.next(4096)) {
      for (const p of batch) packets.push({ index: packets.length, ...p });
    }
    return { linktype: reader.linktype, packets };
  } catch (e) {
    const at = (e as { packetIndex?: number }).packetIndex ?? packets.length;
    if (opts.partial)
      return { linktype: reader.linktype, packets, damage: `the capture is damaged after ${at} packets: ${(e as Error).message}` };
    throw new PwError('PW_ERR_INVALID', `${path}: the capture is damaged after ${at} packets: ${(e as Error).message}`, {
      where: `${path}: packet ${at + 1}`,
    });
  } finally {
    reader.close();
  }
}

/** libpcap's pcap writer (what tcpdump -w writes); path '-' is standard output. */
export function openPcapWriter(path: string, linktype = LINKTYPE_ETHERNET, snaplen?: number) {
  try {
    return new (native().PcapWriter)(path, linktype, snaplen ?? 262144);
  } catch (e) {
    throw new PwError('PW_ERR_INVALID', `cannot write ${path}: ${(e as Error).message}`, { where: path });
  }
}

/** Writes a pcap file with libpcap's writer. */
export function writeCapture(
  path: string,
  packets: { data: Uint8Array; tsSec?: number; tsUsec?: number; len?: number }[],
  linktype = LINKTYPE_ETHERNET,
): void {
  const w = openPcapWriter(path, linktype);
  try {
    const now = Date.now();
    for (const p of packets) w.write(p.tsSec ?? Math.floor(now / 1000), p.tsUsec ?? (now % 1000) * 1000, p.data, p.len);
  } finally {
    w.close();
  }
}

/** The classic BPF libpcap compiles a tcpdump expression to (pcap_compile); throws PW_ERR_INVALID. */
export function compilePcapFilter(expression: string, linktype = LINKTYPE_ETHERNET, snaplen = 262144): Buffer {
  try {
    return native().pcapCompile(expression, linktype, snaplen);
  } catch (e) {
    throw new PwError('PW_ERR_INVALID', `${(e as Error).message} in '${expression}'`, {
      where: 'filter expression',
      hint: "the syntax is tcpdump's (man pcap-filter)",
    });
  }
}

/** Runs classic BPF on a packet in user space (libpcap's bpf_filter): the snap length it keeps, 0 to drop. */
export function runPcapFilter(insns: Uint8Array, packet: Uint8Array, wirelen?: number): number {
  return wirelen === undefined ? native().pcapFilter(insns, packet) : native().pcapFilter(insns, packet, wirelen);
}
