/**
 * Defaults of the config that commands need without the schema (zod and the schema take a
 * tenth of a second to load, which every CLI command would pay at its start).
 */

/** A service's health check when the config or the command names none. */
export const HEALTH_DEFAULTS = {
  type: 'tcp' as const,
  path: '/',
  status: 200,
  interval: '200ms',
  timeout: '200ms',
  rise: 2,
  fall: 3,
  passive: true,
};
