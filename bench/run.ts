/**
 * `make bench`: Pathwise side by side with its baselines, in one run, as ratios. Writes
 * bench/results/<date>.json and the table in BENCHMARKS.md.
 *
 *  1. FIB lookup on random destinations from the full IPv4 table (and from a 10-route table),
 *     beside the kernel's BPF LPM trie holding the same table and bpf_fib_lookup on the same
 *     table in the kernel's FIB.
 *  2. Installing the full IPv4 table from a file, beside `ip -batch` into a namespace.
 *  3. The full pipeline per packet (parse + 1,000 rules + route + accounting) beside an empty
 *     XDP program; and 10 vs 10,000 rules.
 *  4. Forwarding: tcpreplay's frames into a router namespace, delivered to a sink, then XDP
 *     live frames on the router's ingress (4b) and the XDP frame loop (4c,
 *     bench/loop-generator.ts); Pathwise beside the kernel's own forwarding on the same topology.
 */
import { execFileSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { BpfObject, attachXdp, detachXdp, inNetns, libraryVersions, resolveIfindex, xdpMd } from '../src/kernel/index.js';
import * as benchAbi from './generated/bench.js';
import { repoRoot } from '../src/util/paths.js';
import { Dataplane } from '../src/dataplane/dataplane.js';
import { Pipeline } from '../src/dataplane/pipeline.js';
import type { PipelineSettings } from '../src/dataplane/pipeline-object.js';
import { ROOT_BITS } from '../src/routing/fib6-table.js';
import { loadBenchOnFib, randomDestinations4, randomDestinations6, realTable } from './fib-lookups.js';
import { parseRouteFile, parseRouteTokens } from '../src/routing/route-syntax.js';
import { KernelRouteView, RT_TABLES } from '../src/routing/kernel-routes.js';
import { readKernelRoutes, syncImportedRoutes } from '../src/dataplane/route-importer.js';
import { formatIpv4, parsePrefix } from '../src/util/ip.js';
import { writeCapture } from '../src/kernel/pcap.js';
import { ipv4Packet } from '../test/helpers/packets.js';
import { Topology } from '../test/helpers/topology.js';
import { insightBench, type InsightResults } from './insight.js';
import { pathsBench, pathsReport, type PathResults } from './paths.js';
import { birdBench, birdReport, pctl, type BirdResults } from './bird.js';
import { routeListBench, routeListReport, type RouteListResults } from './route-list.js';
import { balanceBench, balanceReport, setRedirectPort, type BalanceResults } from './balance.js';
import { flowDaemonBench, flowDaemonReport, type FlowDaemonResults } from './flow-daemon.js';
import { gatewayBench, gatewayReport, type GatewayResults } from './gateway.js';
import { verifierBudget, verifierReport, type VerifierBudget } from './verifier.js';
import { LiveGenerator, type LiveRun } from './live-frames.js';
import { LoopGenerator } from './loop-generator.js';
import { cpuTimes } from './cpu-times.js';
import {
  alternate,
  BENCH_OBJECT,
  benchRules,
  median,
  perRound,
  ROUTER_MAC,
  setRouterMac,
  STAGE_VARIANTS,
  testRun,
} from './pipeline-kit.js';

/** The calls bench_calls makes in a chain (BENCH_CALLS in bench/progs/bench.bpf.c). */
const BENCH_CALLS = 16;
/** Rounds of §1's IPv4 and IPv6 lookups side by side (each round one run of each). */
const FIB_ROUNDS = 51;
/** Rounds of §3's programs side by side (each round one run of 200 repetitions of each). */
const PIPELINE_ROUNDS = 2000;
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** Mean ns per run of `prog`, median of 5 BPF_PROG_TEST_RUN rounds of `repeat` runs. */
function nsPerRun(prog: { testRunSync(o: object): { duration: number } }, data: Buffer, repeat: number, ctx?: Buffer): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) rounds.push(prog.testRunSync({ data, repeat, ...(ctx ? { ctx } : {}) }).duration);
  return median(rounds);
}

const XDP_PASS = 2;
const XDP_REDIRECT = 4;

interface Results {
  machine: {
    kernel: string;
    cpu: string;
    cores: number;
    node: string;
    libbpf: string;
    srso?: string;
    /** Percent of the CPUs' time the hypervisor gave to others during the run (/proc/stat steal). */
    stealPercent?: number;
  };
  date: string;
  fib: {
    full: number;
    fullWarm: number;
    small: number;
    lpmTrie: number;
    kernelFib: number;
    routes: number;
    /** The same IPv6 lookup over 256 destinations only (cache-warm), from 2026-12-04. */
    ipv6Warm?: number;
    /** IPv6 lookup in the pipeline's FIB (the multibit trie from 2026-12-02; an LPM trie before). */
    ipv6: number;
    /** From 2026-12-05 the IPv4 lookups (full table and 10 routes) and the IPv6 lookup run side
     * by side, one run each per round, this many rounds; `full`, `small` and `ipv6` are medians
     * over the rounds, and ipv6VsIpv4 the median of each round's own ratio. Before, each figure
     * came from 5 runs of its own in turn. */
    rounds?: number;
    ipv6VsIpv4?: number;
    /** From 2026-12-05 (after the run that introduced `rounds`), `small` too. */
    smallInRounds?: boolean;
    routes6: number;
    /** The kernel's LPM trie map holding the same IPv6 table. */
    ipv6LpmTrie?: number;
    /** Bits of the IPv6 FIB's first level: 24 from 2026-12-06, 16 before (absent). */
    ipv6Root?: number;
    /** Installing the IPv6 table (route load of the parsed batch), and the nodes it took. */
    install6Seconds?: number;
    ipv6Nodes?: number;
  };
  install: {
    pathwiseSeconds: number;
    parseSeconds: number;
    kernelSeconds: number;
    routes: number;
    /** The whole `pathwise route load FILE` command into a loaded, empty instance (the CLI's
     * start, the file read, parse, install, neighbours settled), from 2026-12-02. */
    commandSeconds?: number;
  };
  /** The same table imported from the kernel's main table (config `import:`), beside the
   * kernel listing it (`ip route show`). */
  import?: { seconds: number; readSeconds: number; resyncSeconds: number; kernelListSeconds: number; routes: number };
  /** 10,000 routes from BIRD withdrawn and announced again: how soon the data plane follows. */
  birdChange?: BirdResults;
  /** pathwise route list --json of the full table, without and with a daemon (from 2026-12-02). */
  routeList?: RouteListResults;
  /** fwdNs (the minimal forwarder) and forwarded: runs from 2026-12-02 on, which measure
   * every repetition on the forwarded path (TTL 255, 200 repetitions per run). */
  pipeline: {
    emptyNs: number;
    fullNs: number;
    rules10Ns: number;
    rules10kNs: number;
    fwdNs?: number;
    forwarded?: boolean;
    /** One BPF call and its return (bench_calls: 16 in a chain, over the empty program), from
     * 2026-12-04: what the return mitigation makes of each of the pipeline's calls. */
    callNs?: number;
    /** The same packet through pipelines with stages turned off (one route). */
    stages?: { label: string; ns: number; vsFloor?: number }[];
    /** From 2026-12-05 all of §3's programs run side by side, one run each per round, this many
     * rounds; the ratios below are medians of each round's own ratio. Before, each program's
     * 1,000 runs came one program after the other. */
    rounds?: number;
    vsFloor?: { empty: number; full: number; rules10: number; rules10k: number };
    rules10kVs10?: number;
    /**
     * A second instance of the 1,000-rule pipeline (the same program, settings, table and
     * rules; maps and JIT image of its own), from 2026-12-06: its median per repetition and the
     * per-round median of its time over the first's. Rows that differ by less than this differ
     * by where each instance lies in memory.
     */
    again?: { ns: number; vsFirst: number };
  };
  /** The verifier's budget (§3b), from 2026-12-07. */
  verifier?: VerifierBudget;
  /** When the verifier's budget was measured, if not with the rest (bench --verifier). */
  verifierDate?: string;
  insight?: InsightResults;
  paths?: PathResults;
  /** When the path section was measured, if not with the rest (bench --paths). */
  pathsDate?: string;
  balance?: BalanceResults;
  /** When the load-balancing section was measured, if not with the rest (bench --balance). */
  balanceDate?: string;
  /** When the insight section was measured, if not with the rest (bench --insight). */
  insightDate?: string;
  gateway?: GatewayResults;
  /** When the gateway section was measured, if not with the rest (bench --gateway). */
  gatewayDate?: string;
  flowDaemon?: FlowDaemonResults;
  /** When the flow-daemon section was measured, if not with the rest (bench --flows). */
  flowDaemonDate?: string;
  forwarding: {
    pathwisePps: number;
    kernelPps: number;
    directPps: number;
    pathwiseNs: number;
    kernelNs: number;
    /** Pathwise in generic XDP mode (auto's choice on a veth), from 2026-12-04. */
    genericPps?: number;
    genericNs?: number;
    /** Pathwise at TC ingress (attach mode tc), from 2026-12-04. */
    tcPps?: number;
    tcNs?: number;
    frames: number;
    /** The XDP-native generator (live frames on the router's ingress), from 2026-12-02. */
    live?: LiveForwarding;
    /** Why `live` is missing: the kernel refused live frames (LiveGenerator.refusal). */
    liveRefused?: string;
    /** The XDP frame loop (bench/loop-generator.ts), from 2026-12-06. */
    loop?: LoopForwarding;
  };
}

async function main(): Promise<void> {
  const topo = new Topology('b');
  const instances: { name: string; ns?: string }[] = [];
  const open = async (name: string, ns?: string, settings = {}) => {
    topo.recordInstance(name);
    instances.push({ name, ns });
    return Dataplane.open(name, settings);
  };
  const cleanup = () => {
    for (const i of instances) {
      try {
        inNetns(i.ns, () => Pipeline.down(i.name));
      } catch {
        // already gone
      }
    }
    topo.destroy();
  };
  try {
    const results = await run(topo, open);
    const file = join(repoRoot, 'bench', 'results', `${results.date.replace(/[:.]/g, '-')}.json`);
    mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    // Rendered from the stored runs: a run --without-paths shows the newest path figures.
    const { r, file: shown } = newestResults(join(repoRoot, 'bench', 'results'));
    const text = report(r, shown) + variation(join(repoRoot, 'bench', 'results'));
    writeFileSync(join(repoRoot, 'BENCHMARKS.md'), text);
    process.stdout.write(text);
  } finally {
    cleanup();
  }
}

