import { join } from 'node:path';

import { repoRoot } from '../../src/bpf/index.js';

export const buildDir = join(repoRoot, 'build');
export const testObject = (name: string) => join(buildDir, 'test', `${name}.bpf.o`);
export const pipelineObject = join(buildDir, 'pathwise.bpf.o');
export const sharedData = join(repoRoot, '..', 'shared', 'data');
