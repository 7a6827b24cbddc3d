'use strict';

//
// express-ws has no test suite of its own (its repository has none, its npm
// package neither), so scripts/library-suites.js runs this one in its place:
// what express-ws documents (app.ws routes, route parameters, middleware,
// routers, getWss(), wsOptions, plain routes beside them), through express
// and express-ws as installed, with `ws` as installed (ws 7, express-ws's own
// dependency, or ws-native). The client is the same `ws`.
//
// Written to hold on ws 7 and ws 8 alike: ws 7 hands text messages to
// 'message' as strings and ws 8 as Buffers, so messages are read with
// String().
//

const assert = require('node:assert/strict');
const http = require('node:http');
const { once } = require('node:events');
const { test, afterEach } = require('node:test');

const express = require('express');
// Run from the express-ws package's folder, as its own tests would be.
const expressWs = require('..');
const WebSocket = require('ws');

const servers = new Set();

afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  servers.clear();
});

/**
 * An express app with express-ws on an http server on an ephemeral port.
 */
async function setup(wsOptions) {
  const app = express();
  const server = http.createServer(app);
  const instance = expressWs(app, server, wsOptions ? { wsOptions } : {});
  servers.add(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `ws://127.0.0.1:${server.address().port}`;
  return { app, server, instance, url };
}

/**
 * Connects and collects what the client sees: messages, then the close.
 */
function connect(url) {
  const ws = new WebSocket(url);
  const messages = [];
  const closed = new Promise((resolve, reject) => {
    ws.on('message', (data) => messages.push(String(data)));
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    ws.on('error', reject);
  });
  return { ws, messages, closed, opened: once(ws, 'open') };
}

function nextMessage(ws) {
  return once(ws, 'message').then(([data]) => data);
}

test('app.ws echoes text and binary messages', async () => {
  const { app, url } = await setup();
  app.ws('/echo', (ws) => {
    // ws 7 has no isBinary: a text message is a string there.
    ws.on('message', (data, isBinary = typeof data !== 'string') =>
      ws.send(data, { binary: isBinary })
    );
  });

  const c = connect(`${url}/echo`);
  await c.opened;
  c.ws.send('hello');
  assert.equal(String(await nextMessage(c.ws)), 'hello');
  c.ws.send(Buffer.from([1, 2, 3]));
  const data = await nextMessage(c.ws);
  assert.ok(Buffer.isBuffer(data));
  assert.deepEqual([...data], [1, 2, 3]);
  c.ws.close(1000, 'bye');
  assert.deepEqual(await c.closed, { code: 1000, reason: 'bye' });
});

test('route parameters and the query string reach the handler', async () => {
  const { app, url } = await setup();
  app.ws('/room/:id', (ws, req) => {
    ws.send(JSON.stringify({ id: req.params.id, q: req.query.q, url: req.url }));
    ws.close(4000, 'done');
  });

  const c = connect(`${url}/room/42?q=x`);
  const closed = await c.closed;
  assert.deepEqual(JSON.parse(c.messages[0]), {
    id: '42',
    q: 'x',
    url: '/room/42/.websocket?q=x'
  });
  assert.deepEqual(closed, { code: 4000, reason: 'done' });
});

test('middleware runs before the handler, in order', async () => {
  const { app, url } = await setup();
  app.use((req, res, next) => {
    req.seen = ['app'];
    next();
  });
  app.ws(
    '/mw',
    (ws, req, next) => {
      req.seen.push('route');
      next();
    },
    (ws, req) => {
      ws.send(req.seen.join(','));
      ws.close();
    }
  );

  const c = connect(`${url}/mw`);
  const closed = await c.closed;
  assert.deepEqual(c.messages, ['app,route']);
  assert.equal(closed.code, 1005);
});

test('an error in the middleware chain closes the connection', async () => {
  const { app, url } = await setup();
  app.use((req, res, next) => next(new Error('denied')));
  app.ws('/denied', () => assert.fail('the handler must not run'));
  // Express's final handler logs the error: keep the output clean. (An
  // error handler is told by its four parameters.)
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => res.status(403).end());

  const c = connect(`${url}/denied`);
  await c.opened;
  const closed = await c.closed;
  assert.equal(closed.code, 1005);
  assert.deepEqual(c.messages, []);
});

