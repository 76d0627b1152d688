/**
 * The IPv6 FIB: a multibit trie written in place, as the IPv4 DIR-24-8 table (fib4-table.ts).
 * `root` is the first level, 2^24 entries indexed by the address's first three bytes (as
 * DPDK's rte_lpm6); `nodes` holds nodes of 256 entries, each indexed by one further byte and
 * pointed at by an entry of the level above. An entry is 0 (no route), a route id, or
 * EXT|node. Prefixes are expanded into the level they end in (a /44 fills 16 entries of the
 * level for bits 40..47), and a longer prefix's entries keep it over a shorter one's, decided
 * by the route ids' prefix lengths.
 *
 * Why this shape: a real IPv6 table (~160k prefixes, three quarters /32../48) needs ~38k nodes
 * below the first level, a /48 costs four array loads in the data plane and a /32 two (the LPM
 * trie map walked a pointer per bit; a first level of 2^16 entries, until 2026-12-06, took one
 * load more for every prefix past /16: each is a likely cache miss on a random destination),
 * and the control plane writes it at memory speed. The first level is 64 MiB, as IPv4's tbl24.
 *
 * Update order (as fib4-table.ts): a new node is complete before the entry that points at it
 * is written; each entry is one aligned 32-bit store; a freed node is reused last (FIFO).
 */
import { PwError } from '../errors.js';
import { flaggedWords } from '../kernel/scan.js';
import { EXT } from './fib4-table.js';
import { ascending6 } from './prefix-index6.js';

const NODE_MASK = 0x7fffffff;
/** Bits the first level covers; each level below adds 8. */
export const ROOT_BITS = 24;
/** Entries of the first level. */
export const ROOT_ENTRIES = 1 << ROOT_BITS;
/** The most nodes one prefix can add: a /128 below empty levels. */
const MOST_NODES_PER_PREFIX = (128 - ROOT_BITS) / 8;

/** The first-level entry of the address at `at` in addr. */
const rootIndex = (addr: Uint8Array, at: number) => (addr[at]! << 16) | (addr[at + 1]! << 8) | addr[at + 2]!;

export class Fib6Table {
  /** Which nodes are in use: found on the first insert, remove or count (see adopt). */
  private used: Uint8Array | null = null;
  /** Nodes from here up were free at the open and not taken since: taken first, in order (a
   * counter: listing 65k free nodes cost every command's open several ms). */
  private neverUsed = 0;
  /** The other free nodes: those below found free at the open, then those freed since
   * (reused last). */
  private readonly freeNodes: number[] = [];
  private freeHead = 0;
  private inUse = 0;

  /**
   * @param root the first level, 2^24 entries (the first elements of the mmap-ed
   *             pw_fib6_nodes, or a plain array in unit tests)
   * @param nodes the nodes below it, 256 entries each (the elements after those)
   * @param plens prefix length per route id, 255 for unused ids (index 0 too), shared with
   *              the IPv4 table: route ids are common to both families.
   */
  constructor(
    readonly root: Uint32Array,
    readonly nodes: Uint32Array,
    private readonly plens: Uint8Array,
  ) {
    if (root.length !== ROOT_ENTRIES)
      throw new PwError('PW_ERR_INTERNAL', `the IPv6 FIB's first level must have 2^24 entries, has ${root.length}`);
    if (nodes.length < 256 || nodes.length % 256) {
      throw new PwError('PW_ERR_INTERNAL', `the IPv6 FIB needs whole nodes of 256 entries, has ${nodes.length} entries`);
    }
  }