async function run(topo: Topology, open: (name: string, ns?: string, settings?: object) => Promise<Dataplane>): Promise<Results> {
  const cpuAtStart = cpuTimes();
  // ---- the table, and a namespace whose kernel holds it too ------------------------------
  const { prefixes, prefixes6 } = realTable();
  const table = prefixes.map((p) => `${p} via 100.64.0.2`).join('\n');
  const ns = topo.addNamespace('K');
  // The gateway 100.64.0.2 is a neighbour on k0 (a permanent entry), not an address here.
  topo.addVeth({ ns, name: 'k0', addr: '100.64.0.1/16' }, { ns, name: 'k1' });
  const routerMac = setRouterMac(topo, ns, 'k0');
  topo.exec(ns, 'ip', ['neigh', 'replace', '100.64.0.2', 'lladdr', ROUTER_MAC, 'dev', topo.name('k0'), 'nud', 'permanent']);
  topo.exec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);

  // 2. Install from a file: the kernel's ip -batch, then Pathwise (parse + install).
  log(`installing ${prefixes.length} IPv4 routes with ip -batch`);
  const batchFile = `/tmp/${topo.prefix}-routes.batch`;
  writeFileSync(batchFile, prefixes.map((p) => `route add ${p} via 100.64.0.2\n`).join(''));
  let t0 = performance.now();
  execFileSync('ip', ['-n', ns, '-batch', batchFile]);
  const kernelSeconds = (performance.now() - t0) / 1000;
  execFileSync('rm', ['-f', batchFile]);

  // The whole command, as an operator runs it, into another instance loaded and empty.
  const cmd = await open(`${topo.prefix}cmd`, ns);
  cmd.close();
  const tableFile = `/tmp/${topo.prefix}-routes.txt`;
  writeFileSync(tableFile, table);
  t0 = performance.now();
  execFileSync(
    join(repoRoot, 'bin', 'pathwise'),
    ['--netns', ns, 'route', 'load', tableFile, '--instance', `${topo.prefix}cmd`, '--json'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const commandSeconds = (performance.now() - t0) / 1000;
  execFileSync('rm', ['-f', tableFile]);
  inNetns(ns, () => Pipeline.down(`${topo.prefix}cmd`));

  const full = await open(`${topo.prefix}full`, ns);
  inNetns(ns, () => full.syncHostRoutes()); // the host's own routes: not part of the table
  log('installing the same routes into Pathwise');
  t0 = performance.now();
  const { batch } = parseRouteFile(table, 'table');
  const parseSeconds = (performance.now() - t0) / 1000;
  inNetns(ns, () => full.loadRoutes(batch));
  const pathwiseSeconds = (performance.now() - t0) / 1000;

  // 2b. The same table imported from the kernel (another instance: the loaded routes would win).
  log('importing the table from the kernel, and listing it with ip route');
  t0 = performance.now();
  const listed = execFileSync('ip', ['-n', ns, '-4', 'route', 'show', 'table', 'main'], { maxBuffer: 1 << 30 });
  const kernelListSeconds = (performance.now() - t0) / 1000;
  const imp = await open(`${topo.prefix}imp`, ns);
  const importFigures = inNetns(ns, () => {
    imp.syncHostRoutes();
    const selectors = [{ table: RT_TABLES.main!, protocols: null, prefixes: null }];
    // As the daemon reads a table (control/route-import.ts), minus its turns of the event loop:
    // in parts, while the addon's thread reads the next ones ahead; sized from the kernel's own
    // count, and for the reconcile at least as the table was.
    const view = new KernelRouteView(selectors);
    const t = performance.now();
    readKernelRoutes(view, 16_384);
    const readSeconds = (performance.now() - t) / 1000;
    const first = syncImportedRoutes(imp, view);
    const seconds = (performance.now() - t) / 1000;
    const t2 = performance.now();
    const again = new KernelRouteView(selectors);
    readKernelRoutes(again, 16_384, view.size);
    syncImportedRoutes(imp, again);
    return { seconds, readSeconds, resyncSeconds: (performance.now() - t2) / 1000, kernelListSeconds, routes: first.added };
  });
  imp.close();
  inNetns(ns, () => Pipeline.down(`${topo.prefix}imp`));
  log(`imported ${importFigures.routes} routes (${listed.length} bytes listed by ip route)`);

  // 2c. Routes from a routing daemon changed 10,000 at a time.
  log('following BIRD: 10,000 routes withdrawn and announced again');
  const birdChange = await birdBench(log);

  // 1. FIB lookups on random destinations inside the table's prefixes.
  const addrs = randomDestinations4(prefixes);
  const fillAddrs = (obj: BpfObject<typeof benchAbi>, distinct = addrs.length) => {
    const m = obj.map(benchAbi.maps.bench_addrs);
    m.updateBatch(addrs.map((_, i) => [i, addrs[i % distinct]!] as [number, number]));
    m.close();
  };
  const benchFull = await loadBenchOnFib(full);
  fillAddrs(benchFull);
  log('filling a BPF LPM trie with the same table');
  const lpm = benchFull.map(benchAbi.maps.bench_lpm_map);
  prefixes.forEach((p, i) => {
    const pre = parsePrefix(p);
    lpm.set({ prefixlen: pre.plen, addr: pre.addr.subarray(0, 4) }, i + 1);
  });
  lpm.close();
  const pkt = ipv4Packet({ dst: '100.64.0.9' });
  const ifK0 = inNetns(ns, () => resolveIfindex(topo.name('k0')));
  const REPEAT = 2000;
  const perLookup = (
    name: 'bench_base' | 'bench_own' | 'bench_lpm' | 'bench_kernel' | 'bench_own6' | 'bench_base6' | 'bench_lpm6',
    obj: BpfObject<typeof benchAbi> = benchFull,
  ) => inNetns(ns, () => nsPerRun(obj.program(name), pkt, REPEAT, xdpMd(pkt.length, ifK0)) / 256);
  // The same lookups against a 10-route table (measured side by side with the full one below).
  const small = await open(`${topo.prefix}small`, ns);
  inNetns(ns, () => {
    for (const p of prefixes.slice(0, 10)) small.addRoute(parseRouteTokens([p, 'via', '100.64.0.2'], () => 'bench'));
  });
  const benchSmall = await loadBenchOnFib(small);
  fillAddrs(benchSmall);
  log('measuring lookups');
  const base = perLookup('bench_base');
  const fib: Results['fib'] = {
    full: 0, // below, side by side with the 10-route table and the IPv6 lookup
    lpmTrie: perLookup('bench_lpm') - base,
    kernelFib: perLookup('bench_kernel') - base,
    small: 0,
    fullWarm: 0,
    routes: prefixes.length,
    ipv6: 0,
    routes6: prefixes6.length,
  };
  // IPv6: the pipeline's multibit trie, loaded with the real IPv6 prefixes, beside the kernel's
  // LPM trie map (the pipeline's IPv6 FIB before) holding the same prefixes.
  log(`installing ${prefixes6.length} IPv6 routes`);
  const { batch: batch6 } = parseRouteFile(prefixes6.map((p) => `${p} dev ${topo.name('k0')}`).join('\n'), 'table6');
  const t6 = performance.now();
  inNetns(ns, () => full.loadRoutes(batch6));
  fib.install6Seconds = (performance.now() - t6) / 1000;
  fib.ipv6Nodes = full.routes.counts.ipv6Nodes;
  fib.ipv6Root = ROOT_BITS;
  {
    const lpm6 = benchFull.map(benchAbi.maps.bench_lpm6_map);
    prefixes6.forEach((p, i) => {
      const pre = parsePrefix(p);
      lpm6.set({ prefixlen: pre.plen, addr: pre.addr }, i + 1);
    });
    lpm6.close();
    const m = benchFull.map(benchAbi.maps.bench_addrs6);
    const entries = randomDestinations6(prefixes6);
    m.updateBatch(entries);
    // Pathwise's IPv4 lookups (full table and 10 routes) and IPv6 lookups side by side, each
    // beside its walk alone: ratios are taken round by round (see alternate in pipeline-kit.ts).
    const lookupRun = (name: 'bench_base' | 'bench_own' | 'bench_base6' | 'bench_own6', obj = benchFull) => {
      const prog = obj.program(name);
      const ctx = xdpMd(pkt.length, ifK0);
      return () => prog.testRunSync({ data: pkt, repeat: REPEAT, ctx }).duration / 256;
    };
    const [b4, o4, b6, o6, bs, os] = inNetns(ns, () =>
      alternate(
        [
          lookupRun('bench_base'),
          lookupRun('bench_own'),
          lookupRun('bench_base6'),
          lookupRun('bench_own6'),
          lookupRun('bench_base', benchSmall),
          lookupRun('bench_own', benchSmall),
        ],
        FIB_ROUNDS,
      ),
    ) as [number[], number[], number[], number[], number[], number[]];
    benchSmall.close();
    fib.full = perRound(FIB_ROUNDS, (r) => o4[r]! - b4[r]!);
    fib.small = perRound(FIB_ROUNDS, (r) => os[r]! - bs[r]!);
    fib.smallInRounds = true;
    fib.ipv6 = perRound(FIB_ROUNDS, (r) => o6[r]! - b6[r]!);
    fib.ipv6VsIpv4 = perRound(FIB_ROUNDS, (r) => (o6[r]! - b6[r]!) / (o4[r]! - b4[r]!));
    fib.rounds = FIB_ROUNDS;
    fib.ipv6LpmTrie = perLookup('bench_lpm6') - median(b6);
    // 256 of the destinations, over and over: the trie's nodes on their paths stay cached.
    m.updateBatch(entries.map(([i]) => [i, entries[i % 256]![1]] as [number, benchAbi.BenchAddr6]));
    m.close();
    fib.ipv6Warm = perLookup('bench_own6') - perLookup('bench_base6');
  }
  // The same table, but only 256 destinations: they stay in the CPU caches, which shows the
  // lookup's own cost apart from memory latency on a 64 MiB table.
  // 2d. Listing the whole table (both families now), without and with a daemon.
  const routeList = await routeListBench(topo, ns, `${topo.prefix}full`, prefixes.length + prefixes6.length, log);
  fillAddrs(benchFull, 256);
  fib.fullWarm = perLookup('bench_own') - perLookup('bench_base');
  benchFull.close();

  // 3. The whole pipeline per packet: parse + 1,000 rules + route (to a resolved nexthop) +
  //    accounting, beside an empty XDP program.
  const setRulesOn = (dp: Dataplane, n: number) => dp.filter.setRules(benchRules(n));
  inNetns(ns, () => {
    full.enableEgress(topo.name('k0')); // an egress port (its MTU recorded), as attach would make it
    full.syncNeighbors();
  });
  // TTL 255: each run forwards the frame REPEAT times in place, lowering its TTL each time, and
  // every repetition still takes the forwarded path (with TTL 64, runs past the 63rd were handed
  // to the kernel as TTL-exceeded: the figures before 2026-12-02 measured mostly that).
  const flowPkt = ipv4Packet({
    src: '100.64.0.7',
    dst: formatIpv4(addrs[0]!),
    proto: 'tcp',
    sport: 40000,
    dport: 443,
    tcpFlags: 0x10,
    ttl: 255,
    dstMac: routerMac, // the router's own, as a forwarded frame arrives
  });
  const trace = inNetns(ns, () => full.trace(flowPkt, ifK0));
  if (trace.verdict !== 2) throw new Error(`the benchmark packet is not forwarded (verdict ${trace.verdict}, reason ${trace.reason})`);
  const ctxK0 = xdpMd(flowPkt.length, ifK0);
  const benchEmpty = await BpfObject.load(BENCH_OBJECT, { spec: benchAbi });
  // The floor: the minimal forwarder over the same tables (pinned maps of the full instance).
  const floor = await loadBenchOnFib(full);
  const fwdPorts = floor.map(benchAbi.maps.bench_fwd_ports);
  fwdPorts.set(ifK0, ifK0);
  fwdPorts.close();
  setRulesOn(full, 1000);
  // 10 and 10,000 rules: two more instances with the full table, as many classifier bitmaps
  // as 10,000 rules need (more than the default), loaded at once so that all run side by side.
  const opened: { dp: Dataplane; name: string }[] = [];
  const withRules = async (name: string, rules: number, settings: Partial<PipelineSettings> = { ruleBitmaps: 32768 }) => {
    const dp = await open(name, ns, settings);
    opened.push({ dp, name });
    inNetns(ns, () => {
      dp.syncHostRoutes();
      dp.loadRoutes(batch);
      dp.enableEgress(topo.name('k0'));
      dp.syncNeighbors();
    });
    setRulesOn(dp, rules);
    return dp;
  };
  const rules10 = await withRules(`${topo.prefix}rules`, 10);
  const rules10k = await withRules(`${topo.prefix}rules10k`, 10_000);
  // The 1,000-rule pipeline again, as `full` was opened: what a second instance of the same
  // program measures (bench/ab-stages.ts PASSES=2 with one object twice: up to ~5 %, lasting).
  const again = await withRules(`${topo.prefix}again`, 1000, {});
  // Where the nanoseconds go: the same packet through pipelines loaded with one stage off
  // each (one route to the destination, 10 rules where the guard runs).
  const stageDps: Dataplane[] = [];
  for (const [i, { settings }] of STAGE_VARIANTS.entries()) {
    const name = `${topo.prefix}st${i}`;
    const dp = await open(name, ns, settings);
    opened.push({ dp, name });
    inNetns(ns, () => {
      dp.syncHostRoutes();
      dp.addRoute(parseRouteTokens([`${formatIpv4(addrs[0]!)}/32`, 'via', '100.64.0.2'], () => 'bench'));
      dp.enableEgress(topo.name('k0'));
      dp.syncNeighbors();
    });
    if (settings.filter !== false) setRulesOn(dp, 10);
    stageDps.push(dp);
  }
  log('measuring the pipeline and its stages, side by side');
  const forwarded = (dp: Dataplane) => testRun(dp.pipeline.xdp, flowPkt, ctxK0, XDP_REDIRECT);
  const runs = inNetns(ns, () =>
    alternate(
      [
        testRun(benchEmpty.program('bench_empty'), flowPkt, ctxK0, XDP_PASS),
        testRun(benchEmpty.program('bench_calls'), flowPkt, ctxK0, XDP_PASS),
        testRun(floor.program('bench_fwd'), flowPkt, ctxK0, XDP_REDIRECT),
        forwarded(full),
        forwarded(rules10),
        forwarded(rules10k),
        forwarded(again),
        ...stageDps.map(forwarded),
      ],
      PIPELINE_ROUNDS,
    ),
  );
  benchEmpty.close();
  floor.close();
  const [emptyRuns, callsRuns, floorRuns, fullRuns, rules10Runs, rules10kRuns, againRuns] = runs as [
    number[],
    number[],
    number[],
    number[],
    number[],
    number[],
    number[],
  ];
  const vsFloor = (xs: number[]) => perRound(PIPELINE_ROUNDS, (r) => xs[r]! / floorRuns[r]!);
  const pipeline: Results['pipeline'] = {
    emptyNs: median(emptyRuns),
    fwdNs: median(floorRuns),
    fullNs: median(fullRuns),
    rules10Ns: median(rules10Runs),
    rules10kNs: median(rules10kRuns),
    forwarded: true,
    callNs: perRound(PIPELINE_ROUNDS, (r) => callsRuns[r]! - emptyRuns[r]!) / BENCH_CALLS,
    rounds: PIPELINE_ROUNDS,
    vsFloor: { empty: vsFloor(emptyRuns), full: vsFloor(fullRuns), rules10: vsFloor(rules10Runs), rules10k: vsFloor(rules10kRuns) },
    rules10kVs10: perRound(PIPELINE_ROUNDS, (r) => rules10kRuns[r]! / rules10Runs[r]!),
    again: { ns: median(againRuns), vsFirst: perRound(PIPELINE_ROUNDS, (r) => againRuns[r]! / fullRuns[r]!) },
  };
  pipeline.stages = STAGE_VARIANTS.map(({ label }, i) => {
    const xs = runs[7 + i]!;
    return { label, ns: median(xs), vsFloor: vsFloor(xs) };
  });
  for (const { dp, name } of opened) {
    dp.close();
    inNetns(ns, () => Pipeline.down(name));
  }
  // 3b. The verifier's budget: instructions and stack of every program, every combination.
  const verifier = await verifierBudget(log);

  // 5. Insight: flow dump, events into TypeScript, accounting and sampling per packet.
  log('measuring insight');
  const insightObj = await BpfObject.load(BENCH_OBJECT, { spec: benchAbi });
  const insight = await insightBench((name, settings) => open(name, undefined, settings), insightObj, topo.prefix, log).finally(() =>
    insightObj.close(),
  );

  // 4. Forwarding: generator -> router -> sink.
  log('measuring forwarding');
  const forwarding = await forwardingBench(topo, open);

  // 7. Load balancing: the balance stage per packet, Maglev rebuilds, against nftables DNAT.
  log('measuring load balancing');
  const balance = await balanceBench(topo, open, BENCH_OBJECT, log);

  // 8. API insight and the gateway loop: the HTTP stage, decisions to drops, observing nginx.
  log('measuring API insight and the gateway loop');
  // (Its own topology: both sections build a router lab, whose namespaces have fixed names.)
  const gatewayTopo = new Topology('g');
  let gateway: GatewayResults;
  try {
    gateway = await gatewayBench(gatewayTopo, open, BENCH_OBJECT, log);
  } finally {
    gatewayTopo.destroy();
  }

  // 9. The daemon over a full flow table: API latency with IPFIX and the detectors walking it.
  log('measuring the daemon over a full flow table');
  const flowTopo = new Topology('f');
  let flowDaemon: FlowDaemonResults;
  try {
    flowDaemon = await flowDaemonBench(flowTopo, log);
  } finally {
    flowTopo.destroy();
  }

  // 6. Paths chosen by measured quality: failover and stability through link emulators.
  // `--without-paths` leaves them to the newest run of their own (make bench-paths: ~15 min).
  let paths: PathResults | undefined;
  if (!process.argv.includes('--without-paths')) {
    log('measuring path selection');
    // (Its own topology too: its lab's router namespace has the forwarding section's name.)
    const pathsTopo = new Topology('p');
    try {
      paths = await pathsBench(pathsTopo, log);
    } finally {
      pathsTopo.destroy();
    }
  }

  return {
    machine: {
      kernel: release(),
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      libbpf: libraryVersions().libbpf,
      srso: srsoStatus(),
      stealPercent: stealPercentSince(cpuAtStart),
    },
    date: new Date().toISOString(),
    fib,
    install: { pathwiseSeconds, parseSeconds, kernelSeconds, routes: prefixes.length, commandSeconds },
    import: importFigures,
    birdChange,
    routeList,
    pipeline,
    verifier,
    forwarding,
    insight,
    paths,
    balance,
    gateway,
    flowDaemon,
  };
}

async function forwardingBench(topo: Topology, open: (name: string, ns?: string) => Promise<Dataplane>): Promise<Results['forwarding']> {
  const g = topo.addNamespace('G');
  const r = topo.addNamespace('R');
  const s = topo.addNamespace('S');
  topo.addVeth({ ns: g, name: 'g0', addr: '10.230.1.2/24' }, { ns: r, name: 'r0', addr: '10.230.1.1/24' });
  topo.addVeth({ ns: r, name: 'r1', addr: '10.230.2.1/24' }, { ns: s, name: 's0', addr: '10.230.2.2/24' });
  const mac = (n: string, i: string) => JSON.parse(topo.exec(n, 'ip', ['-j', 'link', 'show', topo.name(i)]))[0].address as string;
  topo.exec(r, 'ip', ['neigh', 'replace', '10.230.2.2', 'lladdr', mac(s, 's0'), 'dev', topo.name('r1'), 'nud', 'permanent']);
  topo.exec(r, 'ip', ['route', 'add', '10.240.0.0/16', 'via', '10.230.2.2']);

  // The sink counts what arrives with an XDP program, so it costs the same in both runs.
  const bench = await BpfObject.load(BENCH_OBJECT, { spec: benchAbi });
  const sink = bench.perCpuMap(benchAbi.maps.bench_state);
  const delivered = () => (sink.get(1) ?? []).reduce((a, b) => a + b, 0n);
  inNetns(s, () => attachXdp(bench.program('bench_sink'), topo.name('s0'), { mode: 'native' }));

  // The generator: tcpreplay at top speed, 1,024 UDP flows looped, from namespace G.
  const r0mac = Buffer.from(
    mac(r, 'r0')
      .split(':')
      .map((x) => parseInt(x, 16)),
  );
  const g0mac = Buffer.from(
    mac(g, 'g0')
      .split(':')
      .map((x) => parseInt(x, 16)),
  );
  const pcap = `/tmp/${topo.prefix}-flows.pcap`;
  writeCapture(
    pcap,
    Array.from({ length: 1024 }, (_, i) => ({
      data: ipv4Packet({
        src: '10.230.1.2',
        dst: '10.240.0.1',
        proto: 'udp',
        sport: 1024 + i,
        dport: 5678,
        payload: new Uint8Array(18),
        dstMac: r0mac,
        srcMac: g0mac,
      }),
    })),
  );
  const LOOPS = 1000;
  const measure = (): { pps: number } => {
    const before = delivered();
    const t = performance.now();
    topo.exec(g, 'tcpreplay', ['-q', '--topspeed', `--loop=${LOOPS}`, '-i', topo.name('g0'), pcap]);
    const seconds = (performance.now() - t) / 1000;
    return { pps: Number(delivered() - before) / seconds };
  };
  try {
    const dp = await open(`${topo.prefix}fwd`, r);
    inNetns(r, () => {
      dp.syncHostRoutes();
      dp.addRoute(parseRouteTokens(['10.240.0.0/16', 'via', '10.230.2.2'], () => 'bench'));
      dp.syncNeighbors();
    });
    // Three ways through the router, each measured ROUNDS times, interleaved (a VM's speed
    // drifts during a run): the median of each.
    const modes = {
      // The generator and delivery alone: frames dropped on arrival at the router.
      direct: {
        on: () => inNetns(r, () => attachXdp(bench.program('bench_sink'), topo.name('r0'), { mode: 'native' })),
        off: () => inNetns(r, () => detachXdp(topo.name('r0'))),
      },
      kernel: {
        on: () => topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']),
        off: () => topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']),
      },
      // Pathwise, with the kernel's forwarding off.
      pathwise: {
        on: () => inNetns(r, () => dp.attach([topo.name('r0'), topo.name('r1')], 'native')),
        off: () => inNetns(r, () => dp.detach([topo.name('r0'), topo.name('r1')])),
      },
      // What auto attaches to a veth.
      generic: {
        on: () => inNetns(r, () => dp.attach([topo.name('r0'), topo.name('r1')], 'generic')),
        off: () => inNetns(r, () => dp.detach([topo.name('r0'), topo.name('r1')])),
      },
      tc: {
        on: () => inNetns(r, () => dp.attach([topo.name('r0'), topo.name('r1')], 'tc')),
        off: () => inNetns(r, () => dp.detach([topo.name('r0'), topo.name('r1')])),
      },
    };
    const ROUNDS = 3;
    const rates: Record<keyof typeof modes, number[]> = { direct: [], kernel: [], pathwise: [], generic: [], tc: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, m] of Object.entries(modes) as [keyof typeof modes, (typeof modes)['direct']][]) {
        m.on();
        try {
          rates[name].push(measure().pps);
        } finally {
          m.off();
        }
      }
    }
    const directPps = median(rates.direct);
    const kernelPps = median(rates.kernel);
    const pathwisePps = median(rates.pathwise);
    // The XDP-native generators' frame: one flow of the tcpreplay capture's kind.
    const xdpNativeFrame = ipv4Packet({
      src: '10.230.1.2',
      dst: '10.240.0.1',
      proto: 'udp',
      sport: 1024,
      dport: 5678,
      payload: new Uint8Array(18),
      dstMac: r0mac,
      srcMac: g0mac,
    });
    const live = liveForwarding(topo, { r, bench, dp, delivered, frame: xdpNativeFrame, median });
    if (typeof live === 'string') console.error(`bench: §4b left out: ${live}`);
    const loop = loopForwarding(topo, { g, r, s, bench, dp, delivered, frame: xdpNativeFrame, median });
    dp.close();
    // The generator runs on the same CPU as the forwarding, so a delivered rate is
    // 1 / (generator + delivery + forwarding): the forwarding's own cost per packet is what a
    // run adds over the direct one.
    const costNs = (pps: number) => 1e9 / pps - 1e9 / directPps;
    const genericPps = median(rates.generic);
    const tcPps = median(rates.tc);
    return {
      pathwisePps,
      kernelPps,
      directPps,
      pathwiseNs: costNs(pathwisePps),
      kernelNs: costNs(kernelPps),
      genericPps,
      genericNs: costNs(genericPps),
      tcPps,
      tcNs: costNs(tcPps),
      frames: 1024 * LOOPS,
      ...(typeof live === 'string' ? { liveRefused: live } : { live }),
      loop,
    };
  } finally {
    inNetns(s, () => detachXdp(topo.name('s0')));
    sink.close();
    bench.close();
    execFileSync('rm', ['-f', pcap]);
  }
}

