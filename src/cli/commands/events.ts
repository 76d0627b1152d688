/** `pathwise events`: the pipeline's packet events (rule log action, samples, drops), live. */
import { Command, InvalidArgumentError, Option } from 'commander';

import { EVENT_KINDS, type EventKind, type PacketEvent } from '../../insight/events.js';
import { formatSummary } from '../../insight/packet-summary.js';
import { backendFor } from '../backend.js';
import { color } from '../output.js';
import { positiveInt, withInstance, type InstanceOptions } from './common.js';

interface EventsOptions extends InstanceOptions {
  kind?: EventKind[];
  count?: number;
  sample?: number;
  drops?: boolean;
}

const kinds = (v: string): EventKind[] => {
  const list = v.split(',');
  for (const k of list)
    if (!EVENT_KINDS.includes(k as EventKind)) throw new InvalidArgumentError(`'${k}' is not an event kind (${EVENT_KINDS.join(', ')})`);
  return list as EventKind[];
};

function printEvent(e: PacketEvent, json: boolean): void {
  if (json) return void process.stdout.write(`${JSON.stringify(e)}\n`);
  const paint = e.kind === 'drop' ? color.red : e.kind === 'log' ? color.yellow : (s: string) => s;
  const via = e.oif ? ` → ${e.oif}` : '';
  const rule = e.rule ? ` rule ${e.rule}` : '';
  console.log(
    `${e.time.slice(11, 23)} ${paint(e.kind.padEnd(6))} ${e.iif}${via} ${formatSummary(e.packet)} len ${e.len}: ${e.verdict} (${e.reason})${rule}`,
  );
}

export function registerEvents(program: Command): void {
  withInstance(
    program
      .command('events')
      .description('packet events as they happen: rules with the log action, 1-in-N samples, drops')
      .addOption(new Option('--kind <kinds>', `only these kinds (${EVENT_KINDS.join(',')})`).argParser(kinds))
      .option('-c, --count <n>', 'stop after N events', positiveInt('--count'))
      .option('--sample <n>', 'without a daemon: also sample 1 packet in N while this runs', positiveInt('--sample', 1 << 30))
      .option('--drops', 'without a daemon: also send every dropped packet while this runs'),
  ).action(async (opts: EventsOptions) => {
    const ops = await backendFor(opts);
    const stop = new AbortController();
    const abort = () => stop.abort();
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    try {
      const { lost } = await ops.events(
        { kinds: opts.kind, count: opts.count, sample: opts.sample, drops: opts.drops },
        {
          signal: stop.signal,
          started: (where) => {
            if (!opts.json)
              console.error(
                color.dim(
                  ops.mode === 'daemon' ? `events from the daemon (${where}); Ctrl-C to stop` : `events of ${where}; Ctrl-C to stop`,
                ),
              );
          },
          item: (e) => printEvent(e, !!opts.json),
          lost: (m) => {
            if (opts.json) process.stdout.write(`${JSON.stringify({ type: 'lost', ...m })}\n`);
            else
              console.error(
                color.yellow(`lost: ${m.client} events this client was too slow for, ${m.ring} the kernel ring had no room for`),
              );
          },
        },
      );
      if (ops.mode === 'local' && lost) console.error(color.yellow(`${lost} events found the ring full and were lost`));
    } finally {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    }
  });
}
