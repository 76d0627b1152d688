/**
 * nfdump's tools as the reference for IPFIX: nfcapd (the collector) and nfpcapd (flows
 * computed from a pcap), read back with nfdump. Only processes started here are stopped, by
 * their own handle.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';

import type { Topology } from './topology.js';

export interface NfFlow {
  proto: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  packets: number;
  bytes: number;
  start: string;
  end: string;
}

/** Every flow record in `dir`, as nfdump prints them (full IPv6 addresses, unscaled numbers). */
export function nfdumpFlows(dir: string, filter?: string): NfFlow[] {
  const fmt = 'fmt:%pr|%sa|%sp|%da|%dp|%pkt|%byt|%ts|%te';
  const p = spawnSync('nfdump', ['-R', dir, '-q', '-N', '-6', '-o', fmt, ...(filter ? [filter] : [])], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`nfdump -R ${dir}: ${p.stderr || p.stdout}`);
  return p.stdout
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const [proto, src, sport, dst, dport, packets, bytes, start, end] = l.split('|').map((f) => f.trim());
      return {
        proto: proto!,
        src: src!,
        sport: Number(sport),
        dst: dst!,
        dport: Number(dport),
        packets: Number(packets),
        bytes: Number(bytes),
        start: start!,
        end: end!,
      };
    });
}

/** The flows nfpcapd computes from a capture file. */
export function nfpcapdFlows(pcap: string, dir: string): NfFlow[] {
  mkdirSync(dir, { recursive: true });
  const p = spawnSync('nfpcapd', ['-r', pcap, '-w', dir], { encoding: 'utf8', timeout: 60_000 });
  if (p.status !== 0) throw new Error(`nfpcapd -r ${pcap}: ${p.stderr || p.stdout}`);
  return nfdumpFlows(dir);
}

export const flowOrder = (a: NfFlow, b: NfFlow) => JSON.stringify(a).localeCompare(JSON.stringify(b));

export interface Nfcapd {
  child: ChildProcess;
  /** Stops it (SIGTERM: it writes its file) and returns what it logged. */
  stop(): Promise<string>;
}

/** nfcapd receiving IPFIX on 127.0.0.1:`port` of namespace `ns`, writing into `dir`. */
export async function startNfcapd(topo: Topology, ns: string, dir: string, port: number): Promise<Nfcapd> {
  mkdirSync(dir, { recursive: true });
  const child = topo.spawn(ns, 'nfcapd', ['-b', '127.0.0.1', '-p', String(port), '-w', dir]);
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      log += d.toString();
      if (log.includes('Startup')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`nfcapd exited (${code}): ${log}`)));
    setTimeout(() => reject(new Error(`nfcapd did not start: ${log}`)), 10_000).unref();
  });
  await ready;
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && !child.signalCode) {
        // 'close', not 'exit': the statistics it prints on the way out must be read first.
        const exited = new Promise((r) => child.once('close', r));
        child.kill('SIGTERM');
        await exited;
      }
      return log;
    },
  };
}
