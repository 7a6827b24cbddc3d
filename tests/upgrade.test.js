'use strict';

//
// ws-native's Bun-style `wss.upgrade(req, { data, headers })` and
// `wss.upgradeError(req)`, called from a plain http request handler, a Koa
// middleware and an Express route, each on a server started with
// `app.listen()` / `server.listen()` (no 'upgrade' listener anywhere).
// ws has no such API, so these are skipped when WS_IMPL=ws.
//

const assert = require('node:assert/strict');
const http = require('node:http');
const { afterEach, describe, test } = require('node:test');

const express = require('express');
const Koa = require('koa');

const {
  IS_NATIVE,
  OP,
  RawClient,
  SAMPLE_ACCEPT,
  bounded,
  cleanup,
  closePayload,
  deferred,
  frame,
  handshakeRequest,
  listenHttp,
  onceEvent,
  openClient,
  parseFrames,
  rawExchange,
  stripDate,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

const skip = !IS_NATIVE && 'upgrade(req) is ws-native only';

const UPGRADE_OPTIONS = (req) => ({
  data: { user: 'u1', url: req.url },
  headers: { 'X-Hello': 'hi' }
});

/**
 * Starts an app of `kind` that upgrades `/ws` with `wss.upgrade(req)` and
 * answers 426 otherwise, and a page on `/`. Every upgrade() result is
 * recorded in `calls`.
 */
async function startApp(kind) {
  const WS = sut();
  const wss = track(new WS.WebSocketServer({ noServer: true }));
  const calls = [];
  const tryUpgrade = (req) => {
    const ok = wss.upgrade(req, UPGRADE_OPTIONS(req));
    calls.push(ok);
    return ok;
  };
  let server;

  if (kind === 'http') {
    server = http.createServer((req, res) => {
      if (req.url.startsWith('/ws')) {
        if (tryUpgrade(req)) return;
        res.writeHead(426, { 'Content-Type': 'text/plain', 'Content-Length': 16 });
        res.end('Upgrade Required');
        return;
      }
      res.end('page');
    });
    await listenHttp(server);
  } else if (kind === 'koa') {
    const app = new Koa();
    app.use(async (ctx, next) => {
      if (ctx.path === '/ws') {
        //
        // Bun style: nothing else to do after a successful upgrade, not even
        // `ctx.respond = false`; Koa still "responds" 404 afterwards, and
        // none of it may reach the socket.
        //
        if (tryUpgrade(ctx.req)) return;
        ctx.status = 426;
        ctx.body = 'Upgrade Required';
        return;
      }
      await next();
    });
    app.use((ctx) => {
      ctx.body = 'page';
    });
    server = track(app.listen(0, '127.0.0.1'));
    await onceEvent(server, 'listening');
  } else {
    const app = express();
    app.get('/ws', (req, res) => {
      if (tryUpgrade(req)) return;
      res.status(426).type('text/plain').send('Upgrade Required');
    });
    app.get('/', (req, res) => res.send('page'));
    server = track(app.listen(0, '127.0.0.1'));
    await onceEvent(server, 'listening');
  }

  assert.equal(server.listenerCount('upgrade'), 0, 'the app must not need an upgrade listener');
  return { WS, wss, server, port: server.address().port, calls };
}

for (const kind of ['http', 'koa', 'express']) {
  describe(`upgrade(req) in ${kind === 'http' ? 'a plain http handler' : kind === 'koa' ? 'a Koa middleware' : 'an Express route'}`, { skip }, () => {
    test('a ws client exchanges messages; ws.data and the extra headers are set', async () => {
      const { WS, wss, port, calls } = await startApp(kind);
      const connection = deferred();
      wss.on('connection', (ws, req) => {
        connection.resolve({ ws, req, data: ws.data, clients: wss.clients.size });
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      });

      let upgradeHeaders;
      const client = await openClient(`ws://127.0.0.1:${port}/ws?room=7`, [], {}, (c) => {
        c.on('upgrade', (res) => (upgradeHeaders = res.headers));
      });
      const { ws, req, data, clients } = await bounded(connection.promise, 'connection');

      assert.deepEqual(calls, [true]);
      assert.ok(ws instanceof WS.WebSocket);
      assert.deepEqual(data, { user: 'u1', url: '/ws?room=7' });
      assert.equal(req.url, '/ws?room=7');
      assert.equal(clients, 1);
      assert.equal(upgradeHeaders['x-hello'], 'hi');

      for (const message of ['hello', Buffer.from([1, 2, 3]), 'x'.repeat(70000)]) {
        const reply = onceEvent(client, 'message');
        client.send(message);
        const [got, isBinary] = await reply;
        assert.equal(isBinary, Buffer.isBuffer(message));
        assert.deepEqual(got, Buffer.from(message));
      }

      const serverClose = onceEvent(ws, 'close');
      client.close(4000, 'done');
      const [code, reason] = await onceEvent(client, 'close');
      assert.equal(code, 4000);
      assert.equal(reason.toString(), 'done');
      const [serverCode] = await serverClose;
      assert.equal(serverCode, 4000);
    });

    test('a plain GET is answered 426 by the app; upgrade(req) wrote nothing', async () => {
      const { port, calls } = await startApp(kind);
      const response = stripDate(
        await rawExchange(port, 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
      );

      assert.deepEqual(calls, [false]);
      assert.match(response, /^HTTP\/1.1 426 Upgrade Required\r\n/);
      assert.match(response, /\r\n\r\nUpgrade Required$/);
      assert.equal(response.match(/HTTP\/1.1/g).length, 1);
    });

    test('a bad version is refused by upgrade(req); the app answers', async () => {
      const { port, calls } = await startApp(kind);
      const response = await rawExchange(
        port,
        handshakeRequest({ path: '/ws', headers: { 'Sec-WebSocket-Version': '12', Connection: 'Upgrade, close' } })
      );

      assert.deepEqual(calls, [false]);
      assert.match(response, /^HTTP\/1.1 426 /);
    });

    test('no stray HTTP bytes on the WebSocket stream', async () => {
      const { wss, port } = await startApp(kind);
      wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => {
          ws.send(data, { binary: isBinary });
          ws.close(1000, 'bye');
        });
      });

      const raw = new RawClient(port, { path: '/ws' });
      const { status, head } = await raw.head();
      assert.equal(status, 101);
      assert.match(head, new RegExp(`\r\nSec-WebSocket-Accept: ${SAMPLE_ACCEPT.replace(/[+/]/g, '\\$&')}\r\n`));
      assert.match(head, /\r\nX-Hello: hi\r\n/i);

      raw.send(frame(OP.TEXT, 'raw hello'));
      const all = await raw.all();
      const body = all.subarray(raw.headEnd);
      const { frames, rest } = parseFrames(body);

      assert.equal(rest.length, 0, `stray bytes: ${JSON.stringify(rest.toString('latin1'))}`);
      assert.deepEqual(
        frames.map((f) => [f.opcode, f.payload.toString('latin1')]),
        [
          [OP.TEXT, 'raw hello'],
          [OP.CLOSE, closePayload(1000, 'bye').toString('latin1')]
        ]
      );
      assert.equal(all.toString('latin1').match(/HTTP\/1.1/g).length, 1);
    });

    test('the app still serves plain pages', async () => {
      const { port } = await startApp(kind);
      const response = stripDate(
        await rawExchange(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
      );
      assert.match(response, /^HTTP\/1.1 200 OK\r\n/);
      assert.match(response, /\r\n\r\npage$/);
    });
  });
}

