'use strict';

//
// permessage-deflate (RFC 7692), against ws:
//
// - negotiation: ws's `PerMessageDeflate#accept()` and ours give the same
//   parameters (or the same error) for every combination of options and
//   many offers and responses, and servers answer handshakes byte for byte
//   the same;
// - messages: a ws client and our server exchange compressed messages with
//   every combination of parameters, and what a server writes inflates to
//   the same messages, with RSV1 on the same frames, as ws's;
// - limits and errors: a decompression bomb stops at `maxPayload` (1009),
//   invalid deflate data fails with zlib's message (1007), RSV1 is refused
//   where ws refuses it.
//

const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  OP,
  RawClient,
  bounded,
  cleanup,
  closePayload,
  deferred,
  describeData,
  describeError,
  digest,
  frame,
  listenWss,
  onceEvent,
  parseFrames,
  record,
  ref,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

const NAME = 'permessage-deflate';

//
// Negotiation.
//

const FLAGS = [undefined, false, true];
const BITS = [undefined, false, true, 8, 10, 15];

/** Every combination of the four negotiation options. */
function* optionSets() {
  for (const serverNoContextTakeover of FLAGS) {
    for (const clientNoContextTakeover of FLAGS) {
      for (const serverMaxWindowBits of BITS) {
        for (const clientMaxWindowBits of BITS) {
          const options = {};
          if (serverNoContextTakeover !== undefined) {
            options.serverNoContextTakeover = serverNoContextTakeover;
          }
          if (clientNoContextTakeover !== undefined) {
            options.clientNoContextTakeover = clientNoContextTakeover;
          }
          if (serverMaxWindowBits !== undefined) options.serverMaxWindowBits = serverMaxWindowBits;
          if (clientMaxWindowBits !== undefined) options.clientMaxWindowBits = clientMaxWindowBits;
          yield options;
        }
      }
    }
  }
}

const OFFERS = [
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits',
  'permessage-deflate; client_max_window_bits=10',
  'permessage-deflate; client_max_window_bits=8',
  'permessage-deflate; client_max_window_bits=15',
  'permessage-deflate; server_max_window_bits=10',
  'permessage-deflate; server_max_window_bits=8',
  'permessage-deflate; server_max_window_bits=15',
  'permessage-deflate; server_no_context_takeover',
  'permessage-deflate; client_no_context_takeover',
  'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
    'server_max_window_bits=9; client_max_window_bits=9',
  'permessage-deflate; client_max_window_bits; server_max_window_bits=12, permessage-deflate',
  'permessage-deflate; server_max_window_bits=12, permessage-deflate; client_max_window_bits',
  'permessage-deflate; server_max_window_bits=9, permessage-deflate; server_max_window_bits=14',
  'permessage-deflate; client_max_window_bits=0x0a',
  'permessage-deflate; client_max_window_bits="11"',
  'permessage-deflate; client_max_window_bits=1e1',
  'permessage-deflate; client_max_window_bits=10.0',
  'permessage-deflate; client_max_window_bits=+10',
  'permessage-deflate; client_max_window_bits=0b1010',
  'permessage-deflate; server_max_window_bits=08',
  //
  // Read with `/^(?:[89]|1[0-5])$/` since ws 8.23.1 (`+value` before).
  //
  'permessage-deflate; client_max_window_bits=09',
  'permessage-deflate; server_max_window_bits=9.0',
  'permessage-deflate; server_max_window_bits=9.',
  'permessage-deflate; client_max_window_bits="09"',
  'permessage-deflate; server_max_window_bits=010',
  'permessage-deflate; server_max_window_bits=0xf',
  'permessage-deflate; server_max_window_bits=15, permessage-deflate; client_max_window_bits=010',
  'permessage-deflate; client_max_window_bits=10.5',
  'permessage-deflate; client_max_window_bits=16',
  'permessage-deflate; client_max_window_bits=7',
  'permessage-deflate; client_max_window_bits=-10',
  'permessage-deflate; client_max_window_bits=Infinity',
  'permessage-deflate; client_max_window_bits=abc',
  'permessage-deflate; server_max_window_bits',
  'permessage-deflate; server_no_context_takeover=true',
  'permessage-deflate; client_no_context_takeover="x"',
  'permessage-deflate; foo',
  'permessage-deflate; foo=1; client_max_window_bits',
  'permessage-deflate; __proto__',
  'permessage-deflate; Server_No_Context_Takeover',
  'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
  'permessage-deflate; client_max_window_bits=10; client_max_window_bits=11',
  'permessage-deflate, permessage-deflate; bar',
  'permessage-deflate; client_no_context_takeover, x-webkit-deflate-frame'
];

/**
 * What `accept()` of a `PerMessageDeflate` class makes of a header: the
 * parameters and the header value they format to, or the error.
 */
function acceptOutcome(PerMessageDeflate, isServer, options, header) {
  const { extension } = ref();
  const configurations = extension.parse(header)[NAME];
  const pmd = new PerMessageDeflate({ ...options, isServer });

  try {
    const params = pmd.accept(configurations);
    return {
      params: { ...params },
      header: extension.format({ [NAME]: [params] }),
      prototype: Object.getPrototypeOf(params)
    };
  } catch (err) {
    return { error: err.constructor.name, message: err.message };
  }
}

