/** `pathwise service …`: load-balanced L4 services (Maglev over backends, NAT or DSR). */
import { Option, type Command } from 'commander';

import { HEALTH_DEFAULTS } from '../../control/config/defaults.js';
import type { ConfigService } from '../../control/config/forms.js';
import { PwError } from '../../errors.js';
import { DEFAULT_TABLE_SIZE } from '../../lb/maglev.js';
import {
  backendKey,
  checkService,
  formatBackend,
  LB_HASHES,
  LB_MODES,
  LB_ON_DOWN,
  MAX_WEIGHT,
  parseBackend,
  parseServiceAddress,
  serviceKey,
  type LbHash,
  type LbMode,
  type LbOnDown,
  type ServiceSpec,
} from '../../lb/service.js';
import { formatAddress, parseAddress } from '../../util/ip.js';
import type { Operations } from '../../ops/operations.js';
import { backendFor } from '../backend.js';
import { color, printJson } from '../output.js';
import { printWritten, withInstance, type InstanceOptions } from './common.js';

const specJson = (s: ServiceSpec) => ({
  name: s.name,
  address: serviceKey(s),
  mode: s.mode,
  hash: s.hash,
  tableSize: s.tableSize,
  ...(s.snat ? { snat: formatAddress(s.snat.family, s.snat.addr) } : {}),
  onBackendDown: s.onDown ?? 'keep',
  backends: s.backends.map(formatBackend),
});

/** A backend's weight as listed now (undefined: no such service or backend; the change that follows says so). */
async function weightOf(ops: Operations, name: string, backend: string): Promise<number | undefined> {
  let key: string;
  try {
    key = backendKey(parseBackend(backend, 'argument 2'));
  } catch {
    return undefined;
  }
  return (await ops.listServices()).find((s) => s.name === name)?.backends.find((b) => b.backend === key)?.weight;
}