describe('upgrade(req): edge cases', { skip }, () => {
  test('a second upgrade() of the same request returns false', async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const results = [];
    const server = http.createServer((req) => {
      results.push(wss.upgrade(req), wss.upgrade(req));
    });
    const port = await listenHttp(server);
    const connection = onceEvent(wss, 'connection');
    const client = await openClient(`ws://127.0.0.1:${port}/`);
    await connection;
    assert.deepEqual(results, [true, false]);
    client.close();
  });

  test('upgrade(req) after the response was sent returns false', async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const results = [];
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Length': 2, Connection: 'close' });
      res.end('no');
      results.push(wss.upgrade(req));
    });
    const port = await listenHttp(server);
    const response = await rawExchange(port, handshakeRequest({}));
    assert.deepEqual(results, [false]);
    assert.match(response, /^HTTP\/1.1 200 OK\r\n/);
  });

  test("upgrade(req, { head }) from an 'upgrade' listener", async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`${ws.data}: ${data}`)));
    const server = http.createServer();
    server.on('upgrade', (req, socket, head) => {
      if (!wss.upgrade(req, { head, data: 'from upgrade' })) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      }
    });
    const port = await listenHttp(server);
    const client = await openClient(`ws://127.0.0.1:${port}/`);
    const reply = onceEvent(client, 'message');
    client.send('x');
    assert.equal((await reply)[0].toString(), 'from upgrade: x');
    client.close();

    const refused = await rawExchange(port, handshakeRequest({ headers: { 'Sec-WebSocket-Key': 'bad' } }));
    assert.equal(refused, 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  test('a subprotocol from the headers option', async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const server = http.createServer((req, res) => {
      if (!wss.upgrade(req, { headers: { 'Sec-WebSocket-Protocol': 'v2' } })) res.end();
    });
    const port = await listenHttp(server);
    const connection = onceEvent(wss, 'connection');
    const client = await openClient(`ws://127.0.0.1:${port}/`, ['v1', 'v2']);
    const [ws] = await connection;
    assert.equal(client.protocol, 'v2');
    assert.equal(ws.protocol, 'v2');
    client.close();
  });
});

