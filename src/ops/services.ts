/** Load-balanced services over a data plane (no daemon: no health checks run). */
import type { Dataplane } from '../dataplane/dataplane.js';
import type { ServiceRow } from '../dataplane/service-table.js';
import { PwError } from '../errors.js';
import { backendKey, MAX_WEIGHT, parseBackend, type ServiceSpec } from '../lb/service.js';

export const listServices = (dp: Dataplane): ServiceRow[] => dp.services.list();

export function addService(dp: Dataplane, spec: ServiceSpec, replace: boolean): ServiceSpec {
  if (!replace && dp.services.spec(spec.name))
    throw new PwError('PW_ERR_EXISTS', `a service named '${spec.name}' exists`, { where: spec.name, hint: 'use --replace to change it' });
  dp.services.set(spec);
  return spec;
}

export const deleteService = (dp: Dataplane, name: string): ServiceSpec => dp.services.remove(name);

/**
 * The service with one backend's weight changed. Weight 0 drains it: it takes no new
 * connection while the ones it has stay; a weight above 0 gives it its share of new ones
 * again. `backend` is ADDR:PORT as listed.
 */
export function reweighted(spec: ServiceSpec, backend: string, weight: number, where = backend): ServiceSpec {
  if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT)
    throw new PwError('PW_ERR_INVALID', `'${weight}' is not a backend weight (0-${MAX_WEIGHT})`, { where: `${where} weight` });
  const key = backendKey(parseBackend(backend, where));
  const at = spec.backends.findIndex((b) => backendKey(b) === key);
  if (at < 0)
    throw new PwError('PW_ERR_NOT_FOUND', `service '${spec.name}' has no backend ${key}`, {
      where,
      hint: `its backends: ${spec.backends.map((b) => backendKey(b)).join(', ') || 'none'}`,
    });
  return { ...spec, backends: spec.backends.map((b, i) => (i === at ? { ...b, weight } : b)) };
}

export function setBackendWeight(dp: Dataplane, name: string, backend: string, weight: number): ServiceSpec {
  const spec = dp.services.spec(name);
  if (!spec) throw new PwError('PW_ERR_NOT_FOUND', `no service named '${name}'`, { where: name });
  const next = reweighted(spec, backend, weight);
  dp.services.set(next);
  return next;
}
