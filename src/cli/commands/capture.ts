/**
 * `pathwise capture`: packets as the pipeline sees them, selected by a tcpdump expression that
 * runs in the kernel, written as pcap (libpcap's writer) or pcapng with the verdict of each
 * packet, or printed one per line. In-process on this host; with --server, through that
 * daemon's /v1/capture (a remote router).
 */
import { createInterface } from 'node:readline';

import { Command, InvalidArgumentError, Option } from 'commander';

import { Dataplane } from '../../dataplane/dataplane.js';
import * as abi from '../../generated/pathwise.js';
import { CaptureSession, captureRecordFromJson, captureRecordToJson, pcapngPacketOf, type CapturedRecord, type CapturedRecordJson, type CapturePoint } from '../../insight/capture.js';
import { formatSummary, summarizePacket } from '../../insight/packet-summary.js';
import { LINKTYPE_ETHERNET, openPcapWriter } from '../../insight/pcap-file.js';
import { PcapngWriter } from '../../insight/pcapng.js';
import { ApiClient } from '../client.js';
import { color } from '../output.js';
import { positiveInt, withInstance, type InstanceOptions } from './common.js';

interface CaptureOptions extends InstanceOptions {
  interface?: string;
  point: CapturePoint;
  count?: number;
  write?: string;
  format?: 'pcap' | 'pcapng';
  snaplen: number;
  duration?: number;
}

type Sink = { write(r: CapturedRecord): void; close(): void };

