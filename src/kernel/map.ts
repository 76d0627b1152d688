/**
 * Typed BPF maps: keys and values go through codecs generated from BTF; each map owns one fd
 * (an idempotent close() and the addon's GC finalizer). Per-CPU maps return one value per
 * possible CPU. Batch operations move many entries per syscall; mmap gives direct access to
 * BPF_F_MMAPABLE arrays.
 */
import { type Codec, type MapSpec } from './codec.js';
import { isPerCpuMapType, MapFlags, MapType, mapTypeName, UpdateFlags } from './kernel-constants.js';
import { type KernelMapInfo, type NativeFd, native } from './native.js';
import { PwError, fromNative } from '../errors.js';

/** Map types whose entries BPF_MAP_LOOKUP_BATCH reads (the kernel's htab and array batch ops). */
const BATCH_LOOKUP_TYPES = new Set<number>([MapType.HASH, MapType.ARRAY, MapType.LRU_HASH]);

const roundUp8 = (n: number) => (n + 7) & ~7;

/** Checks a kernel map against the layout the codecs were generated for. */
export function checkLayout(
  info: KernelMapInfo,
  spec: Pick<MapSpec<unknown, unknown>, 'name' | 'keySize' | 'valueSize'>,
  key: Codec<unknown> | null,
  value: Codec<unknown> | null,
): void {
  const problems: string[] = [];
  if (key && info.keySize !== key.size)
    problems.push(`key is ${info.keySize} bytes in the kernel, ${key.size} in the generated codec ${key.name}`);
  if (value && info.valueSize !== value.size)
    problems.push(`value is ${info.valueSize} bytes in the kernel, ${value.size} in the generated codec ${value.name}`);
  if (problems.length) {
    throw new PwError('PW_ERR_LAYOUT', `map ${spec.name}: ${problems.join('; ')}`, {
      where: `map ${spec.name}`,
      hint: "the BPF object and src/generated/ disagree: run 'make gen' and rebuild, or remove stale pins from an older version",
    });
  }
}

/** Fixed-size scratch buffers for one map's keys and values, reused across calls. */
class Scratch {
  readonly key: Buffer;
  readonly keyView: DataView;
  readonly next: Buffer;
  readonly value: Buffer;
  readonly valueView: DataView;
  constructor(keySize: number, valueBytes: number) {
    this.key = Buffer.alloc(Math.max(keySize, 1));
    this.keyView = new DataView(this.key.buffer, this.key.byteOffset, this.key.byteLength);
    this.next = Buffer.alloc(Math.max(keySize, 1));
    this.value = Buffer.alloc(Math.max(valueBytes, 1));
    this.valueView = new DataView(this.value.buffer, this.value.byteOffset, this.value.byteLength);
  }
}

abstract class MapBase<K, V> {
  readonly name: string;
  readonly info: KernelMapInfo;
  protected readonly scratch: Scratch;

  constructor(
    protected readonly handle: NativeFd,
    readonly keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
    /** bytes of one value slot as the syscall sees it (per-CPU maps: all CPUs) */
    protected readonly valueBytes: number,
  ) {
    this.info = native().mapInfo(handle.fd);
    this.name = this.info.name;
    checkLayout(
      this.info,
      { name: this.info.name, keySize: this.info.keySize, valueSize: this.info.valueSize },
      keyCodec as Codec<unknown>,
      valueCodec as Codec<unknown>,
    );
    this.scratch = new Scratch(keyCodec.size, valueBytes);
  }

