/**
 * A set of blocklist keys as the walks of the blocklists give them (FilterTables.forEachBlockOf:
 * an IPv4 prefix as its prefix4Code, an IPv6 one as its canonical text), built in one pass and
 * then read. The IPv4 codes go into one array, sorted once and searched by halves: for the
 * hundreds of thousands of entries a large blocklist or the decisions hold, a sort, where a
 * Set cost ~0.7 µs an entry to fill.
 */
export class BlockKeySet {
  private codes = new Float64Array(1024);
  private n = 0;
  private sorted = true;
  private readonly texts = new Set<string>();

  add(key: number | string): void {
    if (typeof key === 'string') {
      this.texts.add(key);
      return;
    }
    if (this.n === this.codes.length) {
      const grown = new Float64Array(2 * this.n);
      grown.set(this.codes);
      this.codes = grown;
    }
    this.codes[this.n++] = key;
    this.sorted = false;
  }

  has(key: number | string): boolean {
    if (typeof key === 'string') return this.texts.has(key);
    const codes = this.codes4();
    let lo = 0;
    let hi = codes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = codes[mid]!;
      if (c === key) return true;
      if (c < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** The IPv4 codes added, sorted (a repeated code stays repeated). */
  codes4(): Float64Array {
    if (!this.sorted) {
      this.codes.subarray(0, this.n).sort();
      this.sorted = true;
    }
    return this.codes.subarray(0, this.n);
  }

  /** The IPv6 texts added. */
  texts6(): ReadonlySet<string> {
    return this.texts;
  }
}
