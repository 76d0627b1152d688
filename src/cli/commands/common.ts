/** Options every instance command shares, and helpers for parsing and printing. */
import { InvalidArgumentError, type Command } from 'commander';

import { formatChange, type ProposeResult, type Written } from '../../ops/operations.js';
import { userInstance } from '../../util/instance.js';
import { color, printJson } from '../output.js';

export interface InstanceOptions {
  instance: string;
  json?: boolean;
  server?: string;
  token?: string;
  socket?: string;
  cacert?: string;
  cert?: string;
  key?: string;
}

export function withInstance(cmd: Command): Command {
  return cmd
    .option(
      '--instance <name>',
      'Pathwise instance (pins under /sys/fs/bpf/pathwise/NAME)',
      usage(userInstance),
      userInstanceOrExit(process.env.PATHWISE_INSTANCE ?? 'default'),
    )
    .option('--server <url>', 'talk to the daemon at this URL (default: its unix socket when it runs)', process.env.PATHWISE_SERVER)
    .option('--token <token>', 'API token for --server', process.env.PATHWISE_TOKEN)
    .option('--cacert <file>', "PEM CA certificate of an https --server (default: the system's)", process.env.PATHWISE_CACERT)
    .option('--cert <file>', 'PEM client certificate, for a --server that asks for one', process.env.PATHWISE_CERT)
    .option('--key <file>', 'PEM key of --cert', process.env.PATHWISE_KEY)
    .option('--socket <path>', "the daemon's unix socket (default /run/pathwise/INSTANCE/api.sock)", process.env.PATHWISE_SOCKET)
    .option('--json', 'print JSON');
}

/** A commander parser for a whole number from 1 to `max`, named in its error. */
export function positiveInt(name: string, max = 10_000_000) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    return n;
  };
}

/** A commander parser from a parser that throws PwError: its message becomes a usage error. */
export function usage<T>(parse: (v: string) => T) {
  return (v: string): T => {
    try {
      return parse(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** What a change made through the daemon prints: its changes, diff-style, and the version. */
export function printProposal(r: ProposeResult): void {
  for (const c of r.changes) {
    const line = formatChange(c);
    console.log(line.startsWith('+') ? color.green(line) : line.startsWith('-') ? color.red(line) : color.yellow(line));
  }
  const total = r.changesTotal ?? r.changes.length;
  if (total > r.changes.length) console.log(color.dim(`… and ${total - r.changes.length} more`));
  if (r.dryRun) console.log(color.dim(total ? `${total} change(s) would be applied` : 'no change'));
  else if (r.version !== undefined) console.log(`applied as version ${r.version}`);
  else console.log(color.dim('no change'));
  for (const n of r.notes ?? []) console.log(color.yellow(`note: ${n}`));
}

/**
 * Prints what a change answered: the daemon's proposal, or (locally) `local` of the result. With
 * --json, the proposal or `json` of the result.
 */
export function printWritten<T>(
  w: Written<T>,
  json: boolean | undefined,
  local: (r: T) => void,
  asJson: (r: T) => unknown = (r) => r,
): void {
  if (w.via === 'daemon') return json ? printJson(w.proposal) : printProposal(w.proposal);
  if (json) printJson(asJson(w.result));
  else local(w.result);
}

/** PATHWISE_INSTANCE checked as --instance is (a bad one is a usage error before anything runs). */
function userInstanceOrExit(name: string): string {
  try {
    return userInstance(name);
  } catch (e) {
    console.error(`pathwise: PATHWISE_INSTANCE: ${(e as Error).message}`);
    process.exit(2);
  }
}
