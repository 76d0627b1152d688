/**
 * An API server and a raw HTTP client for the HTTP insight lab (tests and demo), run inside a
 * namespace with `ip netns exec NS node dist/src/netlab/api-lab.js MODE ...`:
 *
 *   serve PORT [SINK]   an API: /vN/... answers JSON (status from ?status=NNN, a delay from
 *                       ?delay=MS), /chunked answers in chunks, /big 100 kB; request bodies are
 *                       read whole (Expect: 100-continue is answered by Node). On SINK, a TCP
 *                       listener that accepts and never answers (a TLS client's hello goes out
 *                       and waits). Prints "ready"
 *   load HOST PORT N [SRCS]  N requests over keep-alive connections (4 at a time), cycling over
 *                       APIs, versions (in the path and in an API-Version field), statuses and
 *                       delays; from SRCS source addresses in turn when given ("a,b,c"); prints
 *                       the count of answers per status as JSON
 *   hello HOST PORT SRCS  one connection attempt from each of SRCS (comma-separated) at once
 *   flood HOST PORT SECONDS SRC [RATE [PATH]]  new connections from SRC for SECONDS (RATE a second,
 *                       or as fast as they go), 300 ms each at most; prints answers by status,
 *                       timeouts and errors as JSON
 *   hooks PORT [STATUSES]  a webhook receiver on 127.0.0.1:PORT printing each POST as a JSON
 *                       line; answers STATUSES in turn ("500,200"), then 200. Prints "ready"
 *   scan HOST PORT N SRC  from SRC, N requests for missing paths (404) and N connection attempts
 *                       to the ports above PORT; prints "done"
 *   syn HOST PORT N SRC   N connection attempts from SRC to HOST:PORT, 200 ms each at most
 *   raw HOST PORT       one connection per case of what clients do at the edges: pipelined
 *                       requests, a request split over three segments, a lower-case method,
 *                       HTTP/1.0, a malformed request line; prints each case's answer bytes
 *                       as JSON when all are done
 */
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const [mode, ...args] = process.argv.slice(2);

function serve(port: number, sink: number | null): void {
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const reply = () => {
        if (url.pathname === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          for (let i = 0; i < 5; i++) res.write(`${'abcdefgh'[i]!.repeat(700 * (i + 1))}\n`);
          res.end();
          return;
        }
        if (url.pathname === '/big') {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 100_000 });
          res.end(Buffer.alloc(100_000, 0x61));
          return;
        }
        const body = JSON.stringify({ path: url.pathname, method: req.method, received: bytes });
        res.writeHead(Number(url.searchParams.get('status') ?? 200), {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      const delay = Number(url.searchParams.get('delay') ?? 0);
      if (delay > 0) setTimeout(reply, delay);
      else reply();
    });
  });
  server.keepAliveTimeout = 60_000;
  const sinkReady = new Promise<void>((resolve) => {
    if (sink === null) return resolve();
    net.createServer((sock) => sock.on('error', () => {})).listen(sink, resolve);
  });
  server.listen(port, () => void sinkReady.then(() => process.stdout.write('ready\n')));
  process.on('SIGTERM', () => process.exit(0));
}

/** Sends `parts` on one connection (a pause between them: separate segments), collects the answer until the server closes or goes quiet. */
async function exchange(host: string, port: number, parts: string[], pauseMs = 60): Promise<string> {
  const sock = net.connect({ host, port, noDelay: true });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  let answer = '';
  sock.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  for (const p of parts) {
    sock.write(p);
    await sleep(pauseMs);
  }
  await Promise.race([closed, sleep(500)]);
  sock.destroy();
  return answer;
}

async function raw(host: string, port: number): Promise<void> {
  const h = `Host: ${host}:${port}\r\n`;
  const cases: Record<string, string[]> = {
    pipelined: [
      `GET /v1/pipe/1 HTTP/1.1\r\n${h}\r\nGET /v1/pipe/2?status=404 HTTP/1.1\r\n${h}\r\nHEAD /v2/pipe/3 HTTP/1.1\r\n${h}Connection: close\r\n\r\n`,
    ],
    split: ['GET /v2/spl', `it/abc HTTP/1.1\r\n${h}X-Pad: `, `yes\r\nConnection: close\r\n\r\n`],
    lowercase: [`get /v1/lower HTTP/1.1\r\n${h}\r\n`],
    http10: ['GET /v1/old HTTP/1.0\r\n\r\n'],
    malformed: ['THIS IS NOT HTTP AT ALL\r\n\r\n'],
    postSplitBody: [`POST /v3/orders HTTP/1.1\r\n${h}Content-Length: 10\r\nConnection: close\r\n\r\n01234`, '56789'],
  };
  const out: Record<string, string> = {};
  for (const [name, parts] of Object.entries(cases)) out[name] = (await exchange(host, port, parts)).split('\r\n')[0] ?? '';
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** The request mix of `load`: the i-th request's path and fields. */
function loadRequest(i: number): { path: string; headers: Record<string, string>; method: string } {
  const id = 1000 + (i % 97);
  switch (i % 6) {
    case 0:
      return { method: 'GET', path: `/v1/orders/${id}`, headers: {} };
    case 1:
      return { method: 'GET', path: `/v2/orders/${id}?delay=${6 + (i % 5)}`, headers: {} };
    case 2:
      return { method: 'POST', path: '/v2/orders/new', headers: { 'content-type': 'application/json' } };
    case 3:
      return { method: 'GET', path: `/users/${id}?status=404`, headers: { 'API-Version': '2024-01' } };
    case 4:
      return { method: 'GET', path: `/users/${id}`, headers: { 'API-Version': '2025-06' } };
    default:
      return { method: 'DELETE', path: `/v1/orders/${id}?status=503`, headers: {} };
  }
}

async function load(host: string, port: number, n: number, sources: string[]): Promise<void> {
  const agents = (sources.length ? sources : [undefined]).map(
    (localAddress) => new http.Agent({ keepAlive: true, maxSockets: 4, localAddress }),
  );
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = loadRequest(i);
      const body = r.method === 'POST' ? JSON.stringify({ item: i }) : undefined;
      const status = await new Promise<string>((resolve) => {
        const req = http.request(
          { host, port, method: r.method, path: r.path, headers: r.headers, agent: agents[i % agents.length] },
          (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.statusCode)));
          },
        );
        req.on('error', (e) => resolve(`error ${e.message}`));
        req.end(body);
      });
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  for (const a of agents) a.destroy();
  process.stdout.write(JSON.stringify(statuses) + '\n');
}

