/** `pathwise stats`: traffic counters per interface. */
import type { Command } from 'commander';

import { backendFor } from '../backend.js';
import { printJson, someOf } from '../output.js';
import { withInstance, type InstanceOptions } from './common.js';

export function registerStats(program: Command): void {
  withInstance(
    program.command('stats').description('traffic counters per interface: packets and bytes by verdict, exceptions by reason'),
  ).action(async (opts: InstanceOptions) => {
    const r = await (await backendFor(opts)).stats();
    if (opts.json) return printJson(r);
    console.log(
      `instance ${r.instance}: fib ${r.settings.fib}; attached to ${someOf(r.attached.map((a) => `${a.name} (${a.mode})`)) || 'nothing'}`,
    );
    console.log(
      `routes: ${r.routes.ipv4} IPv4 (${r.routes.ipv4Groups}/${r.routes.ipv4GroupCapacity} /24 groups), ${r.routes.ipv6} IPv6 (${r.routes.ipv6Nodes}/${r.routes.ipv6NodeCapacity} nodes); ${r.nexthops.nexthops} nexthops in ${r.nexthops.groups} groups`,
    );
    for (const i of r.interfaces) {
      const pk = Object.entries(i.packets)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const rs = Object.entries(i.reasons)
        .filter(([k]) => k !== 'none')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      console.log(`  ${i.name}: ${pk}${rs ? `; exceptions: ${rs}` : ''}`);
    }
  });
}
