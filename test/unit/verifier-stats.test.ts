import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { deepestStackChain, parseStatsLog } from '../../src/kernel/verifier-stats.js';

type Insn = { code: number; src?: number; off?: number; imm?: number };
/** struct bpf_insn[] (dst_reg 0). */
function insns(list: Insn[]): Uint8Array {
  const out = new Uint8Array(list.length * 8);
  const v = new DataView(out.buffer);
  list.forEach(({ code, src = 0, off = 0, imm = 0 }, i) => {
    v.setUint8(i * 8, code);
    v.setUint8(i * 8 + 1, src << 4);
    v.setInt16(i * 8 + 2, off, true);
    v.setInt32(i * 8 + 4, imm, true);
  });
  return out;
}
const MOV: Insn = { code: 0xb7 }; // r0 = 0
const EXIT: Insn = { code: 0x95 };
const HELPER: Insn = { code: 0x85, imm: 12 }; // a helper call: not a function of the program
/** A call from instruction `at` to function `index` starting at `target`, as the verifier leaves it (distance in off, index in imm). */
const call = (at: number, target: number, index: number): Insn => ({ code: 0x85, src: 1, off: target - at - 1, imm: index });
/** A callback's address (ld_imm64, two instructions) at `at`, naming the function at `target`. */
const func = (at: number, target: number): Insn[] => [{ code: 0x18, src: 4, imm: target - at - 1 }, { code: 0 }];

describe("the verifier's statistics", () => {
  it("reads the processed instructions and each function's stack depth from the log", () => {
    const log = `verification time 1234 usec
stack depth 104+8+0+256
processed 51234 insns (limit 1000000) max_states_per_insn 9 total_states 3000 peak_states 900 mark_read 120
`;
    assert.deepEqual(parseStatsLog(log), { processed: 51234, stackDepths: [104, 8, 0, 256] });
    assert.throws(() => parseStatsLog('processed 10 insns (limit 1000000)\n'), /statistics are not in its log/);
  });

  it('finds the chain of calls whose frames, rounded up to 16 bytes, take the most stack', () => {
    // entry (0-4): calls A and B, and a helper. A (5-7): calls C. B (8-9). C (10-11).
    const prog = insns([MOV, call(1, 5, 1), HELPER, call(3, 8, 2), EXIT, MOV, call(6, 10, 3), EXIT, MOV, EXIT, MOV, EXIT]);
    const starts = [0, 5, 8, 10];
    // entry 100 (112 rounded), A 8 (16), B 200 (208), C 24 (32): entry+B = 320 beats entry+A+C = 160.
    assert.deepEqual(deepestStackChain(prog, starts, [100, 8, 200, 24]), { bytes: 320, functions: [0, 2] });
    // C grows: the longer chain wins.
    assert.deepEqual(deepestStackChain(prog, starts, [100, 8, 200, 300]), { bytes: 112 + 16 + 304, functions: [0, 1, 3] });
    // The interpreter's 32-byte frames (and a frame of none counts as one byte).
    assert.deepEqual(deepestStackChain(prog, starts, [100, 0, 0, 0], 32), { bytes: 128 + 32 + 32, functions: [0, 1, 3] });
  });

  it('counts a bpf_loop callback as a call from where it is named', () => {
    // entry (0-3): names the callback at 4. callback (4-5).
    const prog = insns([...func(0, 4), MOV, EXIT, MOV, EXIT]);
    assert.deepEqual(deepestStackChain(prog, [0, 4], [32, 64]), { bytes: 96, functions: [0, 1] });
  });

  it('refuses what does not fit together: depths for other functions, a call to no function', () => {
    const prog = insns([MOV, call(1, 3, 1), EXIT, MOV, EXIT]);
    assert.throws(() => deepestStackChain(prog, [0, 3], [8]), /listed 1 stack depths for 2 functions/);
    assert.throws(() => deepestStackChain(prog, [0, 2], [8, 8]), /instruction 1 calls 3, where no function starts/);
  });
});
