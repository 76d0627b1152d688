/**
 * Real API traffic between two namespaces, captured: a client namespace (curl, ab, the raw
 * client of api-lab.ts) and a server namespace (the Node API of api-lab.ts on 8080, nginx on
 * 80 in front of it), joined by a veth pair with offloads off so the capture holds the
 * segments as they went on the wire (1500-byte MTU). What the HTTP insight tests and the demo
 * replay and compare with tshark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { repoRoot } from '../util/paths.js';
import type { Topology } from './topology.js';

export const API_LAB = join(repoRoot, 'dist', 'src', 'netlab', 'api-lab.js');
export const API_CLIENT = '10.251.1.2';
export const API_SERVER = '10.251.1.1';

export interface ApiLab {
  client: string;
  server: string;
  /** The server's end of the link, where captures are taken. */
  serverIf: string;
}

export function buildApiLab(topo: Topology): ApiLab {
  const client = topo.addNamespace('C');
  const server = topo.addNamespace('S');
  topo.addVeth({ ns: client, name: 'c0', addr: `${API_CLIENT}/24` }, { ns: server, name: 's0', addr: `${API_SERVER}/24` });
  for (const [ns, i] of [
    [client, 'c0'],
    [server, 's0'],
  ] as const) {
    topo.exec(ns, 'ethtool', ['-K', topo.name(i), 'gro', 'off', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  }
  return { client, server, serverIf: topo.name('s0') };
}

/** Resolves with the child once its stdout (or stderr) shows `marker`. */
export function whenSays(child: ChildProcess, marker: string, what: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let out = '';
    const look = (d: Buffer) => {
      out += d.toString();
      if (out.includes(marker)) resolve(child);
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${out.slice(-400)}`)));
  });
}

/** The API on `port` in namespace `ns`; with `sink`, a listener there that never answers. */
export function startApiServer(topo: Topology, ns: string, port: number, sink?: number): Promise<ChildProcess> {
  const args = [API_LAB, 'serve', String(port), ...(sink ? [String(sink)] : [])];
  return whenSays(topo.spawn(ns, process.execPath, args), 'ready', `the API server on ${port}`);
}

/**
 * nginx in namespace `ns` on `port` as a gateway in front of the API on `upstream`, its files
 * (config, JSON access log `access.log`) in `dir`. `extra` goes into its server block,
 * `httpExtra` into its http block (a limit_req_zone, say).
 */
export function startNginx(
  topo: Topology,
  ns: string,
  dir: string,
  port: number,
  upstream: number,
  extra = '',
  httpExtra = '',
): Promise<ChildProcess> {
  const conf = join(dir, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  writeFileSync(
    conf,
    // One process (no master and workers): ending the child ends nginx, in every way a test can end.
    `master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 512; }
http {
  ${temp}
  log_format api escape=json '{"time":"$msec","client":"$remote_addr:$remote_port","method":"$request_method","uri":"$request_uri","status":$status,"request_time":$request_time}';
  access_log ${dir}/access.log api;
  ${httpExtra}
  server {
    listen ${port};
    location = /missing { return 404; }
    location = /teapot { return 418 "short and stout\\n"; }
    location / { proxy_pass http://127.0.0.1:${upstream}; proxy_http_version 1.1; proxy_set_header Connection ""; }
    ${extra}
  }
}
`,
  );
  const child = topo.spawn(ns, 'nginx', ['-c', conf, '-g', 'daemon off;']);
  // nginx says nothing when it starts: ready once it accepts a connection.
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 5000;
    const poll = () => {
      const probe = spawn('ip', ['netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', `http://127.0.0.1:${port}/missing`]);
      probe.once('exit', (code) => {
        if (code === 0) resolve(child);
        else if (Date.now() > deadline || child.exitCode !== null) reject(new Error(`nginx did not start: see ${dir}/nginx-error.log`));
        else setTimeout(poll, 50);
      });
    };
    poll();
  });
}

/** tcpdump on the server's link, writing `file`; resolves once it listens. */
export function startCapture(topo: Topology, lab: ApiLab, file: string): Promise<ChildProcess> {
  return whenSays(topo.spawn(lab.server, 'tcpdump', ['-i', lab.serverIf, '-U', '-s', '0', '-w', file, 'tcp']), 'listening on', 'tcpdump');
}

/**
 * Stops a capture and waits for it to end. libpcap's TPACKET_V3 ring hands packets to tcpdump
 * a block at a time, on a timeout; on SIGINT tcpdump writes what it holds and stops, so the
 * last packets are given that timeout (1 s, with margin) to reach it first.
 */
export async function stopCapture(child: ChildProcess): Promise<void> {
  await sleep(1500);
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}
