/**
 * XDP attachment. Netlink attachments (the default) outlive the process, which is what a
 * data plane that keeps forwarding across daemon restarts needs; replacing a program is
 * atomic with XDP_FLAGS_REPLACE. `auto` mode tries native (driver) XDP and falls back to
 * generic, and says which one it got and why.
 */
import { XdpAttached, XdpFlags } from './kernel-constants.js';
import { type NativeFd, native } from './native.js';
import type { Program } from './program.js';
import { resolveIfindex } from './netlink.js';
import { PwError, fromNative } from '../errors.js';

export type XdpMode = 'native' | 'generic';
export type XdpModeRequest = XdpMode | 'auto';

const MODE_FLAG: Record<XdpMode, number> = { native: XdpFlags.DRV_MODE, generic: XdpFlags.SKB_MODE };

export interface XdpState {
  ifindex: number;
  mode: XdpMode | 'offload' | 'multi' | null;
  progId: number;
}

/** What a driver declares it can do with XDP: the NETDEV_XDP_ACT_* bits, by the names the
 * kernel's netdev netlink spec gives them (bit 0 first). */
export const XDP_FEATURES = ['basic', 'redirect', 'ndo-xmit', 'xsk-zerocopy', 'hw-offload', 'rx-sg', 'ndo-xmit-sg'] as const;
export type XdpFeature = (typeof XDP_FEATURES)[number];

/**
 * Every interface's declared XDP features, by ifindex, read from the kernel's netdev netlink
 * family: nothing is attached, so no driver reconfigures itself (on many NICs attaching XDP
 * rebuilds the rings or resets the link). null on a kernel without that family (before 6.3).
 * A declaration is not a promise: a driver may still refuse a program for its configuration
 * (virtio_net while the host aggregates segments, an MTU too large).
 */
export function declaredXdpFeatures(): Map<number, XdpFeature[]> | null {
  let rows: ReturnType<ReturnType<typeof native>['netlinkXdpFeatures']>;
  try {
    rows = native().netlinkXdpFeatures();
  } catch (e) {
    throw fromNative(e, "netlink: the interfaces' XDP features");
  }
  if (!rows) return null;
  return new Map(rows.map((r) => [r.ifindex, XDP_FEATURES.filter((_, bit) => r.xdpFeatures & (1 << bit))]));
}

/** declaredXdpFeatures(), or null also when the kernel would not say: for notes and reports,
 * which are not worth failing a command for. */
export function declaredXdpFeaturesIfKnown(): Map<number, XdpFeature[]> | null {
  try {
    return declaredXdpFeatures();
  } catch {
    return null;
  }
}

/** What runs at an interface's XDP hook (one netlink request for that link). An interface gone: nothing. */
export function queryXdp(iface: string | number): XdpState {
  const ifindex = resolveIfindex(iface);
  let q: ReturnType<ReturnType<typeof native>['netlinkXdpQuery']>;
  try {
    q = native().netlinkXdpQuery(ifindex);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENODEV') return { ifindex, mode: null, progId: 0 };
    throw fromNative(e, `XDP query of ifindex ${ifindex}`);
  }
  const mode =
    q.attachMode === XdpAttached.DRV
      ? 'native'
      : q.attachMode === XdpAttached.SKB
        ? 'generic'
        : q.attachMode === XdpAttached.HW
          ? 'offload'
          : q.attachMode === XdpAttached.MULTI
            ? 'multi'
            : null;
  return { ifindex, mode, progId: mode === 'native' ? q.drvProgId : mode === 'generic' ? q.skbProgId : q.progId };
}

export interface XdpAttachResult {
  ifindex: number;
  mode: XdpMode;
  /** Why native mode was not used, when auto fell back to generic. */
  fallbackReason?: string;
  /** True when an already attached program was replaced atomically. */
  replaced: boolean;
}

/**
 * Attaches `prog` to an interface. If a program is attached already, it is replaced atomically
 * only when `replace` names it (its fd): a program someone else attached is never removed.
 */
