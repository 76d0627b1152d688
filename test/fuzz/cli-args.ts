/**
 * Command lines for the CLI fuzz test (test/e2e/cli-fuzz.test.ts), made from the CLI's own
 * command tree (commander's commands, arguments and options): values that mean something to
 * Pathwise (routes, rules, prefixes, services, durations, files) most of the time, then
 * mutated: a word dropped, repeated or moved, an odd word put in, a value out of place.
 */
import type { Command } from 'commander';

import { rng } from '../helpers/rng.js';

export interface CliCommand {
  /** The command's words, e.g. ['service', 'add']. */
  path: string[];
  args: { name: string; required: boolean; variadic: boolean }[];
  /** Long flags, and whether each takes a value. */
  options: { flag: string; name: string; value: boolean }[];
}

/**
 * Left out: what runs until stopped (the daemon, the event stream, capture, following a
 * gateway's log, following neighbours), what takes the lab's interfaces from the daemon
 * (attach, detach, down), and replay, which loads pipelines of its own for seconds a run.
 */
const LEFT_OUT = new Set(['daemon', 'attach', 'detach', 'down', 'events', 'capture', 'replay', 'gateway follow']);
const LEFT_OUT_OPTIONS = new Set(['--watch', '--instance']);

/** Every command the CLI runs to an end, with its arguments and options. */
export function commandsOf(program: Command): CliCommand[] {
  const out: CliCommand[] = [];
  const walk = (c: Command, path: string[]) => {
    for (const s of c.commands) walk(s, [...path, s.name()]);
    if (c.commands.length || !path.length || LEFT_OUT.has(path.join(' '))) return;
    out.push({
      path,
      args: c.registeredArguments.map((a) => ({ name: a.name(), required: a.required, variadic: a.variadic })),
      options: c.options
        .filter((o) => o.long && !LEFT_OUT_OPTIONS.has(o.long))
        .map((o) => ({ flag: o.long!, name: o.long!.slice(2), value: o.required || o.optional })),
    });
  };
  walk(program, []);
  return out;
}

/** The options every command has for reaching a daemon: given now and then. */
const TRANSPORT = new Set(['server', 'token', 'cacert', 'cert', 'key', 'socket']);

type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** Words out of place, for any argument or value (argv cannot hold a NUL). */
const ODD = [
  '',
  ' ',
  '-',
  '--',
  '-1',
  '0',
  '1.5',
  '1e999',
  'NaN',
  '0x10',
  'x'.repeat(3000),
  '../../etc/passwd',
  '10.0.0.1/33',
  'fd00::/129',
  '999.1.1.1',
  'é',
  '💥',
  '--nosuch',
  '-z',
  '--json=1',
  '{"a":1}',
];

/** What the lab gives the fuzz: its interfaces, the socket of its daemon, files to name. */
export interface CliLab {
  interfaces: string[];
  socket: string;
  /** Existing files: configs (whole, cut, broken), a route file, a block list, a directory. */
  files: string[];
}

