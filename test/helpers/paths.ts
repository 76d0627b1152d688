import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { repoRoot } from '../../src/util/paths.js';

export const buildDir = join(repoRoot, 'build');
export const testObject = (name: string) => join(buildDir, 'test', `${name}.bpf.o`);
export const pipelineObject = join(buildDir, 'pathwise.bpf.o');
export const tcPipelineObject = join(buildDir, 'pathwise-tc.bpf.o');

/** The project's shared data (real BGP prefixes, captures): shared/ beside the repository, as
 * CI lays it out, or PATHWISE_SHARED_DATA. */
export const sharedData = process.env.PATHWISE_SHARED_DATA ?? join(repoRoot, '..', 'shared', 'data');
if (!existsSync(sharedData)) {
  throw new Error(`shared data not found at ${sharedData}: put shared/ beside the repository or set PATHWISE_SHARED_DATA`);
}
