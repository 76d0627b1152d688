/**
 * The link emulator (tools/linkem/linkem.c, built to build/linkem) driven from TypeScript: it
 * bridges two interfaces in one namespace and delays, jitters and drops each direction as
 * told, changeable while traffic flows. This kernel has no sch_netem; the tests and the bench
 * put it on the paths whose quality Pathwise measures.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';

import { repoRoot } from '../util/paths.js';
import { sh, type Topology } from './topology.js';

export const LINKEM = join(repoRoot, 'build', 'linkem');
const PASS_OBJECT = join(repoRoot, 'build', 'linkem-pass.bpf.o');

export interface Impairment {
  /** Added one-way delay, ms. */
  delay?: number;
  /** Uniform jitter around the delay, ± ms. */
  jitter?: number;
  /** Frames dropped, percent. */
  loss?: number;
  /** 1 (default, as netem): each frame's jitter drawn on its own, frames may pass each other; 0: kept in order. */
  reorder?: 0 | 1;
}

export interface DirectionStats {
  rx: number;
  tx: number;
  lost: number;
  oversize: number;
  overflow: number;
  sendErrors: number;
  queued: number;
  delay: number;
  jitter: number;
  loss: number;
  reorder: number;
}

export class LinkEmulator {
  private readonly replies: string[] = [];
  private waiting: ((line: string) => void) | null = null;

  private constructor(private readonly child: ChildProcess) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.replies.push(line);
    });
  }

  /**
   * Starts an emulator between interfaces `a` and `b` of namespace `ns`. Their offloads are
   * turned off first: a GRO or TSO super-frame is larger than the MTU and cannot be sent on.
   */
  static async start(topo: Topology, ns: string, a: string, b: string): Promise<LinkEmulator> {
    for (const dev of [a, b]) {
      noOffloads(ns, dev);
      // Frames a router's XDP redirects into the peer veth arrive only with NAPI on here.
      sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'dev', dev, 'xdpdrv', 'obj', PASS_OBJECT, 'sec', 'xdp']);
    }
    const child = topo.spawn(ns, LINKEM, [a, b]);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const em = new LinkEmulator(child);
    const first = await Promise.race([
      em.next(),
      once(child, 'exit').then(() => {
        throw new Error(`linkem ${a} ${b} exited: ${stderr.trim()}`);
      }),
    ]);
    if (first !== 'ready') throw new Error(`linkem ${a} ${b}: ${first} ${stderr.trim()}`);
    return em;
  }

  private next(): Promise<string> {
    const queued = this.replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private async ask(command: string): Promise<string> {
    this.child.stdin!.write(`${command}\n`);
    const reply = await this.next();
    if (reply.startsWith('error:')) throw new Error(`linkem: ${command}: ${reply}`);
    return reply;
  }

  /** Changes one direction (a2b: from interface a to b), or both. */
  async set(direction: 'a2b' | 'b2a' | 'both', imp: Impairment): Promise<void> {
    const words = Object.entries(imp)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v as number}`);
    await this.ask(`set ${direction} ${words.join(' ')}`);
  }

  async stats(): Promise<{ a2b: DirectionStats; b2a: DirectionStats }> {
    return JSON.parse(await this.ask('stats')) as { a2b: DirectionStats; b2a: DirectionStats };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.stdin!.end('quit\n');
    await once(this.child, 'exit');
  }
}

/** GRO, TSO and GSO off on an interface of a namespace (frames stay within the MTU). */
export function noOffloads(ns: string | undefined, dev: string): void {
  const args = ['-K', dev, 'gro', 'off', 'tso', 'off', 'gso', 'off'];
  if (ns) sh('ip', ['netns', 'exec', ns, 'ethtool', ...args], { allowFail: true });
  else sh('ethtool', args, { allowFail: true });
}
