/**
 * The fuzz harness shared by the test (a fixed seed, a bounded number of iterations) and
 * `make fuzz` (a long run): mutants of real captures go through the pipeline's replay entry
 * (BPF_PROG_TEST_RUN, arriving on a real interface of a lab namespace, with default routes
 * through a real gateway and the corpus rules), and each result is checked:
 * - the run itself succeeds and never ends in XDP_ABORTED;
 * - the verdict and its reason agree (a redirect has none, a pass and a drop have one that
 *   belongs to them), and the interface counters account for every packet by verdict and
 *   by reason;
 * - a redirected packet is one the strict oracle (oracle.ts) says may be forwarded, with the
 *   5-tuple the oracle reads from it;
 * - a packet whose headers the oracle reads whole, and that the lab's blocklist or one of its
 *   drop rules covers, is dropped: whatever else is wrong with it (a tag, a martian address, its
 *   TTL), it gets past no rule;
 * - what leaves (a redirect, a pass) has the checksums it came with: right, wrong or absent,
 *   through the TTL's update and any translation;
 * - with services (services.ts): a packet to one that is forwarded leaves for its backend
 *   (or, with DSR, as it came), and a reply of a connection translated in the run leaves from
 *   the service;
 * - the same frame, as a socket buffer through the TC build (pw_tc), is dropped where a drop
 *   covers it, redirected only when the oracle says it may be, and counted by its verdict.
 * The lab's filter has two settings (setFuzzFilter): `full` (the corpus rules, ten counting
 * rules before the drops, and the blocklist) sends every TCP packet into the guard stage;
 * `lean` (the two drop rules alone, no blocklist) lets the pipeline's inline check skip the
 * stage for the packets that one field already clears.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { parseRuleTokens } from '../../src/filter/rule.js';
import * as abi from '../../src/generated/pathwise.js';
import { asEthernet, replayableLinktype } from '../../src/insight/replay.js';
import { reasonName, verdictName } from '../../src/insight/verdicts.js';
import { inNetns, readCapture, resolveIfindex, XdpAction, xdpMd, type Program } from '../../src/kernel/index.js';
import { parsePrefix } from '../../src/util/ip.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { buildCorpus, CORPUS_BLOCKED, CORPUS_RULES } from '../helpers/corpus.js';
import { MAC_A, MAC_B } from '../helpers/packets.js';
import { sharedData } from '../helpers/paths.js';
import type { Topology } from '../helpers/topology.js';
import { rng } from '../helpers/rng.js';
import { skbRefused, TcAction, tcRun } from '../helpers/tc-run.js';
import { mutate } from './mutate.js';
import { checksums, oracleView, type OracleView } from './oracle.js';
import { FragmentPorts, fuzzServices, NatReplies, natTarget } from './services.js';

const R = abi.PwReason;
/** The reasons a drop may give. */
const DROP_REASONS = new Set<number>([
  R.BLOCKED,
  R.RULE_DROP,
  R.RATE_LIMITED,
  R.FRAG_ATTACK,
  R.UNCLASSIFIED,
  R.RULE_LIMIT,
  R.BLACKHOLE,
  R.SEALED,
  // a service's: no backend, a fragment (no ports to choose one by), no SNAT port, a reset
  R.LB_NO_BACKEND,
  R.LB_FRAGMENT,
  R.LB_NO_PORT,
  R.LB_RESET,
  // malformed packets, when pipeline.dropMalformed is on
  ...Object.values(R).filter((r) => r > R.NONE && r < R.MALFORMED_MAX),
]);
/** The TC build's return codes, as the interface counters name its verdicts. */
const TC_VERDICT: Record<number, string> = { [TcAction.OK]: 'pass', [TcAction.SHOT]: 'drop', [TcAction.REDIRECT]: 'redirect' };
const ACTION_OF: Record<number, number> = {
  [abi.PwVerdict.PASS]: XdpAction.PASS,
  [abi.PwVerdict.DROP]: XdpAction.DROP,
  [abi.PwVerdict.REDIRECT]: XdpAction.REDIRECT,
  [abi.PwVerdict.TX]: XdpAction.TX,
};

