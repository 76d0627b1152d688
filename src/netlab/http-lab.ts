/**
 * HTTP servers and clients for the load-balancing lab (demo, tests and bench), run inside a
 * namespace with `ip netns exec NS node dist/src/netlab/http-lab.js MODE ...`:
 *
 *   serve NAME PORT            answers every request with NAME (keep-alive), prints "ready"
 *   count URL N CONCURRENCY    N requests, each on a new connection; prints the answers per
 *                              name and the errors as JSON
 *   hold HOST PORT CONNS       CONNS keep-alive connections, each sending a request every
 *                              100 ms while it is open; on SIGTERM prints per connection
 *                              the names that answered, the requests it wrote and the errors
 *                              (a reset is one, also one right behind an answer) as JSON
 *   udp-serve NAME PORT [ADDR] answers every datagram with NAME, from ADDR when given (a
 *                              socket on the wildcard answers from the address the route
 *                              picks: DSR needs the service's); a datagram longer than 64
 *                              bytes with one as long: NAME, a line break, then its own bytes
 *   udp-count HOST PORT N [SIZE]
 *                              N datagrams, each from a new socket (a new source port), each
 *                              awaiting its answer for a second; the answers per name as JSON.
 *                              With SIZE, datagrams of SIZE bytes (past the MTU: sent, and
 *                              answered, in fragments), whose answers must be whole
 *
 * Names in the answers say which backend served each request, as the client sees it.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

function serve(name: string, port: number): void {
  const body = Buffer.from(name);
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 600_000;
  server.listen(port, () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => process.exit(0));
}

async function count(url: string, n: number, concurrency: number): Promise<void> {
  const counts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent: false, headers: { connection: 'close' }, timeout: 5000 }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          counts[text] = (counts[text] ?? 0) + 1;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const k = e.code ?? e.message;
        errors[k] = (errors[k] ?? 0) + 1;
        resolve();
      });
    });
  const worker = async () => {
    while (next < n) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(`${JSON.stringify({ counts, errors })}\n`);
}

/** One held connection, as `hold` reports it (test/e2e/balance reads the report). */
export interface Held {
  names: string[];
  requests: number;
  answers: number;
  errors: string[];
  /** When (Date.now()) the last answer came, the peer's FIN ('end'), the first error, the
   * close: what a test needs to tell a reset from an orderly end, and when either came. */
  at: { answer?: number; end?: number; error?: number; close?: number };
}

function hold(host: string, port: number, conns: number): void {
  const held: Held[] = [];
  const timers: NodeJS.Timeout[] = [];
  let ready = 0;
  for (let i = 0; i < conns; i++) {
    const h: Held = { names: [], requests: 0, answers: 0, errors: [], at: {} };
    held.push(h);
    // Half-open allowed so that an 'end' can be probed (below).
    const sock = net.connect({ host, port, allowHalfOpen: true });
    let timer: NodeJS.Timeout | undefined;
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      // Answers are small and whole: headers, a blank line, content-length bytes.
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const name = buf.slice(end + 4, end + 4 + len);
        buf = buf.slice(end + 4 + len);
        h.answers++;
        h.at.answer = Date.now();
        if (h.names[h.names.length - 1] !== name) h.names.push(name);
        if (h.answers === 1 && ++ready === conns) process.stdout.write('ready\n');
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      h.at.error ??= Date.now();
      h.errors.push(e.code ?? e.message);
    });
    // A reset that arrives right behind data reads as an end: libuv takes the hang-up with
    // the data for the end of the stream and never reads the socket's error. A write then
    // finds it (ECONNRESET, reported as an error); after a real FIN the write goes out.
    sock.on('end', () => {
      h.at.end = Date.now();
      sock.end(`GET / HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
    });
    sock.on('close', () => {
      clearInterval(timer);
      h.at.close = Date.now();
      h.errors.push('closed');
    });
    sock.on('connect', () => {
      const send = () => {
        if (sock.writableEnded || sock.destroyed) return;
        h.requests++;
        sock.write(`GET / HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
      };
      send();
      timer = setInterval(send, 100);
      timers.push(timer);
    });
  }
  // Reports on SIGTERM only, also when every connection has ended before.
  timers.push(setInterval(() => {}, 60_000));
  process.on('SIGTERM', () => {
    for (const t of timers) clearInterval(t);
    process.stdout.write(`${JSON.stringify(held)}\n`);
    process.exit(0);
  });
}

function udpServe(name: string, port: number, addr?: string): void {
  const sock = dgram.createSocket({ type: addr && !addr.includes(':') ? 'udp4' : 'udp6', ipv6Only: false });
  const head = Buffer.from(`${name}\n`);
  sock.on('message', (m, from) =>
    sock.send(m.length > 64 ? Buffer.concat([head, m.subarray(head.length)]) : name, from.port, from.address),
  );
  sock.bind(port, addr, () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => process.exit(0));
}

async function udpCount(host: string, port: number, n: number, size?: number): Promise<void> {
  const counts: Record<string, number> = {};
  const ping = size ? Buffer.alloc(size, 'pathwise fragments ') : Buffer.from('ping');
  let lost = 0;
  let damaged = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const timer = setTimeout(() => {
        lost++;
        sock.close();
        resolve();
      }, 1000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        const name = size ? m.subarray(0, m.indexOf(10)).toString() : m.toString();
        // An answer to a large datagram holds the datagram's own bytes after the name.
        if (size && (m.length !== size || !m.subarray(name.length + 1).equals(ping.subarray(name.length + 1)))) damaged++;
        else counts[name] = (counts[name] ?? 0) + 1;
        sock.close();
        resolve();
      });
      sock.send(ping, port, host);
    });
  // Large datagrams 8 at a time: 32 reassembled ones at once overflow a server socket's
  // default receive buffer (UdpRcvbufErrors), and the client would count them lost.
  const batch = size ? 8 : 32;
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, one));
  const errors = { ...(lost ? { lost } : {}), ...(damaged ? { damaged } : {}) };
  process.stdout.write(`${JSON.stringify({ counts, errors })}\n`);
}

if (mode === 'serve') serve(args[0]!, Number(args[1]));
else if (mode === 'udp-serve') udpServe(args[0]!, Number(args[1]), args[2]);
else if (mode === 'udp-count') void udpCount(args[0]!, Number(args[1]), Number(args[2]), args[3] ? Number(args[3]) : undefined);
else if (mode === 'count') void count(args[0]!, Number(args[1]), Number(args[2]));
else if (mode === 'hold') hold(args[0]!, Number(args[1]), Number(args[2]));
else {
  process.stderr.write(
    'usage: http-lab.js serve NAME PORT | count URL N CONCURRENCY | hold HOST PORT CONNS | udp-serve NAME PORT [ADDR] | udp-count HOST PORT N [SIZE]\n',
  );
  process.exit(2);
}
