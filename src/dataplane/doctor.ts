/**
 * What `pathwise doctor` checks: can Pathwise run on this machine, and which XDP modes each
 * interface supports. Attaching a trivial program is the only sure test, and it is made where
 * it changes nothing else: on virtual devices with nothing below them (veth, dummy, ifb). On a
 * NIC (or a bond or VLAN over one) attaching XDP may rebuild the rings or reset the link, so
 * there the report says what the driver declares (the kernel's netdev netlink family) unless
 * --probe asks for the attach. An interface that already has an XDP program is reported,
 * never touched.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { release } from 'node:os';
import { basename, join } from 'node:path';

import {
  BpfObject,
  attachXdp,
  declaredXdpFeaturesIfKnown,
  detachXdp,
  ensureBpffs,
  interfaceFeatures,
  kernelLinks,
  libraryVersions,
  probeFeatures,
  queryXdp,
  resolveIfindex,
  VERIFIER_INSN_LIMIT,
  type DeviceFeature,
  type KernelLink,
  type Program,
  type XdpFeature,
  type XdpMode,
} from '../kernel/index.js';
import { repoRoot } from '../util/paths.js';
import { PwError } from '../errors.js';
import * as abi from '../generated/pathwise.js';
import { DEFAULT_SETTINGS, loadTcPipeline, loadXdpPipeline, OBJECT_PATH, type PipelineSettings } from './pipeline-object.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface ModeReport {
  supported: boolean | null;
  /** probed: a pass-through program was attached and detached; declared: by the driver's XDP
   * features (native), by the kernel for every interface (generic), nothing attached. */
  how: 'probed' | 'declared' | null;
  error?: string;
}

export interface InterfaceReport {
  name: string;
  ifindex: number;
  driver: string | null;
  operstate: string;
  /** An XDP program already attached (not probed then). */
  attached: { mode: string; progId: number } | null;
  /** What the driver declares it can do with XDP; null before Linux 6.3. */
  xdpFeatures: XdpFeature[] | null;
  modes: Record<XdpMode, ModeReport>;
  /** Why native XDP may not do here what the driver declares (not probed interfaces only). */
  notes: string[];
}

/** Device kinds with nothing below them: a program attached and detached there changes nothing else. */
const SAFE_TO_PROBE = new Set(['veth', 'dummy', 'ifb', 'netkit']);

/** Whether doctor attaches its probe to `link` unasked (see the top of this file). */
export function safeToProbe(link: Pick<KernelLink, 'kind' | 'loopback'>): boolean {
  return link.loopback || (link.kind !== null && SAFE_TO_PROBE.has(link.kind));
}

/**
 * The modes of an interface that is not probed, from what its driver declares, and what may
 * keep native XDP from working as declared. `offloads` are its ethtool features (rx-lro,
 * rx-gro-hw: drivers that cannot turn them off refuse XDP, as virtio_net does when the host
 * aggregates segments); null when they could not be read.
 */
export function declaredModes(
  features: XdpFeature[] | null,
  offloads: Record<string, DeviceFeature> | null,
): Pick<InterfaceReport, 'modes' | 'notes'> {
  const generic: ModeReport = { supported: true, how: 'declared' };
  if (!features) return { modes: { native: { supported: null, how: null }, generic }, notes: [] };
  const native = features.includes('basic');
  const notes: string[] = [];
  const lro = offloads?.['rx-lro'];
  const groHw = offloads?.['rx-gro-hw'];
  if (native && lro?.active)
    notes.push(`LRO is on${lro.changeable ? '' : ' and fixed'}: drivers refuse XDP while it is (ethtool -K IFACE lro off)`);
  if (native && groHw?.active && !groHw.changeable)
    notes.push('rx-gro-hw is on and fixed: a driver that cannot turn it off refuses XDP (virtio_net does, while the host aggregates)');
  if (native && !features.includes('redirect')) notes.push('the driver declares no XDP_REDIRECT: native mode cannot forward from here');
  if (native && !features.includes('ndo-xmit'))
    notes.push('the driver declares no ndo_xdp_xmit as configured now: not a target of XDP redirects');
  return { modes: { native: { supported: native, how: 'declared' }, generic }, notes };
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
  interfaces: InterfaceReport[];
}

/** Kernel features Pathwise uses, and the release that brought each (the highest one bounds). */
const MIN_KERNEL: [number, number] = [5, 18]; // bpf_xdp_load_bytes

const CAPS = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 } as const;

function effectiveCaps(): bigint {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  return line ? BigInt(`0x${line.split(/\s+/)[1]}`) : 0n;
}

