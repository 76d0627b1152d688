/**
 * Bench §2d: listing a full table with `pathwise route list --json`, end to end (the CLI's own
 * start included), from an instance without a daemon (the CLI reads the pinned maps) and from
 * a daemon holding the same table (imported from the kernel's main table; the CLI reads the
 * daemon's streamed listing). Each output is parsed afterwards and its rows counted, so a
 * listing cut short cannot pass for a fast one.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pathwiseBin, request, socketOf, startDaemon, stopDaemon, type RunningDaemon } from '../test/helpers/daemon.js';
import type { Topology } from '../test/helpers/topology.js';

export interface RouteListResults {
  /** Seconds for the whole command, and the rows its output held. */
  local: { seconds: number; rows: number };
  daemon?: { seconds: number; rows: number };
}

/** Runs the CLI with stdout to `file`; resolves with the seconds it took. */
async function timedList(args: string[], file: string): Promise<number> {
  const fd = openSync(file, 'w');
  const t0 = performance.now();
  try {
    const child = spawn(pathwiseBin, args, { stdio: ['ignore', fd, 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    if (code !== 0) throw new Error(`pathwise ${args.join(' ')} exited with ${code}: ${err}`);
    return (performance.now() - t0) / 1000;
  } finally {
    closeSync(fd);
  }
}

const rowsIn = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as unknown[]).length;

export async function routeListBench(
  topo: Topology,
  ns: string,
  instance: string,
  expected: number,
  log: (s: string) => void,
): Promise<RouteListResults> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-list-'));
  const out = join(dir, 'routes.json');
  let daemon: RunningDaemon | undefined;
  try {
    log(`listing ${expected} routes without a daemon`);
    const seconds = await timedList(['--netns', ns, 'route', 'list', '--json', '--instance', instance], out);
    const local = { seconds, rows: rowsIn(out) };
    if (local.rows < expected) throw new Error(`route list printed ${local.rows} routes of ${expected}`);

    // A daemon importing the kernel's main table (which holds the IPv4 table, from ip -batch).
    const name = `${topo.prefix}list`;
    topo.recordInstance(name);
    const config = join(dir, 'pathwise.yaml');
    writeFileSync(config, `instance: ${name}\nimport:\n  from:\n    - { table: main }\n  reconcile: 1h\n`);
    daemon = await startDaemon(ns, config, join(dir, 'state'));
    const deadline = Date.now() + 120_000;
    let installed = 0;
    while (installed < expected * 0.8) {
      if (Date.now() > deadline) throw new Error(`the daemon imported ${installed} routes in 120 s`);
      await new Promise((r) => setTimeout(r, 500));
      installed = ((await request({ socketPath: socketOf(name) }, 'GET', '/v1/status')).json?.imports?.installed as number) ?? 0;
    }
    log(`listing ${installed} routes from a daemon`);
    const dSeconds = await timedList(['--netns', ns, 'route', 'list', '--json', '--instance', name], out);
    const d = { seconds: dSeconds, rows: rowsIn(out) };
    if (d.rows < installed) throw new Error(`route list printed ${d.rows} routes of the daemon's ${installed}`);
    return { local, daemon: d };
  } finally {
    await stopDaemon(daemon);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function routeListReport(r: RouteListResults): string {
  const f = (n: number) => n.toFixed(2);
  const row = (what: string, x: { seconds: number; rows: number }) =>
    `| ${what} | ${x.rows.toLocaleString('en')} | ${f(x.seconds)} | ${Math.round(x.rows / x.seconds).toLocaleString('en')} |`;
  return `
### 2d. Listing a full table: \`pathwise route list --json\`

The whole command (the CLI's start included), output to a file, parsed afterwards and its rows
counted. Rows are written as they are read: from the pinned maps a chunk at a time, or from
the daemon's \`GET /v1/routes?stream=true\` (NDJSON, the daemon turning its event loop
between chunks). Before, the CLI fetched pages of 10,000 and the daemon built all the rows
for each page it served.

| source | routes | seconds | routes/s |
| --- | ---: | ---: | ---: |
${row('pinned maps (no daemon)', r.local)}
${r.daemon ? row('a daemon (its imported table)', r.daemon) : ''}

Target ≤ 3 s for 900k routes — ${[r.local, ...(r.daemon ? [r.daemon] : [])].every((x) => x.seconds <= (3 * x.rows) / 900_000) ? 'met' : '**not met**'}.
`;
}
