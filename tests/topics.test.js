'use strict';

//
// Topics (pub/sub) on the ws API: `ws.subscribe/unsubscribe/isSubscribed/
// subscriptions/publish`, `wss.publish/subscriberCount`. Each scenario runs
// twice: against ws-native's topics, and against a tiny reference built on
// ws (a Map of Sets and `send()`), with real `ws` clients recording what
// they get; the two records must be equal. Then what only ws-native can be
// asked: a payload framed once, compressed once where the contexts allow it,
// TLS and native subscribers of one server, and a publish larger than the
// outbox.
//

const assert = require('node:assert/strict');
const http = require('node:http');
const https = require('node:https');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  bounded,
  cleanup,
  deferred,
  listenHttp,
  onceEvent,
  ref,
  selfSigned,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

/**
 * A reference of the topics API over ws: what each call must do, in the
 * plainest way (the data is copied at publish, as ws-native guarantees).
 */
function refTopics() {
  const topics = new Map();
  const subs = new Map();

  const leave = (ws) => {
    for (const t of subs.get(ws) || []) {
      const set = topics.get(t);
      set.delete(ws);
      if (set.size === 0) topics.delete(t);
    }
    subs.delete(ws);
  };

  const deliver = (t, data, options = {}, except) => {
    const set = topics.get(t);
    if (!set) return false;
    const binary = options.binary === undefined ? typeof data !== 'string' : !!options.binary;
    const compress = options.compress === undefined ? true : !!options.compress;
    const payload = typeof data === 'string' ? data : Buffer.from(data);
    let sent = false;
    for (const ws of set) {
      if (ws === except || ws.readyState !== 1) continue;
      ws.send(payload, { binary, compress });
      sent = true;
    }
    return sent;
  };

  return {
    attach(ws) {
      // First 'close' listener: the socket leaves its topics before the
      // application hears of the close.
      ws.on('close', () => leave(ws));
    },
    subscribe(ws, t) {
      if (ws.readyState !== 1) return false;
      if (!topics.has(t)) topics.set(t, new Set());
      topics.get(t).add(ws);
      if (!subs.has(ws)) subs.set(ws, new Set());
      subs.get(ws).add(t);
      return true;
    },
    unsubscribe(ws, t) {
      const mine = subs.get(ws);
      if (!mine || !mine.delete(t)) return false;
      const set = topics.get(t);
      set.delete(ws);
      if (set.size === 0) topics.delete(t);
      return true;
    },
    isSubscribed: (ws, t) => Boolean(subs.get(ws) && subs.get(ws).has(t)),
    subscriptions: (ws) => [...(subs.get(ws) || [])],
    subscriberCount: (t) => (topics.has(t) ? topics.get(t).size : 0),
    publish: (t, data, options) => deliver(t, data, options, null),
    publishFrom: (ws, t, data, options) =>
      ws.readyState === 1 ? deliver(t, data, options, ws) : false
  };
}

/** ws-native's topics, through the same calls. */
function sutTopics(wss) {
  return {
    attach() {},
    subscribe: (ws, t) => ws.subscribe(t),
    unsubscribe: (ws, t) => ws.unsubscribe(t),
    isSubscribed: (ws, t) => ws.isSubscribed(t),
    subscriptions: (ws) => ws.subscriptions,
    subscriberCount: (t) => wss.subscriberCount(t),
    publish: (t, data, options) => wss.publish(t, data, options),
    publishFrom: (ws, t, data, options) => ws.publish(t, data, options)
  };
}

/**
 * Starts a server of `WS` (`options` for it), connects `n` ws clients
 * (`clientOptions`), and runs `script(api, sockets, ctx)` on the server side
 * with the server's connections in the clients' order. Returns what the
 * clients received and what the script returned.
 */
async function run(WS, n, script, { options = {}, clientOptions = {}, expect } = {}) {
  const wss = track(new WS.WebSocketServer({ port: 0, host: '127.0.0.1', ...options }));
  await onceEvent(wss, 'listening');
  const port = wss.address().port;
  const api = WS === ref() ? refTopics() : sutTopics(wss);
  const sockets = [];
  const received = [];
  const clients = [];

  for (let i = 0; i < n; i++) {
    const connected = onceEvent(wss, 'connection');
    const client = track(new (ref().WebSocket)(`ws://127.0.0.1:${port}/${i}`, clientOptions));
    const log = [];
    client.on('message', (data, isBinary) => log.push([isBinary, Buffer.from(data).toString('latin1')]));
    received.push(log);
    clients.push(client);
    await onceEvent(client, 'open');
    const [ws] = await connected;
    api.attach(ws);
    ws.on('error', () => {});
    sockets.push(ws);
  }

  const result = await script(api, sockets, { wss, clients });
  const total = expect(result);
  // Everything sent arrives before the clients' end marker.
  await bounded(
    (async () => {
      while (received.reduce((s, l) => s + l.length, 0) < total) {
        await new Promise((r) => setTimeout(r, 5));
      }
    })(),
    'deliveries'
  );
  await new Promise((r) => setTimeout(r, 20));
  return { received, result };
}

