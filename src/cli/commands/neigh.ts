import { spawn } from 'node:child_process';
import type { Command } from 'commander';

import { color, printJson } from '../output.js';
import { readVia, withDataplane, withInstance, type InstanceOptions } from './common.js';

export function registerNeigh(program: Command): void {
  const neigh = program.command('neigh').description("the data plane's copy of the kernel's neighbour table (next-hop MACs)");

  withInstance(
    neigh
      .command('sync')
      .description('copy the kernel neighbour table into the data plane now, and resolve gateways')
      .option('--watch', 'keep following the kernel (ip monitor neigh) until interrupted'),
  ).action(async (opts: InstanceOptions & { watch?: boolean }) => {
    await withDataplane(
      opts,
      async (dp) => {
        const unresolved = dp.resolveNeighbors();
        const r = dp.syncNeighbors();
        if (opts.json && !opts.watch) return printJson({ ...r, unresolvedGateways: unresolved });
        console.log(`neighbours: ${r.set} set, ${r.removed} removed`);
        for (const g of unresolved) console.log(color.yellow(`gateway ${g.via} on ${g.dev} does not answer`));
        if (!opts.watch) return;
        // Every change the kernel reports triggers a resync (batched: at most every 100 ms).
        const monitor = spawn('ip', ['monitor', 'neigh'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let timer: NodeJS.Timeout | null = null;
        monitor.stdout.on('data', () => {
          timer ??= setTimeout(() => {
            timer = null;
            const s = dp.syncNeighbors();
            if (s.set || s.removed) console.log(`neighbours: ${s.set} set, ${s.removed} removed`);
          }, 100);
        });
        await new Promise<void>((resolve) => {
          const stop = () => {
            monitor.kill();
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          monitor.once('exit', () => resolve());
        });
        if (timer) clearTimeout(timer);
      },
      true,
    );
  });

  withInstance(neigh.command('list').description("the neighbours the data plane knows")).action(async (opts: InstanceOptions) => {
    const rows = await readVia(opts, '/v1/neighbors', (dp) => dp.neighbors());
    if (opts.json) return printJson(rows);
    for (const r of rows) console.log(`${r.addr} dev ${r.dev} lladdr ${r.mac}`);
  });
}
