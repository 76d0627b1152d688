/** Numbers from the kernel's UAPI (linux/bpf.h, linux/if_link.h) that the binding passes through. */

export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  CPUMAP: 16,
  DEVMAP_HASH: 25,
  RINGBUF: 27,
} as const;

const PER_CPU_TYPES = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);
export const isPerCpuMapType = (t: number) => PER_CPU_TYPES.has(t);

export const mapTypeName = (t: number) =>
  Object.entries(MapType)
    .find(([, v]) => v === t)?.[0]
    .toLowerCase() ?? `type ${t}`;

export const ProgType = { XDP: 6, SCHED_CLS: 3 } as const;
/** enum bpf_attach_type values Pathwise uses. */
export const AttachType = { XDP: 37 } as const;

/** bpf_map_update_elem flags. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, LOCK: 4 } as const;

export const MapFlags = { NO_PREALLOC: 1, RDONLY_PROG: 1 << 7, MMAPABLE: 1 << 10 } as const;

/** XDP attach flags (linux/if_link.h). */
export const XdpFlags = {
  UPDATE_IF_NOEXIST: 1 << 0,
  SKB_MODE: 1 << 1,
  DRV_MODE: 1 << 2,
  HW_MODE: 1 << 3,
  REPLACE: 1 << 4,
} as const;

/** bpf_xdp_query attach_mode values. */
export const XdpAttached = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;

/** BPF_PROG_TEST_RUN flags. */
export const TestRunFlags = { RUN_ON_CPU: 1 << 0, XDP_LIVE_FRAMES: 1 << 1 } as const;

/** XDP return codes. */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export type XdpActionName = Lowercase<keyof typeof XdpAction>;
export const xdpActionName = (n: number): string =>
  (Object.entries(XdpAction)
    .find(([, v]) => v === n)?.[0]
    .toLowerCase() as XdpActionName | undefined) ?? `unknown(${n})`;
