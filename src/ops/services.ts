/** Load-balanced services over a data plane (no daemon: no health checks run). */
import type { Dataplane } from '../dataplane/dataplane.js';
import type { ServiceRow } from '../dataplane/service-table.js';
import { PwError } from '../errors.js';
import { backendKey, parseBackend, type ServiceSpec } from '../lb/service.js';

export const listServices = (dp: Dataplane): ServiceRow[] => dp.services.list();

export function addService(dp: Dataplane, spec: ServiceSpec, replace: boolean): ServiceSpec {
  if (!replace && dp.services.spec(spec.name))
    throw new PwError('PW_ERR_EXISTS', `a service named '${spec.name}' exists`, { where: spec.name, hint: 'use --replace to change it' });
  dp.services.set(spec);
  return spec;
}

export const deleteService = (dp: Dataplane, name: string): ServiceSpec => dp.services.remove(name);

/**
 * The service with one backend drained: weight 0, so it takes no new connection while the
 * ones it has stay. `backend` is ADDR:PORT as listed.
 */
export function drained(spec: ServiceSpec, backend: string, where = backend): ServiceSpec {
  const key = backendKey(parseBackend(backend, where));
  const at = spec.backends.findIndex((b) => backendKey(b) === key);
  if (at < 0)
    throw new PwError('PW_ERR_NOT_FOUND', `service '${spec.name}' has no backend ${key}`, {
      where,
      hint: `its backends: ${spec.backends.map((b) => backendKey(b)).join(', ') || 'none'}`,
    });
  return { ...spec, backends: spec.backends.map((b, i) => (i === at ? { ...b, weight: 0 } : b)) };
}

export function drainBackend(dp: Dataplane, name: string, backend: string): ServiceSpec {
  const spec = dp.services.spec(name);
  if (!spec) throw new PwError('PW_ERR_NOT_FOUND', `no service named '${name}'`, { where: name });
  const next = drained(spec, backend);
  dp.services.set(next);
  return next;
}
