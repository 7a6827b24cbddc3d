'use strict';

//
// Requests made by hand rather than by Node's HTTP parser: header values that
// are numbers, arrays, objects, or absent, as @fastify/websocket's `injectWS`
// (`'sec-websocket-version': 13`) or a test builds them. `handleUpgrade()`
// must answer them as ws does (the same bytes, or the same connection), and
// where ws throws on a value it cannot convert, answer as ws answers a
// request without that header, never throw or leave the caller hanging.
// `upgrade()` and `upgradeError()` must not throw on them either.
//
// One deliberate difference: ws 8.23.1 compares `Sec-WebSocket-Version` with
// the strings '13' and '8', so version 13 as the number 13 (what `injectWS`
// sends) or as a one-element array of it gets 400 there (ws 8.23.0 and
// earlier upgraded it). ws-native upgrades exactly these values, as ws 8.23.1
// upgrades the string '13'; see `VERSION_13` below.
//

const assert = require('node:assert/strict');
const net = require('node:net');
const { Duplex } = require('node:stream');
const util = require('node:util');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  OP,
  SAMPLE_KEY,
  bounded,
  cleanup,
  deferred,
  frame,
  parseFrames,
  ref,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

//
// A valid value for each header the handshake reads (`method` is
// `req.method`).
//
const VALID = {
  method: 'GET',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': SAMPLE_KEY,
  'sec-websocket-version': '13',
  'sec-websocket-protocol': 'chat',
  'sec-websocket-extensions': 'permessage-deflate',
  origin: 'http://example.com'
};

//
// Odd values, from the valid one.
//
const ODD = {
  'the number 13': () => 13,
  'the number 8': () => 8,
  'the number 0': () => 0,
  'an array of the valid value': (v) => [v],
  'an array of the valid value twice': (v) => [v, v],
  'an empty array': () => [],
  'an object': () => ({}),
  'an object whose toString() throws': () => ({
    toString() {
      throw new Error('no');
    }
  }),
  null: () => null,
  undefined: () => undefined,
  true: () => true,
  'a String object': (v) => new String(v),
  'a BigInt': () => 13n,
  'a Symbol': () => Symbol('x')
};

//
// The `Sec-WebSocket-Version` values that ws-native upgrades and ws 8.23.1
// refuses with 400: version 13 as a number, or as a one-element array of it.
//
const VERSION_13 = [13, [13], ['13']];

/**
 * Whether ws-native deliberately answers `value` as version '13' where ws
 * 8.23.1 answers 400 (the only difference these tests allow).
 */
function isVersion13Exception(name, value) {
  return (
    IS_NATIVE &&
    name === 'sec-websocket-version' &&
    VERSION_13.some((v) => util.isDeepStrictEqual(v, value))
  );
}

/**
 * Checks the one allowed difference: ws refuses `value` as an invalid
 * version, ws-native answers exactly as ws answers the string '13'.
 */