  get fd(): number {
    return this.handle.fd;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /** Closes this handle to the map (the map lives on while pinned or used by a program). */
  close(): void {
    this.handle.close();
  }

  protected encodeKey(key: K): Buffer {
    this.keyCodec.encode(key, this.scratch.keyView, 0);
    return this.scratch.key;
  }

  delete(key: K): boolean {
    try {
      return native().mapDelete(this.fd, this.encodeKey(key));
    } catch (e) {
      throw fromNative(e, `delete from map ${this.name}`);
    }
  }

  /**
   * Iterates keys: in batches where the map reads in batches (readsInBatches), else with
   * get_next_key, where keys deleted concurrently may restart the walk (kernel semantics).
   */
  *keys(): IterableIterator<K> {
    if (this.readsInBatches()) {
      const ks = this.keyCodec.size;
      for (const page of this.lookupBatchRaw(4096)) {
        const kv = new DataView(page.keys.buffer, page.keys.byteOffset, page.keys.byteLength);
        for (let i = 0; i < page.count; i++) yield this.keyCodec.decode(kv, i * ks);
      }
      return;
    }
    const n = native();
    let prev: Buffer | null = null;
    const next = Buffer.alloc(this.keyCodec.size);
    const view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    while (n.mapGetNextKey(this.fd, prev, next)) {
      yield this.keyCodec.decode(view, 0);
      prev = Buffer.from(next);
    }
  }

  /** Whether the map holds no entry (one BPF_MAP_GET_NEXT_KEY). */
  isEmpty(): boolean {
    return !native().mapGetNextKey(this.fd, null, Buffer.alloc(this.keyCodec.size));
  }

  get count(): number {
    let c = 0;
    for (const _ of this.keys()) c++;
    return c;
  }

  /** Deletes many keys in one syscall. Returns how many were deleted. */
  deleteBatch(keys: K[]): number {
    const ks = this.packKeys(keys);
    try {
      return native().mapDeleteBatch(this.fd, ks, keys.length);
    } catch (e) {
      throw fromNative(e, `batch delete from map ${this.name}`);
    }
  }

  protected packKeys(keys: K[]): Buffer {
    const buf = Buffer.alloc(keys.length * this.keyCodec.size);
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    keys.forEach((k, i) => this.keyCodec.encode(k, v, i * this.keyCodec.size));
    return buf;
  }

  /**
   * Reads every entry with BPF_MAP_LOOKUP_BATCH, `chunk` entries per syscall, as raw buffers
   * (keys: count*keySize, values: count*valueBytes). Fast path for large dumps.
   */
  *lookupBatchRaw(chunk = 8192): IterableIterator<{ keys: Buffer; values: Buffer; count: number }> {
    let cursor: Buffer | null = null;
    // Unzeroed: only the entries the kernel wrote are handed out.
    const keys = Buffer.allocUnsafe(chunk * this.keyCodec.size);
    const values = Buffer.allocUnsafe(chunk * this.valueBytes);
    for (;;) {
      const r = this.lookupBatchStep(cursor, keys, values, chunk);
      if (r.count > 0) yield this.pageOf(keys, values, r.count);
      if (r.done) return;
      cursor = r.cursor;
    }
  }

  private batchable: boolean | undefined;

  /**
   * Whether BPF_MAP_LOOKUP_BATCH reads this map: hash and array maps always; an LPM trie when
   * the kernel gives it the generic batch operations (6.18 does: 0.4 µs an entry against 5.6
   * for each BPF_MAP_GET_NEXT_KEY, which the trie answers by walking from its root), asked once.
   */
  protected readsInBatches(): boolean {
    if (BATCH_LOOKUP_TYPES.has(this.info.type)) return true;
    if (this.info.type !== MapType.LPM_TRIE) return false;
    if (this.batchable === undefined) {
      try {
        this.lookupBatchStep(null, Buffer.alloc(this.keyCodec.size), Buffer.alloc(this.valueBytes), 1);
        this.batchable = true;
      } catch {
        this.batchable = false;
      }
    }
    return this.batchable;
  }

  /**
   * A sample of a hash map, for what would cost too much to read whole (a million entries take
   * the kernel ~0.3 s to copy out): its entries in batches from the start, each page handed to
   * `onPage`, until at least `limit` are read or the map ends. Returns the share of the map's
   * buckets they came from (1: every entry was read). The kernel walks a hash map bucket by
   * bucket and its batch cursor is the next bucket's index, out of max_entries rounded up to a
   * power of two; keys hash uniformly over the buckets, so a count over the sample divided by
   * the share estimates the count over the map.
   */
  sampleBatchRaw(limit: number, onPage: (page: { keys: Buffer; values: Buffer; count: number }) => void, chunk = 8192): number {
    if (this.info.type !== MapType.HASH && this.info.type !== MapType.LRU_HASH)
      throw new PwError('PW_ERR_INVALID', `map ${this.name} is ${mapTypeName(this.info.type)}: only hash maps are sampled by bucket`);
    const buckets = 2 ** Math.ceil(Math.log2(Math.max(1, this.info.maxEntries)));
    const keys = Buffer.allocUnsafe(chunk * this.keyCodec.size);
    const values = Buffer.allocUnsafe(chunk * this.valueBytes);
    let cursor: Buffer | null = null;
    let read = 0;
    for (;;) {
      const r = this.lookupBatchStep(cursor, keys, values, chunk);
      if (r.count > 0) {
        onPage({
          keys: keys.subarray(0, r.count * this.keyCodec.size),
          values: values.subarray(0, r.count * this.valueBytes),
          count: r.count,
        });
        read += r.count;
      }
      if (r.done) return 1;
      cursor = r.cursor;
      if (read >= limit) return Math.min(1, Math.max(1, cursor.readUInt32LE(0)) / buckets);
    }
  }

  /**
   * One BPF_MAP_LOOKUP_BATCH of up to `chunk` entries after `cursor` (null: from the start)
   * into the start of `keys` and `values`: how many it read, whether the map is done, and the
   * cursor to go on from.
   */
  protected lookupBatchStep(
    cursor: Buffer | null,
    keys: Buffer,
    values: Buffer,
    chunk: number,
  ): { count: number; done: boolean; cursor: Buffer } {
    // The kernel's batch cursor for hash maps is a bucket index; for arrays, a key. Either fits
    // in max(keySize, 8) bytes.
    const next = Buffer.alloc(Math.max(this.keyCodec.size, 8));
    try {
      return { ...native().mapLookupBatch(this.fd, cursor, next, keys, values, chunk), cursor: next };
    } catch (e) {
      throw fromNative(e, `batch lookup in map ${this.name}`);
    }
  }

  /** The first `count` entries of a batch's buffers, as a page. */
  protected pageOf(keys: Buffer, values: Buffer, count: number): { keys: Buffer; values: Buffer; count: number } {
    return { keys: keys.subarray(0, count * this.keyCodec.size), values: values.subarray(0, count * this.valueBytes), count };
  }

  /** lookupBatchStep on a worker thread (the buffers must not be touched until it settles). */
  protected async lookupBatchStepAsync(
    cursor: Buffer | null,
    keys: Buffer,
    values: Buffer,
    chunk: number,
  ): Promise<{ count: number; done: boolean; cursor: Buffer }> {
    const next = Buffer.alloc(Math.max(this.keyCodec.size, 8));
    try {
      return { ...(await native().mapLookupBatchAsync(this.fd, cursor, next, keys, values, chunk)), cursor: next };
    } catch (e) {
      throw fromNative(e, `batch lookup in map ${this.name}`);
    }
  }
}

/** A map with one value per key. */
export class BpfMap<K, V> extends MapBase<K, V> {
  constructor(handle: NativeFd, key: Codec<K>, value: Codec<V>) {
    super(handle, key, value, value.size);
    if (isPerCpuMapType(this.info.type)) {
      throw new PwError('PW_ERR_INVALID', `map ${this.name} is ${mapTypeName(this.info.type)}: open it as a PerCpuMap`);
    }
  }

