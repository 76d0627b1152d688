/** What this kernel and the libraries under the addon can do: versions and feature probes. */
import { MapType, ProgType } from './kernel-constants.js';
import { native } from './native.js';

/** libbpf's version, and libpcap's. Throws PW_ERR_NOT_BUILT when the addon is not built. */
export function libraryVersions(): { libbpf: string; libpcap: string } {
  const n = native();
  return { libbpf: n.libbpfVersion(), libpcap: n.pcapLibVersion() };
}

/** The BPF program and map types Pathwise needs, and whether this kernel loads each. */
export function probeFeatures(): [string, boolean][] {
  const n = native();
  return [
    ['XDP programs', n.probeProgType(ProgType.XDP)],
    ['TC programs', n.probeProgType(ProgType.SCHED_CLS)],
    ['ring buffers', n.probeMapType(MapType.RINGBUF)],
    ['LPM tries', n.probeMapType(MapType.LPM_TRIE)],
    ['devmaps', n.probeMapType(MapType.DEVMAP_HASH)],
  ];
}
