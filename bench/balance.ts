/**
 * Load balancing, side by side in one run (`make bench-balance`):
 *
 *  1. The balance stage per packet: the pipeline's time for a packet of an established
 *     connection to a service (NAT: translated, routed, redirected), for the first packet of a
 *     connection (the table chooses, the connection and its reply are recorded), and in DSR
 *     mode, beside the same pipeline forwarding a packet to no service and an empty program.
 *     Each figure is the median of single runs of BPF_PROG_TEST_RUN on a fresh copy of the
 *     frame: repeated runs would see the frame as the last run left it (translated, its TTL
 *     lower), which is another packet.
 *  2. A Maglev table rebuilt in the control plane: 65,537 slots, 100 backends.
 *  3. Through a router namespace on veth: packets per second (tcpreplay, 1,024 UDP flows to
 *     the service, counted by an XDP sink on the backend's side; and one flow from the
 *     XDP-native generator on the router's ingress, bench/live-frames.ts, and from the XDP frame
 *     loop, bench/loop-generator.ts) and connections per
 *     second (HTTP, one request per connection), Pathwise against nftables DNAT (this kernel
 *     has no IPVS) with the kernel forwarding, interleaved rounds, medians.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

import { BpfObject, attachXdp, detachXdp, inNetns, type Program } from '../src/kernel/index.js';
import { resolveIfindex } from '../src/kernel/netlink.js';
import { writeCapture } from '../src/kernel/pcap.js';
import type { Dataplane } from '../src/dataplane/dataplane.js';
import { maglevTable } from '../src/lb/maglev.js';
import { parseBackend, parseServiceAddress, type ServiceSpec } from '../src/lb/service.js';
import { ipv4Packet } from '../test/helpers/packets.js';
import type { Topology } from '../test/helpers/topology.js';
import * as benchAbi from './generated/bench.js';
import { LiveGenerator, type LiveRun } from './live-frames.js';
import { LoopGenerator } from './loop-generator.js';
import { cpuTimes, USER_HZ } from './cpu-times.js';
import { median } from './pipeline-kit.js';

export interface BalanceResults {
  perPacket: { emptyNs: number; forwardNs: number; natEstablishedNs: number; natNewNs: number; dsrEstablishedNs: number; samples: number };
  maglev: { coldMs: number; warmMs: number; slots: number; backends: number };
  throughput: {
    /** The generator alone: frames dropped as they reach the router. */
    directPps: number;
    /**
     * The least an XDP forwarder does (bench_redirect: each frame redirected to the backend's
     * side unread, nothing translated), from 2026-12-05: the most any XDP program can deliver
     * on this path.
     */
    redirectPps?: number;
    pathwisePps: number;
    nftPps: number;
    pathwiseCps: number;
    nftCps: number;
    frames: number;
    connections: number;
    rounds: number;
    /**
     * Each round's rates by mode (the medians above are of these), from 2026-12-05: a VM's
     * speed drifts between rounds, so each mode is compared with nftables of its own round.
     */
    perRound?: Record<'nft' | 'pathwise' | 'generic' | 'tc', { pps: number[]; cps: number[] }>;
    /**
     * Pathwise attached in generic (socket-buffer) XDP mode on the same veths, and the CPU time
     * the whole VM spent per connection in each mode (busy time from /proc/stat over the
     * connections, microseconds), from 2026-12-04.
     */
    generic?: { pps: number; cps: number };
    /** Pathwise attached at TC ingress (attach mode tc), from 2026-12-04. */
    tc?: { pps: number; cps: number };
    cpuUsPerConnection?: { pathwise: number; generic: number; nft: number; tc?: number };
    /**
     * The pipeline's own time per run (ns) while ab runs, from the kernel's BPF run-time
     * statistics over one more ab run per mode and round (not counted in the rates), medians;
     * and its runs per connection. From 2026-12-04.
     */
    ownNs?: { pathwise: number; generic: number; tc: number; runsPerConnection: number };
    /** The same service fed by the XDP-native generator (bench/live-frames.ts), from 2026-12-02. */
    live?: {
      pathwisePps: number;
      nftPps: number;
      frames: number;
      pathwiseDelivered?: number;
      nftDelivered?: number;
      /** bench_redirect tail-called by the generator instead of the pipeline, from 2026-12-05. */
      redirectPps?: number;
    };
    /** Why `live` is missing: the kernel refused live frames (LiveGenerator.refusal). */
    liveRefused?: string;
    /**
     * The same flow from the XDP frame loop (bench/loop-generator.ts: frames circulating
     * through the router by XDP redirects, on kernels with live frames or without), delivered
     * per second, medians of the rounds; from 2026-12-06.
     */
    loop?: { pathwisePps: number; nftPps: number; redirectPps: number; seconds: number; perRound: { pathwise: number[]; nft: number[] } };
  };
}

const VIP = '10.251.100.1';
/** The lab's backend (namespace b's address). */
export const BACKEND = '10.251.12.2';

function service(name: string, mode: ServiceSpec['mode'], backends: string[], address = `${VIP}:80/tcp`): ServiceSpec {
  return {
    name,
    ...parseServiceAddress(address, name),
    mode,
    hash: 'five-tuple',
    tableSize: 65537,
    backends: backends.map((b) => parseBackend(b, name)),
  };
}

export async function balanceBench(
  topo: Topology,
  open: (name: string, ns?: string) => Promise<Dataplane>,
  benchObject: string,
  log: (s: string) => void,
): Promise<BalanceResults> {
  const bench = await BpfObject.load(benchObject, { spec: benchAbi });
  try {
    log('balance: per packet');
    const perPacket = await perPacketBench(topo, open, bench);
    log('balance: Maglev rebuild');
    const maglev = maglevBench();
    log('balance: through a router, against nftables DNAT');
    const throughput = await throughputBench(topo, open, bench);
    return { perPacket, maglev, throughput };
  } finally {
    bench.close();
  }
}

