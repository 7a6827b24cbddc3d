#!/usr/bin/env node
'use strict';

//
// `npm run bench`: ws-native against ws (and uWebSockets.js when it loads),
// driven by the Rust load generator in bench/loadgen. Every test runs each
// server in turn, round after round (ABCABC..., the order rotated each
// round), each server a fresh process pinned to its own CPU, the generator
// pinned to another. Prints medians: raw figures, ratios to ws, and ratios
// per server CPU-second (the stable figure on a noisy machine), latency at
// 1 connection x 1 in flight, memory per idle connection (without and with
// permessage-deflate), and the generator's ceiling against a minimal Rust server (`loadgen serve`).
//
// Run `node bench/run.js --help` for the options.
//

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { LOADGEN, buildLoadgen, median } = require('./common');

const ROOT = path.join(__dirname, '..');
const DEPS = path.join(__dirname, '.deps');
const UWS_PKG = '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';

const help = () => `Usage: npm run bench [-- options]    (or node bench/run.js [options])

  --quick              short run (about a minute): 0.4 s per cell, 1000 idle conns
  --rounds N           rounds per test (default 3; the median is reported)
  --duration S         measured seconds per cell (default 2.5, quick 0.4)
  --warmup S           unmeasured seconds before (default 0.5, quick 0.2)
  --tests LIST         comma-separated, from: ${Object.keys(TESTS).join(',')}
  --servers LIST       comma-separated, from: ws-native,ws-native-serve,ws,uws,bun
                       (default all; bun when installed), and ws-native-stream
                       (ws-native on its stream transport)
  --idle-conns N       connections for the idle test (default 2000, quick 1000)
  --settle S           idle test: also read the server's RSS after S seconds
                       left idle (default 20, quick 0: not read), when V8 has
                       given back the young generation the burst of
                       handshakes grew
  --deflate-conns N    connections for the idle-deflate tests (default 500,
                       quick 250: about 350 KB each with context takeover)
  --no-ceiling         skip the generator's ceiling (loadgen serve)
  --no-pin             do not pin with taskset
  --no-install         do not try to install uWebSockets.js into bench/.deps
  --out FILE           also write every cell's raw JSON to FILE
  --verbose            print every cell's figures as they come
`;

//
// The matrix. `goal` is the target ratio per server CPU-second
// against ws (for idle: bytes per connection, at most).
//
const TESTS = {
  echo64: {
    title: 'echo 64 B binary, 64 conns x 16 in flight',
    args: ['echo', '--conns', '64', '--inflight', '16', '--size', '64'],
    unit: 'msg/s',
    goal: 12
  },
  echo16k: {
    title: 'echo 16 KiB binary, 16 conns x 4 in flight',
    args: ['echo', '--conns', '16', '--inflight', '4', '--size', '16384'],
    unit: 'msg/s',
    goal: 7.5
  },
  broadcast: {
    title: 'broadcast 64 B to 1000 clients (4 in flight)',
    args: ['broadcast', '--conns', '1000', '--inflight', '4'],
    unit: 'deliveries/s',
    goal: 6
  },
  publish: {
    title: 'publish 64 B to 1000 subscribers (4 in flight)',
    args: ['broadcast', '--conns', '1000', '--inflight', '4'],
    // ws-native: every connection subscribes to a topic and "!B" is
    // `wss.publish()`; ws has no topics (its row is the same as broadcast's),
    // uWebSockets.js publishes in both rows.
    env: { BENCH_BROADCAST: 'publish' },
    unit: 'deliveries/s',
    goal: 6
  },
  connect: {
    title: 'connect: upgrade + close handshake, 16 at once',
    args: ['connect', '--conns', '16'],
    unit: 'conn/s',
    goal: 5
  },
  latency: {
    title: 'latency: echo 64 B binary, 1 conn x 1 in flight',
    args: ['echo', '--conns', '1', '--inflight', '1', '--size', '64'],
    unit: 'msg/s'
  },
  idle: {
    title: 'memory per idle connection',
    args: ['idle'],
    unit: 'B/conn',
    goal: 2 * 1024,
    idle: true,
    settle: true
  },
  //
  // permessage-deflate on (BENCH_DEFLATE, see servers/ws-app.js); every
  // connection has sent one compressed message and got its compressed
  // echo, so the server holds what it keeps between messages.
  //
  'idle-deflate': {
    title: 'memory per idle connection, permessage-deflate (context takeover)',
    args: ['idle', '--deflate'],
    env: { BENCH_DEFLATE: 'on' },
    unit: 'B/conn',
    idle: true
  },
  'idle-deflate-nct': {
    title: 'memory per idle connection, permessage-deflate, no context takeover',
    args: ['idle', '--deflate'],
    env: { BENCH_DEFLATE: 'nct' },
    unit: 'B/conn',
    idle: true
  }
};

