/**
 * A BPF ring buffer read as an async iterator of records, or pushed a batch at a time to one
 * consumer (onRecords: no promise per record, for readers that keep up with the kernel). The addon polls the ring on the
 * event loop (never blocking it); when more than `highWaterMark` records wait unread, polling
 * pauses, the ring fills, and the BPF producer counts what it could not reserve: back-pressure
 * with loss counted where it happens. The records of one drained batch are views of one
 * buffer: a record kept for long keeps its batch (at most maxBatch records) in memory.
 */
import { type NativeFd, native } from './native.js';
import { fromNative } from '../errors.js';

export interface RingBufferOptions {
  /** Records buffered in JS before polling pauses. */
  highWaterMark?: number;
  /** Records drained per event-loop tick. */
  maxBatch?: number;
  /**
   * Also drain every this many milliseconds: for rings whose producer wakes the reader only
   * once a batch waits (the pipeline's, see bpf/include/pathwise/ring.bpf.h). 0 (the default):
   * only when the kernel wakes the reader.
   */
  drainMs?: number;
}

export class RingBufferReader implements AsyncIterable<Buffer> {
  private readonly ring: InstanceType<ReturnType<typeof native>['RingBuffer']>;
  private readonly queue: Buffer[] = [];
  private waiter: ((r: IteratorResult<Buffer>) => void) | null = null;
  private readonly highWaterMark: number;
  private paused = false;
  private ended = false;
  private delivered = 0;
  /** Takes each batch whole: record i is data[ends[i - 1] (0 for the first), ends[i]). */
  private consumer: ((data: Buffer, ends: Uint32Array) => void) | null = null;

  constructor(
    private readonly handle: NativeFd,
    opts: RingBufferOptions = {},
  ) {
    this.highWaterMark = opts.highWaterMark ?? 65536;
    try {
      this.ring = new (native().RingBuffer)(handle.fd, (data, ends) => this.onBatch(data, ends), opts.maxBatch ?? 1024, opts.drainMs ?? 0);
    } catch (e) {
      throw fromNative(e, 'ring buffer');
    }
    this.ring.start();
  }

  /** Records handed to the consumer so far. */
  get count(): number {
    return this.delivered;
  }

  private onBatch(data: Buffer, ends: Uint32Array): void {
    if (this.ended) return;
    if (this.consumer) {
      this.delivered += ends.length;
      this.consumer(data, ends);
      return;
    }
    for (let i = 0, start = 0; i < ends.length; start = ends[i]!, i++) {
      const r = data.subarray(start, ends[i]);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        this.delivered++;
        w({ value: r, done: false });
      } else {
        this.queue.push(r);
      }
    }
    if (this.queue.length >= this.highWaterMark && !this.paused) {
      this.paused = true;
      this.ring.pause();
    }
  }

  /**
   * Hands every batch the addon drains to `fn`, as it drains it, instead of queueing records for
   * the iterator (which must not be used with it). `fn` runs on the event loop; while it runs
   * the ring is not read, so a consumer slower than the producer meets the ring's own loss count.
   */
  onRecords(fn: (records: Buffer[]) => void): void {
    this.onBatches((data, ends) => {
      const records: Buffer[] = new Array(ends.length);
      for (let i = 0, start = 0; i < ends.length; start = ends[i]!, i++) records[i] = data.subarray(start, ends[i]);
      fn(records);
    });
  }

  /**
   * As onRecords, but each batch whole, as the addon copied it: record i is
   * data[ends[i - 1] (0 for the first), ends[i]). For consumers that read records in place,
   * without a Buffer made for each (tens of thousands a second).
   */
  onBatches(fn: (data: Buffer, ends: Uint32Array) => void): void {
    this.consumer = fn;
    for (const r of this.queue.splice(0)) fn(r, Uint32Array.of(r.length));
  }

  /** Drains whatever the kernel holds right now, synchronously. */
  drain(): number {
    return this.ring.consume();
  }

  /** Drains the kernel's records and returns every record queued, synchronously (for callers
   * that drive the producer themselves, e.g. BPF_PROG_TEST_RUN). */
  takeAll(): Buffer[] {
    while (this.ring.consume() > 0) {
      // the callback queued them
    }
    const out = this.queue.splice(0);
    this.delivered += out.length;
    return out;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const r = this.queue.shift();
    if (r) {
      this.delivered++;
      if (this.paused && this.queue.length < this.highWaterMark / 2) {
        this.paused = false;
        this.ring.start();
      }
      return Promise.resolve({ value: r, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Stops polling and frees the ring; a pending next() resolves as done. Idempotent. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.ring.close();
    this.handle.close();
    this.queue.length = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: undefined, done: true });
    }
  }
}