async function compare(n, script, opts) {
  const expected = await run(ref(), n, script, opts);
  await cleanup();
  const actual = await run(sut(), n, script, opts);
  await cleanup();
  assert.deepEqual(actual, expected);
  return actual;
}

describe('topics: differential against a reference on ws', () => {
  test('subscribe, publish, ws.publish skips only its sender, order with send()', async () => {
    await compare(
      4,
      async (api, [a, b, c, d]) => {
        const r = [];
        r.push(api.subscribe(a, 'news'), api.subscribe(b, 'news'), api.subscribe(b, 'news'));
        r.push(api.subscribe(c, 'sport'), api.subscribe(a, 'sport'));
        r.push(api.subscriptions(a), api.subscriptions(b), api.subscriptions(d));
        r.push(api.isSubscribed(a, 'news'), api.isSubscribed(d, 'news'));
        r.push(api.subscriberCount('news'), api.subscriberCount('sport'), api.subscriberCount('none'));
        a.send('before');
        r.push(api.publish('news', 'n1'));
        r.push(api.publish('news', Buffer.from([1, 2, 3])));
        r.push(api.publish('news', 'as binary', { binary: true }));
        r.push(api.publish('news', Buffer.from('as text'), { binary: false }));
        a.send('between');
        r.push(api.publishFrom(a, 'news', 'from a'));
        r.push(api.publishFrom(d, 'news', 'from d, not subscribed'));
        r.push(api.publishFrom(c, 'sport', 'from c, alone'));
        r.push(api.publish('nobody', 'x'));
        b.send('after');
        return r;
      },
      { expect: () => 3 + 4 * 2 + 1 + 2 + 1 + 0 }
    );
  });

  test('unsubscribe and resubscribe in one tick; counts and order', async () => {
    await compare(
      3,
      async (api, [a, b, c]) => {
        const r = [];
        api.subscribe(a, 't1');
        api.subscribe(a, 't2');
        api.subscribe(a, 't3');
        api.subscribe(b, 't1');
        api.publish('t1', 'one');
        r.push(api.unsubscribe(a, 't1'), api.unsubscribe(a, 't1'), api.unsubscribe(c, 't1'));
        api.publish('t1', 'two');
        api.subscribe(a, 't1');
        r.push(api.subscriptions(a));
        api.publish('t1', 'three');
        r.push(api.subscriberCount('t1'));
        api.unsubscribe(b, 't1');
        api.unsubscribe(a, 't1');
        r.push(api.subscriberCount('t1'), api.publish('t1', 'lost'));
        return r;
      },
      { expect: () => 2 + 1 + 2 }
    );
  });

  test('a closing socket leaves its topics before its close event; publish to or from it does nothing', async () => {
    await compare(
      3,
      async (api, [a, b, c]) => {
        const r = [];
        for (const ws of [a, b, c]) api.subscribe(ws, 'room');
        const closed = deferred();
        b.on('close', () => {
          r.push(['in close', api.subscriberCount('room'), api.subscriptions(b), api.isSubscribed(b, 'room')]);
          closed.resolve();
        });
        b.close();
        r.push(api.publishFrom(b, 'room', 'from closing b'));
        await closed.promise;
        r.push(api.subscribe(b, 'room'), api.publishFrom(b, 'room', 'from closed b'));
        r.push(api.publish('room', 'after'));
        c.terminate();
        await onceEvent(c, 'close');
        r.push(api.subscriberCount('room'), api.publish('room', 'only a'));
        return r;
      },
      { expect: () => 2 }
    );
  });

  test('a Buffer changed after publish() goes out as it was; sizes across the outbox limits', async () => {
    await compare(
      3,
      async (api, [a, b, c]) => {
        for (const ws of [a, b, c]) api.subscribe(ws, 'big');
        const sizes = [0, 1, 125, 126, 65535, 65536, 65537, 200 * 1024, 1024 * 1024];
        for (const size of sizes) {
          const buf = Buffer.alloc(size, size & 0xff);
          api.publish('big', buf);
          buf.fill(0x21);
          a.send(Buffer.alloc(3, 7));
        }
        const text = 'é'.repeat(40000);
        api.publish('big', text);
        return sizes.length;
      },
      { expect: (n) => 3 * (n + 1) + n }
    );
  });

  test('permessage-deflate: compress on and off, context takeover and not', async () => {
    for (const deflate of [
      { threshold: 0 },
      { threshold: 0, serverNoContextTakeover: true },
      { threshold: 100, serverNoContextTakeover: true, serverMaxWindowBits: 10 }
    ]) {
      await compare(
        3,
        async (api, [a, b, c]) => {
          for (const ws of [a, b, c]) api.subscribe(ws, 'z');
          const json = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ i, name: `item ${i}` })) });
          api.publish('z', json);
          api.publish('z', json, { compress: false });
          api.publish('z', 'small');
          api.publishFrom(a, 'z', Buffer.from(json), { binary: true });
          b.send(json);
          api.publish('z', json);
          return 0;
        },
        { options: { perMessageDeflate: deflate }, expect: () => 3 * 4 + 2 + 1 }
      );
    }
  });
});

