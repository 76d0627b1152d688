/**
 * `pathwise`: the command-line entry point. Each command lives in src/cli/commands/; this file
 * wires them up and turns every failure into a clear message and a catalog exit code.
 */
import { Command, CommanderError } from 'commander';

import { enterNetns } from '../ops/netns.js';
import { reportError } from './output.js';
import { failedIn, usageError } from './usage-error.js';

type Register = (program: Command) => void;

/**
 * The command modules, each imported only when needed: a module costs its imports at the CLI's
 * start (all of them together ~0.2 s here, the replay and capture ones pulling in the data plane
 * and SQLite), and a run needs the one its command lives in. In `pathwise --help` order.
 */
const MODULES: Record<string, () => Promise<Register>> = {
  doctor: async () => (await import('./commands/doctor.js')).registerDoctor,
  attach: async () => (await import('./commands/attach.js')).registerAttach,
  route: async () => (await import('./commands/route.js')).registerRoute,
  stats: async () => (await import('./commands/stats.js')).registerStats,
  neigh: async () => (await import('./commands/neigh.js')).registerNeigh,
  path: async () => (await import('./commands/path.js')).registerPath,
  filter: async () => (await import('./commands/filter.js')).registerFilter,
  service: async () => (await import('./commands/service.js')).registerService,
  flows: async () => (await import('./commands/flows.js')).registerFlows,
  api: async () => (await import('./commands/api.js')).registerApi,
  decision: async () => (await import('./commands/decision.js')).registerDecision,
  gateway: async () => (await import('./commands/gateway.js')).registerGateway,
  events: async () => (await import('./commands/events.js')).registerEvents,
  capture: async () => (await import('./commands/capture.js')).registerCapture,
  replay: async () => (await import('./commands/replay.js')).registerReplay,
  daemon: async () => (await import('./commands/daemon.js')).registerDaemon,
  completion: async () => (await import('./commands/completion.js')).registerCompletion,
};

/** Commands that need every module's commands registered: the completion script lists them all. */
const NEEDS_ALL = new Set(['completion']);

/** Each top-level command and the module that registers it (test/unit/cli-modules.test.ts
 * checks this table against what each module registers). */
export const MODULE_OF: Readonly<Record<string, string>> = {
  doctor: 'doctor',
  attach: 'attach',
  detach: 'attach',
  down: 'attach',
  route: 'route',
  stats: 'stats',
  neigh: 'neigh',
  path: 'path',
  rule: 'filter',
  block: 'filter',
  ratelimit: 'filter',
  service: 'service',
  flows: 'flows',
  api: 'api',
  decision: 'decision',
  audit: 'decision',
  gateway: 'gateway',
  events: 'events',
  capture: 'capture',
  replay: 'replay',
  daemon: 'daemon',
  status: 'daemon',
  diff: 'daemon',
  apply: 'daemon',
  history: 'daemon',
  rollback: 'daemon',
  config: 'daemon',
  completion: 'completion',
};

/** The register function of every module (for help, suggestions, and the table's check). */
export async function allRegisters(): Promise<Record<string, Register>> {
  const out: Record<string, Register> = {};
  for (const [name, load] of Object.entries(MODULES)) out[name] = await load();
  return out;
}

/** The command word of argv (after the global options), or undefined. */
function commandWord(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--netns')
      i++; // its value
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * The program with the modules `only` names (default: all). A run loads the module of its
 * command; anything else (help, a mistyped command, which wants suggestions) loads all.
 */
export async function buildProgram(only?: string[]): Promise<Command> {
  const registers = only ? await Promise.all(only.map((m) => MODULES[m]!())) : Object.values(await allRegisters());
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
  for (const register of registers) register(program);
  const quiet = (c: Command): void => {
    c.exitOverride(failedIn(c)).configureOutput({ outputError: () => {} });
    c.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  return program;
}

/** Whether argv asks for JSON: --json as an option, not as an argument after `--`. */
export function jsonAsked(argv: string[]): boolean {
  const at = argv.indexOf('--json');
  const end = argv.indexOf('--');
  return at >= 0 && (end < 0 || at < end);
}

export async function main(argv: string[]): Promise<number> {
  const json = jsonAsked(argv);
  try {
    const word = commandWord(argv);
    const module = word === undefined || NEEDS_ALL.has(word) ? undefined : MODULE_OF[word];
    await (await buildProgram(module ? [module] : undefined)).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // --help and --version end through exitOverride with code 0.
    if (e instanceof CommanderError && (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version'))
      return 0;
    return reportError(e instanceof CommanderError ? usageError(e, argv) : e, json);
  }
}
