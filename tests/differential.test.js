'use strict';

//
// Differential tests: each scenario runs against ws's WebSocketServer and then
// against the module under test, and what the server did (its events, their
// arguments, and the exact bytes it wrote) must be equal.
//

const assert = require('node:assert/strict');
const { afterEach, describe, test } = require('node:test');

const {
  OP,
  cleanup,
  closePayload,
  deferred,
  describeData,
  describeError,
  differential,
  digest,
  echo,
  frame,
  listenWss,
  onceEvent,
  openClient,
  rawScenario,
  record,
  bounded
} = require('./helpers');

afterEach(cleanup);

function binaryPayload(size) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + 7) & 0xff;
  return buf;
}

function textPayload(size) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  let s = '';
  while (s.length < size) s += alphabet;
  return Buffer.from(s.slice(0, size));
}

/** Sends `frames` in one write, waits for `n` frames back, then closes. */
function sendAndClose(frames, n, code = 1000) {
  return async (raw) => {
    raw.send(Buffer.concat([].concat(frames)));
    if (n > 0) await raw.waitFrames(n);
    raw.send(frame(OP.CLOSE, closePayload(code)));
  };
}

describe('echo', () => {
  for (const size of [0, 125, 126, 65535, 65536, 1024 * 1024]) {
    for (const binary of [false, true]) {
      test(`${binary ? 'binary' : 'text'} ${size} bytes`, async () => {
        const payload = binary ? binaryPayload(size) : textPayload(size);
        const opcode = binary ? OP.BINARY : OP.TEXT;
        const result = await differential((WS) =>
          rawScenario(WS, { server: echo, client: sendAndClose(frame(opcode, payload), 1) })
        );

        assert.equal(result.frames[0].payload, digest(payload));
        assert.equal(result.frames[0].header[1], binary ? '2' : '1');
        assert.deepEqual(result.events[0], ['message', { type: 'Buffer', data: digest(payload) }, binary]);
      });
    }
  }
});

describe('fragmented messages', () => {
  test('text split inside a code point, with a ping between fragments', async () => {
    const text = Buffer.from('Hello, wörld €');
    const split = [text.subarray(0, 8), text.subarray(8, 9), text.subarray(9)];
    const frames = [
      frame(OP.TEXT, split[0], { fin: false }),
      frame(OP.PING, 'between'),
      frame(OP.CONT, split[1], { fin: false }),
      frame(OP.CONT, split[2])
    ];
    const result = await differential((WS) =>
      rawScenario(WS, { server: echo, client: sendAndClose(frames, 2) })
    );

    assert.equal(result.frames[0].header, '8a07');
    assert.equal(result.frames[1].payload, digest(text));
  });

  test('binary with empty fragments, one frame per write', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: echo,
        client: async (raw) => {
          raw.send(frame(OP.BINARY, Buffer.alloc(0), { fin: false }));
          raw.send(frame(OP.CONT, Buffer.from([1, 2, 3]), { fin: false }));
          raw.send(frame(OP.CONT, Buffer.alloc(0), { fin: false }));
          raw.send(frame(OP.CONT, Buffer.from([4])));
          await raw.waitFrames(1);
          raw.send(frame(OP.CLOSE, closePayload(1000)));
        }
      })
    );

    assert.equal(result.frames[0].payload, '01020304');
  });

  test('a fragmented message larger than 64 KiB', async () => {
    const payload = binaryPayload(200000);
    const frames = [
      frame(OP.BINARY, payload.subarray(0, 70000), { fin: false }),
      frame(OP.CONT, payload.subarray(70000, 140000), { fin: false }),
      frame(OP.CONT, payload.subarray(140000))
    ];
    const result = await differential((WS) =>
      rawScenario(WS, { server: echo, client: sendAndClose(frames, 1) })
    );

    assert.equal(result.frames[0].payload, digest(payload));
  });
});

