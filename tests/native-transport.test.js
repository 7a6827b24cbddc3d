'use strict';

//
// The native transport (js/transport/, src/transport/): plain TCP
// connections whose descriptor Rust reads and writes after the upgrade. The
// rest of the suite runs on it as well (it is the default); these tests
// cover what is specific to the takeover: bytes buffered before it, the
// idle shell that keeps the HTTP server's accounting, back-pressure and
// write callbacks, closing from every side, many connections per batch.
// Each test compares with ws where the behaviour is observable with ws.
//

const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  OP,
  bounded,
  cleanup,
  closePayload,
  deferred,
  frame,
  handshakeRequest,
  listenHttp,
  listenWss,
  onceEvent,
  parseFrames,
  ref,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

const NATIVE =
  IS_NATIVE &&
  process.platform !== 'win32' &&
  process.env.WS_NATIVE_TRANSPORT !== 'stream';

/**
 * Opens a raw TCP connection and writes `data` (the handshake and maybe
 * frames) at once; resolves once the 101 response is in.
 */
async function rawUpgrade(port, data) {
  const socket = track(net.connect(port, '127.0.0.1'));
  const received = [];
  socket.on('data', (d) => received.push(d));
  socket.on('error', () => {});
  socket.write(data);
  await bounded(
    new Promise((resolve) => {
      const check = () => {
        if (Buffer.concat(received).includes('\r\n\r\n')) resolve();
        else socket.once('data', check);
      };
      check();
    }),
    '101'
  );
  socket.bodyFrames = () => {
    const all = Buffer.concat(received);
    return parseFrames(all.subarray(all.indexOf('\r\n\r\n') + 4)).frames;
  };
  return socket;
}

/**
 * Both implementations, ws first, each with `fn(WS, name)`; returns both
 * results for the caller to compare.
 */
async function both(fn) {
  const expected = await fn(ref(), 'ws');
  await cleanup();
  const actual = await fn(sut(), 'ws-native');
  return { expected, actual };
}

