/**
 * Load-balanced services: each config service becomes one in the data plane, added, changed
 * (its new Maglev table swapped in whole) or removed. Changes run after the routes (a service's
 * backends are reached through them) and before the blocklists.
 */
import type { ServiceSpec } from '../../lb/service.js';
import { formatBackend, serviceKey } from '../../lb/service.js';
import { formatAddress } from '../../util/ip.js';
import { serviceSpecOf } from '../config/forms.js';
import { Phase, type Reconciler } from '../reconcile.js';

export type ServiceState = Map<string, ServiceSpec>;

export type ServiceChange = {
  kind: 'service';
  phase: number;
  op: 'add' | 'update' | 'delete';
  name: string;
  spec?: ServiceSpec;
  old?: ServiceSpec;
};

/** One line per service, what a change shows and what decides whether one is needed. */
export const serviceText = (s: ServiceSpec) =>
  `${serviceKey(s)} ${s.mode}${s.snat ? ` snat ${formatAddress(s.snat.family, s.snat.addr)}` : ''}${s.onDown === 'reset' ? ' on-down reset' : ''} hash ${s.hash} table ${s.tableSize} backends ${s.backends.map(formatBackend).join(',') || 'none'}`;

export const servicesReconciler: Reconciler<ServiceState, ServiceState, ServiceChange> = {
  kinds: ['service'],
  desired: (cfg) => new Map(Object.entries(cfg.services).map(([name, s]) => [name, serviceSpecOf(name, s, `services.${name}`)])),
  running: (dp) => new Map(dp.services.specs().map((s) => [s.name, s])),
  plan(running, desired) {
    const out: ServiceChange[] = [];
    // Deletions first, so that every address given up is free before one is taken: a service
    // renamed, one moved to where another was, two that swap addresses. A service that moves
    // to another address is deleted and added again (a new address is a new service, its
    // connections gone with the old one, as the data plane would do it in one step anyway).
    const moved = new Set<string>();
    for (const [name, old] of running) {
      const spec = desired.get(name);
      if (spec && serviceKey(spec) !== serviceKey(old)) moved.add(name);
      if (!spec || moved.has(name)) out.push({ kind: 'service', phase: Phase.SERVICES, op: 'delete', name, old });
    }
    for (const [name, spec] of desired) {
      const old = running.get(name);
      if (!old || moved.has(name)) out.push({ kind: 'service', phase: Phase.SERVICES, op: 'add', name, spec });
      else if (serviceText(old) !== serviceText(spec)) out.push({ kind: 'service', phase: Phase.SERVICES, op: 'update', name, spec, old });
    }
    return out;
  },
  apply(c, t) {
    const services = t.dp().services;
    if (c.op === 'delete') {
      services.remove(c.name);
      return () => void t.dp().services.set(c.old!);
    }
    services.set(c.spec!);
    return c.old ? () => void t.dp().services.set(c.old!) : () => void t.dp().services.remove(c.name);
  },
  summarize: (c) => ({
    kind: c.kind,
    op: c.op,
    key: c.name,
    before: c.old && serviceText(c.old),
    after: c.spec && serviceText(c.spec),
  }),
};