  /**
   * Adopts whatever the arrays already hold (a pinned table after a restart): the nodes
   * reachable from the first level are in use, the rest free. Done on first need, not at the
   * open: the first level's 16M entries take ~9 ms to search (natively, as fib4-table.ts's
   * tbl24), which a command that only looks up or lists routes does not pay.
   */
  private adopt(): Uint8Array {
    if (this.used) return this.used;
    const { root, nodes } = this;
    const count = nodes.length >>> 8;
    const used = new Uint8Array(count);
    const stack: number[] = [];
    const follow = (e: number) => {
      const n = e & NODE_MASK;
      if (e & EXT && n < count && !used[n]) {
        used[n] = 1;
        stack.push(n);
      }
    };
    for (const j of flaggedWords(root, EXT)) follow(root[j]!);
    while (stack.length) {
      const from = stack.pop()! << 8;
      for (let j = from; j < from + 256; j++) follow(nodes[j]!);
    }
    let top = 0;
    for (let n = 0; n < count; n++) if (used[n]) top = n + 1;
    for (let n = 0; n < top; n++) if (!used[n]) this.freeNodes.push(n);
    this.neverUsed = top;
    this.used = used;
    this.inUse = count - this.nodesFree;
    return used;
  }

  /** Nodes in use below the first level. */
  get nodesInUse(): number {
    this.adopt();
    return this.inUse;
  }

  get nodeCapacity(): number {
    return this.nodes.length >>> 8;
  }

  get nodesFree(): number {
    const used = this.adopt();
    return used.length - this.neverUsed + this.freeNodes.length - this.freeHead;
  }

  /** The route id for an address, as the data plane computes it. */
  lookup(addr: Uint8Array): number {
    let e = this.root[rootIndex(addr, 0)]!;
    for (let i = ROOT_BITS / 8; i < 16 && e & EXT; i++) e = this.nodes[((e & NODE_MASK) << 8) | addr[i]!]!;
    return e & EXT ? 0 : e;
  }

  /**
   * The nodes a new prefix would add, keyed by the address bits above them: the same key from
   * two prefixes is one node (see nodesNeededFor). Nodes down to /48 (nearly all of a real
   * table's) get a number: the bits above the node (at most 40), times 8, plus the level.
   */
  private newNodeKeys(addr: Uint8Array, at: number, plen: number, emit: (key: number | string, level: number) => void): void {
    let end = this.existingDepth(addr, at, plen);
    if (plen <= end) return;
    let above = 0;
    for (let i = 0; i < end / 8; i++) above = above * 256 + addr[at + i]!;
    for (; plen > end && end <= 40; end += 8) {
      emit(above * 8 + (end / 8 - ROOT_BITS / 8), end);
      above = above * 256 + addr[at + end / 8]!;
    }
    for (; plen > end; end += 8) emit(`${Buffer.from(addr.subarray(at, at + end / 8)).toString('hex')}/${end}`, end);
  }

  /** The bits that the nodes already in place cover on the way to addr/plen. */
  private existingDepth(addr: Uint8Array, at: number, plen: number): number {
    let e = this.root[rootIndex(addr, at)]!;
    let end = ROOT_BITS;
    let i = at + ROOT_BITS / 8;
    while (plen > end && e & EXT) {
      e = this.nodes[((e & NODE_MASK) << 8) | addr[i++]!]!;
      end += 8;
    }
    return end;
  }

  /**
   * Free nodes that installing these new prefixes would take (shared nodes counted once):
   * `prefixes` one by one, and `batch`'s prefixes at[0..count) (each address at 16 * at[k] in
   * addr, its length plen[at[k]]). `ascending` says whether the batch is in address order
   * (ascending6), when the caller knows; otherwise this finds out.
   */
  nodesNeededFor(
    prefixes: Iterable<{ addr: Uint8Array; plen: number }>,
    batch?: { count: number; addr: Uint8Array; plen: Uint8Array; at: Uint32Array },
    ascending?: boolean,
  ): number {
    const keys = new Set<number | string>();
    const add = (key: number | string) => void keys.add(key);
    for (const p of prefixes) this.newNodeKeys(p.addr, 0, p.plen, add);
    if (!batch) return keys.size;
    if (!(ascending ?? ascending6(batch.addr, batch.plen, batch.count, batch.at))) {
      for (let k = 0; k < batch.count; k++) {
        const i = batch.at[k]!;
        this.newNodeKeys(batch.addr, 16 * i, batch.plen[i]!, add);
      }
      return keys.size;
    }
    if (!keys.size) return this.newNodesInOrder(batch);
    // A batch in address order (a table dump): the prefixes that share a node are neighbours
    // among those that need a node at its level, so a node is new when its key differs from
    // the last one of its level. No set of ~40k keys.
    const last: (number | string | undefined)[] = [];
    let added = 0;
    const count = (key: number | string, level: number) => {
      if (key !== last[level] && !keys.has(key)) added++;
      last[level] = key;
    };
    for (let k = 0; k < batch.count; k++) {
      const i = batch.at[k]!;
      this.newNodeKeys(batch.addr, 16 * i, batch.plen[i]!, count);
    }
    return keys.size + added;
  }

