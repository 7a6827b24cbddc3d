'use strict';

//
// Runs the test suites of libraries built on ws twice, once with the real
// `ws` and once with `ws` replaced by ws-native (an npm `overrides` entry,
// as a user would swap it in), and prints the pass/fail counts of each run
// and the tests whose outcome differs.
//
//   npm run test:libraries -- [--source name=/path/to/checkout]...
//     [--only name,name] [--timeout seconds] [--reruns n] [--json file]
//
// --timeout bounds each run of a suite (600 s); --reruns (1) is how many
// more times both runs of a library go when their outcomes differ.
//
// Each library is installed from the npm registry into the git-ignored
// .libraries/<library>/<ws|ws-native>/, with the test dependencies it needs.
// Where its tests come from:
//
// - @fastify/websocket ships them in its npm package.
// - express-ws has no tests anywhere: scripts/library-suites/express-ws.test.js
//   stands in for them.
// - engine.io, socket.io, socket.io-adapter and graphql-ws ship none: give a
//   checkout of their repository with --source (for the socket.io monorepo,
//   `--source socket.io=/path` serves engine.io and socket.io-adapter too).
//   The npm version installed is the one in the checkout's package.json, so
//   the tests match the code; graphql-ws's tests import its TypeScript
//   sources, so they run on the checkout's src/.
//   The suites it could not get are listed, with what to pass.
//
// The exit code is 1 when a test that passes with ws fails with ws-native
// (and is not in KNOWN below), or when a suite could not be installed or
// `ws` did not resolve to the intended package.
//

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const WORK = path.join(ROOT, '.libraries');
const HERE = path.join(__dirname, 'library-suites');

// uWebSockets.js is not on npm; the test helpers of socket.io and graphql-ws
// import it at the top, so every test would fail without it. The same build
// the benchmark uses.
const UWS = 'npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';

/**
 * The libraries. `tests` says where the test files come from: 'package'
 * (the npm tarball), 'here' (scripts/library-suites/), or 'source' (a
 * checkout: `dir` is the library's folder in it, `monorepo` the name of the
 * --source that also serves it).
 */
const LIBRARIES = [
  {
    name: 'engine.io',
    tests: 'source',
    monorepo: 'socket.io',
    dir: 'packages/engine.io',
    copy: ['test'],
    // The monorepo's root package.json has the versions.
    devDependencies: [
      'cookie',
      'engine.io-client-v3',
      'expect.js',
      'express-session',
      'helmet',
      'mocha',
      'superagent'
    ],
    extraDependencies: (src) => ({
      'engine.io-client': siblingVersion(src, 'engine.io-client', '~6.6.0')
    }),
    runner: 'mocha',
    // webtransport.mjs needs an HTTP/3 native module and no ws.
    files: ['test/server.js', 'test/engine.io.js', 'test/middlewares.js', 'test/parser.js'],
    args: ['--timeout', '10000']
  },
  {
    name: 'socket.io',
    tests: 'source',
    monorepo: 'socket.io',
    dir: 'packages/socket.io',
    copy: ['test'],
    devDependencies: ['expect.js', 'mocha', 'socket.io-client-v2', 'superagent', 'supertest', 'tsx'],
    extraDependencies: (src, version) => ({
      'socket.io-client': version,
      'uWebSockets.js': UWS
    }),
    runner: 'mocha',
    node: ['--import', 'tsx'],
    files: ['test/index.ts'],
    args: ['--timeout', '10000', '--slow', '200']
  },
  {
    name: 'socket.io-adapter',
    tests: 'source',
    monorepo: 'socket.io',
    dir: 'packages/socket.io-adapter',
    // Its tests import its TypeScript sources (../lib).
    copy: ['lib', 'test'],
    devDependencies: ['expect.js', 'mocha', 'tsx'],
    extraDependencies: (src) => ({
      'socket.io': siblingVersion(src, 'socket.io', '^4.8.0'),
      'socket.io-client': siblingVersion(src, 'socket.io-client', '^4.8.0')
    }),
    runner: 'mocha',
    node: ['--import', 'tsx'],
    files: ['test/index.ts', 'test/cluster-adapter.ts']
  },
  {
    name: 'graphql-ws',
    tests: 'source',
    dir: '.',
    // Its tests import its TypeScript sources: the checkout is the package.
    fromSource: true,
    copy: ['src', 'tests', 'tsconfig.json', 'vitest.config.ts', 'vitest.config.mts'],
    devDependencies: [
      '@fastify/websocket',
      '@tsconfig/strictest',
      'crossws',
      'fastify',
      'graphql',
      'jsdom',
      'vitest',
      'ws'
    ],
    extraDependencies: () => ({ 'uWebSockets.js': UWS }),
    runner: 'vitest'
  },
  {
    name: '@fastify/websocket',
    version: '11.3.7',
    tests: 'package',
    // The rest of its devDependencies are for lint, coverage and types.
    devDependencies: ['fastify', 'split2'],
    runner: 'node-test',
    files: ['test/*.test.js']
  },
  {
    name: 'express-ws',
    version: '5.0.2',
    tests: 'here',
    copy: ['express-ws.test.js'],
    extraDependencies: () => ({ express: '5.3.0' }),
    runner: 'node-test',
    files: ['test/*.test.js']
  }
];