export interface FuzzLab {
  dp: Dataplane;
  ns: string;
  ingress: string;
  filter: 'full' | 'lean';
  /** The NAT services of services.ts are set. */
  services: boolean;
}

/** The corpus rules that drop, as dropRuleOf judges them. */
const DROP_RULES = ['drop proto tcp dport 22', 'drop proto tcp dport 2222 flags syn,!ack'];
if (JSON.stringify(CORPUS_RULES.filter((r) => r.startsWith('drop'))) !== JSON.stringify(DROP_RULES))
  throw new Error('test/helpers/corpus.ts changed its drop rules: teach the fuzz harness (dropRuleOf) the new ones');

/** The blocklist's prefixes as leading hex digits of an address (the oracle's form). */
const BLOCKED_HEX = CORPUS_BLOCKED.map((text) => {
  const p = parsePrefix(text);
  if (p.plen % 4) throw new Error(`${text}: the fuzz harness compares prefixes by hex digit`);
  const bytes = p.addr.subarray(0, p.family === 4 ? 4 : 16);
  return {
    family: p.family,
    hex: Buffer.from(bytes)
      .toString('hex')
      .slice(0, p.plen / 4),
  };
});

/** Which of the lab's drops covers the packet the oracle read, if one does. */
function dropRuleOf(o: OracleView, blocklist: boolean): string | null {
  if (!o.family || o.src === undefined) return null;
  if (blocklist && BLOCKED_HEX.some((b) => b.family === o.family && o.src!.startsWith(b.hex))) return 'the blocklist';
  if (o.proto !== 6) return null;
  // Both drop rules name TCP ports: a TCP packet whose ports cannot be read fails closed.
  if (o.l4Hidden) return 'a rule on ports, its TCP header cut short';
  if (o.dport == null) return null;
  if (o.dport === 22) return DROP_RULES[0]!;
  if (o.dport === 2222 && ((o.tcpFlags ?? 0) & 0x12) === 0x02) return DROP_RULES[1]!;
  return null;
}

/** Sets the lab's rules and blocklist (see the header). */
export function setFuzzFilter(lab: FuzzLab, filter: 'full' | 'lean'): void {
  const rules = filter === 'full' ? CORPUS_RULES : DROP_RULES;
  inNetns(lab.ns, () => {
    lab.dp.filter.setRules(rules.map((r, i) => parseRuleTokens(r.split(' '), (k) => `rule ${i + 1} token ${k}`)));
    if (filter === 'full') lab.dp.filter.block(CORPUS_BLOCKED.map((p) => parsePrefix(p)));
    else for (const p of CORPUS_BLOCKED) lab.dp.filter.unblock(parsePrefix(p));
  });
  lab.filter = filter;
}

/** A router namespace with a gateway behind r1 (which has the corpus's router MAC), default
 * routes through it, and the corpus rules. */
export async function openFuzzLab(topo: Topology, instance: string): Promise<FuzzLab> {
  const ns = topo.addNamespace('R');
  const gw = topo.addNamespace('G');
  topo.addVeth({ ns, name: 'r1', addr: '10.234.0.1/24' }, { ns: gw, name: 'g0', addr: '10.234.0.2/24' });
  // The corpus's router MAC on the ingress interface: the TC build, which runs as on a live
  // interface, takes those frames as addressed to it and routes them.
  const routerMac = [...MAC_B].map((b) => b.toString(16).padStart(2, '0')).join(':');
  topo.exec(ns, 'ip', ['link', 'set', 'dev', topo.name('r1'), 'address', routerMac]);
  topo.exec(ns, 'ip', ['addr', 'add', 'fd34::1/64', 'dev', topo.name('r1'), 'nodad']);
  topo.exec(gw, 'ip', ['addr', 'add', 'fd34::2/64', 'dev', topo.name('g0'), 'nodad']);
  topo.exec(ns, 'ping', ['-c', '1', '-W', '2', '10.234.0.2']);
  topo.exec(ns, 'ping', ['-6', '-c', '1', '-W', '2', 'fd34::2']);
  topo.recordInstance(instance);
  const dp = await Dataplane.open(instance);
  const ingress = topo.name('r1');
  inNetns(ns, () => {
    dp.syncHostRoutes();
    for (const r of ['0.0.0.0/0 via 10.234.0.2', '::/0 via fd34::2']) dp.addRoute(parseRouteTokens(r.split(' '), (i) => `token ${i}`));
    dp.enableEgress(ingress);
    dp.syncNeighbors();
  });
  const lab: FuzzLab = { dp, ns, ingress, filter: 'full', services: false };
  setFuzzFilter(lab, 'full');
  return lab;
}

