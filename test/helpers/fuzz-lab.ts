/**
 * The lab the API and CLI fuzz tests share: a daemon in its own namespace, with one veth to a
 * peer namespace, a route, a rule and a service in its config, and a scratch directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cli, startDaemon, stopDaemon, type RunningDaemon } from './daemon.js';
import { Topology } from './topology.js';

export interface FuzzLab {
  topo: Topology;
  instance: string;
  /** The daemon's namespace. */
  ns: string;
  dir: string;
  configFile: string;
  configText: string;
  /** The veth's two ends. */
  interfaces: string[];
  daemon: RunningDaemon;
}

export async function startFuzzLab(prefix: string): Promise<FuzzLab> {
  const topo = new Topology(prefix);
  const instance = topo.prefix;
  topo.recordInstance(instance);
  const ns = topo.addNamespace('R');
  const peer = topo.addNamespace('P');
  topo.addVeth({ ns, name: 'a', addr: '10.77.0.1/24' }, { ns: peer, name: 'b', addr: '10.77.0.2/24' });
  const dir = mkdtempSync(join(tmpdir(), `pw-${prefix}-`));
  const configText = `instance: ${instance}
interfaces:
  - { name: ${topo.name('a')}, mode: native }
routes:
  - { prefix: 10.9.0.0/16, via: [{ gateway: 10.77.0.2 }] }
rules:
  - { action: drop, proto: tcp, dport: 23 }
services:
  web:
    address: 10.77.0.9:80/tcp
    backends: [10.77.0.2:8080]
    health: { type: none }
decisions: { exempt: [10.77.0.0/24, 127.0.0.0/8] }
`;
  const configFile = join(dir, 'pathwise.yaml');
  writeFileSync(configFile, configText);
  const lab = { topo, instance, ns, dir, configFile, configText, interfaces: [topo.name('a'), topo.name('b')] };
  try {
    return { ...lab, daemon: await startDaemon(ns, configFile, join(dir, 'state')) };
  } catch (e) {
    await stopFuzzLab(lab);
    throw e;
  }
}

/** Stops the daemon (SIGKILL: whatever state it is in), unloads the instance, removes it all. */
export async function stopFuzzLab(lab: Partial<FuzzLab> | undefined): Promise<void> {
  if (!lab) return;
  await stopDaemon(lab.daemon, 'SIGKILL');
  if (lab.ns) cli(['--netns', lab.ns, 'down', '--instance', lab.instance!]);
  lab.topo?.destroy();
  if (lab.dir) rmSync(lab.dir, { recursive: true, force: true });
}

/** What a daemon logged that it survives but must not have: an uncaught exception, an unhandled rejection, a fatal. */
export const bugsLogged = (daemon: RunningDaemon): string[] =>
  daemon.log.filter((l) => /uncaught exception|unhandled rejection|"level":60/.test(l));
