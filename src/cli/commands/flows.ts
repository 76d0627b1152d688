/** `pathwise flows`: the flow table, top talkers, and the histograms and table pressure. */
import { Command, Option } from 'commander';

import { FLOW_SORTS, type FlowSort, type TalkerBy } from '../../insight/flow-table.js';
import type { FlowsReport, SummaryReport } from '../../ops/insight.js';
import { backendFor } from '../backend.js';
import { color, printJson, printTable } from '../output.js';
import { positiveInt, withInstance, type InstanceOptions } from './common.js';

const human = (n: number, unit = '') => {
  const steps = ['', 'k', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1000 && i < steps.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i ? n.toFixed(1) : String(Math.round(n))}${steps[i]}${unit}`;
};

const endpoint = (addr: string, port: number, family: number, proto: string) =>
  proto === 'tcp' || proto === 'udp' ? (family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`) : addr;

function printFlows(r: FlowsReport): void {
  console.log(color.dim(`${r.flows.length} of ${r.total} flows, by ${r.sort}`));
  const rows = r.flows.map((f) => [
    f.proto,
    endpoint(f.src, f.sport, f.family, f.proto),
    endpoint(f.dst, f.dport, f.family, f.proto),
    human(f.packets),
    human(f.bytes, 'B'),
    human(f.bps, 'b/s'),
    f.handshake ? `${f.handshake.rttMs.toFixed(2)}ms` : '-',
    f.tcpFlags || '-',
    `${f.iif}→${f.oif ?? (f.verdict === 'redirect' ? '?' : f.verdict)}`,
    f.prefix ?? '-',
    f.service ? `${f.service}${f.backend ? `→${f.backend}` : ''}` : '-',
    `${f.idleSeconds.toFixed(1)}s`,
  ]);
  printTable(['PROTO', 'SOURCE', 'DESTINATION', 'PKTS', 'BYTES', 'RATE', 'RTT', 'FLAGS', 'PATH', 'ROUTE', 'SERVICE', 'IDLE'], rows);
}

function printSummary(s: SummaryReport): void {
  const ft = s.flowTable;
  console.log(
    `flow table: ${ft.entries} of ${ft.max} (${((100 * ft.entries) / ft.max).toFixed(1)}%); created ${ft.created}, evicted ${ft.evicted}, refused ${ft.insertFailed}`,
  );
  console.log(
    `ring buffers: events ${s.rings.eventsSent} sent, ${s.rings.eventsLost} lost; capture ${s.rings.captureSent} sent, ${s.rings.captureLost} lost`,
  );
  const total = s.sizes.reduce((a, b) => a + b.packets, 0) || 1;
  const bar = (n: number) => '#'.repeat(Math.round((40 * n) / total));
  console.log(color.bold('packet sizes (frame bytes)'));
  for (const b of s.sizes) console.log(`  ${b.bucket.padStart(10)} ${String(b.packets).padStart(12)} ${bar(b.packets)}`);
  console.log(color.bold('protocols'));
  for (const p of s.protocols) console.log(`  ${p.proto.padStart(10)} ${String(p.packets).padStart(12)} ${bar(p.packets)}`);
}

export function registerFlows(program: Command): void {
  const flows = program.command('flows').description('the flow table: busiest flows, top talkers, histograms');

  withInstance(
    flows
      .command('list', { isDefault: true })
      .description('the busiest flows, with rate, TCP handshake RTT and path')
      .option('--top <n>', 'how many flows', positiveInt('--top'), 20)
      .addOption(new Option('--sort <key>', 'order by').choices(FLOW_SORTS).default('bytes')),
  ).action(async (opts: InstanceOptions & { top: number; sort: FlowSort }) => {
    const r = await (await backendFor(opts)).flows({ top: opts.top, sort: opts.sort });
    if (opts.json) return printJson(r);
    printFlows(r);
  });

  withInstance(
    flows
      .command('talkers')
      .description('traffic summed by source, destination or route prefix')
      .addOption(new Option('--by <what>', 'group by').choices(['src', 'dst', 'prefix']).default('src'))
      .option('--top <n>', 'how many', positiveInt('--top'), 10),
  ).action(async (opts: InstanceOptions & { by: TalkerBy; top: number }) => {
    const r = await (await backendFor(opts)).talkers({ by: opts.by, top: opts.top });
    if (opts.json) return printJson(r);
    console.log(color.dim(`top ${r.talkers.length} by ${r.by}, of ${r.total} flows`));
    printTable(
      [r.by === 'prefix' ? 'PREFIX' : r.by === 'src' ? 'SOURCE' : 'DESTINATION', 'FLOWS', 'PKTS', 'BYTES'],
      r.talkers.map((t) => [t.key, String(t.flows), human(t.packets), human(t.bytes, 'B')]),
    );
  });

  withInstance(flows.command('summary').description('packet-size and protocol histograms, flow-table pressure, ring-buffer loss')).action(
    async (opts: InstanceOptions) => {
      const r = await (await backendFor(opts)).summary();
      if (opts.json) return printJson(r);
      printSummary(r);
    },
  );
}
