/** The interfaces the pipeline is attached to: attached first, detached last. */
import type { Dataplane } from '../../dataplane/dataplane.js';
import type { AttachMode } from '../../dataplane/dataplane.js';
import type { Config } from '../config/schema.js';
import { Phase, type Reconciler } from '../reconcile.js';

export type InterfaceChange = {
  kind: 'interface';
  phase: number;
  op: 'attach' | 'detach' | 'reattach';
  name: string;
  mode: AttachMode;
  before?: string;
};

type Desired = Map<string, AttachMode>;
/** Interfaces running this instance's program, with their mode (native, generic or tc). */
type Running = Map<string, string>;

export const interfacesReconciler: Reconciler<Desired, Running, InterfaceChange> = {
  kinds: ['interface'],
  desired: (cfg: Config) => new Map(cfg.interfaces.map((i) => [i.name, i.mode])),
  running: (dp: Dataplane) => new Map(dp.attached().map((a) => [a.name, a.mode])),
  plan(running, desired) {
    const out: InterfaceChange[] = [];
    for (const [name, mode] of desired) {
      const now = running.get(name);
      if (!now) out.push({ kind: 'interface', phase: Phase.ATTACH, op: 'attach', name, mode });
      else if (mode !== 'auto' && mode !== now)
        out.push({ kind: 'interface', phase: Phase.DETACH, op: 'reattach', name, mode, before: now });
    }
    for (const [name, mode] of running)
      if (!desired.has(name)) out.push({ kind: 'interface', phase: Phase.DETACH, op: 'detach', name, mode: 'auto', before: mode });
    return out;
  },
  apply(c, t) {
    const dp = t.dp();
    const attach = (mode: AttachMode) => {
      for (const r of dp.attach([c.name], mode)) for (const n of r.notes) t.note?.(n);
    };
    if (c.op === 'attach') {
      attach(c.mode);
      return () => void t.dp().detach([c.name]);
    }
    const back = (c.before ?? 'auto') as AttachMode;
    // Between XDP and TC, attach() puts the new program in place before it takes the old one
    // off; between XDP modes, the old one must go first (one XDP program per interface).
    const inPlace = c.op === 'reattach' && (c.mode === 'tc' || back === 'tc');
    if (!inPlace) dp.detach([c.name]);
    if (c.op === 'reattach') {
      attach(c.mode);
      return () => {
        if (!inPlace) t.dp().detach([c.name]);
        t.dp().attach([c.name], back);
      };
    }
    return () => void t.dp().attach([c.name], back);
  },
  summarize: (c) => ({ kind: c.kind, op: c.op, key: c.name, before: c.before, after: c.op === 'detach' ? undefined : c.mode }),
};
