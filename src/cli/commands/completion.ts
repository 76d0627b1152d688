/** `pathwise completion bash|zsh`: the shell completion script (src/cli/completion-script.ts). */
import { Argument, type Command } from 'commander';

import { bashCompletion, zshCompletion } from '../completion-script.js';
import { printJson } from '../output.js';

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description("print the shell completion script: 'source <(pathwise completion bash)', or save it to /etc/bash_completion.d/pathwise")
    .addArgument(new Argument('<shell>').choices(['bash', 'zsh']))
    .option('--json', 'print JSON: { shell, script }')
    // The whole program is registered by the time this runs (main.ts loads every module for it).
    .action((shell: 'bash' | 'zsh', opts: { json?: boolean }) => {
      const script = shell === 'bash' ? bashCompletion(program) : zshCompletion(program);
      if (opts.json) printJson({ shell, script });
      else process.stdout.write(script);
    });
}
