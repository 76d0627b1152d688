/**
 * `pathwise capture`: packets as the pipeline sees them, selected by a tcpdump expression that
 * runs in the kernel, written as pcap (libpcap's writer) or pcapng with the verdict of each
 * packet, or printed one per line. In this process when no daemon serves the instance; else
 * through the daemon's /v1/capture (also a remote router's, with --server).
 */
import { Command, InvalidArgumentError, Option } from 'commander';

import * as abi from '../../generated/pathwise.js';
import { captureRecordToJson, type CapturedRecord, type CapturePoint } from '../../insight/capture-record.js';
import { formatSummary, summarizePacket } from '../../insight/packet-summary.js';
import { captureFileWriter } from '../../ops/capture-files.js';
import { backendFor } from '../backend.js';
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
  return captureFileWriter(opts.write, format, opts.snaplen);
}

export function registerCapture(program: Command): void {
  withInstance(
    program
      .command('capture')
      .description('capture packets inside the pipeline, selected by a tcpdump filter expression run in the kernel')
      .argument('[expression...]', 'tcpdump filter expression (man pcap-filter); none: every packet')
      .option('-i, --interface <name>', 'only packets arriving on this interface (it must run the pipeline)')
      .addOption(
        new Option('--point <where>', 'ingress: as the packet arrived; verdict: after the pipeline decided, with the decision')
          .choices(['ingress', 'verdict'])
          .default('ingress'),
      )
      .option('-c, --count <n>', 'stop after N packets', positiveInt('--count'))
      .option('-w, --write <file>', "write a capture file ('-': standard output) instead of printing")
      .addOption(
        new Option('--format <format>', 'file format (default: pcapng at the verdict point or for *.pcapng, else pcap)').choices([
          'pcap',
          'pcapng',
        ]),
      )
      .option(
        '-s, --snaplen <bytes>',
        `bytes kept of each packet (at most ${abi.PwLimit.CAPTURE_BYTES})`,
        positiveInt('--snaplen', abi.PwLimit.CAPTURE_BYTES),
        abi.PwLimit.CAPTURE_BYTES,
      )
      .option('--duration <seconds>', 'stop after this many seconds', (v) => {
        const n = Number(v);
        if (!(n > 0)) throw new InvalidArgumentError('--duration must be a positive number of seconds');
        return n;
      }),
  ).action(async (expression: string[], opts: CaptureOptions) => {
    const expr = expression.join(' ');
    const ops = await backendFor(opts);
    const sink = sinkFor(opts);
    const stop = new AbortController();
    const abort = () => stop.abort();
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    try {
      const where = `${opts.interface ?? 'every pipeline interface'} at ${opts.point}${expr ? ` where '${expr}'` : ''}`;
      const to = opts.write === '-' ? 'standard output' : (opts.write ?? 'the terminal');
      const r = await ops.capture(
        { iface: opts.interface, point: opts.point, snap: opts.snaplen, expression: expr, count: opts.count, duration: opts.duration },
        {
          signal: stop.signal,
          started: (via) => {
            // Through --server: the remote router says so; through the local daemon, it is
            // this host's pipeline all the same.
            const line = opts.server
              ? `capturing through ${via} on ${where} to ${to}`
              : `capturing on ${where} to ${to}${ops.mode === 'daemon' ? ` (through the daemon at ${via})` : ''}`;
            process.stderr.write(color.dim(`${line}; Ctrl-C to stop\n`));
          },
          item: (rec) => sink.write(rec),
        },
      );
      process.stderr.write(`${r.captured} packets captured${r.lost ? color.yellow(`, ${r.lost} lost (the capture ring was full)`) : ''}\n`);
    } finally {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
      sink.close();
    }
  });
}
