/**
 * BPF_PROG_TEST_RUN of a TC program on a socket buffer made from a frame, with the __sk_buff
 * fields a test may set (the kernel refuses the others unless zero).
 */
import type { Program } from '../../src/kernel/index.js';

/** TC's return codes (linux/pkt_cls.h). */
export const TcAction = { OK: 0, SHOT: 2, REDIRECT: 7 } as const;

/** struct __sk_buff (UAPI): its size and the offsets of the fields set here. */
const SKB = { size: 192, ingressIfindex: 36, ifindex: 40, gsoSegs: 164, gsoSize: 176 };

/** `ifindex`: the interface (of the calling thread's namespace) the buffer arrives on. */
export function tcRun(prog: Program, data: Buffer, o: { gsoSegs?: number; gsoSize?: number; ifindex?: number } = {}): number {
  const ctx = Buffer.alloc(SKB.size);
  ctx.writeUInt32LE(o.ifindex ?? 0, SKB.ingressIfindex);
  ctx.writeUInt32LE(o.ifindex ?? 0, SKB.ifindex);
  ctx.writeUInt32LE(o.gsoSegs ?? 0, SKB.gsoSegs);
  ctx.writeUInt32LE(o.gsoSize ?? 0, SKB.gsoSize);
  return prog.testRunSync({ data, ctx }).retval;
}

/** Frames BPF_PROG_TEST_RUN refuses as a socket buffer (EINVAL): IPv4 or IPv6 by their
 * Ethernet type, but shorter than that header. Only the XDP build's run sees those here
 * (the same pipeline source; what differs in the TC build, pulling headers beyond the
 * linear part, needs more bytes than such a frame has). */
export function skbRefused(f: Buffer): boolean {
  const type = f.readUInt16BE(12);
  return (type === 0x0800 && f.length < 14 + 20) || (type === 0x86dd && f.length < 14 + 40);
}
