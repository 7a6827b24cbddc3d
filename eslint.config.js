'use strict';

const js = require('@eslint/js');
const globals = require('globals');

//
// The rules of ws's own config (@eslint/js recommended, plus these), for
// code that runs as written: CommonJS with 'use strict' (js/, tests,
// scripts, examples, bench), ES modules only for the ESM entry (.mjs).
//
const rules = {
  'no-console': 'off',
  'no-unused-vars': ['error', { caughtErrors: 'none' }],
  'no-var': 'error',
  'prefer-const': 'error'
};

module.exports = [
  {
    ignores: [
      '.libraries/',
      '.scratch/',
      '.node*/',
      'bench/.deps/',
      'bench/loadgen/target/',
      'bench/results/',
      'fuzz/',
      'node_modules/',
      'target/'
    ]
  },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      ecmaVersion: 'latest',
      globals: globals.node,
      sourceType: 'commonjs'
    },
    rules: { ...rules, strict: ['error', 'global'] }
  },
  {
    files: ['**/*.mjs'],
    languageOptions: {
      ecmaVersion: 'latest',
      globals: globals.node,
      sourceType: 'module'
    },
    rules
  }
];