async function assertVersion13Exception(expected, actual) {
  assert.equal(expected.threw, undefined);
  assert.match(
    expected.bytes,
    /^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nMissing or invalid Sec-WebSocket-Version header$/
  );
  assert.match(actual.bytes, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.deepEqual(actual, await handle(ref(), 'sec-websocket-version', '13'));
}

/**
 * A hand-made request with the valid handshake headers, `name` set to
 * `value` (deleted when `undefined`).
 */
function makeRequest(name, value, socket) {
  const headers = {
    upgrade: VALID.upgrade,
    connection: VALID.connection,
    'sec-websocket-key': VALID['sec-websocket-key'],
    'sec-websocket-version': VALID['sec-websocket-version']
  };
  let method = 'GET';

  if (name === 'method') method = value;
  else if (value === undefined) delete headers[name];
  else headers[name] = value;

  return { method, url: '/', headers, socket };
}

/**
 * How a value looks to a test (`String()` may throw).
 */
function show(value) {
  try {
    return [typeof value, String(value)];
  } catch {
    return [typeof value, '?'];
  }
}

/**
 * Accepts one connection on a `net` server and resolves with both ends.
 */
async function socketPair() {
  const server = track(net.createServer());
  const accepted = deferred();

  server.once('connection', accepted.resolve);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  const client = track(net.connect(server.address().port, '127.0.0.1'));
  const socket = track(await bounded(accepted.promise, 'accept'));

  client.on('error', () => {});
  socket.on('error', () => {});
  return { client, socket };
}

/**
 * Everything the server writes until it closes the connection.
 */
function received(client) {
  const chunks = [];

  client.on('data', (chunk) => chunks.push(chunk));
  return bounded(
    new Promise((resolve) => {
      client.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    }),
    'the server to answer and close'
  );
}

/**
 * Calls `handleUpgrade()` of a `noServer` WebSocketServer of `WS` with a
 * hand-made request whose `name` header is `value`, over a real socket, and
 * reports what happened: whether it threw, the bytes the client got, the
 * connection, what `verifyClient` saw.
 */
async function handle(WS, name, value) {
  const result = {};
  const options = { noServer: true };

  if (name === 'sec-websocket-extensions') options.perMessageDeflate = true;
  if (name === 'origin') {
    options.verifyClient = (info) => {
      result.origin = show(info.origin);
      return true;
    };
  }

  const wss = track(new WS.WebSocketServer(options));
  const { client, socket } = await socketPair();
  const bytes = received(client);

  try {
    wss.handleUpgrade(makeRequest(name, value, socket), socket, Buffer.alloc(0), (ws) => {
      result.protocol = ws.protocol;
      result.extensions = Object.keys(ws.extensions);
      ws.terminate();
    });
  } catch (err) {
    result.threw = err.constructor.name;
    socket.destroy();
  }

  result.bytes = await bytes;
  return result;
}

describe('handleUpgrade() with header values that are not strings', () => {
  for (const name of Object.keys(VALID)) {
    for (const [kind, make] of Object.entries(ODD)) {
      test(`${name}: ${kind}`, async () => {
        const value = make(VALID[name]);
        const expected = await handle(ref(), name, value);
        const actual = await handle(sut(), name, value);

        if (isVersion13Exception(name, value)) {
          await assertVersion13Exception(expected, actual);
          return;
        }

        if (expected.threw && IS_NATIVE) {
          //
          // ws throws out of handleUpgrade() and leaves the socket
          // unanswered: we refuse as ws does a request without the header.
          //
          const absent = await handle(ref(), name, undefined);

          assert.ok(!absent.threw);
          assert.deepEqual(actual, absent);
          return;
        }

        assert.deepEqual(actual, expected);
      });
    }
  }

  test('@fastify/websocket injectWS: version 13 as a number upgrades (ws 8.23.1: 400)', async () => {
    const value = 13;
    const expected = await handle(ref(), 'sec-websocket-version', value);
    const actual = await handle(sut(), 'sec-websocket-version', value);

    if (!IS_NATIVE) {
      assert.match(expected.bytes, /^HTTP\/1\.1 400 /);
      assert.deepEqual(actual, expected);
      return;
    }

    await assertVersion13Exception(expected, actual);
  });

  //
  // Values that ws 8.23.0 read as version 13 or 8 with `+` and ws 8.23.1
  // refuses: all refused the same way, but for the `VERSION_13` exception.
  //
  const VERSIONS = {
    ...Object.fromEntries(VERSION_13.map((v) => [`${util.inspect(v)}`, v])),
    "'8'": '8',
    8: 8,
    '[8]': [8],
    "['8']": ['8'],
    '[13, 13]': [13, 13],
    '[[13]]': [[13]],
    "'013'": '013',
    "'13.0'": '13.0',
    "' 13'": ' 13',
    "'13 '": '13 ',
    "'+13'": '+13',
    "'0xd'": '0xd',
    "'1.3e1'": '1.3e1',
    "'08'": '08',
    '13.0 (the number 13)': 13.0,
    '13.5': 13.5,
    'new Number(13)': () => new Number(13),
    "new String('13')": () => new String('13'),
    '{ valueOf() { return 13; } }': () => ({ valueOf: () => 13 }),
    "{ toString() { return '13'; } }": () => ({ toString: () => '13' })
  };

  for (const [shown, make] of Object.entries(VERSIONS)) {
    test(`Sec-WebSocket-Version: ${shown}`, async () => {
      const value = typeof make === 'function' ? make() : make;
      const expected = await handle(ref(), 'sec-websocket-version', value);
      const actual = await handle(sut(), 'sec-websocket-version', value);

      if (isVersion13Exception('sec-websocket-version', value)) {
        await assertVersion13Exception(expected, actual);
        return;
      }

      assert.deepEqual(actual, expected);
      if (value !== '8') assert.match(expected.bytes, /^HTTP\/1\.1 400 /);
    });
  }

  test('version 8: verifyClient gets Sec-WebSocket-Origin', async () => {
    const run = async (WS, version) => {
      const origins = [];
      const wss = track(
        new WS.WebSocketServer({
          noServer: true,
          verifyClient: (info) => origins.push(info.origin)
        })
      );
      const { client, socket } = await socketPair();
      const bytes = received(client);
      const req = makeRequest('sec-websocket-version', version, socket);

      req.headers.origin = 'http://new.example';
      req.headers['sec-websocket-origin'] = 'http://old.example';
      wss.handleUpgrade(req, socket, Buffer.alloc(0), (ws) => ws.terminate());
      return { origins, bytes: await bytes };
    };

    const expected = await run(ref(), '8');

    assert.deepEqual(expected.origins, ['http://old.example']);
    assert.match(expected.bytes, /^HTTP\/1\.1 101 /);
    assert.deepEqual(await run(sut(), '8'), expected);

    //
    // ws 8.23.0 also took the number 8 (and called verifyClient with
    // Sec-WebSocket-Origin); 8.23.1 refuses it before verifyClient.
    //
    const number = await run(ref(), 8);

    assert.deepEqual(number.origins, []);
    assert.match(number.bytes, /^HTTP\/1\.1 400 /);
    assert.deepEqual(await run(sut(), 8), number);
  });

  test('version 13 as a number: verifyClient gets Origin', { skip: !IS_NATIVE && 'ws 8.23.1 refuses it' }, async () => {
    const origins = [];
    const wss = track(
      new (sut().WebSocketServer)({
        noServer: true,
        verifyClient: (info) => origins.push(info.origin)
      })
    );
    const { client, socket } = await socketPair();
    const bytes = received(client);
    const req = makeRequest('sec-websocket-version', 13, socket);

    req.headers.origin = 'http://new.example';
    req.headers['sec-websocket-origin'] = 'http://old.example';
    wss.handleUpgrade(req, socket, Buffer.alloc(0), (ws) => ws.terminate());
    assert.match(await bytes, /^HTTP\/1\.1 101 /);
    assert.deepEqual(origins, ['http://new.example']);
  });
});

describe('upgrade() and upgradeError() with header values that are not strings', { skip: !IS_NATIVE && 'ws has no upgrade()' }, () => {
  //
  // upgrade() also wants the Connection header to hold the `upgrade` token
  // (handleUpgrade() does not read it): a value JavaScript's `String()`
  // makes a list with it passes.
  //
  const CONNECTION_OK = new Set([
    'an array of the valid value',
    'an array of the valid value twice',
    'a String object'
  ]);

  for (const name of Object.keys(VALID)) {
    for (const [kind, make] of Object.entries(ODD)) {
      test(`${name}: ${kind}`, async () => {
        const value = make(VALID[name]);
        const { bytes } = await handle(sut(), name, value);
        const accepted =
          name === 'connection' ? CONNECTION_OK.has(kind) : bytes.startsWith('HTTP/1.1 101 ');

        const options = { noServer: true };
        if (name === 'sec-websocket-extensions') options.perMessageDeflate = true;

        const wss = track(new (sut().WebSocketServer)(options));
        const { client, socket } = await socketPair();
        const req = makeRequest(name, value, socket);
        const error = wss.upgradeError(req);

        if (!accepted) {
          assert.equal(typeof error.status, 'number');
          assert.equal(typeof error.message, 'string');
          assert.equal(wss.upgrade(req), false);
          return;
        }

        assert.equal(error, null);

        const connection = deferred();
        wss.once('connection', connection.resolve);
        const answer = received(client);

        assert.equal(wss.upgrade(req), true);
        (await bounded(connection.promise, 'connection')).terminate();
        assert.match(await answer, /^HTTP\/1\.1 101 /);
      });
    }
  }
});

/**
 * Two connected in-memory streams, as @fastify/websocket's `injectWS` makes
 * with duplexify over two PassThroughs.
 */
function duplexPair() {
  const sides = [];

  for (let i = 0; i < 2; i++) {
    sides.push(
      new Duplex({
        read() {},
        write(chunk, encoding, callback) {
          sides[1 - i].push(chunk);
          callback();
        },
        final(callback) {
          sides[1 - i].push(null);
          callback();
        }
      })
    );
  }

  return sides;
}

describe('a request injected as @fastify/websocket injectWS does', () => {
  /**
   * Upgrades an injectWS-style request (no `req.socket`, the version as
   * `version`, the number 13 by default, an in-memory stream), sends a text
   * message, and reports what the client stream got and what the server
   * saw, once the echo came back or the server ended the stream.
   */
  async function inject(WS, options, version = 13) {
    const wss = track(new WS.WebSocketServer({ noServer: true, ...options }));
    const [serverStream, clientStream] = duplexPair();
    const req = {
      method: 'GET',
      headers: {
        'x-user': 'tester',
        connection: 'upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': version,
        'sec-websocket-key': SAMPLE_KEY
      },
      httpVersion: '1.1',
      url: '/'
    };
    const messages = [];
    let data = Buffer.alloc(0);
    const done = deferred();

    clientStream.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end !== -1 && parseFrames(data.subarray(end + 4)).frames.length > 0) {
        done.resolve();
      }
    });
    clientStream.on('end', done.resolve);

    wss.handleUpgrade(req, serverStream, Buffer.alloc(0), (ws) => {
      ws.on('message', (message) => {
        messages.push(String(message));
        ws.send(`echo: ${message}`);
      });
      clientStream.write(frame(OP.TEXT, 'hello'));
    });

    await bounded(done.promise, 'the echo or the end of the stream');
    for (const ws of wss.clients) ws.terminate();
    return { messages, data: data.toString('latin1') };
  }

  test('ws 8.23.1 answers 400 (the version is the number 13)', async () => {
    const { messages, data } = await inject(ref());

    assert.deepEqual(messages, []);
    assert.match(data, /^HTTP\/1\.1 400 Bad Request\r\n[^]*Missing or invalid Sec-WebSocket-Version header$/);
  });

  test('it is upgraded and exchanges messages, as ws does with the string 13', async () => {
    const expected = await inject(ref(), {}, '13');

    assert.deepEqual(expected.messages, ['hello']);
    assert.match(expected.data, /^HTTP\/1\.1 101 /);
    assert.deepEqual(await inject(sut(), {}, IS_NATIVE ? 13 : '13'), expected);
  });

  test('with verifyClient, which ws cannot call (no req.socket)', { skip: !IS_NATIVE && 'ws throws' }, async () => {
    const actual = await inject(sut(), { verifyClient: (info) => info.secure === false });

    assert.deepEqual(actual.messages, ['hello']);
    assert.match(actual.data, /^HTTP\/1\.1 101 /);
  });
});
