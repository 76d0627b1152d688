/**
 * Map layouts from BTF (the addon's btf-layout.cc): a pinned map's key and value types as the
 * kernel holds them, an object file's as it declares them, and a program's maps.
 */
import { fromNative } from '../errors.js';
import { native, type KernelMapInfo, type MapLayout, type NativeFd, type TypeLayout } from './native.js';

export type { MapLayout, TypeLayout };

export function mapLayoutOf(fd: number, what: string): MapLayout {
  try {
    return native().mapLayout(fd);
  } catch (e) {
    throw fromNative(e, `BTF layout of map ${what}`);
  }
}

export function objectMapLayouts(path: string): Record<string, MapLayout> {
  try {
    return native().objectMapLayouts(path);
  } catch (e) {
    throw fromNative(e, `BTF layouts of the maps in ${path}`);
  }
}

export function progMapIds(fd: number): number[] {
  try {
    return native().progMapIds(fd);
  } catch (e) {
    throw fromNative(e, 'maps of a program');
  }
}

/**
 * Whether a pinned map's layout is the one an object declares. A map the kernel holds without
 * BTF (types whose maps take none, like devmaps) cannot tell: the sizes decide alone.
 */
export function sameLayout(pinned: MapLayout, declared: MapLayout): boolean {
  if (pinned.key === null && pinned.value === null) return true;
  const same = (x: TypeLayout | null, y: TypeLayout | null) => (x === null && y === null) || (!!x && !!y && x.signature === y.signature);
  return same(pinned.key, declared.key) && same(pinned.value, declared.value);
}

/** What the kernel says of the map on `fd`. */
export function mapInfoOf(fd: NativeFd): KernelMapInfo {
  try {
    return native().mapInfo(fd.fd);
  } catch (e) {
    throw fromNative(e, 'map info');
  }
}

/** An fd of the map with this id (the caller closes it). */
export function mapFdById(id: number): NativeFd {
  try {
    return native().mapFdById(id);
  } catch (e) {
    throw fromNative(e, `map ${id}`);
  }
}

/** An fd of the program with this id (the caller closes it). */
export function progFdById(id: number): NativeFd {
  try {
    return native().progFdById(id);
  } catch (e) {
    throw fromNative(e, `program ${id}`);
  }
}
