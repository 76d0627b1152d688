/**
 * Shell completion for `pathwise`, written from the program's own command tree (commander):
 * every command and subcommand, every option, the choices of options that have them,
 * interface names for interface arguments, namespaces for --netns, instances for --instance,
 * file names elsewhere. The tree is written into the script as tables, so a TAB costs bash a
 * lookup, not a start of the CLI; `pathwise completion bash` again after an upgrade.
 */
import type { Command, Option } from 'commander';

interface Node {
  /** The command words from the top, space-separated, from 'pathwise' (bash takes no empty key). */
  path: string;
  subcommands: string[];
  options: string[];
  /** Options that take a value (their value is the next word). */
  valued: string[];
  choices: Record<string, string[]>;
  /** What the command's arguments are: interfaces, or anything (files). */
  args: 'interfaces' | 'files' | 'none';
}

const flagsOf = (o: Option) => [o.long, o.short].filter((f): f is string => !!f);

function nodesOf(cmd: Command, path: string, out: Node[]): Node[] {
  const subs = cmd.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  // commander adds `help [command]` to commands with subcommands, and -h/--help to all.
  if (subs.length) subs.push('help');
  const options = [...cmd.options.flatMap(flagsOf), '-h', '--help'];
  const valued = cmd.options.filter((o) => o.required || o.optional).flatMap(flagsOf);
  const choices: Record<string, string[]> = {};
  for (const o of cmd.options) if (o.argChoices) for (const f of flagsOf(o)) choices[f] = o.argChoices;
  const argNames = cmd.registeredArguments.map((a) => a.name());
  out.push({
    path,
    subcommands: subs,
    options,
    valued,
    choices,
    args: argNames.some((n) => n === 'interface') ? 'interfaces' : argNames.length ? 'files' : 'none',
  });
  for (const c of cmd.commands) nodesOf(c, `${path} ${c.name()}`, out);
  return out;
}

/** Words are commander's names and flags: letters, digits, - and _, nothing bash would split or expand. */
const word = (s: string) => {
  if (!/^[A-Za-z0-9_.:,/+@-]*$/.test(s)) throw new Error(`completion: '${s}' is not a plain word`);
  return s;
};
const list = (xs: string[]) => `"${xs.map(word).join(' ')}"`;

export function bashCompletion(program: Command): string {
  const nodes = nodesOf(program, 'pathwise', []);
  const table = (name: string, rows: [string, string][]) =>
    `  declare -gA ${name}=(\n${rows.map(([k, v]) => `    ["${k}"]=${v}`).join('\n')}\n  )`;
  return `# bash completion for pathwise (written by \`pathwise completion bash\`; write it again after an upgrade).
# Source it, or put it where bash-completion finds it: /etc/bash_completion.d/pathwise.
_pathwise_tables() {
${table(
  '_pathwise_sub',
  nodes.map((n) => [n.path, list(n.subcommands)]),
)}
${table(
  '_pathwise_opts',
  nodes.map((n) => [n.path, list(n.options)]),
)}
${table(
  '_pathwise_valued',
  nodes.map((n) => [n.path, list(n.valued)]),
)}
${table(
  '_pathwise_choices',
  nodes.flatMap((n) => Object.entries(n.choices).map(([flag, cs]) => [`${n.path} ${flag}`, list(cs)] as [string, string])),
)}
${table(
  '_pathwise_args',
  nodes.map((n) => [n.path, n.args]),
)}
}

_pathwise() {
  declare -p _pathwise_sub &>/dev/null || _pathwise_tables
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" path=pathwise w i skip=0
  # The command path: the words before the cursor that name subcommands; an option's value
  # (the word after an option that takes one) is skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; prev=""; continue; fi
    if [[ " \${_pathwise_valued[$path]} " == *" $w "* || "$w" == --netns ]]; then
      skip=1; prev="$w"; continue
    fi
    if [[ "$w" != -* && " \${_pathwise_sub[$path]} " == *" $w "* && "$w" != help ]]; then
      path="$path $w"
    fi
  done
  ((skip)) || prev=""
  COMPREPLY=()
  if [[ -n "$prev" ]]; then
    # The value of an option.
    if [[ -n "\${_pathwise_choices[$path $prev]}" ]]; then
      mapfile -t COMPREPLY < <(compgen -W "\${_pathwise_choices[$path $prev]}" -- "$cur")
    elif [[ "$prev" == --netns ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$(ip netns list 2>/dev/null | cut -d' ' -f1)" -- "$cur")
    elif [[ "$prev" == --instance ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$(ls /sys/fs/bpf/pathwise 2>/dev/null)" -- "$cur")
    else
      compopt -o default 2>/dev/null
    fi
    return
  fi
  if [[ "$cur" == -* ]]; then
    local opts="\${_pathwise_opts[$path]}"
    [[ "$path" != pathwise ]] && opts="$opts --netns"
    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
  elif [[ -n "\${_pathwise_sub[$path]}" ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\${_pathwise_sub[$path]}" -- "$cur")
  elif [[ "\${_pathwise_args[$path]}" == interfaces ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")
  elif [[ "\${_pathwise_args[$path]}" == files ]]; then
    compopt -o default 2>/dev/null
  fi
}
complete -F _pathwise pathwise
`;
}

/** zsh takes bash's completion functions through bashcompinit. */
export const zshCompletion = (program: Command): string =>
  `# zsh completion for pathwise (bash's, through bashcompinit)\nautoload -U +X bashcompinit && bashcompinit\n${bashCompletion(program)}`;
