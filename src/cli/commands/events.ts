/** `pathwise events`: the pipeline's packet events (rule log action, samples, drops), live. */
import { Command, InvalidArgumentError, Option } from 'commander';

import { Dataplane } from '../../dataplane/dataplane.js';
import { PwError } from '../../errors.js';
import { decodeEvent, EVENT_KINDS, openEventRing, type EventKind, type PacketEvent } from '../../insight/events.js';
import { formatSummary } from '../../insight/packet-summary.js';
import { eventsControl, ringCounters, setEventsControl } from '../../insight/summary.js';
import type { ApiClient } from '../client.js';
import { color } from '../output.js';
import { daemonFor, positiveInt, withInstance, type InstanceOptions } from './common.js';

interface EventsOptions extends InstanceOptions {
  kind?: EventKind[];
  count?: number;
  sample?: number;
  drops?: boolean;
}

const kinds = (v: string): EventKind[] => {
  const list = v.split(',');
  for (const k of list) if (!EVENT_KINDS.includes(k as EventKind)) throw new InvalidArgumentError(`'${k}' is not an event kind (${EVENT_KINDS.join(', ')})`);
  return list as EventKind[];
};

function printEvent(e: PacketEvent, json: boolean): void {
  if (json) return void process.stdout.write(`${JSON.stringify(e)}\n`);
  const paint = e.kind === 'drop' ? color.red : e.kind === 'log' ? color.yellow : (s: string) => s;
  const via = e.oif ? ` → ${e.oif}` : '';
  const rule = e.rule ? ` rule ${e.rule}` : '';
  console.log(`${e.time.slice(11, 23)} ${paint(e.kind.padEnd(6))} ${e.iif}${via} ${formatSummary(e.packet)} len ${e.len}: ${e.verdict} (${e.reason})${rule}`);
}

/** A run that ends on SIGINT/SIGTERM, on stop(), or once `count` events were printed. */
function runUntil(count: number | undefined, onStop: () => void): { counted: () => void; stop: () => void; stopped: () => boolean; done: Promise<void> } {
  let n = 0;
  let stopped = false;
  let finish!: () => void;
  const done = new Promise<void>((res) => (finish = res));
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    onStop();
    finish();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    counted: () => {
      if (count !== undefined && ++n >= count) stop();
    },
    stop,
    stopped: () => stopped,
    done,
  };
}

async function throughDaemon(opts: EventsOptions, daemon: ApiClient): Promise<void> {
  if (opts.sample !== undefined || opts.drops) {
    throw new PwError('PW_ERR_USAGE', '--sample and --drops change what the pipeline sends; with a daemon running, that is its config', {
      hint: 'set insight.sampleRate and insight.dropEvents in the config (then pathwise apply)',
    });
  }
  const ws = daemon.websocket(`/v1/events${opts.kind ? `?kind=${opts.kind.join(',')}` : ''}`);
  const run = runUntil(opts.count, () => ws.close());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      if (!opts.json) console.error(color.dim(`events from the daemon (${daemon.where}); Ctrl-C to stop`));
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => reject(new PwError(res.statusCode === 401 ? 'PW_ERR_AUTH' : 'PW_ERR_UNREACHABLE', `the daemon refused the event stream (HTTP ${res.statusCode})`)));
    ws.once('error', (e) => reject(new PwError('PW_ERR_UNREACHABLE', `cannot open the event stream at ${daemon.where}: ${e.message}`)));
  });
  ws.on('message', (data) => {
    if (run.stopped()) return; // what was already on its way when the count was reached
    const m = JSON.parse(String(data)) as { type: 'event'; event: PacketEvent } | { type: 'lost'; client: number; ring: number };
    if (m.type === 'lost') {
      if (opts.json) process.stdout.write(`${JSON.stringify(m)}\n`);
      else console.error(color.yellow(`lost: ${m.client} events this client was too slow for, ${m.ring} the kernel ring had no room for`));
      return;
    }
    printEvent(m.event, !!opts.json);
    run.counted();
  });
  ws.once('close', () => run.stop());
  await run.done;
}

async function local(opts: EventsOptions): Promise<void> {
  const dp = await Dataplane.open(opts.instance, {}, { create: false });
  const maps = dp.pipeline.maps;
  const before = eventsControl(maps);
  const want = { sampleRate: opts.sample ?? before.sampleRate, drops: opts.drops || before.drops };
  const changed = want.sampleRate !== before.sampleRate || want.drops !== before.drops;
  const lostAtStart = ringCounters(maps).eventsLost;
  const ring = openEventRing(opts.instance);
  if (changed) setEventsControl(maps, want);
  const filter = new Set(opts.kind ?? EVENT_KINDS);
  const run = runUntil(opts.count, () => ring.close());
  if (!opts.json) {
    const on = [want.sampleRate ? `1 in ${want.sampleRate} sampled` : '', want.drops ? 'drops' : '', 'rule log'].filter(Boolean).join(', ');
    console.error(color.dim(`events of instance ${opts.instance} (${on}); Ctrl-C to stop`));
  }
  try {
    const reading = (async () => {
      for await (const rec of ring) {
        if (run.stopped()) break;
        const e = decodeEvent(rec);
        if (!filter.has(e.kind)) continue;
        printEvent(e, !!opts.json);
        run.counted();
      }
    })();
    await run.done;
    await reading.catch(() => undefined);
  } finally {
    // Put back what this command changed (the next packets stop being sent).
    if (changed) setEventsControl(maps, before);
    ring.close();
    const lost = ringCounters(maps).eventsLost - lostAtStart;
    if (lost) console.error(color.yellow(`${lost} events found the ring full and were lost`));
    dp.close();
  }
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
    const daemon = await daemonFor(opts);
    if (daemon) await throughDaemon(opts, daemon);
    else await local(opts);
  });
}
