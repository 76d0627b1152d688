/**
 * Routes from a routing daemon followed (config `import:`): BIRD 2 feeds 10,000 /24s over BGP
 * into the router's kernel table (src/netlab/bgp-feed.ts), the daemon imports them; then the
 * feed withdraws them all and announces them again, CHANGES times each.
 *
 * Per sampled prefix (every 100th), the delay from the kernel having the change to Pathwise's
 * data plane having it, both seen from this process, on one clock:
 * - the kernel's time: a netlink route monitor of our own in the router's namespace (a large
 *   socket buffer: none of the 10,000 events is lost) feeding a KernelRouteView, stamped as
 *   each batch arrives;
 * - the data plane's time: the FIB's first-level entry for the prefix (pw_fib4_tbl24, the map the
 *   XDP program reads), mapped through its pin and read every POLL_MS, first seen changed.
 * So each figure is late by up to a poll. Reading the map costs the daemon nothing; asking
 * it (/v1/lookup) would have taken its event loop from the very events measured.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';

import * as abi from '../src/generated/pathwise.js';
import { BpfMap, inNetns, KernelMonitor, kernelRoutes, NetlinkGroup, openPinned, scalar, type MappedArray } from '../src/kernel/index.js';
import { pinDirOf } from '../src/dataplane/pipeline.js';
import { startBgpFeed } from '../src/netlab/bgp-feed.js';
import { KernelRouteView, keyOfPrefix, RT_TABLES, type PrefixKey } from '../src/routing/kernel-routes.js';
import { parsePrefix } from '../src/util/ip.js';
import { createDaemonLab, destroyDaemonLab, request, socketOf, startDaemon, type RunningDaemon } from '../test/helpers/daemon.js';

export interface BirdResults {
  routes: number;
  /** Withdraw-all and announce-all rounds, each. */
  changes: number;
  samplesPerChange: number;
  pollMs: number;
  /** Per sampled prefix and change: ms from the kernel's event to the data plane's change. */
  withdrawMs: number[];
  announceMs: number[];
  /** Samples whose change was not seen within the wait (counted apart). */
  missed: number;
}

