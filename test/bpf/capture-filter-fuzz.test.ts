/**
 * Capture filters under random expressions (test/fuzz/pcap-expr.ts): each one libpcap
 * compiles must run in the pipeline and select, packet for packet, what libpcap's own
 * interpreter selects (the reference tcpdump -r uses), over packets of the tcpdump test-suite
 * captures and mutants of them, through the XDP pipeline and, as socket buffers, through the
 * TC one (its filter built for them); each one libpcap refuses must be refused with
 * PW_ERR_INVALID.
 * The expressions compute with packet bytes, so that divisions, remainders and shifts meet
 * divisors of zero and shift counts past 31 at run time, where classic BPF and eBPF differ.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { compilePcapFilter, runPcapFilter } from '../../src/kernel/index.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { CaptureSession } from '../../src/dataplane/capture-slot.js';
import { PwError } from '../../src/errors.js';
import { decodeClassic, type ClassicInsn } from '../../src/insight/cbpf-to-ebpf.js';
import { readCapture } from '../../src/kernel/pcap.js';
import { LINKTYPE_ETHERNET } from '../../src/util/linktypes.js';
import { mutate } from '../fuzz/mutate.js';
import { pcapExpression } from '../fuzz/pcap-expr.js';
import { sharedData } from '../helpers/paths.js';
import { closeOwnDataplane, openOwnDataplane } from '../helpers/own-dataplane.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { rng } from '../helpers/rng.js';
import { skbRefused, tcRun } from '../helpers/tc-run.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

/**
 * Whether a classic program may read a scratch word M[k] no path has written before. libpcap's
 * optimizer leaves such reads behind (seen with geneve and an or of other protocols); its
 * interpreter then reads what its stack held, and the pipeline's filter reads 0 (it clears
 * M[] first), so no answer is the reference. The kernel's classic BPF refuses those programs.
 */
function readsUnwrittenMemory(prog: ClassicInsn[]): boolean {
  // Classic BPF's instruction classes, and the load mode and jump that matter here (pcap/bpf.h).
  const [LD, LDX, ST, STX, JMP, RET, MEM, JA] = [0, 1, 2, 3, 5, 6, 0x60, 0x00];
  const ALL = 0xffff;
  // written[i]: the words every path to instruction i has written (bit k: M[k]).
  const written: (number | undefined)[] = prog.map(() => undefined);
  written[0] = 0;
  for (let i = 0; i < prog.length; i++) {
    const w = written[i];
    if (w === undefined) continue; // no path reaches it
    const { code, jt, jf, k } = prog[i]!;
    const cls = code & 7;
    if ((cls === LD || cls === LDX) && (code & 0xe0) === MEM && !(w & (1 << k))) return true;
    const after = cls === ST || cls === STX ? w | (1 << k) : w;
    const flow = (t: number) => {
      if (t < prog.length) written[t] = (written[t] ?? ALL) & after;
    };
    if (cls === RET) continue;
    if (cls === JMP) {
      if ((code & 0xf0) === JA) flow(i + 1 + k);
      else {
        flow(i + 1 + jt);
        flow(i + 1 + jf);
      }
    } else flow(i + 1);
  }
  return false;
}

describe('capture filters under random expressions', { skip, timeout: 10 * 60_000 }, () => {
  let dp: Dataplane;
  let instance: string;
  let topo: Topology;

  before(async () => ({ topo, instance, dp } = await openOwnDataplane('cz')));
  after(() => closeOwnDataplane(topo, instance, dp));

  it('selects what libpcap selects, or refuses what libpcap refuses (seed 1, 400 expressions)', (t) => {
    const rand = rng(Number(process.env.CF_SEED ?? 1));
    const dir = join(sharedData, 'pcaps');
    const real = readdirSync(dir)
      .filter((f) => f.endsWith('.pcap'))
      .flatMap((f) => {
        const c = readCapture(join(dir, f));
        return c.linktype === LINKTYPE_ETHERNET ? c.packets.slice(0, 30).map((p) => p.data) : [];
      })
      .filter((d) => d.length >= 14 && d.length <= 3000);
    const packets = [...real, ...Array.from({ length: 300 }, () => mutate(real[Math.floor(rand() * real.length)]!, rand, 1500))].filter(
      (d) => d.length >= 14,
    );
    const findings: string[] = [];
    let compiled = 0;
    let refused = 0;
    let loops = 0;
    let undefinedReads = 0;
    let split = 0;
    const n = Number(process.env.CF_N ?? 400);
    for (let e = 0; e < n && findings.length < 10; e++) {
      const expr = pcapExpression(rand);
      let classic: Buffer;
      try {
        classic = compilePcapFilter(expr, undefined, 2048);
      } catch {
        refused++;
        assert.throws(
          () => CaptureSession.start(dp, { point: 'ingress', snap: 2048, expression: expr }).stop(),
          (err: unknown) => err instanceof PwError && err.code === 'PW_ERR_INVALID',
          `'${expr}': libpcap refuses it, so must the capture`,
        );
        continue;
      }
      compiled++;
      let session: CaptureSession;
      try {
        session = CaptureSession.start(dp, { point: 'ingress', snap: 2048, expression: expr });
      } catch (err) {
        // A loop (protochain) is refused, and must be refused clearly: nothing else may be.
        if (err instanceof PwError && err.code === 'PW_ERR_INVALID' && /jumps back/.test(err.message)) loops++;
        else findings.push(`'${expr}': libpcap compiles it, the capture refuses it: ${(err as Error).message}`);
        continue;
      }
      if (readsUnwrittenMemory(decodeClassic(classic))) {
        session.stop();
        undefinedReads++;
        continue;
      }
      const want: number[] = [];
      const got = { xdp: [] as number[], tc: [] as number[] };
      try {
        packets.forEach((data, i) => {
          if (runPcapFilter(classic, data)) want.push(i);
          dp.pipeline.xdp.testRunSync({ data });
          if (session.ring.takeAll().length) got.xdp.push(i);
          // A frame the kernel makes no socket buffer of (an IP header cut short) runs in XDP only.
          if (skbRefused(data)) {
            if (want.at(-1) === i) got.tc.push(i);
            return;
          }
          tcRun(dp.pipeline.tc!, data);
          if (session.ring.takeAll().length) got.tc.push(i);
        });
      } finally {
        session.stop();
      }
      if (want.length && want.length < packets.length) split++;
      const only = (a: number[], b: number[]) => a.filter((i) => !b.includes(i));
      for (const [path, picked] of Object.entries(got)) {
        const extra = only(picked, want);
        const missed = only(want, picked);
        if (!extra.length && !missed.length) continue;
        const show = (i: number | undefined) => (i === undefined ? '' : packets[i]!.subarray(0, 64).toString('hex'));
        findings.push(
          `'${expr}' (${path}): ${extra.length} captured that libpcap does not select (${show(extra[0])}), ${missed.length} missed (${show(missed[0])})`,
        );
      }
    }
    assert.deepEqual(findings, []);
    // The expressions were not all refused, and enough of them split the packets.
    const tally = `${compiled} compiled (${loops} loops refused, ${undefinedReads} with undefined reads not judged), ${refused} refused, ${split} split the packets`;
    assert.ok(compiled - loops - undefinedReads > n / 2 && refused > 0 && split > n / 10, tally);
    t.diagnostic(tally);
  });
});
