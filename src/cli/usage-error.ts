/**
 * Usage errors in the words of the command they came from. Commander reports them without
 * saying where: `pathwise route bogus` said "unknown command 'bogus'" and pointed at the
 * top-level help, and in a group with a default command (`flows` runs `flows list`) a word the
 * group does not know reached the default command as an argument: "too many arguments for
 * 'list'". Here the error names the group, lists its commands, and points at its own help.
 */
import { Command, CommanderError } from 'commander';

import { PwError } from '../errors.js';

/** The command each usage error was raised in (recorded by failedIn's callback). */
const RAISED_IN = new WeakMap<CommanderError, Command>();

/** An exitOverride callback for `cmd`: remembers where the error came from, then throws it. */
export function failedIn(cmd: Command): (err: CommanderError) => never {
  return (err) => {
    RAISED_IN.set(err, cmd);
    throw err;
  };
}

/** `pathwise route add`: the command's words from the program down. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The commands a group offers, as its help lists them. */
const commandsOf = (group: Command) => group.commands.map((c) => c.name()).filter((n) => n !== 'help');

/**
 * The PwError for a usage error. `argv` is the command line as given: a group's default command
 * that was not named in it ran only because the group did not know the word it was given.
 */
export function usageError(e: CommanderError, argv: readonly string[]): PwError {
  const message = e.message.replace(/^error: /, '');
  let cmd = RAISED_IN.get(e);
  let unknown: string | undefined;
  if (e.code === 'commander.unknownCommand') unknown = /unknown command '([^']*)'/.exec(message)?.[1];
  else if (e.code === 'commander.excessArguments' && cmd?.parent?.parent && ![cmd.name(), ...cmd.aliases()].some((n) => argv.includes(n))) {
    unknown = cmd.args[cmd.registeredArguments.length];
    cmd = cmd.parent;
  }
  if (!cmd?.parent) return new PwError('PW_ERR_USAGE', message, { hint: "see 'pathwise --help'" });
  const hint = `see '${commandPath(cmd)} --help'`;
  if (unknown === undefined) return new PwError('PW_ERR_USAGE', message, { hint });
  const suggestion = /\(Did you mean (.+)\?\)/.exec(message)?.[1];
  return new PwError(
    'PW_ERR_USAGE',
    `unknown command '${unknown}' for '${commandPath(cmd)}'${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
    { hint: `its commands: ${commandsOf(cmd).join(', ')}; ${hint}` },
  );
}
