/**
 * The first bytes Node's own TLS client sends (its ClientHello, in one record), caught by a
 * plain TCP server on loopback.
 */
import net from 'node:net';
import tls from 'node:tls';

export function captureClientHello(servername: string, ALPNProtocols: string[]): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const srv = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        srv.close();
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      const sock = tls.connect({ host: '127.0.0.1', port, servername, ALPNProtocols });
      sock.on('error', () => {});
      sock.on('close', () => {});
    });
    srv.on('error', reject);
  });
}
