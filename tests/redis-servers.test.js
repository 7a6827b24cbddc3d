'use strict';

//
// Topics across processes, through Redis, with real servers: three child
// processes (two WebSocketServers in port mode, one Bun-style serve(), with
// ioredis and node-redis clients) share a redis-server of the test's own;
// real ws clients subscribe and publish by text command. A publish reaches
// every subscriber in every process exactly once, ws.publish skips only its
// sender, text stays text and binary binary, order holds per publisher, and
// after a Redis restart delivery resumes.
//

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const { IS_NATIVE, bounded, cleanup, deferred, onceEvent, ref, track } = require('./helpers');
const { INSTALL_HINT, RedisServer, findRedisServer, numsub, waitFor } = require('./redis-helpers');

const APP = path.join(__dirname, 'fixtures', 'topics-app.js');
const redisBin = findRedisServer();
const skip = !IS_NATIVE ? 'ws-native only' : redisBin === null ? INSTALL_HINT : false;

async function startApp(kind, flavour, url) {
  const proc = spawn(process.execPath, [APP], {
    env: { ...process.env, KIND: kind, FLAVOUR: flavour, REDIS_URL: url },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  track({ terminate: () => proc.kill('SIGKILL') });
  const port = deferred();
  let stderr = '';
  proc.stdout.on('data', (d) => {
    const m = /LISTENING (\d+)/.exec(String(d));
    if (m) port.resolve(Number(m[1]));
  });
  proc.stderr.on('data', (d) => (stderr += d));
  proc.on('exit', () => port.reject(new Error(`app exited: ${stderr}`)));
  return bounded(port.promise, `${kind}/${flavour} listening`, 15000);
}

async function client(port, name) {
  const ws = track(new (ref().WebSocket)(`ws://127.0.0.1:${port}`));
  ws.name = name;
  ws.got = [];
  ws.replies = [];
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text === 'ack' || (text && text.startsWith('count '))) {
      const waiter = ws.replies.shift();
      if (waiter) waiter(text);
      return;
    }
    ws.got.push(isBinary ? ['binary', data.toString('hex')] : ['text', text]);
  });
  await onceEvent(ws, 'open');
  ws.command = (text) =>
    bounded(
      new Promise((resolve) => {
        ws.replies.push(resolve);
        ws.send(text);
      }),
      text
    );
  return ws;
}

describe('topics across processes through Redis', { skip }, () => {
  let redis;

  before(async () => {
    redis = new RedisServer(redisBin);
    await redis.start();
  });

  after(async () => {
    await cleanup();
    if (redis) await redis.stop();
  });

  test('exactly once everywhere, the sender skipped, types and order kept, and after a Redis restart', { timeout: 60000 }, async () => {
    const ports = await Promise.all([
      startApp('ws', 'ioredis', redis.url),
      startApp('ws', 'redis', redis.url),
      startApp('serve', 'ioredis', redis.url)
    ]);
    const [a1, a2, b1, b2, c1, c2] = await Promise.all([
      client(ports[0], 'a1'),
      client(ports[0], 'a2'),
      client(ports[1], 'b1'),
      client(ports[1], 'b2'),
      client(ports[2], 'c1'),
      client(ports[2], 'c2')
    ]);
    const all = [a1, a2, b1, b2, c1, c2];

    for (const ws of [a1, b1, c1, c2]) await ws.command('sub room');
    await a2.command('sub other');
    // One SUBSCRIBE per process that has local subscribers.
    await waitFor(async () => (await numsub(redis.port, 'test:room')) === 3, 'subscribed in Redis');

    const settle = async (expected) => {
      await waitFor(
        () => all.every((ws) => ws.got.length >= (expected[ws.name] || []).length),
        'deliveries'
      );
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        Object.fromEntries(all.map((ws) => [ws.name, ws.got])),
        Object.fromEntries(all.map((ws) => [ws.name, expected[ws.name] || []]))
      );
      for (const ws of all) ws.got = [];
    };

    await a1.command('pub room hello');
    await settle({ b1: [['text', 'hello']], c1: [['text', 'hello']], c2: [['text', 'hello']] });

    await b2.command('wpub room everyone');
    const everyone = [['text', 'everyone']];
    await settle({ a1: everyone, b1: everyone, c1: everyone, c2: everyone });

    await c1.command('pubb room 0102ff');
    const bin = [['binary', '0102ff']];
    await settle({ a1: bin, b1: bin, c2: bin });

    for (let i = 0; i < 200; i++) a1.send(`pub room n${i}`);
    const ordered = Array.from({ length: 200 }, (_, i) => ['text', `n${i}`]);
    await waitFor(() => b1.got.length >= 200 && c1.got.length >= 200, 'ordered deliveries', 10000);
    while (a1.replies.length) a1.replies.shift()('drained');
    await settle({ b1: ordered, c1: ordered, c2: ordered });

    assert.equal(await b1.command('count room'), 'count 1');
    assert.equal(await c1.command('count room'), 'count 2');

    await redis.restart();
    await waitFor(async () => (await numsub(redis.port, 'test:room')) === 3, 'resubscribed', 15000);
    await a1.command('pub room after');
    await settle({ b1: [['text', 'after']], c1: [['text', 'after']], c2: [['text', 'after']] });

    // The last local subscriber leaves: that process unsubscribes in Redis.
    await b1.command('unsub room');
    await waitFor(async () => (await numsub(redis.port, 'test:room')) === 2, 'unsubscribed in Redis');
  });
});
