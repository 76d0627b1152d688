/**
 * The rule syntax (`rule add`, and the config's rules through the same parser): what each
 * criterion means, the text round trip the daemon's history and `rule list` rely on, and
 * refusals of rules that could never match what they say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { configRuleOf, ruleSpecOf } from '../../src/control/config/forms.js';
import { PwError } from '../../src/errors.js';
import { formatRule, parseRuleTokens, ruleMatches, TCP_FLAGS } from '../../src/filter/rule.js';
import { parseAddress } from '../../src/util/ip.js';

const rule = (text: string) => parseRuleTokens(text.split(' '), (i) => `argument ${i + 1}`);
const fails = (text: string, pattern: RegExp, where?: string) =>
  assert.throws(
    () => rule(text),
    (e: PwError) => e.code === 'PW_ERR_INVALID' && pattern.test(e.message) && (where === undefined || e.where === where),
  );

describe('rule syntax', () => {
  it('reads every criterion', () => {
    const r = rule('ratelimit syn from 198.51.100.0/24 to 192.0.2.0/24 proto tcp sport 1024-65535 dport 22 flags syn,!ack iif eth0');
    assert.equal(r.action, 'ratelimit');
    assert.equal(r.limiter, 'syn');
    assert.equal(r.proto, 6);
    assert.deepEqual(r.sport, [1024, 65535]);
    assert.deepEqual(r.dport, [22, 22]);
    assert.deepEqual(r.tcpFlags, { mask: TCP_FLAGS.syn! | TCP_FLAGS.ack!, value: TCP_FLAGS.syn });
    assert.equal(r.iif, 'eth0');
    assert.equal(rule('drop proto 47').proto, 47);
  });

  it('writes a rule back as the text it read, and as the config form, both ways', () => {
    for (const text of [
      'drop from 198.51.100.0/24 proto tcp dport 22',
      'ratelimit syn proto tcp flags syn,!ack',
      'log to 2001:db8::/32 proto udp sport 53',
      'pass iif lo',
      'count proto 115',
      'drop proto udp dport 1000-2000',
    ]) {
      const spec = rule(text);
      assert.equal(formatRule(spec), text);
      assert.deepEqual(ruleSpecOf(configRuleOf(spec), 'rules[0]'), spec);
    }
  });

  it('matches packets as it says (the reference the pipeline is checked against)', () => {
    const pkt = (src: string, dport: number, flags: number) => ({
      family: 4 as const,
      src: parseAddress(src).addr,
      dst: parseAddress('192.0.2.1').addr,
      proto: 6,
      sport: 40000,
      dport,
      tcpFlags: flags,
    });
    const r = rule('drop from 198.51.100.0/24 proto tcp dport 22 flags syn,!ack');
    assert.equal(ruleMatches(r, pkt('198.51.100.9', 22, TCP_FLAGS.syn!)), true);
    assert.equal(ruleMatches(r, pkt('198.51.100.9', 22, TCP_FLAGS.syn! | TCP_FLAGS.ack!)), false, 'SYN/ACK is not a connection attempt');
    assert.equal(ruleMatches(r, pkt('198.51.101.9', 22, TCP_FLAGS.syn!)), false);
    assert.equal(ruleMatches(r, pkt('198.51.100.9', 23, TCP_FLAGS.syn!)), false);
  });

  it('refuses rules that cannot mean what they say, naming the argument', () => {
    fails('block from 10.0.0.0/8', /a rule starts with its action/, 'argument 1');
    fails('ratelimit from 10.0.0.0/8', /'ratelimit' needs the limiter's name/, 'argument 2');
    fails('drop dport 22', /ports need proto tcp or udp/);
    fails('drop proto udp flags syn', /flags need proto tcp/);
    fails('drop from 10.0.0.0/8 to 2001:db8::/32', /from is IPv4 but to is IPv6/);
    fails('drop proto tcp dport 22-21', /invalid port or range '22-21'/, 'argument 5');
    fails('drop proto tcp dport 70000', /invalid port or range/);
    fails('drop proto tcp flags syn,fin,xmas', /unknown TCP flag 'xmas'/);
    fails('drop proto banana', /unknown protocol 'banana'/, 'argument 3');
    fails('drop from', /'from' needs a value/, 'argument 2');
    fails('drop size 1500', /unexpected 'size'/, 'argument 2');
    // A criterion given twice would have replaced the first silently; a flag set and cleared
    // would have kept only one of the two.
    fails('drop from 10.0.0.0/8 from 11.0.0.0/8', /'from' is given twice/, 'argument 4');
    fails('drop proto tcp dport 80 proto udp', /'proto' is given twice/, 'argument 6');
    fails('drop proto tcp flags syn flags !ack', /'flags' is given twice/, 'argument 6');
    fails('drop proto tcp flags syn,!syn', /TCP flag 'syn' is both set and cleared in 'syn,!syn'/, 'argument 5');
    fails('drop proto tcp flags !ack,fin,ack', /TCP flag 'ack' is both set and cleared/);
    assert.deepEqual(rule('drop proto tcp flags syn,syn,!ack,!ack').tcpFlags, {
      mask: TCP_FLAGS.syn! | TCP_FLAGS.ack!,
      value: TCP_FLAGS.syn!,
    });
  });
});