async function perPacketBench(
  topo: Topology,
  open: (name: string, ns?: string) => Promise<Dataplane>,
  bench: BpfObject,
): Promise<BalanceResults['perPacket']> {
  const ns = topo.addNamespace('LP');
  topo.addVeth({ ns, name: 'p0', addr: '10.251.1.1/24' }, { ns, name: 'p1' });
  for (let k = 2; k <= 4; k++)
    topo.exec(ns, 'ip', [
      'neigh',
      'replace',
      `10.251.1.${k}`,
      'lladdr',
      `02:00:00:00:00:0${k}`,
      'dev',
      topo.name('p0'),
      'nud',
      'permanent',
    ]);
  const dp = await open(`${topo.prefix}lbp`, ns);
  inNetns(ns, () => {
    dp.syncHostRoutes();
    dp.enableEgress(topo.name('p0'));
    dp.syncNeighbors();
    dp.services.set(service('nat', 'nat', ['10.251.1.2:8080', '10.251.1.3:8080', '10.251.1.4:8080']));
    dp.services.set(service('dsr', 'dsr', ['10.251.1.2', '10.251.1.3', '10.251.1.4'], `${VIP}:443/tcp`));
  });
  const pkt = (dst: string, dport: number, flags: number) =>
    ipv4Packet({ src: '10.251.9.7', dst, proto: 'tcp', sport: 40000, dport, tcpFlags: flags });
  const SAMPLES = 20_000;
  /** Median of single runs, each on a fresh copy; `verdict`: what every run must return. */
  const single = (prog: { testRunSync(o: object): { duration: number; retval: number } }, data: Buffer, verdict: number) =>
    inNetns(ns, () => {
      const ds: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const r = prog.testRunSync({ data });
        if (r.retval !== verdict) throw new Error(`a benchmark packet got XDP action ${r.retval}, not ${verdict}`);
        ds.push(r.duration);
      }
      return median(ds);
    });
  const XDP_PASS = 2;
  const XDP_REDIRECT = 4;
  const established = pkt(VIP, 80, 0x10);
  dp.pipeline.xdp.testRunSync({ data: established }); // the connection is tracked from here on
  const dsr = pkt(VIP, 443, 0x10);
  const out = {
    emptyNs: single(bench.program('bench_empty'), established, XDP_PASS),
    forwardNs: single(dp.pipeline.xdp, pkt('10.251.1.2', 8080, 0x10), XDP_REDIRECT),
    natEstablishedNs: single(dp.pipeline.xdp, established, XDP_REDIRECT),
    natNewNs: single(dp.pipeline.xdp, pkt(VIP, 80, 0x02), XDP_REDIRECT),
    dsrEstablishedNs: single(dp.pipeline.xdp, dsr, XDP_REDIRECT),
    samples: SAMPLES,
  };
  dp.close();
  return out;
}

function maglevBench(): BalanceResults['maglev'] {
  const backends = Array.from({ length: 100 }, (_, i) => ({ name: `10.0.${i >> 8}.${i & 255}:80`, id: i + 1, weight: 1 }));
  let t = performance.now();
  maglevTable(backends, 65537);
  const coldMs = performance.now() - t;
  const runs: number[] = [];
  for (let i = 0; i < 30; i++) {
    // A different backend set each time (one removed), as a change would give.
    const set = backends.filter((_, k) => k !== i);
    t = performance.now();
    maglevTable(set, 65537);
    runs.push(performance.now() - t);
  }
  return { coldMs, warmMs: median(runs), slots: 65537, backends: 100 };
}

