/**
 * Capture files: read with libpcap (pcap and pcapng; replay), and written as pcap with libpcap's
 * writer or as pcapng with the pipeline's verdict in each packet (capture -w).
 */
import { pcapngPacketOf, type CapturedRecord } from '../insight/capture-record.js';
import { PcapngWriter } from '../insight/pcapng.js';
import { openPcapWriter, readCapture, type Capture } from '../kernel/pcap.js';
import { LINKTYPE_ETHERNET } from '../util/linktypes.js';

export type { Capture };

/** Every packet of a capture file; with `partial`, a damaged file gives the packets before the damage. */
export const readCaptureFile = (path: string, opts: { partial?: boolean } = {}): Capture => readCapture(path, opts);

export interface CaptureFileWriter {
  write(r: CapturedRecord): void;
  close(): void;
}

/** A writer of captured packets to `path` ('-': standard output, flushed per packet for readers on a pipe). */
export function captureFileWriter(path: string, format: 'pcap' | 'pcapng', snaplen: number): CaptureFileWriter {
  if (format === 'pcapng') {
    const w = new PcapngWriter(path, LINKTYPE_ETHERNET, snaplen);
    return { write: (r) => w.write(pcapngPacketOf(r)), close: () => w.close() };
  }
  const pcap = openPcapWriter(path, LINKTYPE_ETHERNET, snaplen);
  return {
    write(r) {
      pcap.write(Number(r.tsNs / 1_000_000_000n), Number((r.tsNs / 1000n) % 1_000_000n), r.data, r.len);
      // Readers on a pipe (tcpdump -r -) see each packet as it comes.
      if (path === '-') pcap.flush();
    },
    close: () => pcap.close(),
  };
}
