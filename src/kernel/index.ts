/**
 * The kernel layer: the typed BPF binding (objects, maps, programs, attachment, ring buffers,
 * bpffs), rtnetlink, network namespaces and libpcap, all over the native addon. Higher layers
 * import from here; only this folder touches the addon.
 */
export * from './codec.js';
export * from './kernel-constants.js';
export { BpfObject, type ObjectSpec, type LoadOptions, type RodataSpec } from './object.js';
export { BpfMap, PerCpuMap, MappedArray, RawMap, checkLayout, openMapSet, type AnyMap } from './map.js';
export { Program, loadRawProgram, xdpMd, type TestRunOptions, type TestRunResult } from './program.js';
export {
  attachXdp,
  declaredXdpFeatures,
  declaredXdpFeaturesIfKnown,
  detachXdp,
  queryXdp,
  XDP_FEATURES,
  XdpLink,
  type XdpFeature,
  type XdpMode,
  type XdpModeRequest,
  type XdpAttachResult,
  type XdpState,
} from './xdp.js';
export { attachTc, detachTc, queryTc, TcAttachment, type TcPoint } from './tc.js';
export { RingBufferReader, type RingBufferOptions } from './ring-buffer.js';
export { ensureBpffs, isBpffsMounted, pinFd, openPinned, removePinDir, BPFFS_ROOT } from './bpffs.js';
export { native } from './native.js';
export { MAX_BPF_STACK, VERIFIER_INSN_LIMIT, type VerifierStats } from './verifier-stats.js';
export { inNetns, netnsPath, enterNetnsForProcess } from './netns.js';
export * from './netlink.js';
export * from './pcap.js';
export type { NativeFd, KernelMapInfo } from './native.js';
export { libraryVersions, probeFeatures } from './features.js';
export { interfaceFeatures, setInterfaceFeatures, type DeviceFeature } from './ethtool.js';
export {
  mapFdById,
  mapInfoOf,
  mapLayoutOf,
  objectMapLayouts,
  progFdById,
  progMapIds,
  sameLayout,
  type MapLayout,
  type TypeLayout,
} from './map-layout.js';
export { tryLockFile, type FileLock } from './file-lock.js';
export { kernelFibPrefixCounts } from './fib-stats.js';
export { PathProber, type ProbeKind, type ProbeTarget, type ProbeResult, type ProberStats } from './prober.js';
