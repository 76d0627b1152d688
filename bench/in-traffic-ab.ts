/**
 * The pipeline's own time per packet in real traffic, build against build or settings against
 * settings, alternated in one process: a development tool beside `make bench-balance`, whose §7
 * measures the current build this way. On a VM whose speed drifts by tens of percent between
 * processes, only alternated rounds tell a few percent.
 *
 *   OBJS=/tmp/a.bpf.o,/tmp/b.bpf.o [SETTINGS='{};{"flows":false}'] [ROUNDS=8] [MODE=generic] \
 *     node dist/bench/in-traffic-ab.js
 *
 * Each variant (an object, by default build/pathwise.bpf.o; settings as JSON, `;` between
 * variants; `xdp.o+tc.o` gives the TC object too, for a build whose maps differ: the TC
 * object shares the XDP object's maps by name) is a data plane of its own on the lab of
 * bench/balance.ts (client — router — backend on veth, nginx behind a NAT service). Each
 * round attaches the variants in turn to the router's two veths (MODE: native, generic or
 * tc) and has ab make 20,000 connections through each with the kernel's BPF run-time
 * statistics on. Prints every round, then each variant's median ns per run and connections
 * per second, and its median per-round ratio to the first.
 *
 * TRAFFIC=udp: instead of ab's connections, tcpreplay loops §7's 1,024 UDP flows through the
 * UDP service (512,000 frames a run), an XDP sink on the backend's side counting them: the
 * rate is then delivered packets per second. Each packet of a flow comes 1,023 of the
 * others' after the last: what a router with many flows sees of its per-flow state.
 * TRAFFIC=fwd: the same flows addressed to the backend itself, routed with no service (§4's
 * forwarding).
 */
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Dataplane } from '../src/dataplane/dataplane.js';
import { Pipeline } from '../src/dataplane/pipeline.js';
import { BpfObject, inNetns } from '../src/kernel/index.js';
import { repoRoot } from '../src/util/paths.js';
import { Topology } from '../test/helpers/topology.js';
import {
  abConnections,
  BACKEND,
  labService,
  labUdpService,
  lbLab,
  ownTimeOver,
  replayedPps,
  sinkCounter,
  startNginx,
  writeLabFlows,
} from './balance.js';
import * as benchAbi from './generated/bench.js';
import { median } from './pipeline-kit.js';

async function main() {
  const objs = (process.env.OBJS ?? '').split(',').filter(Boolean);
  const settings = (process.env.SETTINGS ?? '').split(';').map((s) => (s.trim() ? JSON.parse(s) : {}));
  const variants = Math.max(objs.length, settings.length, 1);
  const rounds = Number(process.env.ROUNDS ?? 8);
  const mode = (process.env.MODE ?? 'generic') as 'native' | 'generic' | 'tc';
  const traffic = process.env.TRAFFIC ?? 'ab';
  if (traffic !== 'ab' && traffic !== 'udp' && traffic !== 'fwd') throw new Error(`TRAFFIC=${traffic}: ab, udp or fwd`);
  const built = join(repoRoot, 'build', 'pathwise.bpf.o');
  const builtTc = join(repoRoot, 'build', 'pathwise-tc.bpf.o');
  const savedDir = mkdtempSync(join(tmpdir(), 'pw-itab-'));
  const saved = join(savedDir, 'pathwise.bpf.o');
  const savedTc = join(savedDir, 'pathwise-tc.bpf.o');
  copyFileSync(built, saved);
  copyFileSync(builtTc, savedTc);
  const restore = () => {
    copyFileSync(saved, built);
    copyFileSync(savedTc, builtTc);
  };
  const topo = new Topology('t');
  const dps: Dataplane[] = [];
  let server: ReturnType<typeof startNginx> | undefined;
  let bench: BpfObject<typeof benchAbi> | undefined;
  let pcap: string | undefined;
  let closeSink: (() => void) | undefined;
  try {
    const { g, r, b, mac } = lbLab(topo);
    /** One run of the traffic: its rate (connections or delivered packets per second). */
    let run: () => number;
    if (traffic === 'ab') {
      server = startNginx(topo, b, `/tmp/${topo.prefix}-lb-nginx`);
      run = () => abConnections(topo, g).rate;
    } else {
      bench = await BpfObject.load(join(repoRoot, 'build', 'bench', 'bench.bpf.o'), { spec: benchAbi });
      const loaded = bench;
      const sink = sinkCounter(loaded);
      closeSink = sink.close;
      const flows = (pcap = writeLabFlows(topo, g, r, mac, traffic === 'fwd' ? BACKEND : undefined));
      run = () => replayedPps(topo, g, b, 'b0', loaded, sink, flows);
    }
    for (let v = 0; v < variants; v++) {
      // Dataplane.open loads build/pathwise.bpf.o (and -tc): each object goes there in turn.
      const [xdp, tc] = (objs[v] ?? '').split('+');
      if (xdp) copyFileSync(xdp, built);
      if (tc) copyFileSync(tc, builtTc);
      const name = `${topo.prefix}v${v}`;
      topo.recordInstance(name);
      const dp = await Dataplane.open(name, settings[v] ?? {}).finally(restore);
      dps.push(dp);
      inNetns(r, () => {
        dp.syncHostRoutes();
        dp.syncNeighbors();
        if (traffic !== 'fwd') dp.services.set(traffic === 'ab' ? labService() : labUdpService());
      });
    }
    const ifaces = [topo.name('r0'), topo.name('r1')];
    const unit = traffic === 'ab' ? 'connections/s' : 'packets/s delivered';
    const ns: number[][] = dps.map(() => []);
    const cps: number[][] = dps.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [v, dp] of dps.entries()) {
        inNetns(r, () => dp.attach(ifaces, mode));
        try {
          const prog = mode === 'tc' ? dp.pipeline.tc! : dp.pipeline.xdp;
          let rate = 0;
          const own = ownTimeOver(prog, () => (rate = run()));
          ns[v]!.push(own.ns);
          cps[v]!.push(rate);
          process.stdout.write(`round ${round} variant ${v}: ${own.ns.toFixed(0)} ns per run, ${rate.toFixed(0)} ${unit}\n`);
        } finally {
          inNetns(r, () => dp.detach(ifaces));
        }
      }
    }
    for (let v = 0; v < variants; v++) {
      const ratio = median(ns[v]!.map((x, i) => x / ns[0]![i]!));
      process.stdout.write(
        `variant ${v} (${objs[v] ?? 'build'} ${JSON.stringify(settings[v] ?? {})}): ${median(ns[v]!).toFixed(0)} ns per run, ${median(cps[v]!).toFixed(0)} ${unit}; per-round ratio to variant 0: ${ratio.toFixed(3)}\n`,
      );
    }
  } finally {
    restore();
    rmSync(savedDir, { recursive: true, force: true });
    for (const dp of dps) {
      dp.close();
      Pipeline.down(dp.instance);
    }
    // nginx's master stops its workers on SIGTERM: the topology's SIGKILL must not come first,
    // or a worker outlives it (and holds this process's pipes open).
    if (server && server.exitCode === null) {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
    }
    rmSync(`/tmp/${topo.prefix}-lb-nginx`, { recursive: true, force: true });
    if (pcap) rmSync(pcap, { force: true });
    closeSink?.();
    bench?.close();
    topo.destroy();
  }
}

main().catch((e) => {
  process.stderr.write(`in-traffic-ab: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
