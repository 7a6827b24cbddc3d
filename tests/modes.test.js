'use strict';

//
// The three ws modes (`server`, `noServer`, `port`) inside real applications:
// Koa and Express sharing one http server with the WebSocket server, and two
// WebSocket servers routed by path on one http server.
//

const assert = require('node:assert/strict');
const http = require('node:http');
const { afterEach, describe, test } = require('node:test');

const express = require('express');
const Koa = require('koa');

const {
  bounded,
  cleanup,
  deferred,
  listenHttp,
  listenWss,
  onceEvent,
  openClient,
  rawExchange,
  ref,
  stripDate,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

/** GET `path` with http.get; resolves with `{ status, body }`. */
async function get(port, path, headers = {}) {
  const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false });
  const [res] = await onceEvent(req, 'response', `GET ${path}`);
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (body += chunk));
  await onceEvent(res, 'end', `body of GET ${path}`);
  return { status: res.statusCode, body };
}

/** Sends `text` from a new ws client and resolves with the reply. */
async function roundTrip(url, text) {
  const client = await openClient(url);
  const reply = onceEvent(client, 'message', `reply from ${url}`);
  client.send(text);
  const [data, isBinary] = await reply;
  client.close();
  await onceEvent(client, 'close');
  return { data: data.toString(), isBinary };
}

/** Resolves with the error of a ws client whose handshake fails. */
async function handshakeFailure(url) {
  const WebSocket = ref();
  const client = track(new WebSocket(url));
  const [err] = await onceEvent(client, 'error', `handshake failure for ${url}`);
  return err.message;
}

function echoServer(wss, tag) {
  wss.on('connection', (ws, req) => {
    ws.on('message', (data) => ws.send(`${tag} ${req.url}: ${data}`));
  });
}

describe('{ server } mode', () => {
  test('Koa: http.createServer(app.callback()) + server.listen()', async () => {
    const WS = sut();
    const app = new Koa();
    app.use((ctx) => {
      ctx.body = `koa ${ctx.path}`;
    });
    const server = http.createServer(app.callback());
    const wss = track(new WS.WebSocketServer({ server, path: '/ws' }));
    echoServer(wss, 'koa-ws');
    const port = await listenHttp(server);

    assert.deepEqual(await get(port, '/page'), { status: 200, body: 'koa /page' });
    assert.deepEqual(await roundTrip(`ws://127.0.0.1:${port}/ws?room=1`, 'hi'), {
      data: 'koa-ws /ws?room=1: hi',
      isBinary: false
    });
    // Every upgrade request goes to the WebSocket server; a wrong path is a 400.
    assert.equal(await handshakeFailure(`ws://127.0.0.1:${port}/nope`), 'Unexpected server response: 400');
  });

  test("Koa: app.listen() makes a second server, where upgrades get Koa's 404", async () => {
    const WS = sut();
    const app = new Koa();
    const shared = http.createServer(app.callback());
    track(new WS.WebSocketServer({ server: shared }));
    const other = track(app.listen(0, '127.0.0.1'));
    await onceEvent(other, 'listening');

    assert.equal(
      await handshakeFailure(`ws://127.0.0.1:${other.address().port}/`),
      'Unexpected server response: 404'
    );
  });

  test('Express: http.createServer(app) with routes', async () => {
    const WS = sut();
    const app = express();
    app.get('/page', (req, res) => res.send('express page'));
    const server = http.createServer(app);
    const wss = track(new WS.WebSocketServer({ server }));
    echoServer(wss, 'express-ws');
    const port = await listenHttp(server);

    assert.deepEqual(await get(port, '/page'), { status: 200, body: 'express page' });
    assert.equal((await get(port, '/missing')).status, 404);
    assert.equal((await roundTrip(`ws://127.0.0.1:${port}/any`, 'x')).data, 'express-ws /any: x');
  });

  test("the http server's 'listening' and 'error' events are re-emitted", async () => {
    const WS = sut();
    const server = http.createServer();
    const wss = track(new WS.WebSocketServer({ server }));
    const listening = onceEvent(wss, 'listening');
    await listenHttp(server);
    await listening;

    const error = onceEvent(wss, 'error');
    const boom = new Error('boom');
    server.emit('error', boom);
    assert.equal((await error)[0], boom);
  });
});

describe('{ noServer: true }', () => {
  test('two servers on one http server, routed by path', async () => {
    const WS = sut();
    const chat = track(new WS.WebSocketServer({ noServer: true }));
    const feed = track(new WS.WebSocketServer({ noServer: true }));
    echoServer(chat, 'chat');
    echoServer(feed, 'feed');

    const server = http.createServer((req, res) => res.end('http'));
    server.on('upgrade', (req, socket, head) => {
      const { pathname } = new URL(req.url, 'http://localhost');
      const target = pathname === '/chat' ? chat : pathname === '/feed' ? feed : null;
      if (!target) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      target.handleUpgrade(req, socket, head, (ws) => target.emit('connection', ws, req));
    });
    const port = await listenHttp(server);

    const [a, b] = await Promise.all([
      roundTrip(`ws://127.0.0.1:${port}/chat`, 'one'),
      roundTrip(`ws://127.0.0.1:${port}/feed?x`, 'two')
    ]);
    assert.equal(a.data, 'chat /chat: one');
    assert.equal(b.data, 'feed /feed?x: two');
    assert.equal(await handshakeFailure(`ws://127.0.0.1:${port}/other`), 'Unexpected server response: 404');
    assert.deepEqual(await get(port, '/'), { status: 200, body: 'http' });
  });

  test('clients are tracked per server and close() waits for them', async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const server = http.createServer();
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    const port = await listenHttp(server);
    const connected = onceEvent(wss, 'connection');
    const client = await openClient(`ws://127.0.0.1:${port}`);
    const [ws] = await connected;
    assert.equal(wss.clients.size, 1);

    const closed = deferred();
    wss.close(() => closed.resolve('closed'));
    let settled = false;
    closed.promise.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'close() must wait for the client');

    ws.close();
    await onceEvent(client, 'close');
    assert.equal(await bounded(closed.promise, 'wss close callback'), 'closed');
    assert.equal(wss.clients.size, 0);
  });
});

describe('{ port } mode', () => {
  test('echo, address() and a 426 for plain requests', async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS);
    echoServer(wss, 'port');

    const address = wss.address();
    assert.equal(address.address, '127.0.0.1');
    assert.equal(address.family, 'IPv4');
    assert.equal((await roundTrip(`ws://127.0.0.1:${port}/p`, 'z')).data, 'port /p: z');

    const plain = stripDate(
      await rawExchange(port, 'GET /p HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    );
    assert.equal(
      plain,
      'HTTP/1.1 426 Upgrade Required\r\n' +
        'Content-Length: 16\r\n' +
        'Content-Type: text/plain\r\n' +
        'Connection: close\r\n\r\n' +
        'Upgrade Required'
    );
  });

  test('the listening callback and close() of the internal server', async () => {
    const WS = sut();
    const listening = deferred();
    const wss = track(new WS.WebSocketServer({ port: 0, host: '127.0.0.1' }, () => listening.resolve()));
    await bounded(listening.promise, 'listening callback');
    const { port } = wss.address();
    const closed = deferred();
    wss.close((err) => closed.resolve(err));
    assert.equal(await bounded(closed.promise, 'close callback'), undefined);
    assert.match(await handshakeFailure(`ws://127.0.0.1:${port}`), /ECONNREFUSED/);
  });
});
