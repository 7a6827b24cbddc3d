#!/usr/bin/env node
'use strict';

//
// Port mode in a cluster: `node bench/cluster-port.js`. A `cluster` primary
// and WORKERS workers (2), each `new WebSocketServer({ port })` on the same
// port, as under PM2's cluster mode (bench/servers/cluster-port.js running
// ws-app.js). Rows:
//
//   ws                    ws 8: Node's shared socket (the primary accepts and
//                         hands each connection to a worker, round robin)
//   ws-native             the same shared socket; each upgraded connection
//                         is then taken over by the native transport
//   ws-native reusePort   `reusePort: true`: each worker listens itself with
//                         SO_REUSEPORT, and the native listener accepts and
//                         upgrades; the kernel spreads the connections
//
// Tests: connect (TCP connect, upgrade, close handshake, 16 at once) and
// echo 64 B (64 connections x 16 in flight), driven by the Rust load
// generator. Figures: the rate, and the rate per second of CPU time of all
// the server's processes (the primary and the workers), as ratios to ws;
// medians of --rounds rounds (3), the rows interleaved within a round.
//
// Options: --workers N (2), --rounds N (3), --duration S (5), --tests LIST
// (connect,echo64).
//

const { spawn, spawnSync } = require('child_process');
const os = require('os');
const path = require('path');

const { LOADGEN, buildLoadgen, freePort, median, sleep } = require('./common');
const SERVER = path.join(__dirname, 'servers', 'cluster-port.js');

const ROWS = {
  ws: { IMPL: 'ws' },
  'ws-native': { IMPL: 'ws-native' },
  'ws-native reusePort': { IMPL: 'ws-native', BENCH_REUSE_PORT: '1' }
};

const TESTS = {
  connect: { args: ['connect', '--conns', '16'], unit: 'conn/s' },
  echo64: { args: ['echo', '--conns', '64', '--inflight', '16', '--size', '64'], unit: 'msg/s' }
};

function parseArgs(argv) {
  const o = { workers: 2, rounds: 3, duration: 5, tests: ['connect', 'echo64'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--workers') o.workers = Number(next());
    else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--tests') o.tests = next().split(',');
    else if (a === '--help') {
      console.log('node bench/cluster-port.js [--workers N] [--rounds N] [--duration S] [--tests connect,echo64]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  for (const t of o.tests) if (!TESTS[t]) throw new Error(`unknown test ${t} (${Object.keys(TESTS)})`);
  return o;
}

async function startCluster(env, workers) {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--expose-gc', SERVER], {
    env: { ...process.env, ...env, PORT: String(port), WORKERS: String(workers) },
    stdio: ['ignore', 'pipe', 'inherit']
  });
  const pids = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the cluster did not start in 30 s')), 30000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /LISTENING \d+ ([\d,]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the cluster exited (${signal || code})`));
    });
  });
  return { proc, port, pids };
}

async function stopCluster(c) {
  await new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.proc.kill('SIGKILL');
      resolve();
    }, 5000);
    c.proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.proc.kill('SIGTERM');
  });
  await sleep(300);
}

async function cell(test, row, o) {
  const c = await startCluster(ROWS[row], o.workers);
  try {
    const args = [
      ...TESTS[test].args,
      '--url', `ws://127.0.0.1:${c.port}/`,
      '--pid', c.pids,
      '--warmup', '1',
      '--duration', String(o.duration)
    ];
    const r = spawnSync(LOADGEN, args, { encoding: 'utf8', timeout: (o.duration + 60) * 1000 });
    try {
      return JSON.parse(r.stdout.trim().split('\n').pop());
    } catch {
      throw new Error(`loadgen ${test} failed: ${r.stderr || r.stdout}`);
    }
  } finally {
    await stopCluster(c);
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  buildLoadgen();
  console.log(
    `bench/cluster-port: node ${process.version}, ${os.cpus().length} CPUs, ` +
      `a primary and ${o.workers} workers, ${o.rounds} rounds of ${o.duration} s`
  );
  const names = Object.keys(ROWS);
  const results = {};
  for (let round = 0; round < o.rounds; round++) {
    for (const test of o.tests) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      const cells = {};
      for (const row of order) {
        const r = await cell(test, row, o);
        cells[row] = r;
        if (r.errors) console.log(`  ${test} ${row}: ${r.errors} errors${r.first_error ? ` (${r.first_error})` : ''}`);
      }
      for (const row of names) {
        const r = cells[row];
        const base = cells.ws;
        const k = `${test}|${row}`;
        (results[k] ||= []).push({
          rate: r.rate,
          perCpu: r.rate_per_cpu,
          ratio: r.rate / base.rate,
          cpuRatio: r.rate_per_cpu / base.rate_per_cpu
        });
      }
      process.stdout.write('.');
    }
  }
  console.log('\n');
  const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  for (const test of o.tests) {
    console.log(`${test} (${TESTS[test].unit}; per CPU-s = per second of the server processes' CPU time)`);
    console.log('  row                    rate   vs ws    per CPU-s  vs ws');
    for (const row of names) {
      const rs = results[`${test}|${row}`];
      console.log(
        `  ${row.padEnd(20)} ${fmt(median(rs.map((r) => r.rate))).padStart(7)}  ${fmt(median(rs.map((r) => r.ratio)), 2).padStart(5)}x` +
          `  ${fmt(median(rs.map((r) => r.perCpu))).padStart(9)}  ${fmt(median(rs.map((r) => r.cpuRatio)), 2).padStart(5)}x`
      );
    }
    console.log('');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