describe('upgradeError(req)', { skip }, () => {
  /**
   * Sends `request` to a plain http server whose handler reports what
   * upgradeError(req) and upgrade(req) said, as JSON.
   */
  async function ask(request) {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const server = http.createServer((req, res) => {
      const error = wss.upgradeError(req);
      const upgraded = error ? wss.upgrade(req) : null;
      const body = JSON.stringify({ error, upgraded });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        Connection: 'close'
      });
      res.end(body);
    });
    const port = await listenHttp(server);
    const response = await rawExchange(port, request);
    assert.match(response, /^HTTP\/1.1 200 OK\r\n/, 'upgrade(req) must not write anything');
    assert.equal(response.match(/HTTP\/1.1/g).length, 1);
    return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
  }

  test('null for a valid request', async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const seen = [];
    const server = http.createServer((req) => {
      seen.push(wss.upgradeError(req));
      seen.push(wss.upgrade(req));
    });
    const port = await listenHttp(server);
    const connection = onceEvent(wss, 'connection');
    const client = await openClient(`ws://127.0.0.1:${port}/`);
    await connection;
    assert.deepEqual(seen, [null, true]);
    client.close();
  });

  const plainGet = 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
  const cases = [
    ['a plain GET', plainGet, [400, 426], /upgrade/i],
    ['POST', handshakeRequest({ method: 'POST', headers: { 'Content-Length': '0' } }), [405], /method|GET/],
    ['Upgrade: foo', handshakeRequest({ headers: { Upgrade: 'foo' } }), [400, 426], /Upgrade/],
    ['no Sec-WebSocket-Key', handshakeRequest({ headers: { 'Sec-WebSocket-Key': null } }), [400], /Sec-WebSocket-Key/],
    ['a bad Sec-WebSocket-Key', handshakeRequest({ headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' } }), [400], /Sec-WebSocket-Key/],
    ['no Sec-WebSocket-Version', handshakeRequest({ headers: { 'Sec-WebSocket-Version': null } }), [400, 426], /Sec-WebSocket-Version/],
    ['Sec-WebSocket-Version: 12', handshakeRequest({ headers: { 'Sec-WebSocket-Version': '12' } }), [400, 426], /Sec-WebSocket-Version/],
    ['Connection without upgrade', handshakeRequest({ headers: { Connection: 'keep-alive' } }), [400, 426], /Connection/],
    ['a bad Sec-WebSocket-Protocol', handshakeRequest({ headers: { 'Sec-WebSocket-Protocol': 'a,,b' } }), [400], /Sec-WebSocket-Protocol/]
  ];

  for (const [name, request, statuses, pattern] of cases) {
    test(name, async (t) => {
      const { error, upgraded } = await ask(request);
      t.diagnostic(`upgradeError: ${JSON.stringify(error)}`);
      assert.equal(upgraded, false);
      assert.ok(error && typeof error === 'object', 'an error object');
      assert.ok(statuses.includes(error.status), `status ${error.status}`);
      assert.equal(typeof error.message, 'string');
      assert.match(error.message, pattern);
    });
  }
});
