'use strict';

//
// Binary data that is an ArrayBuffer without being an `instanceof
// ArrayBuffer` of this realm: a SharedArrayBuffer, an ArrayBuffer made in
// another realm (`vm`). ws 8.23.1 takes every such buffer as it takes an
// ArrayBuffer (`util.types.isAnyArrayBuffer()`), so a client no longer masks
// the caller's SharedArrayBuffer in place as 8.23.0 did, and an object that
// only inherits from `ArrayBuffer.prototype` (or a Proxy of an ArrayBuffer)
// is no longer sent as an empty message: `Buffer.from()` refuses it with a
// TypeError. `send()`, `ping()` and `pong()` must do as ws 8.23.1 does, on
// the server (the exact bytes written) and on the client (what the server
// got, and the caller's buffer afterwards).
//

const assert = require('node:assert/strict');
const { afterEach, describe, test } = require('node:test');
const vm = require('node:vm');

const {
  OP,
  bounded,
  cleanup,
  closePayload,
  deferred,
  describeError,
  differential,
  digest,
  frame,
  listenWss,
  onceEvent,
  rawScenario,
  record,
  ref,
  track
} = require('./helpers');

afterEach(cleanup);

/**
 * Fills `size` bytes of a new buffer of the given kind with a pattern.
 */
function filled(make, size) {
  const buffer = make(size);
  const view = new Uint8Array(buffer);

  for (let i = 0; i < size; i++) view[i] = (i * 13 + 5) & 0xff;
  return buffer;
}

const otherRealm = vm.createContext({});

//
// Binary data ws 8.23.1 sends as it is. Sizes on both sides of 64 KiB,
// where ws-native stops copying a payload into its staging buffer.
//
const BINARY = {
  'a SharedArrayBuffer': (size) => filled((n) => new SharedArrayBuffer(n), size),
  'a Uint8Array over a SharedArrayBuffer': (size) =>
    new Uint8Array(filled((n) => new SharedArrayBuffer(n), size)),
  "another realm's ArrayBuffer": (size) =>
    filled((n) => vm.runInContext(`new ArrayBuffer(${n})`, otherRealm), size)
};
const SIZES = [5, 70000];

//
// Objects that pass `instanceof ArrayBuffer` without being one: ws 8.23.0
// sent them as empty messages, ws 8.23.1 throws.
//
const NOT_BUFFERS = {
  'an object inheriting from ArrayBuffer.prototype': () => Object.create(ArrayBuffer.prototype),
  'a Proxy of an ArrayBuffer': () => new Proxy(new ArrayBuffer(4), {})
};

/**
 * Calls `fn` and describes its outcome.
 */
function attempt(log, name, fn) {
  try {
    fn();
    log.push([name, 'ok']);
  } catch (err) {
    log.push([name, describeError(err)]);
  }
}

/**
 * The bytes of binary data (a view or any ArrayBuffer), copied.
 */
function bytesOf(data) {
  return ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')
    : Buffer.from(new Uint8Array(data)).toString('hex');
}

describe('a server sends any ArrayBuffer, as ws 8.23.1 does', () => {
  for (const [kind, make] of Object.entries(BINARY)) {
    test(kind, async () => {
      const result = await differential((WS) =>
        rawScenario(WS, {
          server: (ws, req, log) => {
            for (const size of SIZES) {
              attempt(log, `send ${size}`, () => ws.send(make(size)));
              attempt(log, `send ${size} as text`, () => ws.send(make(size), { binary: false }));
            }
            attempt(log, 'ping', () => ws.ping(make(5)));
            attempt(log, 'pong', () => ws.pong(make(5)));
          },
          client: async (raw) => {
            await raw.waitFrames(2 * SIZES.length + 2);
            raw.send(frame(OP.CLOSE, closePayload(1000)));
          }
        })
      );

      const pattern = (size) => digest(Buffer.from(filled((n) => new ArrayBuffer(n), size)));

      assert.deepEqual(
        result.frames.slice(0, 6).map((f) => f.payload),
        [...SIZES.flatMap((size) => [pattern(size), pattern(size)]), pattern(5), pattern(5)]
      );
      assert.deepEqual(
        result.events.filter((e) => e[1] !== 'ok'),
        [['close', 1000, '']]
      );
    });
  }

  for (const [kind, make] of Object.entries(NOT_BUFFERS)) {
    test(`${kind}: a TypeError, nothing sent`, async () => {
      const result = await differential((WS) =>
        rawScenario(WS, {
          server: (ws, req, log) => {
            attempt(log, 'send', () => ws.send(make()));
            attempt(log, 'ping', () => ws.ping(make()));
            attempt(log, 'pong', () => ws.pong(make()));
            ws.close(1000);
            attempt(log, 'send while closing', () => ws.send(make()));
            attempt(log, 'ping while closing', () => ws.ping(make()));
          },
          client: (raw) => raw.waitFrames(1)
        })
      );

      assert.equal(result.frames.length, 1);
      assert.deepEqual(result.events.slice(0, 5).map((e) => e[1].name), [
        'TypeError',
        'TypeError',
        'TypeError',
        'TypeError',
        'TypeError'
      ]);
    });
  }
});

