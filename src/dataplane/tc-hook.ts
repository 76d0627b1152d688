/**
 * Where the TC pipeline (pathwise-tc.bpf.o) runs on an interface: its ingress, at a handle of
 * its own ("PW") in the first priority, beside other tools' filters and never in their place.
 */
import { attachTc, detachTc, queryTc, type Program } from '../kernel/index.js';

export const TC_HANDLE = 0x5057;
export const TC_PRIORITY = 1;

/** The id of the program in Pathwise's TC slot on the interface, or null. */
export const tcProgramOn = (ifindex: number): number | null => queryTc(ifindex, 'ingress', TC_HANDLE, TC_PRIORITY);

/** Puts `prog` in the slot; `replace` swaps it for what is there in one atomic change. */
export function attachTcPipeline(prog: Program, ifindex: number, replace = false): void {
  attachTc(prog, ifindex, 'ingress', { handle: TC_HANDLE, priority: TC_PRIORITY, replace });
}

export const detachTcPipeline = (ifindex: number): void => detachTc(ifindex, 'ingress', TC_HANDLE, TC_PRIORITY);
