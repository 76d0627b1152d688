/**
 * The lab for path quality (the failover tests and the bench): a client, a router, and two
 * upstream paths through link emulators (tools/linkem) to one server, so that a flow moved from
 * one path to the other reaches the same server (TCP connections survive the move).
 *
 *   client c0 10.211.1.2 ── r0 10.211.1.1 [router] r1 10.211.2.1 ─[emulator 1]─ g1 10.211.2.2 [gw 1] v1 ── s1 [server]
 *                                                   r2 10.211.3.1 ─[emulator 2]─ g2 10.211.3.2 [gw 2] v2 ── s2 [server]
 *
 * The server holds the service address 10.221.0.1 and answers through gateway 1. Which path a
 * UDP datagram took is told by the port it reaches: nftables in the server rewrites port 9000
 * arriving on s1 to 9001 and on s2 to 9002, statelessly (a NAT would pin a flow to the port
 * of its first packet), and netlab/path-traffic.ts listens on both. Offloads are off on every
 * link the emulators carry (frames within the MTU), and the hosts compute their checksums (a
 * frame copied by the emulator from user space must carry a complete one).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { repoRoot } from '../util/paths.js';
import { LinkEmulator, noOffloads } from './link-emulator.js';
import type { Topology } from './topology.js';

export const PATH_SERVICE = '10.221.0.1';
export const PATH_GATEWAYS = ['10.211.2.2', '10.211.3.2'] as const;

export interface PathLab {
  client: string;
  router: string;
  server: string;
  gateways: [string, string];
  /** The emulators, a2b = from the router towards the server. */
  links: [LinkEmulator, LinkEmulator];
  /** The router's interfaces: client side, path 1, path 2. */
  routerPorts: [string, string, string];
}

