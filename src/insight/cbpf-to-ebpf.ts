/**
 * Classic BPF (what libpcap's pcap_compile makes of a tcpdump expression) translated to an
 * eBPF XDP program — the technique of pwru/elibpcap and cloudflare/cbpfc — that answers the
 * pipeline's capture question: the pipeline tail-calls it, it writes match/no match into the
 * per-CPU pw_capture_scratch and tail-calls back into the pipeline (see insight.bpf.h).
 *
 * Classic BPF reads the packet through absolute and indexed loads that end the program with
 * "no match" when they fall outside the packet; eBPF must prove every access in bounds to the
 * verifier. Each load is therefore preceded by an explicit check against data_end that jumps to
 * the shared "no match". Registers: A is r4, X is r5, the scratch memory M[0..15] lives on the
 * stack; r6 keeps ctx, r7 data, r8 data_end, r9 the packet length. Classic BPF's arithmetic is
 * 32-bit and unsigned, so ALU and comparisons use the 32-bit eBPF forms. A classic `ret` sets r0
 * and jumps to the epilogue, which hands the answer back.
 */
import { PwError } from '../errors.js';

// ---- classic BPF (linux/filter.h, pcap/bpf.h) ----------------------------------------------
const C = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  RET: 0x06,
  MISC: 0x07,
  W: 0x00,
  H: 0x08,
  B: 0x10,
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  LEN: 0x80,
  MSH: 0xa0,
  K: 0x00,
  X: 0x08,
  A: 0x10,
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  TAX: 0x00,
  TXA: 0x80,
} as const;
const MEMWORDS = 16;

export interface ClassicInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** struct bpf_insn[] as pcap_compile leaves it (host byte order). */
export function decodeClassic(buf: Uint8Array): ClassicInsn[] {
  if (buf.length % 8) throw new PwError('PW_ERR_INVALID', `a classic BPF program is whole 8-byte instructions, got ${buf.length} bytes`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: ClassicInsn[] = [];
  for (let o = 0; o < buf.length; o += 8)
    out.push({ code: v.getUint16(o, true), jt: v.getUint8(o + 2), jf: v.getUint8(o + 3), k: v.getUint32(o + 4, true) });
  return out;
}

// ---- eBPF (linux/bpf.h) -------------------------------------------------------------------
const E = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
  W: 0x00,
  H: 0x08,
  B: 0x10,
  DW: 0x18,
  MEM: 0x60,
  K: 0x00,
  X: 0x08,
  MOV: 0xb0,
  END: 0xd0,
  TO_BE: 0x08,
  EXIT: 0x90,
  CALL: 0x80,
  IMM: 0x00,
} as const;
const PSEUDO_MAP_FD = 1;
const HELPER = { MAP_LOOKUP_ELEM: 1, TAIL_CALL: 12, XDP_GET_BUFF_LEN: 188 } as const;
/**
 * What the filter runs on: an XDP frame, or a socket buffer at TC ingress (struct __sk_buff:
 * len at 0, data at 76, data_end at 80). `pass`: the action that hands the packet to the kernel.
 */
export type FilterContext = 'xdp' | 'tc';
const CONTEXT = {
  xdp: { data: 0, dataEnd: 4, pass: 2 },
  tc: { data: 76, dataEnd: 80, pass: 0, len: 0 },
} as const;
const CAPTURE_DONE = 2; // enum pw_capture_state
const PIPELINE_SLOT = 1; // enum pw_capture_slot
const KEY_SLOT = -4 * (MEMWORDS + 1); // a stack word below M[] for the map key
const R0 = 0,
  R1 = 1,
  R2 = 2,
  R3 = 3,
  A = 4,
  X = 5,
  CTX = 6,
  DATA = 7,
  END = 8,
  LEN = 9,
  FP = 10;

/** Where a jump goes: a classic instruction's translation, the shared "no match", or the epilogue. */
type Target = { insn: number } | 'fail' | 'done';

interface Emitted {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  target?: Target;
}

