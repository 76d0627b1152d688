/** Where this checkout's build artifacts are (the BPF objects, the addon). */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: dist/src/util -> ../../.. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
