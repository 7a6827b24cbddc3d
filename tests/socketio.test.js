'use strict';

//
// socket.io end to end: a real socket.io server (npm `socket.io`) whose
// engine.io runs on ws-native (`wsEngine: WebSocketServer`, which is how
// engine.io takes a ws-compatible server), and real socket.io-client
// clients over the websocket transport. Each scenario runs with ws's server
// and with ws-native's, and what the clients and the server see must be
// the same; the clients are engine.io-client's own (on ws) and the same
// client on ws-native's WebSocket.
//
// Broadcasts: socket.io-adapter frames a packet once (`ws.Sender.frame()`)
// and engine.io writes that frame to each connection with
// `ws._sender.sendFrame()`; the tests check that every connection is handed
// the same frame, and on the native transport that its bytes are staged
// once for all of them.
//
// Runs on whichever transport the environment selects
// (WS_NATIVE_TRANSPORT=stream too: CI runs the suite on both).
//

const assert = require('node:assert/strict');
const http = require('node:http');
const { afterEach, describe, test } = require('node:test');

const { Server } = require('socket.io');
const { io: connectClient } = require('socket.io-client');
const { NodeWebSocket } = require('engine.io-client');

const { IS_NATIVE, bounded, ref, sut } = require('./helpers');
const binding = require('../js/binding');

const NATIVE_TRANSPORT =
  IS_NATIVE && binding.native !== null && process.env.WS_NATIVE_TRANSPORT !== 'stream';

const open = new Set();

afterEach(async () => {
  for (const close of [...open].reverse()) await close();
  open.clear();
});

/**
 * engine.io-client's websocket transport on ws-native's client.
 */
class NativeClientTransport extends NodeWebSocket {
  createSocket(uri, protocols, opts) {
    const { WebSocket } = sut();
    return new WebSocket(uri, protocols, opts);
  }
}

const CLIENTS = {
  ws: { transports: ['websocket'] },
  'ws-native': { transports: [NativeClientTransport] }
};

/**
 * A socket.io server on `impl`'s WebSocketServer, on an ephemeral port.
 */
async function startServer(impl, options = {}) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    transports: ['websocket'],
    wsEngine: impl.WebSocketServer,
    ...options
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  open.add(
    () =>
      new Promise((resolve) => {
        io.close(() => resolve());
        httpServer.closeAllConnections();
      })
  );
  return { io, url: `http://127.0.0.1:${httpServer.address().port}` };
}

/**
 * A connected socket.io-client socket.
 */
async function connect(url, client, options = {}) {
  const socket = connectClient(url, {
    ...CLIENTS[client],
    reconnection: false,
    forceNew: true,
    ...options
  });
  open.add(async () => socket.disconnect());
  await bounded(
    new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    }),
    'socket.io connect'
  );
  return socket;
}

function once(emitter, event, label = event) {
  return bounded(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), label);
}

/**
 * Runs `scenario(impl, client)` with ws's server and ws-native's, and
 * compares what each returned.
 */
async function differential(client, scenario) {
  const expected = await scenario(ref(), client);
  for (const close of [...open].reverse()) await close();
  open.clear();
  const actual = await scenario(sut(), client);
  assert.deepEqual(actual, expected);
  return actual;
}

