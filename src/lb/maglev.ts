/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4) with weights. Each backend
 * walks the table in its own permutation (an offset and a skip derived from its name) and
 * takes the next free slot of its walk in turn; a backend of weight w takes w turns per round,
 * so it ends with a share of the slots proportional to w. The table size is a prime, so every
 * skip visits every slot. Removing one of N backends moves about 1/N of the slots — those it
 * held — plus a small disruption elsewhere; adding one moves about as many.
 */
import { PwError } from '../errors.js';
import { maglevFill } from '../kernel/scan.js';

export const DEFAULT_TABLE_SIZE = 65537;
/** The primes a table may have (the largest below 2^20). */
export const MIN_TABLE_SIZE = 7;
export const MAX_TABLE_SIZE = 1_048_573;

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

/** Where a backend's walk starts and how far each step goes (1 to size - 1), from its name. */
export function maglevWalk(name: string, size: number): { offset: number; skip: number } {
  return { offset: hash(name, 0x5bd1e995) % size, skip: (hash(name, 0x27d4eb2f) % (size - 1)) + 1 };
}

/**
 * The Maglev table of `size` slots (a prime) for these backends: slot -> backend id, 0 where
 * no backend has weight. Deterministic: the same backends (names, weights) give the same table,
 * whatever their order. Backends take turns in the order of their names; a backend of weight w
 * (reduced by the weights' common divisor: 2:2:4 fills as 1:1:2) takes w turns in a row, each
 * the next free slot of its walk. The walks run in the addon (native/src/maglev.cc): in
 * JavaScript they took 1.6-1.7x as long (alternated runs), most of it one unpredictable
 * branch per probe.
 */
export function maglevTable(backends: readonly MaglevBackend[], size = DEFAULT_TABLE_SIZE): Uint32Array {
  if (!isPrime(size)) throw new PwError('PW_ERR_INVALID', `a Maglev table size must be a prime (${size} is not)`, { where: 'table size' });
  const table = new Uint32Array(size);
  const live = [...backends].filter((b) => b.weight > 0).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const n = live.length;
  if (!n) return table;
  const g = live.reduce((acc, b) => gcd(acc, b.weight), 0);
  const offset = new Uint32Array(n);
  const skip = new Uint32Array(n);
  const turns = new Uint32Array(n);
  const ids = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const walk = maglevWalk(live[i]!.name, size);
    offset[i] = walk.offset;
    skip[i] = walk.skip;
    turns[i] = live[i]!.weight / g;
    ids[i] = live[i]!.id;
  }
  maglevFill(table, offset, skip, turns, ids);
  return table;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