/** Sets or removes the lab's NAT services (services.ts). */
export function setFuzzServices(lab: FuzzLab, on: boolean): void {
  inNetns(lab.ns, () => {
    for (const spec of fuzzServices()) {
      if (on) lab.dp.services.set(spec);
      else if (lab.services) lab.dp.services.remove(spec.name);
    }
  });
  lab.services = on;
}

/** Seeds: every frame of the shared captures, and the crafted corpus. */
export function fuzzSeeds(): Buffer[] {
  const seeds: Buffer[] = [];
  const dir = join(sharedData, 'pcaps');
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.pcap'))) {
      const cap = readCapture(join(dir, f), { partial: true });
      if (!replayableLinktype(cap.linktype)) continue;
      for (const p of cap.packets) seeds.push(asEthernet(cap.linktype, p.data));
    }
  }
  const corpus = buildCorpus({
    client4: '10.231.1.2',
    server4: '10.99.2.2',
    client6: 'fd31:1::2',
    server6: 'fd99::2',
    routerMac: MAC_B,
    clientMac: MAC_A,
  });
  for (const c of corpus) seeds.push(...c.frames);
  return seeds;
}

export interface Finding {
  iteration: number;
  frame: Buffer;
  problem: string;
}

export interface FuzzResult {
  iterations: number;
  findings: Finding[];
  verdicts: Record<string, number>;
  reasons: Record<string, number>;
  /** Mutants the blocklist or a drop rule covered (by the oracle's reading). */
  covered: number;
  /** Mutants to a service that were forwarded (each checked to leave for its backend). */
  nat: number;
  /** Replies of connections translated in this run, forwarded (each checked to leave from the service). */
  replies: number;
  /** Of those two, later fragments (judged by their first fragment's ports). */
  fragments: number;
  /** The verdicts of the same mutants through the TC build (those the kernel took as a socket buffer). */
  tcVerdicts: Record<string, number>;
}