/**
 * Requests from `source` for `seconds`, each on a new connection with a 300 ms deadline: at
 * most `rate` a second (0: as fast as 4 at a time go). A source sealed at XDP sees its
 * connections time out; it keeps trying, as a flooding client does. Prints the answers by
 * status, and the timeouts and errors, as JSON.
 */
async function flood(host: string, port: number, seconds: number, source: string, rate: number, path?: string): Promise<void> {
  const out: Record<string, number> = {};
  const count = (k: string) => (out[k] = (out[k] ?? 0) + 1);
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.request(
        { host, port, path: path ?? `/v1/orders/${Date.now() % 1000}`, localAddress: source, agent: false, timeout: 300 },
        (res) => {
          res.resume();
          res.on('end', () => {
            count(String(res.statusCode));
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        count(e.message === 'timeout' ? 'timeout' : 'error');
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (Date.now() < end) {
      const t = Date.now();
      await one();
      if (rate > 0) await sleep(Math.max(0, 1000 / rate - (Date.now() - t)));
    }
  };
  await Promise.all(Array.from({ length: rate > 0 ? 1 : 4 }, worker));
  process.stdout.write(JSON.stringify(out) + '\n');
}

/**
 * A webhook receiver on 127.0.0.1:`port`: prints each POST as a JSON line { headers, body },
 * answering the statuses of `statuses` in turn ("500,200": the first fails), then 200.
 */
function hooks(port: number, statuses: number[]): void {
  let n = 0;
  http
    .createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const status = statuses[n++] ?? 200;
        process.stdout.write(JSON.stringify({ at: Date.now(), status, headers: req.headers, body }) + '\n');
        res.writeHead(status).end();
      });
    })
    .listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => process.exit(0));
}

/** A connection attempt from `source` that gives up after `ms`; resolves either way. */
function attempt(host: string, port: number, source: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, localAddress: source });
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(done, ms);
    sock.once('connect', done).once('error', done);
  });
}

/**
 * What a scanner does, from `source`: `n` requests for paths that do not exist (answered 404)
 * on HOST:PORT, and connection attempts to `n` ports from PORT+1 up. Prints "done".
 */
async function scan(host: string, port: number, n: number, source: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4, localAddress: source });
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const req = http.request({ host, port, path: `/scan/${i.toString(36)}/probe?status=404`, agent, timeout: 1000 }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve());
      req.end();
    });
  for (let i = 0; i < n; i += 4) await Promise.all([0, 1, 2, 3].map((k) => one(i + k)));
  agent.destroy();
  for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => attempt(host, port + 1 + i + k, source, 200)));
  process.stdout.write('done\n');
}

/** `n` connection attempts from `source` to HOST:PORT, 50 at a time, each given up after 200 ms. Prints "done". */
async function syns(host: string, port: number, n: number, source: string): Promise<void> {
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => attempt(host, port, source, 200)));
  process.stdout.write('done\n');
}

if (mode === 'serve') serve(Number(args[0]), args[1] ? Number(args[1]) : null);
else if (mode === 'raw') await raw(args[0]!, Number(args[1]));
else if (mode === 'hooks') hooks(Number(args[0]), args[1] ? args[1].split(',').map(Number) : []);
else if (mode === 'scan') await scan(args[0]!, Number(args[1]), Number(args[2]), args[3]!);
else if (mode === 'syn') await syns(args[0]!, Number(args[1]), Number(args[2]), args[3]!);
else if (mode === 'flood') await flood(args[0]!, Number(args[1]), Number(args[2]), args[3]!, Number(args[4] ?? 0), args[5]);
else if (mode === 'hello') {
  // One connection attempt from each of SRCS (comma-separated), all at once.
  await Promise.all(args[2]!.split(',').map((src) => attempt(args[0]!, Number(args[1]), src, 300)));
  process.stdout.write('done\n');
} else if (mode === 'load') await load(args[0]!, Number(args[1]), Number(args[2]), args[3] ? args[3].split(',') : []);
else {
  process.stderr.write(`api-lab: unknown mode ${mode}\n`);
  process.exit(2);
}
