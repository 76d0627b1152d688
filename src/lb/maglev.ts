/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4) with weights. Each backend
 * walks the table in its own permutation (an offset and a skip derived from its name) and
 * takes the next free slot of its walk in turn; a backend of weight w takes w turns per round,
 * so it ends with a share of the slots proportional to w. The table size is a prime, so every
 * skip visits every slot. Removing one of N backends moves about 1/N of the slots — those it
 * held — plus a small disruption elsewhere; adding one moves about as many.
 */
import { PwError } from '../errors.js';

export const DEFAULT_TABLE_SIZE = 65537;

export interface MaglevBackend {
  /** Stable across changes (the backend's address and port): it decides the permutation. */
  name: string;
  /** The value written into its slots (a backend id). */
  id: number;
  /** Relative share; 0 takes no slot (drained). */
  weight: number;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** FNV-1a over the UTF-16 code units, then a murmur3 finaliser: two seeds give two hashes. */
function hash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The Maglev table of `size` slots (a prime) for these backends: slot -> backend id, 0 where
 * no backend has weight. Deterministic: the same backends (names, weights) give the same table,
 * whatever their order.
 */
export function maglevTable(backends: readonly MaglevBackend[], size = DEFAULT_TABLE_SIZE): Uint32Array {
  if (!isPrime(size)) throw new PwError('PW_ERR_INVALID', `a Maglev table size must be a prime (${size} is not)`, { where: 'table size' });
  const table = new Uint32Array(size);
  const live = [...backends].filter((b) => b.weight > 0).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const n = live.length;
  if (!n) return table;
  // Weights reduced by their common divisor: weights 2:2:4 fill as fast as 1:1:2.
  const g = live.reduce((acc, b) => gcd(acc, b.weight), 0);
  const turns = live.map((b) => b.weight / g);
  // Small integers throughout (size < 2^31), no division and no branch to step a walk: a step
  // is stored as skip - size, and a position that goes below 0 gets size back (the sign bit
  // masks it in). Which slots are taken is a bitset (8 KiB for 65,537 slots: in the L1 cache,
  // where the table itself is not); most of a rebuild is probing taken slots near the end.
  const pos = new Int32Array(n);
  const back = new Int32Array(n);
  const ids = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    pos[i] = hash(live[i]!.name, 0x5bd1e995) % size;
    back[i] = (hash(live[i]!.name, 0x27d4eb2f) % (size - 1)) + 1 - size;
    ids[i] = live[i]!.id;
  }
  const taken = new Int32Array((size + 31) >> 5);
  let filled = 0;
  while (filled < size) {
    for (let i = 0; i < n && filled < size; i++) {
      const step = back[i]!;
      let p = pos[i]!;
      for (let t = turns[i]!; t > 0 && filled < size; t--) {
        while ((taken[p >> 5]! >>> (p & 31)) & 1) {
          p += step;
          p += (p >> 31) & size;
        }
        taken[p >> 5]! |= 1 << (p & 31);
        table[p] = ids[i]!;
        filled++;
      }
      pos[i] = p;
    }
  }
  return table;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
