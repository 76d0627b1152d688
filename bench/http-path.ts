/**
 * The daemon's HTTP insight path alone, in this process: the records the HTTP stage's ring
 * would hand it (crafted here in its record layout, the fields as the data plane writes them),
 * through the daemon's own service (src/daemon/http-service.ts: decode, reassembly, head
 * parsing, pairing, naming, the Prometheus counters), in batches as the ring reader makes them.
 * For trying a change to that path without nginx, ab and a daemon (make bench-gateway measures
 * the daemon's CPU per request under real traffic; this measures the same code's time without
 * the traffic's noise).
 *
 *   node dist/bench/http-path.js [--json]
 *
 * Keep-alive connections (8) each send GET requests to an API path with an id, as ab -k does,
 * and get nginx-like 200 responses; ROUNDS (7) rounds of REQUESTS (100,000) requests. Prints the
 * median µs per request (two records each) and each round's.
 */
import pino from 'pino';

import { parseConfig } from '../src/control/config/load.js';
import type { Dataplane } from '../src/dataplane/dataplane.js';
import { HttpInsightService } from '../src/daemon/http-service.js';
import { median } from './pipeline-kit.js';
import { TCP } from '../test/helpers/craft.js';
import { httpBatches, httpHandshakes, httpRecord as record, type Endpoint } from '../test/helpers/http-records.js';

const CONNECTIONS = 8;
const REQUESTS = Number(process.env.REQUESTS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
/** Records per drained batch (the ring reader's batches are up to 1,024; under ab, tens). */
const BATCH = Number(process.env.BATCH ?? 64);

/** The records of `requests` keep-alive requests over CONNECTIONS connections, in batches. */
function traffic(requests: number): { data: Buffer; ends: Uint32Array }[] {
  const server: Endpoint = { addr: [10, 210, 9, 1], port: 80 };
  const clients = Array.from({ length: CONNECTIONS }, (_, i) => ({
    ep: { addr: [10, 210, 1, 2], port: 40000 + i },
    cseq: 1000 * i,
    sseq: 7000 * i,
  }));
  const recs: Buffer[] = [];
  let ns = httpHandshakes(recs, clients, server, 1_000_000_000n, 10_000n);
  const response = Buffer.from(
    'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 05:49:28 GMT\r\nContent-Type: application/octet-stream\r\n' +
      'Content-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n',
  );
  for (let i = 0; i < requests; i++) {
    const c = clients[i % CONNECTIONS]!;
    const req = Buffer.from(
      `GET /v1/orders/${100000 + (i % 5000)} HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: 10.210.9.1\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n`,
    );
    recs.push(record((ns += 10_000n), c.ep, server, c.cseq, TCP.PSH | TCP.ACK, req));
    c.cseq += req.length;
    recs.push(record((ns += 40_000n), server, c.ep, c.sseq, TCP.PSH | TCP.ACK, response));
    c.sseq += response.length;
  }
  return httpBatches(recs, BATCH);
}

export interface HttpPathResult {
  requests: number;
  rounds: number;
  /** µs per request: the median of the rounds, and each round's. */
  medianUs: number;
  roundsUs: number[];
}

/** Runs the daemon's HTTP path over `rounds` rounds of `requests` requests (see the top). */
export function measureHttpPath(requests = REQUESTS, rounds = ROUNDS): HttpPathResult {
  const config = parseConfig('insight: { http: { ports: [80], versionField: API-Version } }\n', 'bench');
  const noDataplane = (): Dataplane => {
    throw new Error('the HTTP path bench has no data plane');
  };
  const perRequestUs: number[] = [];
  let transactions = 0;
  // Made once: the service only reads the records, and making them is most of this process's
  // garbage, which would otherwise be collected inside the timed loop.
  const batches = traffic(requests);
  for (let round = 0; round < rounds; round++) {
    // A service of its own each round, as a daemon that just started: its tables fill as it goes.
    const service = new HttpInsightService('bench', () => config, noDataplane, pino({ level: 'silent' }));
    service.onTransaction((n) => {
      // Every request is paired with its 200 and named by its template: measured on traffic read right.
      if (n.t.status === 200 && n.api === '/v1/orders/{id}') transactions++;
    });
    const t0 = process.hrtime.bigint();
    // As the ring reader hands the daemon each batch (RingBufferReader.onBatches).
    for (const { data, ends } of batches) service.consume(data, ends, 0n);
    perRequestUs.push(Number(process.hrtime.bigint() - t0) / 1000 / requests);
  }
  if (transactions !== requests * rounds) throw new Error(`${transactions} transactions read right of ${requests * rounds} requests`);
  return { requests, rounds, medianUs: median(perRequestUs), roundsUs: perRequestUs };
}

function main(): void {
  const result = measureHttpPath();
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
  else
    console.log(
      `HTTP insight path: ${result.medianUs.toFixed(2)} µs per request (median of ${result.rounds} rounds of ${result.requests}; rounds ${result.roundsUs
        .map((u) => u.toFixed(2))
        .join(', ')})`,
    );
}

if (process.argv[1]?.endsWith('http-path.js')) main();
