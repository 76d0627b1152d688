/**
 * Where a command's operations go, chosen once: the daemon that serves the instance (its unix
 * socket answers), or the one at --server; else this process, on the pinned data plane. A
 * socket nobody listens on (left by a killed daemon) counts as none.
 */
import type { ApiClient, ClientOptions } from '../client/api-client.js';
import type { PwError } from '../errors.js';
import type { Operations } from '../ops/operations.js';

/**
 * The two backends are loaded when chosen: every command pays for what it imports before it
 * runs (the CLI's start), and a command uses one of them.
 */
export async function backendFor(opts: ClientOptions): Promise<Operations> {
  const { ApiClient } = await import('../client/api-client.js');
  const client = ApiClient.find(opts);
  if (client && (opts.server || (await answers(client)))) {
    const { RemoteOperations } = await import('../client/remote.js');
    return new RemoteOperations(client, opts.instance);
  }
  const { LocalOperations } = await import('../ops/local.js');
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