async function throughputBench(
  topo: Topology,
  open: (name: string, ns?: string) => Promise<Dataplane>,
  bench: BpfObject,
): Promise<BalanceResults['throughput']> {
  const { g, r, b, mac } = lbLab(topo);
  const macBytes = (m: string) => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));

  // Packets: 1,024 UDP flows to the service, looped by tcpreplay; an XDP sink on the backend's
  // side counts what arrives (and drops it), the same for both.
  const sink = sinkCounter(bench);
  const delivered = sink.delivered;
  const pcap = writeLabFlows(topo, g, r, mac);
  const LOOPS = 500;
  /** The generator's frames per second counted by a sink on interface `dev` of namespace `ns`. */
  const deliveredPps = (ns: string, dev: string) => replayedPps(topo, g, ns, dev, bench, sink, pcap, LOOPS);
  // Through the router to the backend's side; and the generator and delivery alone, frames
  // dropped on arrival at the router (the ceiling).
  const pps = () => deliveredPps(b, 'b0');
  const directPps = () => deliveredPps(r, 'r0');
  // Packets from the XDP-native generator on the router's ingress: one UDP flow to the
  // service, into the kernel's stack (nftables) or the pipeline's program; the same sink.
  const LIVE_FRAMES = 2_000_000;
  const flowFrame = ipv4Packet({
    src: '10.251.11.2',
    dst: VIP,
    proto: 'udp',
    sport: 1024,
    dport: 5678,
    payload: new Uint8Array(18),
    dstMac: macBytes(mac(r, 'r0')),
    srcMac: macBytes(mac(g, 'g0')),
  });
  const live = new LiveGenerator(bench as BpfObject<typeof benchAbi>, r, topo.name('r0'), flowFrame, delivered);
  // The same flow from the XDP frame loop, which needs no live frames: the router's r0 gets
  // each frame from g0 as an XDP frame, and the backend's b0 sends it back to g0's side.
  const loop = new LoopGenerator(
    topo,
    bench as BpfObject<typeof benchAbi>,
    { gen: g, genDev: 'g0', router: r, routerDev: 'r0', sink: b, sinkDev: 'b0' },
    flowFrame,
    delivered,
  );
  const LOOP_SECONDS = 2;
  const livePps = (mode: 'pass' | 'pipeline'): LiveRun =>
    inNetns(b, () => {
      attachXdp(bench.program('bench_sink'), topo.name('b0'), { mode: 'native' });
      try {
        return live.run(mode, LIVE_FRAMES);
      } finally {
        detachXdp(topo.name('b0'));
      }
    });

  // Connections: ab (apache2-utils) against nginx, one request per connection, 64 at a time,
  // to the service's port 80: both in C, so the client and server cost less than the path.
  const server = startNginx(topo, b, `/tmp/${topo.prefix}-lb-nginx`);
  const CONNECTIONS = LAB_CONNECTIONS;
  const cps = (cpu: number[]) => {
    const run = abConnections(topo, g);
    cpu.push(run.cpuUs);
    return run.rate;
  };
  const ownTime = (prog: Program) => ownTimeOver(prog, () => abConnections(topo, g));

  const dp = await open(`${topo.prefix}lbt`, r);
  inNetns(r, () => {
    dp.syncHostRoutes();
    dp.syncNeighbors();
  });
  const nft = `table ip ${topo.prefix}lb {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr ${VIP} udp dport 5678 dnat to 10.251.12.2:5678
    ip daddr ${VIP} tcp dport 80 dnat to 10.251.12.2:8080
  }
}
`;
  const pathwiseIn = (mode: 'native' | 'generic' | 'tc') => ({
    on: () =>
      inNetns(r, () => {
        dp.attach([topo.name('r0'), topo.name('r1')], mode);
        dp.services.set(labService());
        dp.services.set(labUdpService());
      }),
    off: () =>
      inNetns(r, () => {
        dp.services.remove('web');
        dp.services.remove('udp');
        dp.detach([topo.name('r0'), topo.name('r1')]);
      }),
  });
  // The floor of any XDP forwarder on this path: bench_redirect on the router's ingress sends
  // every frame to the backend's side as it came (the sink counts it untranslated).
  const redirect = bench.program('bench_redirect');
  setRedirectPort(topo, bench, r, 'r1');
  const modes = {
    redirect: {
      on: () => {
        inNetns(r, () => attachXdp(redirect, topo.name('r0'), { mode: 'native' }));
        live.setPipeline(redirect);
      },
      off: () => {
        live.setPipeline(dp.pipeline.xdp);
        inNetns(r, () => detachXdp(topo.name('r0')));
      },
    },
    nft: {
      on: () => {
        topo.exec(r, 'nft', ['-f', '-'], { input: nft });
        topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      },
      off: () => {
        topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
        topo.exec(r, 'nft', ['delete', 'table', 'ip', `${topo.prefix}lb`]);
      },
    },
    pathwise: pathwiseIn('native'),
    generic: pathwiseIn('generic'),
    tc: pathwiseIn('tc'),
  };
  // Rounds of one mode differ by 10-20 % on these VMs: five, each mode beside nftables of its
  // own round (perRound).
  const ROUNDS = 5;
  const series = () => ({
    pps: [] as number[],
    cps: [] as number[],
    cpu: [] as number[],
    live: [] as number[],
    liveShare: [] as number[],
    loop: [] as number[],
    own: [] as number[],
    runs: [] as number[],
  });
  const rates = { redirect: series(), nft: series(), pathwise: series(), generic: series(), tc: series() };
  const ofRounds = (m: keyof typeof rates) => ({ pps: rates[m].pps, cps: rates[m].cps });
  // The XDP-native generator tail-calls the pipeline's program itself (or bench_redirect): the
  // attach mode does not change its path, so the generic and TC runs skip it.
  const liveMode = { redirect: 'pipeline', nft: 'pass', pathwise: 'pipeline', generic: undefined, tc: undefined } as const;
  const liveRefused = live.refusal();
  if (liveRefused) console.error(`bench: the balance figures with the XDP-native generator left out: ${liveRefused}`);
  live.setPipeline(dp.pipeline.xdp);
  const direct: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      direct.push(directPps());
      for (const name of ['redirect', 'nft', 'pathwise', 'generic', 'tc'] as const) {
        modes[name].on();
        try {
          rates[name].pps.push(pps());
          // The redirect translates nothing: no connection could reach nginx through it.
          if (name !== 'redirect') rates[name].cps.push(cps(rates[name].cpu));
          const prog = name === 'nft' || name === 'redirect' ? undefined : name === 'tc' ? dp.pipeline.tc : dp.pipeline.xdp;
          if (prog) {
            const o = ownTime(prog);
            rates[name].own.push(o.ns);
            rates[name].runs.push(o.runs);
          }
          if (name === 'redirect' || name === 'nft' || name === 'pathwise') {
            const l = loop.run(LOOP_SECONDS);
            rates[name].loop.push(l.delivered / l.seconds);
          }
          const lm = liveMode[name];
          if (!lm || liveRefused) continue;
          const l = livePps(lm);
          rates[name].live.push(l.delivered / l.seconds);
          // Delivered at all means translated: the router has no route to the VIP itself.
          rates[name].liveShare.push(l.delivered / LIVE_FRAMES);
        } finally {
          modes[name].off();
        }
      }
    }
  } finally {
    live.setPipeline(undefined);
    dp.close();
    server.kill('SIGTERM');
    execFileSync('rm', ['-rf', `/tmp/${topo.prefix}-lb-nginx`]);
    sink.close();
    loop.close();
    execFileSync('rm', ['-f', pcap]);
  }
  return {
    directPps: median(direct),
    redirectPps: median(rates.redirect.pps),
    pathwisePps: median(rates.pathwise.pps),
    nftPps: median(rates.nft.pps),
    pathwiseCps: median(rates.pathwise.cps),
    nftCps: median(rates.nft.cps),
    generic: { pps: median(rates.generic.pps), cps: median(rates.generic.cps) },
    tc: { pps: median(rates.tc.pps), cps: median(rates.tc.cps) },
    cpuUsPerConnection: {
      pathwise: median(rates.pathwise.cpu),
      generic: median(rates.generic.cpu),
      nft: median(rates.nft.cpu),
      tc: median(rates.tc.cpu),
    },
    ownNs: {
      pathwise: median(rates.pathwise.own),
      generic: median(rates.generic.own),
      tc: median(rates.tc.own),
      runsPerConnection: median(rates.pathwise.runs),
    },
    frames: 1024 * LOOPS,
    connections: CONNECTIONS,
    rounds: ROUNDS,
    perRound: { nft: ofRounds('nft'), pathwise: ofRounds('pathwise'), generic: ofRounds('generic'), tc: ofRounds('tc') },
    loop: {
      pathwisePps: median(rates.pathwise.loop),
      nftPps: median(rates.nft.loop),
      redirectPps: median(rates.redirect.loop),
      seconds: LOOP_SECONDS,
      perRound: { pathwise: rates.pathwise.loop, nft: rates.nft.loop },
    },
    ...(liveRefused
      ? { liveRefused }
      : {
          live: {
            pathwisePps: median(rates.pathwise.live),
            nftPps: median(rates.nft.live),
            frames: LIVE_FRAMES,
            pathwiseDelivered: median(rates.pathwise.liveShare),
            nftDelivered: median(rates.nft.liveShare),
            redirectPps: median(rates.redirect.live),
          },
        }),
  };
}

