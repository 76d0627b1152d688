/** Options every data-plane command shares, and the two ways a command reaches the data plane. */
import { InvalidArgumentError, type Command } from 'commander';

import { Dataplane } from '../../dataplane/dataplane.js';
import type { PipelineSettings } from '../../dataplane/pipeline.js';
import { PwError } from '../../errors.js';
import { ApiClient } from '../client.js';
import { color } from '../output.js';
import type { ProposeResult } from '../../control/controller.js';
import { formatChange } from '../../control/plan.js';

export type { ProposeResult };

export interface InstanceOptions {
  instance: string;
  json?: boolean;
  server?: string;
  token?: string;
  socket?: string;
}

export function withInstance(cmd: Command): Command {
  return cmd
    .option('--instance <name>', 'Pathwise instance (pins under /sys/fs/bpf/pathwise/NAME)', process.env.PATHWISE_INSTANCE ?? 'default')
    .option('--server <url>', 'talk to the daemon at this URL (default: its unix socket when it runs)', process.env.PATHWISE_SERVER)
    .option('--token <token>', 'API token for --server', process.env.PATHWISE_TOKEN)
    .option('--socket <path>', "the daemon's unix socket (default /run/pathwise/INSTANCE/api.sock)", process.env.PATHWISE_SOCKET)
    .option('--json', 'print JSON');
}

/**
 * The daemon serving this instance, or null when none runs (the command then works locally).
 * A socket nobody listens on (left by a killed daemon) counts as none.
 */
export async function daemonFor(opts: InstanceOptions): Promise<ApiClient | null> {
  const c = ApiClient.find(opts);
  if (!c || opts.server) return c;
  try {
    await c.request('GET', '/healthz');
    return c;
  } catch (e) {
    if ((e as PwError).code === 'PW_ERR_UNREACHABLE') return null;
    throw e;
  }
}

/** For commands that only exist through the daemon. */
export async function requireDaemon(opts: InstanceOptions): Promise<ApiClient> {
  const c = await daemonFor(opts);
  if (!c) {
    throw new PwError('PW_ERR_NOT_RUNNING', `no daemon serves instance '${opts.instance}'`, {
      hint: "start one with 'pathwise daemon --config FILE', or give --server URL --token T",
    });
  }
  return c;
}

/**
 * Runs `fn` with the instance's data plane and closes it after. Commands that only read pass
 * create=false, so they report "not loaded" instead of loading an empty pipeline.
 */
export async function withDataplane<T>(opts: InstanceOptions, fn: (dp: Dataplane) => T | Promise<T>, create = true, settings: Partial<PipelineSettings> = {}): Promise<T> {
  const dp = await Dataplane.open(opts.instance, settings, { create });
  try {
    // Commands that change the data plane first bring the host's own routes up to date, so
    // local and on-link addresses are never sent to a gateway.
    if (create) {
      dp.syncSystemRoutes();
      dp.syncNeighbors();
    }
    return await fn(dp);
  } finally {
    dp.close();
  }
}

/** Reads through the daemon when one runs (GET `path`), else straight from the pinned maps. */
export async function readVia<T>(opts: InstanceOptions, path: string, local: (dp: Dataplane) => T | Promise<T>): Promise<T> {
  const daemon = await daemonFor(opts);
  return daemon ? daemon.request<T>('GET', path) : withDataplane(opts, local, false);
}

/** A commander parser for a whole number from 1 to `max`, named in its error. */
export function positiveInt(name: string, max = 10_000_000) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    return n;
  };
}

/** What a change made through the daemon prints: its changes, diff-style, and the version. */
export function printProposal(r: ProposeResult): void {
  for (const c of r.changes) {
    const line = formatChange(c);
    console.log(line.startsWith('+') ? color.green(line) : line.startsWith('-') ? color.red(line) : color.yellow(line));
  }
  if (r.dryRun) console.log(color.dim(r.changes.length ? `${r.changes.length} change(s) would be applied` : 'no change'));
  else if (r.version !== undefined) console.log(`applied as version ${r.version}`);
  else console.log(color.dim('no change'));
}