describe('native transport', () => {
  test('takes plain TCP sockets over, on both sides', { skip: !NATIVE && 'native transport off' }, async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS);
    const connected = onceEvent(wss, 'connection');
    const client = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
    await onceEvent(client, 'open');
    const [ws, req] = await connected;

    const { NativeConnection } = require('../js/transport/native-connection');
    assert.ok(ws._conn instanceof NativeConnection);
    assert.ok(client._conn instanceof NativeConnection);
    // The idle shell is the socket ws exposes, as req.socket.
    assert.equal(ws._socket, req.socket);
    assert.equal(ws._socket.remoteAddress, '127.0.0.1');
    assert.equal(ws._socket.remotePort, client._socket.localPort);
    assert.equal(ws._socket.remoteAddress, req.socket.remoteAddress);
    assert.equal(ws._socket.setNoDelay(true), ws._socket);
  });

  test('bytes that came with the request and during an async verifyClient are kept, in order', async () => {
    const run = async (WS) => {
      const { wss, port } = await listenWss(WS, {
        verifyClient: (info, cb) => setTimeout(() => cb(true), 50)
      });
      const messages = [];
      const got = deferred();
      wss.on('connection', (ws) => {
        ws.on('message', (data) => {
          messages.push(String(data));
          if (messages.length === 3) got.resolve();
        });
      });
      const socket = track(net.connect(port, '127.0.0.1'));
      socket.on('error', () => {});
      socket.write(Buffer.concat([Buffer.from(handshakeRequest()), frame(OP.TEXT, 'one')]));
      setTimeout(() => socket.write(frame(OP.TEXT, 'two')), 10);
      setTimeout(() => socket.write(frame(OP.TEXT, 'three')), 20);
      await bounded(got.promise, 'messages');
      return messages;
    };
    const { expected, actual } = await both(run);
    assert.deepEqual(expected, ['one', 'two', 'three']);
    assert.deepEqual(actual, expected);
  });

  test('server.close() waits for the upgraded connection; getConnections counts it', async () => {
    const run = async (WS) => {
      const { wss, port } = await listenWss(WS);
      const log = [];
      const connected = onceEvent(wss, 'connection');
      const client = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
      await onceEvent(client, 'open');
      const [ws] = await connected;
      const server = wss._server;
      log.push(['connections', await new Promise((r) => server.getConnections((e, n) => r(n)))]);
      const closed = new Promise((resolve) => wss.close(() => {
        log.push(['wss closed']);
        resolve();
      }));
      await new Promise((r) => setTimeout(r, 50));
      log.push(['still open', ws.readyState]);
      ws.send('bye');
      const [data] = await onceEvent(client, 'message');
      log.push(['message', String(data)]);
      client.close();
      await bounded(closed, 'wss close');
      log.push(['connections', await new Promise((r) => server.getConnections((e, n) => r(n)))]);
      return log;
    };
    const { expected, actual } = await both(run);
    assert.deepEqual(actual, expected);
    assert.deepEqual(expected.at(-2), ['wss closed']);
  });

  for (const mode of ['server', 'port']) {
    test(`ws._socket's counters follow the traffic (${mode} mode)`, async () => {
      const run = async (WS) => {
        let wss;
        let port;
        if (mode === 'port') {
          ({ wss, port } = await listenWss(WS));
        } else {
          const server = http.createServer();
          wss = track(new WS.WebSocketServer({ server }));
          port = await listenHttp(server);
        }
        const connected = onceEvent(wss, 'connection');
        const socket = await rawUpgrade(port, handshakeRequest());
        const [ws] = await connected;
        const readBefore = ws._socket.bytesRead;
        const writtenBefore = ws._socket.bytesWritten;
        const message = onceEvent(ws, 'message');
        socket.write(frame(OP.BINARY, Buffer.alloc(100000, 1)));
        await message;
        const read = ws._socket.bytesRead - readBefore;

        // A peer that does not read: the socket's queue grows (32 MiB, more
        // than the kernel's socket buffers take: tcp_wmem's maximum is 4 MiB
        // by default).
        socket.pause();
        const chunk = Buffer.alloc(1024 * 1024, 2);
        for (let i = 0; i < 32; i++) ws.send(chunk);
        await new Promise((r) => setTimeout(r, 100));
        const queued = ws._socket.writableLength;
        const result = {
          read: read >= 100000 && read < 100100,
          written: ws._socket.bytesWritten - writtenBefore > 1024 * 1024,
          queued: queued > 0 && queued === ws._socket.bufferSize,
          needDrain: ws._socket.writableNeedDrain
        };
        socket.resume();
        return result;
      };
      const { expected, actual } = await both(run);
      assert.deepEqual(actual, expected);
      assert.deepEqual(expected, { read: true, written: true, queued: true, needDrain: true });
    });
  }

  test('a peer that does not read: bufferedAmount, callbacks in order, every byte delivered', async () => {
    const run = async (WS) => {
      const { wss, port } = await listenWss(WS);
      const connected = onceEvent(wss, 'connection');
      const socket = await rawUpgrade(port, handshakeRequest());
      const [ws] = await connected;
      socket.pause();
      const chunk = Buffer.alloc(256 * 1024, 7);
      const done = [];
      for (let i = 0; i < 32; i++) ws.send(chunk, () => done.push(i));
      await new Promise((r) => setTimeout(r, 100));
      const pending = ws.bufferedAmount > 1024 * 1024 && done.length < 32;
      socket.resume();
      await bounded(
        new Promise((resolve) => {
          const check = () => (done.length === 32 ? resolve() : setTimeout(check, 10));
          check();
        }),
        'callbacks'
      );
      await bounded(
        new Promise((resolve) => {
          const check = () => (socket.bodyFrames().length === 32 ? resolve() : setTimeout(check, 10));
          check();
        }),
        'frames'
      );
      const frames = socket.bodyFrames();
      return {
        pending,
        order: done.join(),
        bytes: frames.reduce((n, f) => n + f.payload.length, 0),
        after: ws.bufferedAmount
      };
    };
    const { expected, actual } = await both(run);
    assert.deepEqual(actual, expected);
    assert.equal(expected.pending, true);
    assert.equal(expected.bytes, 32 * 256 * 1024);
  });

  test('terminate(), a peer reset and req.socket.destroy() close the connection', async () => {
    const run = async (WS) => {
      const log = [];
      const { wss, port } = await listenWss(WS);
      for (const how of ['terminate', 'reset', 'shell']) {
        const connected = onceEvent(wss, 'connection');
        const client = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
        client.on('error', () => {});
        await onceEvent(client, 'open');
        const [ws, req] = await connected;
        const serverClosed = onceEvent(ws, 'close', `server close (${how})`);
        const clientClosed = onceEvent(client, 'close', `client close (${how})`);
        if (how === 'terminate') ws.terminate();
        else if (how === 'reset') client._socket.resetAndDestroy ? client._socket.resetAndDestroy() : client._socket.destroy();
        else req.socket.destroy();
        const [code] = await serverClosed;
        const [clientCode] = await clientClosed;
        log.push([how, code, clientCode, ws.readyState]);
      }
      return log;
    };
    const { expected, actual } = await both(run);
    assert.deepEqual(actual, expected);
  });

  test('upgrade(req) from a request handler, then large messages both ways', { skip: !IS_NATIVE && 'upgrade(req) is ws-native only' }, async () => {
    const WS = sut();
    const wss = new WS.WebSocketServer({ noServer: true });
    const server = http.createServer((req, res) => {
      if (!wss.upgrade(req)) res.writeHead(426).end();
    });
    const port = await listenHttp(server);
    const connected = onceEvent(wss, 'connection');
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const client = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
    await onceEvent(client, 'open');
    const [ws] = await connected;
    if (NATIVE) {
      const { NativeConnection } = require('../js/transport/native-connection');
      assert.ok(ws._conn instanceof NativeConnection);
    }
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const echoes = [];
    const echoed = deferred();
    client.on('message', (data) => {
      echoes.push(data);
      if (echoes.length === 2) echoed.resolve();
    });
    client.send(big);
    client.send('small');
    await bounded(echoed.promise, 'echoes', 10000);
    assert.ok(echoes[0].equals(big));
    assert.equal(String(echoes[1]), 'small');
    client.close(1000);
    await onceEvent(ws, 'close');
  });

  test('many connections at once: each gets its own messages', async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS);
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    const clients = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const c = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
        await onceEvent(c, 'open');
        return c;
      })
    );
    const results = await Promise.all(
      clients.map(
        (c, i) =>
          new Promise((resolve) => {
            const got = [];
            c.on('message', (data) => {
              got.push(String(data));
              if (got.length === 20) resolve(got);
            });
            for (let j = 0; j < 20; j++) c.send(`${i}:${j}`);
          })
      )
    );
    results.forEach((got, i) => {
      assert.deepEqual(got, Array.from({ length: 20 }, (_, j) => `${i}:${j}`));
    });
  });

  test('broadcasts in one tick: repeated, changed and interleaved payloads reach each client as sent', async () => {
    const run = async (WS) => {
      const { wss, port } = await listenWss(WS);
      const clients = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const c = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
          await onceEvent(c, 'open');
          return c;
        })
      );
      while (wss.clients.size < clients.length) await new Promise((r) => setImmediate(r));
      const received = clients.map((c) => {
        const got = [];
        c.on('message', (data, isBinary) => got.push([isBinary, String(data)]));
        return got;
      });
      const servers = [...wss.clients];
      const buf = Buffer.from('shared');
      // All in one tick: the same Buffer to everyone, then changed in place
      // halfway, the same string twice to one client, a text and a binary
      // frame of the same bytes, and a frame to one client in between.
      servers.forEach((ws, i) => {
        if (i === 4) buf.write('SHARED');
        ws.send(buf);
      });
      servers.forEach((ws) => ws.send('text'));
      servers[0].send('text');
      servers.forEach((ws, i) => {
        ws.send(Buffer.from('text'));
        if (i === 2) servers[5].send('between');
        ws.send('text', { binary: true });
      });
      // Longer than a word compare's unit, changed in a middle word and in
      // the tail; an unaligned view changed halfway.
      const long = Buffer.alloc(67, 0x61);
      const odd = Buffer.from('xabcdefghij').subarray(1);
      servers.forEach((ws, i) => {
        if (i === 2) long[40] = 0x62;
        if (i === 6) long[66] = 0x63;
        ws.send(long);
      });
      servers.forEach((ws, i) => {
        if (i === 3) odd[9] = 0x4a;
        ws.send(odd);
      });
      await bounded(
        (async () => {
          while (received.some((got) => got.length < 6)) {
            await new Promise((r) => setTimeout(r, 5));
          }
          await new Promise((r) => setTimeout(r, 20));
        })(),
        'messages'
      );
      return received;
    };
    const { expected, actual } = await both(run);
    assert.deepEqual(actual, expected);
    assert.deepEqual(expected[0].slice(0, 3), [[true, 'shared'], [false, 'text'], [false, 'text']]);
  });

  //
  // On the stream transport they come one tick later (the README says so):
  // the frames of a tick are written at its end, and a stream defers the
  // callbacks of a write once more.
  //
  test('send callbacks come when ws calls them: before later ticks, microtasks and immediates', {
    skip: IS_NATIVE && process.env.WS_NATIVE_TRANSPORT === 'stream' && 'one tick later on the stream transport'
  }, async () => {
    const run = async (WS) => {
      const { wss, port } = await listenWss(WS);
      const client = track(new WS.WebSocket(`ws://127.0.0.1:${port}`));
      const [ws] = await onceEvent(wss, 'connection');
      await onceEvent(client, 'open');
      const log = [];
      await bounded(
        new Promise((resolve) => {
          ws.send('a', (err) => log.push(['cb a', err == null]));
          ws.send(Buffer.alloc(70000), (err) => log.push(['cb big', err == null]));
          ws.ping('p', false, (err) => log.push(['cb ping', err == null]));
          process.nextTick(() => log.push('tick'));
          Promise.resolve().then(() => log.push('microtask'));
          setImmediate(() => {
            log.push('immediate');
            resolve();
          });
        }),
        'callbacks'
      );
      return log;
    };
    const { expected, actual } = await both(run);
    assert.deepEqual(actual, expected);
  });

  test('a listener that throws does not cost other connections their messages', async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS);
    const seen = [];
    let first = true;
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        seen.push(String(data));
        if (first) {
          first = false;
          throw new Error('boom');
        }
      });
    });
    const errors = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (err) => errors.push(err.message));
    try {
      const sockets = [];
      for (let i = 0; i < 3; i++) sockets.push(await rawUpgrade(port, handshakeRequest()));
      // All three in the same loop turn, so in the same batch.
      sockets.forEach((s, i) => s.write(frame(OP.TEXT, `m${i}`)));
      await bounded(
        new Promise((resolve) => {
          const check = () => (seen.length === 3 ? resolve() : setTimeout(check, 5));
          check();
        }),
        'messages'
      );
      assert.deepEqual(seen.sort(), ['m0', 'm1', 'm2']);
      assert.deepEqual(errors, ['boom']);
      sockets.forEach((s) => s.write(frame(OP.CLOSE, closePayload(1000))));
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of listeners) process.on('uncaughtException', l);
    }
  });
});
