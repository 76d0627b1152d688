/**
 * Random tcpdump filter expressions (man pcap-filter) for the capture filter fuzz test: the
 * primitives libpcap compiles for Ethernet, byte tests with arithmetic on packet bytes (so
 * that the classic program computes with X: shifts, divisions and remainders by values read
 * from the packet, which may be zero or past 31), joined with and, or, not and parentheses.
 */
type Rand = () => number;

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);

const PRIMITIVES = [
  'ip',
  'ip6',
  'arp',
  'tcp',
  'udp',
  'icmp',
  'icmp6',
  'vlan',
  'mpls',
  'ether broadcast',
  'ether multicast',
  'ip multicast',
  'ip broadcast',
  'ip6 multicast',
  'ip proto 47',
  'ip6 proto 17',
  'tcp[tcpflags] & tcp-syn != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'icmp[icmptype] = icmp-echo',
  'icmp6[icmp6type] = icmp6-echo',
  'ip[6:2] & 0x1fff != 0',
  'ip6[6] = 44',
  // Longer programs: header chains walked with X (protochain), tunnels, stacked tags.
  'ip6 protochain 6',
  'ip protochain 17',
  'geneve',
  'pppoes',
  'pppoes 3 and ip',
  'vlan 100 and vlan 200',
  'mpls 100',
  'ether host 00:11:22:33:44:55',
  'ip6 net fe80::/10',
  'decnet host 1.2',
  'llc',
  'stp',
  'atalk',
  'iso',
  'inbound',
  'ifindex 3',
];

const PROTOS = ['ether', 'ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6', 'arp', 'vlan'];
const OPS = ['+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>'];
const RELS = ['=', '!=', '<', '<=', '>', '>='];

/** A value: a number, a packet byte test, the length, or arithmetic on two values. */
function value(rand: Rand, depth: number): string {
  const r = rand();
  if (r < 0.3 || depth > 2)
    return String(pick(rand, [0, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 255, 0x800, 65535, 0xffffffff, int(rand, 5000)]));
  if (r < 0.65) {
    const size = pick(rand, ['', ':1', ':2', ':4']);
    // An offset that is a number, or itself read from the packet (an indexed load).
    const at =
      rand() < 0.7 ? String(pick(rand, [0, 1, 2, 6, 8, 9, 12, 13, 14, 20, 23, 40, 54, 1500, int(rand, 80)])) : value(rand, depth + 1);
    return `${pick(rand, PROTOS)}[${at}${size}]`;
  }
  if (r < 0.7) return 'len';
  return `(${value(rand, depth + 1)} ${pick(rand, OPS)} ${value(rand, depth + 1)})`;
}

function primitive(rand: Rand): string {
  const r = rand();
  if (r < 0.25) return pick(rand, PRIMITIVES);
  if (r < 0.4)
    return `${pick(rand, ['', 'src ', 'dst ', 'tcp ', 'udp ', 'tcp src ', 'udp dst '])}port ${pick(rand, [0, 22, 53, 80, 443, int(rand, 65536)])}`;
  if (r < 0.45) return `${pick(rand, ['tcp ', 'udp ', ''])}portrange ${int(rand, 2000)}-${2000 + int(rand, 60000)}`;
  if (r < 0.55)
    return `${pick(rand, ['', 'src ', 'dst '])}${pick(rand, ['host 192.168.1.1', 'host 10.0.0.1', 'net 10.0.0.0/8', 'net 192.168.0.0/16', 'host ::1', 'net fe80::/10', 'net 0.0.0.0/0'])}`;
  if (r < 0.6) return `${pick(rand, ['greater', 'less'])} ${int(rand, 1600)}`;
  if (r < 0.65) return `vlan ${int(rand, 4096)}`;
  return `${value(rand, 0)} ${pick(rand, RELS)} ${value(rand, 0)}`;
}

/** An expression of up to `depth` levels of and/or/not. */
export function pcapExpression(rand: Rand, depth = 0): string {
  const r = rand();
  if (depth > 2 || r < 0.45) return primitive(rand);
  if (r < 0.55) return `not ${pcapExpression(rand, depth + 1)}`;
  const join = pick(rand, ['and', 'or']);
  const e = `${pcapExpression(rand, depth + 1)} ${join} ${pcapExpression(rand, depth + 1)}`;
  return rand() < 0.5 ? `(${e})` : e;
}
