/**
 * The parsers of what users type (route and rule tokens, service and backend addresses,
 * prefixes), from the CLI or inside an API body: any mix of words, fragments of them and odd
 * characters gets a result or PW_ERR_INVALID naming where, never an exception of another kind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PwError } from '../../src/errors.js';
import { parseRuleTokens } from '../../src/filter/rule.js';
import { parseBackend, parseServiceAddress } from '../../src/lb/service.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { parsePrefix } from '../../src/util/ip.js';
import { rng } from '../helpers/rng.js';

const WORDS = (
  'via dev weight metric proto tcp udp icmp dport sport src dst flags syn,!ack drop count accept ratelimit limiter ' +
  'blackhole table nexthop group in out iface eth0 x 10.0.0.0/8 10.0.0.1 ::/0 fe80::1 1-2 65536 0 -1 @ * 0x10 ... ' +
  '[::1]:80 1.2.3.4:99999 a:b:c / // 1e3 NaN 10.0.0.0/33 [fd00::1] fd00::1:80/tcp :80 10.1.1.1:80/sctp 10.1.1.1:*/udp'
).split(' ');

describe('the text parsers under mixed-up words', () => {
  it('answer a result or PW_ERR_INVALID, nothing else (seed 3, 20,000 token lists)', () => {
    const rand = rng(3);
    const int = (n: number) => Math.floor(rand() * n);
    const parsers: Record<string, (tokens: string[]) => unknown> = {
      route: (t) => parseRouteTokens(t, (i) => `token ${i}`),
      rule: (t) => parseRuleTokens(t, (i) => `token ${i}`),
      service: (t) => parseServiceAddress(t.join(''), 'address'),
      backend: (t) => parseBackend(t.slice(0, 2).join(''), 'backend'),
      prefix: (t) => parsePrefix(t.slice(0, 2).join('')),
    };
    const seen: Record<string, { ok: number; invalid: number }> = {};
    for (let n = 0; n < 20_000; n++) {
      const tokens = Array.from({ length: int(8) }, () => {
        const w = WORDS[int(WORDS.length)]!;
        // Now and then a word cut short with a character of any kind after it (a line break too).
        return int(5) ? w : w.slice(0, int(w.length + 1)) + String.fromCharCode(int(128));
      });
      for (const [name, parse] of Object.entries(parsers)) {
        const s = (seen[name] ??= { ok: 0, invalid: 0 });
        try {
          parse(tokens);
          s.ok++;
        } catch (e) {
          if (!(e instanceof PwError)) assert.fail(`${name} ${JSON.stringify(tokens)}: ${(e as Error).stack}`);
          assert.equal(e.code, 'PW_ERR_INVALID');
          s.invalid++;
        }
      }
    }
    for (const [name, s] of Object.entries(seen)) assert.ok(s.ok > 5 && s.invalid > 10_000, `${name}: ${JSON.stringify(s)}`);
  });
});