export function attachXdp(prog: Program, iface: string | number, opts: { mode?: XdpModeRequest; replace?: Program } = {}): XdpAttachResult {
  const ifindex = resolveIfindex(iface);
  const request = opts.mode ?? 'auto';
  const tryMode = (mode: XdpMode) => {
    let flags = MODE_FLAG[mode];
    if (opts.replace) flags |= XdpFlags.REPLACE;
    else flags |= XdpFlags.UPDATE_IF_NOEXIST;
    native().xdpAttach(ifindex, prog.fd, flags, opts.replace?.fd);
  };
  const where = typeof iface === 'string' ? iface : `ifindex ${ifindex}`;
  if (request !== 'auto') {
    try {
      tryMode(request);
    } catch (e) {
      throw explainAttach(e, request, where);
    }
    return { ifindex, mode: request, replaced: !!opts.replace };
  }
  try {
    tryMode('native');
    return { ifindex, mode: 'native', replaced: !!opts.replace };
  } catch (e) {
    const err = e as { code?: string; message: string };
    // Only fall back where the driver lacks native XDP; any other failure is real.
    if (err.code === 'EBUSY' || err.code === 'EEXIST') throw explainAttach(e, 'native', where);
    try {
      tryMode('generic');
    } catch (e2) {
      throw explainAttach(e2, 'generic', where);
    }
    return { ifindex, mode: 'generic', fallbackReason: err.message, replaced: !!opts.replace };
  }
}

function explainAttach(e: unknown, mode: XdpMode, where: string): PwError {
  const code = (e as { code?: string }).code;
  if (code === 'EBUSY' || code === 'EEXIST') {
    return new PwError('PW_ERR_EXISTS', `${where}: another XDP program is attached (or one in another mode)`, {
      where,
      hint: "detach it first ('pathwise detach' or 'ip link set dev IF xdp off') or ask to replace it",
      cause: e,
    });
  }
  const err = fromNative(e, `XDP attach in ${mode} mode`, where);
  if (code === 'EOPNOTSUPP')
    return new PwError('PW_ERR_UNSUPPORTED', `${where}: the driver does not support ${mode} XDP`, {
      where,
      hint: 'use --mode generic or auto',
      cause: e,
    });
  return err;
}

/**
 * Detaches the XDP program from an interface, only if it is `expected` (when given): a
 * program someone else attached since is left alone.
 */
export function detachXdp(iface: string | number, expected?: Program): boolean {
  const state = queryXdp(iface);
  if (!state.mode) return false;
  if (state.mode !== 'native' && state.mode !== 'generic') {
    throw new PwError('PW_ERR_UNSUPPORTED', `interface ${iface}: ${state.mode} XDP attachments are not managed by Pathwise`);
  }
  let flags = MODE_FLAG[state.mode];
  if (expected) flags |= XdpFlags.REPLACE;
  try {
    native().xdpDetach(state.ifindex, flags, expected?.fd);
  } catch (e) {
    throw fromNative(e, 'XDP detach', String(iface));
  }
  return true;
}

/**
 * An XDP attachment held by a bpf_link: it lasts while the link fd (or a pin of it) lives,
 * cannot be replaced behind the owner's back, and swaps programs atomically with update().
 */
export class XdpLink {
  private constructor(
    readonly ifindex: number,
    readonly mode: XdpMode,
    private readonly handle: NativeFd,
  ) {}

  static create(prog: Program, iface: string | number, mode: XdpMode = 'native'): XdpLink {
    const ifindex = resolveIfindex(iface);
    try {
      return new XdpLink(ifindex, mode, native().xdpLinkCreate(prog.fd, ifindex, MODE_FLAG[mode]));
    } catch (e) {
      throw explainAttach(e, mode, String(iface));
    }
  }

  static fromPin(path: string): XdpLink {
    const handle = native().objGet(path, 'link');
    const info = native().linkInfo(handle.fd);
    return new XdpLink(info.ifindex ?? 0, 'native', handle);
  }

  get fd(): number {
    return this.handle.fd;
  }

  info() {
    return native().linkInfo(this.fd);
  }

  update(prog: Program, expected?: Program): void {
    try {
      native().linkUpdate(this.fd, prog.fd, expected?.fd);
    } catch (e) {
      throw fromNative(e, 'XDP link update');
    }
  }

  pin(path: string): void {
    native().objPin(this.fd, path);
  }

  /** Detaches the program from the interface now, even if the link is pinned elsewhere. */
  detach(): void {
    native().linkDetach(this.fd);
  }

  /** Drops this handle; an unpinned link detaches when its last fd closes. */
  close(): void {
    this.handle.close();
  }
}
