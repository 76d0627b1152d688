/**
 * What the verifier says of a program it took, against its two limits a growing program meets:
 * 1,000,000 instructions processed (every path walked counts) and 512 bytes of stack along any
 * chain of calls. The kernel reports the first (bpf_prog_info.verified_insns, or its statistics
 * log) but not the second: its statistics list each function's own stack depth, and the chain
 * that uses the most is found here from the program as the verifier left it, counted as the
 * verifier counts it (check_max_stack_depth: each frame rounded up to 16 bytes when the program
 * is JIT-compiled, a bpf_loop callback counted as a call from where it is named).
 */
import { PwError } from '../errors.js';

export const VERIFIER_INSN_LIMIT = 1_000_000;
/** MAX_BPF_STACK: the stack of a chain of BPF functions, together. */
export const MAX_BPF_STACK = 512;

export interface VerifierStats {
  /** Instructions the verifier processed. */
  processed: number;
  /** Each function's own stack depth in bytes, in the order of their first instructions (the entry's first). */
  stackDepths: number[];
  /** Each function's name, in the same order. */
  functionNames: string[];
  /** The chain of calls from the entry that uses the most stack: its bytes as the verifier counts them, and its functions (indexes into stackDepths). */
  deepestChain: { bytes: number; functions: number[] };
}

/** The figures of a BPF_LOG_STATS log: "processed N insns (limit …) …" and "stack depth a+b+…". */
export function parseStatsLog(log: string): { processed: number; stackDepths: number[] } {
  const processed = /^processed (\d+) insns/m.exec(log);
  const stack = /^stack depth ([\d+]+)$/m.exec(log);
  if (!processed || !stack) {
    throw new PwError('PW_ERR_INTERNAL', `the verifier's statistics are not in its log: ${JSON.stringify(log.slice(0, 200))}`);
  }
  return { processed: Number(processed[1]), stackDepths: stack[1]!.split('+').map(Number) };
}

const INSN_BYTES = 8;
const BPF_JMP_CALL = 0x85; // BPF_JMP | BPF_CALL
const BPF_LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const BPF_PSEUDO_CALL = 1;
const BPF_PSEUDO_FUNC = 4;

/**
 * The chain of calls from the entry (function 0) whose frames take the most stack, from the
 * program as the verifier left it (bpf_prog_info's instructions: a call to one of its functions
 * holds the distance to it in `off`, a callback's address the distance in the first half's
 * `imm`), where each function starts and each function's own depth (both in the verifier's
 * order, the statistics log's). Functions are the verifier's: one it removed as dead is in
 * none of the three. `roundTo`: the verifier's rounding of a frame (16 under the JIT, 32 for the
 * interpreter).
 */
export function deepestStackChain(
  insns: Uint8Array,
  funcStarts: readonly number[],
  stackDepths: readonly number[],
  roundTo = 16,
): { bytes: number; functions: number[] } {
  if (funcStarts.length !== stackDepths.length || funcStarts[0] !== 0) {
    throw new PwError('PW_ERR_INTERNAL', `the verifier listed ${stackDepths.length} stack depths for ${funcStarts.length} functions`);
  }
  const functionAt = (insn: number) => {
    let f = 0;
    while (f + 1 < funcStarts.length && funcStarts[f + 1]! <= insn) f++;
    return f;
  };
  const view = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const callees = funcStarts.map(() => new Set<number>());
  for (let i = 0; i < insns.byteLength / INSN_BYTES; i++) {
    const code = view.getUint8(i * INSN_BYTES);
    const src = view.getUint8(i * INSN_BYTES + 1) >> 4;
    let distance: number;
    if (code === BPF_JMP_CALL && src === BPF_PSEUDO_CALL) distance = view.getInt16(i * INSN_BYTES + 2, true);
    else if (code === BPF_LD_IMM64 && src === BPF_PSEUDO_FUNC) distance = view.getInt32(i * INSN_BYTES + 4, true);
    else continue;
    const callee = funcStarts.indexOf(i + distance + 1);
    if (callee < 0) throw new PwError('PW_ERR_INTERNAL', `instruction ${i} calls ${i + distance + 1}, where no function starts`);
    callees[functionAt(i)]!.add(callee);
  }
  const frame = (f: number) => Math.ceil(Math.max(stackDepths[f]!, roundTo === 32 ? 1 : 0) / roundTo) * roundTo;
  // The verifier refuses recursion, so the calls form a DAG: each function's deepest chain once.
  const memo = new Map<number, { bytes: number; functions: number[] }>();
  const deepest = (f: number): { bytes: number; functions: number[] } => {
    const known = memo.get(f);
    if (known) return known;
    let below = { bytes: 0, functions: [] as number[] };
    for (const g of callees[f]!) {
      const d = deepest(g);
      if (d.bytes > below.bytes) below = d;
    }
    const r = { bytes: frame(f) + below.bytes, functions: [f, ...below.functions] };
    memo.set(f, r);
    return r;
  };
  return deepest(0);
}
