'use strict';

//
// `createWebSocketStream()` on the client: large files piped both ways with
// backpressure, and the stream's events (end, close, errors) compared with
// ws's `createWebSocketStream()` on ws's client.
//

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { after, afterEach, before, describe, test } = require('node:test');

const {
  bounded,
  cleanup,
  deferred,
  describeError,
  listenWss,
  onceEvent,
  ref,
  sut,
  track
} = require('./helpers');
const { clientDifferential, rawServer, switching } = require('./client-helpers');

afterEach(cleanup);

const FILE_SIZE = 48 * 1024 * 1024;

let tmp;
let upFile;
let downFile;

/** Writes `size` pseudo-random bytes to `file`; resolves with their sha256. */
function makeFile(file, size, seed) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w');
  let state = seed;
  const chunk = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < size; written += chunk.length) {
    for (let i = 0; i < chunk.length; i += 4) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      chunk.writeUInt32LE(state, i);
    }
    fs.writeSync(fd, chunk);
    hash.update(chunk);
  }
  fs.closeSync(fd);
  return hash.digest('hex');
}

const hashes = {};

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-native-stream-'));
  upFile = path.join(tmp, 'up.bin');
  downFile = path.join(tmp, 'down.bin');
  hashes.up = makeFile(upFile, FILE_SIZE, 1);
  hashes.down = makeFile(downFile, FILE_SIZE, 2);
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * A writable that counts and hashes what it gets, and can be held (its
 * callbacks withheld) to stop the flow.
 */
function sink() {
  const hash = crypto.createHash('sha256');
  let held = null;
  const writable = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk, encoding, callback) {
      hash.update(chunk);
      writable.bytes += chunk.length;
      if (writable.holding) held = callback;
      else callback();
    }
  });
  writable.bytes = 0;
  writable.holding = false;
  writable.release = () => {
    writable.holding = false;
    if (held) {
      const cb = held;
      held = null;
      cb();
    }
  };
  writable.digest = () => hash.digest('hex');
  return writable;
}

/**
 * A file read stream that counts what has been read from the disk, to see
 * backpressure reach the source.
 */
