'use strict';

//
// Bun's `serve()` on Node. The same program (tests/fixtures/serve-app.js)
// runs under real Bun (`Bun.serve`) where the machine has it (npm's
// @oven/bun-linux-x64, in .nodes/bun/ or $BUN) and under Node with
// ws-native's `serve()`; one scenario of HTTP requests and WebSocket
// clients (the npm `ws` client) runs against each, and what the clients
// saw and what the handlers logged must be the same, but for the
// differences ws-native chose (listed in `normalize()`). Then what Bun is
// not asked: ws-native's own guarantees.
//

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { afterEach, describe, test } = require('node:test');

const { IS_NATIVE, bounded, cleanup, deferred, onceEvent, ref, sut, track } = require('./helpers');

afterEach(cleanup);

const ROOT = path.join(__dirname, '..');
const APP = path.join(__dirname, 'fixtures', 'serve-app.js');

function findBun() {
  const candidates = [
    process.env.BUN,
    path.join(ROOT, '.nodes', 'bun', 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun')
  ];

  for (const c of candidates) {
    if (c && fs.existsSync(c)) return c;
  }

  return null;
}

/**
 * Starts the app under `runtime` (a path to bun or node); resolves with
 * its port and a function that returns its log (JSON lines) once it exits.
 */
async function startApp(runtime) {
  const proc = spawn(runtime, [APP], {
    cwd: ROOT,
    env: { ...process.env, WS_NATIVE_PATH: ROOT },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const lines = [];
  let buffered = '';
  let stderr = '';
  const listening = deferred();
  const exited = deferred();

  proc.stdout.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const entry = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (entry[0] === 'listening') listening.resolve(entry[1]);
      else lines.push(entry);
    }
  });
  proc.stderr.on('data', (d) => (stderr += d));
  proc.on('exit', () => exited.resolve());
  track({ terminate: () => proc.kill() });

  const port = await bounded(
    Promise.race([listening.promise, exited.promise.then(() => {
      throw new Error(`${path.basename(runtime)} exited: ${stderr}`);
    })]),
    'app listening',
    20000
  );

  return {
    port,
    async log() {
      await bounded(exited.promise, 'app exit', 15000);
      return lines;
    }
  };
}

/** A WebSocket client of the app that records what it sees. */
async function client(port, name, { proto, expectOpen = true } = {}) {
  const WS = ref().WebSocket;
  const query = `name=${name}${proto ? `&proto=${proto}` : ''}`;
  const ws = track(new WS(`ws://127.0.0.1:${port}/ws?${query}`, proto ? [proto] : []));
  ws.seen = [];
  ws.next = [];
  ws.on('message', (data, isBinary) => {
    const entry = ['message', isBinary ? data.toString('hex') : data.toString(), isBinary];
    ws.seen.push(entry);
    const waiter = ws.next.shift();
    if (waiter) waiter(entry);
  });
  ws.on('ping', (data) => ws.seen.push(['ping', data.toString()]));
  ws.on('close', (code, reason) => ws.seen.push(['close', code, reason.toString()]));
  ws.on('error', (err) => ws.seen.push(['error', err.message]));
  if (expectOpen) await onceEvent(ws, 'open', `${name} open`);
  ws.protocolSeen = ws.protocol;
  return ws;
}

function nextMessage(ws) {
  return bounded(new Promise((resolve) => ws.next.push(resolve)), 'message');
}