  get(key: K): V | undefined {
    let found: boolean;
    try {
      found = native().mapLookup(this.fd, this.encodeKey(key), this.scratch.value);
    } catch (e) {
      throw fromNative(e, `lookup in map ${this.name}`);
    }
    return found ? this.valueCodec.decode(this.scratch.valueView, 0) : undefined;
  }

  set(key: K, value: V, flags: number = UpdateFlags.ANY): void {
    this.valueCodec.encode(value, this.scratch.valueView, 0);
    try {
      native().mapUpdate(this.fd, this.encodeKey(key), this.scratch.value, flags);
    } catch (e) {
      throw fromNative(e, `update of map ${this.name}`);
    }
  }

  /**
   * Every entry. Hashes and arrays are read in batches (a 1,024-slot array is one syscall, not
   * 2,048), and so are LPM tries where the kernel allows it; other types (devmaps) key by key.
   */
  *entries(): IterableIterator<[K, V]> {
    if (!this.readsInBatches()) {
      for (const k of this.keys()) {
        const v = this.get(k);
        if (v !== undefined) yield [k, v];
      }
      return;
    }
    const ks = this.keyCodec.size;
    for (const page of this.lookupBatchRaw(1024)) {
      const kv = new DataView(page.keys.buffer, page.keys.byteOffset, page.keys.byteLength);
      const vv = new DataView(page.values.buffer, page.values.byteOffset, page.values.byteLength);
      for (let i = 0; i < page.count; i++) yield [this.keyCodec.decode(kv, i * ks), this.valueCodec.decode(vv, i * this.valueBytes)];
    }
  }

