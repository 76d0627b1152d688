/** `pathwise neigh …`: the data plane's copy of the kernel's neighbour table. */
import type { Command } from 'commander';

import { backendFor } from '../backend.js';
import { color, printJson } from '../output.js';
import { withInstance, type InstanceOptions } from './common.js';

export function registerNeigh(program: Command): void {
  const neigh = program.command('neigh').description("the data plane's copy of the kernel's neighbour table (next-hop MACs)");

  withInstance(
    neigh
      .command('sync')
      .description('copy the kernel neighbour table into the data plane now, and resolve gateways')
      .option('--watch', 'keep following the kernel (netlink neighbour events) until interrupted'),
  ).action(async (opts: InstanceOptions & { watch?: boolean }) => {
    const ops = await backendFor(opts);
    const r = await ops.syncNeighbors();
    if (opts.json && !opts.watch) return printJson(r);
    console.log(`neighbours: ${r.set} set, ${r.removed} removed`);
    for (const g of r.unresolvedGateways) console.log(color.yellow(`gateway ${g.via} on ${g.dev} does not answer`));
    if (!opts.watch) return;
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    await ops.watchNeighbors((s) => console.log(`neighbours: ${s.set} set, ${s.removed} removed`), stop.signal);
  });

  withInstance(neigh.command('list').description('the neighbours the data plane knows')).action(async (opts: InstanceOptions) => {
    const rows = await (await backendFor(opts)).neighbors();
    if (opts.json) return printJson(rows);
    for (const r of rows) console.log(`${r.addr} dev ${r.dev} lladdr ${r.mac}`);
  });
}