describe('topics: ws-native only', () => {
  test('compressed once for the subscribers without context takeover, per connection with it', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const PerMessageDeflate = require('../js/permessage-deflate');
    const original = PerMessageDeflate.prototype.compressSync;
    let calls = 0;
    PerMessageDeflate.prototype.compressSync = function (...args) {
      calls++;
      return original.apply(this, args);
    };
    try {
      const json = 'x'.repeat(3000);
      const count = async (deflate) => {
        calls = 0;
        await run(
          sut(),
          5,
          async (api, sockets) => {
            for (const ws of sockets) api.subscribe(ws, 'z');
            api.publish('z', json);
          },
          { options: { perMessageDeflate: deflate }, expect: () => 5 }
        );
        await cleanup();
        return calls;
      };
      assert.equal(await count({ threshold: 0, serverNoContextTakeover: true }), 1);
      assert.equal(await count({ threshold: 0 }), 5);
    } finally {
      PerMessageDeflate.prototype.compressSync = original;
    }
  });

  test('TLS (stream) and native subscribers of one server get the same messages', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const WS = sut();
    const tls = selfSigned();
    if (tls === null) return t.skip('needs the openssl CLI');
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const plain = http.createServer();
    const secure = https.createServer(tls);
    for (const server of [plain, secure]) {
      server.on('upgrade', (req, socket, head) => {
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      });
    }
    const plainPort = await listenHttp(plain);
    const securePort = await listenHttp(secure);
    const sockets = [];
    const logs = [];
    for (const url of [
      `ws://127.0.0.1:${plainPort}`,
      `wss://127.0.0.1:${securePort}`,
      `ws://127.0.0.1:${plainPort}`,
      `wss://127.0.0.1:${securePort}`
    ]) {
      const connected = onceEvent(wss, 'connection');
      const client = track(new (ref().WebSocket)(url, { rejectUnauthorized: false }));
      const log = [];
      client.on('message', (data, isBinary) => log.push([isBinary, Buffer.from(data).toString('latin1')]));
      logs.push(log);
      await onceEvent(client, 'open');
      const [ws] = await connected;
      ws.subscribe('all');
      sockets.push(ws);
    }
    if (process.env.WS_NATIVE_TRANSPORT !== 'stream') {
      const { NativeConnection } = require('../js/transport/native-connection');
      assert.deepEqual(
        sockets.map((ws) => ws._conn instanceof NativeConnection),
        [true, false, true, false]
      );
    }
    wss.publish('all', 'text');
    wss.publish('all', Buffer.alloc(70000, 3));
    sockets[1].publish('all', 'from a TLS one');
    sockets[0].send('direct');
    wss.publish('all', 'last');
    await bounded(
      (async () => {
        while (logs.reduce((s, l) => s + l.length, 0) < 4 * 3 + 3 + 1) await new Promise((r) => setTimeout(r, 5));
      })(),
      'deliveries'
    );
    const big = [true, Buffer.alloc(70000, 3).toString('latin1')];
    assert.deepEqual(logs[0], [[false, 'text'], big, [false, 'from a TLS one'], [false, 'direct'], [false, 'last']]);
    assert.deepEqual(logs[1], [[false, 'text'], big, [false, 'last']]);
    assert.deepEqual(logs[2], [[false, 'text'], big, [false, 'from a TLS one'], [false, 'last']]);
    assert.deepEqual(logs[3], logs[2]);
  });

  test('subscribe() refuses what is not a topic name; client sockets have no topics', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const WS = sut();
    const { wss, port } = await (async () => {
      const s = track(new WS.WebSocketServer({ port: 0, host: '127.0.0.1' }));
      await onceEvent(s, 'listening');
      return { wss: s, port: s.address().port };
    })();
    const connected = onceEvent(wss, 'connection');
    const client = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
    await onceEvent(client, 'open');
    const [ws] = await connected;
    assert.throws(() => ws.subscribe(''), TypeError);
    assert.throws(() => ws.subscribe(42), TypeError);
    assert.throws(() => wss.publish('', 'x'), TypeError);
    assert.equal(client.subscribe('t'), false);
    assert.equal(client.publish('t', 'x'), false);
    assert.deepEqual(client.subscriptions, []);
  });
});