describe('chunking', () => {
  // Frames of every header size, a fragmented message and control frames.
  const mixed = () => [
    frame(OP.BINARY, binaryPayload(300)),
    frame(OP.TEXT, Buffer.from('né'), { fin: false }),
    frame(OP.PING, 'in between'),
    frame(OP.CONT, Buffer.from('€ end')),
    frame(OP.TEXT, textPayload(70000)),
    frame(OP.BINARY)
  ];

  test('one byte per write', async () => {
    const bytes = Buffer.concat(mixed().slice(0, 4));
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: echo,
        client: async (raw) => {
          for (let i = 0; i < bytes.length; i++) {
            await new Promise((resolve) => raw.socket.write(bytes.subarray(i, i + 1), resolve));
          }
          await raw.waitFrames(3);
          raw.send(frame(OP.CLOSE, closePayload(1000)));
        }
      })
    );

    assert.deepEqual(result.events.map((e) => e[0]), ['message', 'ping', 'message', 'close']);
  });

  test('writes that split frames at odd places', async () => {
    const bytes = Buffer.concat(mixed());
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: echo,
        client: async (raw) => {
          for (let i = 0, step = 1; i < bytes.length; i += step, step = ((step * 7 + 3) % 4099) + 1) {
            await new Promise((resolve) => raw.socket.write(bytes.subarray(i, i + step), resolve));
          }
          await raw.waitFrames(5);
          raw.send(frame(OP.CLOSE, closePayload(1000)));
        }
      })
    );

    assert.equal(result.events.filter((e) => e[0] === 'message').length, 4);
  });

  test('5000 small messages in a single write', async () => {
    const frames = [];
    for (let i = 0; i < 5000; i++) {
      frames.push(i % 2 ? frame(OP.BINARY, Buffer.from([i & 0xff])) : frame(OP.TEXT, String(i)));
    }
    const result = await differential((WS) =>
      rawScenario(WS, { server: echo, client: sendAndClose(frames, 5000) })
    );

    assert.equal(result.frames.length, 5001);
    assert.equal(result.frames[4998].payload, Buffer.from('4998').toString('hex'));
  });

  test('a close frame in the middle of a fragmented message', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: echo,
        client: async (raw) => {
          raw.send(
            Buffer.concat([
              frame(OP.TEXT, 'never', { fin: false }),
              frame(OP.CLOSE, closePayload(1001, 'leaving')),
              frame(OP.CONT, 'finished')
            ])
          );
          await raw.closed;
        }
      })
    );

    assert.deepEqual(result.events, [['close', 1001, 'leaving']]);
  });
});

describe('ping and pong', () => {
  for (const [name, payload] of [
    ['empty', ''],
    ['short', 'hello'],
    ['125 bytes', 'p'.repeat(125)]
  ]) {
    test(`auto-pong echoes a ${name} ping payload`, async () => {
      const result = await differential((WS) =>
        rawScenario(WS, { client: sendAndClose(frame(OP.PING, payload), 1) })
      );

      assert.equal(result.frames[0].payload, digest(Buffer.from(payload)));
      assert.equal(result.frames[0].header.slice(0, 2), '8a');
      assert.deepEqual(result.events[0], ['ping', digest(Buffer.from(payload))]);
    });
  }

  test('autoPong: false emits ping and sends nothing', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        options: { autoPong: false },
        server: echo,
        client: sendAndClose([frame(OP.PING, 'x'), frame(OP.TEXT, 'after')], 1)
      })
    );

    assert.equal(result.frames[0].header, '8105');
  });

  test('an unsolicited pong is emitted', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, { server: echo, client: sendAndClose([frame(OP.PONG, 'unasked'), frame(OP.TEXT, 'x')], 1) })
    );

    assert.deepEqual(result.events[0], ['pong', Buffer.from('unasked').toString('hex')]);
  });

  test('server ping, client pong, with callbacks', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws, req, log) => {
          ws.ping('srv', undefined, (err) => log.push(['ping cb', err == null]));
          ws.ping(12345);
          ws.ping();
        },
        client: async (raw) => {
          const frames = await raw.waitFrames(3);
          for (const f of frames) raw.send(frame(OP.PONG, f.payload));
          raw.send(frame(OP.CLOSE, closePayload(1000)));
        }
      })
    );

    assert.deepEqual(
      result.frames.slice(0, 3).map((f) => f.payload),
      ['737276', '3132333435', '']
    );
  });
});