/** A small deterministic PRNG. */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

describe('negotiation (PerMessageDeflate#accept, ws vs ours)', () => {
  test('PerMessageDeflate is exported', () => {
    assert.equal(typeof sut().PerMessageDeflate, 'function');
    assert.equal(sut().PerMessageDeflate.extensionName, NAME);
  });

  for (const isServer of [true, false]) {
    test(`${isServer ? 'server' : 'client'}: every option set × ${OFFERS.length} headers`, () => {
      const ours = sut().PerMessageDeflate;
      const theirs = ref().PerMessageDeflate;
      let compared = 0;

      for (const options of optionSets()) {
        for (const header of OFFERS) {
          const expected = acceptOutcome(theirs, isServer, options, header);
          const actual = acceptOutcome(ours, isServer, options, header);
          assert.deepEqual(actual, expected, `${JSON.stringify(options)} / ${header}`);
          compared++;
        }
      }

      assert.equal(compared, 324 * OFFERS.length);
    });
  }

  test('random offers', () => {
    const ours = sut().PerMessageDeflate;
    const theirs = ref().PerMessageDeflate;
    const random = prng(0xdef1a7e);
    const pick = (list) => list[Math.floor(random() * list.length)];
    const names = [
      'server_no_context_takeover',
      'client_no_context_takeover',
      'server_max_window_bits',
      'client_max_window_bits'
    ];
    const values = [null, null, '8', '9', '10', '12', '15', '16', '"10"', '0xf', '09', '9.0', 'x'];
    const options = [...optionSets()];

    for (let i = 0; i < 3000; i++) {
      const offers = [];
      for (let o = 1 + Math.floor(random() * 3); o > 0; o--) {
        const params = [NAME];
        for (let p = Math.floor(random() * 4); p > 0; p--) {
          const value = pick(values);
          params.push(value === null ? pick(names) : `${pick(names)}=${value}`);
        }
        offers.push(params.join('; '));
      }

      const header = offers.join(', ');
      const opts = pick(options);
      const isServer = random() < 0.7;

      assert.deepEqual(
        acceptOutcome(ours, isServer, opts, header),
        acceptOutcome(theirs, isServer, opts, header),
        `${isServer} ${JSON.stringify(opts)} / ${header}`
      );
    }
  });

  test('offer() is ws\'s', () => {
    const ours = sut().PerMessageDeflate;
    const theirs = ref().PerMessageDeflate;

    for (const options of optionSets()) {
      assert.deepEqual(new ours(options).offer(), new theirs(options).offer());
    }
  });

  test('window sizes and zlib options out of range are refused at once', { skip: !IS_NATIVE }, () => {
    const { WebSocketServer, PerMessageDeflate } = sut();

    for (const perMessageDeflate of [
      { serverMaxWindowBits: 16 },
      { clientMaxWindowBits: 7 },
      { clientMaxWindowBits: 9.5 },
      { zlibDeflateOptions: { level: 10 } },
      { zlibDeflateOptions: { memLevel: 0 } },
      { zlibDeflateOptions: { strategy: 5 } }
    ]) {
      assert.throws(
        () => new WebSocketServer({ noServer: true, perMessageDeflate }),
        { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
        JSON.stringify(perMessageDeflate)
      );
      assert.throws(() => new PerMessageDeflate(perMessageDeflate), RangeError);
    }
  });

  //
  // ws hands `{ ...zlibInflateOptions, windowBits }` (and likewise
  // `zlibDeflateOptions`) to Node's zlib when the first compressed message
  // comes; ours are refused with that same error when the server or client
  // is created, and accepted when zlib accepts them.
  //
  test('zlibInflateOptions and zlibDeflateOptions are checked as Node\'s zlib checks them', { skip: !IS_NATIVE }, () => {
    const { WebSocketServer, PerMessageDeflate } = sut();
    const zlibOutcome = (create, options) => {
      try {
        create({ ...options, windowBits: 15 }).close();
        return 'ok';
      } catch (err) {
        return `${err.name} ${err.code} ${err.message}`;
      }
    };
    const outcome = (fn) => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return `${err.name} ${err.code} ${err.message}`;
      }
    };
    const objects = [
      {},
      { chunkSize: 10 * 1024 },
      { chunkSize: 63 },
      { chunkSize: 'big' },
      { chunkSize: Infinity },
      { level: 10 },
      { level: null },
      { memLevel: 10 },
      { strategy: -1 },
      { flush: 6 },
      { flush: zlib.constants.Z_SYNC_FLUSH },
      { finishFlush: 9 },
      { maxOutputLength: 0 },
      { info: true },
      { windowBits: 99 },
      { unknown: 1 }
    ];

    for (const options of objects) {
      const inflate = zlibOutcome(zlib.createInflateRaw, options);
      const deflate = zlibOutcome(zlib.createDeflateRaw, options);
      const label = JSON.stringify(options);

      assert.equal(
        outcome(() => new WebSocketServer({ noServer: true, perMessageDeflate: { zlibInflateOptions: options } })),
        inflate,
        `zlibInflateOptions ${label}`
      );
      assert.equal(outcome(() => new PerMessageDeflate({ zlibInflateOptions: { ...options } })), inflate, label);

      //
      // Our own check of `level`, `memLevel` and `strategy` comes first,
      // with the option's full name; the class and code are Node's.
      //
      const ours = outcome(() => new PerMessageDeflate({ zlibDeflateOptions: { ...options } }));
      assert.equal(ours.split(' ').slice(0, 2).join(' '), deflate.split(' ').slice(0, 2).join(' '), `zlibDeflateOptions ${label}`);
    }

    //
    // Not a plain object: ws's spread adds nothing zlib checks.
    //
    for (const value of [undefined, null, 5, 'abc', true]) {
      assert.equal(outcome(() => new PerMessageDeflate({ zlibInflateOptions: value, zlibDeflateOptions: value })), 'ok');
    }

    //
    // A preset dictionary is not supported: refused rather than ignored.
    //
    for (const name of ['zlibInflateOptions', 'zlibDeflateOptions']) {
      assert.throws(
        () => new WebSocketServer({ noServer: true, perMessageDeflate: { [name]: { dictionary: Buffer.from('x') } } }),
        { code: 'ERR_WS_NATIVE_UNSUPPORTED_OPTION', message: `perMessageDeflate.${name}.dictionary is not supported by ws-native` }
      );
    }
  });
});

