// Lint rules, including the import boundaries of the layers (see docs/development.md, "Layout").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const engineForbidden = [
  'graphql',
  'type-graphql',
  'graphql-scalars',
  '@apollo/*',
  'drizzle-orm',
  'drizzle-orm/*',
  'postgres',
  '@electric-sql/*',
  'dataloader',
  'pino',
  'zod',
  'node:*',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'drizzle/', '.data/', '.scratch/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-process-env': 'error',
    },
  },
  {
    // The merge engine is pure: plain data in, a plan out.
    files: ['src/identity/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: engineForbidden,
              message: 'the engine is pure: no SQL, GraphQL, I/O or runtime services',
            },
            {
              regex: '^\\.\\./(?!\\.\\./lib/)',
              message: 'the engine may import only from itself and src/lib',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'the caller passes configuration in' },
        { name: 'Buffer', message: 'the engine works on plain data' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'the caller passes the time in' },
        { object: 'Math', property: 'random', message: 'the caller passes an id factory in' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'the caller passes the time in',
        },
      ],
    },
  },
  {
    // Resolvers call services; they never reach the store or the database.
    files: ['src/identity/graphql/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/store/*-repository.js',
                '**/db/*',
                'drizzle-orm',
                'drizzle-orm/*',
                'postgres',
              ],
              message: 'resolvers go through a service',
            },
          ],
        },
      ],
    },
  },
  {
    // Small helpers with no ties to the rest of the gateway.
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../*', '!./*'], message: 'lib depends on nothing in the gateway' }],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      'no-process-env': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['*.js', '*.config.ts'],
    ...tseslint.configs.disableTypeChecked,
  },
);
