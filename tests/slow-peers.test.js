'use strict';

//
// Slow and vanishing peers: a handshake that never completes, a client that
// never reads, connections reset in the middle of a frame, and many
// connections at once. The memory checks run the server in a process of its
// own (tests/fixtures/server-process.js). All traffic is on 127.0.0.1 and
// every wait is bounded.
//

const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  OP,
  RawClient,
  bounded,
  cleanup,
  closePayload,
  deferred,
  frame,
  listenHttp,
  listenWss,
  onceEvent,
  sut,
  track
} = require('./helpers');

const FIXTURES = path.join(__dirname, 'fixtures');
const MiB = 1024 * 1024;

const children = new Set();

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await cleanup();
});

/**
 * Starts a fixture in a Node process of its own, with an IPC channel and,
 * if `fds` is given, at least that many file descriptors (`ulimit -n`).
 */
function fork(script, args, fds) {
  const limit = fds ? `ulimit -n ${fds} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ` : '';
  const child = spawn(
    'bash',
    ['-c', `${limit}exec "$0" "$@"`, process.execPath, '--expose-gc', path.join(FIXTURES, script), ...args],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: process.env }
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/**
 * The next IPC message of `child` that has the property `key`.
 */
function message(child, key, ms = 10000) {
  return bounded(
    new Promise((resolve, reject) => {
      const onMessage = (msg) => {
        if (!(key in msg)) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(msg[key]);
      };
      const onExit = (code) => reject(new Error(`child exited (${code}) before sending ${key}`));
      child.on('message', onMessage);
      child.on('exit', onExit);
    }),
    `child message ${key}`,
    ms
  );
}

async function startServer(options, fds) {
  const child = fork('server-process.js', [JSON.stringify(options)], fds);
  const port = await message(child, 'port');
  const stats = async () => {
    child.send({ cmd: 'stats' });
    return message(child, 'stats');
  };
  return { child, port, stats };
}

/** Resolves once `predicate()` is true, polling; fails after `ms`. */
async function until(predicate, label, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`Timed out: ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The request of a raw handshake. */
const HANDSHAKE =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
  'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Sec-WebSocket-Version: 13\r\n\r\n';

/**
 * Opens a raw socket, does the handshake and resolves once the 101 is in.
 */
function rawOpen(port) {
  return bounded(
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(HANDSHAKE));
      let head = '';
      const onData = (chunk) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        if (head.startsWith('HTTP/1.1 101')) resolve(socket);
        else reject(new Error(head));
      };
      socket.on('data', onData);
      socket.on('error', reject);
    }),
    'raw handshake'
  );
}

describe('a handshake that never completes (slowloris)', () => {
  const timeouts = { headersTimeout: 400, requestTimeout: 800, connectionsCheckingInterval: 50 };

  test('port mode: dropped after headersTimeout with 408; upgraded connections are not', { skip: !IS_NATIVE && 'ws takes no http server options' }, async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS, timeouts);
    const opened = deferred();
    wss.on('connection', (ws) => opened.resolve(ws));

    // An upgraded connection, which must outlive the request timeouts.
    const open = new RawClient(port);
    assert.equal((await open.head()).status, 101);
    const ws = await bounded(opened.promise, 'connection');

    const t0 = Date.now();
    const slow = [
      ['silent', () => {}],
      ['partial request line', (s) => s.write('GET / HT')],
      ['partial headers', (s) => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n')],
      [
        'one header every 100 ms',
        (s) => {
          s.write('GET / HTTP/1.1\r\n');
          const timer = setInterval(() => s.write(`X-Slow-${Date.now()}: 1\r\n`), 100);
          s.on('close', () => clearInterval(timer));
        }
      ]
    ].map(([name, behave]) => {
      const socket = track(net.connect(port, '127.0.0.1', () => behave(socket)));
      let received = '';
      socket.on('data', (d) => (received += d.toString('latin1')));
      socket.on('error', () => {});
      return onceEvent(socket, 'close', name, 5000).then(() => ({
        name,
        ms: Date.now() - t0,
        status: received.split('\r\n')[0]
      }));
    });

    for (const { name, ms, status } of await Promise.all(slow)) {
      assert.ok(ms >= 300 && ms < 3000, `${name}: dropped after ${ms} ms`);
      if (status) assert.equal(status, 'HTTP/1.1 408 Request Timeout', name);
    }

    // Well past requestTimeout, the WebSocket still works.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1200 - (Date.now() - t0))));
    open.send(frame(OP.PING, 'still there?'));
    const frames = await open.waitFrames(1);
    assert.equal(frames[0].opcode, OP.PONG);
    assert.equal(ws.readyState, 1);
    open.send(frame(OP.CLOSE, closePayload(1000)));
    await open.closed;
  });

  test('upgrade(req) in a request handler: the connection leaves the request timeouts', { skip: !IS_NATIVE && 'upgrade(req) is ws-native only' }, async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const server = http.createServer(timeouts, (req, res) => {
      if (!wss.upgrade(req)) res.end('not a WebSocket request');
    });
    const port = await listenHttp(server);
    const opened = deferred();
    wss.on('connection', (ws) => opened.resolve(ws));

    const open = new RawClient(port);
    assert.equal((await open.head()).status, 101);
    const ws = await bounded(opened.promise, 'connection');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    open.send(frame(OP.PING, 'x'));
    assert.equal((await open.waitFrames(1))[0].opcode, OP.PONG);
    assert.equal(ws.readyState, 1);
  });
});

describe('a client that never reads', () => {
  test('maxBufferedAmount: dropped with an error, and the server memory stays bounded', { skip: !IS_NATIVE && 'maxBufferedAmount is ws-native only' }, async (t) => {
    const limit = 8 * MiB;
    const { port, stats } = await startServer({ mode: 'flood', maxBufferedAmount: limit });
    const before = await stats();
    const rounds = 6;

    for (let i = 1; i <= rounds; i++) {
      const socket = await rawOpen(port);
      socket.pause(); // and never read again
      await until(async () => (await stats()).closes['1006'] === i, `connection ${i} dropped`);
      socket.destroy();
    }

    const after = await stats();
    assert.equal(after.errors.WS_NATIVE_ERR_MAX_BUFFERED_AMOUNT, rounds);
    // Checked at each send: never more than one message past the limit.
    assert.ok(after.peakBufferedAmount <= limit, `peak bufferedAmount ${after.peakBufferedAmount}`);
    // Without the limit the server would grow by hundreds of MiB here.
    const growth = (after.peakRss - before.rss) / MiB;
    t.diagnostic(`peak bufferedAmount ${after.peakBufferedAmount}, RSS +${growth.toFixed(1)} MiB at most`);
    assert.ok(growth < 64, `server RSS grew by ${growth.toFixed(1)} MiB`);
  });
});

describe('the memory held for a message in progress', () => {
  /**
   * Frames of one unfinished binary message, `count` fragments of 1 byte,
   * each followed by `filler` (bytes of other frames), masked with a zero
   * key.
   */
  function tinyFragments(count, filler = Buffer.alloc(0)) {
    const unit = 7 + filler.length;
    const wire = Buffer.alloc(count * unit);

    for (let i = 0, at = 0; i < count; i++, at += unit) {
      wire[at] = i === 0 ? OP.BINARY : OP.CONT;
      wire[at + 1] = 0x81;
      wire[at + 6] = 0x61;
      filler.copy(wire, at + 7);
    }

    return wire;
  }

  for (const [name, count, filler] of [
    ['4Mi fragments of 1 byte', 4 * 1024 * 1024, undefined],
    ['1-byte fragments between 125-byte pongs', 200 * 1000, frame(OP.PONG, Buffer.alloc(125), { mask: Buffer.alloc(4) })]
  ]) {
    test(`${name}: about the payload, not the bytes received`, { skip: !IS_NATIVE && 'ws refuses them (maxFragments)' }, async (t) => {
      const { port, stats } = await startServer({ mode: 'echo' });
      const before = await stats();
      const wire = tinyFragments(count, filler);
      const socket = await rawOpen(port);

      await new Promise((resolve) => socket.write(wire, resolve));
      // The server has parsed everything once it answers a ping sent last.
      socket.write(frame(OP.PING, 'done?'));
      await bounded(
        new Promise((resolve) => socket.on('data', (d) => d.includes('done?') && resolve())),
        'pong',
        20000
      );

      const after = await stats();
      assert.equal(after.closes['1006'], undefined);
      assert.deepEqual(after.errors, {});
      const held = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / MiB;
      const payload = count / MiB;
      t.diagnostic(`${(wire.length / MiB).toFixed(1)} MiB received, ${payload.toFixed(2)} MiB payload, ${held.toFixed(2)} MiB held`);
      assert.ok(held < 2 * payload + 2, `${held.toFixed(2)} MiB held`);
      socket.destroy();
    });
  }
});

describe('connections reset in the middle of a frame', () => {
  test('leave nothing behind: no connection, stable memory', async (t) => {
    const { port, stats } = await startServer({ mode: 'echo' });
    const rounds = 8;
    const perRound = 100;
    const samples = [];
    // A 1 MiB binary frame of which only 48 KiB are sent.
    const partial = frame(OP.BINARY, Buffer.alloc(MiB, 0x5a)).subarray(0, 48 * 1024);

    for (let round = 0; round < rounds; round++) {
      const sockets = await Promise.all(Array.from({ length: perRound }, () => rawOpen(port)));
      await Promise.all(
        sockets.map(
          (socket) =>
            new Promise((resolve) => {
              socket.write(partial, () => {
                socket.resetAndDestroy();
                resolve();
              });
            })
        )
      );
      await until(async () => (await stats()).clients === 0, `round ${round}: connections gone`);
      samples.push(await stats());
    }

    const last = samples.at(-1);
    assert.equal(last.connections, rounds * perRound);
    assert.equal(last.closes['1006'], rounds * perRound);
    // From the second round on (the first one warms up), the memory in use
    // must not grow with the rounds.
    const heap = (last.heapUsed + last.arrayBuffers - samples[1].heapUsed - samples[1].arrayBuffers) / MiB;
    const rss = (last.rss - samples[1].rss) / MiB;
    t.diagnostic(`rounds 2 to ${rounds}: heap + array buffers ${heap.toFixed(2)} MiB, RSS ${rss.toFixed(1)} MiB`);
    assert.ok(heap < 4, `heap + array buffers grew by ${heap.toFixed(2)} MiB`);
    assert.ok(rss < 24, `RSS grew by ${rss.toFixed(1)} MiB`);
  });
});

/**
 * Whether a child process can have `n` file descriptors (`ulimit -n`).
 */
function canHaveDescriptors(n) {
  try {
    execFileSync('bash', ['-c', `ulimit -n ${n}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('10,000 concurrent connections', () => {
  const count = 10000;

  test('held, then closed cleanly by the server', async (t) => {
    //
    // One descriptor per connection: in port mode the native listener
    // accepts them itself, with no Node handle beside (WS_NATIVE_LISTENER
    // =node: two, as for a taken-over socket, whose Node handle stays open
    // idle). Where the hard limit is too low for two and cannot be raised,
    // the server runs with the stream transport, which needs one.
    //
    let need =
      process.env.WS_NATIVE_LISTENER === 'node' ? 2 * count + 1000 : count + 1000;
    const env = process.env;
    if (!canHaveDescriptors(need) && env.WS_NATIVE_TRANSPORT !== 'stream') {
      t.diagnostic(`cannot get ${need} file descriptors: the server uses the stream transport`);
      process.env = { ...env, WS_NATIVE_TRANSPORT: 'stream' };
      need = count + 1000;
    }
    if (!canHaveDescriptors(need)) {
      t.skip(`needs ${need} file descriptors (ulimit -Hn is lower and cannot be raised)`);
      return;
    }

    const t0 = Date.now();
    let server, port, stats;
    try {
      ({ child: server, port, stats } = await startServer({ mode: 'echo', backlog: 2048 }, need));
    } finally {
      process.env = env;
    }
    const clients = fork('many-clients.js', [String(port), String(count)], count + 1000);

    const { opened, failed } = await message(clients, 'handshakes', 30000);
    assert.deepEqual({ opened, failed }, { opened: count, failed: 0 });
    const held = await stats();
    assert.equal(held.clients, count);

    const closedAll = message(server, 'closedAll', 30000);
    const closed = message(clients, 'closed', 30000);
    server.send({ cmd: 'closeAll', code: 1000 });
    assert.equal(await closedAll, count);
    assert.deepEqual(await closed, { clean: count, unclean: 0, codes: { 1000: count } });

    const after = await stats();
    assert.equal(after.clients, 0);
    assert.deepEqual(after.closes, { 1000: count });
    t.diagnostic(`${count} connections opened and closed in ${Date.now() - t0} ms`);
  });
});
