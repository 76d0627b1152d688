/**
 * The kernel's own count of IPv4 prefixes per routing table, from /proc/net/fib_triestat (the
 * trie's statistics, per network namespace). A hint for sizing: a view about to read a full
 * table is sized for it at once instead of growing (and rehashing) as the parts arrive. When
 * the kernel merges the main and local tables (no policy rules), "Main" counts both.
 */
import { readFileSync } from 'node:fs';

const TABLE_OF: Record<string, number> = { Main: 254, Local: 255, Default: 253 };

/** Prefixes per table id, or an empty map when the file cannot be read. */
export function kernelFibPrefixCounts(): Map<number, number> {
  const out = new Map<number, number>();
  let text: string;
  try {
    // thread-self: the namespace of this thread (inNetns moves a thread, not the process).
    text = readFileSync('/proc/thread-self/net/fib_triestat', 'utf8');
  } catch {
    return out;
  }
  let table: number | null = null;
  for (const line of text.split('\n')) {
    const head = /^(Main|Local|Default|Id (\d+)):$/.exec(line);
    if (head) {
      table = head[2] ? Number(head[2]) : TABLE_OF[head[1]!]!;
      continue;
    }
    const m = /^\s+Prefixes:\s+(\d+)/.exec(line);
    if (m && table !== null) out.set(table, Number(m[1]));
  }
  return out;
}