  /**
   * Every entry as raw pages (keys: count × key size, values: count × value size), for readers
   * of a million entries that decode only the fields they need: batches where the map reads in
   * batches, else pages of one, key by key.
   */
  *entriesRaw(chunk = 8192): IterableIterator<{ keys: Buffer; values: Buffer; count: number }> {
    if (this.readsInBatches()) {
      yield* this.lookupBatchRaw(chunk);
      return;
    }
    const key = Buffer.alloc(this.keyCodec.size);
    const value = Buffer.alloc(this.valueBytes);
    for (const [k, v] of this.entries()) {
      this.keyCodec.encode(k, new DataView(key.buffer, key.byteOffset, key.byteLength), 0);
      this.valueCodec.encode(v, new DataView(value.buffer, value.byteOffset, value.byteLength), 0);
      yield { keys: key, values: value, count: 1 };
    }
  }

  /**
   * Writes many entries with BPF_MAP_UPDATE_BATCH, `chunk` per syscall (insert or replace: the
   * kernel takes no NOEXIST/EXIST flags for batches). On failure the error's details.applied
   * says how many entries, in order, were written.
   */
  updateBatch(entries: Iterable<[K, V]> | [K, V][], chunk = 16384): number {
    const list = Array.isArray(entries) ? entries : [...entries];
    const ks = this.keyCodec.size;
    const vs = this.valueCodec.size;
    let done = 0;
    const keys = Buffer.alloc(Math.min(chunk, list.length) * ks);
    const values = Buffer.alloc(Math.min(chunk, list.length) * vs);
    const kv = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
    const vv = new DataView(values.buffer, values.byteOffset, values.byteLength);
    while (done < list.length) {
      const count = Math.min(chunk, list.length - done);
      for (let i = 0; i < count; i++) {
        const [k, v] = list[done + i]!;
        this.keyCodec.encode(k, kv, i * ks);
        this.valueCodec.encode(v, vv, i * vs);
      }
      try {
        native().mapUpdateBatch(this.fd, keys, values, count);
      } catch (e) {
        const applied = done + ((e as { applied?: number }).applied ?? 0);
        const err = fromNative(e, `batch update of map ${this.name}`);
        (err.details as Record<string, unknown>).applied = applied;
        throw err;
      }
      done += count;
    }
    return done;
  }

  /**
   * Writes pre-encoded entries (keys: count*keySize bytes, values: count*valueSize bytes) with
   * BPF_MAP_UPDATE_BATCH, `chunk` per syscall. For callers that build large tables as bytes.
   */
  updateBatchRaw(keys: Uint8Array, values: Uint8Array, count: number, chunk = 16384): void {
    const ks = this.keyCodec.size;
    const vs = this.valueCodec.size;
    for (let done = 0; done < count; done += chunk) {
      const n = Math.min(chunk, count - done);
      try {
        native().mapUpdateBatch(this.fd, keys.subarray(done * ks, (done + n) * ks), values.subarray(done * vs, (done + n) * vs), n);
      } catch (e) {
        throw fromNative(e, `batch update of map ${this.name}`);
      }
    }
  }

  /**
   * Reads every entry with batch lookups straight into one keys buffer and one values buffer,
   * with no copy between pages (the whole-table snapshot path: 1M flows are ~110 MB).
   * The buffers are allocated uninitialised for max_entries, so only the pages the kernel
   * writes into become resident; only the filled part is returned. A map whose entries move
   * while it is read can yield more than max_entries (an entry deleted and re-inserted into a
   * later bucket is seen twice): the buffers then grow. Each batch runs on a worker thread:
   * the caller's event loop turns while the kernel copies (~0.5 s for a million flows).
   */
  async readAllRaw(chunk = 65536): Promise<{ keys: Buffer; values: Buffer; count: number }> {
    const ks = this.keyCodec.size;
    const vs = this.valueBytes;
    let capacity = Math.max(this.info.maxEntries, chunk);
    let keys = Buffer.allocUnsafe(capacity * ks);
    let values = Buffer.allocUnsafe(capacity * vs);
    let cursor: Buffer | null = null;
    let count = 0;
    for (;;) {
      if (capacity - count < chunk) {
        capacity = Math.max(capacity * 2, count + chunk);
        keys = Buffer.concat([keys.subarray(0, count * ks)], capacity * ks);
        values = Buffer.concat([values.subarray(0, count * vs)], capacity * vs);
      }
      const r = await this.lookupBatchStepAsync(cursor, keys.subarray(count * ks), values.subarray(count * vs), chunk);
      count += r.count;
      if (r.done) return { keys: keys.subarray(0, count * ks), values: values.subarray(0, count * vs), count };
      cursor = r.cursor;
    }
  }

