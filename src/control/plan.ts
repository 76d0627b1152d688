/**
 * The diff between what runs and what is wanted, as an ordered list of changes: the minimal
 * set of map updates, in the order apply.ts performs them. The order keeps every packet on the
 * old state or the new one, never a mix that drops it:
 *
 *   settings (program swap) → attach new interfaces → add/update rate limiters → flip the rule
 *   bank → delete unused limiters → add/replace routes → delete routes → add blocks → delete
 *   blocks → events (sampling, drop events) → detach interfaces
 *
 * Egress ports exist before routes use them and go after the last route to them is gone; a
 * limiter exists before a rule names it; replaced routes change with one store.
 */
import type { XdpModeRequest } from '../bpf/index.js';
import type { BlockEntry, Limiter } from '../dataplane/filter-tables.js';
import type { RouteView } from '../dataplane/dataplane.js';
import type { PipelineSettings } from '../dataplane/pipeline.js';
import type { RouteSpec } from '../dataplane/route-syntax.js';
import { formatRule, type Rule, type RuleSpec } from '../filter/rule.js';
import type { EventsControl } from '../insight/summary.js';
import type { DesiredBlock, DesiredState, LimiterSpec } from './desired.js';

/** What runs, read back from the data plane (see Controller.running). */
export interface RunningState {
  settings: PipelineSettings;
  /** Interfaces running this instance's program, with their XDP mode. */
  interfaces: Map<string, 'native' | 'generic' | string>;
  /** User routes (not the host's own), by prefix. */
  routes: Map<string, RouteView>;
  limiters: Map<string, Limiter>;
  rules: Rule[];
  blocks: Map<string, BlockEntry>;
  events: EventsControl;
}

export type Change =
  | { kind: 'settings'; before: PipelineSettings; after: PipelineSettings }
  | { kind: 'interface'; op: 'attach' | 'detach' | 'reattach'; name: string; mode: XdpModeRequest; before?: string }
  | { kind: 'route'; op: 'add' | 'replace' | 'delete'; prefix: string; before?: string; after?: string; spec?: RouteSpec; old?: RouteView }
  | { kind: 'limiter'; op: 'add' | 'update' | 'delete'; name: string; spec?: LimiterSpec; old?: Limiter }
  | { kind: 'rules'; before: Rule[]; after: (RuleSpec & { id?: number })[] }
  | { kind: 'block'; op: 'add' | 'delete'; prefix: string; block?: DesiredBlock; old?: BlockEntry }
  | { kind: 'events'; before: EventsControl; after: EventsControl };

/** A change for people and JSON: what, which, and the before/after texts. */
export interface ChangeSummary {
  kind: Change['kind'];
  op: string;
  key: string;
  before?: string;
  after?: string;
}

export interface NexthopText {
  via: string | null;
  dev: string;
  weight: number;
}

/** A route's canonical text: equal texts mean equal routes. */
export function routeText(type: string, nexthops: NexthopText[], metric: number): string {
  const nh = [...nexthops]
    .sort((a, b) => (a.dev + (a.via ?? '')).localeCompare(b.dev + (b.via ?? '')))
    .map((n) => `${n.via ? `via ${n.via} ` : ''}dev ${n.dev}${nexthops.length > 1 || n.weight !== 1 ? ` weight ${n.weight}` : ''}`);
  return [type === 'unicast' ? '' : type, ...nh, metric ? `metric ${metric}` : ''].filter(Boolean).join(' ');
}

const settingsText = (s: PipelineSettings) =>
  `fib ${s.fib}, flows ${s.flows ? 'on' : 'off'}, routeStats ${s.routeStats ? 'on' : 'off'}, dropMalformed ${s.dropMalformed ? 'on' : 'off'}, ipv4Groups ${s.ipv4Groups}, ruleBitmaps ${s.ruleBitmaps}`;

const eventsText = (e: EventsControl) => `sample ${e.sampleRate ? `1 in ${e.sampleRate}` : 'off'}, drops ${e.drops ? 'on' : 'off'}`;

const limiterText = (l: LimiterSpec) =>
  `${l.rate}/s burst ${l.burst} per /${l.per4},/${l.per6}${l.blockAfter ? ` block after ${l.blockAfter} for ${l.blockForMs} ms` : ''}`;

/**
 * The changes that turn `running` into `desired`. `describe` gives a desired route's text in
 * routeText form (resolving gateways to interfaces); it throws for a route that cannot be
 * installed, which fails the whole plan before anything is applied.
 */
