/**
 * Network namespaces and veth pairs for tests. Every name carries a prefix unique to this
 * run; everything created is recorded and removed by destroy(), which tests call from an
 * after() hook and which also runs on process exit, so a failing test leaves nothing behind.
 * Only things this object created are ever removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const live = new Set<Topology>();
process.on('exit', () => {
  for (const t of live) t.destroy();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const t of live) t.destroy();
    process.exit(130);
  });
}

export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.allowFail) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

export class Topology {
  /** Unique per run, short enough for 15-character interface names. */
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  constructor(tag = 't') {
    this.prefix = `pw${tag}${randomBytes(3).toString('hex')}`;
    live.add(this);
  }

  name(suffix: string): string {
    const n = `${this.prefix}${suffix}`;
    if (n.length > 15) throw new Error(`interface name ${n} is longer than 15 characters`);
    return n;
  }

  addNamespace(suffix: string): string {
    const ns = this.name(suffix);
    sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A veth pair with end A in namespace nsA and end B in nsB (undefined: the root namespace). */
  addVeth(a: { ns?: string; name: string; addr?: string }, b: { ns?: string; name: string; addr?: string }): void {
    const an = this.name(a.name);
    const bn = this.name(b.name);
    sh('ip', ['link', 'add', an, 'type', 'veth', 'peer', 'name', bn]);
    if (!a.ns) this.rootLinks.push(an);
    else if (!b.ns) this.rootLinks.push(bn);
    for (const [end, n] of [
      [a, an],
      [b, bn],
    ] as const) {
      if (end.ns) sh('ip', ['link', 'set', n, 'netns', end.ns]);
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
  }
}