function sinkFor(opts: CaptureOptions): Sink {
  const format = opts.format ?? (opts.write?.endsWith('.pcapng') || opts.point === 'verdict' ? 'pcapng' : 'pcap');
  if (!opts.write) {
    return {
      write(r) {
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(captureRecordToJson(r))}\n`);
          return;
        }
        const t = new Date(Number(r.tsNs / 1_000_000n)).toISOString().slice(11, 23);
        const verdict = r.verdict ? ` ${r.verdict}${r.oif ? ` → ${r.oif}` : ''} (${r.reason})` : '';
        console.log(`${t} ${r.iif} ${formatSummary(summarizePacket(r.data))} len ${r.len}${verdict}`);
      },
      close() {},
    };
  }
  if (format === 'pcapng') {
    const w = new PcapngWriter(opts.write, LINKTYPE_ETHERNET, opts.snaplen);
    return {
      write: (r) => w.write(pcapngPacketOf(r)),
      close: () => w.close(),
    };
  }
  const pcap = openPcapWriter(opts.write, LINKTYPE_ETHERNET, opts.snaplen);
  return {
    write(r) {
      pcap.write(Number(r.tsNs / 1_000_000_000n), Number((r.tsNs / 1000n) % 1_000_000n), r.data, r.len);
      // Readers on a pipe (tcpdump -r -) see each packet as it comes.
      if (opts.write === '-') pcap.flush();
    },
    close: () => pcap.close(),
  };
}

export function registerCapture(program: Command): void {
  withInstance(
    program
      .command('capture')
      .description("capture packets inside the pipeline, selected by a tcpdump filter expression run in the kernel")
      .argument('[expression...]', "tcpdump filter expression (man pcap-filter); none: every packet")
      .option('-i, --interface <name>', 'only packets arriving on this interface (it must run the pipeline)')
      .addOption(new Option('--point <where>', 'ingress: as the packet arrived; verdict: after the pipeline decided, with the decision').choices(['ingress', 'verdict']).default('ingress'))
      .option('-c, --count <n>', 'stop after N packets', positiveInt('--count'))
      .option('-w, --write <file>', "write a capture file ('-': standard output) instead of printing")
      .addOption(new Option('--format <format>', 'file format (default: pcapng at the verdict point or for *.pcapng, else pcap)').choices(['pcap', 'pcapng']))
      .option('-s, --snaplen <bytes>', `bytes kept of each packet (at most ${abi.PwLimit.CAPTURE_BYTES})`, positiveInt('--snaplen', abi.PwLimit.CAPTURE_BYTES), abi.PwLimit.CAPTURE_BYTES)
      .option('--duration <seconds>', 'stop after this many seconds', (v) => {
        const n = Number(v);
        if (!(n > 0)) throw new InvalidArgumentError('--duration must be a positive number of seconds');
        return n;
      }),
  ).action(async (expression: string[], opts: CaptureOptions) => {
    const expr = expression.join(' ');
    const sink = sinkFor(opts);
    try {
      const where = `${opts.interface ?? 'every pipeline interface'} at ${opts.point}${expr ? ` where '${expr}'` : ''}`;
      const to = opts.write === '-' ? 'standard output' : opts.write ?? 'the terminal';
      const { captured, lost } = opts.server ? await captureThroughDaemon(expr, opts, sink, where, to) : await captureHere(expr, opts, sink, where, to);
      process.stderr.write(`${captured} packets captured${lost ? color.yellow(`, ${lost} lost (the capture ring was full)`) : ''}\n`);
    } finally {
      sink.close();
    }
  });
}

/** Calls `stop` on Ctrl-C, SIGTERM or after --duration, until the returned function is called. */
function stopOn(stop: () => void, opts: CaptureOptions): () => void {
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const timer = opts.duration ? setTimeout(stop, opts.duration * 1000) : null;
  return () => {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}

/** In this process, on the instance's pinned pipeline. */
async function captureHere(expr: string, opts: CaptureOptions, sink: Sink, where: string, to: string): Promise<{ captured: number; lost: number }> {
  const dp = await Dataplane.open(opts.instance, {}, { create: false });
  let session: CaptureSession | undefined;
  let captured = 0;
  try {
    session = CaptureSession.start(dp, { iface: opts.interface, point: opts.point, snap: opts.snaplen, expression: expr });
    const lostAtStart = session.lost();
    const s = session;
    const release = stopOn(() => s.stop(), opts);
    process.stderr.write(color.dim(`capturing on ${where} to ${to}; Ctrl-C to stop\n`));
    try {
      for await (const r of s.records()) {
        sink.write(r);
        if (++captured === opts.count) break;
      }
    } finally {
      release();
    }
    return { captured, lost: s.lost() - lostAtStart };
  } finally {
    session?.stop();
    dp.close();
  }
}

/** Through the daemon at --server: its /v1/capture as NDJSON, written by the same sinks. */
async function captureThroughDaemon(expr: string, opts: CaptureOptions, sink: Sink, where: string, to: string): Promise<{ captured: number; lost: number }> {
  const client = ApiClient.find(opts)!;
  const q = new URLSearchParams({ filter: expr, point: opts.point, snaplen: String(opts.snaplen), format: 'ndjson' });
  if (opts.interface) q.set('interface', opts.interface);
  if (opts.count) q.set('count', String(opts.count));
  if (opts.duration) q.set('duration', String(opts.duration));
  const res = await client.stream(`/v1/capture?${q}`, 'application/x-ndjson');
  // Hanging up ends the capture in the daemon.
  const release = stopOn(() => res.destroy(), opts);
  process.stderr.write(color.dim(`capturing through ${client.where} on ${where} to ${to}; Ctrl-C to stop\n`));
  let captured = 0;
  const lines = createInterface({ input: res, crlfDelay: Infinity });
  // readline ends on the stream's end; a destroyed stream only closes.
  res.once('close', () => lines.close());
  try {
    for await (const line of lines) {
      if (!line) continue;
      sink.write(captureRecordFromJson(JSON.parse(line) as CapturedRecordJson));
      captured++;
    }
  } catch (e) {
    // Our own hang-up (Ctrl-C, --duration) ends the stream early; anything else is a failure.
    if (!res.destroyed) throw e;
  } finally {
    release();
  }
  // The daemon's totals come as trailers when it ended the stream; after a hang-up, ours.
  return { captured: Number(res.trailers['pathwise-captured'] ?? captured), lost: Number(res.trailers['pathwise-lost'] ?? 0) };
}