function isIdle(test) {
  return TESTS[test].idle === true;
}

const SERVER_LABEL = {
  'ws-native': 'ws-native',
  'ws-native-serve': 'ws-native serve()',
  'ws-native-stream': 'ws-native (stream transport)',
  bun: 'Bun.serve',
  ws: 'ws 8',
  uws: 'uWS.js',
  ceiling: 'ceiling'
};

function parseArgs(argv) {
  const o = {
    quick: false,
    rounds: 3,
    duration: null,
    warmup: null,
    tests: Object.keys(TESTS),
    servers: ['ws-native', 'ws-native-serve', 'ws', 'uws', 'bun'],
    idleConns: null,
    deflateConns: null,
    ceiling: true,
    pin: true,
    install: true,
    out: null,
    verbose: false
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--quick':
        o.quick = true;
        break;
      case '--rounds':
        o.rounds = Math.max(1, parseInt(val(), 10));
        break;
      case '--duration':
        o.duration = Number(val());
        break;
      case '--warmup':
        o.warmup = Number(val());
        break;
      case '--tests':
        o.tests = val().split(',').filter(Boolean);
        for (const t of o.tests) if (!TESTS[t]) fail(`unknown test ${t}`);
        break;
      case '--servers':
        o.servers = val().split(',').filter(Boolean);
        for (const s of o.servers) {
          if (!SERVER_LABEL[s] || s === 'ceiling') fail(`unknown server ${s}`);
        }
        break;
      case '--idle-conns':
        o.idleConns = parseInt(val(), 10);
        break;
      case '--settle':
        o.settle = Number(val());
        break;
      case '--deflate-conns':
        o.deflateConns = parseInt(val(), 10);
        break;
      case '--no-ceiling':
        o.ceiling = false;
        break;
      case '--no-pin':
        o.pin = false;
        break;
      case '--no-install':
        o.install = false;
        break;
      case '--out':
        o.out = val();
        break;
      case '--verbose':
        o.verbose = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(help());
        process.exit(0);
        break;
      default:
        fail(`unknown option ${a} (see --help)`);
    }
  }
  if (o.duration == null) o.duration = o.quick ? 0.4 : 2.5;
  if (o.warmup == null) o.warmup = o.quick ? 0.2 : 0.5;
  if (o.idleConns == null) o.idleConns = o.quick ? 1000 : 2000;
  if (o.deflateConns == null) o.deflateConns = o.quick ? 250 : 500;
  if (o.settle == null) o.settle = o.quick ? 0 : 20;
  return o;
}

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

function log(msg) {
  process.stderr.write(msg + '\n');
}

function have(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

// ---------------------------------------------------------------- setup

function ensureAddon() {
  if (fs.existsSync(path.join(ROOT, 'js', 'ws-native.node'))) return;
  log('bench: js/ws-native.node is missing, building it (scripts/build.js)');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], {
    stdio: 'inherit'
  });
  if (r.error || r.status !== 0) fail('cannot build the ws-native addon');
}

