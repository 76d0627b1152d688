/**
 * The daemon never waits on the network: routes through gateways that do not answer ARP are
 * applied at once (the kernel resolves managed neighbours by itself), the API answers
 * throughout, and the unresolved gateways stay out of the data plane's neighbour copy, their
 * traffic left to the kernel. (An older daemon pinged each unresolved gateway inline, blocking
 * its event loop for a second per gateway.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import {
  createDaemonLab,
  destroyDaemonLab,
  request,
  socketOf,
  startDaemon,
  cli,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Addresses on the router's r1 subnet (10.210.2.0/24) where no host answers. */
const SILENT = Array.from({ length: 10 }, (_, i) => `10.210.2.${100 + i}`);

describe('daemon responsiveness', { skip, timeout: 5 * 60_000 }, () => {
  let lab: DaemonLab | undefined;
  let daemon: RunningDaemon | undefined;
  const config = (routes: string) => `
instance: ${lab!.instance}
interfaces:
  - { name: ${lab!.topo.name('r0')}, mode: native }
  - { name: ${lab!.topo.name('r1')}, mode: native }
routes:
  - { prefix: 10.220.0.0/16, via: [{ gateway: 10.210.2.2 }] }
${routes}`;

  before(async () => {
    lab = createDaemonLab('resp');
    writeFileSync(lab.configFile, config(''));
    daemon = await startDaemon(lab.ns.r, lab.configFile, `${lab.dir}/state`);
  });
  after(() => destroyDaemonLab(lab, daemon));

  it('applies routes through 10 silent gateways while answering every API call at once', async (t) => {
    const sock = { socketPath: socketOf(lab!.instance) };
    // Probe /healthz back to back while the change applies, and time every answer.
    const latencies: number[] = [];
    let probing = true;
    const probes = (async () => {
      while (probing) {
        const t0 = performance.now();
        const r = await request(sock, 'GET', '/healthz');
        latencies.push(performance.now() - t0);
        assert.equal(r.status, 200);
        await sleep(5);
      }
    })();
    await sleep(100);
    const routes = SILENT.map((gw, i) => `  - { prefix: 10.${240 + i}.0.0/16, via: [{ gateway: ${gw} }] }`).join('\n');
    const t0 = performance.now();
    const applied = await request(sock, 'POST', '/v1/config', { text: config(routes), file: lab!.configFile });
    const applySeconds = (performance.now() - t0) / 1000;
    await sleep(300);
    probing = false;
    await probes;
    assert.equal(applied.status, 200, applied.text);
    assert.equal(applied.json.changes.length, SILENT.length);

    const worst = Math.max(...latencies);
    const median = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)]!;
    t.diagnostic(
      `apply of ${SILENT.length} routes through silent gateways: ${applySeconds.toFixed(3)} s; /healthz meanwhile: ${latencies.length} answers, median ${median.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`,
    );
    // Not a speed test: an inline wait of a second per gateway would make this 10 s and more.
    assert.ok(applySeconds < 5, `the change waited on the network: ${applySeconds} s`);
    assert.ok(worst < 1000, `the event loop was blocked for ${worst} ms`);

    // The kernel tries the gateways itself (managed entries); none answers, so none is copied
    // into the data plane and their routes' packets go to the kernel.
    const kernel = JSON.parse(lab!.topo.exec(lab!.ns.r, 'ip', ['-j', 'neigh', 'show', 'dev', lab!.topo.name('r1')])) as {
      dst: string;
      state?: string[];
    }[];
    for (const gw of SILENT)
      assert.ok(
        kernel.some((n) => n.dst === gw),
        `the kernel was asked to resolve ${gw}`,
      );
    const copy = cli(['neigh', 'list', '--json', '--instance', lab!.instance]).json() as { addr: string }[];
    assert.ok(!copy.some((n) => SILENT.includes(n.addr)), 'unresolved gateways stay out of the neighbour copy');
    assert.ok(
      copy.some((n) => n.addr === '10.210.2.2'),
      'the answering gateway is in it',
    );
    const lookup = cli(['route', 'lookup', '--json', '--instance', lab!.instance, '10.240.1.1']).json() as {
      prefix: string;
      reason: string;
    }[];
    assert.deepEqual([lookup[0]!.prefix, lookup[0]!.reason], ['10.240.0.0/16', 'no_neigh']);
  });
});