//
// Tests that pass with ws and fail with ws-native for a reason that is not
// a difference a user can hit (README.md, "The test suites of libraries
// built on `ws`", says why for each):
// they do not fail the run. Keyed by library, then by the test's full name.
//
const KNOWN = {};

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(WORK, { recursive: true });

  const selected = LIBRARIES.filter((lib) => !opts.only || opts.only.includes(lib.name));
  const wsNative = stageWsNative();
  const transport = process.env.WS_NATIVE_TRANSPORT === 'stream' ? 'stream' : 'native';
  console.log(`ws-native: ${wsNative.spec} (${transport} transport)`);

  const rows = [];
  for (const lib of selected) {
    const row = { name: lib.name };
    rows.push(row);
    try {
      await runLibrary(lib, opts, wsNative, row);
    } catch (err) {
      row.error = err.message;
      console.log(`\n!! ${lib.name}: ${err.message}`);
    }
  }

  const failed = report(rows);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(rows, null, 2) + '\n');
  process.exitCode = failed ? 1 : 0;
}

/**
 * Installs one library twice and runs its suite on each install.
 */
async function runLibrary(lib, opts, wsNative, row) {
  const source = findSource(lib, opts.sources);
  if (lib.tests === 'source' && !source) {
    row.skipped =
      `its npm package has no tests: pass --source ${lib.monorepo || lib.name}=` +
      `/path/to/a/checkout of ${repository(lib)}`;
    console.log(`\n== ${lib.name}: not run (${row.skipped})`);
    return;
  }

  const sourceManifest = source ? readJson(path.join(source, 'package.json')) : null;
  const version = sourceManifest ? sourceManifest.version : lib.version;
  row.version = version;
  row.tests =
    lib.tests === 'package'
      ? 'npm package'
      : lib.tests === 'here'
        ? 'scripts/library-suites/'
        : `checkout (${source})`;
  console.log(`\n== ${lib.name}@${version}, tests from ${row.tests}`);

  const id = lib.name.replace(/^@/, '').replace(/\//g, '-');
  const tarball = lib.fromSource ? null : packFromRegistry(lib.name, version);

  for (const variant of ['ws', 'ws-native']) {
    const dir = path.join(WORK, id, variant);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });

    prepare(lib, dir, tarball, source, variant === 'ws-native' ? wsNative.spec : null);
    install(dir);
    row[variant] = { ws: checkWs(lib, dir, variant) };
    console.log(`   ${variant}: require('ws') from ${lib.name} -> ${row[variant].ws}`);

    row[variant].dir = dir;
    Object.assign(row[variant], await runOnce(lib, row[variant], variant, opts));
  }

  //
  // Timing-dependent tests fail now and then with either: when the two runs
  // differ, both suites run again, and a test whose outcome changes from
  // one run to the next is reported as flaky, not as a difference.
  //
  for (let i = 0; i < opts.reruns && differing(row).length; i++) {
    console.log(`   ${differing(row).length} differ: running both again`);
    for (const variant of ['ws', 'ws-native']) {
      const again = await runOnce(lib, row[variant], variant, opts);
      row[variant].tests = merge(row[variant].tests, again.tests);
      row[variant].timedOut = row[variant].timedOut || again.timedOut;
    }
  }
}