//
// Handshakes through the servers.
//

/** The server's answer to a handshake offering `header`. */
async function handshake(WS, options, header) {
  const { wss, port } = await listenWss(WS, options);
  const headersEvent = deferred();
  wss.on('headers', (lines) => headersEvent.resolve([...lines]));
  wss.on('connection', (ws) => ws.on('error', () => {}));

  const raw = new RawClient(port, {
    headers: header === undefined ? {} : { 'Sec-WebSocket-Extensions': header }
  });
  const { status, head } = await raw.head();
  const lines = status === 101 ? await bounded(headersEvent.promise, 'headers event') : null;

  raw.socket.destroy();
  await raw.closed;
  wss.close();
  return { head: head.replace(/\r\nDate: [^\r]*/i, ''), lines };
}

describe('handshake (ws vs ours)', () => {
  const serverOptions = [
    { perMessageDeflate: false },
    { perMessageDeflate: true },
    { perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 10 } },
    { perMessageDeflate: { serverNoContextTakeover: false, serverMaxWindowBits: 11 } },
    { perMessageDeflate: { clientNoContextTakeover: true, clientMaxWindowBits: false } },
    { perMessageDeflate: { serverMaxWindowBits: false } }
  ];
  const headers = [
    undefined,
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_no_context_takeover; client_max_window_bits=12',
    'permessage-deflate; server_max_window_bits=10, permessage-deflate',
    'permessage-deflate; client_max_window_bits=9',
    'permessage-deflate; unknown',
    'permessage-deflate; server_max_window_bits=20',
    'permessage-deflate; client_max_window_bits=09',
    'permessage-deflate; server_max_window_bits=10.0, permessage-deflate',
    'x-webkit-deflate-frame',
    'permessage-deflate;',
    'permessage-deflate; a="b'
  ];

  for (const options of serverOptions) {
    test(`${JSON.stringify(options)}`, async () => {
      for (const header of headers) {
        const expected = await handshake(ref(), options, header);
        await cleanup();
        const actual = await handshake(sut(), options, header);
        await cleanup();
        assert.deepEqual(actual, expected, String(header));
      }
    });
  }
});

//
// Messages: a ws client and a server.
//

function textOf(size, seed) {
  const words = ['alpha', 'beta', 'gamma', 'delta', '{"id":', '"name":', 'é', '€', '😀', ' ', '\n'];
  const random = prng(seed);
  const parts = [];
  let length = 0;
  while (length < size) {
    const word = words[Math.floor(random() * words.length)];
    parts.push(word);
    length += Buffer.byteLength(word);
  }
  return parts.join('');
}

function bytesOf(size, seed) {
  const random = prng(seed);
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = random() < 0.5 ? 0x61 : (random() * 256) | 0;
  return buf;
}

const SIZES = [0, 5, 600, 1023, 1024, 1500, 70000, 300000];

/**
 * A client of `ClientWS` talks to an echo server of `ServerWS`: it sends
 * messages of every size (whole, fragmented, uncompressed), the server
 * echoes them, and sends fragmented and uncompressed messages of its own.
 * Returns what the client saw.
 */
