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