async function runOnce(lib, run, variant, opts) {
  const result = await runSuite(lib, run.dir, opts.timeout);
  console.log(
    `   ${variant}: ${count(result.tests, 'pass')} passed, ` +
      `${count(result.tests, 'fail')} failed, ${count(result.tests, 'skip')} skipped` +
      (result.timedOut ? ' (timed out)' : '') +
      ` in ${result.seconds} s (log: ${path.relative(ROOT, result.log)})`
  );
  return result;
}

/**
 * The outcomes of two runs of a suite: a test that passed in one and failed
 * (or did not run) in the other is flaky.
 */
function merge(a, b) {
  const out = {};
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[name];
    const y = b[name];
    out[name] =
      status(x) === status(y) ? x : { status: 'flaky', error: (x && x.error) || (y && y.error) };
  }
  return out;
}

/**
 * The tests whose outcome is not the same with ws and with ws-native (flaky
 * ones aside).
 */
function differing(row) {
  const a = row.ws.tests;
  const b = row['ws-native'].tests;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (n) => status(a[n]) !== status(b[n]) && status(a[n]) !== 'flaky' && status(b[n]) !== 'flaky'
  );
}

/**
 * A copy of ws-native as npm would install it (the package's files plus the
 * addon this checkout built), packed so that each install gets its own copy.
 */
function stageWsNative() {
  const addon = path.join(ROOT, 'js', 'ws-native.node');
  if (!fs.existsSync(addon)) {
    throw new Error('js/ws-native.node is missing: run `npm install` first');
  }

  const stage = path.join(WORK, 'ws-native', 'package');
  fs.rmSync(path.dirname(stage), { recursive: true, force: true });
  fs.mkdirSync(path.join(stage, 'js'), { recursive: true });

  const manifest = readJson(path.join(ROOT, 'package.json'));
  for (const file of fs.readdirSync(path.join(ROOT, 'js'))) {
    if (/\.(js|mjs|node)$/.test(file)) {
      fs.copyFileSync(path.join(ROOT, 'js', file), path.join(stage, 'js', file));
    }
  }
  fs.cpSync(path.join(ROOT, 'js', 'transport'), path.join(stage, 'js', 'transport'), {
    recursive: true
  });
  for (const file of ['index.d.ts', 'index.d.mts', 'redis.d.ts', 'README.md']) {
    fs.copyFileSync(path.join(ROOT, file), path.join(stage, file));
  }
  // Built already: no install script, no build sources.
  const staged = { ...manifest };
  for (const key of ['scripts', 'devDependencies', 'files']) delete staged[key];
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(staged, null, 2) + '\n');

  const out = npm(['pack', '--silent', '--pack-destination', path.dirname(stage)], stage);
  const file = path.join(path.dirname(stage), out.trim().split('\n').pop());
  return { spec: `file:${file}`, version: manifest.version };
}

/**
 * Downloads a library's tarball once (cached in .libraries/tarballs/).
 */
