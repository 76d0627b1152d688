/**
 * Network namespaces and veth pairs, for the tests and the demo. Every name carries a prefix
 * unique to this run; everything created is recorded and removed by destroy(), which callers
 * run when done and which also runs on process exit, so a failure leaves nothing behind.
 * Only things this object created are ever removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { isAlive } from '../util/process.js';

/**
 * What each process creates is also written to a registry file named by its PID, so a run
 * killed before its cleanup (a timeout's SIGKILL) is cleaned up by the next run: only
 * namespaces and instances that a dead process of ours recorded are ever removed.
 */
const REGISTRY = '/run/pathwise-tests';

function reapDeadRuns(): void {
  if (!existsSync(REGISTRY)) return;
  for (const f of readdirSync(REGISTRY)) {
    const pid = Number(f.split('.')[0]);
    if (!pid || isAlive(pid)) continue;
    for (const line of readFileSync(`${REGISTRY}/${f}`, 'utf8').split('\n')) {
      const [kind, name] = line.split(' ');
      if (kind === 'netns' && name) sh('ip', ['netns', 'del', name], { allowFail: true });
      if (kind === 'link' && name) sh('ip', ['link', 'del', name], { allowFail: true });
      if (kind === 'instance' && name && /^[a-z0-9_-]+$/.test(name))
        rmSync(`/sys/fs/bpf/pathwise/${name}`, { recursive: true, force: true });
    }
    rmSync(`${REGISTRY}/${f}`, { force: true });
  }
}

function record(kind: 'netns' | 'link' | 'instance', name: string): void {
  mkdirSync(REGISTRY, { recursive: true });
  appendFileSync(`${REGISTRY}/${process.pid}.list`, `${kind} ${name}\n`);
}

const live = new Set<Topology>();
process.on('exit', () => {
  for (const t of live) t.destroy();
});
let callerHandlesSignals = false;
/** For a caller with its own orderly shutdown on SIGINT/SIGTERM (which then destroys). */
export function leaveSignalsToCaller(): void {
  callerHandlesSignals = true;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (callerHandlesSignals) return;
    for (const t of live) t.destroy();
    process.exit(130);
  });
}

export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    if (opts.allowFail) return err.stdout ?? '';
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

export interface VethEnd {
  ns?: string;
  name: string;
  addr?: string;
  /** The ifindex to create this end with (default: the namespace's next). */
  index?: number;
}

export class Topology {
  /** Unique per run, short enough for 15-character interface names. */
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  private readonly instances: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  constructor(tag = 't') {
    reapDeadRuns();
    this.prefix = `pw${tag}${randomBytes(3).toString('hex')}`;
    live.add(this);
  }

  /** Records a Pathwise instance named after this topology: its pins go with destroy() (an
   * instance a daemon ran keeps them by design), or after a crash with the next run. */
  recordInstance(name: string): void {
    record('instance', name);
    this.instances.push(name);
  }

  name(suffix: string): string {
    const n = `${this.prefix}${suffix}`;
    if (n.length > 15) throw new Error(`interface name ${n} is longer than 15 characters`);
    return n;
  }

  addNamespace(suffix: string): string {
    const ns = this.name(suffix);
    record('netns', ns);
    sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * A veth pair with end A in namespace nsA and end B in nsB (undefined: the root namespace).
   * Each end is created in its namespace, so the root namespace's ifindex counter does not
   * move; `index` picks an end's ifindex (e.g. one above 1024, as hosts that churn interfaces
   * have).
   */
  addVeth(a: VethEnd, b: VethEnd): void {
    const an = this.name(a.name);
    const bn = this.name(b.name);
    // veth_newlink() takes the peer's ifindex only when the first end's was given as well.
    if (b.index && !a.index) throw new Error(`veth ${an}/${bn}: give end A an index too (the kernel ignores the peer's otherwise)`);
    if (!a.ns) record('link', an);
    else if (!b.ns) record('link', bn);
    const where = (end: VethEnd) => [...(end.ns ? ['netns', end.ns] : []), ...(end.index ? ['index', String(end.index)] : [])];
    sh('ip', ['link', 'add', an, ...where(a), 'type', 'veth', 'peer', 'name', bn, ...where(b)]);
    if (!a.ns) this.rootLinks.push(an);
    else if (!b.ns) this.rootLinks.push(bn);
    for (const [end, n] of [
      [a, an],
      [b, bn],
    ] as const) {
      if (end.addr) this.exec(end.ns, 'ip', ['addr', 'add', end.addr, 'dev', n]);
      this.exec(end.ns, 'ip', ['link', 'set', n, 'up']);
    }
  }

  exec(ns: string | undefined, cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
    return ns ? sh('ip', ['netns', 'exec', ns, cmd, ...args], opts) : sh(cmd, args, opts);
  }

  /** A long-running process in a namespace, killed by destroy() (only ones started here). */
  spawn(ns: string | undefined, cmd: string, args: string[]): ChildProcess {
    const child = ns ? spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'pipe' }) : spawn(cmd, args, { stdio: 'pipe' });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const c of this.children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
    // Deleting a namespace deletes the veth ends inside it (and so their peers).
    for (const ns of this.namespaces) sh('ip', ['netns', 'del', ns], { allowFail: true });
    for (const l of this.rootLinks) sh('ip', ['link', 'del', l], { allowFail: true });
    // Pins left by an instance (its interfaces are gone with the namespaces and links above).
    for (const name of this.instances) {
      if (!/^[a-z0-9_-]+$/.test(name)) continue;
      rmSync(`/sys/fs/bpf/pathwise/${name}`, { recursive: true, force: true });
      rmSync(`/run/pathwise/${name}`, { recursive: true, force: true });
    }
    // This process's registry entries are done with once everything it made is gone.
    if (live.size === 0) rmSync(`${REGISTRY}/${process.pid}.list`, { force: true });
  }
}
