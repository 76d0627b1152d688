/**
 * Many short texts (JSON rows) packed into one Buffer with a separator between them: a listing
 * of a million routes is written a chunk at a time, and Array.prototype.join plus encoding the
 * joined string cost ~5x more than writing each text into a buffer (measured: 1.3 s against
 * 0.25 s for a million 160-byte rows).
 */
export function packTexts(texts: string[], separator: string, after = ''): Buffer {
  let chars = after.length;
  for (const t of texts) chars += t.length + separator.length;
  let buf = Buffer.allocUnsafe(chars + 65536); // one byte a character for ASCII; grown otherwise
  let off = 0;
  const room = (bytes: number) => {
    if (off + bytes <= buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * buf.length, off + bytes));
    buf.copy(next, 0, 0, off);
    buf = next;
  };
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]!;
    room(3 * (t.length + separator.length)); // UTF-8: at most 3 bytes a UTF-16 unit
    if (i) off += buf.write(separator, off);
    off += buf.write(t, off);
  }
  room(3 * after.length);
  off += buf.write(after, off);
  return buf.subarray(0, off);
}
