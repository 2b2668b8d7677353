import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const TIMERS = [
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
];
const TIMER_MESSAGE =
  'Timers go through the injected clock (a TimerClock option, default systemTimerClock) so tests can run them on a fake clock; only src/clock.ts touches the global timers.';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'bench/results/**',
      // TypeDoc's output (`npm run docs`), generated and never committed.
      'docs/api/**',
      // Trees for scripts/check-imports.mjs: cycles and layer violations on purpose.
      'test/fixtures/imports/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Library code: time through the injected clock, errors from src/errors.ts.
    files: ['src/**/*.ts'],
    ignores: ['src/clock.ts'],
    rules: {
      'no-restricted-globals': ['error', ...TIMERS.map((name) => ({ name, message: TIMER_MESSAGE }))],
      'no-restricted-properties': [
        'error',
        ...['globalThis', 'global'].flatMap((object) =>
          TIMERS.map((property) => ({ object, property, message: TIMER_MESSAGE })),
        ),
      ],
      'no-restricted-imports': [
        'error',
        ...['timers', 'node:timers', 'timers/promises', 'node:timers/promises'].map((name) => ({
          name,
          message: TIMER_MESSAGE,
        })),
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ThrowStatement > NewExpression[callee.name='Error']",
          message:
            'Throw a BridgeError subclass from src/errors.ts (stable code, cause chaining); wrap unknown failures with toBridgeError (INTERNAL).',
        },
        {
          selector: "ThrowStatement > CallExpression[callee.name='Error']",
          message:
            'Throw a BridgeError subclass from src/errors.ts (stable code, cause chaining); wrap unknown failures with toBridgeError (INTERNAL).',
        },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