async function exchange(ServerWS, ClientWS, serverDeflate, clientDeflate) {
  const { wss, port } = await listenWss(ServerWS, { perMessageDeflate: serverDeflate });
  const serverLog = [];

  wss.on('connection', (ws) => {
    record(ws, serverLog);
    serverLog.push(['extensions', ws.extensions]);
    ws.on('message', (data, isBinary) => {
      if (data.length === 5 && data.toString() === 'fragm') {
        ws.send('one ', { fin: false });
        ws.send(Buffer.from('two '), { fin: false });
        ws.send('three', { fin: true });
        ws.send('not compressed', { compress: false });
        ws.send(bytesOf(3000, 1), { compress: false });
        return;
      }
      ws.send(data, { binary: isBinary });
    });
  });

  const client = track(
    new ClientWS(`ws://127.0.0.1:${port}`, { perMessageDeflate: clientDeflate })
  );
  const log = [];
  let response;
  let offer;
  wss.on('headers', (lines, req) => {
    offer = req.headers['sec-websocket-extensions'];
  });
  client.on('upgrade', (res) => {
    response = res.headers['sec-websocket-extensions'];
  });
  client.on('error', (err) => log.push(['error', describeError(err)]));
  const opened = await bounded(
    new Promise((resolve) => {
      client.once('open', () => resolve(true));
      client.once('close', () => resolve(false));
    }),
    'open or close'
  );
  if (!opened) return { offer, log };

  const expected = [];
  const received = [];
  const done = deferred();
  client.on('message', (data, isBinary) => {
    received.push([describeData(data), isBinary]);
    if (received.length === expected.length) done.resolve();
  });

  let seed = 1;
  for (const size of SIZES) {
    const text = textOf(size, seed++);
    const binary = bytesOf(size, seed++);
    client.send(text);
    client.send(binary);
    expected.push([describeData(Buffer.from(text)), false], [describeData(binary), true]);
  }

  // Fragmented by the client, and uncompressed.
  client.send('fra', { fin: false });
  client.send('gm', { fin: true });
  expected.push(
    [describeData(Buffer.from('one two three')), false],
    [describeData(Buffer.from('not compressed')), false],
    [describeData(bytesOf(3000, 1)), true]
  );
  client.send('plain', { compress: false });
  expected.push([describeData(Buffer.from('plain')), false]);

  await bounded(done.promise, 'echoes');
  assert.deepEqual(received, expected);

  client.close(1000, 'done');
  await onceEvent(client, 'close');
  return {
    offer,
    response,
    extensions: client.extensions,
    log,
    serverLog: serverLog.slice(0, 1)
  };
}

describe('ws client ↔ server, compressed messages (ws vs ours)', () => {
  const serverDeflates = [
    true,
    { serverNoContextTakeover: true },
    { clientNoContextTakeover: true },
    { serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
    { serverMaxWindowBits: 8 },
    { threshold: 0, serverNoContextTakeover: true },
    { threshold: 2000, serverNoContextTakeover: true, clientNoContextTakeover: true },
    { zlibDeflateOptions: { level: 1 } },
    { zlibDeflateOptions: { level: 9, memLevel: 1, strategy: 1 } },
    { zlibDeflateOptions: { strategy: 2 } },
    false
  ];
  const clientDeflates = [
    true,
    { clientMaxWindowBits: 8 },
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    { serverMaxWindowBits: 10, threshold: 0 },
    false
  ];

  for (const server of serverDeflates) {
    test(`server ${JSON.stringify(server)}`, async () => {
      for (const client of clientDeflates) {
        const expected = await exchange(ref(), ref(), server, client);
        await cleanup();
        const actual = await exchange(sut(), ref(), server, client);
        await cleanup();
        assert.deepEqual(actual, expected, `client ${JSON.stringify(client)}`);
      }
    });
  }
});

describe('client ↔ ws server, compressed messages (ws vs ours)', () => {
  const clientDeflates = [
    undefined,
    { clientNoContextTakeover: true },
    { serverNoContextTakeover: true, threshold: 0 },
    { clientMaxWindowBits: 8, serverMaxWindowBits: 9 },
    { clientMaxWindowBits: 10, zlibDeflateOptions: { level: 1, memLevel: 2 } },
    { threshold: 5000, clientNoContextTakeover: true },
    false
  ];
  const serverDeflates = [
    true,
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    { clientMaxWindowBits: 9 },
    { serverMaxWindowBits: 10 },
    false
  ];

  for (const client of clientDeflates) {
    test(`client ${JSON.stringify(client)}`, async () => {
      for (const server of serverDeflates) {
        const expected = await exchange(ref(), ref(), server, client);
        await cleanup();
        const actual = await exchange(ref(), sut(), server, client);
        await cleanup();
        assert.deepEqual(actual, expected, `server ${JSON.stringify(server)}`);
      }
    });
  }
});

/**
 * A client of `WS` offering permessage-deflate with `options` gets a 101
 * with `response` as its `Sec-WebSocket-Extensions`; returns whether it
 * opened (and what it agreed) or the error.
 */
async function clientResponse(WS, options, response) {
  const { wss, port } = await listenWss(ref(), { perMessageDeflate: false });
  wss.on('headers', (lines) => {
    if (response !== undefined) lines.push(`Sec-WebSocket-Extensions: ${response}`);
  });
  wss.on('connection', (ws) => ws.on('error', () => {}));

  const client = track(new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate: options }));
  const outcome = deferred();
  client.on('open', () => outcome.resolve({ open: client.extensions }));
  client.on('error', (err) => outcome.resolve({ error: err.message }));
  const result = await bounded(outcome.promise, 'client outcome');
  client.terminate();
  return result;
}

describe('client: the server\'s response (ws vs ours)', () => {
  const responses = [
    undefined,
    'permessage-deflate',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    'permessage-deflate; client_max_window_bits=10',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_max_window_bits=9',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=09',
    'permessage-deflate; client_max_window_bits=10.0',
    'permessage-deflate; foo',
    'permessage-deflate, permessage-deflate',
    'permessage-deflate, x-webkit-deflate-frame',
    'x-webkit-deflate-frame',
    'permessage-deflate; a="',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover'
  ];
  const options = [
    undefined,
    false,
    { clientNoContextTakeover: false },
    { clientMaxWindowBits: 9 },
    { clientMaxWindowBits: false }
  ];

  test('every response × client options', async () => {
    for (const option of options) {
      for (const response of responses) {
        const expected = await clientResponse(ref(), option, response);
        await cleanup();
        const actual = await clientResponse(sut(), option, response);
        await cleanup();
        assert.deepEqual(actual, expected, `${JSON.stringify(option)} / ${response}`);
      }
    }
  });
});