interface LiveForwarding {
  frames: number;
  /** Frames per second the generator alone makes (reset and dropped). */
  generatorPps: number;
  kernelPps: number;
  pathwisePps: number;
  /** Frames that reached the sink, of those sent, per run kind. */
  kernelDelivered: number;
  pathwiseDelivered: number;
}

/**
 * Forwarding fed by the XDP-native generator (bench/live-frames.ts) on the router's ingress
 * interface (r0): into the kernel's stack (kernel forwarding, ip_forward=1) or the pipeline's
 * program (Pathwise attached to r0 and r1, ip_forward=0); both deliver to the same XDP sink.
 * One flow, 60-byte frames. Returns why not when the kernel runs no live frames.
 */
function liveForwarding(
  topo: Topology,
  env: {
    r: string;
    bench: BpfObject<typeof benchAbi>;
    dp: Dataplane;
    delivered: () => bigint;
    /** One UDP flow's 60-byte frame, g0 to the sink's side, addressed to r0 (xdpNativeFrame). */
    frame: Buffer;
    median: (xs: number[]) => number;
  },
): LiveForwarding | string {
  const { r, dp } = env;
  const gen = new LiveGenerator(env.bench, r, topo.name('r0'), env.frame, env.delivered);
  const refused = gen.refusal();
  if (refused) return refused;
  const FRAMES = 2_000_000;
  gen.setPipeline(dp.pipeline.xdp);
  const modes = {
    generator: { on: () => undefined, off: () => undefined, mode: 'drop' as const },
    kernel: {
      on: () => topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']),
      off: () => topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']),
      mode: 'pass' as const,
    },
    pathwise: {
      on: () => inNetns(r, () => dp.attach([topo.name('r0'), topo.name('r1')], 'native')),
      off: () => inNetns(r, () => dp.detach([topo.name('r0'), topo.name('r1')])),
      mode: 'pipeline' as const,
    },
  };
  const runs: Record<keyof typeof modes, LiveRun[]> = { generator: [], kernel: [], pathwise: [] };
  try {
    for (let round = 0; round < 3; round++) {
      for (const [name, m] of Object.entries(modes) as [keyof typeof modes, (typeof modes)['kernel']][]) {
        m.on();
        try {
          runs[name].push(gen.run(m.mode, FRAMES));
        } finally {
          m.off();
        }
      }
    }
  } finally {
    gen.setPipeline(undefined);
  }
  const rate = (name: keyof typeof modes, what: 'sent' | 'delivered') =>
    env.median(runs[name].map((x) => (what === 'sent' ? FRAMES : x.delivered) / x.seconds));
  const share = (name: keyof typeof modes) => env.median(runs[name].map((x) => x.delivered / FRAMES));
  return {
    frames: FRAMES,
    generatorPps: rate('generator', 'sent'),
    kernelPps: rate('kernel', 'delivered'),
    pathwisePps: rate('pathwise', 'delivered'),
    kernelDelivered: share('kernel'),
    pathwiseDelivered: share('pathwise'),
  };
}

const GENERIC_FORWARDING = `
On a veth both XDP modes may copy each socket buffer before the program sees it: veth's native
XDP when the buffer is shared, cloned, non-linear or short of XDP's 256 bytes of headroom
(into a page of its own), generic XDP when it is cloned, non-linear or short of headroom;
kernel forwarding copies none. The sink here is an XDP program, which a
native redirect hands a frame and a generic one a socket buffer. Generic mode gains where the
far side is a TCP/IP stack (§7), and it is the only one of the two that reaches a veth whose
peer runs no NAPI (see the README on veth). The TC row (attach mode \`tc\`, from 2026-12-04) is
the same pipeline at TC ingress: it copies nothing (a cloned buffer's headers excepted) and
hands the buffer to the egress veth, whose peer's XDP sink then copies it as for generic.
`;

function liveReport(l: LiveForwarding): string {
  const n = (x: number) => Math.round(x).toLocaleString('en');
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return `
### 4b. Forwarding fed by an XDP-native generator

${l.frames.toLocaleString('en')} frames of one UDP flow made by BPF_PROG_TEST_RUN in live-frames mode on the
router's ingress interface, as a NIC driver hands frames to XDP (no socket buffer exists
before the forwarder sees the frame; bench/live-frames.ts). The generator writes each frame
again from its template (the live mode reuses its pages as the forwarder left them), then
passes it to the kernel's stack (kernel forwarding) or tail-calls the pipeline's program; both deliver to the same XDP sink. The generator and the
forwarding share one CPU, so rates are 1 / (generator + forwarding + delivery); median of 3
interleaved rounds.

| run | delivered packets/s | delivered of sent | vs kernel |
| --- | ---: | ---: | ---: |
| the generator alone (frames dropped) | ${n(l.generatorPps)} (made) | — | — |
| Pathwise (tail call into the pipeline, XDP redirect to the egress veth) | ${n(l.pathwisePps)} | ${pct(l.pathwiseDelivered)} | ${(l.pathwisePps / l.kernelPps).toFixed(2)}× |
| kernel forwarding (XDP_PASS into the stack, ip_forward=1) | ${n(l.kernelPps)} | ${pct(l.kernelDelivered)} | 1.00× |

Target ≥ 1.2× the kernel — ${l.pathwisePps >= 1.2 * l.kernelPps ? 'met' : '**not met**'} (${(l.pathwisePps / l.kernelPps).toFixed(2)}×).
`;
}

interface LoopForwarding {
  /** Seconds counted per run. */
  seconds: number;
  kernelPps: number;
  pathwisePps: number;
  /** bench_redirect on the router's ingress: the least an XDP forwarder does. */
  redirectPps: number;
  perRound: { kernel: number[]; pathwise: number[]; redirect: number[] };
}

/**
 * Forwarding fed by the XDP frame loop (bench/loop-generator.ts): the frames of one UDP flow
 * circulate from g0 through the router to s0 and back to g0's side, each hop an XDP redirect,
 * so the router's r0 receives XDP frames from its peer as from a NIC on any kernel (live
 * frames need one that allows them). Kernel forwarding, Pathwise, and bench_redirect (r0 to
 * r1, unread) as the floor of any XDP forwarder; 3 interleaved rounds.
 */
function loopForwarding(
  topo: Topology,
  env: {
    g: string;
    r: string;
    s: string;
    bench: BpfObject<typeof benchAbi>;
    dp: Dataplane;
    delivered: () => bigint;
    /** One UDP flow's 60-byte frame, g0 to the sink's side, addressed to r0 (xdpNativeFrame). */
    frame: Buffer;
    median: (xs: number[]) => number;
  },
): LoopForwarding {
  const { g, r, s, bench, dp } = env;
  const loop = new LoopGenerator(
    topo,
    bench,
    { gen: g, genDev: 'g0', router: r, routerDev: 'r0', sink: s, sinkDev: 's0' },
    env.frame,
    env.delivered,
  );
  setRedirectPort(topo, bench, r, 'r1');
  const SECONDS = 2;
  const modes = {
    kernel: {
      on: () => topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']),
      off: () => topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']),
    },
    pathwise: {
      on: () => inNetns(r, () => dp.attach([topo.name('r0'), topo.name('r1')], 'native')),
      off: () => inNetns(r, () => dp.detach([topo.name('r0'), topo.name('r1')])),
    },
    redirect: {
      on: () => inNetns(r, () => attachXdp(bench.program('bench_redirect'), topo.name('r0'), { mode: 'native' })),
      off: () => inNetns(r, () => detachXdp(topo.name('r0'))),
    },
  };
  const perRound: LoopForwarding['perRound'] = { kernel: [], pathwise: [], redirect: [] };
  try {
    for (let round = 0; round < 3; round++) {
      for (const [name, m] of Object.entries(modes) as [keyof typeof modes, (typeof modes)['kernel']][]) {
        m.on();
        try {
          const run = loop.run(SECONDS);
          perRound[name].push(run.delivered / run.seconds);
        } finally {
          m.off();
        }
      }
    }
  } finally {
    loop.close();
  }
  return {
    seconds: SECONDS,
    kernelPps: env.median(perRound.kernel),
    pathwisePps: env.median(perRound.pathwise),
    redirectPps: env.median(perRound.redirect),
    perRound,
  };
}

