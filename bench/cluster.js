#!/usr/bin/env node
'use strict';

//
// Topics across processes: `node bench/cluster.js`. One publisher, 1000
// subscribers, a topic every connection subscribes to, at fixed publish
// rates. Rows:
//
//   local:    1 server process (no Redis): what a publish costs in one process
//   cluster:  4 server processes sharing the topic through Redis (a
//             redis-server of its own), 250 subscribers each, the publisher
//             on the first
//
// for ws-native (ws-native/redis over ioredis) and for socket.io with
// @socket.io/redis-adapter (installed into bench/.deps), both over
// WebSocket, and a floor: `loadgen serve` (a minimal single-threaded Rust
// server) publishing to its connections, one process, no Redis: what the
// kernel and the generator cost on this machine. The clients are the Rust load generator's (`loadgen pubsub`,
// one thread, one clock). For each: the deliveries per second reached, the
// server processes' CPU time per delivery (and redis-server's), and the
// time from a publish to its last delivery (p50, p99, max).
//
// Options: --subscribers N (1000), --processes N (4), --rates LIST (10,50:
// publishes per second, each reaching every subscriber), --duration S (5),
// --warmup S (20: after the subscribers connect, before measuring; V8's
// memory reducer runs a few major collections in each process some seconds
// after the burst of 1000 handshakes, a one-off that would otherwise count
// four times with four processes: 1.41x instead of 1.17-1.24x at 10k/s),
// --impls LIST (floor,ws-native,socket.io), --no-install.
//

