/**
 * §1's IPv4 and IPv6 FIB lookups alone, for trying a change to either FIB without the whole of
 * `make bench` (which runs the same measurement among the rest): the real table installed into
 * a pipeline in a namespace of its own, then the bench object's lookups over 65,536 random
 * destinations inside its prefixes, side by side with each walk alone, ROUNDS rounds (101).
 *
 *   node dist/bench/fib-lookups.js [--json]
 *
 * Prints ns per lookup for both families and the median of each round's IPv6/IPv4 ratio.
 * DISTINCT=N walks only the first N of the random destinations, over and over (the same 65,536
 * steps): what the lookups' memory costs when their working set fits a cache level or the TLB.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { BpfObject, inNetns, resolveIfindex, xdpMd } from '../src/kernel/index.js';
import * as benchAbi from './generated/bench.js';
import { repoRoot } from '../src/util/paths.js';
import { Dataplane } from '../src/dataplane/dataplane.js';
import { Pipeline, pinDirOf } from '../src/dataplane/pipeline.js';
import { mapSizes } from '../src/dataplane/pipeline-object.js';
import { parseRouteFile } from '../src/routing/route-syntax.js';
import { parsePrefix } from '../src/util/ip.js';
import { ipv4Packet } from '../test/helpers/packets.js';
import { Topology } from '../test/helpers/topology.js';
import { rng } from '../test/helpers/rng.js';
import { alternate, BENCH_OBJECT, perRound } from './pipeline-kit.js';

const SHARED = process.env.PATHWISE_SHARED_DATA ?? join(repoRoot, '..', 'shared', 'data');
/** The lookups one run of a bench program makes (BENCH_BATCH in bench/progs/bench.bpf.c). */
export const LOOKUPS_PER_RUN = 256;
/** Repetitions of each run. */
export const REPEAT = 2000;

/** The real table's prefixes, IPv4 and IPv6 apart. */
export function realTable(): { prefixes: string[]; prefixes6: string[] } {
  const all = gunzipSync(readFileSync(join(SHARED, 'routes', 'prefixes.txt.gz')))
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  return { prefixes: all.filter((l) => !l.includes(':')), prefixes6: all.filter((l) => l.includes(':')) };
}

/** 65,536 random IPv4 destinations, each inside a prefix drawn at random from the table. */
export function randomDestinations4(prefixes: string[]): number[] {
  const rand = rng(1);
  const addrs: number[] = [];
  for (let i = 0; i < 65536; i++) {
    const p = parsePrefix(prefixes[Math.floor(rand() * prefixes.length)]!);
    addrs.push((p.v4 + (p.plen === 32 ? 0 : Math.floor(rand() * 2 ** (32 - p.plen)))) >>> 0);
  }
  return addrs;
}

/** The same for IPv6: bench_addrs6 entries, each a random address inside a random prefix. */
export function randomDestinations6(prefixes6: string[]): [number, benchAbi.BenchAddr6][] {
  const r6 = rng(6);
  const entries: [number, benchAbi.BenchAddr6][] = [];
  for (let i = 0; i < 65536; i++) {
    const p = parsePrefix(prefixes6[Math.floor(r6() * prefixes6.length)]!);
    const a = Uint8Array.from(p.addr);
    for (let bit = p.plen; bit < 128; bit++) if (r6() < 0.5) a[bit >> 3]! |= 0x80 >> (bit & 7);
    entries.push([i, { a }]);
  }
  return entries;
}

/** The bench object on the FIB maps that `dp`'s pipeline pinned. */
export function loadBenchOnFib(dp: Dataplane): Promise<BpfObject<typeof benchAbi>> {
  const sizes = mapSizes(dp.pipeline.settings);
  return BpfObject.load(BENCH_OBJECT, {
    spec: benchAbi,
    pinDir: pinDirOf(dp.pipeline.instance),
    pinMaps: ['pw_fib4_tbl24', 'pw_fib4_tbl8', 'pw_fib6_nodes', 'pw_routes', 'pw_nhgroups', 'pw_nexthops', 'pw_neigh'],
    maxEntries: { pw_fib4_tbl8: sizes.pw_fib4_tbl8!, pw_fib6_nodes: sizes.pw_fib6_nodes! },
  });
}

async function main(): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 101);
  const { prefixes, prefixes6 } = realTable();
  const topo = new Topology('fl');
  const instance = `${topo.prefix}fib`;
  let ns: string | undefined;
  try {
    ns = topo.addNamespace('K');
    topo.addVeth({ ns, name: 'k0', addr: '100.64.0.1/16' }, { ns, name: 'k1' });
    topo.exec(ns, 'ip', ['neigh', 'replace', '100.64.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', topo.name('k0'), 'nud', 'permanent']);
    topo.recordInstance(instance);
    const dp = await Dataplane.open(instance);
    let obj: BpfObject<typeof benchAbi>;
    try {
      inNetns(ns, () => {
        dp.loadRoutes(parseRouteFile(prefixes.map((p) => `${p} via 100.64.0.2`).join('\n'), 'table').batch);
        dp.loadRoutes(parseRouteFile(prefixes6.map((p) => `${p} dev ${topo.name('k0')}`).join('\n'), 'table6').batch);
      });
      obj = await loadBenchOnFib(dp);
    } finally {
      dp.close();
    }
    try {
      const distinct = Number(process.env.DISTINCT ?? 65536);
      const d4 = randomDestinations4(prefixes);
      const d6 = randomDestinations6(prefixes6);
      const m4 = obj.map(benchAbi.maps.bench_addrs);
      m4.updateBatch(d4.map((_, i) => [i, d4[i % distinct]!] as [number, number]));
      m4.close();
      const m6 = obj.map(benchAbi.maps.bench_addrs6);
      m6.updateBatch(d6.map(([i]) => [i, d6[i % distinct]![1]] as [number, benchAbi.BenchAddr6]));
      m6.close();
      const pkt = ipv4Packet({ dst: '100.64.0.9' });
      const ctx = xdpMd(
        pkt.length,
        inNetns(ns, () => resolveIfindex(topo.name('k0'))),
      );
      const run = (name: 'bench_base' | 'bench_own' | 'bench_base6' | 'bench_own6') => {
        const prog = obj.program(name);
        return () => prog.testRunSync({ data: pkt, repeat: REPEAT, ctx }).duration / LOOKUPS_PER_RUN;
      };
      const [b4, o4, b6, o6] = inNetns(ns, () =>
        alternate([run('bench_base'), run('bench_own'), run('bench_base6'), run('bench_own6')], rounds),
      ) as [number[], number[], number[], number[]];
      const out = {
        rounds,
        distinct,
        ipv4Ns: perRound(rounds, (r) => o4[r]! - b4[r]!),
        ipv6Ns: perRound(rounds, (r) => o6[r]! - b6[r]!),
        ipv6VsIpv4: perRound(rounds, (r) => (o6[r]! - b6[r]!) / (o4[r]! - b4[r]!)),
      };
      if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
      else
        process.stdout.write(
          `IPv4 ${out.ipv4Ns.toFixed(2)} ns, IPv6 ${out.ipv6Ns.toFixed(2)} ns per lookup: ${out.ipv6VsIpv4.toFixed(2)}× (${rounds} rounds, ${distinct} destinations)\n`,
        );
    } finally {
      obj.close();
    }
  } finally {
    try {
      inNetns(ns, () => Pipeline.down(instance));
    } catch {
      // never made
    }
    topo.destroy();
  }
}

if (process.argv[1]?.endsWith('fib-lookups.js')) await main();
