import type { Command } from 'commander';

import { runDoctor, type DoctorReport, type CheckStatus, type ModeReport } from '../../ops/doctor.js';
import { color, printJson } from '../output.js';

const mark: Record<CheckStatus, string> = { ok: color.green('ok  '), warn: color.yellow('warn'), fail: color.red('FAIL') };

function printHuman(r: DoctorReport): void {
  const out: string[] = [color.bold('Pathwise doctor'), ''];
  for (const c of r.checks) {
    out.push(`  ${mark[c.status]}  ${c.name.padEnd(13)} ${c.detail}`);
    if (c.hint && c.status !== 'ok') out.push(`        ${' '.repeat(13)} ${color.dim(`→ ${c.hint}`)}`);
  }
  if (r.interfaces.length) {
    out.push('', color.bold('Interfaces (XDP modes)'), '');
    const w = Math.max(9, ...r.interfaces.map((i) => i.name.length));
    out.push(`  ${'INTERFACE'.padEnd(w)}  ${'DRIVER'.padEnd(12)} ${'STATE'.padEnd(8)} NATIVE   GENERIC`);
    for (const i of r.interfaces) {
      const cell = (m: ModeReport) => {
        if (m.supported === null) return color.dim('-'.padEnd(8));
        const word = `${m.supported ? 'yes' : 'no'}${m.how === 'declared' ? '*' : ''}`.padEnd(8);
        return m.supported ? color.green(word) : color.red(word);
      };
      const note = i.attached ? color.yellow(`in use: ${i.attached.mode} XDP program id ${i.attached.progId} (not probed)`) : '';
      out.push(
        `  ${i.name.padEnd(w)}  ${(i.driver ?? '?').padEnd(12)} ${i.operstate.padEnd(8)} ${cell(i.modes.native)} ${cell(i.modes.generic)} ${note}`,
      );
      for (const n of i.notes) out.push(`  ${' '.repeat(w)}  ${color.dim(`→ ${n}`)}`);
    }
    out.push('');
    out.push('  yes/no: a pass-through program attached and detached (virtual devices; every interface with --probe).');
    if (r.interfaces.some((i) => i.modes.native.how === 'declared'))
      out.push(
        '  *: what the driver declares, nothing attached: on many NICs attaching XDP rebuilds the rings or resets the link\n     (pathwise doctor --probe -i IFACE attaches there too).',
      );
  }
  out.push('');
  out.push(
    r.ok ? color.green('Verdict: Pathwise can run here.') : color.red('Verdict: Pathwise cannot run here; fix the FAIL lines above.'),
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check that this machine can run Pathwise, and which XDP modes each interface supports')
    .option('-i, --interface <name...>', 'only these interfaces')
    .option(
      '--probe',
      'attach a pass-through program to hardware interfaces too, to know their XDP modes for sure (on many NICs this rebuilds the rings or resets the link)',
    )
    .option('--json', 'print a JSON report')
    .action(async (opts: { interface?: string[]; probe?: boolean; json?: boolean }) => {
      const report = await runDoctor({ interfaces: opts.interface, probe: opts.probe });
      if (opts.json) printJson(report);
      else printHuman(report);
      if (!report.ok) process.exitCode = 1;
    });
}
