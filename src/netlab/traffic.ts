/**
 * Traffic for the namespace lab (demo and tests), run inside a namespace with
 * `ip netns exec NS node dist/src/netlab/traffic.js MODE ...`:
 *
 *   udp-send HOST PORT RATE SECONDS [SPORT]   numbered datagrams at RATE per second
 *   udp-sink PORT                              counts distinct numbers; prints JSON on SIGTERM
 *   tcp-serve PORT                             echoes, so flows carry traffic both ways
 *   tcp-talk HOST PORT SECONDS                 a connection per second, a few KB each
 *
 * Numbered datagrams make loss countable end to end: the sink knows exactly which arrived.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

function udpSend(host: string, port: number, rate: number, seconds: number, sport?: number): void {
  const sock = dgram.createSocket('udp4');
  if (sport) sock.bind(sport);
  const total = Math.round(rate * seconds);
  const tick = 10; // ms
  let seq = 0;
  let errors = 0;
  const started = performance.now();
  const timer = setInterval(() => {
    // Catch up to where the clock says we should be (timers drift).
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    while (seq < due) {
      const buf = Buffer.alloc(64);
      buf.writeUInt32BE(seq++, 0);
      sock.send(buf, port, host, (e) => {
        if (e) errors++;
      });
    }
    if (seq >= total) {
      clearInterval(timer);
      setTimeout(() => {
        process.stdout.write(`${JSON.stringify({ sent: seq, errors })}\n`);
        sock.close();
      }, 100);
    }
  }, tick);
}

function udpSink(port: number): void {
  const seen = new Set<number>();
  let datagrams = 0;
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => {
    datagrams++;
    if (m.length >= 4) seen.add(m.readUInt32BE(0));
  });
  sock.bind(port, () => process.stdout.write('ready\n'));
  const report = () => {
    process.stdout.write(`${JSON.stringify({ distinct: seen.size, datagrams })}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', report);
  process.on('SIGINT', report);
}

function tcpServe(port: number): void {
  net
    .createServer((c) => {
      c.on('data', (d) => c.write(d));
      c.on('error', () => c.destroy());
    })
    .listen(port, () => process.stdout.write('ready\n'));
}

function tcpTalk(host: string, port: number, seconds: number): void {
  const end = Date.now() + seconds * 1000;
  const once = () => {
    if (Date.now() >= end) return;
    const c = net.connect(port, host, () => {
      c.write(Buffer.alloc(4096, 0x61));
      setTimeout(() => c.end(), 200);
    });
    c.on('data', () => {});
    c.on('error', () => c.destroy());
    setTimeout(once, 1000);
  };
  once();
}

switch (mode) {
  case 'udp-send':
    udpSend(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]), args[4] ? Number(args[4]) : undefined);
    break;
  case 'udp-sink':
    udpSink(Number(args[0]));
    break;
  case 'tcp-serve':
    tcpServe(Number(args[0]));
    break;
  case 'tcp-talk':
    tcpTalk(args[0]!, Number(args[1]), Number(args[2]));
    break;
  default:
    process.stderr.write('usage: traffic.js udp-send|udp-sink|tcp-serve|tcp-talk ...\n');
    process.exit(2);
}
