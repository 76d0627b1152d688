/**
 * `pathwise capture`: packets as the pipeline sees them, selected by a tcpdump expression that
 * runs in the kernel, written as pcap (libpcap's writer) or pcapng with the verdict of each
 * packet, or printed one per line.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

import { Dataplane } from '../../dataplane/dataplane.js';
import * as abi from '../../generated/pathwise.js';
import { CaptureSession, type CapturedRecord, type CapturePoint } from '../../insight/capture.js';
import { formatSummary, summarizePacket } from '../../insight/packet-summary.js';
import { LINKTYPE_ETHERNET, openPcapWriter } from '../../insight/pcap-file.js';
import { PcapngWriter } from '../../insight/pcapng.js';
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
          const { data, tsNs, ...rest } = r;
          process.stdout.write(`${JSON.stringify({ ...rest, time: new Date(Number(tsNs / 1_000_000n)).toISOString(), packet: summarizePacket(data), data: data.toString('base64') })}\n`);
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
      write(r) {
        const comment = r.verdict ? `pathwise: ${r.verdict} (${r.reason})${r.oif ? ` via ${r.oif}` : ''}${r.route ? ` route ${r.route}` : ''}${r.rule ? ` rule ${r.rule}` : ''}` : undefined;
        w.write({ tsNs: r.tsNs, interfaceName: r.iif, data: r.data, len: r.len, xdpAction: r.xdpAction, comment });
      },
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
    const dp = await Dataplane.open(opts.instance, {}, { create: false });
    let session: CaptureSession | undefined;
    let sink: Sink | undefined;
    let captured = 0;
    try {
      sink = sinkFor(opts);
      session = CaptureSession.start(dp, { iface: opts.interface, point: opts.point, snap: opts.snaplen, expression: expr });
      const lostAtStart = session.lost();
      const s = session;
      const stop = () => s.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const timer = opts.duration ? setTimeout(stop, opts.duration * 1000) : null;
      const to = opts.write === '-' ? 'standard output' : opts.write ?? 'the terminal';
      process.stderr.write(color.dim(`capturing on ${opts.interface ?? 'every pipeline interface'} at ${opts.point}${expr ? ` where '${expr}'` : ''} to ${to}; Ctrl-C to stop\n`));
      try {
        for await (const r of s.records()) {
          sink.write(r);
          if (++captured === opts.count) break;
        }
      } finally {
        if (timer) clearTimeout(timer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      const lost = s.lost() - lostAtStart;
      process.stderr.write(`${captured} packets captured${lost ? color.yellow(`, ${lost} lost (the capture ring was full)`) : ''}\n`);
    } finally {
      session?.stop();
      sink?.close();
      dp.close();
    }
  });
}
