/**
 * A TCP echo of sizes, for tests that carry TCP across a router: Node scripts run in a
 * namespace. The server answers each connection with as many bytes as it received; the client
 * sends each size on a connection of its own, expects as many back, and prints `ok`.
 */

export const echoServerScript = (host: string, port: number) => `
  const net = require('node:net');
  net.createServer((c) => { let n = 0; c.on('data', (d) => (n += d.length)); c.on('end', () => c.end(Buffer.alloc(n, 9))); })
    .listen(${port}, '${host}', () => console.log('ready'));`;

export const echoClientScript = (host: string, port: number, sizes = [1, 1000, 1 << 20]) => `
  const net = require('node:net');
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        for (const size of ${JSON.stringify(sizes)}) {
          const got = await new Promise((resolve, reject) => {
            const c = net.connect(${port}, '${host}', () => c.end(Buffer.alloc(size, 7)));
            c.setTimeout(3000, () => c.destroy(new Error('timeout')));
            let n = 0;
            c.on('data', (d) => (n += d.length));
            c.on('end', () => resolve(n));
            c.on('error', reject);
          });
          if (got !== size) throw new Error('got ' + got + ' bytes back of ' + size);
        }
        console.log('ok');
        return;
      } catch (e) {
        if (attempt > 20) { console.log('failed: ' + e.message); process.exit(1); }
        await wait(100); // the server still starting
      }
    }
  })();`;
