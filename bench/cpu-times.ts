/** The CPUs' time as /proc/stat counts it, for the bench's steal and CPU-per-connection figures. */
import { readFileSync } from 'node:fs';

/** The unit of /proc/stat's times (sysconf(_SC_CLK_TCK), 100 on Linux's every architecture). */
export const USER_HZ = 100;

/**
 * The CPUs' time so far, in ticks, summed over all CPUs: all of it, what the hypervisor stole,
 * and the busy part (user, nice, system, irq, softirq: neither idle, iowait nor steal). Null
 * where /proc/stat cannot be read.
 */
export function cpuTimes(): { total: number; steal: number; busy: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    return {
      total: f.slice(0, 8).reduce((a, n) => a + n, 0),
      steal: f[7] ?? 0,
      busy: f[0]! + f[1]! + f[2]! + f[5]! + f[6]!,
    };
  } catch {
    return null;
  }
}

/** A process's CPU time so far (utime + stime from /proc/PID/stat), in seconds. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}