/**
 * The client — router — backend lab on veth: namespaces g (client 10.251.11.2), r (the router,
 * 10.251.11.1 and 10.251.12.1; what is measured attaches to its r0 and r1) and b (the backend,
 * 10.251.12.2), routes through r, GRO on the ends (veth NAPI, so a native redirect reaches
 * them), and r's neighbours permanent.
 */
export function lbLab(topo: Topology): { g: string; r: string; b: string; mac: (ns: string, dev: string) => string } {
  const g = topo.addNamespace('LG');
  const r = topo.addNamespace('LR');
  const b = topo.addNamespace('LB');
  topo.addVeth({ ns: g, name: 'g0', addr: '10.251.11.2/24' }, { ns: r, name: 'r0', addr: '10.251.11.1/24' });
  topo.addVeth({ ns: r, name: 'r1', addr: '10.251.12.1/24' }, { ns: b, name: 'b0', addr: '10.251.12.2/24' });
  topo.exec(g, 'ip', ['route', 'add', 'default', 'via', '10.251.11.1']);
  topo.exec(b, 'ip', ['route', 'add', 'default', 'via', '10.251.12.1']);
  for (const [n, i] of [
    [g, 'g0'],
    [b, 'b0'],
  ] as const)
    topo.exec(n, 'ethtool', ['-K', topo.name(i), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  const mac = (n: string, i: string) => JSON.parse(topo.exec(n, 'ip', ['-j', 'link', 'show', topo.name(i)]))[0].address as string;
  topo.exec(r, 'ip', ['neigh', 'replace', '10.251.12.2', 'lladdr', mac(b, 'b0'), 'dev', topo.name('r1'), 'nud', 'permanent']);
  topo.exec(r, 'ip', ['neigh', 'replace', '10.251.11.2', 'lladdr', mac(g, 'g0'), 'dev', topo.name('r0'), 'nud', 'permanent']);
  return { g, r, b, mac };
}

export const LAB_CONNECTIONS = 20_000;
/** The lab's service: the VIP's port 80 to the backend's nginx on 8080, NAT. */
export const labService = () => service('web', 'nat', ['10.251.12.2:8080']);
/** The lab's UDP service, for the flows of writeLabFlows: the VIP's port 5678 to the backend's. */
export const labUdpService = () => service('udp', 'nat', ['10.251.12.2:5678'], `${VIP}:5678/udp`);

/**
 * A capture of 1,024 UDP flows (source ports 1024-2047) from the lab's client to the UDP
 * service (or to `dst`, e.g. the backend itself for plain forwarding), one frame each,
 * addressed to the router's MAC: what tcpreplay loops in the packet runs. Returns its path
 * (under /tmp, named after the topology: the caller removes it).
 */
export function writeLabFlows(topo: Topology, g: string, r: string, mac: (ns: string, dev: string) => string, dst = VIP): string {
  const macBytes = (m: string) => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
  const pcap = `/tmp/${topo.prefix}-lb-flows.pcap`;
  writeCapture(
    pcap,
    Array.from({ length: 1024 }, (_, i) => ({
      data: ipv4Packet({
        src: '10.251.11.2',
        dst,
        proto: 'udp',
        sport: 1024 + i,
        dport: 5678,
        payload: new Uint8Array(18),
        dstMac: macBytes(mac(r, 'r0')),
        srcMac: macBytes(mac(g, 'g0')),
      }),
    })),
  );
  return pcap;
}

/** The port bench_redirect sends every frame to: interface `dev` of namespace `ns`. A devmap
 * takes its ifindex in the writer's namespace, so it is written inside `ns`. */
export function setRedirectPort(topo: Topology, bench: BpfObject, ns: string, dev: string): void {
  inNetns(ns, () => {
    const ports = bench.map(benchAbi.maps.bench_fwd_ports);
    try {
      ports.set(0, resolveIfindex(topo.name(dev)));
    } finally {
      ports.close();
    }
  });
}

/** What bench_sink has counted (and dropped) on every CPU. `close` releases the map. */
export function sinkCounter(bench: BpfObject): { delivered: () => bigint; close: () => void } {
  const map = bench.perCpuMap(benchAbi.maps.bench_state);
  return { delivered: () => (map.get(1) ?? []).reduce((a, c) => a + c, 0n), close: () => map.close() };
}

/**
 * tcpreplay looping `pcap` at top speed from the lab's client (namespace `g`), `loops` times,
 * with bench_sink attached to interface `dev` of namespace `ns` for the run: the frames it
 * counted per second of the run.
 */
export function replayedPps(
  topo: Topology,
  g: string,
  ns: string,
  dev: string,
  bench: BpfObject,
  sink: ReturnType<typeof sinkCounter>,
  pcap: string,
  loops = 500,
): number {
  return inNetns(ns, () => {
    attachXdp(bench.program('bench_sink'), topo.name(dev), { mode: 'native' });
    try {
      const before = sink.delivered();
      const t = performance.now();
      topo.exec(g, 'tcpreplay', ['-q', '--topspeed', `--loop=${loops}`, '-i', topo.name('g0'), pcap]);
      return Number(sink.delivered() - before) / ((performance.now() - t) / 1000);
    } finally {
      detachXdp(topo.name(dev));
    }
  });
}

/**
 * ab (apache2-utils) from the client against nginx behind the VIP: `n` connections, one request
 * each, 64 at a time (both in C, so the client and server cost less than the path). Its rate,
 * and the VM's busy CPU time per connection (all CPUs, /proc/stat; NaN where it cannot be read).
 */
export function abConnections(topo: Topology, g: string, n = LAB_CONNECTIONS): { rate: number; cpuUs: number } {
  const busyTicks = () => cpuTimes()?.busy ?? NaN;
  const before = busyTicks();
  const out = topo.exec(g, 'ab', ['-q', '-n', String(n), '-c', '64', `http://${VIP}/`]);
  const cpuUs = ((busyTicks() - before) * (1e6 / USER_HZ)) / n;
  const failed = Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const complete = Number(/Complete requests:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  if (failed || complete !== n) throw new Error(`ab: ${complete} complete, ${failed} failed:\n${out}`);
  return { rate: Number(/Requests per second:\s+([\d.]+)/.exec(out)![1]), cpuUs };
}

/** `prog`'s own ns per run while `run` makes `n` connections (the BPF run-time statistics on),
 * and its runs per connection. */
export function ownTimeOver(prog: Program, run: () => unknown, n = LAB_CONNECTIONS): { ns: number; runs: number } {
  return withBpfStats(() => {
    const a = prog.info();
    run();
    const b = prog.info();
    return { ns: (b.runTimeNs - a.runTimeNs) / (b.runCount - a.runCount), runs: (b.runCount - a.runCount) / n };
  });
}

/**
 * Runs `fn` with the kernel's BPF run-time statistics on (kernel.bpf_stats_enabled), then puts
 * the setting back. Each program run then reads the clock twice more, so only the runs made to
 * read the statistics have them on.
 */
function withBpfStats<T>(fn: () => T): T {
  const path = '/proc/sys/kernel/bpf_stats_enabled';
  const was = readFileSync(path, 'utf8').trim();
  writeFileSync(path, '1');
  try {
    return fn();
  } finally {
    writeFileSync(path, was);
  }
}

/** nginx in a namespace answering every request with `b0`, one connection per request. */
export function startNginx(topo: Topology, ns: string, dir: string) {
  execFileSync('mkdir', ['-p', dir]);
  const conf = `${dir}/nginx.conf`;
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  server { listen 8080 backlog=4096; keepalive_timeout 0; location / { return 200 "b0"; } }
}
`,
  );
  return topo.spawn(ns, 'nginx', ['-e', 'stderr', '-p', dir, '-c', conf]);
}

const f = (x: number, d = 1) => x.toFixed(d);

/** Each mode against nftables of the same round, round by round. */
function perRoundReport(r: NonNullable<BalanceResults['throughput']['perRound']>): string {
  const ratios = (m: 'pathwise' | 'generic' | 'tc', k: 'pps' | 'cps') => r[m][k].map((v, i) => v / r.nft[k][i]!);
  const line = (k: 'pps' | 'cps') =>
    (['pathwise', 'generic', 'tc'] as const)
      .map((m) => {
        const x = ratios(m, k);
        return `${m === 'pathwise' ? 'native XDP' : m === 'generic' ? 'generic XDP' : 'TC'} ${x.map((v) => f(v, 2)).join(', ')} (median ${f(median(x), 2)}, ${x.filter((v) => v >= (k === 'cps' ? 1 : 1.5)).length} of ${x.length} at target)`;
      })
      .join('; ');
  return `Round by round, each mode against nftables in the same round (the VM's speed drifts between
rounds): connections per second ${line('cps')}. Packets per second (tcpreplay) ${line('pps')}.
`;
}

/** The floor of any XDP forwarder on the same path, beside Pathwise and nftables. */
function redirectReport(t: BalanceResults['throughput']): string {
  const floor = t.redirectPps!;
  const live = t.live?.redirectPps;
  const rate = (x: number) => Math.round(x).toLocaleString('en');
  return `The floor of any XDP forwarder on this path, in the same rounds: a program that redirects
each frame to the backend's side unread (\`bench_redirect\`: no parsing, no table, nothing
translated) delivered ${rate(floor)} tcpreplay frames per second, ${f(floor / t.nftPps, 3)}× nftables${
    live
      ? `, and ${rate(live)} of the
XDP-native generator's, ${f(live / t.live!.nftPps, 2)}× nftables`
      : ''
  }. Pathwise delivers ${f((t.pathwisePps / floor) * 100, 0)} % of that floor with tcpreplay${
    live
      ? ` and ${f((t.live!.pathwisePps / live) * 100, 0)} % with the
generator`
      : ''
  }: what is left between them is the pipeline's own work.${
    floor < 1.5 * t.nftPps
      ? ` With tcpreplay, 1.5× nftables is
above what the redirect alone reaches here: the generator's send, veth's copy of each socket
buffer into a page and the backend side's receive cost more than any program can save.`
      : floor < 1.6 * t.nftPps
        ? ` With tcpreplay, 1.5× nftables is
within a few per cent of what the redirect alone reaches here: only a program that costs
next to nothing per packet would meet it.`
        : ''
  }
`;
}

/** The balance figures from the XDP frame loop, round by round. */
function loopReport(l: NonNullable<BalanceResults['throughput']['loop']>): string {
  const rate = (x: number) => Math.round(x).toLocaleString('en');
  const ratios = l.perRound.pathwise.map((v, i) => v / l.perRound.nft[i]!);
  return `With the XDP frame loop (bench/loop-generator.ts, §4c: frames circulate from the client's side
through the router to the backend's side and back, each hop an XDP redirect between veths, so
the router's r0 receives XDP frames as from a NIC and nftables' run alone builds socket
buffers), round by round, Pathwise against nftables of the same round: ${ratios.map((v) => f(v, 2)).join(', ')}
(median ${f(median(ratios), 2)}, ${ratios.filter((v) => v >= 1.5).length} of ${ratios.length} at target). The floor there, \`bench_redirect\` on r0, delivered
${rate(l.redirectPps)} per second, ${f(l.redirectPps / l.nftPps, 2)}× nftables; Pathwise ${f((l.pathwisePps / l.redirectPps) * 100, 0)} % of it. The loop's own hops
(the backend side's count and redirect, the client side's rewrite and redirect) are in every
mode's time per frame, so these ratios understate the forwarders' own difference.
`;
}

