'use strict';

//
// Protocol violations from the peer. For each, the server must send ws's close
// code (read from the raw socket), emit 'error' with ws's message and code,
// then 'close', and the process must not crash.
//

const assert = require('node:assert/strict');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  OP,
  bounded,
  cleanup,
  closePayload,
  deferred,
  differential,
  echo,
  frame,
  listenWss,
  rawScenario,
  record,
  RawClient,
  sut
} = require('./helpers');

afterEach(cleanup);

/**
 * Sends `bytes` in one write and waits until the server closes the
 * connection; returns the differential result.
 */
function violation(bytes, options) {
  return differential((WS) =>
    rawScenario(WS, {
      options,
      server: echo,
      client: async (raw) => {
        raw.send(Buffer.concat([].concat(bytes)));
        await raw.closed;
      }
    })
  );
}

/** Asserts the server answered with one close frame with `code` and no reason. */
function assertFailed(result, code, errorCode, message) {
  const close = result.frames.at(-1);
  assert.equal(close && close.code, code, `close frame ${JSON.stringify(result.frames)}`);
  assert.equal(close.reason, '');
  const errors = result.events.filter((e) => e[0] === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0][1].code, errorCode);
  if (message) assert.equal(errors[0][1].message, message);
  assert.deepEqual(result.events.at(-1), ['close', 1006, '']);
}

describe('frame-level violations', () => {
  test('an unmasked client frame', async () => {
    const result = await violation(frame(OP.TEXT, 'hi', { mask: false }));
    assertFailed(result, 1002, 'WS_ERR_EXPECTED_MASK', 'Invalid WebSocket frame: MASK must be set');
  });

  for (const [name, rsv, code] of [
    ['RSV1', 0x40, 'WS_ERR_UNEXPECTED_RSV_1'],
    ['RSV2', 0x20, 'WS_ERR_UNEXPECTED_RSV_2_3'],
    ['RSV3', 0x10, 'WS_ERR_UNEXPECTED_RSV_2_3']
  ]) {
    test(`${name} set on a text frame`, async () => {
      const result = await violation(frame(OP.TEXT, 'x', { rsv }));
      assertFailed(result, 1002, code);
    });
  }

  test('RSV1 on a continuation and on a ping', async () => {
    const cont = await violation([
      frame(OP.TEXT, 'a', { fin: false }),
      frame(OP.CONT, 'b', { rsv: 0x40 })
    ]);
    assertFailed(cont, 1002, 'WS_ERR_UNEXPECTED_RSV_1', 'Invalid WebSocket frame: RSV1 must be clear');
    const ping = await violation(frame(OP.PING, 'a', { rsv: 0x40 }));
    assertFailed(ping, 1002, 'WS_ERR_UNEXPECTED_RSV_1');
  });

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`reserved opcode ${opcode}`, async () => {
      const result = await violation(frame(opcode, 'x'));
      assertFailed(result, 1002, 'WS_ERR_INVALID_OPCODE', `Invalid WebSocket frame: invalid opcode ${opcode}`);
    });
  }

  test('a continuation frame without a message to continue', async () => {
    const result = await violation(frame(OP.CONT, 'x'));
    assertFailed(result, 1002, 'WS_ERR_INVALID_OPCODE', 'Invalid WebSocket frame: invalid opcode 0');
  });

  for (const opcode of [OP.TEXT, OP.BINARY]) {
    test(`a new message (opcode ${opcode}) while one is fragmented`, async () => {
      const result = await violation([frame(OP.TEXT, 'a', { fin: false }), frame(opcode, 'b')]);
      assertFailed(result, 1002, 'WS_ERR_INVALID_OPCODE', `Invalid WebSocket frame: invalid opcode ${opcode}`);
    });
  }

  for (const opcode of [OP.PING, OP.PONG, OP.CLOSE]) {
    test(`a fragmented control frame (opcode ${opcode})`, async () => {
      const result = await violation(frame(opcode, 'a', { fin: false }));
      assertFailed(result, 1002, 'WS_ERR_EXPECTED_FIN', 'Invalid WebSocket frame: FIN must be set');
    });
  }

  for (const [opcode, length] of [
    [OP.PING, 126],
    [OP.PONG, 200],
    [OP.CLOSE, 126],
    [OP.CLOSE, 1]
  ]) {
    test(`a control frame (opcode ${opcode}) with a ${length}-byte payload`, async () => {
      const result = await violation(frame(opcode, Buffer.alloc(length, 0x41)));
      assertFailed(
        result,
        1002,
        'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
        // ws reports the 7-bit length field, not the extended length.
        `Invalid WebSocket frame: invalid payload length ${Math.min(length, 126)}`
      );
    });
  }

  test('a 64-bit length above 2^53 - 1', async () => {
    const lengthBytes = Buffer.from([0x00, 0x20, 0, 0, 0, 0, 0, 0]);
    const result = await violation(frame(OP.BINARY, Buffer.alloc(0), { lengthBytes }).subarray(0, 10));
    assertFailed(
      result,
      1009,
      'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
      'Unsupported WebSocket frame: payload length > 2^53 - 1'
    );
  });
});

