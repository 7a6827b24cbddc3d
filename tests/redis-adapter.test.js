'use strict';

//
// The Redis adapter (js/redis.js, `require('ws-native/redis')`), against a
// real redis-server of the test's own on 127.0.0.1 and a free port, with each
// client library it supports: node-redis 4, 5 and 6 and ioredis 5 and 6
// (tests/redis-helpers.js). The adapter is driven by a stand-in for the
// server's topic registry (tests/fixtures/fake-hub.js); the scenarios with
// several processes run real child processes (tests/fixtures/redis-worker.js).
// Without redis-server, the tests that need it skip, saying how to install
// it. Every wait is bounded.
//

const assert = require('node:assert/strict');
const { fork } = require('node:child_process');
const path = require('node:path');
const { after, afterEach, before, describe, test } = require('node:test');

const { createAdapter, RedisAdapter } = require('../js/redis');
const { FakeServer, FakeSocket } = require('./fixtures/fake-hub');
const {
  FLAVOURS,
  INSTALL_HINT,
  RedisServer,
  bounded,
  channels,
  closeClient,
  command,
  connectClients,
  findRedisServer,
  isIoredis,
  isReady,
  numsub,
  sleep,
  waitFor
} = require('./redis-helpers');

const REDIS_SERVER = findRedisServer();
const skip = REDIS_SERVER ? false : INSTALL_HINT;

// How long a client may take to reconnect after a restart.
const RECONNECT_MS = 10000;

let redis = null;
let prefixes = 0;
const cleanups = [];
const unhandled = [];

process.on('unhandledRejection', (reason) => unhandled.push(reason));

before(async () => {
  if (skip) return;
  redis = new RedisServer(REDIS_SERVER);
  await redis.start();
});

after(async () => {
  if (redis) await redis.stop();
});

afterEach(async () => {
  const list = cleanups.splice(0).reverse();
  for (const fn of list) {
    try {
      await bounded(Promise.resolve(fn()), 'cleanup');
    } catch {
      // Best effort: the test already failed.
    }
  }
  assert.deepEqual(unhandled.splice(0), [], 'no unhandled rejection');
});

/**
 * A redis-server for one test (which restarts it), stopped after the test.
 */
async function ownRedis() {
  const server = new RedisServer(REDIS_SERVER);
  cleanups.push(() => server.stop());
  await server.start();
  return server;
}

/**
 * Waits until `count` connections are subscribed to `prefix + topic`.
 */
function subscribers(server, prefix, topic, count, ms) {
  return waitFor(
    async () => (await numsub(server.port, prefix + topic)) === count,
    `${count} subscribed to ${topic}`,
    ms
  );
}

/**
 * A fresh channel prefix, so that the tests do not hear each other.
 */
function freshPrefix() {
  return `test-${process.pid}-${++prefixes}:`;
}

/**
 * Clients of `flavour`, closed after the test.
 */
async function clientsOf(flavour, server = redis, options) {
  const clients = await connectClients(flavour, server.url, options);
  cleanups.push(() => closeClient(clients.pub), () => closeClient(clients.sub));
  return clients;
}

/**
 * A "process": clients of `flavour`, an adapter on them and a FakeServer
 * driving it. The adapter's errors are collected in `errors`.
 */
async function node(flavour, prefix, { server = redis, ...options } = {}) {
  const clients = await clientsOf(flavour, server, options);
  const adapter = createAdapter(clients.pub, clients.sub, { prefix });
  const errors = [];
  adapter.on('error', (err) => errors.push(err));
  cleanups.push(() => adapter.close());
  return { clients, adapter, errors, hub: new FakeServer({ adapter }) };
}

/**
 * Waits until `socket` got a message for which `match(text)` holds.
 */
function receivedWhere(socket, match, label, ms) {
  return waitFor(() => socket.texts().some(match), label, ms);
}

