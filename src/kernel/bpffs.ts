/** bpffs: where pinned maps, programs and links live across process restarts. */
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, readdirSync, statSync } from 'node:fs';

import { native } from './native.js';
import { PwError, fromNative } from '../errors.js';
import { BPFFS_ROOT } from '../util/instance.js';

export { BPFFS_ROOT };

export function isBpffsMounted(path = BPFFS_ROOT): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .some((l) => {
        const [, mnt, type] = l.split(' ');
        return mnt === path && type === 'bpf';
      });
  } catch {
    return false;
  }
}

/**
 * True when this process looks like it runs under `ip netns exec`: its mount namespace is not
 * init's, or (where /proc/1 is hidden, as in some sandboxes) its network namespace is one of
 * the named ones in /run/netns.
 */
function underNetnsExec(): boolean {
  try {
    return readlinkSync('/proc/self/ns/mnt') !== readlinkSync('/proc/1/ns/mnt');
  } catch {
    try {
      const self = statSync('/proc/self/ns/net').ino;
      return readdirSync('/run/netns').some((n) => statSync(`/run/netns/${n}`).ino === self);
    } catch {
      return false;
    }
  }
}

/** Mounts bpffs at /sys/fs/bpf if it is not mounted. Returns true when it mounted it. */
export function ensureBpffs(path = BPFFS_ROOT): boolean {
  if (isBpffsMounted(path)) return false;
  if (underNetnsExec()) {
    // `ip netns exec` gives its command a private mount namespace with a fresh /sys: a bpffs
    // mounted there would be new and empty, and pins made in it would vanish with the process.
    throw new PwError('PW_ERR_UNSUPPORTED', `bpffs is not mounted at ${path} in this mount namespace (under 'ip netns exec'?)`, {
      hint: "run 'pathwise --netns NAME …' instead of 'ip netns exec NAME pathwise …': it enters only the network namespace",
    });
  }
  try {
    mkdirSync(path, { recursive: true });
    native().mountBpffs(path);
  } catch (e) {
    throw new PwError('PW_ERR_PERMISSION', `bpffs is not mounted at ${path} and mounting it failed: ${(e as Error).message.trim()}`, {
      hint: `run as root, or: mount -t bpf bpf ${path}`,
    });
  }
  return true;
}

export function pinFd(fd: number, path: string): void {
  try {
    native().objPin(fd, path);
  } catch (e) {
    throw fromNative(e, 'pin', path);
  }
}

export function openPinned(path: string, kind = 'pinned') {
  try {
    return native().objGet(path, kind);
  } catch (e) {
    throw fromNative(e, 'open pinned object', path);
  }
}

/** Removes a pin directory and everything pinned in it (pins are files; unlinking unpins). */
export function removePinDir(dir: string): void {
  if (!dir.startsWith(`${BPFFS_ROOT}/`)) throw new PwError('PW_ERR_INVALID', `refusing to remove ${dir}: not under ${BPFFS_ROOT}`);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