export async function buildPathLab(topo: Topology): Promise<PathLab> {
  const client = topo.addNamespace('C');
  const router = topo.addNamespace('R');
  const server = topo.addNamespace('S');
  const gws: string[] = [];
  const emus: string[] = [];
  for (const i of [1, 2]) {
    gws.push(topo.addNamespace(`G${i}`));
    emus.push(topo.addNamespace(`E${i}`));
  }
  topo.addVeth({ ns: client, name: 'c0', addr: '10.211.1.2/24' }, { ns: router, name: 'r0', addr: '10.211.1.1/24' });
  for (const i of [1, 2]) {
    const [gw, emu] = [gws[i - 1]!, emus[i - 1]!];
    topo.addVeth({ ns: router, name: `r${i}`, addr: `10.211.${i + 1}.1/24` }, { ns: emu, name: `e${i}a` });
    topo.addVeth({ ns: emu, name: `e${i}b` }, { ns: gw, name: `g${i}`, addr: `10.211.${i + 1}.2/24` });
    topo.addVeth({ ns: gw, name: `v${i}`, addr: `10.211.${i + 3}.1/24` }, { ns: server, name: `s${i}`, addr: `10.211.${i + 3}.2/24` });
    topo.exec(gw, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    topo.exec(gw, 'ip', ['route', 'add', '10.211.1.0/24', 'via', `10.211.${i + 1}.1`]);
    topo.exec(gw, 'ip', ['route', 'add', `${PATH_SERVICE}/32`, 'via', `10.211.${i + 3}.2`]);
    for (const [ns, dev] of [
      [router, `r${i}`],
      [gw, `g${i}`],
    ] as const)
      noOffloads(ns, topo.name(dev));
  }
  topo.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.211.1.1']);
  topo.exec(client, 'ethtool', ['-K', topo.name('c0'), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  topo.exec(server, 'ip', ['addr', 'add', `${PATH_SERVICE}/32`, 'dev', 'lo']);
  for (const dev of ['s1', 's2'])
    topo.exec(server, 'ethtool', ['-K', topo.name(dev), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  topo.exec(server, 'ip', ['route', 'add', 'default', 'via', '10.211.4.1']);
  // Replies may come in on s2 and leave by s1: no reverse-path filter in the server.
  for (const dev of ['all', topo.name('s1'), topo.name('s2')]) topo.exec(server, 'sysctl', ['-qw', `net.ipv4.conf.${dev}.rp_filter=0`]);
  topo.exec(server, 'nft', ['-f', '-'], {
    input: `table ip pathlab {
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    iifname "${topo.name('s1')}" udp dport 9000 notrack udp dport set 9001
    iifname "${topo.name('s2')}" udp dport 9000 notrack udp dport set 9002
  }
}
`,
  });
  topo.exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
  const links = [
    await LinkEmulator.start(topo, emus[0]!, topo.name('e1a'), topo.name('e1b')),
    await LinkEmulator.start(topo, emus[1]!, topo.name('e2a'), topo.name('e2b')),
  ] as [LinkEmulator, LinkEmulator];
  return {
    client,
    router,
    server,
    gateways: [gws[0]!, gws[1]!],
    links,
    routerPorts: [topo.name('r0'), topo.name('r1'), topo.name('r2')],
  };
}

/** The config that steers the service's route over the two paths. */
export function pathLabConfig(lab: PathLab, instance: string, paths: Record<string, unknown> = {}): string {
  return JSON.stringify({
    instance,
    interfaces: lab.routerPorts.map((name) => ({ name })),
    nexthopGroups: { upstream: PATH_GATEWAYS.map((gateway) => ({ gateway })) },
    paths: { upstream: { policy: 'lowest-latency', ...paths } },
    routes: [{ prefix: `${PATH_SERVICE}/32`, nexthopGroup: 'upstream' }],
  });
}

/** A packet as the server saw it: its sequence number and the client's send time (ms). */
export interface Arrival {
  seq: number;
  sentMs: number;
  path: 1 | 2;
}

/**
 * The traffic of the lab (netlab/path-traffic.ts): a sender in the client, a receiver in the
 * server. Times are CLOCK_MONOTONIC ms, the clock the sender stamps packets with.
 */
export class PathTraffic {
  private constructor(
    private readonly sender: ChildProcess,
    private readonly receiver: ChildProcess,
    private readonly lines: { s: string[]; r: string[] },
  ) {}

  static async start(topo: Topology, lab: PathLab, pps = 1000): Promise<PathTraffic> {
    const script = join(repoRoot, 'dist', 'src', 'netlab', 'path-traffic.js');
    const lines = { s: [] as string[], r: [] as string[] };
    const receiver = topo.spawn(lab.server, process.execPath, [script, 'receive']);
    createInterface({ input: receiver.stdout! }).on('line', (l) => lines.r.push(l));
    await waitLine(lines.r, 'ready', receiver);
    lines.r.length = 0;
    const sender = topo.spawn(lab.client, process.execPath, [script, 'send', PATH_SERVICE, String(pps)]);
    createInterface({ input: sender.stdout! }).on('line', (l) => lines.s.push(l));
    await waitLine(lines.s, 'ready', sender);
    lines.s.length = 0;
    return new PathTraffic(sender, receiver, lines);
  }

  /** Now, on the senders' clock. */
  static now(): number {
    return Number(process.hrtime.bigint()) / 1e6;
  }

  /** What the server received since the last dump. */
  async dump(): Promise<Arrival[]> {
    this.receiver.stdin!.write('dump\n');
    const line = await waitLine(this.lines.r, null, this.receiver);
    const d = JSON.parse(line) as { path1: number[]; path2: number[] };
    const out: Arrival[] = [];
    for (const [path, list] of [
      [1, d.path1],
      [2, d.path2],
    ] as const)
      for (let i = 0; i + 1 < list.length; i += 2) out.push({ seq: list[i]!, sentMs: list[i + 1]!, path });
    return out.sort((a, b) => a.sentMs - b.sentMs);
  }

  async stop(): Promise<{
    sent: number;
    sendErrors: number;
    tcp: { connections: number; echoes: number; errors: string[]; openAtEnd: number };
  }> {
    this.sender.stdin!.write('stop\n');
    const line = await waitLine(this.lines.s, null, this.sender);
    this.receiver.kill('SIGKILL');
    return JSON.parse(line) as Awaited<ReturnType<PathTraffic['stop']>>;
  }
}

async function waitLine(lines: string[], want: string | null, child: ChildProcess): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const i = want === null ? (lines.length ? 0 : -1) : lines.indexOf(want);
    if (i >= 0) return lines.splice(i, 1)[0]!;
    if (child.exitCode !== null) throw new Error(`path traffic process exited (${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`path traffic: no ${want ?? 'reply'} within 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * How long after `stepMs` new packets moved to `to`: the earliest send time from which every
 * 100 ms window of packets has at least 99 % on `to`, minus the step. Packets that never
 * arrived count as not on `to`. NaN if they never moved.
 */
export function failoverMs(received: Arrival[], stepMs: number, to: 1 | 2): number {
  const after = withLosses(received).filter((a) => a.sentMs >= stepMs);
  if (!after.length) return NaN;
  const end = after[after.length - 1]!.sentMs;
  let firstGood = NaN;
  let j = 0;
  let onTo = 0;
  // Windows starting at each packet; a window running past the end is not judged.
  const good: boolean[] = [];
  for (let i = 0; i < after.length; i++) {
    while (j < after.length && after[j]!.sentMs < after[i]!.sentMs + 100) onTo += after[j++]!.path === to ? 1 : 0;
    const n = j - i;
    good.push(after[i]!.sentMs + 100 > end || onTo >= 0.99 * n);
    onTo -= after[i]!.path === to ? 1 : 0;
  }
  for (let i = good.length - 1; i >= 0 && good[i]; i--) firstGood = after[i]!.sentMs;
  if (Number.isNaN(firstGood) || after.at(-1)!.path !== to) return NaN;
  return firstGood - stepMs;
}

/**
 * The arrivals with the packets that never arrived put back (path 0), their send times
 * interpolated between their neighbours' (the sender keeps a steady rate).
 */
export function withLosses(received: Arrival[]): (Omit<Arrival, 'path'> & { path: 0 | 1 | 2 })[] {
  const bySeq = [...received].sort((a, b) => a.seq - b.seq);
  const out: (Omit<Arrival, 'path'> & { path: 0 | 1 | 2 })[] = [];
  for (let i = 0; i < bySeq.length; i++) {
    const a = bySeq[i]!;
    const prev = bySeq[i - 1];
    if (prev && a.seq > prev.seq + 1) {
      const gap = a.seq - prev.seq;
      for (let s = prev.seq + 1; s < a.seq; s++)
        out.push({ seq: s, sentMs: prev.sentMs + ((a.sentMs - prev.sentMs) * (s - prev.seq)) / gap, path: 0 });
    }
    out.push(a);
  }
  return out.sort((x, y) => x.sentMs - y.sentMs);
}