export function planChanges(running: RunningState, desired: DesiredState, describe: (spec: RouteSpec) => string): Change[] {
  const changes: Change[] = [];
  const r = running.settings;
  const d = desired.settings;
  if (r.fib !== d.fib || r.flows !== d.flows || r.routeStats !== d.routeStats || r.dropMalformed !== d.dropMalformed || r.ipv4Groups !== d.ipv4Groups || r.ruleBitmaps !== d.ruleBitmaps) {
    changes.push({ kind: 'settings', before: r, after: d });
  }

  const detach: Change[] = [];
  for (const [name, mode] of desired.interfaces) {
    const now = running.interfaces.get(name);
    if (!now) changes.push({ kind: 'interface', op: 'attach', name, mode });
    else if (mode !== 'auto' && mode !== now) detach.push({ kind: 'interface', op: 'reattach', name, mode, before: now });
  }
  for (const [name, mode] of running.interfaces) if (!desired.interfaces.has(name)) detach.push({ kind: 'interface', op: 'detach', name, mode: 'auto', before: mode });

  const limiterDeletes: Change[] = [];
  for (const [name, spec] of desired.limiters) {
    const old = running.limiters.get(name);
    if (!old) changes.push({ kind: 'limiter', op: 'add', name, spec });
    else if (limiterText(old) !== limiterText(spec)) changes.push({ kind: 'limiter', op: 'update', name, spec, old });
  }
  for (const [name, old] of running.limiters) if (!desired.limiters.has(name)) limiterDeletes.push({ kind: 'limiter', op: 'delete', name, old });

  const before = running.rules.map(formatRule);
  const after = desired.rules.map(formatRule);
  if (before.join('\n') !== after.join('\n')) {
    // Rules that stay keep their ids, and with them their hit counters.
    const free = [...running.rules];
    const withIds = desired.rules.map((spec, i) => {
      const k = free.findIndex((x) => formatRule(x) === after[i]);
      return k >= 0 ? { ...spec, id: free.splice(k, 1)[0]!.id } : { ...spec };
    });
    changes.push({ kind: 'rules', before: running.rules, after: withIds });
  }
  changes.push(...limiterDeletes);

  const routeDeletes: Change[] = [];
  for (const [prefix, spec] of desired.routes) {
    const old = running.routes.get(prefix);
    const text = describe(spec);
    if (!old) changes.push({ kind: 'route', op: 'add', prefix, after: text, spec });
    else {
      const was = routeText(old.type, old.nexthops, old.metric);
      if (was !== text) changes.push({ kind: 'route', op: 'replace', prefix, before: was, after: text, spec, old });
    }
  }
  for (const [prefix, old] of running.routes) {
    if (!desired.routes.has(prefix)) routeDeletes.push({ kind: 'route', op: 'delete', prefix, before: routeText(old.type, old.nexthops, old.metric), old });
  }
  changes.push(...routeDeletes);

  for (const [prefix, block] of desired.blocks) if (!running.blocks.has(prefix)) changes.push({ kind: 'block', op: 'add', prefix, block });
  for (const [prefix, old] of running.blocks) if (!desired.blocks.has(prefix)) changes.push({ kind: 'block', op: 'delete', prefix, old });

  if (eventsText(running.events) !== eventsText(desired.events)) changes.push({ kind: 'events', before: running.events, after: desired.events });

  changes.push(...detach);
  return changes;
}

export function summarize(c: Change): ChangeSummary {
  switch (c.kind) {
    case 'settings':
      return { kind: c.kind, op: 'replace', key: 'pipeline', before: settingsText(c.before), after: settingsText(c.after) };
    case 'interface':
      return { kind: c.kind, op: c.op, key: c.name, before: c.before, after: c.op === 'detach' ? undefined : c.mode };
    case 'route':
      return { kind: c.kind, op: c.op, key: c.prefix, before: c.before, after: c.after };
    case 'limiter':
      return { kind: c.kind, op: c.op, key: c.name, before: c.old && limiterText(c.old), after: c.spec && limiterText(c.spec) };
    case 'rules':
      return { kind: c.kind, op: 'replace', key: `${c.after.length} rules`, before: c.before.map(formatRule).join('; '), after: c.after.map((r) => formatRule(r)).join('; ') };
    case 'events':
      return { kind: c.kind, op: 'replace', key: 'insight', before: eventsText(c.before), after: eventsText(c.after) };
    case 'block':
      return {
        kind: c.kind,
        op: c.op,
        key: c.prefix,
        after: c.block ? (c.block.expiresAt ? `until ${new Date(c.block.expiresAt).toISOString()}` : 'no expiry') : undefined,
      };
  }
}

/** One line per change, diff-style: + added, - removed, ~ changed. */
export function formatChange(s: ChangeSummary): string {
  const sign = /add|attach/.test(s.op) ? '+' : /delete|detach/.test(s.op) ? '-' : '~';
  const body =
    sign === '+' ? `${s.key}${s.after ? ` ${s.after}` : ''}` : sign === '-' ? `${s.key}${s.before ? ` ${s.before}` : ''}` : `${s.key}: ${s.before ?? ''} → ${s.after ?? ''}`;
  return `${sign} ${s.kind} ${body}`;
}