for (const client of Object.keys(CLIENTS)) {
  describe(`socket.io over the websocket transport, ${client} client`, () => {
    test('connect: handshake, auth, query, the transport in use', async () => {
      const log = await differential(client, async (impl, client) => {
        const { io, url } = await startServer(impl);
        const connection = once(io, 'connection');
        const socket = await connect(url, client, {
          auth: { token: 'abc' },
          query: { room: 'r1' }
        });
        const [serverSocket] = await connection;
        const ws = serverSocket.conn.transport.socket;
        return {
          id: serverSocket.id === socket.id,
          auth: serverSocket.handshake.auth,
          query: serverSocket.handshake.query.room,
          transport: serverSocket.conn.transport.name,
          client: socket.io.engine.transport.name,
          wsServer: ws instanceof impl.WebSocket,
          protocol: serverSocket.conn.protocol
        };
      });
      assert.equal(log.transport, 'websocket');
      assert.equal(log.wsServer, true);
    });

    test('emit and acknowledgements, both ways', async () => {
      await differential(client, async (impl, client) => {
        const { io, url } = await startServer(impl);
        const log = [];
        io.on('connection', (s) => {
          s.on('echo', (value, ack) => ack({ echoed: value }));
          s.on('hello', (...args) => log.push(['server hello', args]));
        });
        const socket = await connect(url, client);
        socket.emit('hello', 1, 'two', { three: [3] });
        log.push(['ack', await socket.timeout(2000).emitWithAck('echo', 'ping')]);

        const [serverSocket] = [...io.sockets.sockets.values()];
        socket.on('ask', (q, ack) => ack(`answer to ${q}`));
        log.push(['server ack', await serverSocket.timeout(2000).emitWithAck('ask', 'q1')]);
        return log;
      });
    });

    test('rooms and broadcasts; one frame for every receiver', async () => {
      await differential(client, async (impl, client) => {
        const { io, url } = await startServer(impl);
        io.on('connection', (s) => {
          s.on('join', (room, ack) => {
            s.join(room);
            ack();
          });
          s.on('shout', (m) => s.broadcast.emit('shouted', m));
        });

        const clients = [];
        for (let i = 0; i < 4; i++) clients.push(await connect(url, client));
        const got = clients.map(() => []);
        clients.forEach((c, i) => {
          c.onAny((event, ...args) => got[i].push([event, ...args]));
        });
        await clients[0].emitWithAck('join', 'r1');
        await clients[1].emitWithAck('join', 'r1');
        await clients[2].emitWithAck('join', 'r2');

        // Watch the frames engine.io hands to each connection.
        const frames = [];
        for (const s of io.sockets.sockets.values()) {
          const sender = s.conn.transport.socket._sender;
          const sendFrame = sender.sendFrame;
          sender.sendFrame = function (list, cb) {
            frames.push(list);
            return sendFrame.call(this, list, cb);
          };
        }
        const staged = captureNativeFrames(impl);

        const arrived = (n) =>
          bounded(
            new Promise((resolve) => {
              const check = () => {
                if (got.flat().length >= n) resolve();
                else setTimeout(check, 5);
              };
              check();
            }),
            `${n} messages`
          );

        io.to('r1').emit('news', { text: 'for r1', n: 1 });
        await arrived(2);
        const r1Frames = frames.splice(0);
        const r1Staged = staged.take();

        io.to('r1').to('r2').except('r2').emit('news', 'r1 again');
        clients[3].emit('shout', 'from 3');
        await arrived(2 + 2 + 3);
        io.emit('all', 'everyone');
        await arrived(2 + 2 + 3 + 4);
        staged.stop();

        // The frame of the room broadcast: one for the two receivers.
        assert.equal(r1Frames.length, 2);
        assert.equal(r1Frames[0], r1Frames[1]);
        if (r1Staged) {
          // Header and payload, each staged once for both connections.
          const raw = r1Staged.filter((f) => f.flags & binding.RAW);
          assert.equal(raw.length, 4);
          const places = new Set(raw.map((f) => `${f.src}:${f.offset}:${f.length}`));
          assert.equal(places.size, 2, 'the shared frame is staged once');
        }

        return got.map((events) => events.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
      });
    });

    test('binary payloads, both ways', async () => {
      await differential(client, async (impl, client) => {
        const { io, url } = await startServer(impl);
        const big = Buffer.alloc(200 * 1024);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
        io.on('connection', (s) => {
          s.on('bin', (data, ack) => {
            ack({
              buffer: Buffer.isBuffer(data.buffer),
              bytes: [...data.buffer],
              nested: Buffer.isBuffer(data.nested.deep[0]),
              bigLength: data.big.length,
              bigSame: Buffer.compare(data.big, big) === 0
            });
          });
          s.emit('to-client', Buffer.from([9, 8, 7]), { a: new Uint8Array([1, 2]) });
        });
        const socket = connectClient(url, { ...CLIENTS[client], reconnection: false, forceNew: true });
        open.add(async () => socket.disconnect());
        const [fromServer, nested] = await once(socket, 'to-client');
        const ack = await socket.timeout(2000).emitWithAck('bin', {
          buffer: Buffer.from([1, 2, 3]),
          nested: { deep: [new Uint8Array([4, 5])] },
          big
        });
        return {
          fromServer: [Buffer.isBuffer(fromServer), [...fromServer]],
          nested: [...nested.a],
          ack
        };
      });
    });

    test('disconnect: by the client, by the server, server closed', async () => {
      await differential(client, async (impl, client) => {
        const { io, url } = await startServer(impl);
        const reasons = [];
        io.on('connection', (s) => s.on('disconnect', (reason) => reasons.push(['server', reason])));

        const a = await connect(url, client);
        const serverGone = once(io.sockets.sockets.get(a.id), 'disconnect');
        a.disconnect();
        await serverGone;

        const b = await connect(url, client);
        const bGone = once(b, 'disconnect');
        io.sockets.sockets.get(b.id).disconnect(true);
        reasons.push(['client', (await bGone)[0]]);

        const c = await connect(url, client);
        const cGone = once(c, 'disconnect');
        io.close();
        reasons.push(['client', (await cGone)[0]]);
        return reasons;
      });
    });

    test('permessage-deflate: broadcasts compressed, not pre-framed', async () => {
      await differential(client, async (impl, client) => {
        const { io, url } = await startServer(impl, { perMessageDeflate: { threshold: 0 } });
        const clients = [await connect(url, client), await connect(url, client)];
        const received = clients.map((c) => once(c, 'news'));
        const text = 'compressible '.repeat(100);
        io.emit('news', text);
        const got = await Promise.all(received);
        const extensions = [...io.sockets.sockets.values()].map(
          (s) => s.conn.transport.socket.extensions
        );
        return { same: got.every(([m]) => m === text), extensions };
      });
    });
  });
}

/**
 * On the native transport, records the frames each flush hands to Rust:
 * { conn, flags, src, offset, length } (see docs/binding.md).
 */
function captureNativeFrames(impl) {
  if (!NATIVE_TRANSPORT || impl === ref()) return { take: () => null, stop() {} };
  const native = binding.native;
  const send = native.send;
  let frames = [];
  native.send = function (stage, payloads, meta, count, results) {
    for (let i = 0; i < count; i++) {
      const m = 6 * i;
      frames.push({
        conn: meta[m],
        flags: meta[m + 1],
        src: meta[m + 2],
        offset: meta[m + 3],
        length: meta[m + 4]
      });
    }
    return send.call(this, stage, payloads, meta, count, results);
  };
  open.add(async () => {
    native.send = send;
  });
  return {
    take() {
      const out = frames;
      frames = [];
      return out;
    },
    stop() {
      native.send = send;
    }
  };
}