  /**
   * entriesRaw with each batch read on a worker thread: the caller's event loop turns while
   * the kernel walks the map (an LPM trie of a million prefixes takes ~0.4 s). A page is valid
   * until the next one is asked for. Without batch reads, entriesRaw's pages of one.
   */
  async *entriesRawAsync(chunk = 8192): AsyncIterableIterator<{ keys: Buffer; values: Buffer; count: number }> {
    if (!this.readsInBatches()) {
      yield* this.entriesRaw(chunk);
      return;
    }
    const keys = Buffer.allocUnsafe(chunk * this.keyCodec.size);
    const values = Buffer.allocUnsafe(chunk * this.valueBytes);
    let cursor: Buffer | null = null;
    for (;;) {
      const r = await this.lookupBatchStepAsync(cursor, keys, values, chunk);
      if (r.count > 0) yield this.pageOf(keys, values, r.count);
      if (r.done) return;
      cursor = r.cursor;
    }
  }

  /** Reads the whole map with batch lookups. */
  dump(chunk = 8192): [K, V][] {
    const out: [K, V][] = [];
    const ks = this.keyCodec.size;
    const vs = this.valueCodec.size;
    for (const page of this.lookupBatchRaw(chunk)) {
      const kv = new DataView(page.keys.buffer, page.keys.byteOffset, page.keys.byteLength);
      const vv = new DataView(page.values.buffer, page.values.byteOffset, page.values.byteLength);
      for (let i = 0; i < page.count; i++) out.push([this.keyCodec.decode(kv, i * ks), this.valueCodec.decode(vv, i * vs)]);
    }
    return out;
  }

  /**
   * Maps a BPF_F_MMAPABLE array into memory. Writes through the view are seen by BPF programs
   * at once, with no syscall; the caller is responsible for an update order that keeps every
   * intermediate state valid.
   */
  mmap(): MappedArray<V> {
    if (!(this.info.flags & MapFlags.MMAPABLE)) {
      throw new PwError('PW_ERR_INVALID', `map ${this.name} is not BPF_F_MMAPABLE and cannot be mmap-ed`);
    }
    return new MappedArray(this.fd, this.info, this.valueCodec);
  }
}

/** An mmap-ed array map: element i is at byte i * roundUp8(valueSize). */
export class MappedArray<V> {
  readonly length: number;
  readonly stride: number;
  private readonly region: { readonly buffer: ArrayBuffer; close(): void };
  readonly view: DataView;
  readonly bytes: Uint8Array;

  constructor(
    fd: number,
    info: KernelMapInfo,
    private readonly codec: Codec<V>,
  ) {
    this.stride = roundUp8(info.valueSize);
    this.length = info.maxEntries;
    try {
      this.region = new (native().Mmap)(fd, this.stride * this.length, true);
    } catch (e) {
      throw fromNative(e, `mmap of map ${info.name}`);
    }
    this.view = new DataView(this.region.buffer);
    this.bytes = new Uint8Array(this.region.buffer);
  }

  get(i: number): V {
    this.check(i);
    return this.codec.decode(this.view, i * this.stride);
  }

  set(i: number, v: V): void {
    this.check(i);
    this.codec.encode(v, this.view, i * this.stride);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new PwError('PW_ERR_INVALID', `index ${i} out of range 0..${this.length - 1}`);
  }

  /** Unmaps; views taken from `view`/`bytes` become detached (length 0), never dangling. */
  close(): void {
    this.region.close();
  }
}

/** A per-CPU map: each key holds one value per possible CPU. */
export class PerCpuMap<K, V> extends MapBase<K, V> {
  readonly cpus: number;
  private readonly stride: number;

  constructor(handle: NativeFd, key: Codec<K>, value: Codec<V>) {
    const cpus = native().numPossibleCpus();
    const stride = roundUp8(value.size);
    super(handle, key, value, stride * cpus);
    this.cpus = cpus;
    this.stride = stride;
    if (!isPerCpuMapType(this.info.type)) {
      throw new PwError('PW_ERR_INVALID', `map ${this.name} is ${mapTypeName(this.info.type)}, not a per-CPU map`);
    }
  }

