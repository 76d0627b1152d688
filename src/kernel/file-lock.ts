/** Exclusive flock(2) locks on files: released when closed, or when the process ends however it ends. */
import { fromNative } from '../errors.js';
import { native, type NativeFd } from './native.js';

export interface FileLock {
  release(): void;
}

/** The lock on `path` (created 0600), or null when another open file holds it. Never waits. */
export function tryLockFile(path: string): FileLock | null {
  let fd: NativeFd | null;
  try {
    fd = native().lockFile(path);
  } catch (e) {
    throw fromNative(e, `lock ${path}`);
  }
  if (!fd) return null;
  const held = fd;
  return { release: () => held.close() };
}