  /**
   * nodesNeededFor() of a batch in address order alone, with no key made: the node at a level
   * is new when the address bytes above it differ from those of the last prefix that needed a
   * node at that level (a real table's 160k prefixes: 11-14 ms, against 17-23 ms with keys,
   * the order's check included in both).
   */
  private newNodesInOrder(batch: { count: number; addr: Uint8Array; plen: Uint8Array; at: Uint32Array }): number {
    const { addr, plen, at } = batch;
    const last = new Int32Array(16).fill(-1); // per level (bytes above its nodes): that prefix's address offset
    let added = 0;
    for (let k = 0; k < batch.count; k++) {
      const o = 16 * at[k]!;
      const p = plen[at[k]!]!;
      if (p <= ROOT_BITS) continue;
      for (let end = this.existingDepth(addr, o, p); end < p; end += 8) {
        const level = end >>> 3;
        const l = last[level]!;
        if (l < 0 || !sameBytes(addr, o, l, level)) added++;
        last[level] = o;
      }
    }
    return added;
  }

  /**
   * Installs `route` for addr/plen (the address at `at` in addr, no bits set past plen).
   * Entries covered by a longer prefix keep it; entries of the same or a shorter prefix take
   * the new route.
   */
  insert(addr: Uint8Array, plen: number, route: number, at = 0): void {
    // The nodes it needs are counted only when fewer are free than any prefix could need: the
    // walk repeats the insert's own, and a bulk load counted its nodes first (nodesNeededFor).
    const depth = this.nodesFree < MOST_NODES_PER_PREFIX ? this.existingDepth(addr, at, plen) : plen;
    if (plen > depth && Math.ceil((plen - depth) / 8) > this.nodesFree) {
      throw new PwError('PW_ERR_FULL', `the IPv6 FIB has no free node (all ${this.nodeCapacity} in use)`, {
        hint: 'raise pipeline.ipv6Nodes (a prefix longer than /24 needs a node for each 8 bits past 24, shared with its neighbours)',
      });
    }
    let t = this.root; // the current level's array, and the index of the entry in it
    let slot = rootIndex(addr, at);
    let end = ROOT_BITS;
    let i = at + ROOT_BITS / 8;
    while (plen > end) {
      let e = t[slot]!;
      if (!(e & EXT)) e = this.split(t, slot, e);
      t = this.nodes;
      slot = ((e & NODE_MASK) << 8) | addr[i++]!;
      end += 8;
    }
    const span = 2 ** (end - plen);
    this.fill(t, slot - (slot % span), span, route, plen);
  }