const ins = (code: number, dst: number, src: number, off: number, imm: number): Emitted => ({ code, dst, src, off, imm });
const memOff = (k: number, at: number) => {
  if (k >= MEMWORDS) throw new PwError('PW_ERR_INVALID', `classic BPF instruction ${at}: scratch memory M[${k}] does not exist (M[0..15])`);
  return -4 * (k + 1);
};
const sizeOf = (code: number) => ((code & 0x18) === C.W ? 4 : (code & 0x18) === C.H ? 2 : 1);
const eSize = (bytes: number) => (bytes === 4 ? E.W : bytes === 2 ? E.H : E.B);

export interface Translation {
  /** struct bpf_insn[] for the kernel (little-endian). */
  insns: Buffer;
  count: number;
}

/** The maps the filter hands its answer back through (fds of this process). */
export interface FilterMaps {
  /** pw_capture_scratch (per-CPU): the answer. */
  scratchFd: number;
  /** pw_capture_progs (pw_tc_capture_progs for TC): slot PIPELINE is the pipeline to return to. */
  progsFd: number;
}

/** Whether a load of `size` bytes at `k` (or at X + k: X only adds) can be in a packet at all
 * (the verifier's bound on packet offsets); one that cannot always ends the program with "no
 * match". */
const loadable = (k: number, size: number) => k >>> 0 <= 0xffff - size;

/**
 * Which instructions a run can reach from the first. A return ends a path, and so does an
 * instruction that always ends the program with "no match": a division or remainder by the
 * constant 0, a load whose constant offset alone no packet can hold.
 */
function reachable(prog: ClassicInsn[]): boolean[] {
  const seen = prog.map(() => false);
  const todo = [0];
  while (todo.length) {
    const i = todo.pop()!;
    if (i >= prog.length || seen[i]) continue;
    seen[i] = true;
    const p = prog[i]!;
    const cls = p.code & 7;
    const op = p.code & 0xf0;
    const mode = p.code & 0xe0;
    if (cls === C.RET) continue;
    if (cls === C.JMP) {
      if (op === C.JA) todo.push(i + 1 + p.k);
      else todo.push(i + 1 + p.jt, i + 1 + p.jf);
      continue;
    }
    if (cls === C.ALU && (op === C.DIV || op === C.MOD) && !(p.code & C.X) && p.k === 0) continue;
    if (cls === C.LD && (mode === C.ABS || mode === C.IND) && !loadable(p.k, sizeOf(p.code))) continue;
    if (cls === C.LDX && mode === C.MSH && !loadable(p.k, 1)) continue;
    todo.push(i + 1);
  }
  return seen;
}