function ensureUws(install) {
  const pkg = path.join(DEPS, 'node_modules', '@trufflesuite', 'uws-js-unofficial');
  if (!fs.existsSync(pkg) && install) {
    log(`bench: installing ${UWS_PKG} into bench/.deps (for the comparison)`);
    fs.mkdirSync(DEPS, { recursive: true });
    const r = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        DEPS,
        '--no-save',
        '--no-package-lock',
        '--omit=optional',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        UWS_PKG
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] }
    );
    if (r.error || r.status !== 0) log('bench: could not install uWebSockets.js');
  }
  const probe = spawnSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(path.join(__dirname, 'servers', 'uws.js'))}); process.exit(0)`],
    { encoding: 'utf8', env: { ...process.env, PORT: '0' }, timeout: 10000 }
  );
  if (probe.status === 0) return true;
  log(`bench: skipping uWebSockets.js: ${(probe.stderr || '').trim().split('\n')[0] || 'does not load'}`);
  return false;
}

/**
 * Bun, if the machine has it: $BUN, `bun` on PATH, or npm's
 * @oven/bun-linux-x64 in .nodes/bun (how .ci/run installs it).
 */
function findBun() {
  const candidates = [
    process.env.BUN,
    path.join(ROOT, '.nodes', 'bun', 'node_modules', '@oven', `bun-linux-${process.arch === 'arm64' ? 'aarch64' : 'x64'}`, 'bin', 'bun')
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  const probe = spawnSync('bun', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? 'bun' : null;
}

// ---------------------------------------------------------------- processes

const ULIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

function pinned(cpu, cmd) {
  return cpu == null ? cmd : ['taskset', '-c', String(cpu), ...cmd];
}

function startServer(name, cpu, env) {
  const cmd =
    name === 'ceiling'
      ? [LOADGEN, 'serve', '--port', '0']
      : name === 'ws-native-serve'
        ? [process.execPath, '--expose-gc', path.join(__dirname, 'servers', 'serve-app.js')]
        : name === 'bun'
          ? [findBun(), path.join(__dirname, 'servers', 'serve-app.js')]
          : [process.execPath, '--expose-gc', path.join(__dirname, 'servers', `${name}.js`)];
  const child = spawn('sh', ['-c', ULIMIT, 'sh', ...pinned(cpu, cmd)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, PORT: '0' }
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name}: not listening after 15 s ${stderr}`));
    }, 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${stderr.trim()}`));
    });
  });
}

function stopServer({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function runLoadgen(args, cpu, timeoutS) {
  const child = spawn('sh', ['-c', ULIMIT, 'sh', ...pinned(cpu, [LOADGEN, ...args])], {
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      if (code === 0 && line) {
        try {
          resolve(JSON.parse(line));
          return;
        } catch {
          // fall through
        }
      }
      reject(new Error(`loadgen ${args[0]} failed (${signal || code}): ${err.trim() || out.trim()}`));
    });
  });
}

async function runCell(test, name, opts, cpus) {
  const t = TESTS[test];
  const srv = await startServer(name, cpus.server, t.env);
  try {
    const args = [
      ...t.args,
      '--url',
      `ws://127.0.0.1:${srv.port}/`,
      '--pid',
      String(srv.child.pid),
      '--warmup',
      String(opts.warmup),
      '--duration',
      String(opts.duration)
    ];
    let settle = 0;
    if (isIdle(test)) args.push('--conns', String(idleConns(test, opts)));
    if (TESTS[test].settle && opts.settle > 0) {
      settle = opts.settle;
      args.push('--settle', String(settle));
    }
    return await runLoadgen(args, cpus.gen, opts.warmup + opts.duration + settle + 60);
  } finally {
    await stopServer(srv);
  }
}

function idleConns(test, opts) {
  return TESTS[test].env && TESTS[test].env.BENCH_DEFLATE ? opts.deflateConns : opts.idleConns;
}

// Busy fraction of each CPU over `ms`, from /proc/stat (null if unreadable).
async function cpuBusy(ms) {
  const read = () => {
    try {
      return fs
        .readFileSync('/proc/stat', 'utf8')
        .split('\n')
        .filter((l) => /^cpu\d+ /.test(l))
        .map((l) => {
          const v = l.trim().split(/\s+/).slice(1).map(Number);
          const idle = v[3] + (v[4] || 0);
          return { idle, total: v.reduce((a, b) => a + b, 0) };
        });
    } catch {
      return null;
    }
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  if (!a || !b || a.length !== b.length) return null;
  return a.map((x, i) => {
    const dt = b[i].total - x.total;
    return dt > 0 ? 1 - (b[i].idle - x.idle) / dt : 0;
  });
}

// ---------------------------------------------------------------- figures

function fmtNum(x) {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1e6) return (x / 1e6).toFixed(2) + 'M';
  if (x >= 1e4) return (x / 1e3).toFixed(0) + 'k';
  if (x >= 1e3) return (x / 1e3).toFixed(1) + 'k';
  return x.toFixed(x >= 100 ? 0 : 1);
}