const COUNT = 10_000;
const CHANGES = Number(process.env.BENCH_BIRD_CHANGES ?? 5);
const EVERY = 100;
const POLL_MS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function birdBench(log: (s: string) => void): Promise<BirdResults> {
  const lab = createDaemonLab('bb');
  let daemon: RunningDaemon | undefined;
  let monitor: KernelMonitor | undefined;
  let tbl24: BpfMap<number, abi.PwFib4Block> | undefined;
  let mapped: MappedArray<abi.PwFib4Block> | undefined;
  try {
    const feed = startBgpFeed(lab.topo, { router: lab.ns.r, upstream: lab.ns.u1 }, lab.dir, COUNT);
    writeFileSync(
      lab.configFile,
      `instance: ${lab.instance}
interfaces:
  - { name: ${lab.topo.name('r0')}, mode: native }
  - { name: ${lab.topo.name('r1')}, mode: native }
import:
  from:
    - { table: main, protocols: [bird] }
`,
    );
    daemon = await startDaemon(lab.ns.r, lab.configFile, join(lab.dir, 'state'));
    const installed = async () =>
      ((await request({ socketPath: socketOf(lab.instance) }, 'GET', '/v1/status')).json as { imports: { installed: number } }).imports
        .installed;

    // The kernel's route events, followed in a view of our own (the import's model, kept
    // beside the daemon's): prefix -> when its route last changed.
    const view = new KernelRouteView([{ table: RT_TABLES.main!, protocols: null, prefixes: null }]);
    const kernelAt = new Map<PrefixKey, number>();
    monitor = inNetns(lab.ns.r, () => {
      const m = new KernelMonitor([NetlinkGroup.IPV4_ROUTE], (events) => {
        const now = performance.now();
        for (const e of events) if (e.kind === 'routes') for (const key of view.apply(e.routes)) kernelAt.set(key, now);
      });
      view.reset(kernelRoutes(4, view.tables)); // events from here on apply to what the kernel had
      return m;
    });
    // The FIB's first level as the daemon writes it (route-table.ts): one entry per /24.
    tbl24 = new BpfMap(openPinned(join(pinDirOf(lab.instance), 'pw_fib4_tbl24')), scalar.u32, abi.PwFib4Block);
    mapped = tbl24.mmap();
    const fib = new Uint32Array(mapped.view.buffer, 0, 1 << 24);
    const samples = feed.prefixes
      .filter((_, i) => i % EVERY === 0)
      .map((text) => parsePrefix(text))
      .map((p) => ({ key: keyOfPrefix(p), at24: p.v4 >>> 8 }));

    for (const until = Date.now() + 120_000; (await installed()) < COUNT;) {
      if (Date.now() > until) throw new Error(`bird bench: ${await installed()} of ${COUNT} routes imported after 120 s`);
      await sleep(100);
    }
    log(`bird: ${COUNT} routes imported; ${CHANGES} withdrawals and announcements of all of them`);

    const withdrawMs: number[] = [];
    const announceMs: number[] = [];
    let missed = 0;
    /** One change: each sample's FIB entry watched until it differs from what it was. */
    const measure = async (change: () => void, out: number[]) => {
      const before = samples.map((x) => fib[x.at24]);
      kernelAt.clear();
      const seen = new Map<PrefixKey, number>();
      change();
      for (const until = Date.now() + 30_000; seen.size < samples.length && Date.now() < until;) {
        const now = performance.now();
        samples.forEach((x, i) => !seen.has(x.key) && fib[x.at24] !== before[i] && seen.set(x.key, now));
        await sleep(POLL_MS);
      }
      await sleep(200); // the last events
      for (const x of samples) {
        const k = kernelAt.get(x.key);
        const at = seen.get(x.key);
        if (k === undefined || at === undefined) missed++;
        else out.push(Math.max(0, at - k));
      }
    };
    for (let i = 0; i < CHANGES; i++) {
      await measure(feed.withdrawAll, withdrawMs);
      await measure(feed.announceAll, announceMs);
      log(
        `  change ${i + 1}/${CHANGES}: withdraw max ${Math.max(...withdrawMs).toFixed(1)} ms, announce max ${Math.max(...announceMs).toFixed(1)} ms`,
      );
    }
    return { routes: COUNT, changes: CHANGES, samplesPerChange: samples.length, pollMs: POLL_MS, withdrawMs, announceMs, missed };
  } finally {
    monitor?.close();
    mapped?.close();
    tbl24?.close();
    await destroyDaemonLab(lab, daemon);
  }
}

/** The p-quantile of xs (nearest rank), as the report gives it. */
export const pctl = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! : NaN;
};

export function birdReport(b: BirdResults): string {
  const row = (what: string, xs: number[]) =>
    `| ${what} | ${xs.length} | ${pctl(xs, 0.5).toFixed(1)} | ${pctl(xs, 0.99).toFixed(1)} | ${Math.max(...xs).toFixed(1)} | ${pctl(xs, 0.99) <= 100 ? 'met' : '**not met**'} |`;
  return `
### 2c. Following a routing daemon: ${b.routes.toLocaleString('en')} routes changed at once

BIRD 2 feeds ${b.routes.toLocaleString('en')} /24s over BGP into the router's kernel table; the daemon
imports them (\`import:\`, protocol bird). The feed withdraws them all, then announces them again,
${b.changes} times each. For every ${EVERY}th prefix (${b.samplesPerChange} per change), the delay from the kernel's route
event (a netlink monitor beside the daemon's, both in the router's namespace) to the data plane
having the change (its entry in the FIB map the XDP program reads, polled every ${b.pollMs} ms from outside the daemon:
figures are late by up to a poll). ${b.missed ? `${b.missed} samples not seen within 30 s (not in the figures).` : 'Every sample was seen.'}

| change | samples | p50 (ms) | p99 (ms) | max (ms) | target p99 <= 100 ms |
| --- | ---: | ---: | ---: | ---: | --- |
${row('withdraw all', b.withdrawMs)}
${row('announce all', b.announceMs)}
`;
}