async function scenario(port) {
  const base = `http://127.0.0.1:${port}`;
  const http = [];
  const r = async (url, init) => {
    const res = await fetch(base + url, init);
    http.push([url, res.status, await res.text(), res.headers.get('x-one'), res.headers.getSetCookie()]);
  };

  await r('/hello');
  await r('/echo', { method: 'POST', body: 'abc' });
  await r('/headers');
  await r('/stream');
  await r('/throw');
  await r('/ws');

  const a = await client(port, 'a');
  const b = await client(port, 'b');
  a.send('echo hello');
  await nextMessage(a);
  a.send('binary xyz');
  await nextMessage(a);
  a.send('text t');
  await nextMessage(a);
  a.send(Buffer.from([1, 2, 3]));
  await nextMessage(a);

  // Each command waits for its acknowledgment (and what it sends first).
  const command = async (ws, text, others = []) => {
    const acked = nextMessage(ws);
    const extra = others.map((o) => nextMessage(o));
    ws.send(text);
    await acked;
    await Promise.all(extra);
  };

  await command(a, 'sub room');
  await command(b, 'sub room');
  await command(b, 'subs');
  await command(a, 'pub room hi', [b]);
  // server.publish reaches a before its acknowledgment.
  const all = nextMessage(a);
  await command(a, 'spub room all', [b]);
  await all;
  await command(b, 'unsub room');
  const again = nextMessage(a);
  await command(a, 'spub room again');
  await again;

  const pinged = bounded(new Promise((resolve) => a.once('ping', resolve)), 'ping');
  await command(a, 'ping hello');
  await pinged;
  a.ping('from client');
  await bounded(new Promise((resolve) => a.once('pong', resolve)), 'pong');

  b.close(4001, 'bye');
  await onceEvent(b, 'close');

  const c = await client(port, 'c');
  a.send('kill c');
  await onceEvent(c, 'close');

  const d = await client(port, 'd', { proto: 'chat' });
  d.close();
  await onceEvent(d, 'close');

  const e = await client(port, 'e');
  e.send('x'.repeat(2000));
  await onceEvent(e, 'close');

  const f = await client(port, 'f');
  f.send('close done');
  await onceEvent(f, 'close');

  const g = await client(port, 'g');
  g.send('terminate');
  await onceEvent(g, 'close');

  const refused = await client(port, 'r&refuse=1', { expectOpen: false });
  await onceEvent(refused, 'close');

  const h = await client(port, 'h');
  h.send('stop');
  await Promise.all([onceEvent(a, 'close'), onceEvent(h, 'close')]);

  return {
    http,
    clients: Object.fromEntries(
      [a, b, c, d, e, f, g, refused, h].map((ws, i) => [
        'abcdefgrh'[i],
        { seen: ws.seen, protocol: ws.protocolSeen }
      ])
    )
  };
}

/**
 * The differences ws-native chose, where Bun is quirky (the reference,
 * ../shared/design/bun-serve.md, leaves them to us): the close handler of a
 * connection closed for a protocol error (a message over maxPayloadLength)
 * gets the code the peer got (1009), where Bun says 1006.
 */
function normalize(log) {
  return log.map((entry) =>
    entry[0] === 'close' && entry[1] === 'e' ? ['close', 'e', 'for a message too large'] : entry
  );
}

describe('serve(): the same program under Bun and under Node', () => {
  const bun = findBun();

  test('HTTP, upgrade, messages, topics, close, stop', { skip: !IS_NATIVE || bun === null ? 'needs Bun (npm @oven/bun-linux-x64 in .nodes/bun, or $BUN) and ws-native' : false, timeout: 60000 }, async () => {
    const results = {};
    for (const [label, runtime] of [['bun', bun], ['node', process.execPath]]) {
      const app = await startApp(runtime);
      const seen = await scenario(app.port);
      results[label] = { ...seen, log: normalize(await app.log()) };
      await cleanup();
    }

    assert.deepEqual(results.node.http, results.bun.http);
    assert.deepEqual(results.node.clients, results.bun.clients);
    assert.deepEqual(results.node.log, results.bun.log);
  });
});