function loopReport(l: LoopForwarding): string {
  const n = (x: number) => Math.round(x).toLocaleString('en');
  const ratios = l.perRound.pathwise.map((v, i) => v / l.perRound.kernel[i]!);
  return `
### 4c. Forwarding fed by an XDP frame loop

An XDP-native generator that needs no live-frames test runs (bench/loop-generator.ts, from
2026-12-06): 128 frames of one UDP flow circulate for good from the generator's g0 through the
router to the sink's s0 and back. At s0 an XDP program counts each of the loop's frames (the
template's EtherType and protocol: what the router sends of its own is not counted) and
redirects it into a veth pair back to the generator's namespace, where another writes it again from its template
and redirects it into g0, whose peer is the router's r0. Every hop is veth's XDP redirect: r0
receives XDP frames from its peer, as from a NIC, and only kernel forwarding builds socket
buffers (r0 runs GRO for these runs: veth takes redirected frames only on a side running NAPI).
The whole loop runs in one CPU's softirq, so a delivered rate is 1 / (forwarding + the loop's
two hops); ${l.seconds} s counted per run, 3 interleaved rounds, medians.

| run | delivered packets/s | vs kernel |
| --- | ---: | ---: |
| Pathwise (native XDP on r0 and r1) | ${n(l.pathwisePps)} | ${(l.pathwisePps / l.kernelPps).toFixed(2)}× |
| kernel forwarding (ip_forward=1) | ${n(l.kernelPps)} | 1.00× |
| the floor: \`bench_redirect\` on r0, each frame redirected to r1 unread | ${n(l.redirectPps)} | ${(l.redirectPps / l.kernelPps).toFixed(2)}× |

Round by round, Pathwise against the kernel of the same round: ${ratios.map((x) => x.toFixed(2)).join(', ')}.
Target ≥ 1.2× the kernel — ${ratios.every((x) => x >= 1.2) ? 'met in every round' : ratios.some((x) => x >= 1.2) ? '**not met** in every round' : '**not met**'} (median ${(l.pathwisePps / l.kernelPps).toFixed(2)}×).
`;
}

function liveRefusedReport(why: string): string {
  return `
### 4b. Forwarding fed by an XDP-native generator

Not measured in this run: ${why}.
`;
}

function ipv6Report(r: Results): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const fib = r.fib;
  const routesPerSecond = fib.routes6 / fib.install6Seconds!;
  const v6Ratio = fib.ipv6VsIpv4 ?? fib.ipv6 / fib.full;
  return `
### 1b. IPv6 FIB lookup (${fib.routes6.toLocaleString('en')} real IPv6 prefixes)

The same method: 65,536 random addresses inside the IPv6 table's prefixes, 256 per run, the
walk's own cost subtracted. The pipeline's IPv6 FIB is a multibit trie (src/routing/fib6-table.ts):
${
  fib.ipv6Root === 24
    ? `a first level indexed by the first 24 bits (2^24 entries, 64 MiB, as DPDK's rte_lpm6), then a
node of 256 entries per further byte, so a /32 takes two array loads and a /48 four;
${fib.ipv6Nodes!.toLocaleString('en')} nodes below the first level (${f((fib.ipv6Nodes! * 1024) / 2 ** 20)} MiB) hold the table.`
    : `a first level indexed by the first 16 bits, then a node of 256 entries per further byte, so a
/48 takes five array loads; ${fib.ipv6Nodes!.toLocaleString('en')} nodes (${f((fib.ipv6Nodes! * 1024) / 2 ** 20)} MiB) hold the table.`
}

| lookup | ns per lookup | vs the IPv4 lookup (§1) |
| --- | ---: | ---: |
| Pathwise IPv4 DIR-24-8, full IPv4 table (§1) | ${f(fib.full)} | 1.00× |
| Pathwise IPv6 multibit trie | ${f(fib.ipv6)} | ${v6Ratio.toFixed(2)}× |
${fib.ipv6Warm !== undefined ? `| Pathwise IPv6 multibit trie, 256 destinations (cache-warm) | ${f(fib.ipv6Warm)} | ${(fib.ipv6Warm / fib.full).toFixed(2)}× |\n` : ''}| kernel BPF LPM trie map, same IPv6 table (the pipeline's IPv6 FIB before) | ${f(fib.ipv6LpmTrie!)} | ${(fib.ipv6LpmTrie! / fib.full).toFixed(2)}× |

Installing the table (\`route load\` of the parsed routes, the writes to the mmap-ed nodes
included): ${f(fib.install6Seconds!, 2)} s, ${Math.round(routesPerSecond).toLocaleString('en')} routes/s.

Memory makes the time, the walk makes the ratio. A random destination's path crosses nodes
spread over the table's ${f((fib.ipv6Nodes! * 1024) / 2 ** 20)} MiB, one dependent load per level, while the same walk over
destinations whose nodes stay cached costs what the cache-warm row shows; but the caches save
the IPv4 lookup as much. The same lookups over fewer distinct destinations
(\`DISTINCT=N node dist/bench/fib-lookups.js\`: the
first N of the 65,536 walked over and over; one run of 31 rounds each, 2026-12-07, the AMD VM
with the return mitigation):

| distinct destinations | IPv4 ns | IPv6 ns | IPv6 vs IPv4 |
| ---: | ---: | ---: | ---: |
| 65,536 | 6.23 | 35.15 | 5.64× |
| 8,192 | 2.52 | 11.09 | 4.65× |
| 2,048 | 1.23 | 6.38 | 5.09× |
| 512 | 0.95 | 4.99 | 5.27× |
| 128 | 0.87 | 4.35 | 5.03× |

With 128 destinations, whose nodes all stay in the first-level cache, the IPv6 walk still takes
five times the IPv4 lookup: a real table's /48 is four loads, each waiting for the one before
and for the test of whether it found a route, where nearly every IPv4 destination is one load.
Two walks of the same trie were tried that day, built into the bench object over a copy of the
table and measured in the same rounds: the first level and the nodes in one map value of 128
MiB, walked by offsets from one map lookup (instead of a lookup per level, whose key goes
through the stack), 0.88-0.95× the trie's time at every size above (4.4-5.0× the IPv4 lookup);
and that walk without a branch to /48 (BPF has no conditional move: the choice made with
masks, a leaf's further levels reading a cached node), slower than with branches at every size
(6.13 ns for 128 destinations, 31.9 for 65,536). Neither was kept: a tenth off does not come
near 2×, and the single value would change the shape of a map that pinned instances keep
across upgrades. The 24-bit first level (since
2026-12-06; 16 bits before) took one load off every prefix longer than /24: in one session on the
Intel VM, three runs of §1's lookups each (node dist/bench/fib-lookups.js: 101 rounds), 26.4-27.0 ns and
3.04-3.14× the IPv4 lookup, against 29.7-30.6 ns and 3.28-3.42× with the 16-bit first level.
One load less saves ~3.5 ns here, so the 2× target would need about three fewer: a second
16-bit level for the /32s that hold the most longer prefixes (159 of them hold 41 % of the table
at 128 or more each) would take one more off their /48s for 40 MiB, ~1 ns on this mix; not
done. Nor does where the nodes lie matter: allocated in address order (a path's nodes near one
another) instead of shortest prefix first, 27.0-28.1 ns against 27.2-28.2 in three alternated
pairs of runs. Two denser layouts were tried on
2026-12-04, each filled from this trie with the same table and measured beside it in one run
(65,536 random destinations as above, and 256): nodes stored as runs (a 256-bit bitmap of where
the entry changes, the entry found by counting the bits below it; BPF has no popcount
instruction, so the count is arithmetic) took 3.5 MiB and 49 ns, 39 ns cache-warm, where the
trie took 22-37 and 6-9 ns in the same runs; 4-bit strides (16-entry nodes, one cache line each)
took 6.3 MiB and 40 ns, 19 ns cache-warm, where the trie took 21-23 and 6 ns. Neither was kept:
each adds more work per level than the misses it saves.
Two more shapes were tried on 2026-12-07 (the AMD VM with the return mitigation), each built
into the bench object beside the trie and measured with it and the IPv4 lookup in one run of 31
rounds. A hash of the /48 blocks that a prefix longer than /40 covers (611,222 entries, eight to
a 64-byte bucket, 16 MiB), probed first, the trie answering what it lacks: 36.4 ns against the
trie's 32.6 (IPv4 5.9). Its parts in the same run: the bucket's load alone 6.3 ns; two of its
eight entries compared 11.5 ns; all eight 18.6 ns, compared without a branch; the trie's first
level alone 0.7 ns (a real table's /24s are few and stay cached). And the trie walked to /48
with no branch on its entries (a leaf's further levels read a cached node and are discarded),
so that no mispredicted branch throws away the next lookups' loads: 33.4 ns against the trie's
33.9 (IPv4 6.0). What this measure counts is each lookup's dependent misses and the
instructions waiting behind them: the processor overlaps the misses of several lookups only as
far as its window of instructions reaches. A hashed probe that checks what it found already
costs about twice the IPv4 lookup, before it answers the 38 % of destinations it has no entry
for. Neither was kept.

${
  fib.rounds
    ? `The IPv4 and IPv6 lookups ran side by side, one run of each (and of each walk alone) per
round, ${fib.rounds} rounds: the figures are medians over the rounds, and the ratio of the two
families the median of each round's own ratio.

`
    : ''
}Targets: IPv6 lookup ≤ 2× the IPv4 lookup — ${v6Ratio <= 2 ? 'met' : '**not met**'} (${v6Ratio.toFixed(2)}×);
install ≥ 500,000 routes/s — ${routesPerSecond >= 500_000 ? 'met' : '**not met**'}.
`;
}

function pipelineReport(r: Results): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const p = r.pipeline;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  // Since 2026-12-05 the ratios are the medians of each round's own (see Results.pipeline.rounds).
  const vs = p.vsFloor ?? {
    empty: p.emptyNs / p.fwdNs!,
    full: p.fullNs / p.fwdNs!,
    rules10: p.rules10Ns / p.fwdNs!,
    rules10k: p.rules10kNs / p.fwdNs!,
  };
  const x = (n: number) => `${n.toFixed(2)}×`;
  const rules10kVs10 = p.rules10kVs10 ?? p.rules10kNs / p.rules10Ns;
  return `${
    p.rounds
      ? `All the programs of this section (the table below and the stage-by-stage one) ran side by
side: each round, one BPF_PROG_TEST_RUN run of 200 repetitions of each, in turn, ${p.rounds.toLocaleString('en')}
rounds. A figure is the median of its runs, per repetition; a ratio is the median of each round's
own ratio, so that whatever slowed the VM in a round (the host's other guests, the kernel's own
work on one of 2 cores) weighs on both of its terms. Before 2026-12-05 each program's 1,000
runs came one program after the other: in bench/ab-stages.ts's two passes of the stage
variants that way, the same variant took 137 ns in one pass and 199 in the other.`
      : 'Each figure is the median of 1,000 BPF_PROG_TEST_RUN runs of 200 repetitions, per repetition.'
  }
The frame's TTL is 255, so all 200 repetitions (which forward one copy of the frame in place,
lowering its TTL) take the forwarded path, and every run is checked to end in XDP_REDIRECT.
(Runs before 2026-12-02 used TTL 64 and 200,000 repetitions: past the 63rd the frame went to
the kernel as TTL-exceeded, so those figures measured mostly that shorter path.) The floor is
a minimal forwarder over the same tables (bench_fwd in bench/progs/bench.bpf.c: what the
kernel sample xdp_fwd does: parse Ethernet and IPv4, the FIB lookup, route, nexthop group,
nexthop and neighbour, MAC rewrite, TTL and checksum, redirect). Since 2026-12-04 both read
the gateway's MAC from its nexthop, where they hashed a pw_neigh key before (the floor went
from 26-29 ns to 15, the pipeline from ~86 to ~70: runs before that date compare with the
slower floor). Since 2026-12-03 the frame
is addressed to the router's interface and the egress port is enabled as attach enables it, so
the pipeline checks the MAC and reads the recorded MTU as on a live interface (before, the
MAC check did not run and every packet asked the kernel for the egress MTU).

| program | ns per packet | vs minimal forwarder | vs empty XDP |
| --- | ---: | ---: | ---: |
| empty XDP program (XDP_PASS) | ${f(p.emptyNs)} | ${x(vs.empty)} | 1.00× |
| minimal forwarder (the floor) | ${f(p.fwdNs!)} | 1.00× | ${ratio(p.fwdNs!, p.emptyNs)} |
| Pathwise pipeline, 10 rules | ${f(p.rules10Ns)} | ${x(vs.rules10)} | ${ratio(p.rules10Ns, p.emptyNs)} |
| Pathwise pipeline, 1,000 rules | ${f(p.fullNs)} | ${x(vs.full)} | ${ratio(p.fullNs, p.emptyNs)} |
| Pathwise pipeline, 10,000 rules | ${f(p.rules10kNs)} | ${x(vs.rules10k)} | ${ratio(p.rules10kNs, p.emptyNs)} |
${p.again ? `| Pathwise pipeline, 1,000 rules, a second instance (the same program, its own maps) | ${f(p.again.ns)} | — | ${ratio(p.again.ns, p.emptyNs)} |\n` : ''}
Targets: 1,000 rules ≤ 2× the minimal forwarder — ${vs.full <= 2 ? 'met' : '**not met**'} (${x(vs.full)});
≤ 60 ns over the empty program (on a CPU without the return mitigation) — ${p.fullNs - p.emptyNs <= 60 ? 'met' : '**not met**'} (${f(p.fullNs - p.emptyNs)} ns);
10,000 rules within 10% of 10 rules — ${rules10kVs10 <= 1.1 ? 'met' : '**not met**'} (${x(rules10kVs10)}).
${p.again ? sameAgainReport(p.again.vsFirst) : ''}${twoCpusReport()}${p.callNs === undefined ? '' : callsReport(p.callNs, r.machine.srso)}${p.stages ? stagesReport(p.stages, p.fwdNs!) : ''}`;
}

/** What a second instance of the same pipeline says about the rows above. */
function sameAgainReport(vsFirst: number): string {
  return `
The second instance of the 1,000-rule pipeline runs the same program over a copy of the same
tables: it took ${vsFirst.toFixed(3)}× the first's time (the median of each round's ratio). Two instances of
one object differ by where their maps and JIT images lie: bench/ab-stages.ts with one object
given four times (PASSES=2, RULES=1000, 2,000 rounds a pass, 2026-12-06 on the Intel VM)
measured 1.000, 0.957, 1.000 and 0.953× the first instance's time in one pass and 1.000, 0.962,
1.008 and 0.967× in the next: each instance kept its place. Rows of the table above that differ
by about that much may differ by it alone.${
    vsFirst > 1.1
      ? ` This run's second instance was slower than that: something beyond
placement slowed it. Found on 2026-12-06 and not yet
explained: on the Intel VM, with the flow table on, eight instances of one pipeline loaded at once (bench/ab-stages.ts,
OBJS= the same object eight times, RULES=10) took 620-816 ns each, against 104-109 ns with two
loaded; without the flow table (VARIANT=noflows), eight took 107-132 ns. The same experiment on
an AMD VM later that day gave 129-137 ns each with the flow table on.`
      : ''
  }
`;
}