/** The same rounds with Pathwise in generic XDP mode and at TC ingress, and the CPU each mode spent per connection. */
function genericReport(t: BalanceResults['throughput']): string {
  const g = t.generic!;
  const c = t.cpuUsPerConnection!;
  const row = (what: string, m: { pps: number; cps: number }) => [
    `| ${what}: packets per second delivered (tcpreplay) | ${Math.round(m.pps).toLocaleString('en')} | ${f(m.pps / t.nftPps, 2)}× | ${f(m.pps / t.pathwisePps, 2)}× |`,
    `| ${what}: HTTP connections per second | ${Math.round(m.cps).toLocaleString('en')} | ${f(m.cps / t.nftCps, 2)}× | ${f(m.cps / t.pathwiseCps, 2)}× |`,
  ];
  const rows = [...row('generic XDP', g), ...(t.tc ? row('TC ingress', t.tc) : [])].join('\n');
  return `The same rounds with Pathwise attached in generic XDP mode on the two veths (\`mode: generic\`:
the program runs on the socket buffer, copied first only when it is cloned, non-linear or
short of XDP's 256 bytes of headroom, and a redirect hands the buffer to the egress veth,
instead of veth copying it into a page and the receiving side building a buffer again)${
    t.tc
      ? `, and
at TC ingress (\`mode: tc\`, since 2026-12-04: the same pipeline built for a socket buffer, which
it changes in place, cloned or not, and hands to the egress veth with bpf_redirect; nothing is
copied but a cloned buffer's headers, as kernel forwarding does)`
      : ''
  }:

| Pathwise | | vs nftables | vs Pathwise, native XDP |
| --- | ---: | ---: | ---: |
${rows}

CPU time per connection, the whole VM's (client, server and router; busy time in /proc/stat over
the ${t.connections.toLocaleString('en')} connections, median of the rounds): Pathwise native ${f(c.pathwise)} µs, generic ${f(c.generic)} µs,${c.tc !== undefined ? ` TC ${f(c.tc)} µs,` : ''}
nftables ${f(c.nft)} µs. The two XDP modes differ in what the receiving side gets: the sink that
counts the tcpreplay frames is an XDP program, which a native redirect hands a frame and a
generic one a socket buffer to copy first (generic ${g.pps < t.pathwisePps ? 'lost' : 'did not lose'} packets per second against
native here); nginx and ab are TCP stacks, which a native redirect makes build a socket buffer
again from the frame (generic ${g.cps > t.pathwiseCps ? 'gained' : 'did not gain'} connections per second against native here).
${
  t.tc
    ? `
Tried at TC ingress and not kept (2026-12-07, AMD VM with the return mitigation): handing each
packet straight to the ingress of the egress veth's peer in the backend's namespace
(bpf_redirect_peer, as Cilium does for its pods' veths) instead of through the egress veth's
transmit and the backlog queue. bench/in-traffic-ab.ts with MODE=tc, 6 alternated rounds: 1.06,
1.03, 1.06, 1.06, 1.00 and 1.05× the connections per second of bpf_redirect. It skips what the
peer would run on the way (its native XDP program, which §7's tcpreplay sink is; the egress
veth's qdisc), so it could only be a setting for container hosts, and 5 % did not make one.
`
    : ''
}
`;
}

export function balanceReport(r: BalanceResults, date?: string): string {
  const p = r.perPacket;
  const t = r.throughput;
  return `