describe('closing', () => {
  test('server close with code and reason', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws) => ws.close(4001, 'going away now'),
        client: async (raw) => {
          await raw.waitFrames(1);
        }
      })
    );

    assert.equal(result.frames[0].code, 4001);
    assert.deepEqual(result.events.at(-1), ['close', 4001, 'going away now']);
  });

  test('server close with a code only', async () => {
    await differential((WS) =>
      rawScenario(WS, { server: (ws) => ws.close(1000), client: (raw) => raw.waitFrames(1) })
    );
  });

  test('server close without arguments', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, { server: (ws) => ws.close(), client: (raw) => raw.waitFrames(1) })
    );

    assert.equal(result.frames[0].header, '8800');
    assert.deepEqual(result.events.at(-1), ['close', 1005, '']);
  });

  test('server sends then closes; the client keeps sending until it answers', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        request: { replyToClose: false },
        server: (ws) => {
          ws.send('last');
          ws.close(1001, 'bye');
        },
        client: async (raw) => {
          await raw.waitFrames(2);
          raw.send(frame(OP.TEXT, 'after close frame'));
          raw.send(frame(OP.CLOSE, closePayload(1001, 'ok')));
        }
      })
    );

    assert.deepEqual(result.events.map((e) => e[0]), ['message', 'close']);
  });

  test('client close with code and reason', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        client: async (raw) => {
          raw.send(frame(OP.CLOSE, closePayload(1000, 'done')));
          await raw.waitFrames(1);
        }
      })
    );

    // ws echoes the code and the reason.
    assert.equal(result.frames[0].header, '8806');
    assert.deepEqual(result.events, [['close', 1000, 'done']]);
  });

  test('client close without a payload', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        client: async (raw) => {
          raw.send(frame(OP.CLOSE));
          await raw.waitFrames(1);
        }
      })
    );

    assert.deepEqual(result.events, [['close', 1005, '']]);
  });

  test('frames after the close frame are ignored', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: echo,
        client: async (raw) => {
          raw.send(Buffer.concat([frame(OP.CLOSE, closePayload(1000)), frame(OP.TEXT, 'late')]));
          await raw.waitFrames(1);
        }
      })
    );

    assert.deepEqual(result.events, [['close', 1000, '']]);
  });

  test('terminate', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws, req, log) => {
          ws.on('message', () => {
            ws.terminate();
            log.push(['readyState after terminate', ws.readyState]);
          });
        },
        client: async (raw) => {
          raw.send(frame(OP.TEXT, 'kill'));
        }
      })
    );

    assert.deepEqual(result.frames, []);
    assert.deepEqual(result.events.at(-1), ['close', 1006, '']);
  });

  test('the peer closes the TCP connection without a close frame', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: echo,
        client: async (raw) => {
          raw.send(frame(OP.TEXT, 'hi'));
          await raw.waitFrames(1);
          raw.socket.end();
        }
      })
    );

    assert.deepEqual(result.events.at(-1), ['close', 1006, '']);
  });
});