//
// Frames: a raw client sends compressed frames and reads the server's.
//

/**
 * Feeds a zlib stream and collects what a sync flush gives, as ws does.
 *
 * @return {Function} `async (data) => Buffer`
 */
function flushing(stream) {
  const chunks = [];
  let failure = null;
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('error', (err) => {
    failure = err;
  });
  return (data) =>
    new Promise((resolve, reject) => {
      stream.write(Buffer.from(data));
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (failure) return reject(failure);
        const out = Buffer.concat(chunks);
        chunks.length = 0;
        resolve(out);
      });
    });
}

/**
 * A streaming raw deflater: `async (data, fin = true) => payload`; the
 * trailer is removed from a message's last fragment only.
 */
function streamDeflater(windowBits = 15) {
  const deflate = flushing(zlib.createDeflateRaw({ windowBits }));
  return async (data, fin = true) => {
    const out = await deflate(data);
    return fin ? out.subarray(0, out.length - 4) : out;
  };
}

/**
 * Inflates the data messages of a server's frames as its peer would, with
 * the agreed context takeover. Each message is described by its first
 * frame's RSV1 and opcode, and its inflated content.
 */
async function inflateFrames(frames, { noContextTakeover = false, windowBits = 15 } = {}) {
  const messages = [];
  let inflater = null;
  let current = null;

  for (const f of frames) {
    if (f.opcode >= 0x8) {
      messages.push({ control: f.opcode, payload: digest(f.payload) });
      continue;
    }
    if (f.opcode !== OP.CONT) current = { rsv: f.rsv, opcode: f.opcode, parts: [] };
    current.parts.push(f.payload);
    if (!f.fin) continue;

    let data = Buffer.concat(current.parts);
    if (current.rsv & 0x40) {
      if (inflater === null || noContextTakeover) {
        inflater = flushing(zlib.createInflateRaw({ windowBits }));
      }
      data = await inflater(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]));
    }
    messages.push({ rsv: current.rsv, opcode: current.opcode, data: digest(data) });
  }

  return messages;
}

/**
 * A raw client offers `offer`, sends `frames(deflate)` (built with a
 * streaming deflater), waits for `expectFrames` frames (or the close) and
 * returns what the server negotiated, wrote (inflated) and emitted.
 */
async function rawDeflate(WS, { options, offer, send, expectFrames, inflate = {}, server }) {
  const { wss, port } = await listenWss(WS, options);
  const log = [];
  const closed = deferred();

  wss.on('connection', (ws) => {
    record(ws, log);
    ws.on('close', () => closed.resolve());
    if (server) server(ws);
  });

  const raw = new RawClient(port, { headers: { 'Sec-WebSocket-Extensions': offer } });
  const { head } = await raw.head();
  for (const buf of await send()) raw.send(buf);
  if (expectFrames !== undefined) await raw.waitFrames(expectFrames);
  else await raw.closed;

  const { frames } = parseFrames(raw.body());
  if (expectFrames !== undefined) {
    raw.send(frame(OP.CLOSE, Buffer.from([0x03, 0xe8])));
    await raw.closed;
  }
  await bounded(closed.promise, 'server close');

  return {
    extensions: (/sec-websocket-extensions: ([^\r]*)/i.exec(head) || [])[1],
    messages: await inflateFrames(frames, inflate),
    events: log
  };
}

describe('frames on the wire (ws vs ours)', () => {
  const cases = [
    { name: 'context takeover', offer: 'permessage-deflate', options: true, inflate: {} },
    {
      name: 'no context takeover, both ways',
      offer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      options: { threshold: 100 },
      inflate: { noContextTakeover: true },
      clientNoContextTakeover: true
    },
    {
      name: 'window bits 9',
      offer: 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=9',
      options: true,
      inflate: { windowBits: 9 },
      windowBits: 9
    }
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const scenario = (WS) => {
        const deflate = () => {
          let d = streamDeflater(c.windowBits || 15);
          return (data) => {
            const out = d(data);
            if (c.clientNoContextTakeover) d = streamDeflater(c.windowBits || 15);
            return out;
          };
        };

        return rawDeflate(WS, {
          options: { perMessageDeflate: c.options },
          offer: c.offer,
          inflate: c.inflate,
          expectFrames: 9,
          server: (ws) => {
            ws.on('message', (data, isBinary) => {
              ws.send(data, { binary: isBinary });
              if (data.toString() === 'last') {
                ws.send('x'.repeat(50), { fin: false });
                ws.send('y'.repeat(50), { fin: true });
                ws.ping('p');
                ws.send('tiny', { compress: false });
              }
            });
          },
          send: async () => {
            const z = deflate();
            const big = textOf(5000, 9);
            const first = await z('hello hello hello');
            const second = await z(big);
            const third = await z('');
            const fourth = await z('last');
            return [
              frame(OP.TEXT, first, { rsv: 0x40 }),
              frame(OP.BINARY, second.subarray(0, 100), { rsv: 0x40, fin: false }),
              frame(OP.PING, 'in between'),
              frame(OP.CONT, second.subarray(100), {}),
              frame(OP.TEXT, third, { rsv: 0x40 }),
              frame(OP.TEXT, 'uncompressed'),
              frame(OP.TEXT, fourth, { rsv: 0x40 })
            ];
          }
        });
      };

      const expected = await scenario(ref());
      await cleanup();
      const actual = await scenario(sut());
      assert.deepEqual(actual, expected);
    });
  }
});