function packFromRegistry(name, version) {
  const dir = path.join(WORK, 'tarballs');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name.replace(/^@/, '').replace(/\//g, '-')}-${version}.tgz`);
  if (!fs.existsSync(file)) {
    const out = npm(['pack', '--silent', `${name}@${version}`, '--pack-destination', dir], dir);
    fs.renameSync(path.join(dir, out.trim().split('\n').pop()), file);
  }
  return file;
}

/**
 * Lays out the project a suite runs in: the library's npm package (or its
 * checkout) as the root, its tests, and a package.json whose dependencies
 * are the library's plus the tests', with `ws` overridden when `override`
 * is given.
 */
function prepare(lib, dir, tarball, source, override) {
  let manifest;
  if (tarball) {
    run('tar', ['xzf', tarball, '-C', dir, '--strip-components=1'], dir);
    manifest = readJson(path.join(dir, 'package.json'));
  } else {
    manifest = readJson(path.join(source, 'package.json'));
  }

  const from = lib.tests === 'here' ? HERE : source;
  for (const entry of lib.copy || []) {
    const src = path.join(from, entry);
    if (!fs.existsSync(src)) continue;
    const dest = lib.tests === 'here' ? path.join(dir, 'test', entry) : path.join(dir, entry);
    fs.cpSync(src, dest, { recursive: true });
  }

  const wanted = {};
  const known = {
    ...(source && monorepoRoot(lib, source) ? readJson(monorepoRoot(lib, source)).devDependencies : {}),
    ...manifest.devDependencies
  };
  for (const name of lib.devDependencies || []) {
    if (!known[name]) throw new Error(`no version of ${name} in its package.json`);
    wanted[name] = known[name];
  }
  Object.assign(wanted, lib.extraDependencies ? lib.extraDependencies(source, manifest.version) : {});

  const pkg = {
    name: `library-suite-${manifest.name.replace(/^@/, '').replace(/\//g, '-')}`,
    version: manifest.version,
    private: true,
    main: manifest.main,
    exports: manifest.exports,
    type: manifest.type,
    dependencies: { ...manifest.dependencies, ...wanted }
  };
  if (override) {
    pkg.overrides = { ws: override };
    // npm refuses an override that contradicts a direct dependency.
    if (pkg.dependencies.ws) pkg.dependencies.ws = override;
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
}

function install(dir) {
  // No install scripts: ws-native comes built, and nothing the suites need
  // builds anything. Peer dependencies are in the list already.
  npm(
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--ignore-scripts',
      '--legacy-peer-deps',
      '--loglevel=error'
    ],
    dir,
    { stdio: ['ignore', 'ignore', 'inherit'] }
  );
}

/**
 * Where `require('ws')` from inside the library lands, and every copy of a
 * package named ws in the install: with ws-native, each must be ws-native.
 */
function checkWs(lib, dir, variant) {
  const from = lib.fromSource ? path.join(dir, 'src') : dir;
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      'const p = require.resolve("ws", { paths: [process.argv[1]] });' +
        'const fs = require("fs"), path = require("path");' +
        'let d = path.dirname(p);' +
        'while (!fs.existsSync(path.join(d, "package.json"))) d = path.dirname(d);' +
        'const m = require(path.join(d, "package.json"));' +
        'console.log(`${m.name}@${m.version} (${path.relative(process.cwd(), p)})`);',
      from
    ],
    { cwd: dir, encoding: 'utf8' }
  );
  if (probe.status !== 0) throw new Error(`require('ws') fails: ${probe.stderr}`);
  const resolved = probe.stdout.trim();

  const copies = findPackages(path.join(dir, 'node_modules'), 'ws');
  const wrong = copies.filter((m) => (variant === 'ws-native') !== (m.name === 'ws-native'));
  if (!resolved.startsWith(variant === 'ws-native' ? 'ws-native@' : 'ws@') || wrong.length) {
    throw new Error(
      `ws is not ${variant} everywhere: ${resolved}; ` +
        wrong.map((m) => `${m.name}@${m.version} in ${m.dir}`).join(', ')
    );
  }
  const others = copies.length > 1 ? ` (${copies.length} copies)` : '';
  return resolved + others;
}

function findPackages(modules, wanted, found = [], scope = '') {
  if (!fs.existsSync(modules)) return found;
  for (const entry of fs.readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    const dir = path.join(modules, entry);
    if (!scope && entry.startsWith('@')) {
      findPackages(dir, wanted, found, entry + '/');
      continue;
    }
    if (scope + entry === wanted && fs.existsSync(path.join(dir, 'package.json'))) {
      const m = readJson(path.join(dir, 'package.json'));
      found.push({ name: m.name, version: m.version, dir });
    }
    findPackages(path.join(dir, 'node_modules'), wanted, found);
  }
  return found;
}

/**
 * Runs a suite with a time limit, killing its whole process group past it.
 * Resolves with the outcome of each test, by full name.
 */
function runSuite(lib, dir, timeout) {
  const out = path.join(dir, 'results.json');
  const log = path.join(dir, 'suite.log');
  fs.rmSync(out, { force: true });

  const files = (lib.files || []).flatMap((f) => glob(dir, f));
  let args;
  if (lib.runner === 'mocha') {
    args = [
      ...(lib.node || []),
      'node_modules/mocha/bin/mocha.js',
      '--reporter',
      'json',
      '--reporter-option',
      `output=${out}`,
      '--exit',
      ...(lib.args || []),
      ...files
    ];
  } else if (lib.runner === 'vitest') {
    args = [
      'node_modules/vitest/vitest.mjs',
      'run',
      '--reporter=json',
      `--outputFile=${out}`,
      ...(lib.args || [])
    ];
  } else {
    args = [
      '--test',
      `--test-reporter=${path.join(HERE, 'node-test-reporter.mjs')}`,
      `--test-reporter-destination=${out}`,
      ...files
    ];
  }

  const started = Date.now();
  const fd = fs.openSync(log, 'w');
  const child = spawn(process.execPath, args, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' }
  });
  fs.closeSync(fd);

  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }, timeout * 1000);

    child.on('exit', () => {
      clearTimeout(timer);
      // Children it left behind (servers of a test that failed).
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // None.
      }
      resolve({
        tests: parseResults(lib.runner, out),
        timedOut,
        seconds: Math.round((Date.now() - started) / 1000),
        log
      });
    });
  });
}

