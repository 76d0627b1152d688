/**
 * The host's own addresses as routes, so Pathwise's FIB agrees with the kernel about what is
 * local and what is on-link: every address becomes a LOCAL host route (delivered to the
 * kernel), every subnet an address sits in becomes a directly connected route through its
 * interface. They are flagged SYSTEM; a route the user added for the same prefix wins.
 */
import { execFileSync } from 'node:child_process';

import { PwError } from '../errors.js';
import { formatPrefix, maskAddr, parseAddress, type Prefix } from '../util/ip.js';

interface IpAddrJson {
  ifname: string;
  flags?: string[];
  addr_info?: { family: 'inet' | 'inet6'; local: string; prefixlen: number; scope?: string }[];
}

export interface SystemRoute {
  prefix: Prefix;
  kind: 'local' | 'connected';
  dev: string;
}

/** Reads `ip -j addr` (in this process's network namespace) and derives the system routes. */
export function readSystemRoutes(): SystemRoute[] {
  let links: IpAddrJson[];
  try {
    links = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (e) {
    throw new PwError('PW_ERR_KERNEL', `cannot read the host's addresses with 'ip -j addr': ${(e as Error).message}`);
  }
  const out = new Map<string, SystemRoute>();
  for (const link of links) {
    for (const a of link.addr_info ?? []) {
      if (a.scope === 'link') continue; // link-local: never routed (the pipeline passes them)
      const addr = parseAddress(a.local);
      const max = addr.family === 4 ? 32 : 128;
      const host: Prefix = { family: addr.family, addr: addr.addr, v4: addr.v4, plen: max };
      out.set(formatPrefix(host), { prefix: host, kind: 'local', dev: link.ifname });
      if (a.prefixlen >= max) continue;
      const net = maskAddr(addr.addr, a.prefixlen);
      const netPrefix: Prefix = {
        family: addr.family,
        addr: net,
        plen: a.prefixlen,
        v4: addr.family === 4 ? ((net[0]! << 24) | (net[1]! << 16) | (net[2]! << 8) | net[3]!) >>> 0 : 0,
      };
      const key = formatPrefix(netPrefix);
      // As the kernel does (fib_add_ifaddr), a subnet on a loopback device is local as a
      // whole: 127.0.0.1/8 on lo makes all of 127.0.0.0/8 local.
      const kind = link.flags?.includes('LOOPBACK') ? 'local' : 'connected';
      if (!out.has(key) || kind === 'local') out.set(key, { prefix: netPrefix, kind, dev: link.ifname });
    }
  }
  return [...out.values()];
}