describe("binaryType 'fragments': one buffer per frame (ws vs ours)", () => {
  //
  // ws hands out a compressed message's inflated output frame by frame,
  // leaving out the frames that inflate to nothing, and reads binaryType
  // when the message completes. A ping whose payload names a binaryType
  // switches to it (between the frames of a message, too).
  //
  async function scenario(WS, { allowSynchronousEvents, oneWrite }) {
    const { wss, port } = await listenWss(WS, { perMessageDeflate: true, allowSynchronousEvents });
    const log = [];
    const closed = deferred();

    wss.on('connection', (ws) => {
      ws.binaryType = 'fragments';
      record(ws, log);
      ws.on('ping', (data) => {
        if (data.length !== 0) ws.binaryType = String(data);
      });
      ws.on('close', () => closed.resolve());
    });

    const raw = new RawClient(port, { headers: { 'Sec-WebSocket-Extensions': NAME } });
    const { head } = await raw.head();
    assert.match(head, /permessage-deflate/);

    let pings = 0;
    const send = (frames) => {
      pings += frames.filter((f) => (f[0] & 0x0f) === OP.PING).length;
      if (oneWrite) raw.send(Buffer.concat(frames));
      else for (const f of frames) raw.send(f);
    };
    // Every ping is answered: waits until the server has read the frames.
    const sync = async () => {
      send([frame(OP.PING)]);
      await raw.waitFrames(pings);
    };

    const z = streamDeflater();
    const strip = (p) => p.subarray(0, p.length - 4);
    const first = (opcode, payload, fin = false) => frame(opcode, payload, { rsv: 0x40, fin });
    const cont = (payload, fin = false) => frame(OP.CONT, payload, { fin });

    /** A message of several frames, two of them inflating to nothing. */
    async function several(opcode, between = frame(OP.PING)) {
      const a = await z('first frame ', false);
      const b = await z('', false); // an empty stored block: no output
      const c = await z('second frame, second frame', false);
      const d = await z('last', true);
      return [
        first(opcode, a),
        cont(b),
        cont(c.subarray(0, 1)), // no complete symbol: no output
        between,
        cont(c.subarray(1)),
        cont(Buffer.alloc(0)),
        cont(d, true)
      ];
    }

    send([
      ...(await several(OP.BINARY)),
      ...(await several(OP.TEXT)),
      // The output of one frame, the last one being the trailer alone.
      first(OP.BINARY, strip(await z('only', false))),
      cont(Buffer.alloc(0), true),
      // Frames without output.
      first(OP.BINARY, await z('', false)),
      cont(await z('', true), true),
      // One frame.
      first(OP.BINARY, await z('single', true), true),
      // Uncompressed, for comparison.
      frame(OP.BINARY, 'ab', { fin: false }),
      cont('', false),
      cont('cd', true)
    ]);
    await sync();

    // binaryType changes while a message is received, in the same chunk.
    for (const type of ['fragments', 'arraybuffer', 'blob', 'nodebuffer', 'fragments']) {
      send(await several(OP.BINARY, frame(OP.PING, type)));
    }
    await sync();

    // ... or from one chunk to the next.
    const frames = await several(OP.BINARY);
    send([frame(OP.PING, 'blob'), ...frames.slice(0, 3)]);
    await sync();
    send([frame(OP.PING, 'fragments')]);
    await sync();
    send(frames.slice(4));
    await sync();

    send([frame(OP.CLOSE, closePayload(1000))]);
    await raw.closed;
    await bounded(closed.promise, 'server close');
    return log.filter((e) => e[0] !== 'ping');
  }

  for (const allowSynchronousEvents of [true, false]) {
    for (const oneWrite of [true, false]) {
      const name =
        `${oneWrite ? 'in one write' : 'one frame per write'}` +
        `${allowSynchronousEvents ? '' : ', allowSynchronousEvents: false'}`;

      test(name, async () => {
        const options = { allowSynchronousEvents, oneWrite };
        const expected = await scenario(ref(), options);
        await cleanup();
        const actual = await scenario(sut(), options);
        assert.deepEqual(actual, expected);

        const pieces = expected
          .filter((e) => e[0] === 'message')
          .map(([, data]) => (data.type === 'Array' ? data.pieces : data.type));
        assert.deepEqual(pieces, [
          [12, 26, 4],
          'Buffer',
          [4],
          [],
          [6],
          [2, 2],
          [12, 26, 4],
          'ArrayBuffer',
          'Blob',
          'Buffer',
          [12, 26, 4],
          [12, 26, 4]
        ]);
      });
    }
  }
});