/** `--health tcp | http:/PATH | https:/PATH | udp:PAYLOAD | none` as the config's health section. */
function parseHealth(text: string): ConfigService['health'] {
  const m = /^(tcp|http|https|udp|none)(?::(.*))?$/.exec(text);
  if (!m) throw new PwError('PW_ERR_USAGE', `--health must be tcp, http:/PATH, https:/PATH, udp:PAYLOAD or none, got '${text}'`);
  const type = m[1] as ConfigService['health']['type'];
  const arg = m[2];
  if ((type === 'http' || type === 'https') && arg !== undefined && !arg.startsWith('/'))
    throw new PwError('PW_ERR_USAGE', `--health ${type}: the path starts with '/', got '${arg}'`);
  if (type === 'udp' && !arg) throw new PwError('PW_ERR_USAGE', '--health udp:PAYLOAD: a udp check sends a payload');
  return {
    ...HEALTH_DEFAULTS,
    type,
    ...((type === 'http' || type === 'https') && arg ? { path: arg } : {}),
    ...(type === 'udp' ? { send: arg } : {}),
  };
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerService(program: Command): void {
  const service = program.command('service').description('load-balanced L4 services: Maglev over backends, connections kept, NAT or DSR');
  withInstance(
    service
      .command('add')
      .description('add a service (VIP:PORT/PROTO, port * for every port; [V6ADDR]:PORT/PROTO for IPv6)')
      .argument('<name>')
      .argument('<address>')
      .option('--backend <addr:port[@weight]>', 'a backend (repeat the option for each)', collect, [])
      .addOption(new Option('--mode <mode>', 'nat, or layer-2 dsr').choices(LB_MODES).default('nat'))
      .addOption(new Option('--hash <fields>', 'what picks a new connection’s backend').choices(LB_HASHES).default('five-tuple'))
      .option('--table-size <prime>', 'Maglev table slots (a prime)', String(DEFAULT_TABLE_SIZE))
      .option('--snat <addr>', 'NAT mode: the source address backends see (they need no route back to clients)')
      .option('--health <check>', "the daemon's checks: tcp, http:/PATH, https:/PATH, udp:PAYLOAD or none (default tcp)")
      .addOption(
        new Option(
          '--on-backend-down <policy>',
          "a failed backend's connections: kept until they end, or reset (Pathwise resets TCP; UDP moves to a live backend)",
        )
          .choices(LB_ON_DOWN)
          .default('keep'),
      )
      .option('--replace', 'change the service of that name if there is one'),
  ).action(
    async (
      name: string,
      address: string,
      opts: InstanceOptions & {
        backend: string[];
        mode: LbMode;
        hash: LbHash;
        tableSize: string;
        snat?: string;
        health?: string;
        onBackendDown: LbOnDown;
        replace?: boolean;
      },
    ) => {
      const tableSize = Number(opts.tableSize);
      if (!/^\d+$/.test(opts.tableSize)) throw new PwError('PW_ERR_USAGE', `--table-size must be a prime number, got '${opts.tableSize}'`);
      const spec = checkService(
        {
          name,
          ...parseServiceAddress(address, `argument 2 ('${address}')`),
          mode: opts.mode,
          hash: opts.hash,
          tableSize,
          backends: opts.backend.map((b, i) => parseBackend(b, `--backend ${i + 1} ('${b}')`)),
          ...(opts.snat ? { snat: parseAddress(opts.snat, `--snat ('${opts.snat}')`) } : {}),
          ...(opts.onBackendDown === 'reset' ? { onDown: 'reset' as const } : {}),
        },
        `service ${name}`,
      );
      const health = opts.health === undefined ? undefined : parseHealth(opts.health);
      const w = await (await backendFor(opts)).addService(spec, { replace: !!opts.replace, health });
      printWritten(
        w,
        opts.json,
        (s) => console.log(`service ${s.name}: ${serviceKey(s)} ${s.mode}, ${s.backends.length} backend(s)`),
        specJson,
      );
    },
  );
  withInstance(service.command('del').description('delete a service (its connections end with it)').argument('<name>')).action(
    async (name: string, opts: InstanceOptions) => {
      const w = await (await backendFor(opts)).deleteService(name);
      printWritten(w, opts.json, (s) => console.log(`deleted service ${s.name} (${serviceKey(s)})`), specJson);
    },
  );
  withInstance(
    service
      .command('drain')
      .description('give a backend weight 0: no new connections, established ones stay')
      .argument('<name>')
      .argument('<backend>', 'ADDR:PORT as listed'),
  ).action(async (name: string, backend: string, opts: InstanceOptions) => {
    const ops = await backendFor(opts);
    const before = await weightOf(ops, name, backend);
    const w = await ops.setBackendWeight(name, backend, 0);
    printWritten(w, opts.json, (s) => console.log(`service ${s.name}: ${backend} drained`), specJson);
    // Weight 0 forgets the weight it had: say it, so that it can be given back.
    if (!opts.json && before)
      console.log(color.dim(`its weight was ${before}: 'pathwise service weight ${name} ${backend} ${before}' gives it back`));
  });
  withInstance(
    service
      .command('weight')
      .description("set a backend's weight: 0 drains it, more gives it its share of new connections again (with the service's slow start)")
      .argument('<name>')
      .argument('<backend>', 'ADDR:PORT as listed')
      .argument('<weight>', `0-${MAX_WEIGHT}`),
  ).action(async (name: string, backend: string, weightText: string, opts: InstanceOptions) => {
    const weight = Number(weightText);
    if (!/^\d+$/.test(weightText) || weight > MAX_WEIGHT)
      throw new PwError('PW_ERR_USAGE', `a backend's weight is a whole number 0-${MAX_WEIGHT}, got '${weightText}'`, {
        where: 'argument 3',
      });
    const ops = await backendFor(opts);
    const before = await weightOf(ops, name, backend);
    const w = await ops.setBackendWeight(name, backend, weight);
    printWritten(
      w,
      opts.json,
      (s) =>
        console.log(`service ${s.name}: ${backend} weight ${weight}${before === undefined || before === weight ? '' : ` (was ${before})`}`),
      specJson,
    );
  });
  withInstance(service.command('list').description('services and their backends: state, weight, share, connections')).action(
    async (opts: InstanceOptions) => {
      const rows = await (await backendFor(opts)).listServices();
      if (opts.json) return printJson(rows);
      if (!rows.length) return console.log(color.dim('no services'));
      for (const s of rows) {
        // Active counts scaled up from a sample of a large connection table are marked as estimates.
        const about = s.activeSample === undefined ? '' : '~';
        console.log(
          `${color.bold(s.name)}  ${s.address}  ${s.mode}  ${color.dim(`hash ${s.hash}, table ${s.tableSize}; ${s.connections} connections, ${about}${s.active} active, ${s.packets} pkts`)}`,
        );
        for (const b of s.backends) {
          const state = b.health === 'up' ? (b.weight ? color.green('up') : color.yellow('drained')) : color.red('down');
          const rtt = b.checkRttMs === undefined ? '' : ` check ${b.checkRttMs.toFixed(2)} ms`;
          const ramp = b.ramp === undefined ? '' : `, slow start at ${Math.round(b.ramp * 100)} %`;
          console.log(
            `  ${b.backend.padEnd(42)} ${state.padEnd(16)} weight ${String(b.weight).padEnd(4)} share ${(b.share * 100).toFixed(1).padStart(5)} %  ${color.dim(`${b.connections} connections, ${about}${b.active} active, ${b.packets} pkts${rtt}${ramp}`)}`,
          );
        }
      }
    },
  );
}
