#!/usr/bin/env node
'use strict';

//
// Compressing large messages on the main thread or on libuv's thread pool:
// `node bench/deflate-offload.js` (`--help` for the options).
//
// A server with permessage-deflate (ws's defaults: context takeover,
// window 15, level 6 with `threshold: 0`) sends the same JSON-like message
// (compressible about 5:1) to each of N connections as fast as the sends
// complete, 2 in flight per connection, for a few seconds, while a 1 ms
// timer measures how late the event loop is (`monitorEventLoopDelay`). The
// clients are raw sockets in the parent process that discard what they
// read (no inflating), so the server's side is what is measured.
//
// Servers, each a fresh process, taking turns round after round:
//   ws                  ws 8 (Node's zlib, on the thread pool, at most 10
//                       jobs at once process-wide)
//   ws-native sync      WS_NATIVE_DEFLATE_OFFLOAD=off: every message
//                       compressed on the main thread
//   ws-native pool      WS_NATIVE_DEFLATE_OFFLOAD=1: every compressed
//                       message on the thread pool (one job at a time per
//                       connection; later frames wait)
//
// Printed per size and connection count, medians of the rounds: messages
// per second, messages per second of server CPU (all threads), and the
// event loop's delay p50 / p99 / max. The servers are not pinned: the
// pool's point is to use another core.
//

const { spawn } = require('child_process');
const crypto = require('crypto');
const net = require('net');
const path = require('path');

const { median } = require('./common');

//
// The ws-native measured: this repository, or a copy of it (`--module`).
//
let ROOT = process.env.BENCH_WS_NATIVE || path.join(__dirname, '..');

const VARIANTS = {
  ws: { label: 'ws 8', native: false, env: {} },
  sync: { label: 'ws-native sync', native: true, env: { WS_NATIVE_DEFLATE_OFFLOAD: 'off' } },
  pool: { label: 'ws-native pool', native: true, env: { WS_NATIVE_DEFLATE_OFFLOAD: '1' } }
};

const help = () => `Usage: node bench/deflate-offload.js [options]

  --sizes LIST      message sizes in bytes (default 16384,65536,262144,1048576)
  --conns LIST      connection counts (default 1,4)
  --variants LIST   from ${Object.keys(VARIANTS).join(',')} (default all)
  --seconds S       measured seconds per cell (default 2)
  --rounds N        rounds (default 3; medians are printed)
  --quick           --seconds 0.7 --rounds 1
  --module DIR      the ws-native to measure (default: this repository)
`;

// ------------------------------------------------------------------ server

//
// MESSAGES different messages of each size are sent in turn: the same one
// again would be found whole in the compressor's window (32 KiB) and cost
// next to nothing to compress.
//
const MESSAGES = 8;

function message(size, variant = 0) {
  //
  // Deterministic JSON-like text: records with a few varying numbers.
  //
  let seed = 12345 + variant * 7919;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const parts = [];
  let length = 0;

  while (length < size) {
    const s =
      `{"id":${rand() % 100000},"user":"user${rand() % 5000}",` +
      `"price":${(rand() % 100000) / 100},"tags":["a${rand() % 50}","b${rand() % 20}"],` +
      `"active":${rand() % 2 === 0}},`;

    parts.push(s);
    length += s.length;
  }

  return Buffer.from(parts.join('')).subarray(0, size);
}

function serve(variant) {
  const { monitorEventLoopDelay } = require('perf_hooks');
  const { WebSocketServer } = require(VARIANTS[variant].native ? ROOT : 'ws');
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: { threshold: 0 }
  });
  const conns = [];
  let sent = 0;
  let running = false;

  //
  // The next send waits for the event loop's next turn (setImmediate): a
  // send callback may come in a process.nextTick() when the write
  // completed at once, and a chain of those would starve the timers.
  //
  const pump = (ws, data) => {
    let turn = 0;
    const send = () => {
      ws.send(data[turn++ % MESSAGES], { binary: true }, next);
    };
    const again = () => {
      if (running) send();
    };
    const next = (err) => {
      if (err || !running) return;
      sent++;
      setImmediate(again);
    };

    send();
    send();
  };

  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    conns.push(ws);
  });

  process.stdin.setEncoding('utf8');
  let input = '';

  process.stdin.on('data', (chunk) => {
    input += chunk;

    let nl;

    while ((nl = input.indexOf('\n')) !== -1) {
      const cmd = JSON.parse(input.slice(0, nl));

      input = input.slice(nl + 1);

      if (cmd.run) {
        const data = [];

        for (let i = 0; i < MESSAGES; i++) data.push(message(cmd.size, i));

        // Warm-up: one message per connection, compressors created.
        running = true;
        for (const ws of conns) ws.send(data[0], { binary: true });
        setTimeout(() => {
          const h = monitorEventLoopDelay({ resolution: 1 });
          const cpu0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();

          sent = 0;
          h.enable();
          for (const ws of conns) pump(ws, data);

          setTimeout(() => {
            const secs = Number(process.hrtime.bigint() - t0) / 1e9;
            const cpu = process.cpuUsage(cpu0);
            const count = sent;

            running = false;
            h.disable();
            process.stdout.write(
              JSON.stringify({
                rate: count / secs,
                cpu: (cpu.user + cpu.system) / 1e6,
                secs,
                p50: h.percentile(50) / 1e6,
                p99: h.percentile(99) / 1e6,
                max: h.max / 1e6
              }) + '\n'
            );
          }, cmd.seconds * 1000);
        }, 300);
      }
    }
  });

  wss.on('listening', () => {
    process.stdout.write(`LISTENING ${wss.address().port}\n`);
  });
}