/** Per-verdict and per-reason packet counts of the lab's ingress interface. */
function counters(lab: FuzzLab): { packets: Record<string, number>; reasons: Record<string, number> } {
  const s = inNetns(lab.ns, () => lab.dp.interfaceStats()).find((x) => x.name === lab.ingress);
  return { packets: s?.packets ?? {}, reasons: s?.reasons ?? {} };
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

type Found = (problem: string) => void;
/** What the replay entry decided for a frame. */
type Decision = abi.PwReplayResult;

/** What leaves (forwarded, translated, or handed to the kernel) keeps its checksums as they
 * came: right stays right, wrong stays wrong, an absent UDP checksum absent. A packet sent
 * back (a service's reset) is made anew: its checksums are right. */
function checkChecksums(r: Decision, frame: Buffer, output: Uint8Array, found: Found): void {
  const was = checksums(frame);
  const is = checksums(output);
  const tx = r.verdict === abi.PwVerdict.TX;
  for (const k of ['ip', 'l4'] as const) {
    if (tx ? is[k] === 'bad' : was[k] !== null && was[k] !== is[k])
      found(`${verdictName(r.verdict)}: the ${k} checksum was ${was[k]}, is ${is[k]} after`);
  }
}

/** A redirected packet: one the oracle routes, reported with the tuple of what leaves; to a
 * service, it leaves for the backend; a reply of a connection seen, from the service. A later
 * fragment, whose ports are its first fragment's, is judged by its addresses, as that first
 * fragment would be. Returns whether the packet left translated, as a service's or a reply. */
function checkRedirect(
  lab: FuzzLab,
  r: Decision,
  o: OracleView,
  output: Uint8Array | null,
  nat: { replies: NatReplies; fragments: FragmentPorts },
  tally: Tally,
  found: Found,
): boolean {
  if (!o.routable) {
    found(`redirected, but the oracle says: ${o.why}`);
    return false;
  }
  const len = r.family === 4 ? 4 : 16;
  const hex = (b: Uint8Array) => Buffer.from(b.subarray(0, len)).toString('hex');
  const got = {
    family: r.family,
    proto: r.proto,
    src: hex(r.src),
    dst: hex(r.dst),
    sport: r.has_ports ? r.sport : null,
    dport: r.has_ports ? r.dport : null,
  };
  const left = output ? oracleView(output) : o;
  const want = { family: left.family, proto: left.proto, src: left.src, dst: left.dst, sport: left.sport, dport: left.dport };
  if (JSON.stringify(got) !== JSON.stringify(want))
    found(`parsed ${JSON.stringify(got)}, the oracle reads ${JSON.stringify(want)} in what leaves`);
  if (!lab.services) return false;
  const later = o.fragment === true && !o.firstFragment;
  const judged = later ? nat.fragments.ported(o) : o;
  if (!judged) return false;
  // What is compared: a later fragment has no ports of its own.
  const seen = (t: { src?: string; dst?: string }) => (later ? { src: t.src, dst: t.dst } : t);
  if (later) tally.fragments++;
  const to = natTarget(judged);
  if (to) {
    tally.nat++;
    if (JSON.stringify(seen(want)) !== JSON.stringify(seen({ ...want, ...to }))) {
      found(`to a service, but left as ${JSON.stringify(want)} (its backend: ${JSON.stringify(to)})`);
      return false;
    }
    if (!later) nat.replies.forwarded(o, left);
    return true;
  }
  const back = nat.replies.expected(judged);
  if (!back) return false;
  tally.replies++;
  const as = { proto: left.proto, src: left.src, sport: left.sport, dst: left.dst, dport: left.dport };
  if (JSON.stringify(seen(as)) !== JSON.stringify(seen(back))) {
    found(`a reply of a translated connection left as ${JSON.stringify(as)}, not ${JSON.stringify(back)}`);
    return false;
  }
  return true;
}

/** The same frame through the TC build, as a socket buffer arriving on the same interface:
 * it counts into the same interface counters, by its verdict (tallied in tcVerdicts).
 * Returns what TC returned, null when the kernel refused the frame as a socket buffer. */
function checkTc(
  tc: Program,
  frame: Buffer,
  ifindex: number,
  o: OracleView,
  drop: string | null,
  tcVerdicts: Record<string, number>,
  found: Found,
): number | null {
  let ret: number;
  try {
    ret = tcRun(tc, frame, { ifindex });
  } catch (e) {
    if (!skbRefused(frame)) found(`the TC test run failed: ${(e as Error).message}`);
    return null;
  }
  const v = TC_VERDICT[ret];
  if (!v) found(`TC returned ${ret}`);
  else tcVerdicts[v] = (tcVerdicts[v] ?? 0) + 1;
  if (drop && ret !== TcAction.SHOT) found(`TC: ${v ?? ret}, but ${drop} drops ${JSON.stringify(o)}`);
  if (ret === TcAction.REDIRECT && !o.routable) found(`TC redirected, but the oracle says: ${o.why}`);
  return ret;
}

interface Tally {
  covered: number;
  nat: number;
  replies: number;
  fragments: number;
}

export function runFuzz(lab: FuzzLab, seeds: Buffer[], opts: { seed: number; iterations: number; maxFindings?: number }): FuzzResult {
  const rand = rng(opts.seed);
  const findings: Finding[] = [];
  const verdicts: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  const tally: Tally = { covered: 0, nat: 0, replies: 0, fragments: 0 };
  const nat = { replies: new NatReplies(), fragments: new FragmentPorts() };
  const tcVerdicts: Record<string, number> = {};
  const tc = lab.dp.pipeline.tc;
  const prog = lab.dp.pipeline.replay;
  const decisions = lab.dp.pipeline.maps.replayOut;
  const before = counters(lab);
  const ifindex = inNetns(lab.ns, () => resolveIfindex(lab.ingress));
  let i = 0;
  inNetns(lab.ns, () => {
    for (; i < opts.iterations && findings.length < (opts.maxFindings ?? 20); i++) {
      const frame = mutate(seeds[Math.floor(rand() * seeds.length)]!, rand);
      const found = (problem: string) => findings.push({ iteration: i, frame, problem });
      let retval: number;
      let output: Uint8Array | null;
      try {
        ({ retval, data: output } = prog.testRunSync({ data: frame, ctx: xdpMd(frame.length, ifindex) }));
      } catch (e) {
        // A frame shorter than an Ethernet header is refused by the kernel itself (EINVAL).
        if (frame.length >= 14) found(`the test run failed: ${(e as Error).message}`);
        continue;
      }
      const r = decisions.get(0)!;
      verdicts[verdictName(r.verdict)] = (verdicts[verdictName(r.verdict)] ?? 0) + 1;
      reasons[reasonName(r.reason)] = (reasons[reasonName(r.reason)] ?? 0) + 1;
      if (retval === XdpAction.ABORTED) found('XDP_ABORTED');
      if (ACTION_OF[r.verdict] !== retval) found(`verdict ${verdictName(r.verdict)} returned action ${retval}`);
      if (r.reason >= R.MAX) found(`reason ${r.reason} out of range`);
      if (r.verdict === abi.PwVerdict.REDIRECT && r.reason !== R.NONE) found(`redirected with reason ${reasonName(r.reason)}`);
      if (r.verdict === abi.PwVerdict.PASS && r.reason === R.NONE) found('passed to the kernel without a reason');
      if (r.verdict === abi.PwVerdict.DROP && !DROP_REASONS.has(r.reason)) found(`dropped with reason ${reasonName(r.reason)}`);
      if (r.verdict !== abi.PwVerdict.DROP && output) checkChecksums(r, frame, output, found);
      const o = oracleView(frame);
      const drop = dropRuleOf(o, lab.filter === 'full');
      if (drop) tally.covered++;
      if (drop && r.verdict !== abi.PwVerdict.DROP)
        found(`${verdictName(r.verdict)} (${reasonName(r.reason)}), but ${drop} drops ${JSON.stringify(o)}`);
      const translated = r.verdict === abi.PwVerdict.REDIRECT && checkRedirect(lab, r, o, output, nat, tally, found);
      const tcRet = tc ? checkTc(tc, frame, ifindex, o, drop, tcVerdicts, found) : null;
      // The TC run left the datagram's record as its own run made it: one that stopped before
      // the balance stage (a frame for another MAC: TC runs as on a live interface) noted no ports.
      nat.fragments.saw(o, translated && (tcRet === null || tcRet === TcAction.REDIRECT));
    }
  });
  // Every packet counted once by verdict and once by reason (test runs that failed count none).
  const after = counters(lab);
  const counted: Record<string, number> = { ...verdicts };
  for (const [v, n] of Object.entries(tcVerdicts)) counted[v] = (counted[v] ?? 0) + n;
  const ran = sum(counted);
  const delta = (a: Record<string, number>, b: Record<string, number>) => sum(a) - sum(b);
  if (delta(after.packets, before.packets) !== ran || delta(after.reasons, before.reasons) !== ran) {
    findings.push({
      iteration: i,
      frame: Buffer.alloc(0),
      problem: `${ran} packets ran; the interface counted ${delta(after.packets, before.packets)} by verdict and ${delta(after.reasons, before.reasons)} by reason`,
    });
  }
  for (const [v, n] of Object.entries(counted)) {
    const got = (after.packets[v] ?? 0) - (before.packets[v] ?? 0);
    if (got !== n) findings.push({ iteration: i, frame: Buffer.alloc(0), problem: `${n} ${v} verdicts; the interface counted ${got}` });
  }
  return { iterations: i, findings, verdicts, reasons, tcVerdicts, ...tally };
}
