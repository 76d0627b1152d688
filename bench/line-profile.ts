/**
 * Where a BPF program spends its time, by source line: perf samples the CPUs (`-e cpu-clock`,
 * the event this VM has) while the caller runs the program, and each sample that falls in the
 * program's JIT image is charged to the source line whose instructions hold it (the program's
 * jited line info: native progLines). perf itself cannot annotate a BPF program without
 * libopcodes, nor can this bpftool dump a JIT image without libbfd.
 *
 * A sample is charged to the line the CPU was executing, or just after: an instruction that
 * waits (a locked add draining the store buffer, a load missing the cache) shows on itself and
 * on the line after it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { native } from '../src/kernel/native.js';

export interface LineCost {
  /** file:line and the line's source */
  where: string;
  share: number;
}

/**
 * Profiles program `progFd` while `run(ms)` runs it (synchronously) for `seconds`: the lines
 * holding the most samples, with their share of the samples inside the program.
 */
export async function lineProfile(
  progFd: number,
  seconds: number,
  run: (ms: number) => void,
): Promise<{ samples: number; lines: LineCost[] }> {
  const { funcs, lines } = native().progLines(progFd);
  const dir = mkdtempSync(join(tmpdir(), 'pw-lineprof-'));
  try {
    const data = join(dir, 'perf.data');
    const perf = spawn('perf', ['record', '-a', '-q', '-e', 'cpu-clock', '-F', '20000', '-o', data, '--', 'sleep', String(seconds)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    perf.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const done = new Promise<number | null>((resolve, reject) => {
      perf.on('error', reject);
      perf.on('exit', resolve);
    });
    await sleep(300); // perf has started sampling
    run(seconds * 1000);
    const code = await done;
    if (code !== 0) throw new Error(`perf record exited with ${code}: ${err.trim()}`);
    const script = spawnSync('perf', ['script', '-i', data, '-F', 'ip'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (script.status !== 0) throw new Error(`perf script exited with ${script.status}: ${script.stderr.trim()}`);

    const inProgram = (ip: bigint) => funcs.some((f) => ip >= f.addr && ip < f.addr + BigInt(f.len));
    const sorted = [...lines].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    // The line whose first instruction is the last at or before ip.
    const lineOf = (ip: bigint) => {
      let lo = 0;
      let hi = sorted.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (sorted[mid]!.addr <= ip) lo = mid;
        else hi = mid - 1;
      }
      return sorted[lo]!;
    };
    const counts = new Map<string, number>();
    let samples = 0;
    for (const text of script.stdout.split('\n')) {
      const hex = text.trim();
      if (!hex) continue;
      const ip = BigInt(`0x${hex}`);
      if (!inProgram(ip)) continue;
      samples++;
      const l = lineOf(ip);
      const where = `${l.file.split('/').pop()}:${l.line}  ${l.source.trim()}`;
      counts.set(where, (counts.get(where) ?? 0) + 1);
    }
    const out = [...counts].sort((a, b) => b[1] - a[1]).map(([where, n]) => ({ where, share: n / samples }));
    return { samples, lines: out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