describe('maxPayload', () => {
  test('a single frame over the limit is refused from its header', async () => {
    const result = await violation(frame(OP.BINARY, Buffer.alloc(11)), { maxPayload: 10 });
    assertFailed(result, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded');
  });

  test('a header announcing more than the limit, with no payload sent', async () => {
    const header = frame(OP.BINARY, Buffer.alloc(0), { length: 1 << 20 });
    const result = await violation(header, { maxPayload: 1000 });
    assertFailed(result, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  });

  test('the sum of fragments over the limit', async () => {
    const result = await violation(
      [
        frame(OP.TEXT, 'aaaa', { fin: false }),
        frame(OP.CONT, 'bbbb', { fin: false }),
        frame(OP.CONT, 'ccc')
      ],
      { maxPayload: 10 }
    );
    assertFailed(result, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  });

  test('exactly the limit is accepted; control frames do not count', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        options: { maxPayload: 10 },
        server: echo,
        client: async (raw) => {
          raw.send(
            Buffer.concat([
              frame(OP.TEXT, 'aaaaa', { fin: false }),
              frame(OP.PING, 'a ping longer than ten bytes'),
              frame(OP.CONT, 'bbbbb')
            ])
          );
          await raw.waitFrames(2);
          raw.send(frame(OP.CLOSE, closePayload(1000)));
        }
      })
    );
    assert.equal(result.frames[1].payload, Buffer.from('aaaaabbbbb').toString('hex'));
  });

  test('maxFragments', async () => {
    const frames = [frame(OP.TEXT, 'a', { fin: false })];
    for (let i = 0; i < 4; i++) frames.push(frame(OP.CONT, 'b', { fin: i === 3 }));
    const result = await violation(frames, { maxFragments: 4 });
    assertFailed(result, 1008, 'WS_ERR_TOO_MANY_BUFFERED_PARTS', 'Too many message fragments');
  });
});