### 7. Load balancing (services: Maglev, tracked connections, NAT and DSR)${date ? ` — measured ${date}` : ''}

Per packet (\`bench/balance.ts\`): the median of ${p.samples.toLocaleString('en')} single BPF_PROG_TEST_RUN runs per row, each on a
fresh copy of the frame (repeated runs would see the frame as the last run left it: translated,
its TTL lower). Single runs carry the test run's own overhead, the same in every row; the empty
program shows it.

| packet through the pipeline | ns | minus the empty program |
| --- | ---: | ---: |
| empty XDP program (XDP_PASS) | ${f(p.emptyNs)} | — |
| forwarded, no service | ${f(p.forwardNs)} | ${f(p.forwardNs - p.emptyNs)} |
| NAT, established connection (tracked, translated, forwarded) | ${f(p.natEstablishedNs)} | ${f(p.natEstablishedNs - p.emptyNs)} |
| NAT, first packet (SYN: the table chooses, connection and reply recorded) | ${f(p.natNewNs)} | ${f(p.natNewNs - p.emptyNs)} |
| DSR, established connection | ${f(p.dsrEstablishedNs)} | ${f(p.dsrEstablishedNs - p.emptyNs)} |

The balance stage on an established NAT connection costs ${f(p.natEstablishedNs - p.forwardNs)} ns over forwarding the same
packet without a service. For context only (another machine, another measure): Katran publishes
~101 ns per packet for its whole XDP program.

Maglev table rebuilt in the control plane (${r.maglev.slots.toLocaleString('en')} slots, ${r.maglev.backends} backends, a different backend
removed each time): median ${f(r.maglev.warmMs, 2)} ms over 30 rebuilds, the first (the JIT still cold) ${f(r.maglev.coldMs, 2)} ms.
The walks that fill the table run in the addon (\`native/src/maglev.cc\`, since 2026-12-03): the same walks in
JavaScript took 1.6-1.7x as long in alternated runs, and 2.5-11 ms in the bench runs before.
Target ≤ 5 ms — ${r.maglev.warmMs <= 5 ? 'met' : '**not met**'}.

Through a router namespace on veth (client — router — backend), ${t.rounds} interleaved rounds, medians:

| | Pathwise (native XDP, NAT) | nftables DNAT (kernel forwarding) | ratio |
| --- | ---: | ---: | ---: |
| packets per second delivered (1,024 UDP flows, ${t.frames.toLocaleString('en')} frames) | ${Math.round(t.pathwisePps).toLocaleString('en')} | ${Math.round(t.nftPps).toLocaleString('en')} | ${f(t.pathwisePps / t.nftPps, 2)}× |
${t.live ? `| packets per second delivered, XDP-native generator on the router's ingress (one UDP flow, ${t.live.frames.toLocaleString('en')} frames; §4b) | ${Math.round(t.live.pathwisePps).toLocaleString('en')} | ${Math.round(t.live.nftPps).toLocaleString('en')} | ${f(t.live.pathwisePps / t.live.nftPps, 2)}× |\n` : ''}${t.loop ? `| packets per second delivered, XDP frame loop into the router's ingress (one UDP flow, ${t.loop.seconds} s a round; §4c) | ${Math.round(t.loop.pathwisePps).toLocaleString('en')} | ${Math.round(t.loop.nftPps).toLocaleString('en')} | ${f(t.loop.pathwisePps / t.loop.nftPps, 2)}× |\n` : ''}| HTTP connections per second (ab → nginx, one request each, 64 at a time, ${t.connections.toLocaleString('en')}) | ${Math.round(t.pathwiseCps).toLocaleString('en')} | ${Math.round(t.nftCps).toLocaleString('en')} | ${f(t.pathwiseCps / t.nftCps, 2)}× |

${t.liveRefused ? `The rows with the XDP-native generator were not measured in this run: ${t.liveRefused}.\n` : ''}${t.generic ? genericReport(t) : ''}${t.live?.pathwiseDelivered !== undefined ? `With the XDP-native generator, the backend's side received ${f(t.live.pathwiseDelivered * 100, 1)} % (Pathwise) and ${f(t.live.nftDelivered! * 100, 1)} % (nftables) of the frames sent: translated, as the router has no route to the VIP itself.\n` : ''}Targets: packets ≥ 1.5× — ${t.pathwisePps >= 1.5 * t.nftPps ? 'met' : '**not met**'} with tcpreplay's frames${t.live ? `, ${t.live.pathwisePps >= 1.5 * t.live.nftPps ? 'met' : '**not met**'} with the XDP-native generator's` : ''}${t.loop ? `, ${t.loop.pathwisePps >= 1.5 * t.loop.nftPps ? 'met' : '**not met**'} with the XDP frame loop's` : ''}; connections ≥ 1.0× — ${t.pathwiseCps >= t.nftCps ? 'met' : '**not met**'}${t.generic ? ` (native XDP); in generic mode, what auto attaches to a veth since 2026-12-04: packets ${t.generic.pps >= 1.5 * t.nftPps ? 'met' : '**not met**'}, connections ${t.generic.cps >= t.nftCps ? 'met' : '**not met**'}` : ''}${t.tc ? `; at TC ingress: packets ${t.tc.pps >= 1.5 * t.nftPps ? 'met' : '**not met**'}, connections ${t.tc.cps >= t.nftCps ? 'met' : '**not met**'}` : ''}.
The ceiling: the generator's frames dropped as they reach the router, ${Math.round(t.directPps).toLocaleString('en')} per second
(Pathwise delivers ${f((t.pathwisePps / t.directPps) * 100, 0)} % of it). On veth both forwarders pay the kernel's receive of
each frame as a socket buffer (§4), and the generator shares the VM's two cores with them.
${t.perRound ? perRoundReport(t.perRound) : ''}${t.redirectPps ? redirectReport(t) : ''}${t.loop ? loopReport(t.loop) : ''}
What the pipeline's own time weighs in these packet runs (bench/in-traffic-ab.ts with
TRAFFIC=udp: native XDP, the same 1,024 flows, 6 alternated rounds, 2026-12-05; the BPF
run-time statistics, which add two clock reads to each run): the pipeline took 510 ns per
packet with everything on, 428 ns without the flow table, 413 ns without flows, guard and
route counters (bench_redirect: 69 ns, the same day). Their delivered rates were 282,390,
286,762 and 279,240 packets per second: ~100 ns less per packet moved the rate by less than
the rounds' spread. Each frame costs the VM ~3.5 µs here, and the pipeline takes a seventh of
that. A line profile of the same traffic put a third of the pipeline's samples on the flow
cache's slot: each flow comes back after the other 1,023 flows' packets, and its slot is out of
the caches by then. Two other layouts of that cache were built and alternated with it (6 rounds each), and
neither was kept: one array indexed by CPU and slot (no per-CPU pointer to load first) took
1.03× the time, and 128-byte slots whose first cache line holds what a packet checks 1.05×.
Nor was loading the slot early, so that its miss would overlap the stages before the flow
stage (2026-12-05, alternated 8 rounds each): loaded right after parsing, 1.038× the time in
routed traffic (TRAFFIC=fwd: the same flows to the backend, no service); loaded before the
route stage, 1.016× routed and 1.020× through the service. The line profile then put the
samples on the early load instead: BPF has no prefetch instruction, and a load that misses
holds up the retirement of everything behind it wherever it sits.

