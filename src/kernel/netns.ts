/**
 * Runs synchronous work (attach, detach, interface lookups) inside a named network namespace,
 * as `ip netns exec` would for a whole process. Only the JS thread moves, and it always moves
 * back, even when the work throws.
 */
import { native } from './native.js';
import { PwError, fromNative } from '../errors.js';

export function netnsPath(name: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new PwError('PW_ERR_INVALID', `invalid network namespace name '${name}'`);
  return `/run/netns/${name}`;
}

export function inNetns<T>(name: string | undefined, fn: () => T): T {
  if (!name) return fn();
  const n = native();
  let back;
  try {
    back = n.setNetns(netnsPath(name));
  } catch (e) {
    throw fromNative(e, `enter network namespace ${name}`, name);
  }
  try {
    const r = fn();
    if (r instanceof Promise) throw new PwError('PW_ERR_INTERNAL', 'inNetns() takes synchronous work only');
    return r;
  } finally {
    n.setNetnsFd(back.fd);
    back.close();
  }
}

/**
 * Moves this process (its JS thread, and so the children it spawns) into a network namespace
 * for good, as `--netns NAME` asks. Unlike `ip netns exec`, the mount namespace stays, so the
 * host's bpffs (and Pathwise's pins) remain visible.
 */
export function enterNetnsForProcess(name: string): void {
  try {
    native().setNetns(netnsPath(name)).close();
  } catch (e) {
    throw fromNative(e, `enter network namespace ${name}`, name);
  }
}
