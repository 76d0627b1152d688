/**
 * Running the real daemon in a router namespace for end-to-end tests: spawned as
 * `pathwise --netns NS daemon`, ready when its unix socket answers, killed by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { repoRoot } from '../../src/util/paths.js';
import { buildRouterLab } from '../../src/netlab/router-lab.js';
import { Topology } from './topology.js';

export const pathwiseBin = join(repoRoot, 'bin', 'pathwise');

export interface RunningDaemon {
  child: ChildProcess;
  log: string[];
}

/** `raw`: text sent as the body as it is (a body that is not JSON, or an empty one), as
 * `contentType` (default application/json). */
export function request(
  target: { socketPath: string } | { port: number },
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  opts: { raw?: string; contentType?: string } = {},
): Promise<{ status: number; json: any; text: string }> {
  const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    // With its length: Node frames no body of a DELETE by itself (no chunked encoding for it).
    if (payload !== undefined)
      Object.assign(headers, {
        'content-type': opts.contentType ?? 'application/json',
        'content-length': String(Buffer.byteLength(payload)),
      });
    if (token) headers.authorization = `Bearer ${token}`;
    const req = http.request(
      { ...('socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }), method, path, headers },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            // text body
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function startDaemon(ns: string, config: string, stateDir: string, env: Record<string, string> = {}): Promise<RunningDaemon> {
  const child = spawn(pathwiseBin, ['--netns', ns, 'daemon', '--config', config, '--state-dir', stateDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const log: string[] = [];
  const collect = (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const deadline = Date.now() + 60_000;
  while (!log.some((l) => l.includes('pathwise daemon ready'))) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${log.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`daemon not ready after 60 s:\n${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, log };
}

export async function stopDaemon(d: RunningDaemon | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!d || d.child.exitCode !== null || d.child.signalCode) return;
  const exited = new Promise((r) => d.child.once('exit', r));
  d.child.kill(signal);
  await exited;
}

/** Runs the CLI (as an operator would), returning status and output. */
export function cli(args: string[], env: Record<string, string> = {}, timeoutMs?: number) {
  const p = spawnSync(pathwiseBin, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28, timeout: timeoutMs });
  return { status: p.status, signal: p.signal, stdout: p.stdout, stderr: p.stderr, json: () => JSON.parse(p.stdout) };
}

export interface DaemonLab {
  topo: Topology;
  instance: string;
  /** Scratch directory for configs, state and captures. */
  dir: string;
  configFile: string;
  ns: { c: string; r: string; u1: string; u2: string };
}

/** The router lab (src/netlab/router-lab.ts) for a daemon test, an instance named after it
 * and recorded for cleanup, and a scratch directory. */
export function createDaemonLab(tag: string): DaemonLab {
  const topo = new Topology(tag);
  const instance = topo.prefix;
  topo.recordInstance(instance);
  const dir = mkdtempSync(join(tmpdir(), `pw-${tag}-`));
  const lab = buildRouterLab(topo);
  return {
    topo,
    instance,
    dir,
    configFile: join(dir, 'pathwise.yaml'),
    ns: { c: lab.client, r: lab.router, u1: lab.upstream1, u2: lab.upstream2 },
  };
}

/** Kills the daemon, takes the instance's data plane down, removes the lab and its directory. */
export async function destroyDaemonLab(lab: DaemonLab | undefined, daemon: RunningDaemon | undefined): Promise<void> {
  await stopDaemon(daemon, 'SIGKILL');
  if (!lab) return;
  cli(['--netns', lab.ns.r, 'down', '--instance', lab.instance]);
  lab.topo.destroy();
  rmSync(lab.dir, { recursive: true, force: true });
}

/**
 * A config for the router lab (netlab/router-lab.ts): the instance, the router's ports to the
 * client and to upstream 1 attached, the service prefix routed to upstream 1; `rest` (YAML) after.
 */
export function routerConfig(topo: Topology, instance: string, rest = ''): string {
  return `
instance: ${instance}
interfaces:
  - { name: ${topo.name('r0')}, mode: native }
  - { name: ${topo.name('r1')}, mode: native }
routes:
  - { prefix: 10.220.0.0/16, via: [{ gateway: 10.210.2.2 }] }
${rest}`;
}

export const socketOf = (instance: string) => `/run/pathwise/${instance}/api.sock`;
export const hasSocket = (instance: string) => existsSync(socketOf(instance));