describe('limits and errors (ws vs ours)', () => {
  /** Sends frames after offering permessage-deflate; returns the outcome. */
  function failing(options, frames) {
    return async (WS) => {
      const result = await rawDeflate(WS, {
        options: { perMessageDeflate: true, ...options },
        offer: 'permessage-deflate',
        send: () => frames
      });
      return result;
    };
  }

  async function same(scenario) {
    const expected = await scenario(ref());
    await cleanup();
    const actual = await scenario(sut());
    assert.deepEqual(actual, expected);
    return expected;
  }

  test('a decompression bomb stops at maxPayload with 1009', async () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(64 << 20), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH
    });
    assert.ok(bomb.length < 100000);
    const payload = bomb.subarray(0, bomb.length - 4);

    const before = process.memoryUsage().rss;
    const result = await same(
      failing({ maxPayload: 1 << 20 }, [frame(OP.BINARY, payload, { rsv: 0x40 })])
    );
    const grown = process.memoryUsage().rss - before;

    assert.deepEqual(result.events[0], [
      'error',
      { name: 'RangeError', message: 'Max payload size exceeded', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }
    ]);
    assert.deepEqual(result.messages, [{ control: OP.CLOSE, payload: '03f1' }]);
    // Neither inflated the 64 MiB (ws stops within a zlib chunk of the limit).
    assert.ok(grown < 48 << 20, `RSS grew by ${grown}`);
  });

  test('a bomb spread over fragments', async () => {
    const z = streamDeflater();
    const frames = [];
    for (let i = 0; i < 8; i++) {
      frames.push(
        frame(i === 0 ? OP.TEXT : OP.CONT, await z(Buffer.alloc(256 * 1024, 0x61), false), {
          rsv: i === 0 ? 0x40 : 0,
          fin: false
        })
      );
    }
    const result = await same(failing({ maxPayload: 1 << 20 }, frames));
    assert.equal(result.events[0][1].message, 'Max payload size exceeded');
  });

  test('within maxPayload, a large message arrives whole', async () => {
    const data = Buffer.alloc(1 << 20, 0x62);
    const payload = await streamDeflater()(data);
    const result = await same(async (WS) =>
      rawDeflate(WS, {
        options: { perMessageDeflate: true, maxPayload: 1 << 20 },
        offer: 'permessage-deflate',
        expectFrames: 1,
        server: (ws) => ws.on('message', (d) => ws.send(String(d.length))),
        send: () => [frame(OP.BINARY, payload, { rsv: 0x40 })]
      })
    );
    assert.deepEqual(result.events[0], ['message', { type: 'Buffer', data: digest(data) }, true]);
  });

  const invalid = [
    ['invalid block type', Buffer.from([0xff, 0xff, 0xff])],
    ['invalid stored block lengths', Buffer.from([0x00, 0x05, 0x00, 0x00, 0x00])],
    ['invalid code lengths set', Buffer.from([0x04, 0x00, 0xfe, 0xff])]
  ];

  for (const [message, payload] of invalid) {
    test(`invalid deflate data: ${message}`, async () => {
      const result = await same(failing({}, [frame(OP.TEXT, payload, { rsv: 0x40 })]));
      assert.deepEqual(result.events[0], ['error', { name: 'Error', message, code: 'Z_DATA_ERROR' }]);
      assert.deepEqual(result.messages, [{ control: OP.CLOSE, payload: '03ef' }]);
    });
  }

  test('inflated text must be UTF-8', async () => {
    const payload = await streamDeflater()(Buffer.from([0x61, 0xff, 0x62]));
    const result = await same(failing({}, [frame(OP.TEXT, payload, { rsv: 0x40 })]));
    assert.equal(result.events[0][1].message, 'Invalid WebSocket frame: invalid UTF-8 sequence');
  });

  test('RSV1 on a continuation frame or a control frame', async () => {
    const z = streamDeflater();
    const abc = await z('abc');
    const def = await z('def');
    let result = await same(
      failing({}, [
        frame(OP.TEXT, abc, { rsv: 0x40, fin: false }),
        frame(OP.CONT, def, { rsv: 0x40 })
      ])
    );
    assert.equal(result.events[0][1].message, 'Invalid WebSocket frame: RSV1 must be clear');
    result = await same(failing({}, [frame(OP.PING, 'x', { rsv: 0x40 })]));
    assert.equal(result.events[0][1].message, 'Invalid WebSocket frame: RSV1 must be clear');
  });

  test('RSV1 without permessage-deflate', async () => {
    const result = await same(async (WS) =>
      rawDeflate(WS, {
        options: { perMessageDeflate: false },
        offer: 'permessage-deflate',
        send: () => [frame(OP.TEXT, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), { rsv: 0x40 })]
      })
    );
    assert.equal(result.extensions, undefined);
    assert.equal(result.events[0][1].message, 'Invalid WebSocket frame: RSV1 must be clear');
  });

  test('the RFC 7692 examples', async () => {
    const hello = Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    const result = await same(async (WS) =>
      rawDeflate(WS, {
        options: { perMessageDeflate: true },
        offer: 'permessage-deflate',
        expectFrames: 5,
        server: (ws) => ws.on('message', (d) => ws.send(d)),
        send: () => [
          frame(OP.TEXT, hello, { rsv: 0x40 }),
          frame(OP.TEXT, Buffer.from([0xf2, 0x00, 0x11, 0x00, 0x00]), { rsv: 0x40 }),
          frame(OP.TEXT, Buffer.from([0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]), {
            rsv: 0x40
          }),
          frame(OP.TEXT, hello.subarray(0, 3), { rsv: 0x40, fin: false }),
          frame(OP.CONT, hello.subarray(3)),
          frame(OP.TEXT, Buffer.from([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]), { rsv: 0x40 })
        ]
      })
    );
    assert.equal(result.events.filter((e) => e[0] === 'message').length, 5);
  });
});