/**
 * The two targets of §3 on the two kinds of CPU this VM class has run on: each is met on one
 * kind and not on the other. Fixed text, whichever run renders it: figures of two stored runs
 * and of bench/ab-stages.ts runs on 2026-12-05, quoted as measured.
 */
function twoCpusReport(): string {
  return `
**Two kinds of AMD CPU, one target met on each.** The VMs of this class have run with and without
the "Safe RET" return mitigation, and each of §3's first two targets is met on one kind only.
With it (run 2026-12-05T05-58-55-696Z): empty program 28 ns, floor 73, the pipeline with 1,000
rules 125: 1.78× the floor, but 97 ns over the empty program. Without it (run
2026-12-05T16-03-48-649Z, the same code): 5, 18 and 56 ns: 51 ns over the empty program, but
3.12× the floor. (The last four runs on such a CPU, on 2026-12-04, before the calls below left
the packet's path, measured 63-66 ns over the empty program and 4.4-5.0× the floor.) Over the
empty program the floor's work went from 45 to 13 ns and the pipeline's from 97 to 51: the CPU
without the mitigation (a call and its return 1.1 ns instead of 7.3; another host, too) sped
the floor's short path up more than the pipeline's, so the ratio grew as the difference shrank.
On the CPU without the mitigation the stage rows below put the pipeline at 2.1-2.2× the floor
with the guard, the flow table and the route counters all off (bench/ab-stages.ts, 300 rounds:
37 ns against 18): the rest of its work (parsing VLAN tags, IPv6 and the L4 header, the MAC and
martian checks, the feature word, the egress MTU check, the interface counters) already costs
what the floor costs twice. Since that run the MAC check reads two words a side instead of six
bytes (pw_frame_for_us): 0.981× and 0.992× the time in two alternated runs of 3,000 rounds each
on that CPU (bench/ab-stages.ts OBJS=; means over the rounds, as the kernel times a run in
whole ns). Out of the caches the two are alike: single runs, each after 64 MiB written elsewhere
(ab-stages COLD=1000 on that CPU: 1,000 runs of each), took 1,091 ns for the floor and 1,152
for the pipeline (1,122 with the guard, the flow table and the route counters off), against 140
for the empty program: a packet whose tables are cold pays for the FIB, route, nexthop and port
lookups that any forwarder makes, and the pipeline's own stages add little to that.

**A third kind, 2026-12-06: neither target met.** Run 2026-12-06T15-26-57-195Z (the data plane of
the two runs above, but for how the trace entry point hands back its record) came from an Intel Xeon VM (kernel 6.18.44-fc-v1300) that reports no "Safe
RET" but returns through the aligned return thunks of its ITS mitigation
(/sys/devices/system/cpu/vulnerabilities/indirect_target_selection); a call and its return
cost 1.4 ns there. Empty program 8 ns, floor 42, the pipeline 90 (1,000 rules), 103 (10,000)
and 107 (10): 2.26-2.57× the floor and 82-99 ns over the empty program. Its stage rows: 81 ns
with the guard, the flow table and the route counters all off, 1.92× the floor. Against the
AMD VM without the mitigation the empty program took 1.6× as long (8 against 5 ns), the floor
2.3× (42 against 18) and the pipeline 1.6× (90 against 56).
`;
}

/** What the CPU's return mitigation makes of the calls on this packet's path. */
function callsReport(callNs: number, srso: string | undefined): string {
  const safeRet = /Safe RET/.test(srso ?? '');
  return `
**Calls.** One BPF call and its return costs ${callNs.toFixed(1)} ns on this CPU (bench_calls: ${BENCH_CALLS} calls
in a chain to a global function, as the stages are called, over the empty program), ${
    safeRet
      ? `several
times what it costs without the "Safe RET" mitigation (see What limits these numbers)`
      : `without the "Safe
RET" mitigation (on a VM with it, 7.3 ns: see What limits these numbers)`
  }. This
packet's path through the pipeline makes one, as the floor does: the redirect (a helper).
Four calls left that path on 2026-12-04 and 2026-12-05, each build alternated with the one
before it on a VM with "Safe RET" (bench/ab-stages.ts, 1,000 rules):
- the coarse clock the flow slot stamps packets with: each CPU keeps the value it read with
  the tick it read it in (bpf/include/pathwise/clock.bpf.h; the tick count is a load the
  verifier inlines) and calls again only when the tick moves. 2,000 rounds: 249 ns before,
  236 after (0.943×).