/**
 * A client of `WS` sends each buffer `make()` gives (and pings with one)
 * to a ws server, and reports what the server got, the bytes of each buffer
 * after its send, and what the client's calls did.
 */
async function clientSends(WS, perMessageDeflate, sends) {
  const { wss, port } = await listenWss(ref(), { perMessageDeflate });
  const serverLog = [];
  const got = deferred();
  const serverClosed = deferred();

  wss.on('connection', (ws) => {
    record(ws, serverLog);
    ws.on('close', serverClosed.resolve);
    ws.on('message', () => {
      if (serverLog.filter((e) => e[0] === 'message').length === sends.length) {
        got.resolve();
      }
    });
  });

  const client = track(new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate }));
  const clientLog = [];

  client.on('error', (err) => clientLog.push(['error', describeError(err)]));
  await onceEvent(client, 'open');

  for (const [name, make] of sends) {
    const data = make();
    const before = bytesOf(data);

    attempt(clientLog, `send ${name}`, () => client.send(data));
    clientLog.push([`${name} unchanged`, bytesOf(data) === before]);
  }

  const ping = BINARY['a SharedArrayBuffer'](5);

  attempt(clientLog, 'ping', () => client.ping(ping));
  clientLog.push(['ping data unchanged', bytesOf(ping) === bytesOf(BINARY['a SharedArrayBuffer'](5))]);

  for (const [kind, make] of Object.entries(NOT_BUFFERS)) {
    attempt(clientLog, `send ${kind}`, () => client.send(make()));
    attempt(clientLog, `ping ${kind}`, () => client.ping(make()));
    attempt(clientLog, `pong ${kind}`, () => client.pong(make()));
  }

  await bounded(got.promise, 'the messages');
  client.close();
  await onceEvent(client, 'close');
  await bounded(serverClosed.promise, 'the server-side close');
  return { serverLog, clientLog };
}

describe('a client sends any ArrayBuffer, as ws 8.23.1 does (to a ws server)', () => {
  const sends = [];

  for (const [kind, make] of Object.entries(BINARY)) {
    for (const size of SIZES) sends.push([`${kind} of ${size} bytes`, () => make(size)]);
  }

  for (const perMessageDeflate of [false, true]) {
    test(`perMessageDeflate: ${perMessageDeflate}`, async () => {
      const result = await differential((WS) => clientSends(WS, perMessageDeflate, sends));

      //
      // Masked into a copy: the caller's buffer is left as it was (ws 8.23.0
      // masked a SharedArrayBuffer in place).
      //
      assert.ok(result.clientLog.every((e) => e[1] === 'ok' || e[1] === true || e[1].name === 'TypeError'));
      assert.equal(result.clientLog.filter((e) => e[1].name === 'TypeError').length, 6);
      assert.equal(result.serverLog.filter((e) => e[0] === 'message').length, sends.length);
      assert.deepEqual(result.serverLog.find((e) => e[0] === 'ping'), [
        'ping',
        bytesOf(BINARY['a SharedArrayBuffer'](5))
      ]);
    });
  }
});