function checkKernel(): Check {
  const r = release();
  const [maj = 0, min = 0] = r.split(/[.-]/).map(Number);
  const good = maj > MIN_KERNEL[0] || (maj === MIN_KERNEL[0] && min >= MIN_KERNEL[1]);
  return good
    ? { name: 'kernel', status: 'ok', detail: r }
    : {
        name: 'kernel',
        status: 'fail',
        detail: `${r} is older than ${MIN_KERNEL.join('.')}`,
        hint: `Pathwise needs Linux ${MIN_KERNEL.join('.')} or newer`,
      };
}

function checkBtf(): Check {
  return existsSync('/sys/kernel/btf/vmlinux')
    ? { name: 'btf', status: 'ok', detail: '/sys/kernel/btf/vmlinux' }
    : { name: 'btf', status: 'fail', detail: 'the kernel exposes no BTF', hint: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y' };
}

function checkCaps(): Check {
  const caps = effectiveCaps();
  const has = (c: number) => (caps >> BigInt(c)) & 1n;
  const missing = (['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON'] as const).filter((c) => !has(CAPS[c]));
  if (has(CAPS.CAP_SYS_ADMIN) && missing.length === 0)
    return { name: 'capabilities', status: 'ok', detail: 'CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON' };
  if (missing.length === 0) return { name: 'capabilities', status: 'ok', detail: 'CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON' };
  return {
    name: 'capabilities',
    status: 'fail',
    detail: `missing ${missing.join(', ')}`,
    hint: 'run as root, or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON',
  };
}

function checkBpffs(): Check {
  try {
    const mounted = ensureBpffs();
    return { name: 'bpffs', status: 'ok', detail: mounted ? 'was not mounted: mounted it at /sys/fs/bpf' : 'mounted at /sys/fs/bpf' };
  } catch (e) {
    return { name: 'bpffs', status: 'fail', detail: (e as Error).message, hint: (e as PwError).hint };
  }
}

function checkLibbpf(): Check {
  try {
    const v = libraryVersions();
    return { name: 'libbpf', status: 'ok', detail: `libbpf ${v.libbpf}, ${v.libpcap} (native addon loaded)` };
  } catch (e) {
    return { name: 'libbpf', status: 'fail', detail: (e as Error).message, hint: (e as PwError).hint ?? "run 'make build'" };
  }
}

function checkFeatures(): Check {
  try {
    const want = probeFeatures();
    const missing = want.filter(([, ok]) => !ok).map(([n]) => n);
    return missing.length
      ? { name: 'bpf features', status: 'fail', detail: `the kernel cannot load: ${missing.join(', ')}` }
      : { name: 'bpf features', status: 'ok', detail: want.map(([n]) => n).join(', ') };
  } catch (e) {
    return { name: 'bpf features', status: 'fail', detail: (e as Error).message };
  }
}

/** The sized maps at their smallest: the check loads the programs, not a full table's room. */
const SMALL_MAPS: PipelineSettings = {
  ...DEFAULT_SETTINGS,
  ipv4Groups: 16,
  ipv6Nodes: 16,
  ruleBitmaps: 16,
  connections: 1024,
  flowEntries: 1024,
  serviceSlots: abi.PwLimit.LB_SLOTS_PER_ELEM * 16,
};

/**
 * Whether this kernel's verifier takes the pipeline, every entry point of it (XDP, trace,
 * replay, flush, TC) with the default features, loaded unpinned and closed at once. A kernel
 * may refuse one helper to a program type that others allow it (6.18.44-fc-v1300 refused
 * bpf_xdp_adjust_meta to XDP programs): nothing else would say so before the first attach.
 */
async function checkPipeline(): Promise<Check> {
  let xdp: BpfObject<typeof abi> | undefined;
  try {
    xdp = await loadXdpPipeline(SMALL_MAPS);
    const tc = await loadTcPipeline(xdp, SMALL_MAPS);
    // How near the verifier's instruction limit this kernel's verifier finds the largest.
    let counts: { p: string; insns: number }[];
    try {
      counts = [
        ...abi.programs.map((p) => ({ p, insns: verifiedInsns(xdp!.program(p)) })),
        { p: 'pw_tc', insns: verifiedInsns(tc.program('pw_tc')) },
      ];
    } finally {
      tc.close();
    }
    const most = counts.reduce((a, c) => (c.insns > a.insns ? c : a));
    const share = `${most.p} ${most.insns.toLocaleString('en')} of ${VERIFIER_INSN_LIMIT.toLocaleString('en')}`;
    return {
      name: 'pipeline',
      status: 'ok',
      detail: `the verifier takes ${counts.map((c) => c.p).join(', ')} (most instructions processed: ${share})`,
    };
  } catch (e) {
    return {
      name: 'pipeline',
      status: 'fail',
      detail: (e as Error).message,
      hint: existsSync(OBJECT_PATH) ? 'this kernel refuses part of the pipeline; report this line with `uname -r`' : "run 'make build'",
    };
  } finally {
    xdp?.close();
  }
}

/** The instructions the verifier processed for `prog`; the handle is closed. */
function verifiedInsns(prog: Program): number {
  try {
    return prog.info().verifiedInsns;
  } finally {
    prog.close();
  }
}

/** Driver (or virtual device kind) and state of every interface of this network namespace
 * (asked of the kernel: under --netns, sysfs would still show the host's). */
function linkDetails(): Map<string, { link: KernelLink; driver: string | null }> {
  const out = new Map<string, { link: KernelLink; driver: string | null }>();
  for (const l of kernelLinks()) {
    let driver = l.kind;
    if (!driver) {
      try {
        driver = basename(readlinkSync(join('/sys/class/net', l.name, 'device', 'driver')));
      } catch {
        driver = l.loopback ? 'loopback' : null;
      }
    }
    out.set(l.name, { link: l, driver });
  }
  return out;
}

function offloadsOf(name: string): Record<string, DeviceFeature> | null {
  try {
    return interfaceFeatures(name);
  } catch {
    return null; // a device without ethtool features: nothing to note
  }
}

export function listInterfaces(): string[] {
  return kernelLinks()
    .map((l) => l.name)
    .sort();
}

/** Each interface's report; `probeAll`: attach the probe to every one, hardware included. */
async function probeInterfaces(names: string[], canProbe: boolean, probeAll: boolean): Promise<InterfaceReport[]> {
  let obj: BpfObject | null = null;
  if (canProbe) {
    obj = await BpfObject.load(join(repoRoot, 'build', 'probe.bpf.o'), { spec: { maps: {}, rodata: {}, programs: ['pw_probe'] } });
  }
  try {
    const prog = obj?.program('pw_probe');
    const details = linkDetails();
    const declared = declaredXdpFeaturesIfKnown(); // null: native reported as unknown (-)
    return names.map((name) => {
      const ifindex = resolveIfindex(name);
      const state = queryXdp(ifindex);
      const d = details.get(name);
      const features = declared ? (declared.get(ifindex) ?? []) : null;
      const report: InterfaceReport = {
        name,
        ifindex,
        driver: d?.driver ?? null,
        operstate: d?.link.operstate ?? 'unknown',
        attached: state.mode ? { mode: state.mode, progId: state.progId } : null,
        xdpFeatures: features,
        modes: { native: { supported: null, how: null }, generic: { supported: null, how: null } },
        notes: [],
      };
      if (!prog || report.attached) return report;
      if (!probeAll && !(d && safeToProbe(d.link))) return { ...report, ...declaredModes(features, offloadsOf(name)) };
      for (const mode of ['native', 'generic'] as const) {
        try {
          attachXdp(prog, ifindex, { mode });
          detachXdp(ifindex, prog);
          report.modes[mode] = { supported: true, how: 'probed' };
        } catch (e) {
          report.modes[mode] = { supported: false, how: 'probed', error: (e as Error).message };
        }
      }
      return report;
    });
  } finally {
    obj?.close();
  }
}

export async function runDoctor(opts: { interfaces?: string[]; probe?: boolean } = {}): Promise<DoctorReport> {
  const checks = [checkKernel(), checkBtf(), checkCaps(), checkBpffs(), checkLibbpf()];
  const libbpfOk = checks.at(-1)!.status === 'ok';
  if (libbpfOk) checks.push(checkFeatures());
  // The interfaces are probed with a program of their own: a pipeline the kernel refuses
  // does not keep them from being probed.
  const basicsOk = checks.every((c) => c.status !== 'fail');
  if (libbpfOk && basicsOk) checks.push(await checkPipeline());
  const known = new Set(listInterfaces());
  for (const i of opts.interfaces ?? []) {
    if (!known.has(i))
      throw new PwError('PW_ERR_NOT_FOUND', `no interface named '${i}'`, { where: i, hint: `interfaces here: ${[...known].join(', ')}` });
  }
  const canProbe = basicsOk && existsSync(join(repoRoot, 'build', 'probe.bpf.o'));
  const interfaces = libbpfOk
    ? await probeInterfaces(opts.interfaces?.length ? opts.interfaces : [...known], canProbe, opts.probe ?? false)
    : [];
  // Only interfaces that were probed can have refused (none is when a basic check failed).
  const probed = interfaces.filter((i) => i.modes.generic.how === 'probed');
  if (probed.length && !probed.some((i) => i.modes.native.supported || i.modes.generic.supported)) {
    checks.push({
      name: 'xdp attach',
      status: 'fail',
      detail: 'no interface accepted an XDP program',
      hint: 'see the per-interface errors',
    });
  }
  return { ok: checks.every((c) => c.status !== 'fail'), checks, interfaces };
}
