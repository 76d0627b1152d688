/**
 * The daemon's writes: each user-visible change as an edit of the running config, which the
 * controller validates, applies and records as a version (Controller.edit). What the local
 * backend does to the maps directly, a daemon does through these. An edit replaces or removes
 * items of the draft; it never changes one in place. What an edit adds is checked against the
 * config schema where it will stand (routes[3]), once; the controller then checks the draft's
 * cross-references.
 */
import type { ConfigDraft } from '../control/controller.js';
import { validateItem } from '../control/config/load.js';
import { RateLimit, Route, Rule, Service, type Config } from '../control/config/schema.js';
import { configServiceOf, serviceSpecOf } from '../control/config/forms.js';
import { reweighted } from './services.js';
import { PwError } from '../errors.js';
import { prefixKey } from '../util/ip.js';

export type Edit = (cfg: ConfigDraft) => void;

/** Several edits as one: one version, or none when any of them throws. */
export const all =
  (list: Edit[]): Edit =>
  (cfg) => {
    for (const e of list) e(cfg);
  };
type Mode = Config['interfaces'][number]['mode'];

export const attachInterface =
  (name: string, mode: Mode): Edit =>
  (cfg) => {
    const at = cfg.interfaces.findIndex((i) => i.name === name);
    if (at >= 0) cfg.interfaces[at] = { name, mode };
    else cfg.interfaces.push({ name, mode });
  };

export const detachInterface =
  (name: string): Edit =>
  (cfg) => {
    const at = cfg.interfaces.findIndex((i) => i.name === name);
    if (at < 0) throw new PwError('PW_ERR_NOT_FOUND', `the pipeline is not attached to ${name}`, { where: name });
    cfg.interfaces.splice(at, 1);
  };

/** Adds a route (`key`: its canonical prefix); `replace` changes one that exists. */
export const addRoute =
  (key: string, route: unknown, replace: boolean, where: string): Edit =>
  (cfg) => {
    const found = cfg.routes.findIndex((r) => prefixKey(r.prefix) === key);
    if (found >= 0 && !replace)
      throw new PwError('PW_ERR_EXISTS', `a route to ${key} exists`, { where, hint: 'send replace: true to change it' });
    const at = found >= 0 ? found : cfg.routes.length;
    cfg.routes[at] = validateItem(Route, route, `routes[${at}]`);
  };

/** Deletes the config's route to `key`. `hostRoute`: the data plane holds one of the host's own there. */
export const deleteRoute =
  (key: string, hostRoute: () => boolean): Edit =>
  (cfg) => {
    const at = cfg.routes.findIndex((r) => prefixKey(r.prefix) === key);
    if (at < 0)
      throw new PwError(
        'PW_ERR_NOT_FOUND',
        hostRoute() ? `${key} is one of the host's own routes (from its addresses)` : `no route to ${key}`,
        { where: key },
      );
    cfg.routes.splice(at, 1);
  };

/** Inserts a rule at a 1-based position (default: last). */
export const insertRule =
  (rule: unknown, position?: number): Edit =>
  (cfg) => {
    const at = position === undefined ? cfg.rules.length : Math.min(cfg.rules.length, position - 1);
    cfg.rules.splice(at, 0, validateItem(Rule, rule, `rules[${at}]`));
  };

/**
 * Deletes the rule with this id. `positionOf` reads the running rules when the edit runs
 * (inside the controller's queue), where they are the config's rules in the same order.
 */
export const deleteRule =
  (id: number, positionOf: (id: number) => number): Edit =>
  (cfg) => {
    const pos = positionOf(id);
    if (pos < 0 || pos >= cfg.rules.length) throw new PwError('PW_ERR_NOT_FOUND', `no rule with id ${id}`, { where: `rule ${id}` });
    cfg.rules.splice(pos, 1);
  };

/** Adds or changes a rate limiter. */
export const setLimiter =
  (name: string, limiter: unknown): Edit =>
  (cfg) => {
    cfg.ratelimits[name] = validateItem(RateLimit, limiter, `ratelimits.${name}`);
  };

export const deleteLimiter =
  (name: string): Edit =>
  (cfg) => {
    if (!cfg.ratelimits[name]) throw new PwError('PW_ERR_NOT_FOUND', `no rate limiter named '${name}'`, { where: name });
    delete cfg.ratelimits[name];
  };

/** Blocks prefixes (canonical), until a time (ISO 8601) or for good. */
export const addBlocks =
  (prefixes: string[], until?: string): Edit =>
  (cfg) => {
    cfg.blocklists.push({ prefixes, ...(until ? { until } : {}) });
  };

/**
 * Unblocks prefixes (canonical keys), all or none: each must be in the config's lists. One
 * pass over the lists for the whole batch (an edit for each of 100,000 prefixes, each a pass
 * over a list as long, held the daemon for hours).
 */
export const deleteBlocks =
  (keys: readonly string[]): Edit =>
  (cfg) => {
    const wanted = new Set(keys);
    const found = new Set<string>();
    cfg.blocklists = cfg.blocklists
      .map((b) => {
        const prefixes = b.prefixes.filter((p) => {
          const key = prefixKey(p);
          if (!wanted.has(key)) return true;
          found.add(key);
          return false;
        });
        return prefixes.length === b.prefixes.length ? b : { ...b, prefixes };
      })
      .filter((b) => b.prefixes.length || b.file);
    const missing = [...wanted].filter((k) => !found.has(k));
    if (missing.length) {
      const fromFile = cfg.blocklists.find((b) => b.file);
      const named = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
      throw new PwError(
        'PW_ERR_NOT_FOUND',
        `${named} ${missing.length > 1 ? 'are' : 'is'} not in the config's blocklists; nothing was unblocked`,
        {
          where: missing[0],
          hint: fromFile ? `entries from files (${fromFile.file}) are removed by editing the file` : undefined,
        },
      );
    }
  };

export const deleteBlock = (key: string): Edit => deleteBlocks([key]);

/** Adds a service (its config form); `replace` changes one that exists. */
export const addService =
  (name: string, service: unknown, replace: boolean): Edit =>
  (cfg) => {
    if (cfg.services[name] && !replace)
      throw new PwError('PW_ERR_EXISTS', `a service named '${name}' exists`, { where: name, hint: 'send replace: true to change it' });
    // Health checks and slow start not given stay as they were (a changed backend list keeps them).
    const given = service as { health?: unknown; slowStart?: unknown };
    const health = given.health ?? cfg.services[name]?.health;
    const slowStart = given.slowStart ?? cfg.services[name]?.slowStart;
    cfg.services[name] = validateItem(
      Service,
      { ...given, ...(health ? { health } : {}), ...(slowStart ? { slowStart } : {}) },
      `services.${name}`,
    );
  };

export const deleteService =
  (name: string): Edit =>
  (cfg) => {
    if (!cfg.services[name]) throw new PwError('PW_ERR_NOT_FOUND', `no service named '${name}'`, { where: name });
    delete cfg.services[name];
  };

/** A new weight for one backend of a config service (0 drains it). */
export const setBackendWeight =
  (name: string, backend: string, weight: number): Edit =>
  (cfg) => {
    const s = cfg.services[name];
    if (!s) throw new PwError('PW_ERR_NOT_FOUND', `no service named '${name}'`, { where: name });
    cfg.services[name] = {
      ...configServiceOf(reweighted(serviceSpecOf(name, s, `services.${name}`), backend, weight)),
      health: s.health,
      slowStart: s.slowStart,
    };
  };
