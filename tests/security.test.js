'use strict';

//
// One regression test per ws security advisory (see the README, "Limits and
// hostile peers"), run against our server. Where ws 8.23 behaves the same,
// the test is differential; where we chose another policy (no fragment
// count limit), it checks ours.
//

const assert = require('node:assert/strict');
const http = require('node:http');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  OP,
  RawClient,
  bounded,
  cleanup,
  deferred,
  differential,
  frame,
  handshakeRequest,
  listenHttp,
  listenWss,
  rawExchange,
  rawScenario,
  record,
  stripDate,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

/**
 * Sends `request` to a fresh server of `WS` and returns what came back
 * (everything, for a refused handshake; the head, for a 101) and how long
 * it took.
 */
async function exchange(WS, options, request) {
  const { port } = await listenWss(WS, options);
  const raw = new RawClient(port, { request });
  const t0 = process.hrtime.bigint();
  const { status, head } = await raw.head();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;

  if (status === 101) {
    raw.send(frame(OP.CLOSE));
    await raw.closed;
    return { response: stripDate(head), ms };
  }

  await raw.closed;
  return { response: stripDate(raw.received.toString('latin1')), ms };
}

/**
 * Runs `exchange()` against ws and the module under test and compares the
 * responses; returns our timing.
 */
async function sameExchange(options, request) {
  let ms;
  await differential(async (WS) => {
    const result = await exchange(WS, options, request);
    ms = result.ms; // the module under test runs last
    return result.response;
  });
  return ms;
}