describe('PerMessageDeflate#compress / #decompress (ws vs ours)', () => {
  function run(PerMessageDeflate, params, inputs) {
    return new Promise((resolve, reject) => {
      const sender = new PerMessageDeflate({ isServer: true });
      const receiver = new PerMessageDeflate({ isServer: false, maxPayload: 100000 });
      sender.accept([{ ...params }]);
      receiver.accept([{ ...params }]);
      const results = [];
      let i = 0;
      const next = () => {
        if (i === inputs.length) {
          sender.cleanup();
          receiver.cleanup();
          resolve(results);
          return;
        }
        const [data, fin] = inputs[i++];
        sender.compress(data, fin, (err, compressed) => {
          if (err) return reject(err);
          receiver.decompress(compressed, fin, (err2, plain) => {
            results.push(err2 ? describeError(err2) : digest(plain));
            next();
          });
        });
      };
      next();
    });
  }

  test('round trips and the size limit', async () => {
    const inputs = [
      ['hello', true],
      [Buffer.from('hello'), true],
      ['frag', false],
      ['ment', true],
      [Buffer.alloc(200000), true],
      ['after', true]
    ];
    for (const params of [{}, { server_no_context_takeover: [true] }]) {
      const expected = await run(ref().PerMessageDeflate, params, inputs);
      const actual = await run(sut().PerMessageDeflate, params, inputs);
      assert.deepEqual(actual, expected);
    }
  });
});

//
// Large messages are compressed on libuv's thread pool (ws compresses every
// message there), small ones at once: whatever is sent meanwhile waits, so
// frames and callbacks keep the order of the sends, as with ws.
//
describe('compression off the main thread (ws vs ours)', () => {
  /** Everything the server sends, what a ws client gets, in order. */
  async function sendMix(WS, { blob }) {
    const { wss, port } = await listenWss(WS, { perMessageDeflate: { threshold: 0 } });
    const client = track(new (ref().WebSocket)(`ws://127.0.0.1:${port}`));
    const received = [];
    const callbacks = [];
    const done = deferred();

    client.on('message', (data, isBinary) => received.push(['message', describeData(data), isBinary]));
    client.on('ping', (data) => received.push(['ping', String(data)]));
    client.on('close', (code, reason) => {
      received.push(['close', code, String(reason)]);
      done.resolve();
    });

    const [ws] = await onceEvent(wss, 'connection');
    const cb = (name) => (err) => callbacks.push([name, err ? err.message : null]);
    const big = bytesOf(1 << 20, 7);
    const text = textOf(300 * 1024, 8);

    ws.send(big, cb('1 MiB binary'));
    ws.send('small', cb('small'));
    ws.send(text, cb('300 KiB text'));
    ws.send(bytesOf(200, 9), { compress: false }, cb('uncompressed'));
    ws.ping('p', undefined, cb('ping'));
    ws.send(bytesOf(200 * 1024, 10), { fin: false }, cb('fragment 1 (200 KiB)'));
    ws.send(bytesOf(10, 11), { fin: false }, cb('fragment 2'));
    ws.send(bytesOf(400 * 1024, 12), { fin: true }, cb('fragment 3 (400 KiB)'));
    if (blob) ws.send(new Blob([bytesOf(150 * 1024, 13)]), cb('blob'));
    ws.send(big, cb('1 MiB again'));
    ws.send('', cb('empty'));
    ws.close(1000, 'bye');

    await bounded(done.promise, 'close');
    wss.close();
    return { received, callbacks };
  }

  for (const blob of [false, true]) {
    test(`messages, fragments, pings, callbacks and the close frame keep their order${blob ? ' (with a Blob)' : ''}`, async () => {
      const expected = await sendMix(ref(), { blob });
      await cleanup();
      const actual = await sendMix(sut(), { blob });
      assert.deepEqual(actual, expected);
      assert.equal(actual.received.length, blob ? 10 : 9);
    });
  }

  test('a connection terminated while compressing fails the callbacks', async () => {
    const run = async (WS) => {
      const { wss, port } = await listenWss(WS, { perMessageDeflate: true });
      const client = track(new (ref().WebSocket)(`ws://127.0.0.1:${port}`));
      client.on('error', () => {});
      const [ws] = await onceEvent(wss, 'connection');
      const results = [];
      const all = deferred();
      const cb = (name) => (err) => {
        results.push([name, err ? err.message : null]);
        if (results.length === 2) all.resolve();
      };

      ws.send(bytesOf(1 << 20, 3), cb('large'));
      ws.send(bytesOf(2 << 20, 4), cb('queued'));
      ws.terminate();
      await bounded(all.promise, 'callbacks');
      wss.close();
      return results;
    };

    const expected = await run(ref());
    await cleanup();
    assert.deepEqual(await run(sut()), expected);
  });
});
