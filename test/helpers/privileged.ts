/**
 * Gate for the privileged tiers (test/bpf, test/e2e). Not root: the tests are skipped with a
 * visible reason. With PATHWISE_REQUIRE_PRIVILEGED=1 (CI) a missing privilege is a failure.
 */
import { ensureBpffs } from '../../src/kernel/index.js';

export function privilegedSkip(): string | false {
  const root = process.getuid?.() === 0;
  if (root) {
    ensureBpffs();
    return false;
  }
  const reason = 'skipped: needs root (CAP_BPF, CAP_NET_ADMIN); run make test as root';
  if (process.env.PATHWISE_REQUIRE_PRIVILEGED === '1') {
    throw new Error(`PATHWISE_REQUIRE_PRIVILEGED=1 but this process is not root: ${reason}`);
  }
  return reason;
}
