/**
 * The load-balancing lab (src/netlab/lb-lab.ts) with the daemon on its router, as the balance
 * e2e test and the churn soak use it: a config for the router's five interfaces, applied with
 * the CLI; clients counted per backend or held open through changes; the daemon killed and
 * started again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Held } from '../../src/netlab/http-lab.js';
import { buildLbLab, HTTP_LAB, LB_VIP, type LbLab } from '../../src/netlab/lb-lab.js';
import { cli, request, socketOf, startDaemon, stopDaemon, type RunningDaemon } from './daemon.js';
import { Topology } from './topology.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Backend k's address (lb-lab.ts numbers them from 1). */
export const lbBackend = (k: number) => `10.250.${10 + k}.2`;

/** The service `web` on the lab's VIP, port 80/tcp, with these backends and extra YAML lines. */
export const webService = (backends: string[], extra = '') => `  web:
    address: ${LB_VIP}:80/tcp
    backends: [${backends.join(', ')}]
${extra}`;

export class LbDaemonLab {
  daemon: RunningDaemon | undefined;
  readonly configFile: string;

  private constructor(
    readonly topo: Topology,
    readonly lab: LbLab,
    readonly dir: string,
  ) {
    this.configFile = join(dir, 'pathwise.yaml');
  }

  get instance(): string {
    return this.topo.prefix;
  }

  /** Builds the lab with `backends` backends and starts the daemon on `services` (YAML lines) and `extra` (see config). */
  static async start(tag: string, services: string, backends = 4, extra = ''): Promise<LbDaemonLab> {
    const topo = new Topology(tag);
    topo.recordInstance(topo.prefix);
    const dir = mkdtempSync(join(tmpdir(), `pw-${tag}-`));
    let l: LbDaemonLab | undefined;
    try {
      l = new LbDaemonLab(topo, await buildLbLab(topo, backends), dir);
      writeFileSync(l.configFile, l.config(services, extra));
      l.daemon = await startDaemon(l.lab.router, l.configFile, join(dir, 'state'));
      return l;
    } catch (e) {
      if (l) await l.stop();
      else {
        topo.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
      throw e;
    }
  }

  async stop(): Promise<void> {
    await stopDaemon(this.daemon, 'SIGKILL');
    cli(['--netns', this.lab.router, 'down', '--instance', this.instance]);
    this.topo.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The CLI in the router's namespace, on this instance. */
  pw(...args: string[]): ReturnType<typeof cli> {
    return cli(['--netns', this.lab.router, ...args, '--instance', this.instance]);
  }

  /** The REST API on the daemon's socket. */
  api(method: string, path: string, body?: unknown): ReturnType<typeof request> {
    return request({ socketPath: socketOf(this.instance) }, method, path, body);
  }

  /** A config: the router's five interfaces in native mode, `extra` top-level YAML (a pipeline: or api: section), the services. */
  config(services: string, extra = ''): string {
    return `
instance: ${this.instance}
interfaces:
${[0, 1, 2, 3, 4].map((k) => `  - { name: ${this.topo.name(`r${k}`)}, mode: native }`).join('\n')}
${extra}
services:
${services}
`;
  }

  /** Writes `text` as the config and applies it (it must apply); the CLI's JSON answer. */
  apply(text: string): any {
    writeFileSync(this.configFile, text);
    const r = this.pw('apply', '-f', this.configFile, '--json');
    assert.equal(r.status, 0, r.stderr);
    return r.json();
  }

  /** kill -9 of the daemon, `downMs` with the data plane alone, then a new daemon on the same config and state. */
  async restart(downMs = 0): Promise<void> {
    await stopDaemon(this.daemon, 'SIGKILL');
    await sleep(downMs);
    this.daemon = await startDaemon(this.lab.router, this.configFile, join(this.dir, 'state'));
  }

  /** `n` requests from the client, each on a new connection, `concurrency` at a time: the answers per backend name. */
  count(n: number, url = `http://${LB_VIP}/`, concurrency = 64): { counts: Record<string, number>; errors: Record<string, number> } {
    return JSON.parse(this.topo.exec(this.lab.client, process.execPath, [HTTP_LAB, 'count', url, String(n), String(concurrency)]));
  }

  /** Connections held open (a request each every 100 ms) while `during` runs, and a second after; what each saw. */
  async held(conns: number, during: () => Promise<void>): Promise<Held[]> {
    const child = this.topo.spawn(this.lab.client, process.execPath, [HTTP_LAB, 'hold', LB_VIP, '80', String(conns)]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('ready')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`held connections not ready: ${out}`);
      await sleep(50);
    }
    try {
      await during();
      await sleep(1000); // requests on every connection after the change
    } finally {
      const exited = new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      child.kill('SIGTERM');
      await exited;
    }
    return JSON.parse(out.slice(out.indexOf('\n') + 1)) as Held[];
  }
}