Connections: a profile of ab's run (\`perf record -a\`, once, 2026-12-04, NAT) had the VM 37 % idle
(64 connections at a time are bound by latency, not CPU), the pipeline at 6.7 % of the samples
(the balance stage 3.0 %, half of it the connection table's hash lookup; the flow stage 2.3 %:
every packet of a connection this short goes to the shared flow table, its handshake timed
there) against netfilter's 4.6 % in the nftables run. Only the Pathwise run pays veth's own XDP
work: the copy of each socket buffer into a page (\`skb_pp_cow_data\`), the frame's handover to
the other veth (\`veth_xdp_xmit\`) and a socket buffer built again on the receiving side; the
nftables run has no XDP program on the router. Rounds of the same mode differ by 10-20 %: the
ratio moves around 1 from run to run. On a VM of this class without the "Safe RET"
mitigation (2026-12-05; its kernel isolates its page tables, PTI, on a CPU without PCID, so
each entry into the kernel and each return to a process empties the TLB) native XDP made
0.86× and 0.94× nftables' connections in two runs of 3 rounds, generic 0.92× and 1.02×, TC
1.16× and 0.96×: no mode above 1 in both. A third run there, of 5 rounds each compared with
nftables of its own round (2026-12-05T18:52), put native XDP below nftables in every round
(0.74-0.92×; it spent 124.5 µs of CPU per connection against nftables' 102.0), generic at
0.80-1.13× (2 of 5 rounds at 1 or more; 103.0 µs) and TC at 0.83-1.00×: there native XDP on
veth loses connections by ~15 %, and the other two modes tie with nftables at best. On that VM
a packet out of the caches costs the minimal forwarder about what it costs the pipeline (§3,
single runs after 64 MiB written elsewhere: 1,091 and 1,152 ns), so most of what a
connection's packet costs the pipeline there (below) is likely what any forwarder's lookups
cost in tables out of the caches and the TLB, not its stages. With warm caches and a cold TLB
(single runs with nothing written between them: the caches stay warm, and each run's entry
into the kernel empties the TLB; bench/ab-stages.ts COLD=3000 COLD_MB=0, 2026-12-05 on that
VM): empty program 71 ns, minimal forwarder 361, pipeline 421, the pipeline without flows,
guard and route counters 431 ns. The pipeline's many maps cost 60 ns more than the floor's
few, against the ~290 ns the floor itself pays over the empty program: putting its small maps'
values in fewer pages would save little.
${t.ownNs ? ownTimeReport(t.ownNs, p) : ''}
`;
}

