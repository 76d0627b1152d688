/**
 * A BGP feed for the router lab (router-lab.ts): BIRD 2 in upstream 1 announces `count` /24s
 * (from 100.64.0.0) and any extra prefixes over eBGP, with itself as the next hop; BIRD in the
 * router learns them and writes them to the router's kernel main table (proto bird), where
 * Pathwise's `import:` takes them. Withdrawing and announcing everything is one `birdc` command
 * on the speaker. Used by the import e2e test and the bench.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Topology } from './topology.js';

/** The prefixes the speaker announces besides the extra ones: `n` /24s from 100.64.0.0. */
export const feedPrefixes = (n: number): string[] => Array.from({ length: n }, (_, i) => `100.${64 + (i >> 8)}.${i & 255}.0/24`);

/** The speaker's address on the link to the router, and so every fed route's gateway. */
export const FEED_GATEWAY = '10.210.2.2';

export interface BgpFeed {
  prefixes: string[];
  /** Runs birdc on the speaker; throws on failure. */
  speaker(args: string[]): string;
  /** Withdraws every prefix (the static protocol disabled), or announces them again. */
  withdrawAll(): void;
  announceAll(): void;
}

/**
 * Starts both BIRDs (as children of `topo`, ended with it). `upstream` and `router` are the
 * lab's namespaces; `dir` holds their configs and control sockets.
 */
export function startBgpFeed(
  topo: Topology,
  ns: { router: string; upstream: string },
  dir: string,
  count: number,
  extra: string[] = [],
): BgpFeed {
  const prefixes = feedPrefixes(count);
  const speakerConf = join(dir, 'speaker.conf');
  writeFileSync(
    speakerConf,
    [
      `router id ${FEED_GATEWAY};`,
      'protocol device {}',
      'protocol static announce { ipv4;',
      ...[...prefixes, ...extra].map((p) => `  route ${p} blackhole;`),
      '}',
      `protocol bgp to_router { local ${FEED_GATEWAY} as 65002; neighbor 10.210.2.1 as 65001;`,
      '  ipv4 { import none; export all; next hop self; }; hold time 30; }',
    ].join('\n'),
  );
  const routerConf = join(dir, 'router.conf');
  writeFileSync(
    routerConf,
    [
      'router id 10.210.2.1;',
      'protocol device {}',
      'protocol kernel { ipv4 { import none; export all; }; }',
      `protocol bgp to_upstream { local 10.210.2.1 as 65001; neighbor ${FEED_GATEWAY} as 65002;`,
      '  ipv4 { import all; export none; }; hold time 30; }',
    ].join('\n'),
  );
  const speakerCtl = join(dir, 'speaker.ctl');
  topo.spawn(ns.upstream, 'bird', ['-f', '-c', speakerConf, '-s', speakerCtl]);
  topo.spawn(ns.router, 'bird', ['-f', '-c', routerConf, '-s', join(dir, 'router.ctl')]);
  const speaker = (args: string[]) => {
    const p = spawnSync('ip', ['netns', 'exec', ns.upstream, 'birdc', '-s', speakerCtl, ...args], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`birdc ${args.join(' ')}: ${p.stderr}`);
    return p.stdout;
  };
  return {
    prefixes,
    speaker,
    withdrawAll: () => void speaker(['disable', 'announce']),
    announceAll: () => void speaker(['enable', 'announce']),
  };
}
