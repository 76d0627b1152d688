/**
 * Where a command's operations go, chosen once: the daemon that serves the instance (its unix
 * socket answers), or the one at --server; else this process, on the pinned data plane. A
 * socket nobody listens on (left by a killed daemon) counts as none.
 */
import { ApiClient, type ClientOptions } from '../client/api-client.js';
import { RemoteOperations } from '../client/remote.js';
import type { PwError } from '../errors.js';
import { LocalOperations } from '../ops/local.js';
import type { Operations } from '../ops/operations.js';

export async function backendFor(opts: ClientOptions): Promise<Operations> {
  const client = ApiClient.find(opts);
  if (client && (opts.server || (await answers(client)))) return new RemoteOperations(client, opts.instance);
  return new LocalOperations(opts.instance);
}

async function answers(client: ApiClient): Promise<boolean> {
  try {
    await client.request('GET', '/healthz');
    return true;
  } catch (e) {
    if ((e as PwError).code === 'PW_ERR_UNREACHABLE') return false;
    throw e;
  }
}