- the route stage, now inlined into the pipeline. Its rare ends (a nexthop without its
  gateway's MAC, \`fib: kernel\`, an MTU the kernel must check) are functions of their own,
  so that their bpf_fib_lookup() parameters stay out of the pipeline's frame, and the balance
  stage's ICMP-error rewrite is no longer inlined at four call sites: with the route stage's
  frame added, the deepest call chain had passed BPF's 512 bytes of stack. 2,000 rounds:
  164 ns before, 154 after (0.938×).
- the flow stage's common case: a packet of the flow that holds its CPU's cache slot is
  counted there by code inlined into the pipeline, which hashes the key's words without
  building the key (so that neither takes room in the pipeline's frame); a SYN, or a flow
  without its slot, still calls the flow stage. The packet's IPv6 addresses are read as
  64-bit words for it (struct pw_packet aligned to 8 bytes), which also spared the frame the
  address pointers the compiler kept (168 bytes: the chain through the guard takes 496 of
  the 512). 1,500 rounds: 0.964× the time before with 1,000 rules, 0.939× with 10.
- the guard stage, for a packet no blocklist or rule can act on: a check inlined into the
  pipeline (pw_guard_may_act, bpf/include/pathwise/guard.bpf.h) calls the stage unless it can
  tell that the stage would let the packet go on untouched: the family's blocklists are
  empty, the packet is no fragment, and one field leaves no rule (the destination port's
  bitmap, the one protocol every rule names, or, when no rule accepts every source, the
  presence bit of the source's block). The stage still matches every rule; whatever the check
  cannot settle goes to it. 1,500 rounds: 0.860× the time before with 1,000 rules
  (143 → 123 ns), 0.929× with 10.
`;
}

function stagesReport(stages: { label: string; ns: number; vsFloor?: number }[], fwdNs: number): string {
  const all = stages[0]!.ns;
  return `
**Where the time goes.** The same packet through pipelines loaded with a stage turned off (a
pipeline with one route to the destination; the difference from the first row is what that
stage costs this packet):

| pipeline | ns per packet | stage's cost | vs minimal forwarder |
| --- | ---: | ---: | ---: |
${stages.map((s, i) => `| ${s.label} | ${s.ns.toFixed(1)} | ${i === 0 ? '—' : (all - s.ns).toFixed(1)} | ${(s.vsFloor ?? s.ns / fwdNs).toFixed(2)}× |`).join('\n')}
`;
}

/** §3 as runs before 2026-12-02 measured it (kept for rendering stored results). */
function oldPipelineReport(r: Results): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const p = r.pipeline;
  return `These runs used TTL 64 and 200,000 repetitions per run: past the 63rd repetition the frame
went to the kernel as TTL-exceeded, so most of each figure is that shorter path.

| program | ns per packet |
| --- | ---: |
| empty XDP program (XDP_PASS) | ${f(p.emptyNs)} |
| Pathwise pipeline, 1,000 rules | ${f(p.fullNs)} |
| Pathwise pipeline, 10 rules | ${f(p.rules10Ns)} |
| Pathwise pipeline, 10,000 rules | ${f(p.rules10kNs)} |
`;
}

/** The kernel's view of the CPU's speculative-return-overflow mitigation (it moves every ns above). */
function srsoStatus(): string {
  try {
    return readFileSync('/sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Percent of the CPU time since `start` that the hypervisor stole: a VM sharing its host
 * with busy neighbours runs every figure slower, the baselines included. */
function stealPercentSince(start: ReturnType<typeof cpuTimes>): number | undefined {
  const end = cpuTimes();
  if (!start || !end || end.total <= start.total) return undefined;
  return (100 * (end.steal - start.steal)) / (end.total - start.total);
}

/** Min / median / max of the key figures over every run stored in bench/results. */
function variation(dir: string): string {
  const runs: Results[] = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort() // by date: the file names start with it
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Results)
    .filter((r) => r.forwarding?.directPps !== undefined && r.fib?.fullWarm !== undefined);
  const rows: [string, (r: Results) => number, number][] = [
    ['FIB lookup, full table, random destinations (ns)', (r) => r.fib.full, 1],
    ['FIB lookup, 10 routes (ns)', (r) => r.fib.small, 1],
    ['FIB lookup, cache-warm (ns)', (r) => r.fib.fullWarm, 1],
    ['IPv6 FIB lookup, multibit trie (ns)', (r) => (r.fib.ipv6LpmTrie === undefined ? NaN : r.fib.ipv6), 1],
    ['IPv6 / IPv4 FIB lookup', (r) => (r.fib.ipv6LpmTrie === undefined ? NaN : (r.fib.ipv6VsIpv4 ?? r.fib.ipv6 / r.fib.full)), 2],
    ['bpf_fib_lookup / Pathwise FIB', (r) => r.fib.kernelFib / r.fib.full, 1],
    ['full-table install (s)', (r) => r.install.pathwiseSeconds, 2],
    ['ip -batch / Pathwise install', (r) => r.install.kernelSeconds / r.install.pathwiseSeconds, 1],
    [
      'pipeline (1,000 rules) / minimal forwarder',
      (r) => (r.pipeline.forwarded ? (r.pipeline.vsFloor?.full ?? r.pipeline.fullNs / r.pipeline.fwdNs!) : NaN),
      2,
    ],
    ['pipeline (1,000 rules) - empty XDP (ns)', (r) => (r.pipeline.forwarded ? r.pipeline.fullNs - r.pipeline.emptyNs : NaN), 1],
    [
      '10,000 rules / 10 rules',
      (r) => (r.pipeline.forwarded ? (r.pipeline.rules10kVs10 ?? r.pipeline.rules10kNs / r.pipeline.rules10Ns) : NaN),
      2,
    ],
    ['forwarding cost, kernel / Pathwise', (r) => r.forwarding.kernelNs / r.forwarding.pathwiseNs, 2],
    ['delivered rate, Pathwise / kernel', (r) => r.forwarding.pathwisePps / r.forwarding.kernelPps, 2],
    [
      'delivered rate, XDP-native generator, Pathwise / kernel',
      (r) => (r.forwarding.live ? r.forwarding.live.pathwisePps / r.forwarding.live.kernelPps : NaN),
      2,
    ],
    [
      'delivered rate, XDP frame loop, Pathwise / kernel',
      (r) => (r.forwarding.loop ? r.forwarding.loop.pathwisePps / r.forwarding.loop.kernelPps : NaN),
      2,
    ],
    // Rows measured since 2026-12-02 or 03: fewer runs hold them (the runs column).
    ['IPv6 install (thousand routes/s)', (r) => (r.fib.install6Seconds ? r.fib.routes6 / r.fib.install6Seconds / 1000 : NaN), 0],
    ['`route load`, whole command (s)', (r) => r.install.commandSeconds ?? NaN, 2],
    ['import from the kernel, read + install (s)', (r) => r.import?.seconds ?? NaN, 2],
    ['BIRD, 10,000 routes withdrawn: p99 (ms)', (r) => (r.birdChange ? pctl(r.birdChange.withdrawMs, 0.99) : NaN), 1],
    ['BIRD, 10,000 routes announced: p99 (ms)', (r) => (r.birdChange ? pctl(r.birdChange.announceMs, 0.99) : NaN), 1],
    ['`route list --json`, pinned maps (s)', (r) => r.routeList?.local.seconds ?? NaN, 2],
    [
      'events delivered into TypeScript (M/s; two producing runs since 2026-12-05, one before)',
      (r) => (r.insight ? r.insight.events.deliveredPerSecond / 1e6 : NaN),
      2,
    ],
    ['events: the reader alone, draining a full ring (M/s)', (r) => (r.insight?.events.readerPerSecond ?? NaN) / 1e6, 2],
    ['Maglev rebuild, 65,537 slots (ms)', (r) => r.balance?.maglev.warmMs ?? NaN, 2],
    [
      'balance pps, Pathwise / nftables (tcpreplay)',
      (r) => (r.balance ? r.balance.throughput.pathwisePps / r.balance.throughput.nftPps : NaN),
      2,
    ],
    [
      'balance pps, Pathwise / nftables (XDP-native generator)',
      (r) => (r.balance?.throughput.live ? r.balance.throughput.live.pathwisePps / r.balance.throughput.live.nftPps : NaN),
      2,
    ],
    [
      'balance pps, Pathwise / nftables (XDP frame loop)',
      (r) => (r.balance?.throughput.loop ? r.balance.throughput.loop.pathwisePps / r.balance.throughput.loop.nftPps : NaN),
      2,
    ],
    [
      'connections per second, Pathwise / nftables',
      (r) => (r.balance ? r.balance.throughput.pathwiseCps / r.balance.throughput.nftCps : NaN),
      2,
    ],
  ];
  const lines = [
    '',
    `## Variation across runs (${runs.length} run${runs.length === 1 ? '' : 's'} in bench/results)`,
    '',
    'This is a shared 2-core VM: the same measurement moves between runs, so no single run',
    "above should be read alone. The runs span the code's history: a row the code changed",
    '(installs, `route load`, import, Maglev, the IPv6 FIB) moved with it, so the last five',
    'runs show what the code of today varies by.',
    '',
    '| figure | runs | min | median | max | last 5 runs: min | median | max |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, pick, d] of rows) {
    const byDate = runs.map(pick).filter(Number.isFinite);
    if (!byDate.length) continue;
    const xs = [...byDate].sort((a, b) => a - b);
    const last = byDate.slice(-5).sort((a, b) => a - b);
    const mmm = (v: number[]) => `${v[0]!.toFixed(d)} | ${median(v).toFixed(d)} | ${v.at(-1)!.toFixed(d)}`;
    lines.push(`| ${name} | ${xs.length} | ${mmm(xs)} | ${mmm(last)} |`);
  }
  return `${lines.join('\n')}\n`;
}

function report(r: Results, file: string): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const ratio = (a: number, b: number) => `${f(a / b, 2)}×`;
  const check = (ok: boolean) => (ok ? 'met' : '**not met**');
  return `# Benchmarks

Measured by \`make bench\` (bench/run.ts) on ${r.date.slice(0, 10)}: Linux ${r.machine.kernel}, ${r.machine.cpu}
(${r.machine.cores} cores; return mitigation: ${r.machine.srso ?? 'unknown'}), Node ${r.machine.node}, libbpf ${r.machine.libbpf}.
CPU time stolen by the hypervisor during the run: ${r.machine.stealPercent === undefined ? 'not recorded' : `${r.machine.stealPercent.toFixed(1)} %`}.
Raw numbers: \`${file.replace(`${repoRoot}/`, '')}\`.
Per-packet times come from BPF_PROG_TEST_RUN (the kernel's own timing of repeated runs; median
of 5 rounds). Every comparison below ran side by side in the same run.

## 1. FIB lookup, random destinations (${r.fib.routes.toLocaleString('en')} IPv4 prefixes)

Each program looks up 256 destinations per run, drawn from 65,536 random addresses inside the
table's prefixes; the cost of walking the addresses alone is subtracted.${
    r.fib.rounds
      ? ` Pathwise's lookup in the full
table${r.fib.smallInRounds ? ', the one in the 10-route table' : ''} and the IPv6 lookup of §1b ran side by side, one run of each
and of each walk alone per round, ${r.fib.rounds} rounds; their figures are medians over the rounds.`
      : ''
  }

| lookup | ns per lookup | vs Pathwise |
| --- | ---: | ---: |
| Pathwise DIR-24-8, full table | ${f(r.fib.full)} | 1.00× |
| Pathwise DIR-24-8, 10 routes | ${f(r.fib.small)} | ${ratio(r.fib.small, r.fib.full)} |
| Pathwise DIR-24-8, full table, 256 destinations (cache-warm) | ${f(r.fib.fullWarm)} | ${ratio(r.fib.fullWarm, r.fib.full)} |
| kernel BPF LPM trie map, same table | ${f(r.fib.lpmTrie)} | ${ratio(r.fib.lpmTrie, r.fib.full)} |
| bpf_fib_lookup, same table in the kernel FIB | ${f(r.fib.kernelFib)} | ${ratio(r.fib.kernelFib, r.fib.full)} |

Targets: ≤ 15 ns above base — ${check(r.fib.full <= 15)} (${f(r.fib.full)} ns); within 10% of the 10-route cost —
${check(r.fib.full <= r.fib.small * 1.1)} (full table ${f(r.fib.full)} ns, 10 routes ${f(r.fib.small)} ns).
${r.fib.ipv6LpmTrie === undefined ? '' : ipv6Report(r)}
## 2. Installing the full IPv4 table from a file

| installer | seconds | vs Pathwise |
| --- | ---: | ---: |
| \`pathwise route load\` (parse ${f(r.install.parseSeconds, 2)} s + install) | ${f(r.install.pathwiseSeconds, 2)} | 1.00× |
${r.install.commandSeconds === undefined ? '' : `| the whole \`pathwise route load FILE\` command (the CLI's start, reading the file, opening the pinned tables, parse, install, neighbours) | ${f(r.install.commandSeconds, 2)} | ${ratio(r.install.commandSeconds, r.install.pathwiseSeconds)} |\n`}| kernel: \`ip -batch\` into a namespace | ${f(r.install.kernelSeconds, 2)} | ${ratio(r.install.kernelSeconds, r.install.pathwiseSeconds)} |

Target ≤ 1 s end to end — ${check((r.install.commandSeconds ?? r.install.pathwiseSeconds) <= 1)}.
${r.import ? importReport(r.import, r.install.kernelSeconds) : ''}${r.birdChange ? birdReport(r.birdChange) : ''}${r.routeList ? routeListReport(r.routeList) : ''}
## 3. The whole pipeline per packet

A TCP packet from a forwarded flow: parse, guard (rules matched against it), route through
the full table to a resolved nexthop, accounting (interface counters, route counters, flow
table), redirect verdict.

${r.pipeline.forwarded ? pipelineReport(r) : oldPipelineReport(r)}${r.verifier ? verifierReport(r.verifier, r.verifierDate) : ''}
## 4. Forwarding

${r.forwarding.frames.toLocaleString('en')} UDP frames (1,024 flows) sent by tcpreplay at top speed from a generator namespace
into a veth, routed by the router namespace to a sink namespace that counts them (with an
XDP program, so the sink costs the same in both runs). Rates are delivered packets over the
generator's run time; the generator shares the machine's ${r.machine.cores} cores with the forwarding.
Each run is measured three times, the kinds interleaved (a VM's speed drifts within a
run), and the median is shown.
(XDP live frames sent from the generator namespace into its veth were tried here first: veth
passed them to the router's stack one NAPI budget per run, which made the kernel look ~100x
worse than it is. tcpreplay sends ordinary frames to both; §4b runs live frames on the
router's own ingress instead, where that limit does not apply. §4c's frame loop does send XDP
frames into the generator's veth, but without end: every NAPI poll on the router's side finds
more, and the kernel forwards at several times tcpreplay's rate there.)

| run | delivered packets/s | forwarding cost per packet | forwarding speed vs kernel |
| --- | ---: | ---: | ---: |
| no forwarding (frames dropped on arrival at the router) | ${Math.round(r.forwarding.directPps).toLocaleString('en')} | — | — |
| Pathwise (native XDP, kernel forwarding off) | ${Math.round(r.forwarding.pathwisePps).toLocaleString('en')} | ${f(r.forwarding.pathwiseNs)} ns | ${ratio(r.forwarding.kernelNs, r.forwarding.pathwiseNs)} |
${r.forwarding.genericPps !== undefined ? `| Pathwise (generic XDP, what auto attaches to a veth) | ${Math.round(r.forwarding.genericPps).toLocaleString('en')} | ${f(r.forwarding.genericNs!)} ns | ${ratio(r.forwarding.kernelNs, r.forwarding.genericNs!)} |\n` : ''}${r.forwarding.tcPps !== undefined ? `| Pathwise (TC ingress, mode tc) | ${Math.round(r.forwarding.tcPps).toLocaleString('en')} | ${f(r.forwarding.tcNs!)} ns | ${ratio(r.forwarding.kernelNs, r.forwarding.tcNs!)} |\n` : ''}| kernel forwarding (ip_forward=1) | ${Math.round(r.forwarding.kernelPps).toLocaleString('en')} | ${f(r.forwarding.kernelNs)} ns | 1.00× |

The forwarding cost is what a run adds per packet over the no-forwarding run (the generator
shares the CPU, so delivered rates alone understate the difference: delivered packets/s,
Pathwise vs kernel, ${ratio(r.forwarding.pathwisePps, r.forwarding.kernelPps)}).
Target ≥ 3× the kernel — ${check(r.forwarding.kernelNs >= 3 * r.forwarding.pathwiseNs)} by forwarding cost, ${check(r.forwarding.pathwisePps >= 3 * r.forwarding.kernelPps)} by delivered rate.
Target ≥ 1.2× the kernel's delivered rate in every run, never below it — ${check(r.forwarding.pathwisePps >= 1.2 * r.forwarding.kernelPps)} in this run (${ratio(r.forwarding.pathwisePps, r.forwarding.kernelPps)}; over the stored runs, the variation table at the end).
${r.forwarding.genericPps !== undefined ? GENERIC_FORWARDING : ''}${r.forwarding.live ? liveReport(r.forwarding.live) : r.forwarding.liveRefused ? liveRefusedReport(r.forwarding.liveRefused) : ''}${r.forwarding.loop ? loopReport(r.forwarding.loop) : ''}
${r.insight ? insightReport(r.insight, r.insightDate) : ''}${r.paths ? pathsReport(r.paths, r.pathsDate) : ''}${r.balance ? balanceReport(r.balance, r.balanceDate) : ''}${r.gateway ? gatewayReport(r.gateway, r.gatewayDate) : ''}${r.flowDaemon ? flowDaemonReport(r.flowDaemon, r.flowDaemonDate) : ''}## What limits these numbers

- **FIB lookup.** Warm, a DIR-24-8 lookup costs ~3 ns. On random destinations nearly every
  lookup misses the CPU caches and the TLB in the 64 MiB first-level table (2^24 entries,
  whatever the number of routes — which is why 10 routes cost the same as 900,000). Real
  traffic concentrates on fewer destinations than a uniform draw over the whole table.
  A compressed first level that fits in a few MiB was built and measured on 2026-12-04 (a /16
  directory, a 256-bit map of runs per /16 and the runs' route ids, Poptrie-like: 5.6 MiB for
  this table; branch experiment/fib4-compact, bench/fib-lookups.ts there). On the VM with
  "Safe RET", alternated in one process, it lost everywhere: 95-113 ns against DIR-24-8's
  33-40 on random destinations, 168 against 115 with each lookup waiting for the last (one
  lookup's latency), 17 against 2.1 warm. Its two dependent reads (the /16's map, then the
  run) each cost about what DIR-24-8's one read into 64 MiB costs there: the 5.6 MiB did not
  stay in a cache the VM could use, and the chain of four loads and a popcount costs ~17 ns
  even warm. DIR-24-8 stays.
- **Install.** Since 2026-12-03 the file's lines are scanned by the addon (native/src/scan.cc:
  prefixes read and lines grouped by nexthop text, each distinct text parsed once in TypeScript;
  0.5-0.6 s → 0.06-0.16 s for 901,899 lines here, in process and in the bench's runs: JavaScript's charCodeAt costs a few ns a
  character). A table in address order skips two sorts (the batch's duplicate check and the
  prefix index, which now merges instead of re-sorting; ~0.25 s), and a prefix of /24 or
  shorter with no route of the table inside it takes its first-level entries with one fill
  instead of an entry-by-entry check (a full table covers ~16M entries; ~0.2 s). IPv6: a batch
  in address order needs no in-batch index and counts its new FIB nodes per level without a set
  (alternated A/B, 3 rounds: 0.87/0.63/0.54 s → 0.56/0.48/0.34 s for 160,147 routes). What is
  left is the per-route work (the record, the index, the FIB entry) in JavaScript. The kernel's
  own install of the same table takes tens of times longer. The VM adds a cost of its own: the
  first write to each page of memory. On the VM of 2026-12-05 (§3's run without "Safe RET"), a
  process's first write to each page of a fresh 64 MiB anonymous mapping took 231-239 ms and
  the second 0.5-3.4 ms; with the mapping populated at mmap (MAP_POPULATE) the first write
  still took 100 ms, and MAP_POPULATE or MADV_POPULATE_WRITE on an mmap-ed BPF array changed
  nothing either (a small C program, two runs of each): each of the 16,384 pages' first write
  pays ~6-14 µs, outside the guest's page tables (as a hypervisor that tracks written pages
  would make it).
  The IPv6 install writes 37.5 MiB of new nodes: 0.29-0.34 s for the 160,147 routes there in
  four runs, 0.18 s in one whose process had first written once to each page of the node array.
- **Pipeline per packet.** The empty program's ${f(r.pipeline.emptyNs)} ns is mostly BPF_PROG_TEST_RUN's own loop;
  the minimal forwarder (§3) is the floor for the same tables. The stage-by-stage rows of §3 say
  where the rest goes: the flow table (since the third session of 2026-12-03 a flow's common
  packet counts in a per-CPU slot, see below; its clock is the coarse one except for new flows
  and handshake stamps, and since 2026-12-04 read with a call once a tick per CPU, §3), the guard
  (the blocklist's LPM lookup; the rules' fields; a bpf_loop walk only when the fields leave a
  rule that can match). Since 2026-12-03 the fields are read one by one, the array lookups
  (protocol, ports, flags, interface) before the addresses, each narrowing the candidate rules
  (their bitmaps' summary words ANDed), and the first that leaves none ends it: the bench's
  packet goes to a port no rule names, and in an alternated A/B the pipeline with 10 rules took
  448 ns instead of 526. The 10,000-rule bank has rules on that port, so its packet still pays
  the source lookup: both got faster, and their ratio grew (1.06× before, 1.22× after, in the
  runs of 2026-12-03; the presence bitmap below spares that lookup since). A CIDR field no rule names is not looked up, and since the second
  session of 2026-12-03 neither is a port, TCP-flags or interface field that no rule names
  (the bank says which: PW_BANK_FLAG_OPEN_SHIFT); the bench's rules name no source port, flags
  or interface, and in an alternated A/B (600 rounds, two copies of each object) the 10,000-rule
  packet took 447-449 ns instead of 475-489, the 1,000-rule one 466-477 instead of 498-499, the
  10-rule one (which stops at the destination port) 406-417 against 401-403. Since 2026-12-02 the
  others are read one of three ways, by
  what they hold: up to 16 prefixes are compared one by one (the LPM trie's walk cost ~70 ns
  for 10 /24s in a profile; in an alternated A/B the pipeline with 10 rules took 509 vs 541
  ns); 64 prefixes or more in at most 4 lengths are looked up by hash once per length (the
  trie's walk grew with the prefixes: 10,000 rules' CIDR lookups cost ~100 ns more than 10
  rules'); the rest stay in the LPM trie), the shared route counters (atomic adds; the
  nexthop counters are per CPU since 2026-12-03, ~15-20 ns less in an alternated A/B), and what the floor does not do (VLAN and IPv6 parsing, the
  capture, balance, HTTP and event checks, interface counters). The locked adds cost less than
  a profile says: perf put ~100 ns of ~430 on the samples after the route counters' and the
  flow's four locked instructions, but with all four made plain (a build for measurement only)
  the packet took 5.5 % less (~18 ns of ~330), measured run by run (bench/ab-stages.js with
  OBJS: the objects loaded at once, one run of each in turn, 1,500 rounds). The samples carry
  the wait for the stores before each locked instruction, which the packet pays anyway. A
  flow counted by the CPU that created it with plain adds, by others with atomic ones into a
  second pair of fields (no update lost: tested with two CPUs counting one flow at once), saved
  0.4-2.8 % in two such runs, for 24 bytes more per flow (24 MiB at a million flows): built,
  measured and left out. Since the third session of 2026-12-03 the flow stage has a per-CPU
  cache (bpf/include/pathwise/account.bpf.h): 4,096 slots per CPU, indexed by a multiply-xor
  hash of the key, each holding one flow's packets since its last flush. A flow's packet that
  finds its slot counts there with plain adds; SYNs, a handshake still being timed and flows
  without a slot go to pw_flows as before, and take a free slot or one whose flow has been idle
  a second (two busy flows never evict each other, so neither pays a flush per packet). Readers
  run pw_xdp_flush on each CPU first (the kernel runs it and the pipeline with bottom halves
  off, so on one CPU they never interleave), and what they read is exact. Before it, builds for
  measurement only put the flow stage's ~100 ns at ~42 ns for the LRU lookup (its jhash of the
  40-byte key alone was ~8 % of the packet's samples in a profile), ~30 ns for the two locked
  adds and ~8 ns for the rest, beside the call, the key and the histogram; in an alternated A/B
  (2 x 500 rounds) the pipeline with 10 rules took 395-403 ns with the cache against 452-457
  without. What is left of the stage is its call, the key, the slot's hash and compare and the
  coarse clock.
  Since the fourth session of 2026-12-03 (a VM of the same kind without the slow-return
  mitigation: empty program 4-5 ns, floor 28-29 ns), three more changes, each measured
  alternated against a build without it (bench/ab-stages.js with OBJS, 400-500 rounds): a
  CIDR field of more than 16 prefixes has a presence bitmap (a bit per IPv4 /16, or per fold
  of an IPv6 address's top 32 bits; src/filter/presence.ts), read before its lookup, so that
  the 10,000-rule packet, whose source is near none of the rules' /24s, takes the catch-all
  with no hash lookup (10,000 rules 119 → 107-108 ns, 1,000 rules 119 → 107, 10 rules
  101-102 either way); the flow key is written as five 64-bit words made in registers (built
  field by field, its words read back by the slot's hash and compare waited on
  store-to-load forwarding: 102 → 91-92 ns); and a cached flow's packet counts for its
  route's counter in the slot too, so the shared counter's two locked adds come once a flush
  (89 → 86 ns; readers of the route counters flush first, as flow readers do). The profile
  behind them maps perf's samples (-e cpu-clock) to source lines through the program's
  jited line info (BPF_OBJ_GET_INFO_BY_FD: the JIT address of each line), since this perf
  cannot annotate BPF (PROFILE=all node dist/bench/ab-stages.js); what it shows now is spread over dependent loads: the FIB's tbl8 and
  route records, the rule bank behind the live-bank word, the bitmaps' summary words.
  On 2026-12-04 a build with each part of the route stage taken out in turn (measurement
  only, alternated A/B, 500-600 rounds) showed the neighbour lookup at ~18 ns of the packet's
  ~87 (a hash of the 20-byte key, then the bucket's compare; the minimal forwarder paid it
  too), where the martian checks, the ECMP hash and the MTU check cost 1-3 ns each. A gateway
  nexthop now carries its gateway's MAC (pw_nexthops' gw_mac, one 64-bit word the control
  plane rewrites in place from pw_neigh at each change, and the pipeline reads with one load;
  src/dataplane/nexthop-macs.ts): 87 → 71 ns. The same builds put the blocklist's LPM lookup
  on an empty trie at ~7 ns (70 → 63 without it): a blocklist found empty is now marked so
  and skipped, every insert (the pipeline's escalations too) clearing the mark, which is set
  only by compare-and-swap against what was read before the blocklist was found empty
  (src/dataplane/blocklist-listing.ts); with entries, it is looked up as before. And the
  rules' destination port is read before their protocol (a port tells rules apart, a
  protocol rarely): 70 → 67 ns for the bench's packet, to a port no rule names. Stage by
  stage after the three (ab-stages, same VM): all 64, without flows 59-60, without route
  counters 60, without the guard 51-52, without the three 40, minimal forwarder 15, empty 5.
  With the port read first, the 1,000- and 10,000-rule packets (to a port their rules name)
  went on to the protocol and the source field's presence bitmap and catch-all, ~11-14 ns more
  than the 10-rule packet. Since the second session of 2026-12-04, a protocol that every rule
  of a bank names is compared with the packet's, not looked up (its bitmap would hold every
  rule or none: PW_BANK_FLAG_ONE_PROTO), a protocol no rule names is skipped like the other
  open fields, and a CIDR field whose catch-all holds no rule (every rule names a prefix
  there) ends the search at a clear presence bit, or when its prefix list or by-length
  lookups find nothing, without reading the catch-all (PW_BANK_FLAG_EMPTY_ANY_SHIFT). Alternated against
  the same source without the two flags (400 and 300 rounds, the VM ~10 % slower than in the
  run above): 1,000 rules 78 → 74 ns, 10,000 rules 77 → 72, 10 rules 69 → 67. In the make
  bench run after them (2026-12-04T10-37-20-820Z): 10 rules 63, 1,000 rules 68, 10,000 rules 67
  (10,000/10 1.06×, within the target again). Building the by-length lookups' key scratch only
  for the packets that reach them (not for every packet of such a bank) measured 72 against
  72 ns (1,000 rules, 400 rounds) and was left out.
  Since the third session of 2026-12-04 the pipeline reads one word, pw_guard_state.features,
  for its four optional stages (capture, events, balance, HTTP; one byte each, set by each
  stage's control writer before the stage goes on and cleared after it goes off;
  src/dataplane/feature-bytes.ts) instead of each stage's control map: 72 → 69 ns (1,000
  rules, 400 rounds; with the four checks taken out altogether, 68). The live rule bank is a
  word of the same value (the map pw_rule_ctl is gone), and the rule walk's stand-in bitmap
  is the destination port's own instead of bitmap 0 looked up apart: 76 → 74 and −1.4 % in
  alternated runs. How far such figures can be trusted was measured the same day, on builds
  for measurement only: the same object loaded four times in one run gave 71-72 ns each; a
  build with nine instructions added in a branch no packet takes (the code after it shifted by
  ~40 bytes) ran 3 % slower than the one without; six register additions in place of the flow
  histogram's two counter increments cost as much as the increments; and the build without the
  histogram measured 1.4 %, 5.7 % and 8 % faster in three runs. Differences of 2-4 ns between
  two builds can come from where their code lies alone, whatever it does. The make bench run
  before these changes (2026-12-04T10-37-20-820Z) put the 1,000-rule packet at 68 ns (64 over
  the empty program), the two after them (14-06-54-063Z and 14-31-44-704Z, the VM
  slower in the second: its floor 16 ns, its IPv6 lookups 57 ns) at 68 and 71 (63 and 66).
- **IPv6 lookups.** A /48 is four dependent loads since 2026-12-06 (five before, with a first
  level of 2^16 entries; §1b): a first-level entry of 64 MiB, then three levels of nodes
  (37 MiB) that stay out of the caches, each load waiting for the one before. The figure moved
  from 31 to 109 ns between two runs on this VM. The ratio to IPv4 is not the caches': over 128
  destinations that stay in the first-level cache it is still ~5× (§1b, 2026-12-07), the four
  dependent steps against IPv4's one. Four other shapes,
  built from 2026-12-03 on and measured against this trie over the same destinations, were
  no faster:
  - nodes compressed to their runs of equal entries (a 256-bit bitmap of where runs start, bit
    counts per 64-bit word, one value per run; the real table in 3.2 MiB instead of 37.5, most
    nodes one cache line): 146-166 ns per random destination against 93-101 ns, and 68-71
    against 19-31 ns for 128 destinations that stay cached (each build in a process of its
    own, one after the other; the others below ran side by side). Each level reads its bitmap
    before the value it selects and counts bits with no popcount instruction (BPF has none): a
    longer chain of dependent steps in a smaller table;
  - the first level plus hash tables of the /32, /40 and /48 blocks that prefixes cover (each
    prefix expanded into its blocks, 1.37M keys; the trie kept for the few longer than /48),
    the three read at once so that their misses overlap: 124-149 ns against 68-86 ns (20-22
    against 14-16 ns cached). Three random reads into 144 MiB cost more cache and TLB misses
    than the trie's chain, whose upper levels stay cached;
  - a walk with no branch on the entries over its first three or four levels (one that has
    found its route reads on in a cached node, so that no mispredicted exit discards the
    lookups behind it): medians 166 and 268 ns against 170 ns, in a phase where one object
    moved between 110 and 278 ns.
  - shortcuts (2026-12-05, branch experiment/fib6-shortcuts): two hash tables of one cache
    line per bucket (2 MiB, in the last nodes of the trie's array) from an address's first 40
    bits, or else its first 32, to the trie's node below them, so that a /48 costs a bucket
    and one node instead of three levels; the trie kept whole beneath them. Alternated with
    the trie alone over the same table and destinations (41-61 rounds a run, eight runs of
    three builds: both tables, the /40 table alone, both with the second table's bucket asked
    for before the first is read): 0.84-1.23× the trie's time, no build better in every run.
    A destination below a /40 saves one load, but one whose walk ends higher pays a bucket
    more (two when neither table has its key), and those are a third of them; with the
    buckets' hashing and slot compares, the two cancel out.

  They stay out of the tree; the figure is bound by this VM's memory latency. (These were
  measured against the trie with the 2^16-entry first level. The shortcuts were built again on
  2026-12-06 over the 2^24-entry one, on an AMD VM with the return mitigation, the lookup in a
  function of its own so that the verifier took the batch: both tables' buckets read at once,
  the node they name read after; against the trie's walk in the same kind of function, four
  runs of fib-lookups.js one after another, 8.1× and 8.3× the IPv4 lookup against 6.3× and 6.3×.
  Still slower: with a first level that already ends at /24, a shortcut saves a /48 one load of
  three, and the two buckets cost more.)
- **Installs and listings from the CLI.** Past the parse and the install themselves, a whole
  command pays for Node's start and module loading, reading the file, opening the pinned tables
  (the route records read once to rebuild the indexes) and first touches of fresh memory, which
  on this VM cost ~10 us a 4 KiB page (a full table writes ~100 MiB of tables). Since
  2026-12-03 a command imports only its own module (\`pathwise route --help\`: 0.37 → 0.19 s;
  the replay, capture and audit commands' imports pulled in the data plane and SQLite for every
  command), the WebSocket library is imported only when the event stream opens (~0.12 s of
  every command's start before), and opening the tables finds the 16M-entry first level's group pointers with a native
  scan (~0.1 s of JavaScript before). Also since 2026-12-03, a listing writes its rows as bytes
  (src/dataplane/route-json.ts: per route group and origin the fixed parts encoded once, the
  prefix and numbers as ASCII digits) instead of a string per row, built from a dozen pieces
  and flattened when written; and a bulk load gives its routes ids in the file's order, so
  that the next open finds the records of a table loaded in address order nearly sorted and
  merges its prefix index instead of sorting it. \`route list --json\` of the full table, old
  and new CLI alternated 4 rounds: 2.40-2.79 s before, 1.45-1.72 s after. Since the fourth
  session of 2026-12-03 \`route load\` maps its file read-only (src/kernel/file-map.ts) instead
  of reading it into a fresh buffer (17 MiB from the page cache in ~8 ms instead of ~175 ms, a
  separate script alternating the two), and the addon's scan reserves its arrays for every
  line and hands them to JavaScript without a copy (its self time in a profile of the whole
  command: 230 → 146 ms). On this VM the first write to a 4 KiB page through a fresh mapping
  costs ~9 us, whether the memory is the JavaScript heap's or a BPF map's, with no page fault
  the guest sees (a C program: 64 MiB of an mmap-ed BPF array written in ~150 ms, again in
  ~2 ms; read first, ~20 ms; MADV_POPULATE_WRITE and transparent huge pages barely change
  it), so the command's time follows the memory it writes. Since the fifth session of
  2026-12-03 a table in address order is installed in that order (the DIR-24-8 fills and
  record writes walk forward instead of jumping across 64 MiB in length order), from the
  parser's own arrays (no per-route copies or sort keys), with the routes already present
  found by searching the index's few among the file's many; the open finds the valid route
  records natively, takes never-used ids first instead of filling a 2M-entry free list, and
  reads the nexthop groups in reused pages of 512. The same script, this VM: 1.02-1.11 s
  before, 0.81-0.89 s after. What is left: Node's start and module loading (~0.2 s), the
  parse (~0.1 s), opening the tables (~0.1 s: the 16M first-level entries read for group
  pointers, the route records' flags), and the install's writes to ~90 MiB of tables and
  ~10 MiB of per-route arrays.
- **Stages as functions.** The guard stage and the flow stage's slow path are BPF global functions
  (bpf/include/pathwise/stage.bpf.h), so the verifier checks each once: the pipeline with
  filtering and flows went from 910,000 verified instructions (of the 1,000,000 limit) to
  ~180,000 (~75,000 since it is compiled for BPF v3, with 32-bit subregisters and atomics;
  ~304,000 today with balancing, HTTP insight, per-family blocklist walks, the small CIDR
  fields' compare loops and the guard's inline check:
  test/bpf/pipeline-load prints the figure). The price is a call and return per stage called
  (since 2026-12-05 the guard's is skipped for a packet its inline check shows it has nothing
  to do for, §3), which depends on the CPU's return mitigation: this run's machine reports \`spec_rstack_overflow: ${r.machine.srso ?? 'unknown'}\`. Under
  the "Safe RET" mitigation every return is slow (on such a VM the stages cost ~35-80 ns per
  packet); without it they cost little. Calls inside a stage cost the same way: a map lookup
  whose call site the compiler shared between two maps is served by the generic helper (an
  indirect call more, and no inlining for arrays); since 2026-12-02 the interface counters, the
  blocklist and the rules' CIDR lookups have a call site per map again. Two VMs of the same
  kind differ several-fold for this reason alone: compare within a run, never across runs.
- **Forwarding on veth.** The generator's frames arrive as socket buffers; veth converts each
  one for XDP (a copy into a page with headroom), work native XDP on a NIC never does because
  it runs before any socket buffer exists. On veth both forwarders pay most of the kernel's
  receive cost, so the gap is far smaller than on hardware; this VM has no NIC to measure that.
  §4b stands in for one: frames handed to XDP on the router's ingress, as a driver would.
- **Insight.** Reading 1M flows is bounded by the kernel's batch lookup (~0.5 s for ~110 MB of
  keys and values, copied bucket by bucket); the snapshot adds only the page faults of one
  buffer. Events reach TypeScript at the speed of one JavaScript thread: the addon copies each
  drained batch into one buffer and hands the batch over whole (no promise per event), so what
  remains per event is a view and the consumer's own work; the delivered rate is timed to the
  last delivery. The streaming figure comes from two test runs producing at once since
  2026-12-05 (before, one, whose rate bounded the figure at ~2 M/s: the reader then got what
  one core made). The reader shares the two cores with them: what the ring could not hold
  while it waited for a core is lost, and counted by the pipeline. The reader alone, draining
  a full ring, is the reader's own rate. The flow stage costs what its floor costs (above).
`;
}