describe('server-side API', () => {
  test('event order and arguments with a ws client', async () => {
    const result = await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const serverLog = [];
      const serverClosed = deferred();
      wss.on('connection', (ws, req) => {
        serverLog.push([
          'connection',
          req.url,
          ws.readyState,
          ws.protocol,
          ws.extensions,
          ws.binaryType,
          ws.bufferedAmount,
          ws.isPaused,
          ws.url,
          [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED],
          wss.clients.size,
          wss.clients.has(ws)
        ]);
        record(ws, serverLog);
        ws.on('close', () => {
          serverLog.push(['readyState at close', ws.readyState, wss.clients.size]);
          serverClosed.resolve();
        });
      });

      const client = await openClient(`ws://127.0.0.1:${port}/some/path?x=1`);
      const clientLog = record(client, []);
      const clientClosed = onceEvent(client, 'close');
      client.send('a');
      client.send(Buffer.from([1, 2, 3]));
      client.send(new Uint8Array([4, 5]), { binary: false });
      client.ping('p');
      client.pong('q');
      client.close(4000, 'bye');
      await clientClosed;
      await bounded(serverClosed.promise, 'server close');
      return { serverLog, clientLog };
    });

    assert.deepEqual(
      result.serverLog.map((e) => e[0]),
      ['connection', 'message', 'message', 'message', 'ping', 'pong', 'close', 'readyState at close']
    );
  });

  test('binaryType variants', async () => {
    const types = ['nodebuffer', 'arraybuffer', 'fragments', 'blob', 'bogus'];
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws, req, log) => {
          let chain = Promise.resolve();
          let i = 0;
          ws.on('message', (data) => {
            const type = types[i++];
            ws.binaryType = type;
            log.push(['binaryType now', ws.binaryType]);
            chain = chain.then(async () => {
              let buf;
              if (Buffer.isBuffer(data)) buf = data;
              else if (data instanceof ArrayBuffer) buf = Buffer.from(data);
              else if (Array.isArray(data)) buf = Buffer.concat(data);
              else buf = Buffer.from(await data.arrayBuffer());
              ws.send(buf);
            });
          });
        },
        client: async (raw) => {
          // The first message only switches binaryType for the next one.
          const messages = [];
          for (let i = 0; i < types.length; i++) {
            messages.push(
              frame(OP.BINARY, Buffer.from([i]), { fin: false }),
              frame(OP.CONT, Buffer.from([i, i]))
            );
          }
          raw.send(Buffer.concat([frame(OP.TEXT, 'switch'), ...messages.slice(0, -2)]));
          await raw.waitFrames(types.length);
          raw.send(frame(OP.CLOSE, closePayload(1000)));
        }
      })
    );

    const kinds = result.events.filter((e) => e[0] === 'message').map((e) => e[1].type);
    assert.deepEqual(kinds, ['Buffer', 'Buffer', 'ArrayBuffer', 'Array', 'Blob']);
  });

  test('send callbacks are called in order, and after close with an error', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws, req, log) => {
          const cb = (name) => (...args) =>
            log.push([
              'cb',
              name,
              args.length,
              args.map((a) => (a == null ? String(a) : describeError(a)))
            ]);
          ws.send('one', cb('one'));
          ws.send(Buffer.alloc(1000, 1), cb('two'));
          ws.ping('p', false, cb('ping'));
          ws.send('three', { binary: true }, cb('three'));
          ws.pong('', false, cb('pong'));
          ws.send(42, cb('number'));
          ws.close(1000, 'x');
          ws.send('after close', cb('after'));
          ws.ping('after', undefined, cb('ping after'));
        },
        client: (raw) => raw.waitFrames(7)
      })
    );

    const names = result.events.filter((e) => e[0] === 'cb').map((e) => e[1]);
    assert.equal(names.length, 8);
  });

  test('bufferedAmount and send after close', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws, req, log) => {
          ws.on('close', () => {
            log.push(['bufferedAmount at close', ws.bufferedAmount, ws.readyState]);
            ws.send('abcd', (err) => log.push(['send cb', err.message]));
            log.push(['after string', ws.bufferedAmount]);
            ws.send(Buffer.alloc(10));
            log.push(['after buffer', ws.bufferedAmount]);
            ws.send(new Uint16Array(3));
            log.push(['after typed array', ws.bufferedAmount]);
            ws.send();
            log.push(['after nothing', ws.bufferedAmount]);
          });
          ws.on('message', () => {
            ws.close();
            ws.send('xy', (err) => log.push(['closing send cb', err.message]));
          });
        },
        client: async (raw) => {
          raw.send(frame(OP.TEXT, 'close please'));
          await raw.waitFrames(1);
        }
      })
    );

    assert.ok(result.events.some((e) => e[0] === 'after typed array'));
  });

  test('the sending API throws the same errors', async () => {
    const result = await differential((WS) =>
      rawScenario(WS, {
        server: (ws, req, log) => {
          const attempt = (name, fn) => {
            try {
              fn();
              log.push([name, 'ok']);
            } catch (err) {
              log.push([name, describeError(err)]);
            }
          };
          attempt('ping 126 bytes', () => ws.ping(Buffer.alloc(126)));
          attempt('pong 126 bytes', () => ws.pong('x'.repeat(126)));
          attempt('close 999', () => ws.close(999));
          attempt('close reason 124 bytes', () => ws.close(1000, 'r'.repeat(124)));
          attempt('close reason 123 bytes', () => ws.close(1000, 'r'.repeat(123)));
        },
        client: (raw) => raw.waitFrames(1)
      })
    );

    assert.equal(result.events[0][1].name, 'RangeError');
  });
});

describe('protocol state seen from a ws client', () => {
  test('messages, binary flag and close code reach the client unchanged', async () => {
    const result = await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      wss.on('connection', (ws) => {
        ws.send('text');
        ws.send(Buffer.from('bin'));
        ws.send('text as binary', { binary: true });
        ws.send(Buffer.from('binary as text'), { binary: false });
        ws.send(new Float32Array([1.5]).buffer);
        ws.close(4321, 'done');
      });
      const log = [];
      const client = await openClient(`ws://127.0.0.1:${port}`, [], {}, (c) => record(c, log));
      await onceEvent(client, 'close');
      return log;
    });

    assert.deepEqual(result.at(-1), ['close', 4321, 'done']);
  });

  test('every size through a ws client', async () => {
    const sizes = [0, 125, 126, 65535, 65536, 1024 * 1024];
    const result = await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      wss.on('connection', echo);
      const client = await openClient(`ws://127.0.0.1:${port}`);
      const log = [];
      const done = deferred();
      client.on('message', (data, isBinary) => {
        log.push(describeData(data), isBinary);
        if (log.length === sizes.length * 4) done.resolve();
      });
      for (const size of sizes) {
        client.send(textPayload(size).toString());
        client.send(binaryPayload(size));
      }
      await bounded(done.promise, 'all echoes');
      client.close();
      await onceEvent(client, 'close');
      return log;
    });

    assert.equal(result.length, sizes.length * 4);
  });
});
