/**
 * The layering of src/, checked by `make lint-layers` (part of `make test`): the allowed arrows,
 * written once. docs/architecture.md explains the layers; a change that needs another arrow
 * changes this table and says why.
 *
 * Layers, bottom to top. A module may import:
 *   - anything in its own folder, Node's built-ins and npm packages;
 *   - values from the layers ALLOWED lists for it;
 *   - types (`import type`) from any layer below its own.
 * Nothing imports upward, and there are no import cycles (type-only imports aside).
 */
const LAYERS = {
  base: '^src/(util/|errors\\.ts$)',
  kernel: '^src/kernel/',
  generated: '^src/generated/',
  features: '^src/(routing|filter|insight|lb|gateway)/',
  dataplane: '^src/dataplane/',
  control: '^src/control/',
  ops: '^src/ops/',
  api: '^src/api/',
  client: '^src/client/',
  daemon: '^src/daemon/',
  cli: '^src/cli/',
  netlab: '^src/netlab/',
  demo: '^src/demo/',
};

/** Rank: a layer may take types from any layer of a lower rank. */
const RANK = {
  base: 0,
  netlab: 1,
  kernel: 1,
  generated: 2,
  features: 3,
  dataplane: 4,
  control: 5,
  ops: 6,
  api: 7,
  client: 7,
  daemon: 8,
  cli: 9,
  demo: 10,
};

/** Value imports each layer may make, besides its own folder and the base. */
const ALLOWED = {
  base: [],
  kernel: [],
  generated: ['kernel'],
  // Models and algorithms: no kernel, no maps. The ABI's codecs are pure data; the scans are
  // native code for speed, with no I/O (a full table's lines, a 64 MiB table's flagged words,
  // a Maglev table's walks).
  features: ['generated', 'features', '^src/kernel/(codec|scan)\\.ts$'],
  dataplane: ['kernel', 'generated', 'features'],
  control: ['dataplane', 'generated', 'features'],
  // The operations layer; of the kernel layer only the file and process facilities.
  ops: ['control', 'dataplane', 'generated', 'features', '^src/kernel/(pcap|netns)\\.ts$'],
  api: ['ops', 'control', 'generated', 'features'],
  client: ['ops', '^src/control/config/', 'features'],
  daemon: ['api', 'ops', 'control', 'dataplane', 'features'],
  // The CLI; of the kernel layer only the mapping of an input file.
  cli: ['client', 'ops', 'daemon', '^src/control/config/', 'generated', 'features', '^src/kernel/file-map\\.ts$'],
  netlab: [],
  demo: ['netlab', 'client', 'ops'],
};

const pathOf = (x) => LAYERS[x] ?? x;
const join = (xs) =>
  xs
    .map(pathOf)
    .map((p) => `(${p})`)
    .join('|');

const allowed = [
  // Node's built-ins and npm packages, from anywhere.
  { from: {}, to: { dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-no-pkg', 'npm-unknown'] } },
  // Within a folder (each folder of src/ is a unit), and the base from anywhere.
  { from: { path: '^src/([^/]+)/' }, to: { path: '^src/$1/' } },
  { from: { path: '^src/' }, to: { path: LAYERS.base } },
  ...Object.entries(ALLOWED)
    .filter(([, to]) => to.length)
    .map(([layer, to]) => ({ from: { path: LAYERS[layer] }, to: { path: join(to) } })),
  // Types from any layer below.
  ...Object.entries(RANK)
    .map(([layer, rank]) => {
      const below = Object.keys(RANK).filter((l) => RANK[l] < rank);
      return below.length ? { from: { path: LAYERS[layer] }, to: { path: join(below), dependencyTypes: ['type-only'] } } : null;
    })
    .filter(Boolean),
];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle makes two modules one; break it (a type-only cycle is tolerated).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'native-addon-only-from-kernel',
      comment: 'Only src/kernel/ touches the native addon (src/kernel/native.ts).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/kernel/' },
      to: { path: '^src/kernel/native\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that resolves to nothing.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  allowed,
  allowedSeverity: 'error',
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