/** Values with a meaning, by the argument's or option's name; each a word or several. */
function meanings(lab: CliLab): [RegExp, (string | string[])[]][] {
  const files = [...lab.files, '/nonexistent/x', '/dev/null', '/etc/passwd'];
  return [
    [
      /^route$/,
      [
        ['10.9.1.0/24', 'via', '10.77.0.2'],
        ['blackhole', '10.9.2.0/24'],
        ['fd00:9:1::/48', 'via', 'fd77::2'],
        ['10.20.0.0/16', 'via', '10.77.0.2', 'weight', '1', 'via', '10.77.0.3', 'weight', '3'],
        ['10.9.3.0/24', 'dev', lab.interfaces[0]!],
        ['10.9.4.0/24', 'via', '10.77.0.2', 'weight', '0'],
        ['10.9.1.0/24'],
        ['via', '10.77.0.2'],
      ],
    ],
    [
      /^(prefix|target|cidr|addresses)$/,
      ['10.9.0.0/16', '10.9.1.0/24', 'fd00:9::/48', '192.0.2.66', '10.66.0.0/16', '0.0.0.0/0', '::/0', '10.9.1.1'],
    ],
    [
      /^rule$/,
      [
        ['drop', 'from', '198.51.100.0/24', 'proto', 'tcp', 'dport', '22'],
        ['ratelimit', 'lim', 'proto', 'tcp', 'flags', 'syn,!ack'],
        ['pass', 'proto', 'udp', 'dport', '1000-2000'],
        ['drop', 'proto', 'icmp'],
        ['drop', 'to', 'fd00::/8', 'sport', '53'],
        ['drop', 'proto', 'tcp', 'dport', '70000'],
        ['drop', 'from'],
      ],
    ],
    [/^(id|version|at|position)$/, ['1', '2', '3', '0', '-1', '99999999999', 'r1']],
    [/^(name|api|group|subject|source|reason)$/, ['web', 'dns', 'lim', 'syn', 'nginx-1']],
    [
      /^address$/,
      ['10.77.0.9:80/tcp', '10.77.0.10:53/udp', '[fd77::9]:443/tcp', '10.77.0.11:*/udp', '10.77.0.9:80', '10.77.0.9:99999/tcp'],
    ],
    [/^backend$/, ['10.77.0.2:8080', '10.77.0.3:80@2', '[fd77::2]:80', '10.77.0.2:8080@0', '10.77.0.2', '10.77.0.2:8080@-1']],
    [/^(file|config|diff|write|cacert|cert|key|nginx-log|log|state-dir)$/, files],
    [/^socket$/, [lab.socket, '/nonexistent.sock', '/etc/passwd', lab.files[lab.files.length - 1]!]],
    [/^server$/, ['http://127.0.0.1:1', 'https://127.0.0.1:1', 'notaurl', 'ftp://127.0.0.1/', 'http://[::1]:0']],
    [/^token$/, ['x', 'a b', 'Bearer x']],
    [/^(ttl|block-for|since|until|dur|window|max-ttl|duration)$/, ['10m', '1h', '0s', '-1s', '36501d', '2026-12-05T10:00:00Z', '1h30m']],
    [/^(rate|burst|block-after|limit|top|count|threshold|n|snaplen|sample)$/, ['100', '1', '0', '-1', '2.5', '4294967296']],
    [/^mode$/, ['nat', 'dsr', 'native', 'generic', 'tc']],
    [/^fib$/, ['table', 'kernel']],
    [/^hash$/, ['src,dst,sport,dport', 'src,dst,dport', 'dport', 'sport']],
    [/^table-size$/, ['65537', '7', '65536', '4294967311', '1']],
    [/^snat$/, ['10.77.0.1', 'fd77::1', '10.77.0.1/24']],
    [/^health$/, ['tcp', 'http:/healthz', 'https:/x', 'udp', 'none', 'http:']],
    [/^on-backend-down$/, ['keep', 'reset']],
    [/^per$/, ['address', '/24', '/24,/64', 'api']],
    [/^sort$/, ['bytes', 'rtt', 'packets', 'rate']],
    [/^by$/, ['prefix', 'src', 'dst', 'api,version,status', 'source', 'api,nosuch']],
    [/^kind$/, ['decision', 'seal,anomaly', 'version', 'nosuch']],
    [/^(interface|point)$/, [...lab.interfaces, 'lo', 'nosuch0']],
    [/^(format|statuses|action)$/, ['nginx', 'json', '429,503', 'block', 'limit']],
  ];
}

/** A value for an argument or option named `name`: meaningful most of the time. */
function valueFor(name: string, rand: Rand, known: [RegExp, (string | string[])[]][]): string[] {
  if (rand() < 0.85) for (const [re, values] of known) if (re.test(name)) return ([] as string[]).concat(pick(rand, values));
  return [pick(rand, ODD)];
}

/** One change to a command line after its command words: a word dropped, repeated, moved, or an odd one put in. */
function mutate(words: string[], from: number, rand: Rand): string[] {
  const w = [...words];
  const at = from + Math.floor(rand() * (w.length - from + 1));
  const r = rand();
  if (r < 0.3) w.splice(at, 0, pick(rand, ODD));
  else if (r < 0.5 && at < w.length) w.splice(at, 1);
  else if (r < 0.65 && at < w.length) w.splice(at, 0, w[at]!);
  else if (r < 0.8 && w.length - from > 1) {
    const [x] = w.splice(at < w.length ? at : from, 1);
    w.splice(from + Math.floor(rand() * (w.length - from)), 0, x!);
  } else if (at < w.length) w[at] = pick(rand, ODD);
  return w;
}

/** The command lines of a fuzz run: `n` of them over the commands, from `seed`. */
export function* fuzzCommandLines(commands: CliCommand[], seed: number, n: number, lab: CliLab): Generator<string[]> {
  const rand = rng(seed);
  const known = meanings(lab);
  for (let i = 0; i < n; i++) {
    const c = pick(rand, commands);
    let words = [...c.path];
    for (const a of c.args) {
      if (!a.required && rand() < 0.4) continue;
      const times = a.variadic && a.name !== 'route' && a.name !== 'rule' ? 1 + Math.floor(rand() * 3) : 1;
      for (let k = 0; k < times; k++) words.push(...valueFor(a.name, rand, known));
    }
    for (const o of c.options) {
      // --backend is how a service gets its backends: usually given, often more than once.
      const times = o.name === 'backend' ? Math.floor(rand() * 4) : rand() < (TRANSPORT.has(o.name) ? 0.04 : 0.25) ? 1 : 0;
      for (let k = 0; k < times; k++) words.push(o.flag, ...(o.value ? valueFor(o.name, rand, known) : []));
    }
    if (!words.includes('--json') && rand() < 0.5) words.push('--json');
    const mutations = rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 2);
    for (let k = 0; k < mutations; k++) words = mutate(words, c.path.length, rand);
    yield words;
  }
}