function importReport(i: NonNullable<Results['import']>, kernelInstall: number): string {
  const f = (n: number) => n.toFixed(2);
  return `
### 2b. Importing the same table from the kernel (config \`import:\`)

The kernel's main table holds the table (installed with \`ip -batch\` above, ${f(kernelInstall)} s); Pathwise
reads it over netlink and installs it, as the daemon does at start: in parts of 16,384 routes,
which the addon's own thread reads and packs ahead while the view takes the parts already read
(the daemon turns the event loop between parts; the figures here are one uninterrupted run).

| step | seconds | vs the kernel listing it |
| --- | ---: | ---: |
| kernel: \`ip -4 route show\` of the table (text, to a pipe) | ${f(i.kernelListSeconds)} | 1.00× |
| Pathwise: read the table (netlink dump into the import view) | ${f(i.readSeconds)} | ${(i.readSeconds / i.kernelListSeconds).toFixed(2)}× |
| Pathwise: read + install ${i.routes.toLocaleString('en')} routes | ${f(i.seconds)} | ${(i.seconds / i.kernelListSeconds).toFixed(2)}× |
| Pathwise: a full re-read with nothing changed (the periodic reconcile) | ${f(i.resyncSeconds)} | ${(i.resyncSeconds / i.kernelListSeconds).toFixed(2)}× |

Target ≤ 2 s — ${i.seconds <= 2 ? 'met' : '**not met**'}. What limits it: the kernel's time to format ~900k netlink
messages (overlapped with the view now), one view entry and one route-table lookup per route in
TypeScript, and the install itself (the same bulk write as \`route load\`, §2). Since
2026-12-03 the sync walks the view's prefixes in the order their routes came (the dump's, by
address) rather than the view's hash order: each prefix's candidates are read front to back
(in hash order, ~0.3 s of cache misses in a profile), and the new routes reach the FIB and the
prefix index sorted (a dump lists one address's longest prefix first: those runs are reversed,
not sorted). In an alternated A/B of read + install (4 rounds each, one process): 1.56-1.89 s
before, 1.12-1.42 s after.
`;
}

