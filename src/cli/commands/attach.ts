/** `pathwise attach|detach|down`: the pipeline on interfaces, and unloading an instance. */
import { type Command, Option } from 'commander';

import { backendFor } from '../backend.js';
import { color, printJson, someOf } from '../output.js';
import { printWritten, withInstance, type InstanceOptions } from './common.js';
import type { AttachMode } from '../../dataplane/dataplane.js';

export function registerAttach(program: Command): void {
  withInstance(
    program
      .command('attach')
      .description('load the pipeline (if not loaded) and attach it to interfaces')
      .argument('<interface...>', 'interfaces to attach to')
      .addOption(
        new Option(
          '--mode <mode>',
          'XDP mode (auto: generic on a veth, else native where the driver has it), or tc: the pipeline at TC ingress (no copy on a veth)',
        )
          .choices(['native', 'generic', 'auto', 'tc'])
          .default('auto'),
      )
      .addOption(
        new Option('--fib <mode>', "route with Pathwise's FIB or the kernel's (when loading)").choices(['own', 'kernel']).default('own'),
      )
      .option('--no-flows', 'do not keep the flow table (when loading)')
      .option('--drop-malformed', 'drop malformed packets instead of passing them to the kernel (when loading)'),
  ).action(
    async (
      ifaces: string[],
      opts: InstanceOptions & { mode: AttachMode; fib: 'own' | 'kernel'; flows: boolean; dropMalformed?: boolean },
    ) => {
      const w = await (
        await backendFor(opts)
      ).attach(ifaces, {
        mode: opts.mode,
        load: { fib: opts.fib, flows: opts.flows, dropMalformed: !!opts.dropMalformed },
        fibGiven: process.argv.includes('--fib'),
      });
      printWritten(w, opts.json, (result) => {
        if (result.loaded) console.log(`loaded the pipeline (fib ${result.settings.fib}) for instance ${opts.instance}`);
        for (const i of result.interfaces) {
          const how = i.already
            ? color.dim('already attached')
            : i.fallbackReason
              ? color.yellow(`${i.mode} (native unavailable: ${i.fallbackReason})`)
              : color.green(i.mode);
          console.log(`${i.name}: ${how}`);
          for (const note of i.notes ?? []) console.log(color.yellow(`  note: ${note}`));
        }
      });
    },
  );

  withInstance(program.command('detach').description('detach the pipeline from interfaces').argument('<interface...>')).action(
    async (ifaces: string[], opts: InstanceOptions) => {
      const w = await (await backendFor(opts)).detach(ifaces);
      printWritten(w, opts.json, (result) => {
        for (const r of result) console.log(`${r.name}: ${r.detached ? 'detached' : color.dim('was not attached')}`);
      });
    },
  );

  withInstance(program.command('down').description('detach from every interface and unload the instance (removes its pins)')).action(
    async (opts: InstanceOptions) => {
      const r = await (await backendFor(opts)).down();
      if (opts.json) return printJson(r);
      if (!r.unloaded) return console.log(`instance ${opts.instance} is not loaded`);
      console.log(`instance ${opts.instance}: detached from ${someOf(r.detached) || 'no interface'}; unloaded`);
    },
  );
}
