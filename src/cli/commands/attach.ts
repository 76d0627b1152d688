import { type Command, Option } from 'commander';

import { Pipeline } from '../../dataplane/pipeline.js';
import { PwError } from '../../errors.js';
import { color, printJson } from '../output.js';
import { daemonFor, printProposal, withDataplane, withInstance, type InstanceOptions, type ProposeResult } from './common.js';

export function registerAttach(program: Command): void {
  withInstance(
    program
      .command('attach')
      .description('load the pipeline (if not loaded) and attach it to interfaces')
      .argument('<interface...>', 'interfaces to attach to')
      .addOption(new Option('--mode <mode>', 'XDP mode').choices(['native', 'generic', 'auto']).default('auto'))
      .addOption(new Option('--fib <mode>', 'route with Pathwise\'s FIB or the kernel\'s (when loading)').choices(['own', 'kernel']).default('own'))
      .option('--no-flows', 'do not keep the flow table (when loading)')
      .option('--drop-malformed', 'drop malformed packets instead of passing them to the kernel (when loading)'),
  ).action(async (ifaces: string[], opts: InstanceOptions & { mode: 'native' | 'generic' | 'auto'; fib: 'own' | 'kernel'; flows: boolean; dropMalformed?: boolean }) => {
    const daemon = await daemonFor(opts);
    if (daemon) {
      let last: ProposeResult | undefined;
      for (const name of ifaces) last = await daemon.request<ProposeResult>('POST', '/v1/interfaces', { name, mode: opts.mode });
      return opts.json ? printJson(last) : printProposal(last!);
    }
    const wasLoaded = Pipeline.isPinned(opts.instance);
    const result = await withDataplane(opts, (dp) => {
      if (wasLoaded && dp.pipeline.settings.fib !== opts.fib && process.argv.includes('--fib')) {
        throw new PwError('PW_ERR_INVALID', `instance '${opts.instance}' is loaded with fib ${dp.pipeline.settings.fib}`, {
          hint: `'pathwise down --instance ${opts.instance}' first to reload it with --fib ${opts.fib}`,
        });
      }
      return { loaded: dp.pipeline.created, settings: dp.pipeline.settings, interfaces: dp.attach(ifaces, opts.mode) };
    }, true, { fib: opts.fib, flows: opts.flows, dropMalformed: !!opts.dropMalformed });
    if (opts.json) return printJson(result);
    if (result.loaded) console.log(`loaded the pipeline (fib ${result.settings.fib}) for instance ${opts.instance}`);
    for (const i of result.interfaces) {
      const how = i.already ? color.dim('already attached') : i.fallbackReason ? color.yellow(`${i.mode} (native unavailable: ${i.fallbackReason})`) : color.green(i.mode);
      console.log(`${i.name}: ${how}`);
    }
  });

  withInstance(program.command('detach').description('detach the pipeline from interfaces').argument('<interface...>')).action(async (ifaces: string[], opts: InstanceOptions) => {
    const daemon = await daemonFor(opts);
    if (daemon) {
      let last: ProposeResult | undefined;
      for (const name of ifaces) last = await daemon.request<ProposeResult>('DELETE', `/v1/interfaces/${encodeURIComponent(name)}`);
      return opts.json ? printJson(last) : printProposal(last!);
    }
    const result = await withDataplane(opts, (dp) => dp.detach(ifaces), false);
    if (opts.json) return printJson(result);
    for (const r of result) console.log(`${r.name}: ${r.detached ? 'detached' : color.dim('was not attached')}`);
  });

  withInstance(program.command('down').description('detach from every interface and unload the instance (removes its pins)')).action(async (opts: InstanceOptions) => {
    if (!opts.server && (await daemonFor(opts))) {
      throw new PwError('PW_ERR_EXISTS', `a daemon serves instance '${opts.instance}'`, { hint: 'stop it first (its data plane keeps forwarding until down)' });
    }
    if (!Pipeline.isPinned(opts.instance)) {
      if (opts.json) return printJson({ instance: opts.instance, detached: [], unloaded: false });
      return console.log(`instance ${opts.instance} is not loaded`);
    }
    const { detached } = Pipeline.down(opts.instance);
    if (opts.json) return printJson({ instance: opts.instance, detached, unloaded: true });
    console.log(`instance ${opts.instance}: detached from ${detached.join(', ') || 'no interface'}; unloaded`);
  });
}