function insightReport(i: InsightResults, date?: string): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const ratio = (a: number, b: number) => `${f(a / b, 2)}×`;
  const n = (x: number) => Math.round(x).toLocaleString('en');
  return `## 5. Insight${date ? ` (node dist/bench/run.js --insight, ${date.slice(0, 10)})` : ''}

**Flow dump.** The flow table filled with ${n(i.flowDump.flows)} flows (batch updates), then read whole.

| read | seconds | vs batch |
| --- | ---: | ---: |
| \`FlowSnapshot.read\` (BPF_MAP_LOOKUP_BATCH, 64k per call) | ${f(i.flowDump.batchSeconds, 3)} | 1.00× |
| the same table key by key (get-next-key + lookup) | ${f(i.flowDump.perKeySeconds, 3)} | ${ratio(i.flowDump.perKeySeconds, i.flowDump.batchSeconds)} |
| top 20 by bytes on the snapshot (after the read) | ${f(i.flowDump.topSeconds, 3)} | ${ratio(i.flowDump.topSeconds, i.flowDump.batchSeconds)} |

Target: 1M flows in ≤ 1 s — ${i.flowDump.batchSeconds <= 1 ? 'met' : '**not met**'} (${f(i.flowDump.batchSeconds, 3)} s).

**Events into TypeScript.** The pipeline sends every packet as an event (sampling 1 in 1) while
BPF_PROG_TEST_RUN runs ${n(i.events.produced)} packets off the JS thread${
    i.events.producers === undefined
      ? ''
      : `, ${i.events.producers} runs at a time (each on a thread of its own: events come from both cores, as from a router's CPUs under load, and the reader shares the cores with them)`
  }; a RingBufferReader
consumes them as the daemon's event hub does (4 MiB ring).${
    i.events.producerStages === undefined
      ? ''
      : ` The producing pipeline runs parse, route and the event stage; other stages: ${i.events.producerStages}. With them it
made ~1.7 M events/s on these VMs, fewer than the reader is to show it takes; the reader's work per event is the same.`
  } ${
    i.events.packetBytes === undefined
      ? 'Each event is a 288-byte record.'
      : `The packet is ${i.events.packetBytes} bytes: its event is a ${32 + (i.events.packetBytes <= 64 ? 64 : i.events.packetBytes <= 128 ? 128 : 256)}-byte record
(32 bytes of fields, then 64, 128 or 256 of the packet, by its length), and the ring wakes the
reader each time another 64 KiB wait unread (or on the reader's 5 ms timer, 40 ms while it finds nothing), where before 2026-12-02 every event
was 288 bytes and woke a reader that had kept up. Until 2026-12-07 every event past the first
64 KiB woke the reader again until it came, an irq_work each on the producing CPU: in the last
of five alternated pairs of runs (bench/run.js --insight) the producing runs made 2.87 M events/s
before that change and 4.31 M/s after, and the reader took 2.77 and 2.61 M/s of them (its own
rate: what it cannot take is lost and counted, where before it slowed the producers).`
  }

| | events | per second |
| --- | ---: | ---: |
| produced by the pipeline (test runs) | ${n(i.events.produced)} | ${n(i.events.producedPerSecond)} |
| delivered to TypeScript | ${n(i.events.delivered)} | ${n(i.events.deliveredPerSecond)} |
| lost (ring full), counted by the pipeline | ${n(i.events.lost)} | — |

Delivered + lost = ${n(i.events.delivered + i.events.lost)} of ${n(i.events.produced)} produced.${
    i.events.readerPerSecond === undefined
      ? ''
      : `\nThe reader alone (${i.events.producers === undefined ? 'the rates above are bounded by the producer, test runs on the other core' : 'with nothing producing meanwhile'}): the ring filled while
nobody reads it, then drained at once by a RingBufferReader, 20 times: ${n(i.events.readerEvents!)} events at ${n(i.events.readerPerSecond)} per second.
Target ≥ 2,000,000 per second with loss counted — ${i.events.readerPerSecond >= 2e6 && i.events.deliveredPerSecond >= 2e6 ? 'met' : i.events.readerPerSecond >= 2e6 ? 'met by the reader; the producer of this run made fewer' : '**not met**'}.`
  }

**Cost per packet** of a TCP packet with no route (parse, guard, route lookup, interface
counters, then the insight stages):

| pipeline | ns per packet | vs no flow accounting |
| --- | ---: | ---: |
| flow accounting off (\`pipeline.flows: false\`) | ${f(i.perPacket.noFlowsNs)} | 1.00× |
| flow accounting on, sampling off | ${f(i.perPacket.flowsNs)} | ${ratio(i.perPacket.flowsNs, i.perPacket.noFlowsNs)} |
| flow accounting on, sampling 1 in 100 | ${f(i.perPacket.sample100Ns)} | ${ratio(i.perPacket.sample100Ns, i.perPacket.noFlowsNs)} |
| flow accounting on, sampling 1 in 1 (ring full: a failed reserve per packet) | ${f(i.perPacket.sample1Ns)} | ${ratio(i.perPacket.sample1Ns, i.perPacket.noFlowsNs)} |
${flowFloor(i)}
`;
}

/** The flow stage's cost beside the floor of any flow table, when the run measured it. */
function flowFloor(i: InsightResults): string {
  const { emptyNs, flowFloorNs, flowsNs, noFlowsNs } = i.perPacket;
  if (emptyNs === undefined || flowFloorNs === undefined) return '';
  const f = (n: number) => n.toFixed(1);
  return `
Flow accounting adds ${f(flowsNs - noFlowsNs)} ns per packet. A program doing only what any flow
table must do (one clock read, one LRU hash lookup of a 40-byte 5-tuple key, two atomic adds:
\`bench_flow_floor\`) costs ${f(flowFloorNs)} ns against ${f(emptyNs)} ns for an empty program:
${f(flowFloorNs - emptyNs)} ns of work. Flow stage / that floor: ${f((flowsNs - noFlowsNs) / Math.max(flowFloorNs - emptyNs, 1))}×.
`;
}

/** `--report`: render BENCHMARKS.md again from the newest stored run (no measuring). */
function reportOnly(): void {
  const dir = join(repoRoot, 'bench', 'results');
  const { r, file } = newestResults(dir);
  writeFileSync(join(repoRoot, 'BENCHMARKS.md'), report(r, file) + variation(dir));
}

/** `--insight`: only the insight section (its baselines run beside it), into its own file. */
async function insightOnly(): Promise<void> {
  const topo = new Topology('b');
  const names: string[] = [];
  const bench = await BpfObject.load(BENCH_OBJECT, { spec: benchAbi });
  try {
    const r = await insightBench(
      (name, settings) => {
        topo.recordInstance(name);
        names.push(name);
        return Dataplane.open(name, settings);
      },
      bench,
      topo.prefix,
      log,
    );
    const date = new Date().toISOString();
    const file = join(repoRoot, 'bench', 'results', `insight-${date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ date, machine: { kernel: release(), cpu: cpus()[0]?.model, cores: cpus().length, node: process.version }, insight: r }, null, 2)}\n`,
    );
    process.stdout.write(insightReport(r));
  } finally {
    bench.close();
    for (const n of names) Pipeline.down(n);
    topo.destroy();
  }
}

/** The newest full run, with the newest path section measured on its own (bench --paths) if later. */
function newestResults(dir: string): { r: Results; file: string } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const full = files.filter((f) => !/^(insight|paths|balance|gateway|flowDaemon|verifier)-/.test(f)).at(-1);
  if (!full) throw new Error('no stored runs in bench/results: run make bench');
  const r = JSON.parse(readFileSync(join(dir, full), 'utf8')) as Results;
  const paths = files.filter((f) => f.startsWith('paths-')).at(-1);
  if (paths) {
    const p = JSON.parse(readFileSync(join(dir, paths), 'utf8')) as { date: string; paths: PathResults };
    if (!r.paths || p.date > r.date) Object.assign(r, { paths: p.paths, pathsDate: p.date });
  }
  const balance = files.filter((f) => f.startsWith('balance-')).at(-1);
  if (balance) {
    const b = JSON.parse(readFileSync(join(dir, balance), 'utf8')) as { date: string; balance: BalanceResults };
    if (!r.balance || b.date > r.date) Object.assign(r, { balance: b.balance, balanceDate: b.date });
  }
  const insight = files.filter((f) => f.startsWith('insight-')).at(-1);
  if (insight) {
    const i = JSON.parse(readFileSync(join(dir, insight), 'utf8')) as { date: string; insight: InsightResults };
    if (!r.insight || i.date > r.date) Object.assign(r, { insight: i.insight, insightDate: i.date });
  }
  const gateway = files.filter((f) => f.startsWith('gateway-')).at(-1);
  if (gateway) {
    const g = JSON.parse(readFileSync(join(dir, gateway), 'utf8')) as { date: string; gateway: GatewayResults };
    if (!r.gateway || g.date > r.date) Object.assign(r, { gateway: g.gateway, gatewayDate: g.date });
  }
  const flows = files.filter((f) => f.startsWith('flowDaemon-')).at(-1);
  if (flows) {
    const g = JSON.parse(readFileSync(join(dir, flows), 'utf8')) as { date: string; flowDaemon: FlowDaemonResults };
    if (!r.flowDaemon || g.date > r.date) Object.assign(r, { flowDaemon: g.flowDaemon, flowDaemonDate: g.date });
  }
  const verifier = files.filter((f) => f.startsWith('verifier-')).at(-1);
  if (verifier) {
    const v = JSON.parse(readFileSync(join(dir, verifier), 'utf8')) as { date: string; verifier: VerifierBudget };
    if (!r.verifier || v.date > r.date) Object.assign(r, { verifier: v.verifier, verifierDate: v.date });
  }
  return { r, file: join(dir, full) };
}

/** `--paths`: only the path section, into its own file; BENCHMARKS.md rendered again with it. */
async function pathsOnly(): Promise<void> {
  const dir = join(repoRoot, 'bench', 'results');
  const topo = new Topology('b');
  try {
    const paths = await pathsBench(topo, log);
    const date = new Date().toISOString();
    writeFileSync(
      join(dir, `paths-${date.replace(/[:.]/g, '-')}.json`),
      `${JSON.stringify({ date, machine: { kernel: release(), cpu: cpus()[0]?.model, cores: cpus().length, node: process.version }, paths }, null, 2)}\n`,
    );
    const { r, file } = newestResults(dir);
    writeFileSync(join(repoRoot, 'BENCHMARKS.md'), report(r, file) + variation(dir));
    process.stdout.write(pathsReport(paths));
  } finally {
    topo.destroy();
  }
}

/**
 * One section on its own (`--balance`, `--gateway`): measured into `bench/results/NAME-DATE.json`
 * under `key`, BENCHMARKS.md rendered again with it (newestResults picks it up), and printed.
 */
async function sectionOnly<T>(
  name: string,
  measure: (topo: Topology, open: (name: string, ns?: string) => Promise<Dataplane>) => Promise<T>,
  render: (t: T, date: string) => string,
): Promise<void> {
  const dir = join(repoRoot, 'bench', 'results');
  const topo = new Topology('b');
  const instances: { name: string; ns?: string }[] = [];
  try {
    const section = await measure(topo, async (instance, ns) => {
      topo.recordInstance(instance);
      instances.push({ name: instance, ns });
      return Dataplane.open(instance);
    });
    const date = new Date().toISOString();
    const machine = { kernel: release(), cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, srso: srsoStatus() };
    writeFileSync(
      join(dir, `${name}-${date.replace(/[:.]/g, '-')}.json`),
      `${JSON.stringify({ date, machine, [name]: section }, null, 2)}\n`,
    );
    const { r, file } = newestResults(dir);
    writeFileSync(join(repoRoot, 'BENCHMARKS.md'), report(r, file) + variation(dir));
    process.stdout.write(render(section, date));
  } finally {
    for (const i of instances) {
      try {
        inNetns(i.ns, () => Pipeline.down(i.name));
      } catch {
        // already gone
      }
    }
    topo.destroy();
  }
}

(process.argv.includes('--report')
  ? Promise.resolve().then(reportOnly)
  : process.argv.includes('--insight')
    ? insightOnly()
    : process.argv.includes('--paths')
      ? pathsOnly()
      : process.argv.includes('--balance')
        ? sectionOnly('balance', (topo, open) => balanceBench(topo, open, BENCH_OBJECT, log), balanceReport)
        : process.argv.includes('--gateway')
          ? sectionOnly('gateway', (topo, open) => gatewayBench(topo, open, BENCH_OBJECT, log), gatewayReport)
          : process.argv.includes('--flows')
            ? sectionOnly('flowDaemon', (topo) => flowDaemonBench(topo, log), flowDaemonReport)
            : process.argv.includes('--verifier')
              ? sectionOnly('verifier', () => verifierBudget(log), verifierReport)
              : main()
).catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