describe('CVE-2021-32640: ReDoS in Sec-WebSocket-Protocol', () => {
  //
  // ws 7.4.5 split the header with `/ *, */`, quadratic on a long run of
  // spaces that no comma follows: a header of a few KiB blocked the process
  // for seconds.
  //
  const spaces = ' '.repeat(15000);

  for (const [name, value] of [
    ['spaces between two tokens', `a${spaces}b`],
    ['spaces before a comma', `a${spaces},b`],
    ['spaces at the end', `a${spaces}`]
  ]) {
    test(`${name}: the same answer as ws, at once`, async () => {
      const request = handshakeRequest({ headers: { 'Sec-WebSocket-Protocol': value } });
      const ms = await sameExchange({}, request);
      assert.ok(ms < 1000, `answered in ${ms} ms`);
    });
  }

  test('the parsers are linear: 1 MB headers in well under a second', { skip: !IS_NATIVE && 'ws-native only' }, () => {
    const binding = require('../js/binding');
    const big = ' '.repeat(1 << 20);

    for (const [fn, input] of [
      [binding.parseSubprotocols, `a${big}b`],
      [binding.parseSubprotocols, `a${big},b`],
      [binding.parseExtensions, `a;${big}b`],
      [binding.parseExtensions, `a${big},b`]
    ]) {
      const t0 = process.hrtime.bigint();
      try {
        fn(input);
      } catch (err) {
        assert.equal(err.name, 'SyntaxError');
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(ms < 250, `${ms} ms`);
    }
  });
});

describe('CVE-2024-37890: more headers than maxHeadersCount', () => {
  //
  // Node keeps the first `maxHeadersCount` (2000) headers only, but still
  // treats the request as an upgrade: `req.headers.upgrade` is then
  // undefined, which crashed ws < 8.17.1.
  //
  const filler = 'x: y\r\n'.repeat(1999);
  const request =
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
    filler +
    'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

  test('port mode: refused like ws, and the server lives on', async () => {
    const result = await differential(async (WS) => {
      const { port } = await listenWss(WS);
      const refused = stripDate(await rawExchange(port, request));
      const next = new RawClient(port);
      const { status } = await next.head();
      return { refused, next: status };
    });
    //
    // Node 20 hands the request on and ws answers 400; Node 22+ refuses it
    // with 431 before any listener runs. Either way it is refused cleanly.
    //
    assert.match(result.refused, /^HTTP\/1\.1 (400|431) /);
    assert.equal(result.next, 101);
  });

  test('server mode with maxHeadersCount = 1, and upgrade(req)', { skip: !IS_NATIVE && 'upgrade(req) is ws-native only' }, async () => {
    const WS = sut();
    const wss = track(new WS.WebSocketServer({ noServer: true }));
    const server = http.createServer();
    const results = [];

    server.maxHeadersCount = 1;
    server.on('upgrade', (req, socket, head) => {
      results.push([wss.upgrade(req, { head }), wss.upgradeError(req).status]);
      socket.destroy();
    });

    const port = await listenHttp(server);
    const reply = await rawExchange(
      port,
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n\r\n'
    );

    if (results.length === 0) {
      // Node 22+ refuses the request itself, before 'upgrade' is emitted.
      assert.match(reply, /^HTTP\/1\.1 431 /);
    } else {
      // Without a readable Upgrade header it is a plain request: 426.
      assert.deepEqual(results, [[false, 426]]);
    }
  });
});

describe('CVE-2026-48779: floods of tiny fragments and tiny chunks', () => {
  /**
   * A message of `n` fragments of `size` bytes, as one buffer, and its
   * payload.
   */
  function fragments(n, size, { fin = true, opcode = OP.BINARY } = {}) {
    const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    const payload = Buffer.alloc(n * size);
    const wire = Buffer.alloc(n * (6 + size));

    for (let i = 0, at = 0; i < n; i++) {
      wire[at] = (i === 0 ? opcode : OP.CONT) | (fin && i === n - 1 ? 0x80 : 0);
      wire[at + 1] = 0x80 | size;
      mask.copy(wire, at + 2);
      at += 6;
      for (let j = 0; j < size; j++) {
        const byte = (i * 7 + j) & 0x7f;
        payload[i * size + j] = byte;
        wire[at++] = byte ^ mask[j & 3];
      }
    }

    return { wire, payload };
  }

  /**
   * Sends `wire` to a server of the module under test and resolves with the
   * first message it receives (or its error and close code).
   */
  async function receive(wire, options = {}, binaryType) {
    const WS = sut();
    const { wss, port } = await listenWss(WS, options);
    const got = deferred();
    wss.on('connection', (ws) => {
      if (binaryType) ws.binaryType = binaryType;
      ws.on('message', (data) => got.resolve({ data }));
      ws.on('error', (err) => got.resolve({ err }));
    });
    const raw = new RawClient(port);
    await raw.head();
    raw.send(wire);
    return bounded(got.promise, 'message or error', 20000);
  }

  test('a message of 64Ki fragments of 64 bytes (Autobahn 9.3.1) is received', { skip: !IS_NATIVE && 'ws refuses it (maxFragments)' }, async () => {
    const { wire, payload } = fragments(64 * 1024, 64);
    const { data, err } = await receive(wire);
    assert.equal(err, undefined);
    assert.ok(data.equals(payload));
  });

  test('with binaryType fragments, one buffer per frame', { skip: !IS_NATIVE && 'ws refuses it (maxFragments)' }, async () => {
    const { wire, payload } = fragments(32 * 1024, 3);
    const { data } = await receive(wire, {}, 'fragments');
    assert.equal(data.length, 32 * 1024);
    assert.ok(data.every((b) => b.length === 3));
    assert.ok(Buffer.concat(data).equals(payload));
  });

  test('a flood of 1-byte fragments stops at maxPayload (1009)', async () => {
    const { wire } = fragments(80 * 1024, 1, { fin: false });
    const result = await differential((WS) =>
      rawScenario(WS, {
        options: { maxPayload: 64 * 1024, maxFragments: 0 },
        client: async (raw) => {
          raw.send(wire);
          await raw.closed;
        }
      })
    );
    assert.equal(result.frames.at(-1).code, 1009);
    assert.equal(result.events[0][1].message, 'Max payload size exceeded');
  });

  test('the fragment count limit still applies when set (1008)', async () => {
    const { wire } = fragments(1000, 1, { fin: false });
    const result = await differential((WS) =>
      rawScenario(WS, {
        options: { maxFragments: 999 },
        client: async (raw) => {
          raw.send(wire);
          await raw.closed;
        }
      })
    );
    assert.equal(result.frames.at(-1).code, 1008);
    assert.equal(result.events[0][1].message, 'Too many message fragments');
  });

  test('tiny TCP chunks stop at maxBufferedChunks (1008)', async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS, { maxBufferedChunks: 50 });
    const log = [];
    const closed = deferred();
    wss.on('connection', (ws) => {
      record(ws, log);
      ws.on('close', closed.resolve);
    });

    const raw = new RawClient(port);
    await raw.head();
    // A 60000-byte binary frame, then its payload a byte per write.
    raw.send(frame(OP.BINARY, Buffer.alloc(60000)).subarray(0, 8));
    for (let i = 0; i < 5000 && !raw.socket.destroyed && raw.frames().length === 0; i++) {
      raw.send(Buffer.from([i & 0xff]));
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await bounded(closed.promise, 'server-side close');
    const [close] = raw.frames();
    assert.equal(close.payload.readUInt16BE(0), 1008);
    assert.deepEqual(log[0][1].message, 'Too many buffered chunks');
  });
});