describe('serve(): ws-native', () => {
  async function start(options) {
    const { serve } = sut();
    const server = serve({ port: 0, hostname: '127.0.0.1', ...options });
    await server.ready;
    track({ terminate: () => server.stop(true) });
    return server;
  }

  test('upgrade() after an await, on the Request fetch was given only; upgradeError() says why', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const seen = [];
    const server = await start({
      async fetch(req, srv) {
        await new Promise((r) => setTimeout(r, 10));
        seen.push(['copy', srv.upgrade(new Request(req)), srv.upgradeError(new Request(req)).status]);
        const ok = srv.upgrade(req, { data: 7 });
        seen.push(['original', ok, srv.upgrade(req), srv.upgradeError(req).message]);
        return ok ? undefined : new Response('no', { status: 400 });
      },
      websocket: { open(ws) { seen.push(['open', ws.data]); } }
    });
    const ws = track(new (ref().WebSocket)(`ws://127.0.0.1:${server.port}/`));
    await onceEvent(ws, 'open');
    assert.deepEqual(seen, [
      ['copy', false, 500],
      ['open', 7],
      ['original', true, false, 'The request was already upgraded']
    ]);
  });

  test('upgrade() after an await: bytes sent meanwhile arrive after open, a peer gone meanwhile closes', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const net = require('node:net');
    const log = [];
    const closed = deferred();
    const server = await start({
      async fetch(req, srv) {
        // Long enough for the pipelined frame (or the FIN) to be there.
        await new Promise((r) => setTimeout(r, 30));
        const path = new URL(req.url).pathname;
        const ok = srv.upgrade(req, { data: path });
        log.push(['upgrade', path, ok]);
        // Where the transport saw the peer go (a stream), there is nothing
        // to upgrade; where it did not (native), open and close follow.
        if (!ok && path === '/gone') closed.resolve();
        return ok ? undefined : new Response('no', { status: 400 });
      },
      websocket: {
        open(ws) { log.push(['open', ws.data]); },
        message(ws, msg) { log.push(['message', ws.data, msg]); ws.close(1000); },
        close(ws, code) {
          log.push(['close', ws.data, code]);
          if (ws.data === '/gone') closed.resolve();
        }
      }
    });
    const head = (p) =>
      `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Sec-WebSocket-Version: 13\r\n\r\n';
    // "hi", masked with a zero key.
    const frame = Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]);

    const a = net.connect(server.port, '127.0.0.1');
    track({ terminate: () => a.destroy() });
    a.write(Buffer.concat([Buffer.from(head('/early')), frame]));
    const got = [];
    a.on('data', (d) => {
      got.push(d);
      // Answers the close frame as a peer does (masked, code 1000).
      if (Buffer.concat(got).includes(Buffer.from([0x88, 0x02, 0x03, 0xe8]))) {
        a.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
      }
    });
    await onceEvent(a, 'close', 'early client closed');
    const reply = Buffer.concat(got).toString('latin1');
    assert.match(reply, /^HTTP\/1\.1 101 /);
    assert.ok(reply.endsWith('\x88\x02\x03\xe8'), 'a close frame 1000 last');

    const b = net.connect(server.port, '127.0.0.1');
    track({ terminate: () => b.destroy() });
    b.on('error', () => {});
    b.write(head('/gone'), () => b.destroy());
    await bounded(closed.promise, 'close of the vanished peer');

    assert.deepEqual(log.slice(0, 4), [
      ['open', '/early'],
      ['upgrade', '/early', true],
      ['message', '/early', 'hi'],
      ['close', '/early', 1000]
    ]);
    const gone = log.slice(4).map((e) => e.slice(0, 2).concat(e[0] === 'upgrade' ? [e[2]] : []));
    assert.ok(
      JSON.stringify(gone) === JSON.stringify([['upgrade', '/gone', false]]) ||
        JSON.stringify(gone) ===
          JSON.stringify([['open', '/gone'], ['upgrade', '/gone', true], ['close', '/gone']]),
      JSON.stringify(gone)
    );
    assert.equal(server.pendingWebSockets, 0);
  });

  test('close() sends the close frame, then ends the TCP stream without waiting for the peer to answer', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const net = require('node:net');
    const server = await start({
      fetch(req, srv) {
        return srv.upgrade(req) ? undefined : new Response('no', { status: 400 });
      },
      websocket: { open(ws) { ws.close(4000, 'bye'); } }
    });
    const a = net.connect(server.port, '127.0.0.1');
    track({ terminate: () => a.destroy() });
    a.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n\r\n'
    );
    const got = [];
    a.on('data', (d) => got.push(d));
    // The peer never answers the close frame; the server's FIN comes anyway.
    await onceEvent(a, 'end', 'the end of the stream', 2000);
    const reply = Buffer.concat(got).toString('latin1');
    assert.match(reply, /^HTTP\/1\.1 101 /);
    assert.ok(reply.endsWith('\x88\x05\x0f\xa0bye'), JSON.stringify(reply.slice(-8)));
  });

  test('upgrade() throws without websocket handlers; fetch must return a Response', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    let thrown;
    const server = await start({
      fetch(req, srv) {
        try {
          srv.upgrade(req);
        } catch (err) {
          thrown = err;
        }
        return undefined;
      },
      error: (err) => new Response(err.message, { status: 500 })
    });
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /must return a Response/);
    assert.ok(thrown instanceof TypeError);
    assert.match(thrown.message, /needs WebSocket handlers/);
  });

  test('send() is the length, -1 behind backpressure then drain, 0 past backpressureLimit; control frames still go out', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const results = [];
    const drained = deferred();
    let socket;
    const server = await start({
      fetch(req, srv) {
        return srv.upgrade(req) ? undefined : new Response('no', { status: 400 });
      },
      websocket: {
        backpressureLimit: 256 * 1024,
        open(ws) {
          socket = ws;
        },
        drain(ws) {
          results.push(['drain', ws.getBufferedAmount()]);
          if (ws.getBufferedAmount() === 0) drained.resolve();
        }
      }
    });
    const net = require('node:net');
    const raw = track(net.connect(server.port, '127.0.0.1'));
    raw.write(
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
    );
    raw.pause();
    await bounded((async () => { while (!socket) await new Promise((r) => setTimeout(r, 5)); })(), 'open');
    const chunk = Buffer.alloc(64 * 1024, 1);
    const statuses = [];
    for (let i = 0; i < 100; i++) {
      statuses.push(socket.send(chunk));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(statuses[0], chunk.length);
    assert.ok(statuses.includes(-1), 'some -1');
    assert.ok(statuses.includes(0), 'some 0');
    assert.equal(socket.ping('still'), 5, 'a ping is never dropped');
    const firstZero = statuses.indexOf(0);
    assert.ok(statuses.slice(firstZero).every((s) => s === 0 || s === -1));
    raw.resume();
    raw.on('data', () => {});
    await bounded(drained.promise, 'drain to 0');
    assert.ok(results.length >= 1);
    assert.equal(socket.send('after'), 5);
  });

  test('an empty message that goes out is never 0: send(), ws.publish(), server.publish(); wss.publish() is true', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const sockets = [];
    const server = await start({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('no')),
      websocket: {
        open(ws) {
          ws.subscribe('t');
          sockets.push(ws);
        }
      }
    });
    const WS = ref().WebSocket;
    const received = { a: [], b: [] };
    const clients = {};
    for (const name of ['a', 'b']) {
      clients[name] = track(new WS(`ws://127.0.0.1:${server.port}/`));
      clients[name].on('message', (data, isBinary) => received[name].push([data.toString(), isBinary]));
      await onceEvent(clients[name], 'open');
    }
    const [a] = sockets;
    assert.equal(a.send(''), 1);
    assert.equal(a.publish('t', ''), 1, 'to b');
    assert.equal(server.publish('t', ''), 1, 'to both');
    assert.equal(server.publish('t', Buffer.alloc(0)), 1, 'binary, to both');
    assert.equal(server.publish('nobody', ''), 0);
    await bounded((async () => {
      while (received.a.length < 3 || received.b.length < 3) await new Promise((r) => setTimeout(r, 5));
    })(), 'the empty messages');
    assert.deepEqual(received.a, [['', false], ['', false], ['', true]]);
    assert.deepEqual(received.b, [['', false], ['', false], ['', true]]);

    // The ws API: `publish()` says whether a subscriber was sent it.
    const wss = track(new (sut().WebSocketServer)({ port: 0, host: '127.0.0.1' }));
    wss.on('connection', (ws) => ws.subscribe('t'));
    await onceEvent(wss, 'listening');
    const c = track(new WS(`ws://127.0.0.1:${wss.address().port}/`));
    const got = new Promise((resolve) => c.once('message', (data) => resolve(data.toString())));
    await onceEvent(c, 'open');
    await bounded((async () => {
      while (wss.subscriberCount('t') === 0) await new Promise((r) => setTimeout(r, 5));
    })(), 'subscribed');
    assert.equal(wss.publish('t', ''), true);
    assert.equal(wss.publish('nobody', ''), false);
    assert.equal(await bounded(got, 'the empty message'), '');
  });

  test('idleTimeout closes a silent connection with 1001 at the time given; pings keep a live one open', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const closes = [];
    const server = await start({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('no')),
      websocket: {
        idleTimeout: 0.3,
        sendPings: false,
        close(ws, code, reason) {
          closes.push([code, reason, Date.now()]);
        },
        message() {}
      }
    });
    const started = Date.now();
    const silent = track(new (ref().WebSocket)(`ws://127.0.0.1:${server.port}/`, { autoPong: false }));
    await onceEvent(silent, 'open');
    const [code, reason] = await onceEvent(silent, 'close');
    const elapsed = Date.now() - started;
    assert.equal(code, 1001);
    assert.equal(reason.toString(), 'Idle timeout');
    assert.ok(elapsed >= 280 && elapsed < 1500, `closed after ${elapsed} ms`);
    assert.deepEqual(closes.map((c) => c.slice(0, 2)), [[1001, 'Idle timeout']]);

    const pinged = await start({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('no')),
      websocket: { idleTimeout: 0.2, message() {} }
    });
    const live = track(new (ref().WebSocket)(`ws://127.0.0.1:${pinged.port}/`));
    let pings = 0;
    live.on('ping', () => pings++);
    await onceEvent(live, 'open');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(live.readyState, 1, 'still open');
    assert.ok(pings >= 2, `${pings} pings`);
  });

  test('idleTimeout on a WebSocketServer of the ws API: silent connections dropped, live ones pinged', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ port: 0, host: '127.0.0.1', idleTimeout: 0.3 }));
    await onceEvent(wss, 'listening');
    const url = `ws://127.0.0.1:${wss.address().port}`;
    const started = Date.now();
    const live = track(new (ref().WebSocket)(url));
    const dead = track(new (ref().WebSocket)(url, { autoPong: false }));
    let pings = 0;
    live.on('ping', () => pings++);
    const [code, reason] = await onceEvent(dead, 'close');
    const elapsed = Date.now() - started;
    assert.equal(code, 1001);
    assert.equal(reason.toString(), 'Idle timeout');
    assert.ok(elapsed >= 280 && elapsed < 1500, `after ${elapsed} ms`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(live.readyState, 1);
    assert.ok(pings >= 2, `${pings} pings`);
  });

  test('an idleTimeout longer than setTimeout() takes (24.8 days) sets one timer, not a 1 ms loop', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    let overflows = 0;
    const onWarning = (w) => {
      if (w.name === 'TimeoutOverflowWarning') overflows++;
    };
    process.on('warning', onWarning);
    t.after(() => process.removeListener('warning', onWarning));
    const closes = [];
    const server = await start({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('no')),
      websocket: {
        idleTimeout: 60 * 24 * 3600,
        sendPings: false,
        message() {},
        close: (ws, code) => closes.push(code)
      }
    });
    const ws = track(new (ref().WebSocket)(`ws://127.0.0.1:${server.port}/`));
    await onceEvent(ws, 'open');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(overflows, 0);
    assert.equal(ws.readyState, 1);
    assert.deepEqual(closes, []);
  });

  test('fetch() gets the method, URL (the first Host) and headers of each request: plain, without Host, POST, upgrade', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const net = require('node:net');
    const seen = [];
    const server = await start({
      async fetch(req, srv) {
        const body = req.method === 'POST' ? await req.text() : null;
        seen.push([req.method, req.url, [...req.headers], body]);
        if (srv.upgrade(req)) return undefined;
        return new Response('ok');
      },
      websocket: { open(ws) { ws.close(); } }
    });
    const send = (text) => new Promise((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.end(text));
      let out = '';
      socket.on('data', (d) => (out += d));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
    });
    const p = server.port;
    await bounded(send(`GET /a?b=1 HTTP/1.1\r\nHost: h.example:${p}\r\nX-A: 1\r\nx-a: 2\r\nHost: other\r\nConnection: close\r\n\r\n`), 'plain');
    await bounded(send('GET /no-host HTTP/1.0\r\n\r\n'), 'no Host');
    await bounded(send(`POST /p HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`), 'POST');
    await bounded(send(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
    ), 'upgrade');
    assert.deepEqual(seen, [
      ['GET', `http://h.example:${p}/a?b=1`, [['connection', 'close'], ['host', `h.example:${p}, other`], ['x-a', '1, 2']], null],
      ['GET', 'http://127.0.0.1/no-host', [], null],
      ['POST', `http://127.0.0.1:${p}/p`, [['connection', 'close'], ['content-length', '3'], ['host', `127.0.0.1:${p}`]], 'abc'],
      ['GET', `http://127.0.0.1:${p}/ws`, [
        ['connection', 'Upgrade'],
        ['host', `127.0.0.1:${p}`],
        ['sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        ['sec-websocket-version', '13'],
        ['upgrade', 'websocket']
      ], null]
    ]);
  });

  test('binary messages the app keeps stay as received, in every size and binaryType, after more traffic', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const crypto = require('node:crypto');
    const TYPES = ['nodebuffer', 'arraybuffer', 'uint8array'];
    // Around the size from which a range of the slab is a view, one larger
    // than the slab, and one fragmented (joined pieces).
    const SIZES = [1, 100, 4095, 4096, 5000, 16384, 70000, 200000];
    const kept = { nodebuffer: [], arraybuffer: [], uint8array: [] };
    const server = await start({
      fetch: (req, srv) => (srv.upgrade(req, { data: new URL(req.url, 'http://x').searchParams.get('t') }) ? undefined : new Response('no')),
      websocket: {
        open(ws) {
          ws.binaryType = ws.data;
        },
        message(ws, msg) {
          if (typeof msg === 'string') ws.send(msg);
          else kept[ws.data].push(msg);
        }
      }
    });
    const WS = ref().WebSocket;
    const sentBy = {};
    const check = (type) => {
      const sent = sentBy[type];
      assert.equal(kept[type].length, sent.length);
      for (let i = 0; i < sent.length; i++) {
        const msg = kept[type][i];
        const label = `${type} #${i} (${sent[i].length} B)`;
        if (type === 'nodebuffer') assert.ok(Buffer.isBuffer(msg), label);
        else if (type === 'arraybuffer') assert.ok(msg instanceof ArrayBuffer, label);
        else assert.ok(msg instanceof Uint8Array && !Buffer.isBuffer(msg), label);
        assert.equal(msg.byteLength, sent[i].length, label);
        const bytes = msg instanceof ArrayBuffer ? Buffer.from(msg) : Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
        assert.ok(bytes.equals(sent[i]), label);
      }
    };
    for (const type of TYPES) {
      const c = track(new WS(`ws://127.0.0.1:${server.port}/?t=${type}`));
      await onceEvent(c, 'open');
      const sent = (sentBy[type] = []);
      for (let round = 0; round < 2; round++) {
        for (const size of SIZES) {
          const data = crypto.randomBytes(size);
          sent.push(data);
          c.send(data);
        }
        const parts = [crypto.randomBytes(3000), crypto.randomBytes(3000), crypto.randomBytes(10)];
        sent.push(Buffer.concat(parts));
        c.send(parts[0], { fin: false });
        c.send(parts[1], { fin: false });
        c.send(parts[2], { fin: true });
        c.send('sync');
        await onceEvent(c, 'message');
      }
    }
    // Later traffic (the other connections) changed none of them.
    for (const type of TYPES) check(type);
    // Kept buffers are the app's own: changing them changes no other.
    for (const msg of kept.nodebuffer) msg.fill(0xee);
    check('arraybuffer');
    check('uint8array');
  });

  test('the same handlers on a WebSocketServer, from an Express-style request handler', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const http = require('node:http');
    const WS = sut();
    const events = [];
    const wss = track(new WS.WebSocketServer({
      noServer: true,
      websocket: {
        open: (ws) => events.push(['open', ws.data]),
        message: (ws, msg) => {
          events.push(['message', msg]);
          ws.send(`got ${msg}`);
        },
        close: (ws, code) => events.push(['close', code])
      }
    }));
    const server = track(http.createServer((req, res) => {
      if (wss.upgrade(req, { data: req.url })) return;
      res.writeHead(426).end();
    }));
    server.listen(0, '127.0.0.1');
    await onceEvent(server, 'listening');
    const client = track(new (ref().WebSocket)(`ws://127.0.0.1:${server.address().port}/room`));
    await onceEvent(client, 'open');
    client.send('hi');
    const [data] = await onceEvent(client, 'message');
    assert.equal(data.toString(), 'got hi');
    client.close();
    await onceEvent(client, 'close');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(events, [['open', '/room'], ['message', 'hi'], ['close', 1005]]);
  });
});