/**
 * Reads a runner's results as { 'full test name': { status, error } }.
 */
function parseResults(runner, file) {
  const tests = {};
  if (!fs.existsSync(file)) return tests;
  const text = fs.readFileSync(file, 'utf8');
  const add = (name, status, error) => {
    // Same name twice (a test in a loop): keep both apart.
    let key = name;
    for (let i = 2; tests[key]; i++) key = `${name} #${i}`;
    tests[key] = error ? { status, error: String(error).slice(0, 500) } : { status };
  };

  if (runner === 'node-test') {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const { name, status, error } = JSON.parse(line);
      add(name, status, error);
    }
    return tests;
  }

  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return tests;
  }
  if (runner === 'mocha') {
    // Failures include failed hooks ('"before each" hook for ...').
    for (const t of data.passes) add(t.fullTitle, 'pass');
    for (const t of data.pending) add(t.fullTitle, 'skip');
    for (const t of data.failures) add(t.fullTitle, 'fail', t.err && t.err.message);
    return tests;
  }
  // vitest
  for (const file of data.testResults) {
    const base = path.basename(file.name);
    if (!file.assertionResults.length && file.status === 'failed') {
      add(`${base} (file)`, 'fail', file.message);
    }
    for (const t of file.assertionResults) {
      const status = t.status === 'passed' ? 'pass' : t.status === 'failed' ? 'fail' : 'skip';
      add(`${base} > ${t.fullName}`, status, t.failureMessages && t.failureMessages[0]);
    }
  }
  return tests;
}

/**
 * Prints the table and the differing tests. Returns true when the run
 * failed: a test that passes with ws fails with ws-native and is not known,
 * or a suite could not run.
 */
function report(rows) {
  let failed = false;
  const table = [['library', 'version', 'tests from', 'ws', 'ws-native', 'differences']];
  const details = [];

  for (const row of rows) {
    if (row.skipped || row.error) {
      table.push([row.name, row.version || '', row.tests || '', 'not run', 'not run', '']);
      if (row.error) failed = true;
      continue;
    }
    const a = row.ws.tests;
    const b = row['ws-native'].tests;
    const diff = differing(row);
    const flaky = Object.keys({ ...a, ...b }).filter(
      (n) => status(a[n]) === 'flaky' || status(b[n]) === 'flaky'
    );
    const known = KNOWN[row.name] || {};
    const unexplained = diff.filter((n) => status(a[n]) === 'pass' && !known[n]);
    if (unexplained.length || row.ws.timedOut || row['ws-native'].timedOut) failed = true;

    row.flaky = flaky.map((n) => ({ test: n, ws: status(a[n]), 'ws-native': status(b[n]) }));
    row.differences = diff.map((n) => ({
      test: n,
      ws: status(a[n]),
      'ws-native': status(b[n]),
      error: (b[n] && b[n].error) || (a[n] && a[n].error),
      known: known[n]
    }));
    table.push([
      row.name,
      row.version,
      row.tests.startsWith('checkout') ? 'checkout' : row.tests,
      summary(row.ws),
      summary(row['ws-native']),
      String(diff.length) + (flaky.length ? ` (${flaky.length} flaky)` : '')
    ]);
    for (const f of row.flaky) {
      details.push(`${row.name}: ${f.test}\n    flaky (ws: ${f.ws}, ws-native: ${f['ws-native']})`);
    }
    for (const d of row.differences) {
      details.push(
        `${row.name}: ${d.test}\n    ws: ${d.ws}, ws-native: ${d['ws-native']}` +
          (d.known ? ` (known: ${d.known})` : '') +
          (d.error ? `\n    ${d.error.split('\n')[0]}` : '')
      );
    }
  }

  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  console.log('');
  for (const [i, r] of table.entries()) {
    console.log(r.map((c, j) => c.padEnd(widths[j])).join('  ').trimEnd());
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const notRun = rows.filter((r) => r.skipped || r.error);
  for (const r of notRun) console.log(`\n${r.name} not run: ${r.skipped || r.error}`);
  if (details.length) {
    console.log('\nTests whose outcome differs, or changes between runs:\n' + details.join('\n'));
  }
  return failed;
}

function status(t) {
  return t ? t.status : 'missing';
}

function summary(run) {
  let text = `${count(run.tests, 'pass')} passed, ${count(run.tests, 'fail')} failed`;
  if (count(run.tests, 'flaky')) text += `, ${count(run.tests, 'flaky')} flaky`;
  return run.timedOut ? text + ' (timed out)' : text;
}

function count(tests, wanted) {
  return Object.values(tests).filter((t) => t.status === wanted).length;
}

//
// Helpers.
//

function parseArgs(argv) {
  const opts = { sources: {}, timeout: 600, only: null, json: null, reruns: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--source') {
      const [name, dir] = splitOnce(value(), '=');
      if (!dir) usage('--source takes name=/path');
      opts.sources[name] = path.resolve(dir);
    } else if (arg === '--only') {
      opts.only = value().split(',');
    } else if (arg === '--timeout') {
      opts.timeout = Number(value());
    } else if (arg === '--reruns') {
      opts.reruns = Number(value());
    } else if (arg === '--json') {
      opts.json = path.resolve(value());
    } else if (arg === '--help' || arg === '-h') {
      usage();
    } else {
      usage(`unknown argument ${arg}`);
    }
  }
  return opts;
}

