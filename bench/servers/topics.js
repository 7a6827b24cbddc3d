'use strict';

//
// A topics server for bench/cluster.js. IMPL=ws-native: a WebSocketServer
// whose connections all subscribe to "bench"; a text message "P..." from a
// client is published to the topic as it is (`wss.publish`). With
// REDIS_URL, the topic is shared through Redis (ws-native/redis, ioredis).
// IMPL=socket.io: the same with socket.io, a room and its Redis adapter
// (@socket.io/redis-adapter), from bench/.deps. Prints `LISTENING <port>`.
//

const path = require('path');

const ROOT = path.join(__dirname, '..', '..');
const DEPS = path.join(__dirname, '..', '.deps', 'node_modules');
const port = Number(process.env.PORT || 0);
const redisUrl = process.env.REDIS_URL || '';

async function redisClients() {
  const Redis = require(require.resolve('ioredis', { paths: [ROOT, DEPS] }));
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();

  for (const c of [pub, sub]) c.on('error', () => {});
  await Promise.all([pub, sub].map((c) => new Promise((r) => c.once('ready', r))));
  return { pub, sub };
}

async function wsNative() {
  const { WebSocketServer } = require(ROOT);
  let adapter;

  if (redisUrl) {
    const { createAdapter } = require(path.join(ROOT, 'js', 'redis.js'));
    const { pub, sub } = await redisClients();

    adapter = createAdapter(pub, sub, { prefix: 'bench:' });
    adapter.on('error', () => {});
  }

  const wss = new WebSocketServer({ port, host: '127.0.0.1', adapter }, () => {
    console.log(`LISTENING ${wss.address().port}`);
  });

  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.subscribe('bench');
    ws.on('message', (data, isBinary) => {
      if (!isBinary) wss.publish('bench', data, { binary: false });
    });
  });
}

async function socketIo() {
  const { Server } = require(path.join(DEPS, 'socket.io'));
  const http = require('http');
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], serveClient: false });

  if (redisUrl) {
    const { createAdapter } = require(path.join(DEPS, '@socket.io', 'redis-adapter'));
    const { pub, sub } = await redisClients();

    io.adapter(createAdapter(pub, sub, { key: 'bench' }));
  }

  io.on('connection', (socket) => {
    socket.join('bench');
    socket.on('p', (data) => io.to('bench').emit('m', data));
  });

  server.listen(port, '127.0.0.1', () => {
    console.log(`LISTENING ${server.address().port}`);
  });
}

(process.env.IMPL === 'socket.io' ? socketIo : wsNative)();