/**
 * Makes sure that every message published through `from` before this call
 * that could reach `to` has reached it: `from` publishes a marker on a
 * barrier topic and we wait until `to` gets it. Redis forwards a
 * connection's messages in order, so anything `to` would have got (an echo
 * included) came before.
 */
async function barrier(from, to) {
  const topic = '__barrier';
  const mark = `mark-${Math.random()}`;
  const ws = new FakeSocket();

  to.hub.subscribe(ws, topic);
  await waitFor(
    async () => (await numsub(redis.port, to.adapter.prefix + topic)) > 0,
    'barrier subscribed'
  );
  from.hub.publish(topic, mark);
  await receivedWhere(ws, (t) => t === mark, 'barrier marker');
  to.hub.unsubscribe(ws, topic);
}

function subscribedCount(prefix, topic) {
  return numsub(redis.port, prefix + topic);
}

describe('createAdapter()', () => {
  test('is the subpath export, for require and import', async () => {
    const fromRequire = require('ws-native/redis');
    const fromImport = await import('ws-native/redis');

    assert.equal(fromRequire.createAdapter, createAdapter);
    assert.equal(fromImport.createAdapter, createAdapter);
    assert.equal(fromImport.RedisAdapter, RedisAdapter);
  });

  test('refuses what is not a client, saying what to pass', () => {
    for (const bad of [undefined, null, 'redis://127.0.0.1:6379', {}, 42]) {
      assert.throws(
        () => createAdapter(bad, bad),
        (err) =>
          err instanceof TypeError &&
          /pubClient must be a node-redis client \(createClient\(\)/.test(
            err.message
          ) &&
          /ioredis client \(new Redis\(\)/.test(err.message)
      );
    }

    assert.throws(
      () => createAdapter('redis://127.0.0.1:6379', {}),
      /got a string \(a URL\?\)/
    );
  });

  test('takes node-redis 4, 5, 6 and ioredis 5, 6 clients without connecting', async () => {
    for (const flavour of FLAVOURS) {
      let pub, sub;

      if (isIoredis(flavour)) {
        const Redis = require(flavour);
        pub = new Redis({ lazyConnect: true });
        sub = new Redis({ lazyConnect: true });
      } else {
        const { createClient } = require(flavour);
        pub = createClient();
        sub = createClient();
      }

      const adapter = createAdapter(pub, sub);
      assert.ok(adapter instanceof RedisAdapter, flavour);
      assert.equal(adapter.prefix, 'ws-native:');
      assert.equal(adapter.dropped, 0);
      await adapter.close();
    }

    // node-redis 4's legacyMode: the promise API is under client.v4.
    const { createClient } = require('redis4');
    const legacy = createClient({ legacyMode: true });
    await createAdapter(legacy, createClient({ legacyMode: true })).close();
  });

  test('needs two connections, and a subClient of its own', async () => {
    const { createClient } = require('redis');
    const pub = createClient();
    const sub = createClient();

    assert.throws(() => createAdapter(pub, pub), {
      name: 'TypeError',
      message: /two connections .* pubClient\.duplicate\(\)/
    });

    const first = createAdapter(pub, sub);
    assert.throws(() => createAdapter(pub, sub), /used by another adapter/);
    await first.close();
    await createAdapter(pub, sub).close();

    assert.throws(() => createAdapter(pub, sub, { prefix: 1 }), {
      name: 'TypeError',
      message: /prefix must be a string/
    });
  });

  test('is attached to one server only', async () => {
    const { createClient } = require('redis');
    const adapter = createAdapter(createClient(), createClient());
    const hub = { deliver() {}, topics: () => [] };

    assert.throws(() => adapter.attach({}), TypeError);
    adapter.attach(hub);
    assert.throws(() => adapter.attach(hub), {
      message: 'one adapter per server: call createAdapter() for each'
    });
    assert.throws(() => new FakeServer({ adapter }), /one adapter per server/);

    await adapter.close();
    const closed = createAdapter(createClient(), createClient());
    await closed.close();
    assert.throws(() => closed.attach(hub), /closed/);
  });
});

for (const flavour of FLAVOURS) {
  describe(`with ${flavour}`, { skip }, () => {
    test('subscribes on the first local subscriber, unsubscribes on the last', async () => {
      const prefix = freshPrefix();
      const a = await node(flavour, prefix);
      const ws1 = new FakeSocket();
      const ws2 = new FakeSocket();

      a.hub.subscribe(ws1, 'room');
      a.hub.subscribe(ws2, 'room');
      await waitFor(
        async () => (await subscribedCount(prefix, 'room')) === 1,
        'room subscribed'
      );
      assert.deepEqual(await channels(redis.port, prefix), [`${prefix}room`]);

      a.hub.unsubscribe(ws1, 'room');
      await sleep(50);
      assert.equal(await subscribedCount(prefix, 'room'), 1);

      a.hub.unsubscribe(ws2, 'room');
      await waitFor(
        async () => (await channels(redis.port, prefix)).length === 0,
        'room unsubscribed'
      );
    });

    test('delivers once to every other process and not back, text and binary kept', async () => {
      const prefix = freshPrefix();
      const a = await node(flavour, prefix);
      const b = await node(flavour, prefix);
      const c = await node(flavour, prefix);
      const [wsA, wsB, wsC, wsOther] = [1, 2, 3, 4].map(() => new FakeSocket());

      a.hub.subscribe(wsA, 'chat');
      b.hub.subscribe(wsB, 'chat');
      c.hub.subscribe(wsC, 'chat');
      c.hub.subscribe(wsOther, 'other');
      await waitFor(
        async () => (await subscribedCount(prefix, 'chat')) === 3,
        'chat subscribed thrice'
      );

      const bytes = Buffer.from([0, 0xff, 0xc3, 0x28, 0x0a, 0x80]);
      a.hub.publish('chat', 'héllo');
      a.hub.publish('chat', bytes, { compress: false });
      a.hub.publish('chat', 'as binary', { binary: true });
      a.hub.publish('chat', Buffer.from('as text'), { binary: false });

      const expected = [
        { data: Buffer.from('héllo'), isBinary: false, compress: true },
        { data: bytes, isBinary: true, compress: false },
        { data: Buffer.from('as binary'), isBinary: true, compress: true },
        { data: Buffer.from('as text'), isBinary: false, compress: true }
      ];

      await barrier(b, a);
      await barrier(a, b);
      await barrier(a, c);

      // The publisher's own subscriber: locally, once; no echo from Redis.
      assert.deepEqual(wsA.messages, expected);
      assert.deepEqual(wsB.messages, expected);
      assert.deepEqual(wsC.messages, expected);
      assert.deepEqual(wsOther.messages, []);
      for (const n of [a, b, c]) {
        assert.deepEqual(n.errors, []);
        assert.equal(n.adapter.dropped, 0);
      }
    });

    test('ws.publish() skips its sender only', async () => {
      const prefix = freshPrefix();
      const a = await node(flavour, prefix);
      const b = await node(flavour, prefix);
      const sender = new FakeSocket();
      const [local, remote] = [new FakeSocket(), new FakeSocket()];

      a.hub.subscribe(sender, 'room');
      a.hub.subscribe(local, 'room');
      b.hub.subscribe(remote, 'room');
      await waitFor(
        async () => (await subscribedCount(prefix, 'room')) === 2,
        'room subscribed twice'
      );

      a.hub.publish('room', 'from sender', {}, sender);
      await receivedWhere(remote, (t) => t === 'from sender', 'remote delivery');
      await barrier(b, a);

      assert.deepEqual(sender.texts(), []);
      assert.deepEqual(local.texts(), ['from sender']);
      assert.deepEqual(remote.texts(), ['from sender']);
    });

    test('close() unsubscribes and stops delivering, and leaves the clients open', async () => {
      const prefix = freshPrefix();
      const a = await node(flavour, prefix);
      const b = await node(flavour, prefix);
      const [wsA, wsB] = [new FakeSocket(), new FakeSocket()];

      a.hub.subscribe(wsA, 'x');
      a.hub.subscribe(wsA, 'y');
      b.hub.subscribe(wsB, 'x');
      await waitFor(
        async () => (await channels(redis.port, prefix)).length === 2,
        'x and y subscribed'
      );

      await a.adapter.close();
      assert.equal(await subscribedCount(prefix, 'x'), 1);
      assert.equal(await subscribedCount(prefix, 'y'), 0);
      assert.equal(a.adapter.close(), a.adapter.close(), 'the same promise');

      // Closed: no publish out, nothing delivered in.
      a.hub.publish('x', 'after close');
      b.hub.publish('x', 'from b');
      await sleep(100);
      assert.deepEqual(wsA.texts(), ['after close']);
      assert.deepEqual(wsB.texts(), ['from b']);

      // The application's clients still work.
      const { pub, sub } = a.clients;
      assert.equal(await pub.publish(`${prefix}x`, 'raw'), 1);
      assert.ok(isReady(sub));
    });

    test('resubscribes after a Redis restart and delivery resumes', async () => {
      const server = await ownRedis();

      const prefix = freshPrefix();
      const a = await node(flavour, prefix, { server });
      const b = await node(flavour, prefix, { server });
      const [wsA, wsB] = [new FakeSocket(), new FakeSocket()];

      a.hub.subscribe(wsA, 'news');
      b.hub.subscribe(wsB, 'news');
      b.hub.subscribe(wsB, 'alerts');
      await subscribers(server, prefix, 'news', 2);

      a.hub.publish('news', 'before');
      await receivedWhere(wsB, (t) => t === 'before', 'before the restart');

      await server.stop();
      await waitFor(
        () => !isReady(a.clients.pub) && !isReady(b.clients.sub),
        'clients see the crash'
      );

      // Queued by the client (offline queue), not lost by the adapter.
      a.hub.publish('news', 'while down');
      await sleep(100);
      await server.start();

      await waitFor(
        async () =>
          (await numsub(server.port, `${prefix}news`)) === 2 &&
          (await numsub(server.port, `${prefix}alerts`)) === 1,
        'resubscribed',
        RECONNECT_MS
      );

      let i = 0;
      await waitFor(
        () => {
          a.hub.publish('news', `after:${i++}`);
          return wsB.texts().some((t) => t.startsWith('after:'));
        },
        'delivery after the restart',
        RECONNECT_MS,
        50
      );

      // In order, no duplicate; 'while down' came or was lost, not later.
      const after = wsB.texts().filter((t) => t.startsWith('after:'));
      const seen = after.map((t) => Number(t.slice(6)));
      assert.deepEqual(seen, [...seen].sort((x, y) => x - y));
      assert.equal(new Set(seen).size, seen.length);
      const texts = wsB.texts();
      assert.equal(texts[0], 'before');
      assert.ok(texts.indexOf('while down') <= 1);
      assert.equal(a.adapter.dropped, 0, 'queued, not dropped');
      // Local delivery never depended on Redis.
      assert.equal(wsA.texts().filter((t) => t === 'while down').length, 1);
    });
  });
}

describe('topics and channels', { skip }, () => {
  test('a topic is one exact channel: glob characters, Unicode, empty', async () => {
    const prefix = freshPrefix();
    const a = await node('redis', prefix);
    const b = await node('ioredis', prefix);
    const topics = ['news.*', 'news.sport', 'a?c', 'abc', '[x]', 'x', 'ü/日本', ''];
    const sockets = new Map(topics.map((t) => [t, new FakeSocket(t)]));

    for (const topic of ['news.*', 'a?c', '[x]', 'ü/日本', '']) {
      b.hub.subscribe(sockets.get(topic), topic);
    }
    await waitFor(
      async () => (await channels(redis.port, prefix)).length === 5,
      'five channels'
    );

    for (const topic of topics) a.hub.publish(topic, `to ${topic}`);
    await barrier(a, b);

    for (const topic of ['news.*', 'a?c', '[x]', 'ü/日本', '']) {
      assert.deepEqual(sockets.get(topic).texts(), [`to ${topic}`], topic);
    }
  });

  test('adapters with another prefix do not hear each other', async () => {
    const a = await node('redis', freshPrefix());
    const b = await node('redis', freshPrefix());
    const c = await node('redis', a.adapter.prefix);
    const [wsB, wsC] = [new FakeSocket(), new FakeSocket()];

    b.hub.subscribe(wsB, 'room');
    c.hub.subscribe(wsC, 'room');
    await waitFor(
      async () =>
        (await subscribedCount(b.adapter.prefix, 'room')) === 1 &&
        (await subscribedCount(c.adapter.prefix, 'room')) === 1,
      'room subscribed'
    );

    a.hub.publish('room', 'hello');
    await receivedWhere(wsC, (t) => t === 'hello', 'same prefix');
    await sleep(50);
    assert.deepEqual(wsB.texts(), []);
  });

  test('subscribes at attach to the topics the hub has', async () => {
    const prefix = freshPrefix();
    const { pub, sub } = await clientsOf('redis');
    const adapter = createAdapter(pub, sub, { prefix });
    cleanups.push(() => adapter.close());

    adapter.attach({ deliver() {}, topics: () => new Set(['one', 'two']) });
    await waitFor(
      async () => (await channels(redis.port, prefix)).length === 2,
      'one and two subscribed'
    );
    assert.deepEqual(await channels(redis.port, prefix), [
      `${prefix}one`,
      `${prefix}two`
    ]);
  });

  for (const flavour of ['redis', 'ioredis']) {
    test(`quick add/remove sequences end as the hub left them (${flavour})`, async () => {
      const prefix = freshPrefix();
      const a = await node(flavour, prefix);
      const ws = new FakeSocket();

      for (let i = 0; i < 5; i++) {
        a.hub.subscribe(ws, 'on');
        a.hub.unsubscribe(ws, 'on');
        a.hub.subscribe(ws, 'off');
        a.hub.unsubscribe(ws, 'off');
      }
      a.hub.subscribe(ws, 'on');

      await waitFor(
        async () => {
          const list = await channels(redis.port, prefix);
          return list.length === 1 && list[0] === `${prefix}on`;
        },
        'only "on" subscribed'
      );
      await sleep(100);
      assert.deepEqual(await channels(redis.port, prefix), [`${prefix}on`]);
    });

    test(`works with clients still connecting (${flavour})`, async () => {
      const prefix = freshPrefix();
      const clients = await clientsOf(flavour, redis, { wait: false });
      const adapter = createAdapter(clients.pub, clients.sub, { prefix });
      cleanups.push(() => adapter.close());
      const hub = new FakeServer({ adapter });
      const other = await node(flavour, prefix);
      const [ws, remote] = [new FakeSocket(), new FakeSocket()];

      hub.subscribe(ws, 'early');
      other.hub.subscribe(remote, 'early');
      hub.publish('early', 'first');

      await receivedWhere(remote, (t) => t === 'first', 'publish sent once connected');
      await waitFor(
        async () => (await subscribedCount(prefix, 'early')) === 2,
        'subscribed once connected'
      );
      other.hub.publish('early', 'second');
      await receivedWhere(ws, (t) => t === 'second', 'delivered');
      assert.deepEqual(ws.texts(), ['first', 'second']);
    });
  }

  test('drops a message seen twice and ignores one in another format', async () => {
    const prefix = freshPrefix();
    const a = await node('redis', prefix);
    const ws = new FakeSocket();

    a.hub.subscribe(ws, 't');
    await waitFor(async () => (await subscribedCount(prefix, 't')) === 1, 'subscribed');

    // Version 1, binary; origin 8 bytes; sequence number 5; payload.
    const envelope = (seq, text) =>
      Buffer.concat([
        Buffer.from([0x11]),
        Buffer.from('0123456789abcdef', 'hex'),
        Buffer.from([0, 0, 0, 0, 0, seq]),
        Buffer.from(text)
      ]);

    await command(redis.port, ['PUBLISH', `${prefix}t`, envelope(5, 'five')]);
    await command(redis.port, ['PUBLISH', `${prefix}t`, envelope(5, 'five')]);
    await command(redis.port, ['PUBLISH', `${prefix}t`, envelope(4, 'four')]);
    await command(redis.port, ['PUBLISH', `${prefix}t`, 'not an envelope']);
    await command(redis.port, ['PUBLISH', `${prefix}t`, envelope(6, 'six')]);

    await receivedWhere(ws, (t) => t === 'six', 'six');
    assert.deepEqual(ws.messages.map((m) => [m.data.toString(), m.isBinary, m.compress]), [
      ['five', true, false],
      ['six', true, false]
    ]);
    assert.equal(a.errors.length, 1);
    assert.match(a.errors[0].message, /not in this adapter's format/);
  });

  test('an error without listener is one process warning, not a throw', async () => {
    const prefix = freshPrefix();
    const { pub, sub } = await clientsOf('ioredis');
    const adapter = createAdapter(pub, sub, { prefix });
    cleanups.push(() => adapter.close());
    const hub = new FakeServer({ adapter });
    const warnings = [];
    const emitWarning = process.emitWarning;

    // Caught here rather than printed in the middle of the test report.
    process.emitWarning = (message, options) => warnings.push({ message, ...options });
    cleanups.push(() => (process.emitWarning = emitWarning));

    hub.subscribe(new FakeSocket(), 't');
    await waitFor(async () => (await subscribedCount(prefix, 't')) === 1, 'subscribed');
    await command(redis.port, ['PUBLISH', `${prefix}t`, 'garbage']);
    await command(redis.port, ['PUBLISH', `${prefix}t`, 'garbage']);
    await waitFor(() => warnings.length === 1, 'warning');
    await sleep(50);

    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].code, 'WS_NATIVE_REDIS_ERROR');
    assert.match(warnings[0].message, /listen to the adapter's 'error' event/);
  });
});

describe('while Redis is down', { skip }, () => {
  for (const flavour of ['redis4', 'redis', 'ioredis']) {
    test(`refused publishes are counted and emitted, never unhandled (${flavour}, no offline queue)`, async () => {
      const server = await ownRedis();

      const prefix = freshPrefix();
      const a = await node(flavour, prefix, { server, offlineQueue: false });
      const ws = new FakeSocket();
      a.hub.subscribe(ws, 'room');
      await subscribers(server, prefix, 'room', 1);

      await server.stop();
      const { pub } = a.clients;
      await waitFor(
        () => !isReady(pub),
        'the client sees the crash'
      );

      for (let i = 0; i < 3; i++) a.hub.publish('room', `lost ${i}`);
      await waitFor(() => a.adapter.dropped === 3, 'three dropped');
      assert.equal(a.errors.length, 3);
      assert.match(a.errors[0].message, /^ws-native\/redis: a publish was dropped: /);
      assert.ok(a.errors[0].cause instanceof Error);
      // Delivered locally all the same.
      assert.equal(ws.texts().length, 3);

      await server.start();
      await subscribers(server, prefix, 'room', 1, RECONNECT_MS);
    });
  }

  for (const [flavour, offlineQueue] of [
    ['redis4', false],
    ['redis', false],
    ['ioredis', false],
    ['redis4', true],
    ['redis', true],
    ['ioredis', true]
  ]) {
    const queue = offlineQueue ? 'offline queue' : 'no offline queue';
    test(`topics added and removed while down are applied once back (${flavour}, ${queue})`, async () => {
      const server = await ownRedis();

      const prefix = freshPrefix();
      const a = await node(flavour, prefix, { server });
      const b = await node(flavour, prefix, { server, offlineQueue });
      const ws = new FakeSocket();
      b.hub.subscribe(ws, 'old');
      await subscribers(server, prefix, 'old', 1);

      await server.stop();
      const { sub } = b.clients;
      await waitFor(
        () => !isReady(sub),
        'the client sees the crash'
      );
      b.hub.unsubscribe(ws, 'old');
      b.hub.subscribe(ws, 'new');
      await sleep(50);
      await server.start();

      await waitFor(
        async () =>
          (await numsub(server.port, `${prefix}new`)) === 1 &&
          (await numsub(server.port, `${prefix}old`)) === 0,
        '"new" subscribed, "old" not',
        RECONNECT_MS
      );
      await waitFor(
        () => isReady(a.clients.pub),
        'publisher back',
        RECONNECT_MS
      );
      a.hub.publish('old', 'to old');
      a.hub.publish('new', 'to new');
      await receivedWhere(ws, (t) => t === 'to new', 'delivered');
      assert.deepEqual(ws.texts(), ['to new']);
      for (const err of b.errors) {
        assert.match(err.message, /SUBSCRIBE failed \(tried again once reconnected\)/);
      }
    });
  }

  test('ioredis with autoResubscribe off: the adapter resubscribes', async () => {
    const server = await ownRedis();

    const prefix = freshPrefix();
    const a = await node('ioredis', prefix, { server });
    const b = await node('ioredis', prefix, { server, autoResubscribe: false });
    const ws = new FakeSocket();

    b.hub.subscribe(ws, 'one');
    b.hub.subscribe(ws, 'two');
    await subscribers(server, prefix, 'two', 1);

    await server.restart();
    await waitFor(
      async () =>
        (await numsub(server.port, `${prefix}one`)) === 1 &&
        (await numsub(server.port, `${prefix}two`)) === 1,
      'resubscribed',
      RECONNECT_MS
    );
    await waitFor(() => isReady(a.clients.pub), 'publisher back', RECONNECT_MS);

    a.hub.publish('two', 'back');
    await receivedWhere(ws, (t) => t === 'back', 'delivered');
  });
});

//
// Several processes.
//

class Worker {
  constructor(flavour, prefix) {
    this.flavour = flavour;
    this.requests = new Map();
    this.nextId = 0;
    this.child = fork(
      path.join(__dirname, 'fixtures', 'redis-worker.js'),
      [JSON.stringify({ flavour, url: redis.url, prefix })],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }
    );
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.ready = bounded(
      new Promise((resolve, reject) => {
        this.child.once('exit', (code) =>
          reject(new Error(`worker (${flavour}) exited with ${code}`))
        );
        this.child.on('message', (msg) => {
          if (msg.ready) resolve();
          const request = this.requests.get(msg.id);
          if (request === undefined) return;
          this.requests.delete(msg.id);
          if (msg.error) request.reject(new Error(msg.error));
          else request.resolve(msg);
        });
      }),
      `worker (${flavour}) ready`
    );
    cleanups.push(() => this.kill());
  }

  request(cmd, args = {}) {
    const id = ++this.nextId;
    return bounded(
      new Promise((resolve, reject) => {
        this.requests.set(id, { resolve, reject });
        this.child.send({ id, cmd, ...args });
      }),
      `${this.flavour} worker: ${cmd}`
    );
  }

  async kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

describe('across processes', { skip }, () => {
  for (const group of [
    ['redis4', 'redis', 'ioredis5'],
    ['redis5', 'ioredis', 'redis4']
  ]) {
    test(`exactly once each, in order per publisher: 3 processes (${group.join(', ')}), 1000 messages each`, async () => {
      const prefix = freshPrefix();
      const workers = group.map((flavour) => new Worker(flavour, prefix));
      const COUNT = 1000;

      await Promise.all(workers.map((w) => w.ready));

      for (const w of workers) {
        await w.request('subscribe', { socket: 's1', topic: 'chat' });
        await w.request('subscribe', { socket: 's2', topic: 'chat' });
        await w.request('subscribe', { socket: 'other', topic: 'other' });
      }
      await waitFor(
        async () => (await subscribedCount(prefix, 'chat')) === 3,
        'chat subscribed by the three'
      );

      // All three publish at once; the first half as text, then binary.
      await Promise.all(
        workers.map(async (w, n) => {
          await w.request('publish', { topic: 'chat', label: `p${n}`, count: COUNT / 2 });
          await w.request('publish', {
            topic: 'chat',
            label: `p${n}b`,
            count: COUNT / 2,
            binary: true
          });
        })
      );

      const total = COUNT * workers.length;
      for (const w of workers) {
        for (const socket of ['s1', 's2']) {
          await waitFor(
            async () =>
              (await w.request('received', { socket })).messages.length >= total,
            `${w.flavour} ${socket}: ${total} messages`,
            15000,
            100
          );
        }
      }
      await sleep(200);

      for (const w of workers) {
        for (const socket of ['s1', 's2']) {
          const { messages } = await w.request('received', { socket });
          assert.equal(messages.length, total, `${w.flavour} ${socket}`);

          const byPublisher = new Map();
          for (const { text, isBinary } of messages) {
            const [label, i] = text.split(':');
            assert.equal(isBinary, label.endsWith('b'), text);
            const n = label.replace(/b$/, '');
            const index = (label.endsWith('b') ? COUNT / 2 : 0) + Number(i);
            if (!byPublisher.has(n)) byPublisher.set(n, []);
            byPublisher.get(n).push(index);
          }

          const ordered = [...Array(COUNT).keys()];
          for (let n = 0; n < workers.length; n++) {
            assert.deepEqual(byPublisher.get(`p${n}`), ordered, `p${n} in order, once each`);
          }
        }

        const { messages } = await w.request('received', { socket: 'other' });
        assert.deepEqual(messages, []);
        const stats = await w.request('stats');
        assert.equal(stats.dropped, 0);
        assert.deepEqual(stats.errors, []);
      }

      await Promise.all(workers.map((w) => w.request('close')));
      await Promise.all(workers.map((w) => bounded(w.exited, 'worker exit')));
      assert.equal(await subscribedCount(prefix, 'chat'), 0);
    });
  }

  test('ws.publish() in one process reaches all the subscribers of the others', async () => {
    const prefix = freshPrefix();
    const [a, b] = [new Worker('redis', prefix), new Worker('ioredis', prefix)];
    await Promise.all([a.ready, b.ready]);

    for (const w of [a, b]) {
      await w.request('subscribe', { socket: 'x', topic: 'room' });
      await w.request('subscribe', { socket: 'y', topic: 'room' });
    }
    await waitFor(
      async () => (await subscribedCount(prefix, 'room')) === 2,
      'room subscribed twice'
    );

    await a.request('publish', { topic: 'room', label: 'from-x', sender: 'x' });
    await waitFor(
      async () => (await b.request('received', { socket: 'y' })).messages.length === 1,
      'remote delivery'
    );

    const texts = async (w, socket) =>
      (await w.request('received', { socket })).messages.map((m) => m.text);
    assert.deepEqual(await texts(a, 'x'), []);
    assert.deepEqual(await texts(a, 'y'), ['from-x:0']);
    assert.deepEqual(await texts(b, 'x'), ['from-x:0']);
    assert.deepEqual(await texts(b, 'y'), ['from-x:0']);
  });
});