function usage(problem) {
  if (problem) console.error(problem);
  console.error(
    'usage: node scripts/library-suites.js [--source name=/path]... ' +
      '[--only name,name] [--timeout seconds] [--reruns n] [--json file]\n' +
      'libraries: ' +
      LIBRARIES.map((l) => l.name).join(', ')
  );
  process.exit(problem ? 2 : 0);
}

function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i === -1 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}

/**
 * The library's folder in the checkout given for it (or for its monorepo).
 */
function findSource(lib, sources) {
  const given = sources[lib.name] || (lib.monorepo && sources[lib.monorepo]);
  if (!given) return null;
  for (const dir of [path.join(given, lib.dir || '.'), given]) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && readJson(manifest).name === lib.name) return dir;
  }
  throw new Error(`no package ${lib.name} in ${given}`);
}

function monorepoRoot(lib, source) {
  if (!lib.monorepo) return null;
  const file = path.join(source, '..', '..', 'package.json');
  return fs.existsSync(file) ? file : null;
}

function siblingVersion(source, name, fallback) {
  const file = path.join(source, '..', name, 'package.json');
  return fs.existsSync(file) ? readJson(file).version : fallback;
}

function repository(lib) {
  const urls = {
    'engine.io': 'socketio/socket.io on GitHub (packages/engine.io)',
    'socket.io': 'socketio/socket.io on GitHub (packages/socket.io)',
    'socket.io-adapter': 'socketio/socket.io on GitHub (packages/socket.io-adapter)',
    'graphql-ws': 'enisdenjo/graphql-ws on GitHub'
  };
  return urls[lib.name] || lib.name;
}

function glob(dir, pattern) {
  if (!pattern.includes('*')) return fs.existsSync(path.join(dir, pattern)) ? [pattern] : [];
  const folder = path.dirname(pattern);
  const re = new RegExp(
    '^' +
      path
        .basename(pattern)
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*') +
      '$'
  );
  return fs
    .readdirSync(path.join(dir, folder))
    .filter((f) => re.test(f))
    .sort()
    .map((f) => path.join(folder, f));
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function npm(args, cwd, options = {}) {
  const res = spawnSync(os.platform() === 'win32' ? 'npm.cmd' : 'npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: options.stdio || ['ignore', 'pipe', 'inherit']
  });
  if (res.status !== 0) throw new Error(`npm ${args.join(' ')} failed in ${cwd}`);
  return res.stdout || '';
}

function run(cmd, args, cwd) {
  const res = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
}

main();
