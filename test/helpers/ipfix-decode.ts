/**
 * Reads IPFIX messages back as a collector does (RFC 7011): templates learned from template
 * sets, data records decoded by them. Fixed-length fields only (the flow templates); numbers
 * by IANA element id.
 */
export type IpfixRecord = Map<number, bigint | Buffer>;

export class IpfixReader {
  private readonly templates = new Map<number, [id: number, len: number][]>();
  readonly records: { template: number; fields: IpfixRecord }[] = [];

  read(m: Buffer): void {
    if (m.readUInt16BE(0) !== 10 || m.readUInt16BE(2) !== m.length) throw new Error('not an IPFIX message of its own length');
    for (let off = 16; off < m.length;) {
      const id = m.readUInt16BE(off);
      const len = m.readUInt16BE(off + 2);
      const body = m.subarray(off + 4, off + len);
      if (id === 2) this.learn(body);
      else if (id >= 256) this.decode(id, body);
      off += len;
    }
  }

  private learn(body: Buffer): void {
    for (let off = 0; off < body.length;) {
      const id = body.readUInt16BE(off);
      const n = body.readUInt16BE(off + 2);
      const fields: [number, number][] = [];
      for (let i = 0; i < n; i++) fields.push([body.readUInt16BE(off + 4 + 4 * i), body.readUInt16BE(off + 6 + 4 * i)]);
      this.templates.set(id, fields);
      off += 4 + 4 * n;
    }
  }

  private decode(id: number, body: Buffer): void {
    const t = this.templates.get(id);
    if (!t) throw new Error(`data set ${id} before its template`);
    if (t.some(([, len]) => len === 65535)) return; // variable-length records: not read here
    const size = t.reduce((n, [, len]) => n + len, 0);
    for (let off = 0; off + size <= body.length; off += size) {
      const fields: IpfixRecord = new Map();
      let at = off;
      for (const [ie, len] of t) {
        const v = body.subarray(at, at + len);
        fields.set(ie, len <= 8 && ie !== 8 && ie !== 12 ? v.reduce((n, b) => (n << 8n) | BigInt(b), 0n) : Buffer.from(v));
        at += len;
      }
      this.records.push({ template: id, fields });
    }
  }
}
