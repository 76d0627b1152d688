/** The typed BPF layer over the native binding. Higher layers import from here. */
export * from './codec.js';
export * from './kernel-constants.js';
export { BpfObject, type ObjectSpec, type LoadOptions, type RodataSpec } from './object.js';
export { BpfMap, PerCpuMap, MappedArray, checkLayout } from './map.js';
export { Program, xdpMd, type TestRunOptions, type TestRunResult } from './program.js';
export { attachXdp, detachXdp, queryXdp, resolveIfindex, XdpLink, type XdpMode, type XdpModeRequest, type XdpAttachResult, type XdpState } from './xdp.js';
export { attachTc, TcAttachment, type TcPoint } from './tc.js';
export { RingBufferReader, type RingBufferOptions } from './ring-buffer.js';
export { ensureBpffs, isBpffsMounted, pinFd, openPinned, removePinDir, BPFFS_ROOT } from './bpffs.js';
export { native, repoRoot } from './native.js';
export { inNetns, netnsPath, enterNetnsForProcess } from './netns.js';