test('a path with no ws route is closed by the server', async () => {
  const { app, url } = await setup();
  app.ws('/here', (ws) => ws.send('here'));

  const c = connect(`${url}/elsewhere`);
  await c.opened;
  const closed = await c.closed;
  assert.equal(closed.code, 1005);
  assert.deepEqual(c.messages, []);
});

test('a router with .ws mounted under a prefix', async () => {
  const { app, url, instance } = await setup();
  const router = express.Router();
  // Express 5's Router is a class: express-ws's patch of express 4's
  // Router does not reach it, applyTo() does.
  instance.applyTo(router);
  router.ws('/feed/:name', (ws, req) => {
    ws.send(`${req.baseUrl}:${req.params.name}`);
    ws.close(1000);
  });
  app.use('/api', router);

  const c = connect(`${url}/api/feed/news`);
  const closed = await c.closed;
  assert.deepEqual(c.messages, ['/api:news']);
  assert.equal(closed.code, 1000);
});

test('getWss().clients broadcasts to every connection', async () => {
  const { app, url, instance } = await setup();
  let connected = 0;
  const ready = new Promise((resolve) => {
    app.ws('/chat', (ws) => {
      if (++connected === 3) resolve();
      ws.on('message', (data) => {
        for (const client of instance.getWss().clients) {
          if (client.readyState === WebSocket.OPEN) client.send(String(data));
        }
      });
    });
  });

  const clients = [1, 2, 3].map(() => connect(`${url}/chat`));
  await Promise.all(clients.map((c) => c.opened));
  await ready;
  assert.equal(instance.getWss().clients.size, 3);
  const received = clients.map((c) => nextMessage(c.ws));
  clients[0].ws.send('to all');
  assert.deepEqual((await Promise.all(received)).map(String), ['to all', 'to all', 'to all']);
  for (const c of clients) c.ws.close();
  await Promise.all(clients.map((c) => c.closed));
});

test('wsOptions reach the server (maxPayload)', async () => {
  const { app, url } = await setup({ maxPayload: 8 });
  const errors = [];
  app.ws('/small', (ws) => {
    ws.on('error', (err) => errors.push(err.message));
    ws.on('message', () => assert.fail('no message fits'));
  });

  const c = connect(`${url}/small`);
  await c.opened;
  c.ws.send('0123456789');
  const closed = await c.closed;
  assert.equal(closed.code, 1009);
  assert.deepEqual(errors, ['Max payload size exceeded']);
});

test('plain routes on the same path and server still answer', async () => {
  const { app, server, url } = await setup();
  app.get('/both', (req, res) => res.send('http'));
  app.ws('/both', (ws) => ws.send('ws'));

  const res = await fetch(`http://127.0.0.1:${server.address().port}/both`);
  assert.equal(await res.text(), 'http');

  const c = connect(`${url}/both`);
  assert.equal(String(await nextMessage(c.ws)), 'ws');
  c.ws.close();
  await c.closed;
});

test('the server sees the close code and reason the client sends', async () => {
  const { app, url } = await setup();
  const serverClosed = new Promise((resolve) => {
    app.ws('/bye', (ws) => {
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    });
  });

  const c = connect(`${url}/bye`);
  await c.opened;
  c.ws.close(4001, 'leaving');
  assert.deepEqual(await serverClosed, { code: 4001, reason: 'leaving' });
  assert.deepEqual(await c.closed, { code: 4001, reason: 'leaving' });
});

test('ping and pong between server and client', async () => {
  const { app, url } = await setup();
  const pong = new Promise((resolve) => {
    app.ws('/ping', (ws) => {
      ws.on('pong', (data) => resolve(String(data)));
      ws.ping('are you there');
    });
  });

  const c = connect(`${url}/ping`);
  const [ping] = await once(c.ws, 'ping');
  assert.equal(String(ping), 'are you there');
  assert.equal(await pong, 'are you there');
  c.ws.terminate();
});