  /** One value per possible CPU, or undefined when the key is absent. */
  get(key: K): V[] | undefined {
    let found: boolean;
    try {
      found = native().mapLookup(this.fd, this.encodeKey(key), this.scratch.value);
    } catch (e) {
      throw fromNative(e, `lookup in map ${this.name}`);
    }
    if (!found) return undefined;
    return Array.from({ length: this.cpus }, (_, c) => this.valueCodec.decode(this.scratch.valueView, c * this.stride));
  }

  /** Sets every CPU's slot: to `values[cpu]`, or to one value for all. */
  set(key: K, values: V | V[], flags: number = UpdateFlags.ANY): void {
    for (let c = 0; c < this.cpus; c++) {
      const v = Array.isArray(values) ? (values[c] ?? this.valueCodec.zero()) : values;
      this.valueCodec.encode(v, this.scratch.valueView, c * this.stride);
    }
    try {
      native().mapUpdate(this.fd, this.encodeKey(key), this.scratch.value, flags);
    } catch (e) {
      throw fromNative(e, `update of map ${this.name}`);
    }
  }

  /**
   * Every entry's u64 fields at `offsets`, summed over the CPUs, read with batch lookups: a
   * lookup per key is a syscall each, and a daemon with thousands of keys asks every tick.
   * Sums past 2^53 lose precision (counters do not get there).
   */
  sumAll<F extends string>(offsets: Record<F, number>, chunk = 4096): Map<K, Record<F, number>> {
    const fields = Object.entries(offsets) as [F, number][];
    const out = new Map<K, Record<F, number>>();
    const ks = this.keyCodec.size;
    for (const page of this.lookupBatchRaw(chunk)) {
      const kv = new DataView(page.keys.buffer, page.keys.byteOffset, page.keys.byteLength);
      for (let i = 0; i < page.count; i++) {
        const sum = {} as Record<F, number>;
        for (const [f, at] of fields) {
          let n = 0;
          for (let c = 0, o = i * this.valueBytes + at; c < this.cpus; c++, o += this.stride)
            n += page.values.readUInt32LE(o) + page.values.readUInt32LE(o + 4) * 2 ** 32;
          sum[f] = n;
        }
        out.set(this.keyCodec.decode(kv, i * ks), sum);
      }
    }
    return out;
  }

  /** Decodes a dump page's per-CPU values for entry i. */
  decodeSlot(values: Buffer, i: number): V[] {
    const v = new DataView(values.buffer, values.byteOffset, values.byteLength);
    return Array.from({ length: this.cpus }, (_, c) => this.valueCodec.decode(v, i * this.valueBytes + c * this.stride));
  }
}

/**
 * A map without key/value codecs (ring buffers): its fd and what the kernel says of it. Ring
 * readers open their own fd (kernel/ring-buffer.ts); this handle serves inspection.
 */
export class RawMap {
  readonly name: string;
  readonly info: KernelMapInfo;

  constructor(private readonly handle: NativeFd) {
    this.info = native().mapInfo(handle.fd);
    this.name = this.info.name;
  }

  get fd(): number {
    return this.handle.fd;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  close(): void {
    this.handle.close();
  }
}

export type AnyMap = BpfMap<unknown, unknown> | PerCpuMap<unknown, unknown> | RawMap;

/**
 * Opens one typed handle per entry of `names` (handle name -> map name), each on the fd `open`
 * gives: PerCpuMap for per-CPU maps, RawMap for maps without codecs, BpfMap otherwise. What the
 * generated openMaps() of each object calls. On a failure, the handles already opened are
 * closed before the error goes on.
 */
export function openMapSet<N extends string>(
  specs: Record<N, MapSpec<unknown, unknown>>,
  names: Record<string, N>,
  open: (name: N) => NativeFd,
): Record<string, AnyMap> {
  const out: Record<string, AnyMap> = {};
  try {
    for (const [handle, name] of Object.entries(names) as [string, N][]) {
      const spec = specs[name];
      const fd = open(name);
      try {
        out[handle] =
          !spec.key || !spec.value
            ? new RawMap(fd)
            : isPerCpuMapType(spec.type)
              ? new PerCpuMap(fd, spec.key, spec.value)
              : new BpfMap(fd, spec.key, spec.value);
      } catch (e) {
        fd.close();
        throw e;
      }
    }
  } catch (e) {
    for (const m of Object.values(out)) m.close();
    throw e;
  }
  return out;
}