function fmtRatio(x) {
  return Number.isFinite(x) ? x.toFixed(2) + 'x' : '-';
}

function fmtPct(x) {
  return Number.isFinite(x) ? Math.round(x * 100) + '%' : '-';
}

function pad(s, n, right) {
  s = String(s);
  return right ? s.padStart(n) : s.padEnd(n);
}

function table(rows, aligns) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => pad(c, widths[i], aligns[i] === 'r'))
        .join('  ')
        .trimEnd()
    )
    .join('\n');
}

//
// The figure of one cell for one test: throughput, or bytes per idle
// connection. Ratios are "times better than ws": rate / ws's rate, and for
// memory ws's bytes / ours.
//
function figure(test, r) {
  return isIdle(test) ? r.rss_per_conn_b : r.rate;
}

function perCpu(test, r) {
  return isIdle(test) ? NaN : r.rate_per_cpu;
}

function better(test, x, ws) {
  // Memory: a reading at or below zero (noise around nothing) has no ratio.
  if (isIdle(test)) return x > 0 ? ws / x : NaN;
  return x / ws;
}

// Per-round ratios to ws (servers ran back to back in that round), median.
function pairedRatio(test, cells, name, fn) {
  const byRound = new Map();
  for (const c of cells) {
    if (!byRound.has(c.round)) byRound.set(c.round, {});
    byRound.get(c.round)[c.server] = c.result;
  }
  const ratios = [];
  for (const r of byRound.values()) {
    if (r[name] && r.ws) ratios.push(better(test, fn(test, r[name]), fn(test, r.ws)));
  }
  return median(ratios);
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();

  try {
    buildLoadgen();
  } catch (err) {
    fail(err.message);
  }
  ensureAddon();
  let servers = opts.servers.slice();
  if (servers.includes('bun') && findBun() === null) {
    log('bench: skipping Bun: not found ($BUN, bun on PATH, or .nodes/bun from npm @oven/bun-linux-x64)');
    servers = servers.filter((s) => s !== 'bun');
  }
  if (servers.includes('uws') && !ensureUws(opts.install)) {
    servers = servers.filter((s) => s !== 'uws');
  }

  const busy = await cpuBusy(1000);
  const ncpu = os.cpus().length;
  const cpus = { server: null, gen: null };
  if (opts.pin && ncpu >= 2 && have('taskset', ['-V'])) {
    cpus.server = ncpu - 1;
    cpus.gen = 0;
  }

  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    cwd: ROOT,
    encoding: 'utf8'
  });
  const addon = fs.statSync(path.join(ROOT, 'js', 'ws-native.node'));
  const head =
    `ws-native bench: node ${process.version}, ${ncpu} CPUs (${os.cpus()[0].model.trim()}), ` +
    (cpus.server == null
      ? 'not pinned'
      : `server on CPU ${cpus.server}, generator on CPU ${cpus.gen}`) +
    `\n${opts.rounds} rounds x ${opts.duration} s (after ${opts.warmup} s warm-up) per cell, ` +
    `servers interleaved; git ${(git.stdout || '?').trim()}${dirty.stdout && dirty.stdout.trim() ? '+dirty' : ''}, ` +
    `addon built ${addon.mtime.toISOString().slice(0, 19)}Z` +
    (busy
      ? `\nbefore the run, other processes kept the CPUs ${busy.map(fmtPct).join(' / ')} busy` +
        (Math.max(...busy) > 0.2 ? ' (a busy machine: trust the per CPU-s ratios, not raw figures or latency)' : '')
      : '');
  log(head);

  const all = [];
  const lineup = opts.ceiling ? [...servers, 'ceiling'] : servers;
  for (const test of opts.tests) {
    const names = isIdle(test) ? servers : lineup;
    for (let round = 0; round < opts.rounds; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        let result;
        try {
          result = await runCell(test, name, opts, cpus);
        } catch (err) {
          log(`bench: ${test} ${name} round ${round + 1}: ${err.message}`);
          continue;
        }
        all.push({ test, server: name, round, result });
        const r = result;
        const note = r.errors ? ` (${r.errors} errors: ${r.first_error})` : '';
        if (opts.verbose) {
          log(`  ${test} r${round + 1} ${name}: ${JSON.stringify(r)}`);
        } else {
          const fig =
            isIdle(test)
              ? `${fmtNum(r.rss_per_conn_b)} B/conn`
              : `${fmtNum(r.rate)} ${TESTS[test].unit}, ${fmtNum(r.rate_per_cpu)}/CPU-s`;
          log(`  ${test} round ${round + 1} ${name}: ${fig}${note}`);
        }
      }
    }
  }

  // ---- report
  const out = [];
  out.push('');
  out.push(head);
  out.push(
    'Medians over rounds. "x ws" = times better than ws 8 (throughput: ours / ws; memory: ws / ours),\n' +
      'the median of the per-round ratios. "per CPU-s" = operations per second of server CPU time\n' +
      '(user + system, all threads, from /proc), the stable figure on a noisy machine.'
  );

  const tput = opts.tests.filter((t) => t !== 'latency' && !isIdle(t));
  if (tput.length) {
    const rows = [
      ['test', 'server', 'raw', 'x ws', 'per CPU-s', 'x ws', 'goal', 'srv CPU', 'gen CPU', 'errors']
    ];
    for (const test of tput) {
      const cells = all.filter((c) => c.test === test);
      let first = true;
      for (const name of servers) {
        const mine = cells.filter((c) => c.server === name);
        if (!mine.length) continue;
        const rs = mine.map((c) => c.result);
        rows.push([
          first ? TESTS[test].title : '',
          SERVER_LABEL[name],
          `${fmtNum(median(rs.map((r) => r.rate)))} ${TESTS[test].unit}`,
          name === 'ws' ? '1' : fmtRatio(pairedRatio(test, cells, name, figure)),
          fmtNum(median(rs.map((r) => r.rate_per_cpu))),
          name === 'ws' ? '1' : fmtRatio(pairedRatio(test, cells, name, perCpu)),
          name === 'ws-native' && TESTS[test].goal ? `>= ${TESTS[test].goal}x` : '',
          fmtPct(median(rs.map((r) => r.server_cpu_util))),
          fmtPct(median(rs.map((r) => r.gen_cpu_util))),
          String(rs.reduce((a, r) => a + (r.errors || 0), 0))
        ]);
        first = false;
      }
    }
    out.push('');
    out.push('Throughput');
    out.push(table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r']));
  }

  if (opts.tests.includes('latency')) {
    const cells = all.filter((c) => c.test === 'latency');
    const rows = [['server', 'p50', 'p99', 'p99.9', 'msg/s', 'per CPU-s', 'x ws per CPU-s']];
    for (const name of lineup) {
      const rs = cells.filter((c) => c.server === name).map((c) => c.result);
      if (!rs.length) continue;
      rows.push([
        SERVER_LABEL[name] + (name === 'ceiling' ? ' (loadgen serve)' : ''),
        `${median(rs.map((r) => r.lat_p50_us)).toFixed(1)} us`,
        `${median(rs.map((r) => r.lat_p99_us)).toFixed(1)} us`,
        `${median(rs.map((r) => r.lat_p999_us)).toFixed(1)} us`,
        fmtNum(median(rs.map((r) => r.rate))),
        fmtNum(median(rs.map((r) => r.rate_per_cpu))),
        name === 'ws' || name === 'ceiling'
          ? ''
          : fmtRatio(pairedRatio('latency', cells, name, perCpu))
      ]);
    }
    out.push('');
    out.push(`Latency (${TESTS.latency.title}; send to echo, as the generator sees it)`);
    out.push(table(rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r']));
  }

  const idleTests = opts.tests.filter(isIdle);
  if (idleTests.length) {
    const rows = [
      [
        'test',
        'server',
        'per connection',
        'x ws',
        `settled (${opts.settle} s)`,
        'x ws',
        'goal',
        'conns',
        'RSS before',
        'RSS after',
        'errors'
      ]
    ];
    const settled = (t, r) => r.rss_settled_per_conn_b;
    for (const test of idleTests) {
      const cells = all.filter((c) => c.test === test);
      let first = true;
      for (const name of servers) {
        const rs = cells.filter((c) => c.server === name).map((c) => c.result);
        if (!rs.length) continue;
        const b = median(rs.map((r) => r.rss_per_conn_b));
        const hasSettled = rs.every((r) => r.rss_settled_per_conn_b != null);
        rows.push([
          first ? TESTS[test].title.replace('memory per idle connection', test) : '',
          SERVER_LABEL[name],
          `${(b / 1024).toFixed(2)} KiB`,
          name === 'ws' ? '1' : fmtRatio(pairedRatio(test, cells, name, figure)),
          hasSettled ? `${(median(rs.map((r) => r.rss_settled_per_conn_b)) / 1024).toFixed(2)} KiB` : '',
          !hasSettled ? '' : name === 'ws' ? '1' : fmtRatio(pairedRatio(test, cells, name, settled)),
          name === 'ws-native' && TESTS[test].goal ? `<= ${(TESTS[test].goal / 1024).toFixed(1)} KiB` : '',
          String(idleConns(test, opts)),
          `${(median(rs.map((r) => r.rss_before_kb)) / 1024).toFixed(1)} MiB`,
          `${(median(rs.map((r) => r.rss_after_kb)) / 1024).toFixed(1)} MiB`,
          String(rs.reduce((a, r) => a + (r.errors || 0), 0))
        ]);
        first = false;
      }
    }
    out.push('');
    out.push(
      'Memory per idle connection (server RSS after - before, both readings after a forced GC;\n' +
        '"settled": read again after the server was left idle, when V8 has given back the young\n' +
        'generation that the burst of handshakes grew; idle-deflate*: permessage-deflate on, each\n' +
        'connection exchanged one compressed message)'
    );
    out.push(table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r']));
  }

  if (opts.tests.some((t) => !isIdle(t))) {
    const rows = [['test', ...lineup.map((n) => SERVER_LABEL[n]), 'gen per own CPU-s', 'ceiling rate']];
    for (const test of opts.tests.filter((t) => !isIdle(t))) {
      const cells = all.filter((c) => c.test === test);
      if (!cells.length) continue;
      const row = [TESTS[test].title];
      for (const name of lineup) {
        const rs = cells.filter((c) => c.server === name).map((c) => c.result);
        row.push(fmtRatio(median(rs.map((r) => r.server_cpu_s / r.gen_cpu_s))));
      }
      const ceil = cells.filter((c) => c.server === 'ceiling').map((c) => c.result);
      row.push(
        fmtNum(median(ceil.length ? ceil.map((r) => r.gen_rate_per_cpu) : cells.map((c) => c.result.gen_rate_per_cpu))),
        ceil.length ? `${fmtNum(median(ceil.map((r) => r.rate)))} ${TESTS[test].unit}` : '-'
      );
      rows.push(row);
    }
    out.push('');
    out.push(
      'Is the generator the bottleneck? Per server: its CPU time / the generator\'s CPU time in the\n' +
        'same cells (median). Above 1x the generator (one thread) spends less CPU than the server it\n' +
        'drives, so with a CPU each the server runs out first. "ceiling" = `loadgen serve`, a\n' +
        'single-threaded Rust (mio) WebSocket server speaking the same protocol, pinned like the\n' +
        'others; "gen per own CPU-s" = what the generator does per second of its own CPU against it.\n' +
        'Loopback TCP work is charged to whichever side makes the system call, so neither is exact.'
    );
    out.push(table(rows, ['l', ...lineup.map(() => 'r'), 'r', 'r']));
  }

  out.push('');
  out.push(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  console.log(out.join('\n'));

  if (opts.out) {
    fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    fs.writeFileSync(opts.out, JSON.stringify({ head, opts, cells: all }, null, 2) + '\n');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
