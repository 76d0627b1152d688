/**
 * Who is asking. The unix socket (mode 0600, so only its owner — root — can connect) is
 * trusted as admin. TCP listeners require `Authorization: Bearer TOKEN` on every request but
 * /healthz; tokens are admin (read and write), readonly (GET only), or gateway (GET, and
 * decisions and gateway logs: what an API gateway needs to push blocks and seals, nothing else).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import { PwError } from '../errors.js';
import type { Config } from '../control/config/schema.js';

export interface Principal {
  name: string;
  role: 'admin' | 'readonly' | 'gateway';
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The principal for a TCP request, or a PW_ERR_AUTH/PW_ERR_FORBIDDEN error. */
export function authenticate(header: string | undefined, tokens: Config['api']['tokens'], method: string, url = ''): Principal {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m)
    throw new PwError('PW_ERR_AUTH', 'this listener needs an API token: send Authorization: Bearer TOKEN', {
      hint: 'tokens are set in the config under api.tokens',
    });
  const given = digest(m[1]!);
  // Compare digests in constant time, against every token (no early exit on a match).
  let found: Config['api']['tokens'][number] | undefined;
  for (const t of tokens) if (timingSafeEqual(given, digest(t.token)) && !found) found = t;
  if (!found) throw new PwError('PW_ERR_AUTH', 'the API token is not valid');
  const principal: Principal = { name: found.name, role: found.role };
  if (principal.role === 'admin' || method === 'GET' || method === 'HEAD') return principal;
  if (principal.role === 'gateway' && /^\/v1\/(decisions(\/[^/?]*)?|gateway\/logs)(\?|$)/.test(url)) return principal;
  if (principal.role === 'gateway')
    throw new PwError(
      'PW_ERR_FORBIDDEN',
      `token '${found.name}' is a gateway's: it may send decisions; ${method} ${url.split('?')[0]} needs an admin token`,
    );
  throw new PwError('PW_ERR_FORBIDDEN', `token '${found.name}' is read-only; ${method} needs an admin token`);
}