function source(file) {
  const stream = fs.createReadStream(file);
  stream.bytes = 0;
  stream.on('data', (chunk) => (stream.bytes += chunk.length));
  return stream;
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

//
// The bytes that may be in flight while the receiving side is held: the
// receiving duplex (16 KiB), the paused socket, the kernel buffers of a
// loopback connection (4 to 6 MiB measured here, up to tcp_rmem + tcp_wmem)
// and the sending side's buffers. Far less than the file.
//
const MAX_IN_FLIGHT = 20 * 1024 * 1024;

for (const [serverName, Server] of [['ws', () => ref()], ['ws-native', () => require('..')]]) {
  describe(`createWebSocketStream, our client, ${serverName} server`, () => {
    async function connect() {
      const S = Server();
      const { wss, port } = await listenWss(S);
      const accepted = onceEvent(wss, 'connection');
      const WS = sut();
      const ws = track(new WS(`ws://127.0.0.1:${port}`));
      // Written to before the connection is open: buffered until then.
      const client = WS.createWebSocketStream(ws);
      const [serverWs] = await accepted;
      const server = S.createWebSocketStream(serverWs);
      return { client, server, ws, serverWs };
    }

    test('a large upload with the receiver held for a while', async () => {
      const { client, server } = await connect();
      const from = source(upFile);
      const to = sink();
      const done = Promise.all([pipeline(from, client), pipeline(server, to)]);

      // Let it flow, then hold the receiver and see the source stop.
      await bounded(new Promise((resolve) => {
        const timer = setInterval(() => {
          if (to.bytes > 2 * 1024 * 1024) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      }), 'first bytes');
      to.holding = true;
      await wait(300);
      const readWhileHeld = from.bytes;
      const received = to.bytes;
      await wait(200);
      assert.equal(from.bytes, readWhileHeld, 'the source must be paused');
      assert.ok(readWhileHeld - received < MAX_IN_FLIGHT, `${readWhileHeld - received} bytes in flight`);
      assert.ok(readWhileHeld < FILE_SIZE);
      to.release();

      await bounded(done, 'upload', 30000);
      assert.equal(to.bytes, FILE_SIZE);
      assert.equal(to.digest(), hashes.up);
    });

    test('a large download with the client held for a while', async () => {
      const { client, server } = await connect();
      const from = source(downFile);
      const to = sink();
      const done = Promise.all([pipeline(from, server), pipeline(client, to)]);

      await bounded(new Promise((resolve) => {
        const timer = setInterval(() => {
          if (to.bytes > 2 * 1024 * 1024) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      }), 'first bytes');
      to.holding = true;
      await wait(300);
      const readWhileHeld = from.bytes;
      const received = to.bytes;
      await wait(200);
      assert.equal(from.bytes, readWhileHeld, 'the source must be paused');
      assert.ok(readWhileHeld - received < MAX_IN_FLIGHT, `${readWhileHeld - received} bytes in flight`);
      to.release();

      await bounded(done, 'download', 30000);
      assert.equal(to.bytes, FILE_SIZE);
      assert.equal(to.digest(), hashes.down);
    });

    test('both ways at once, then a clean close from the client', async () => {
      const { client, server, ws } = await connect();
      const clientGot = sink();
      const serverGot = sink();
      const serverDone = pipeline(server, serverGot);
      client.pipe(clientGot);

      // Neither side ends its writable until everything has crossed.
      source(downFile).pipe(server, { end: false });
      const uploaded = new Promise((resolve) => source(upFile).on('end', resolve).pipe(client, { end: false }));

      await bounded(uploaded, 'upload read', 30000);
      await bounded(new Promise((resolve) => {
        const timer = setInterval(() => {
          if (clientGot.bytes === FILE_SIZE) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      }), 'download complete', 30000);

      const closed = onceEvent(ws, 'close');
      client.end();
      await bounded(serverDone, 'server side', 30000);
      const [code] = await closed;
      assert.equal(code, 1005);
      assert.equal(clientGot.digest(), hashes.down);
      assert.equal(serverGot.digest(), hashes.up);
      assert.equal(serverGot.bytes, FILE_SIZE);
    });
  });
}

describe('createWebSocketStream: events as with ws', () => {
  /** Records what a duplex emits. */
  function recordDuplex(duplex, log) {
    for (const event of ['end', 'finish', 'close']) duplex.on(event, () => log.push([event]));
    duplex.on('data', (chunk) => log.push(['data', typeof chunk === 'string' ? chunk : chunk.toString('hex')]));
    duplex.on('error', (err) => log.push(['error', describeError(err)]));
    return log;
  }

  async function streamScenario(WS, s) {
    const log = [];
    const { wss, port } = await listenWss(ref());
    const serverDone = deferred();
    wss.on('connection', (ws) => {
      ws.on('close', (code, reason) => {
        log.push(['server close', code, String(reason)]);
        serverDone.resolve();
      });
      s.server(ws);
    });
    const ws = track(new WS(`ws://127.0.0.1:${port}${s.path || '/'}`));
    const duplex = WS.createWebSocketStream(ws, s.options);
    recordDuplex(duplex, log);
    const closed = onceEvent(duplex, 'close', 'duplex close');
    if (s.client) s.client(duplex, ws);
    await closed;
    if (s.waitServer !== false) await bounded(serverDone.promise, 'server close');
    return log;
  }

  const cases = {
    'messages in, end from the client': {
      server: (ws) => {
        ws.send('text');
        ws.send(Buffer.from([1, 2]));
      },
      client: (duplex) => {
        let n = 0;
        duplex.on('data', () => ++n === 2 && duplex.end());
      }
    },
    'readableObjectMode: text as strings': {
      options: { readableObjectMode: true },
      server: (ws) => {
        ws.send('text');
        ws.send(Buffer.from('bin'));
        ws.close(1000);
      },
      // The readable side ends on close; ending the writable one finishes.
      client: (duplex) => duplex.on('end', () => duplex.end())
    },
    'written before open, echoed back, server closes': {
      server: (ws) => ws.on('message', (data) => {
        ws.send(data);
        ws.close(4000, 'enough');
      }),
      client: (duplex) => {
        duplex.write('early');
        duplex.on('end', () => duplex.end());
      }
    },
    'destroy() terminates': {
      server: (ws) => ws.send('hi'),
      client: (duplex) => duplex.once('data', () => duplex.destroy())
    },
    'destroy(err) emits the error': {
      server: (ws) => ws.send('hi'),
      client: (duplex) => duplex.once('data', () => duplex.destroy(new Error('mine')))
    },
    'a protocol error from the server': {
      server: (ws) => ws._socket.write(Buffer.from([0x81, 0x85, 0, 0, 0, 0, 1, 2, 3, 4, 5])),
    }
  };

  for (const [name, s] of Object.entries(cases)) {
    test(name, async () => {
      await clientDifferential((WS) => streamScenario(WS, s));
    });
  }

  test('a failed handshake destroys the stream with the error', async () => {
    const result = await clientDifferential(async (WS) => {
      const raw = await rawServer((socket) => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
      const ws = track(new WS(`ws://127.0.0.1:${raw.port}`));
      const duplex = WS.createWebSocketStream(ws);
      const log = recordDuplex(duplex, []);
      duplex.write('never sent');
      duplex.end();
      await onceEvent(duplex, 'close', 'duplex close');
      return log;
    });
    assert.deepEqual(result[0], ['error', { name: 'Error', message: 'Unexpected server response: 404', code: undefined }]);
  });

  test('an invalid Sec-WebSocket-Accept destroys the stream', async () => {
    await clientDifferential(async (WS) => {
      const raw = await rawServer((socket) => socket.write(switching('wrong')));
      const ws = track(new WS(`ws://127.0.0.1:${raw.port}`, { perMessageDeflate: false }));
      const duplex = WS.createWebSocketStream(ws);
      const log = recordDuplex(duplex, []);
      await onceEvent(duplex, 'close', 'duplex close');
      return log;
    });
  });
});
