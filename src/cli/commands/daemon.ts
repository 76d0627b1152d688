/**
 * The daemon and the commands that exist only through it: status, diff, apply, history,
 * rollback, config.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';

import { PwError } from '../../errors.js';
import { color, printJson, someOf } from '../output.js';
import { backendFor } from '../backend.js';
import { userInstance } from '../../util/instance.js';
import { printProposal, usage, withInstance, type InstanceOptions } from './common.js';

function readConfigText(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new PwError('PW_ERR_NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`, { where: file });
  }
}

export function registerDaemon(program: Command): void {
  program
    .command('daemon')
    .description('run the control plane: load the config, own the data plane, serve the API (stopping it leaves forwarding running)')
    .requiredOption('-c, --config <file>', 'the config file (YAML or JSON); reloaded on SIGHUP and when it changes')
    .option('--instance <name>', "overrides the config's instance", usage(userInstance))
    .option('--state-dir <dir>', 'where the version history is kept', process.env.PATHWISE_STATE_DIR ?? '/var/lib/pathwise')
    .option('--log-level <level>', 'pino log level', process.env.PATHWISE_LOG_LEVEL ?? 'info')
    .action(async (opts: { config: string; instance?: string; stateDir: string; logLevel: string }) => {
      // Loaded here: the daemon's modules (the API server, the state database, metrics) are
      // most of what the CLI could load, and no other command needs them.
      const { Daemon } = await import('../../daemon/daemon.js');
      const d = await Daemon.start({ configFile: opts.config, instance: opts.instance, stateDir: opts.stateDir, logLevel: opts.logLevel });
      await new Promise<void>((done) => {
        const stop = () => void d.stop().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  withInstance(program.command('status').description("the daemon's view: config version, program, interfaces")).action(
    async (opts: InstanceOptions) => {
      const s = await (await backendFor(opts)).status();
      if (opts.json) return printJson(s);
      console.log(`instance ${s.instance}: version ${s.version}, program ${s.progId}, fib ${s.settings.fib}, pid ${s.pid}`);
      console.log(
        `attached to ${someOf(s.interfaces.map((i) => `${i.name} (${i.mode})`)) || 'nothing'}; ${s.routes} routes, ${s.rules} rules`,
      );
      const im = s.imports;
      if (im?.enabled) {
        console.log(
          `import: ${im.installed} routes installed of ${im.kernelRoutes} in the kernel's tables; ${im.events} events, ` +
            `${im.fullSyncs} full reads (last ${im.lastFullSyncSeconds.toFixed(3)} s), ${im.driftRepaired} drift repaired` +
            (im.lastError ? `; last error: ${im.lastError}` : ''),
        );
      }
      const ps = s.paths;
      if (ps?.groups) {
        console.log(
          `paths: ${ps.groups} steered groups, ${ps.paths} paths, ${ps.decisions} decisions; probes ${ps.probes.sent} sent, ` +
            `${ps.probes.replies} answered, ${ps.probes.lost} lost (${ps.probes.late} answered late)`,
        );
      }
    },
  );

  for (const [verb, dryRun] of [
    ['diff', true],
    ['apply', false],
  ] as const) {
    withInstance(
      program
        .command(verb)
        .description(
          dryRun
            ? 'show what applying a config would change (changes nothing)'
            : 'apply a config: the minimal changes, recorded as a new version',
        )
        .requiredOption('-f, --file <file>', "config file ('-' for standard input)"),
    ).action(async (opts: InstanceOptions & { file: string }, cmd: Command) => {
      const text = readConfigText(opts.file);
      const name = opts.file === '-' ? '<stdin>' : resolve(opts.file);
      // The daemon reads no file for a config it is sent: the files it names go with it.
      const [{ filesOf }, { parseConfig }] = await Promise.all([
        import('../../control/config/files.js'),
        import('../../control/config/load.js'),
      ]);
      const cfg = parseConfig(text, name);
      // The daemon to send it to is the one of the instance the file names, unless --instance
      // (or PATHWISE_INSTANCE) says otherwise: a daemon refuses another instance's config.
      if (cmd.getOptionValueSource('instance') === 'default' && process.env.PATHWISE_INSTANCE === undefined) opts.instance = cfg.instance;
      const files = filesOf(cfg, opts.file === '-' ? process.cwd() : dirname(name));
      const r = await (await backendFor(opts)).proposeConfig(text, name, dryRun, files);
      if (opts.json) return printJson(r);
      printProposal(r);
    });
  }

  withInstance(program.command('history').description('applied versions, newest first').option('-n, --limit <n>', 'how many', '20')).action(
    async (opts: InstanceOptions & { limit: string }) => {
      if (!/^\d+$/.test(opts.limit) || Number(opts.limit) < 1)
        throw new PwError('PW_ERR_USAGE', `--limit must be a positive number, got '${opts.limit}'`);
      const list = await (await backendFor(opts)).history(Number(opts.limit));
      if (opts.json) return printJson(list);
      for (const v of list)
        console.log(
          `${String(v.version).padStart(5)}  ${v.at}  ${v.actor.padEnd(10)} ${v.source}  ${color.dim(`${v.changesTotal ?? v.changes.length} change(s)`)}`,
        );
    },
  );

  withInstance(
    program.command('rollback').description('apply the config of an earlier version (recorded as a new version)').argument('<version>'),
  ).action(async (version: string, opts: InstanceOptions) => {
    if (!/^\d+$/.test(version)) throw new PwError('PW_ERR_USAGE', `version must be a number, got '${version}'`);
    const r = await (await backendFor(opts)).rollback(Number(version));
    if (opts.json) return printJson(r);
    printProposal(r);
  });

  const config = program.command('config').description('the config in force');
  withInstance(
    config.command('show').description('print the config in force (tokens redacted)').option('--at <version>', 'of an earlier version'),
  ).action(async (opts: InstanceOptions & { at?: string }) => {
    const cfg = await (await backendFor(opts)).config(opts.at ? Number(opts.at) : undefined);
    if (opts.json) return printJson(cfg);
    const { stringify } = await import('yaml');
    process.stdout.write(stringify(cfg));
  });
}
