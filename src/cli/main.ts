/**
 * `pathwise`: the command-line entry point. Each command lives in src/cli/commands/; this file
 * wires them up and turns every failure into a clear message and a catalog exit code.
 */
import { Command, CommanderError } from 'commander';

import { enterNetns } from '../ops/netns.js';
import { registerAttach } from './commands/attach.js';
import { registerCapture } from './commands/capture.js';
import { registerReplay } from './commands/replay.js';
import { registerDaemon } from './commands/daemon.js';
import { registerDoctor } from './commands/doctor.js';
import { registerFilter } from './commands/filter.js';
import { registerEvents } from './commands/events.js';
import { registerFlows } from './commands/flows.js';
import { registerApi } from './commands/api.js';
import { registerDecision } from './commands/decision.js';
import { registerGateway } from './commands/gateway.js';
import { registerNeigh } from './commands/neigh.js';
import { registerPath } from './commands/path.js';
import { registerRoute } from './commands/route.js';
import { registerService } from './commands/service.js';
import { registerStats } from './commands/stats.js';
import { reportError } from './output.js';

export function buildProgram(): Command {
  const program = new Command('pathwise')
    .description('eBPF routing, filtering and packet insight')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showSuggestionAfterError()
    // Errors are printed once, by reportError(), in the format the user asked for.
    .configureOutput({ outputError: () => {} })
    .option('--netns <name>', 'act in this network namespace (like ip netns exec, but keeping the host bpffs)', process.env.PATHWISE_NETNS)
    .exitOverride()
    .hook('preAction', (cmd) => {
      const ns = cmd.opts<{ netns?: string }>().netns;
      if (ns) enterNetns(ns);
    });
  registerDoctor(program);
  registerAttach(program);
  registerRoute(program);
  registerStats(program);
  registerNeigh(program);
  registerPath(program);
  registerFilter(program);
  registerService(program);
  registerFlows(program);
  registerApi(program);
  registerDecision(program);
  registerGateway(program);
  registerEvents(program);
  registerCapture(program);
  registerReplay(program);
  registerDaemon(program);
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ outputError: () => {} });
    c.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // --help and --version end through exitOverride with code 0.
    if (e instanceof CommanderError && (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version'))
      return 0;
    return reportError(e, json);
  }
}
