/**
 * A program upgrade keeps a map whose layout (its BTF key and value types) is unchanged. When a
 * layout changed, the new program gets a new map, and the old one's entries move into it field
 * by field: a field of the new value with the name and type of one in the old is copied, a new
 * field starts at zero, a field gone is dropped. Keys must be unchanged; per-CPU maps (counters)
 * start afresh; so does a map with no field in common. What the data plane must set itself in
 * a migrated entry (a new field with a meaning, not zero) is its business (Dataplane.upgrade).
 */
import { BpfMap, bytesCodec, MapType, type MapLayout, type NativeFd } from '../kernel/index.js';
import { borrowFd as borrow } from './pipeline-object.js';

const MIGRATABLE = new Set<number>([MapType.HASH, MapType.ARRAY, MapType.LPM_TRIE, MapType.LRU_HASH]);

export interface Migration {
  map: string;
  entries: number;
  /** Fields copied; the new value's other fields started at zero. */
  kept: string[];
}

/** The copy plan: [oldOffset, newOffset, size] per kept field, or null when nothing can move. */
function fieldPlan(from: MapLayout, to: MapLayout): { copy: [number, number, number][]; kept: string[] } | null {
  if (!from.key || !to.key || from.key.signature !== to.key.signature) return null;
  if (!from.value || !to.value) return null;
  const copy: [number, number, number][] = [];
  const kept: string[] = [];
  for (const f of to.value.fields) {
    const old = from.value.fields.find((x) => x.name === f.name && x.signature === f.signature && x.size === f.size);
    if (old && f.name && !f.name.startsWith('_pad')) {
      copy.push([old.offset, f.offset, f.size]);
      kept.push(f.name);
    }
  }
  return copy.length ? { copy, kept } : null;
}

/**
 * Moves the entries of the map on `oldFd` (layout `from`) into the one on `newFd` (layout
 * `to`). Returns what it did, or null when the map is left to start empty. Both fds stay open
 * (the caller owns them).
 */
export function migrateMap(
  name: string,
  type: number,
  oldFd: NativeFd,
  newFd: NativeFd,
  from: MapLayout,
  to: MapLayout,
  sizes: { key: number; oldValue: number; newValue: number },
): Migration | null {
  if (!MIGRATABLE.has(type)) return null;
  const plan = fieldPlan(from, to);
  if (!plan) return null;
  // Handles that do not own the fds: a BpfMap closes its fd, so each gets a duplicate's worth
  // of life only here; the caller's NativeFd objects are not closed by this function.
  const src = new BpfMap(borrow(oldFd), bytesCodec(sizes.key), bytesCodec(sizes.oldValue));
  const dst = new BpfMap(borrow(newFd), bytesCodec(sizes.key), bytesCodec(sizes.newValue));
  let entries = 0;
  for (const [k, v] of src.entries()) {
    const out = new Uint8Array(sizes.newValue);
    for (const [o, n, size] of plan.copy) out.set(v.subarray(o, o + size), n);
    dst.set(k, out);
    entries++;
  }
  return { map: name, entries, kept: plan.kept };
}