describe('8.23.0: a peer that pings and never reads', () => {
  test('is dropped once maxPendingAutoPongs pongs wait', async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS, { maxPendingAutoPongs: 60 });
    const closed = deferred();
    let pings = 0;
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('ping', () => pings++);
      ws.on('close', (code) => closed.resolve(code));
    });

    const raw = new RawClient(port);
    await raw.head();
    raw.socket.pause(); // never reads again

    const batch = Buffer.concat(Array.from({ length: 500 }, () => frame(OP.PING, Buffer.alloc(125))));
    const deadline = Date.now() + 15000;
    let done = false;
    closed.promise.then(() => (done = true));
    while (!done && !raw.socket.destroyed && Date.now() < deadline) {
      raw.send(batch);
      await new Promise((resolve) => setImmediate(resolve));
    }

    assert.equal(await bounded(closed.promise, 'server-side close', 15000), 1006);
    assert.ok(pings > 60, `${pings} pings`);
  });
});

describe('3.3.1: Object.prototype names in Sec-WebSocket-Extensions', () => {
  const headers = [
    'constructor',
    '__proto__',
    'toString, hasOwnProperty; constructor',
    'permessage-deflate; constructor',
    'permessage-deflate; __proto__=1',
    'permessage-deflate; hasOwnProperty; toString=2',
    'permessage-deflate; valueOf, permessage-deflate',
    'foo; __proto__; constructor=3, permessage-deflate; client_max_window_bits'
  ];

  for (const perMessageDeflate of [false, true]) {
    test(`answered like ws, perMessageDeflate: ${perMessageDeflate}`, async () => {
      for (const value of headers) {
        const request = handshakeRequest({ headers: { 'Sec-WebSocket-Extensions': value } });
        await sameExchange({ perMessageDeflate }, request);
        await cleanup();
      }
    });
  }

  test('parsed into objects without a prototype', { skip: !IS_NATIVE && 'ws-native only' }, () => {
    const { parse } = require('../js/extension');
    const offers = parse('constructor; __proto__=1; toString, __proto__');
    assert.equal(Object.getPrototypeOf(offers), null);
    assert.deepEqual(Object.keys(offers), ['constructor', '__proto__']);
    assert.equal(Object.getPrototypeOf(offers.constructor[0]), null);
    assert.deepEqual(offers.constructor[0].__proto__, ['1']);
    assert.deepEqual(offers.constructor[0].toString, [true]);
    assert.equal({}.polluted, undefined);
  });
});

describe('CVE-2016-10518: ping(number) never sends uninitialised memory', () => {
  test('numbers are sent as their decimal text, as ws does', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws) => {
          ws.ping(42);
          ws.pong(1.5);
          ws.ping(0);
          ws.send(100);
          ws.close();
        },
        client: async (raw) => {
          await raw.closed;
        }
      })
    );
    const payloads = result.frames.map((f) => Buffer.from(f.payload, 'hex').toString());
    assert.deepEqual(payloads, ['42', '1.5', '0', '100', '']);
  });
});

describe('8.20.1: a close() reason given as a TypedArray', () => {
  test('refused or sent byte for byte, as ws does', async () => {
    const reasons = [
      () => new Uint16Array([0x4142, 0x4344]),
      () => new Float64Array([1.5]),
      () => new Int32Array(3),
      () => new DataView(new ArrayBuffer(4)),
      () => new ArrayBuffer(4),
      () => new Uint8Array([0x6f, 0x6b]),
      () => Buffer.from('fine'),
      () => 'text',
      () => 42,
      () => new Uint16Array(100)
    ];

    for (const reason of reasons) {
      const result = await differential((WS) =>
        rawScenario(WS, {
          server: (ws, req, log) => {
            try {
              ws.close(1000, reason());
            } catch (err) {
              log.push(['threw', err.name, err.message]);
              ws.close(1001);
            }
          },
          client: async (raw) => {
            await raw.closed;
          }
        })
      );
      const close = result.frames.at(-1);
      const threw = result.events.find((e) => e[0] === 'threw');
      if (!threw) {
        // Whatever was sent came from the reason itself.
        const data = reason();
        let expected = Buffer.alloc(0);
        if (typeof data === 'string') expected = Buffer.from(data);
        else if (ArrayBuffer.isView(data) && data.length) {
          expected = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        }
        assert.equal(close.reason, expected.toString(), `reason ${String(reason)}`);
      }
      await cleanup();
    }
  });
});