function ownTimeReport(o: NonNullable<BalanceResults['throughput']['ownNs']>, p: BalanceResults['perPacket']): string {
  const ns = (x: number) => Math.round(x).toLocaleString('en');
  return `
The pipeline's own time per packet while ab runs (the kernel's BPF run-time statistics over one
more ab run per mode and round, not counted in the rates above; ${f(o.runsPerConnection, 1)} runs per connection, both
directions): native XDP ${ns(o.pathwise)} ns, generic ${ns(o.generic)} ns, TC ${ns(o.tc)} ns. The same pipeline took
${f(p.natEstablishedNs - p.emptyNs)} ns for an established connection's packet in the single test runs above, and takes tens
of ns in §3's repeated runs on a warm CPU. Between two packets of a connection, ab, nginx and
the kernel's TCP run on the same two cores, and the pipeline finds its maps out of the caches.
A line profile of the generic run (bench/line-profile.ts over ab's run, 2026-12-04, samples
inside the program) put 3-8 % on each of ~15 lines, each the first read of another map's value:
the route, its nexthop group and nexthop, the egress interface, the feature word, the rule
bank, the interface and balance counters, and on a SYN the Maglev slot (6 %). The flow cache's
slot, which each flow of a connection this short takes anew, had 28 %. The same run with the
flow table off (\`pipeline.flows: false\`) alternated with it (bench/in-traffic-ab.ts, which
measures builds or settings this way, 2026-12-04): 0.70× the time per packet over 6 rounds,
and 1,134-1,322 ns against 1,636-2,092 ns over 5 rounds in a first run. What this test
measures of the pipeline is the memory a packet touches, more than the instructions it runs.
The profile's shares do not come off one line at a time, though: a build whose guard skipped
the rule bank's entry when the bank held no rule (one of the lines above, 4-6 %) ran at 0.99×
the other's time per packet, alternated over 8 rounds (the same day); it was left out. The flow
stage, with its own table's lines and the handshake's clock reads, is where a change shows. Its
per-CPU cache neither clearly pays nor costs here: a build sending every packet to the shared
flow table instead took 1.17×, 1.05× and 0.96× the time per packet in three alternated runs
(8, 3 and 8 rounds, the same day).
`;
}
