/**
 * One writer per instance. The daemon holds its instance's lock for as long as it runs; a
 * command that changes an instance without a daemon holds it while it works; a program upgrade
 * and the recovery of an interrupted one happen under it. A second daemon for the same
 * instance is refused before it touches anything (its socket above all), and a crashed holder
 * leaves no stale lock: the kernel drops a flock with the process.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { PwError } from '../errors.js';
import { tryLockFile, type FileLock } from '../kernel/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { runDirOf } from '../util/instance.js';

export class InstanceLock {
  private constructor(
    readonly instance: string,
    private readonly lock: FileLock,
  ) {}

  /** The lock, or an error naming who holds it (PW_ERR_BUSY). */
  static acquire(instance: string, holder: string): InstanceLock {
    const dir = runDirOf(instance);
    mkdirSync(dir, { recursive: true });
    const lock = tryLockFile(join(dir, 'lock'));
    if (!lock) {
      const owner = InstanceLock.owner(instance);
      throw new PwError('PW_ERR_BUSY', `instance '${instance}' is in use${owner ? ` by ${owner.holder} (pid ${owner.pid})` : ''}`, {
        hint: owner?.holder === 'the daemon' ? 'send the change to the daemon (its socket, or --server)' : 'wait for it to finish',
      });
    }
    writeFileAtomic(join(dir, 'lock.owner'), JSON.stringify({ pid: process.pid, holder }));
    return new InstanceLock(instance, lock);
  }

  /** Who last took the lock (informational: the lock itself is the flock). */
  static owner(instance: string): { pid: number; holder: string } | null {
    const f = join(runDirOf(instance), 'lock.owner');
    try {
      return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { pid: number; holder: string }) : null;
    } catch {
      return null;
    }
  }

  release(): void {
    this.lock.release();
  }
}