  /**
   * Removes `route` (addr/plen), putting `parent` (the longest remaining prefix covering it,
   * or 0) back in its place. Nodes that become uniform fold back into the entry above them.
   */
  remove(addr: Uint8Array, plen: number, route: number, parent: number): void {
    this.adopt(); // before any node folds: adopting then would count it free twice
    // The entries that point at the nodes walked through: the first level's, then the nodes'.
    let rootEntry = -1;
    const path: number[] = [];
    let t = this.root;
    let slot = rootIndex(addr, 0);
    let end = ROOT_BITS;
    let i = ROOT_BITS / 8;
    while (plen > end) {
      const e = t[slot]!;
      if (!(e & EXT)) return; // no node on the way: the prefix is not in the table
      if (t === this.root) rootEntry = slot;
      else path.push(slot);
      t = this.nodes;
      slot = ((e & NODE_MASK) << 8) | addr[i++]!;
      end += 8;
    }
    const span = 2 ** (end - plen);
    this.replace(t, slot - (slot % span), span, route, parent);
    for (let k = path.length - 1; k >= 0; k--) if (!this.collapse(this.nodes, path[k]!)) return;
    if (rootEntry >= 0) this.collapse(this.root, rootEntry);
  }

  /** Sets entries [from, from+count) of t to `route` where no longer prefix holds them. */
  private fill(t: Uint32Array, from: number, count: number, route: number, plen: number): void {
    const plens = this.plens;
    // Neighbouring entries mostly hold the same route (a short prefix spans many, and most of
    // the first level's 16M hold none): the last plain entry's answer serves its run.
    let last = -1;
    let take = false;
    for (let j = from; j < from + count; j++) {
      const e = t[j]!;
      if (e === last) {
        if (take) t[j] = route;
      } else if (e & EXT) this.fill(this.nodes, (e & NODE_MASK) << 8, 256, route, plen);
      else {
        // (plens[e] + 1) & 255: 0 for "no route" or an unused id, the prefix length + 1 otherwise.
        last = e;
        take = e !== route && ((plens[e]! + 1) & 255) <= plen + 1;
        if (take) t[j] = route;
      }
    }
  }

  /** Puts `parent` where [from, from+count) of t holds `route`; returns whether it did so
   * anywhere (a node where it did not cannot have become foldable). */
  private replace(t: Uint32Array, from: number, count: number, route: number, parent: number): boolean {
    let changed = false;
    for (let j = from; j < from + count; j++) {
      const e = t[j]!;
      if (e & EXT) {
        if (this.replace(this.nodes, (e & NODE_MASK) << 8, 256, route, parent)) {
          changed = true;
          this.collapse(t, j);
        }
      } else if (e === route) {
        t[j] = parent;
        changed = true;
      }
    }
    return changed;
  }

  /** Gives entry `at` of t (a plain entry) a node holding that entry 256 times; returns EXT|node. */
  private split(t: Uint32Array, at: number, covering: number): number {
    const used = this.used!; // adopted by insert, the only caller
    const n = this.neverUsed < used.length ? this.neverUsed++ : this.freeNodes[this.freeHead++]!; // insert() checked there are enough
    if (this.freeHead > 4096 && this.freeHead * 2 > this.freeNodes.length) {
      this.freeNodes.splice(0, this.freeHead);
      this.freeHead = 0;
    }
    this.nodes.fill(covering, n << 8, (n + 1) << 8);
    used[n] = 1;
    this.inUse++;
    const e = (EXT | n) >>> 0;
    t[at] = e; // the node is complete before anything points at it
    return e;
  }

  /** Folds the node that entry `at` of t points at back into that entry when all its entries
   * are one route; returns whether it did. */
  private collapse(t: Uint32Array, at: number): boolean {
    const e = t[at]!;
    if (!(e & EXT)) return false;
    const n = e & NODE_MASK;
    const base = n << 8;
    const first = this.nodes[base]!;
    if (first & EXT) return false;
    for (let j = base + 1; j < base + 256; j++) if (this.nodes[j] !== first) return false;
    t[at] = first;
    this.used![n] = 0; // adopted: by insert or remove, the only callers
    this.inUse--;
    this.freeNodes.push(n); // reused last: a lookup that read the old pointer still finds valid data
    return true;
  }
}

/** Whether b's n bytes at x and at y are the same (compared from the last: neighbours in
 * address order differ late). */
function sameBytes(b: Uint8Array, x: number, y: number, n: number): boolean {
  for (let i = n - 1; i >= 0; i--) if (b[x + i] !== b[y + i]) return false;
  return true;
}
