/**
 * A WebSocket client run as its own process (in a namespace, where the daemon's TCP listener
 * is): `node ws-listen.js URL TOKEN SECONDS [CA_FILE]` prints every message it gets as one
 * JSON line, then {"closed": code, "reason": ...} when the server closes, or {"done": true}.
 */
import { readFileSync } from 'node:fs';

import WebSocket from 'ws';

const [url, token, seconds, ca] = process.argv.slice(2);
const ws = new WebSocket(url!, {
  headers: token ? { authorization: `Bearer ${token}` } : {},
  ...(ca ? { ca: readFileSync(ca) } : {}),
});
const end = setTimeout(
  () => {
    console.log(JSON.stringify({ done: true }));
    ws.terminate();
  },
  Number(seconds) * 1000,
);
ws.on('open', () => console.log(JSON.stringify({ open: true })));
ws.on('message', (m) => console.log(m.toString()));
ws.on('close', (code, reason) => {
  clearTimeout(end);
  console.log(JSON.stringify({ closed: code, reason: reason.toString() }));
});
ws.on('error', (e) => {
  clearTimeout(end);
  console.log(JSON.stringify({ error: e.message }));
});
