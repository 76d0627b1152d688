/**
 * Files a config names (blocklist files, TLS certificates and keys). The daemon runs as root,
 * so what a config may make it read is narrow:
 * - only a config read from disk names files, and only in its own directory or below (after
 *   following symbolic links), regular files of at most MAX_CONFIG_FILE_BYTES (a FIFO or a
 *   device would hang it or never end);
 * - a config sent to the API carries the files' contents (pathwise apply reads them, as the
 *   user who runs it): they are put into the config there, and the daemon reads nothing;
 * - no error repeats a file's contents, only where in it the problem is.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';

import { PwError } from '../../errors.js';
import { parseBlockFile } from '../../filter/blocklist.js';
import { formatPrefix } from '../../util/ip.js';
import type { Config } from './schema.js';

/** Reads the file a config names (`ref`, as written) for the config item at `where`. */
export type FileSource = (ref: string, where: string) => string;

export const MAX_CONFIG_FILE_BYTES = 64 << 20;

/** Files in `dir` (the on-disk config's directory) or below. */
export function confinedFiles(dir: string): FileSource {
  return (ref, where) => {
    let root: string;
    let real: string;
    try {
      root = realpathSync(dir);
      real = realpathSync(resolve(root, ref));
    } catch (e) {
      throw new PwError('PW_ERR_NOT_FOUND', `cannot read ${ref}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { where });
    }
    if (real !== root && !real.startsWith(root + sep)) {
      throw new PwError('PW_ERR_INVALID', `${ref} is outside the config's directory (${root})`, {
        where,
        hint: 'a config names files in its own directory or below; move the file there (or inline the prefixes)',
      });
    }
    let fd: number;
    try {
      fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (e) {
      throw new PwError('PW_ERR_NOT_FOUND', `cannot read ${ref}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { where });
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new PwError('PW_ERR_INVALID', `${ref} is not a regular file`, { where });
      if (st.size > MAX_CONFIG_FILE_BYTES)
        throw new PwError('PW_ERR_TOO_LARGE', `${ref} is ${st.size} bytes; a config's files may have ${MAX_CONFIG_FILE_BYTES}`, { where });
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < buf.length) {
        const n = readSync(fd, buf, off, buf.length - off, off);
        if (n === 0) break; // shrank meanwhile
        off += n;
      }
      return buf.subarray(0, off).toString('utf8');
    } finally {
      closeSync(fd);
    }
  };
}

function refused(ref: string, where: string): never {
  throw new PwError('PW_ERR_INVALID', `a config sent to the API cannot make the daemon read ${ref}`, {
    where,
    hint: "send the file's contents with it ('pathwise apply FILE' does), or put the prefixes inline",
  });
}

/** No file at all: for configs whose files were put inline. */
export const noFiles: FileSource = refused;

/**
 * A config sent to the API, with the contents of the files it names (`supplied`, by the name
 * as written): the files' prefixes are put inline, so that the daemon never reads a file for
 * it, now or when it applies this version again.
 */
export function inlineFiles(cfg: Config, supplied: Record<string, string>): Config {
  return {
    ...cfg,
    blocklists: cfg.blocklists.map((b, i) => {
      if (!b.file) return b;
      const where = `blocklists[${i}].file`;
      const text = Object.hasOwn(supplied, b.file) ? supplied[b.file] : undefined;
      if (text === undefined) return refused(b.file, where);
      const { file, ...rest } = b;
      return { ...rest, prefixes: [...b.prefixes, ...parseBlockFile(text, file).map(formatPrefix)] };
    }),
  };
}

/** The contents of the files `cfg` names, read from `dir` (what `pathwise apply` sends along). */
export function filesOf(cfg: Config, dir: string): Record<string, string> {
  const read = confinedFiles(dir);
  const out: Record<string, string> = {};
  cfg.blocklists.forEach((b, i) => {
    if (b.file && !Object.hasOwn(out, b.file)) out[b.file] = read(b.file, `blocklists[${i}].file`);
  });
  return out;
}
