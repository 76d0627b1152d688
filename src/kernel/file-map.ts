/**
 * A file's bytes mapped read-only into memory instead of read into a fresh buffer. A full route
 * table is ~17 MiB: read, every page of the new buffer is faulted in and filled (~175 ms on this
 * VM); mapped, its pages come straight from the page cache, many per fault (~8 ms).
 *
 * The mapping lives as long as the returned array (the ArrayBuffer's finalizer unmaps it). A
 * file truncated while it is mapped faults (SIGBUS) on the bytes past its new end: this is for a
 * command's input file, scanned once right away, as tools that map their input do. A pipe, a
 * device or an empty file is read as usual.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';

import { native } from './native.js';

export function readFileMapped(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    // (An empty mapping is not allowed.)
    if (!st.isFile() || st.size === 0) return readFileSync(fd);
    const m = new (native().Mmap)(fd, st.size, false);
    return new Uint8Array(m.buffer, 0, st.size);
  } finally {
    closeSync(fd);
  }
}
