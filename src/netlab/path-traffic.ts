/**
 * Traffic for the path lab (path-lab.ts), run as its own process in a namespace:
 *
 *   node path-traffic.js send ADDR PPS     UDP datagrams to ADDR:9000 from 8 sockets in turn,
 *                                          each carrying a sequence number and its send time
 *                                          (CLOCK_MONOTONIC, ns: namespaces share the clock),
 *                                          plus 4 TCP connections to ADDR:7000 echoing a line
 *                                          every 20 ms; "stop" on stdin prints a JSON summary
 *   node path-traffic.js receive           UDP on 9001 and 9002 (path 1 and 2, as the server's
 *                                          nftables redirects them), TCP echo on 7000; "dump" on
 *                                          stdin prints what arrived since the last dump
 *
 * Each prints "ready" once it runs.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const mono = () => process.hrtime.bigint();

function send(addr: string, pps: number): void {
  const socks: Socket[] = Array.from({ length: 8 }, () => createSocket('udp4'));
  let seq = 0;
  let sendErrors = 0;
  const tcp = { connections: 0, echoes: 0, errors: [] as string[] };
  const conns = Array.from({ length: 4 }, (_, i) => {
    const c = connect(7000, addr);
    c.setNoDelay(true);
    c.on('connect', () => tcp.connections++);
    c.on('data', (d) => (tcp.echoes += d.toString().split('\n').length - 1));
    c.on('error', (e) => tcp.errors.push(`connection ${i}: ${e.message}`));
    c.on('close', () => tcp.errors.push(`connection ${i} closed`));
    return c;
  });
  const tcpTimer = setInterval(() => {
    for (const c of conns) if (!c.destroyed && c.writable) c.write('ping\n');
  }, 20);
  const start = mono();
  const timer = setInterval(() => {
    // Catch up to the rate: as many as are due by now.
    const due = Math.floor((Number(mono() - start) / 1e9) * pps);
    while (seq < due) {
      const b = Buffer.alloc(16);
      b.writeUInt32BE(seq, 0);
      b.writeBigUInt64BE(mono(), 8);
      socks[seq % socks.length]!.send(b, 9000, addr, (err) => {
        if (err) sendErrors++;
      });
      seq++;
    }
  }, 1);
  console.log('ready');
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'stop') return;
    clearInterval(timer);
    clearInterval(tcpTimer);
    const openAtEnd = conns.filter((c) => !c.destroyed).length;
    console.log(JSON.stringify({ sent: seq, sendErrors, tcp: { ...tcp, openAtEnd } }));
    for (const c of conns) c.destroy();
    for (const s of socks) s.close();
    process.exit(0);
  });
}

function receive(): void {
  const got: [number[], number[]] = [[], []];
  let ready = 0;
  for (const [i, port] of [9001, 9002].entries()) {
    const s = createSocket('udp4');
    s.on('message', (m) => {
      if (m.length < 16) return;
      // seq, send time (ms since an arbitrary origin, same for every namespace)
      got[i]!.push(m.readUInt32BE(0), Number(m.readBigUInt64BE(8)) / 1e6);
    });
    s.bind(port, () => ++ready === 3 && console.log('ready'));
  }
  createServer((c) => {
    c.on('error', () => c.destroy());
    c.pipe(c);
  }).listen(7000, () => ++ready === 3 && console.log('ready'));
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'dump') return;
    console.log(JSON.stringify({ path1: got[0], path2: got[1] }));
    got[0] = [];
    got[1] = [];
  });
}

const [mode, addr, pps] = process.argv.slice(2);
if (mode === 'send' && addr) send(addr, Number(pps ?? 1000));
else if (mode === 'receive') receive();
else {
  console.error('usage: path-traffic send ADDR [PPS] | receive');
  process.exit(2);
}
