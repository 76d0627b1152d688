// ESLint (flat config) for the TypeScript tree: typescript-eslint's recommended rules, with
// type information for the code the daemon runs (a promise nobody handles is how a timer or a
// socket handler takes a daemon down). Layering is dependency-cruiser's (.dependency-cruiser.cjs);
// formatting is Prettier's (.prettierrc.json).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Blocking child processes: the CLI's one-shot paths and the test labs may; nothing else. */
const noBlockingChildren = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        {
          name: 'node:child_process',
          importNames: ['spawnSync', 'execSync', 'execFileSync'],
          message:
            'blocks the event loop: the daemon must stay responsive. Use the kernel layer (netlink, the addon) or an async child process.',
        },
      ],
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'native/**', 'node_modules/**', '**/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Unused names are errors, except those marked as deliberately unused.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The generated codecs and the addon's signatures use `any` where types are open by design.
      '@typescript-eslint/no-explicit-any': 'off',
      // Assertions on values the code has just checked (map lookups in loops) read clearer than guards.
      '@typescript-eslint/no-non-null-assertion': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/netlab/**'],
    rules: noBlockingChildren,
  },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
);