// ------------------------------------------------------------------ runner

function maskedText(text) {
  const payload = Buffer.from(text);
  const key = crypto.randomBytes(4);
  const out = Buffer.alloc(6 + payload.length);

  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  key.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ key[i & 3];
  return out;
}

// A client that upgrades with permessage-deflate and discards what it reads.
function rawClient(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let head = '';

    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
          `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
          'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n'
      );
    });

    const onHead = (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onHead);
      if (!/^HTTP\/1\.1 101/.test(head) || !/permessage-deflate/i.test(head)) {
        reject(new Error(`upgrade failed: ${head.split('\r\n')[0]}`));
        return;
      }
      socket.on('data', () => {});
      resolve(socket);
    };

    socket.on('data', onHead);
  });
}

function startServer(variant) {
  const child = spawn(process.execPath, [__filename, '--serve', variant], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...VARIANTS[variant].env, BENCH_WS_NATIVE: ROOT }
  });
  const lines = [];
  const waiters = [];
  let buf = '';

  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;

    let nl;

    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);

      buf = buf.slice(nl + 1);
      if (waiters.length) waiters.shift()(line);
      else lines.push(line);
    }
  });

  const nextLine = () =>
    new Promise((resolve, reject) => {
      if (lines.length) resolve(lines.shift());
      else waiters.push(resolve);
      child.once('exit', (code) => reject(new Error(`${variant} exited with ${code}`)));
    });

  return { child, nextLine };
}

async function cell(variant, size, conns, seconds) {
  const srv = startServer(variant);

  try {
    const port = Number(/LISTENING (\d+)/.exec(await srv.nextLine())[1]);
    const sockets = [];

    for (let i = 0; i < conns; i++) sockets.push(await rawClient(port));

    // Let the server see every connection.
    await new Promise((r) => setTimeout(r, 100));
    srv.child.stdin.write(JSON.stringify({ run: true, size, seconds }) + '\n');

    const result = JSON.parse(await srv.nextLine());

    for (const s of sockets) {
      s.write(maskedText('bye'));
      s.destroy();
    }

    return result;
  } finally {
    srv.child.kill();
  }
}

function fmt(x, digits = 0) {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) => r.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  '))
    .join('\n');
}

function sizeLabel(n) {
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`;
}

async function main() {
  const args = process.argv.slice(2);

  if (args[0] === '--serve') {
    serve(args[1]);
    return;
  }

  const o = {
    sizes: [16384, 65536, 262144, 1048576],
    conns: [1, 4],
    variants: Object.keys(VARIANTS),
    seconds: 2,
    rounds: 3
  };

  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => args[++i];
    const list = (v) => v.split(',').filter(Boolean);

    if (a === '--sizes') o.sizes = list(val()).map(Number);
    else if (a === '--conns') o.conns = list(val()).map(Number);
    else if (a === '--variants') o.variants = list(val());
    else if (a === '--seconds') o.seconds = Number(val());
    else if (a === '--rounds') o.rounds = Number(val());
    else if (a === '--module') ROOT = path.resolve(val());
    else if (a === '--quick') {
      o.seconds = 0.7;
      o.rounds = 1;
    } else {
      process.stdout.write(help());
      process.exit(a === '--help' || a === '-h' ? 0 : 2);
    }
  }

  for (const v of o.variants) {
    if (!VARIANTS[v]) throw new Error(`unknown variant ${v}`);
  }

  const os = require('os');

  console.log(
    `deflate-offload: node ${process.version}, ${os.cpus().length} CPUs, ` +
      `${o.rounds} rounds x ${o.seconds} s per cell, servers not pinned, ` +
      `message compressible ~${(message(65536).length / require('zlib').deflateRawSync(message(65536)).length).toFixed(1)}:1`
  );

  const rows = [['size', 'server', 'conns', 'msg/s', 'x ws', 'msg/CPU-s', 'x ws', 'loop p50 ms', 'p99 ms', 'max ms']];

  for (const size of o.sizes) {
    for (const conns of o.conns) {
      const results = {};

      for (const v of o.variants) results[v] = [];
      for (let round = 0; round < o.rounds; round++) {
        const order = o.variants.map((_, i) => o.variants[(i + round) % o.variants.length]);

        for (const v of order) {
          const r = await cell(v, size, conns, o.seconds);

          r.perCpu = r.rate / r.cpu;
          results[v].push(r);
          process.stderr.write(
            `  ${sizeLabel(size)} x${conns} ${VARIANTS[v].label}: ${fmt(r.rate)} msg/s, ` +
              `${fmt(r.perCpu)}/CPU-s, loop p99 ${fmt(r.p99, 1)} ms\n`
          );
        }
      }

      //
      // Ratios to ws per round (the servers ran back to back), then the
      // median.
      //
      const ratio = (v, key) =>
        median(results[v].map((r, i) => (results.ws && results.ws[i] ? r[key] / results.ws[i][key] : NaN)));

      for (const v of o.variants) {
        const rs = results[v];

        rows.push([
          sizeLabel(size),
          VARIANTS[v].label,
          conns,
          fmt(median(rs.map((r) => r.rate))),
          v === 'ws' ? '1' : fmt(ratio(v, 'rate'), 2) + 'x',
          fmt(median(rs.map((r) => r.perCpu))),
          v === 'ws' ? '1' : fmt(ratio(v, 'perCpu'), 2) + 'x',
          fmt(median(rs.map((r) => r.p50)), 1),
          fmt(median(rs.map((r) => r.p99)), 1),
          fmt(median(rs.map((r) => r.max)), 1)
        ]);
      }
    }
  }

  console.log('');
  console.log(table(rows));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