const { spawn, spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const { LOADGEN, buildLoadgen, freePort, sleep } = require('./common');

const DEPS = path.join(__dirname, '.deps');
const SOCKETIO = ['socket.io@4', '@socket.io/redis-adapter@8', 'ioredis@5'];

function parseArgs(argv) {
  const o = {
    subscribers: 1000,
    processes: 4,
    rates: [10, 50],
    duration: 5,
    warmup: 20,
    impls: ['floor', 'ws-native', 'socket.io'],
    install: true
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--subscribers') o.subscribers = Number(next());
    else if (a === '--processes') o.processes = Number(next());
    else if (a === '--rates') o.rates = next().split(',').map(Number);
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--impls') o.impls = next().split(',');
    else if (a === '--no-install') o.install = false;
    else if (a === '--help') {
      console.log('node bench/cluster.js [--subscribers N] [--processes N] [--rates 10,50] [--duration S] [--warmup S] [--impls floor,ws-native,socket.io] [--no-install]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** CPU seconds (user + system) a process used so far. */
function cpuOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return 0;
  }
}

async function startRedis() {
  let bin;
  try {
    bin = execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
  const port = await freePort();
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore'
  });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return { proc, url: `redis://127.0.0.1:${port}` };
    await sleep(50);
  }
  proc.kill();
  return null;
}

function ensureSocketIo(install) {
  const have = () => SOCKETIO.every((p) => fs.existsSync(path.join(DEPS, 'node_modules', p.slice(0, p.lastIndexOf('@')))));
  if (!have() && install) {
    console.log('bench: installing socket.io, socket.io-client and @socket.io/redis-adapter into bench/.deps');
    fs.mkdirSync(DEPS, { recursive: true });
    spawnSync('npm', ['install', '--prefix', DEPS, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', ...SOCKETIO], {
      stdio: ['ignore', 'ignore', 'inherit']
    });
  }
  return have();
}

async function startServers(impl, count, redisUrl) {
  const servers = [];
  for (let i = 0; i < count; i++) {
    const proc =
      impl === 'floor'
        ? spawn(LOADGEN, ['serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
        : spawn(process.execPath, [path.join(__dirname, 'servers', 'topics.js')], {
            env: { ...process.env, IMPL: impl, PORT: '0', REDIS_URL: redisUrl || '' },
            stdio: ['ignore', 'pipe', 'inherit']
          });
    const port = await new Promise((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /LISTENING (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      proc.on('exit', () => reject(new Error(`${impl} server exited`)));
    });
    servers.push({ proc, port });
  }
  return servers;
}

/**
 * One row: `processes` servers of `impl` (sharing the topic through Redis
 * when more than one), the generator's subscribers spread over them, at
 * each rate.
 */
async function run(impl, processes, redis, o) {
  const servers = await startServers(impl, processes, processes > 1 ? redis.url : '');
  const results = [];

  for (const rate of o.rates) {
    const redis0 = redis && processes > 1 ? cpuOf(redis.proc.pid) : 0;
    const args = [
      'pubsub',
      '--url', servers.map((s) => `ws://127.0.0.1:${s.port}/`).join(','),
      '--conns', String(o.subscribers),
      '--rate', String(rate),
      '--size', '64',
      '--warmup', String(o.warmup),
      '--duration', String(o.duration),
      '--pid', servers.map((s) => s.proc.pid).join(',')
    ];
    if (impl === 'socket.io') args.push('--socketio');
    const out = spawnSync(LOADGEN, args, { encoding: 'utf8', timeout: (o.warmup + o.duration + 60) * 1000 });
    const redisCpu = redis && processes > 1 ? cpuOf(redis.proc.pid) - redis0 : 0;
    let r;
    try {
      r = JSON.parse(out.stdout.trim().split('\n').pop());
    } catch {
      throw new Error(`loadgen failed: ${out.stderr || out.stdout}`);
    }
    // redis-server's share of the run, over the measured window's deliveries
    // (it ran for the warm-up and settling too: an upper bound).
    const deliveries = r.deliveries_per_s * r.secs;
    results.push({
      rate: rate * (o.subscribers + 1),
      deliveriesPerSec: r.deliveries_per_s,
      cpuPerDelivery: r.server_cpu_us_per_delivery,
      redisPerDelivery: deliveries > 0 ? (redisCpu * 1e6) / deliveries : NaN,
      p50: r.last_p50_ms,
      p99: r.last_p99_ms,
      max: r.last_max_ms,
      incomplete: r.incomplete,
      errors: r.errors,
      error: r.first_error
    });
  }

  for (const s of servers) s.proc.kill();
  await sleep(300);
  return results;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const redis = await startRedis();
  if (redis === null) console.log('bench: redis-server not found (Debian: apt-get install redis-server): cluster rows skipped');
  const impls = o.impls.filter((impl) => impl !== 'socket.io' || ensureSocketIo(o.install));

  buildLoadgen();
  console.log(`bench/cluster: node ${process.version}, ${os.cpus().length} CPUs, ${o.subscribers} subscribers + 1 publisher, ${o.duration} s per rate after ${o.warmup} s`);
  const rows = [];
  for (const impl of impls) {
    for (const processes of redis === null || impl === 'floor' ? [1] : [1, o.processes]) {
      const results = await run(impl, processes, redis, o);
      for (const r of results) rows.push({ impl, processes, ...r });
    }
  }
  if (redis) redis.proc.kill();

  const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log('\nimpl       procs  target/s  deliveries/s  server CPU us/delivery (+redis)  last delivery p50 / p99 / max ms  incomplete  errors');
  for (const r of rows) {
    console.log(
      `${r.impl.padEnd(10)} ${String(r.processes).padStart(5)}  ${String(r.rate).padStart(8)}  ${fmt(r.deliveriesPerSec, 0).padStart(12)}  ` +
        `${fmt(r.cpuPerDelivery).padStart(8)} (+${fmt(r.redisPerDelivery)})`.padEnd(33) +
        `  ${fmt(r.p50).padStart(6)} / ${fmt(r.p99).padStart(6)} / ${fmt(r.max).padStart(6)}        ${String(r.incomplete).padStart(4)}  ${r.errors}${r.error ? ` (${r.error})` : ''}`
    );
  }
  console.log('\nCross-process CPU per delivery over one process (same impl and rate):');
  for (const r of rows.filter((x) => x.processes > 1)) {
    const local = rows.find((x) => x.impl === r.impl && x.processes === 1 && x.rate === r.rate);
    if (local) {
      console.log(
        `  ${r.impl} at ${r.rate}/s: ${fmt(r.cpuPerDelivery / local.cpuPerDelivery)}x ` +
          `(with redis-server: ${fmt((r.cpuPerDelivery + r.redisPerDelivery) / local.cpuPerDelivery)}x)`
      );
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
