/** Names for numbers that appear in packets: IP protocols, TCP flags, histogram buckets. */
import { PROTOCOLS } from '../filter/rule.js';

const PROTOCOL_NAMES = new Map(Object.entries(PROTOCOLS).map(([name, n]) => [n, name]));

export function protocolName(proto: number): string {
  return PROTOCOL_NAMES.get(proto) ?? String(proto);
}

/** TCP flag bits in tcpdump's letters and order: S(YN) F(IN) R(ST) P(USH) .(ACK) U(RG) E(CE) W(CWR). */
export function formatTcpFlagBits(bits: number): string {
  const letters: [number, string][] = [
    [0x02, 'S'],
    [0x01, 'F'],
    [0x04, 'R'],
    [0x08, 'P'],
    [0x10, '.'],
    [0x20, 'U'],
    [0x40, 'E'],
    [0x80, 'W'],
  ];
  return letters
    .filter(([b]) => bits & b)
    .map(([, l]) => l)
    .join('');
}

/** Upper bounds of the packet-size histogram's buckets (frame bytes), as the pipeline counts. */
export const SIZE_BUCKETS = ['<=64', '65-128', '129-256', '257-512', '513-1024', '1025-1518', '1519-9018', '>9018'];
