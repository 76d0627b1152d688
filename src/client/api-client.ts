/**
 * A client of the daemon's API: over the instance's unix socket by default, or `--server URL
 * --token T`. API errors come back as the PwError they were, so the CLI prints and exits on
 * them exactly as for local failures.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import type WebSocket from 'ws';

import { PwError, type ErrorCode, ErrorCatalog } from '../errors.js';
import { defaultSocketOf } from '../util/instance.js';
import { TOKEN_CHARS } from '../util/token.js';

export interface ClientOptions {
  instance: string;
  server?: string;
  token?: string;
  socket?: string;
  /** PEM file of the CA that signed an https server's certificate (else the system's CAs). */
  cacert?: string;
  /** PEM certificate and key files, for a server that asks for client certificates. */
  cert?: string;
  key?: string;
}

/** TLS material for https: and wss: connections. */
interface Tls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new PwError('PW_ERR_NOT_FOUND', `cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      where: file,
    });
  }
}

export class ApiClient {
  private constructor(
    private readonly target: { socketPath: string } | { url: URL },
    private readonly token?: string,
    private readonly tls: Tls = {},
  ) {}

  /** A client when a daemon serves this instance (or --server is given); null otherwise. */
  static find(opts: ClientOptions): ApiClient | null {
    if (opts.token && !TOKEN_CHARS.test(opts.token))
      throw new PwError('PW_ERR_USAGE', "--token must be printable ASCII without spaces, as the daemon's tokens are", {
        hint: "give the token as the daemon's config holds it (or in PATHWISE_TOKEN)",
      });
    if (opts.server) {
      let url: URL;
      try {
        url = new URL(opts.server);
      } catch {
        throw new PwError('PW_ERR_USAGE', `--server must be a URL like https://pathwise.example:9440, got '${opts.server}'`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new PwError('PW_ERR_USAGE', `--server must be an http: or https: URL, got '${opts.server}'`);
      if ((opts.cert && !opts.key) || (opts.key && !opts.cert)) throw new PwError('PW_ERR_USAGE', '--cert and --key go together');
      const tls: Tls = {
        ...(opts.cacert ? { ca: readPem(opts.cacert, 'CA certificate') } : {}),
        ...(opts.cert ? { cert: readPem(opts.cert, 'client certificate') } : {}),
        ...(opts.key ? { key: readPem(opts.key, 'client key') } : {}),
      };
      return new ApiClient({ url }, opts.token, tls);
    }
    const socketPath = opts.socket ?? defaultSocketOf(opts.instance);
    return existsSync(socketPath) ? new ApiClient({ socketPath }, opts.token) : null;
  }

  /** Opens a WebSocket on `path` (ws+unix: for the socket), with the token when there is one.
   * `ws` is imported here, not at the top: its import costs ~0.12 s, which every command paid
   * at its start, and only the event stream uses it. */
  async websocket(path: string): Promise<WebSocket> {
    const { default: WebSocketClient } = await import('ws');
    const url =
      'socketPath' in this.target
        ? `ws+unix://${this.target.socketPath}:${path}`
        : `${this.target.url.origin.replace(/^http/, 'ws')}${path}`;
    return new WebSocketClient(url, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, ...this.tls });
  }

  get where(): string {
    return 'socketPath' in this.target ? this.target.socketPath : this.target.url.origin;
  }

  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return this.send(method, path, payload, 'application/json').then(
      (res) =>
        new Promise<T>((resolve, reject) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve((text ? JSON.parse(text) : null) as T);
            } catch {
              resolve(text as T); // metrics and other text bodies
            }
          });
        }),
    );
  }

  /**
   * GET `path` whose body streams (a capture): resolves with the response once the daemon has
   * accepted, to be read as it comes; destroy it to hang up.
   */
  stream(path: string, accept: string): Promise<http.IncomingMessage> {
    return this.send('GET', path, undefined, accept);
  }

  /** Sends a request; answers of 400 and up reject with the PwError they carry. */
  private send(method: string, path: string, payload: Buffer | undefined, accept: string): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = { accept };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const t = this.target;
      const opts: http.RequestOptions =
        'socketPath' in t
          ? { socketPath: t.socketPath, path, method, headers }
          : {
              protocol: t.url.protocol,
              hostname: t.url.hostname,
              port: t.url.port,
              path: `${t.url.pathname.replace(/\/$/, '')}${path}`,
              method,
              headers,
              ...this.tls,
            };
      const req = ('url' in t && t.url.protocol === 'https:' ? https : http).request(opts, (res) => {
        if ((res.statusCode ?? 500) < 400) return resolve(res);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let e: { code?: string; message?: string; where?: string; hint?: string; details?: Record<string, unknown> } | undefined;
          try {
            e = (JSON.parse(text) as { error?: typeof e })?.error;
          } catch {
            // not an API error body
          }
          const code = (e?.code && e.code in ErrorCatalog ? e.code : 'PW_ERR_INTERNAL') as ErrorCode;
          reject(
            new PwError(code, e?.message ?? `HTTP ${res.statusCode}: ${text.slice(0, 200)}`, {
              where: e?.where,
              hint: e?.hint,
              details: e?.details,
            }),
          );
        });
      });
      req.on('error', (e) =>
        reject(
          new PwError('PW_ERR_UNREACHABLE', `cannot reach the daemon at ${this.where}: ${e.message}`, {
            hint: "is 'pathwise daemon' running? (a stale socket is removed when it starts)",
          }),
        ),
      );
      if (payload) req.write(payload);
      req.end();
    });
  }
}