describe('UTF-8', () => {
  test('invalid UTF-8 in a text frame', async () => {
    const result = await violation(frame(OP.TEXT, Buffer.from([0x68, 0xff, 0x69])));
    assertFailed(result, 1007, 'WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence');
    assert.equal(result.events[0][1].name, 'Error');
  });

  test('a surrogate code point encoded in UTF-8', async () => {
    const result = await violation(frame(OP.TEXT, Buffer.from([0xed, 0xa0, 0x80])));
    assertFailed(result, 1007, 'WS_ERR_INVALID_UTF8');
  });

  test('a text message that ends inside a code point', async () => {
    const result = await violation([
      frame(OP.TEXT, Buffer.from('ok'), { fin: false }),
      frame(OP.CONT, Buffer.from([0xe2, 0x82]))
    ]);
    assertFailed(result, 1007, 'WS_ERR_INVALID_UTF8');
  });

  test('invalid UTF-8 in the first fragment of a message sent whole', async () => {
    const result = await violation([
      frame(OP.TEXT, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90, 0x80, 0x80]), { fin: false }),
      frame(OP.CONT, 'edited')
    ]);
    assertFailed(result, 1007, 'WS_ERR_INVALID_UTF8');
  });

  test('fail fast: an invalid first fragment is refused before the message ends', { skip: !IS_NATIVE && 'ws validates at the end of the message' }, async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS);
    const log = [];
    const closed = deferred();
    wss.on('connection', (ws) => {
      record(ws, log);
      ws.on('close', () => closed.resolve());
    });
    const raw = new RawClient(port);
    await raw.head();
    raw.send(frame(OP.TEXT, Buffer.from([0x61, 0xc0, 0xaf]), { fin: false }));
    const frames = await raw.waitFrames(1, 'close frame after the first fragment');
    assert.equal(frames[0].opcode, OP.CLOSE);
    assert.equal(frames[0].payload.readUInt16BE(0), 1007);
    await raw.closed;
    await bounded(closed.promise);
    assert.equal(log[0][1].code, 'WS_ERR_INVALID_UTF8');
  });

  test('skipUTF8Validation accepts invalid text', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        options: { skipUTF8Validation: true },
        server: echo,
        client: async (raw) => {
          raw.send(frame(OP.TEXT, Buffer.from([0xff, 0xfe])));
          await raw.waitFrames(1);
          raw.send(frame(OP.CLOSE, closePayload(1000)));
        }
      })
    );
    assert.equal(result.frames[0].payload, 'fffe');
  });

  test('invalid UTF-8 in a close reason', async () => {
    const result = await violation(frame(OP.CLOSE, closePayload(1000, Buffer.from([0xff]))));
    assertFailed(result, 1007, 'WS_ERR_INVALID_UTF8');
  });
});

describe('close codes', () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
    test(`close code ${code} is refused with 1002`, async () => {
      const result = await violation(frame(OP.CLOSE, closePayload(code, 'r')));
      assertFailed(result, 1002, 'WS_ERR_INVALID_CLOSE_CODE', `Invalid WebSocket frame: invalid status code ${code}`);
    });
  }

  for (const code of [1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999]) {
    test(`close code ${code} is echoed`, async () => {
      const result = await differential((WS) =>
        rawScenario(WS, {
          client: async (raw) => {
            raw.send(frame(OP.CLOSE, closePayload(code, 'why')));
            await raw.closed;
          }
        })
      );
      assert.equal(result.frames[0].code, code);
      assert.deepEqual(result.events, [['close', code, 'why']]);
    });
  }
});

describe('a peer that goes away', () => {
  for (const [name, bytes] of [
    ['after one header byte', frame(OP.TEXT, 'hello').subarray(0, 1)],
    ['inside the extended length', frame(OP.BINARY, Buffer.alloc(300)).subarray(0, 3)],
    ['inside the mask', frame(OP.TEXT, 'hello').subarray(0, 4)],
    ['inside the payload', frame(OP.BINARY, Buffer.alloc(1000)).subarray(0, 500)],
    ['inside a fragmented message', Buffer.concat([frame(OP.TEXT, 'a', { fin: false }), frame(OP.CONT, 'bcd').subarray(0, 7)])]
  ]) {
    for (const how of ['end', 'destroy']) {
      test(`${name} (${how})`, async () => {
        const result = await differential((WS) =>
          rawScenario(WS, {
            server: echo,
            client: async (raw) => {
              // Let the bytes leave before the connection ends.
              await new Promise((resolve) => raw.socket.write(bytes, resolve));
              raw.socket[how]();
            }
          })
        );
        assert.deepEqual(result.events.at(-1), ['close', 1006, '']);
      });
    }
  }

  test('the server survives many broken peers at once', async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS);
    let closes = 0;
    const allClosed = deferred();
    const n = 20;
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('close', () => {
        if (++closes === n) allClosed.resolve();
      });
    });
    const clients = [];
    for (let i = 0; i < n; i++) clients.push(new RawClient(port));
    await Promise.all(clients.map((c) => c.head()));
    clients.forEach((c, i) => {
      const bad = [
        frame(OP.TEXT, 'x', { mask: false }),
        frame(7, 'x'),
        frame(OP.TEXT, Buffer.from([0xff])),
        frame(OP.BINARY, Buffer.alloc(100)).subarray(0, 50)
      ][i % 4];
      c.send(bad);
      if (i % 4 === 3) c.socket.destroy();
    });
    await bounded(allClosed.promise, 'every server-side close');
    assert.equal(closes, n);
  });
});
