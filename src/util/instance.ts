/**
 * Where an instance's state lives: its pins in bpffs (they outlive every process, not a
 * reboot), and its run directory (metadata, the API socket; /run is cleared at boot too).
 */
import { PwError } from '../errors.js';

/** bpffs's mount point. */
export const BPFFS_ROOT = '/sys/fs/bpf';

export function validInstance(name: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)) {
    throw new PwError('PW_ERR_INVALID', `invalid instance name '${name}'`, {
      hint: 'use 1-32 characters: a-z, 0-9, _ and -, starting with a letter or digit',
    });
  }
  return name;
}

/** The names of `pathwise replay`'s private pipelines (control/private-pipeline.ts): not for users. */
export const PRIVATE_INSTANCE = /^replay-\d+-\d+$/;

/** An instance name a user may give (CLI, config): valid, and not one of the private ones. */
export function userInstance(name: string): string {
  validInstance(name);
  if (PRIVATE_INSTANCE.test(name)) {
    throw new PwError('PW_ERR_INVALID', `instance name '${name}' is reserved for pathwise replay's private pipelines`, {
      hint: 'choose another name',
    });
  }
  return name;
}

/** Where the instance's programs and maps are pinned. */
export const pinDirOf = (instance: string) => `${BPFFS_ROOT}/pathwise/${validInstance(instance)}`;
/** The instance's run directory: meta.json, filter.json, the API socket. */
export const runDirOf = (instance: string) => `/run/pathwise/${validInstance(instance)}`;
/** The daemon's API socket when the config names none. */
export const defaultSocketOf = (instance: string) => `${runDirOf(instance)}/api.sock`;