export function translateClassic(prog: ClassicInsn[], maps: FilterMaps, context: FilterContext = 'xdp'): Translation {
  const cx = CONTEXT[context];
  if (!prog.length) throw new PwError('PW_ERR_INVALID', 'an empty classic BPF program');
  const out: Emitted[] = [];
  const starts: number[] = [];
  const emit = (...e: Emitted[]) => out.push(...e);
  const jump = (code: number, dst: number, src: number, imm: number, target: Target) => emit({ ...ins(code, dst, src, 0, imm), target });
  const usesMem =
    prog.some((p) => ((p.code & 7) === C.LD || (p.code & 7) === C.LDX) && (p.code & 0xe0) === C.MEM) ||
    prog.some((p) => (p.code & 7) === C.ST || (p.code & 7) === C.STX);

  const ldMapFd = (dst: number, fd: number) => emit(ins(E.LD | E.DW | E.IMM, dst, PSEUDO_MAP_FD, 0, fd), ins(0, 0, 0, 0, 0));

  // Prologue: keep ctx, the packet's length (classic BPF's `len`), the packet pointers,
  // A = X = 0, M[] = 0.
  emit(ins(E.ALU64 | E.MOV | E.X, CTX, R1, 0, 0));
  if ('len' in cx) {
    emit(ins(E.LDX | E.MEM | E.W, LEN, CTX, cx.len, 0)); // skb->len
  } else {
    emit(ins(E.JMP | E.CALL, 0, 0, 0, HELPER.XDP_GET_BUFF_LEN));
    emit(ins(E.ALU | E.MOV | E.X, LEN, R0, 0, 0));
  }
  emit(ins(E.LDX | E.MEM | E.W, DATA, CTX, cx.data, 0)); // ctx->data
  emit(ins(E.LDX | E.MEM | E.W, END, CTX, cx.dataEnd, 0)); // ctx->data_end
  emit(ins(E.ALU | E.MOV | E.K, A, 0, 0, 0));
  emit(ins(E.ALU | E.MOV | E.K, X, 0, 0, 0));
  if (usesMem) for (let i = 0; i < MEMWORDS; i++) emit(ins(E.ST | E.MEM | E.W, FP, 0, -4 * (i + 1), 0));

  /**
   * r3 = the address to read (r7 + offset), proven in bounds for `size` bytes, or a jump to
   * "no match". `indexed`: the offset is X + k, summed without wrapping: libpcap's interpreter
   * (what tcpdump -r runs) fails a load whose X + k passes 2^32, where a 32-bit sum would
   * wrap round to the packet's first bytes. Returns false when the load can never succeed
   * (it then jumps to "no match" and nothing follows).
   */
  const boundedPointer = (k: number, size: number, indexed: boolean): boolean => {
    if (!loadable(k, size)) {
      jump(E.JMP | C.JA, 0, 0, 0, 'fail');
      return false;
    }
    const limit = 0xffff - size; // the verifier's bound on packet offsets
    if (indexed) {
      emit(ins(E.ALU | E.MOV | E.X, R3, X, 0, 0)); // zero-extended to 64 bits
      emit(ins(E.ALU64 | C.ADD | E.K, R3, 0, 0, k)); // k <= 0xffff: no sign to extend
      jump(E.JMP | C.JGT | E.K, R3, 0, limit, 'fail');
      emit(ins(E.ALU64 | C.ADD | E.X, R3, DATA, 0, 0));
    } else {
      emit(ins(E.ALU64 | E.MOV | E.X, R3, DATA, 0, 0));
      emit(ins(E.ALU64 | C.ADD | E.K, R3, 0, 0, k));
    }
    emit(ins(E.ALU64 | E.MOV | E.X, R2, R3, 0, 0));
    emit(ins(E.ALU64 | C.ADD | E.K, R2, 0, 0, size));
    jump(E.JMP | C.JGT | E.X, R2, END, 0, 'fail');
    return true;
  };
  /** dst = the packet's `size` bytes at r3, in host order (classic BPF loads are big-endian). */
  const loadPacket = (dst: number, size: number) => {
    emit(ins(E.LDX | E.MEM | eSize(size), dst, R3, 0, 0));
    if (size > 1) emit(ins(E.ALU | E.END | E.TO_BE, dst, 0, 0, size * 8));
  };

  // The verifier refuses code no path reaches, and libpcap leaves some behind (a comparison its
  // optimizer found always false, say): only what the entry reaches is translated.
  const reached = reachable(prog);
  prog.forEach((p, i) => {
    if (!reached[i]) return;
    starts[i] = out.length;
    const cls = p.code & 7;
    const next = (n: number): Target => {
      // A jump's k is unsigned; libpcap writes a loop (`protochain` walks a header chain) as
      // a `ja` whose k wraps round to an earlier instruction, which only its own interpreter
      // follows: the kernel's classic BPF refuses it too.
      if ((p.code & 0xf0) === C.JA && n >= 0x80000000)
        throw new PwError(
          'PW_ERR_INVALID',
          `classic BPF instruction ${i} jumps back (a loop, as protochain makes): a capture filter cannot loop`,
          {
            hint: 'filter on the protocol of the first header (ip proto, ip6 proto) instead of protochain',
          },
        );
      const t = i + 1 + n;
      if (t >= prog.length) throw new PwError('PW_ERR_INVALID', `classic BPF instruction ${i}: jump past the end of the program`);
      return { insn: t };
    };
    const bad = () => new PwError('PW_ERR_INVALID', `classic BPF instruction ${i}: opcode 0x${p.code.toString(16)} is not supported`);
    switch (cls) {
      case C.LD:
      case C.LDX: {
        const dst = cls === C.LD ? A : X;
        const mode = p.code & 0xe0;
        if (mode === C.IMM) emit(ins(E.ALU | E.MOV | E.K, dst, 0, 0, p.k | 0));
        else if (mode === C.LEN) emit(ins(E.ALU | E.MOV | E.X, dst, LEN, 0, 0));
        else if (mode === C.MEM) emit(ins(E.LDX | E.MEM | E.W, dst, FP, memOff(p.k, i), 0));
        else if (cls === C.LD && (mode === C.ABS || mode === C.IND)) {
          if (boundedPointer(p.k, sizeOf(p.code), mode === C.IND)) loadPacket(A, sizeOf(p.code));
        } else if (cls === C.LDX && mode === C.MSH) {
          // X = 4 * (P[k] & 0xf): the IPv4 header length.
          if (!boundedPointer(p.k, 1, false)) break;
          loadPacket(X, 1);
          emit(ins(E.ALU | C.AND | E.K, X, 0, 0, 0xf));
          emit(ins(E.ALU | C.LSH | E.K, X, 0, 0, 2));
        } else throw bad();
        break;
      }
      case C.ST:
      case C.STX:
        emit(ins(E.STX | E.MEM | E.W, FP, cls === C.ST ? A : X, memOff(p.k, i), 0));
        break;
      case C.ALU: {
        const op = p.code & 0xf0;
        const byX = (p.code & C.X) !== 0;
        if (op === C.NEG) {
          emit(ins(E.ALU | C.NEG, A, 0, 0, 0));
        } else if (op === C.DIV || op === C.MOD) {
          // Classic BPF ends the program (no match) on a division by zero; eBPF would go on.
          if (byX) jump(E.JMP32 | C.JEQ | E.K, X, 0, 0, 'fail');
          else if (p.k === 0) {
            jump(E.JMP | C.JA, 0, 0, 0, 'fail');
            break;
          }
          emit(ins(E.ALU | op | (byX ? E.X : E.K), A, byX ? X : 0, 0, byX ? 0 : p.k | 0));
        } else if ((op === C.LSH || op === C.RSH) && !byX && p.k >= 32) {
          emit(ins(E.ALU | E.MOV | E.K, A, 0, 0, 0)); // every bit shifted out
        } else if ((op === C.LSH || op === C.RSH) && byX) {
          // By X: libpcap's interpreter gives 0 for a count past 31, where an eBPF shift
          // takes the count modulo 32 (as x86 does): if X > 31 then A = 0 else A <<= X.
          emit(ins(E.JMP32 | C.JGT | E.K, X, 0, 2, 31));
          emit(ins(E.ALU | op | E.X, A, X, 0, 0));
          emit(ins(E.JMP | C.JA, 0, 0, 1, 0));
          emit(ins(E.ALU | E.MOV | E.K, A, 0, 0, 0));
        } else if ([C.ADD, C.SUB, C.MUL, C.OR, C.AND, C.LSH, C.RSH, C.XOR].includes(op as never)) {
          emit(ins(E.ALU | op | (byX ? E.X : E.K), A, byX ? X : 0, 0, byX ? 0 : p.k | 0));
        } else throw bad();
        break;
      }
      case C.JMP: {
        const op = p.code & 0xf0;
        if (op === C.JA) {
          jump(E.JMP | C.JA, 0, 0, 0, next(p.k));
          break;
        }
        if (![C.JEQ, C.JGT, C.JGE, C.JSET].includes(op as never)) throw bad();
        const byX = (p.code & C.X) !== 0;
        const t = next(p.jt),
          f = next(p.jf);
        if (p.jt === p.jf) {
          if (p.jt) jump(E.JMP | C.JA, 0, 0, 0, t);
          break;
        }
        // 32-bit unsigned comparisons: classic BPF's k is a u32, eBPF's imm the same 32 bits.
        jump(E.JMP32 | op | (byX ? E.X : E.K), A, byX ? X : 0, byX ? 0 : p.k | 0, t);
        if (p.jf) jump(E.JMP | C.JA, 0, 0, 0, f);
        break;
      }
      case C.RET: {
        const rval = p.code & 0x18;
        if (rval === C.K) emit(ins(E.ALU | E.MOV | E.K, R0, 0, 0, p.k | 0));
        else if (rval === C.A) emit(ins(E.ALU | E.MOV | E.X, R0, A, 0, 0));
        else if (rval === C.X) emit(ins(E.ALU | E.MOV | E.X, R0, X, 0, 0));
        else throw bad();
        jump(E.JMP | C.JA, 0, 0, 0, 'done');
        break;
      }
      case C.MISC:
        if ((p.code & 0xf8) === C.TAX) emit(ins(E.ALU | E.MOV | E.X, X, A, 0, 0));
        else if ((p.code & 0xf8) === C.TXA) emit(ins(E.ALU | E.MOV | E.X, A, X, 0, 0));
        else throw bad();
        break;
      default:
        throw bad();
    }
  });
  const last = prog[prog.length - 1]!;
  if ((last.code & 7) !== C.RET) throw new PwError('PW_ERR_INVALID', 'a classic BPF program must end with a return');

  // The shared "no match", only when something jumps to it (the verifier refuses dead code).
  const fail = out.length;
  if (out.some((e) => e.target === 'fail')) emit(ins(E.ALU | E.MOV | E.K, R0, 0, 0, 0));

  // Epilogue: scratch = { DONE, r0 }; then back into the pipeline.
  const done = out.length;
  emit(ins(E.ALU | E.MOV | E.X, DATA, R0, 0, 0)); // the answer, kept across the calls (r7 is free now)
  emit(ins(E.ST | E.MEM | E.W, FP, 0, KEY_SLOT, 0));
  ldMapFd(R1, maps.scratchFd);
  emit(ins(E.ALU64 | E.MOV | E.X, R2, FP, 0, 0));
  emit(ins(E.ALU64 | C.ADD | E.K, R2, 0, 0, KEY_SLOT));
  emit(ins(E.JMP | E.CALL, 0, 0, 0, HELPER.MAP_LOOKUP_ELEM));
  emit(ins(E.JMP | C.JEQ | E.K, R0, 0, 2, 0)); // no slot: skip the two stores
  emit(ins(E.ST | E.MEM | E.W, R0, 0, 0, CAPTURE_DONE));
  emit(ins(E.STX | E.MEM | E.W, R0, DATA, 4, 0));
  emit(ins(E.ALU64 | E.MOV | E.X, R1, CTX, 0, 0));
  ldMapFd(R2, maps.progsFd);
  emit(ins(E.ALU | E.MOV | E.K, R3, 0, 0, PIPELINE_SLOT));
  emit(ins(E.JMP | E.CALL, 0, 0, 0, HELPER.TAIL_CALL));
  // The tail call failed (the pipeline is being replaced): hand the packet to the kernel.
  emit(ins(E.ALU | E.MOV | E.K, R0, 0, 0, cx.pass));
  emit(ins(E.JMP | E.EXIT, 0, 0, 0, 0));

  const buf = Buffer.alloc(out.length * 8);
  out.forEach((e, at) => {
    let off = e.off;
    if (e.target !== undefined) {
      const to = e.target === 'fail' ? fail : e.target === 'done' ? done : starts[e.target.insn]!;
      off = to - (at + 1);
      if (off < 0 || off > 0x7fff) throw new PwError('PW_ERR_INVALID', `jump offset ${off} out of range after translation`);
    }
    buf.writeUInt8(e.code, at * 8);
    buf.writeUInt8((e.src << 4) | e.dst, at * 8 + 1);
    buf.writeInt16LE(off, at * 8 + 2);
    buf.writeInt32LE(e.imm | 0, at * 8 + 4);
  });
  return { insns: buf, count: out.length };
}
