'use strict';

//
// Differential tests of the client: each scenario runs with ws's client and
// with the client under test against the same kind of server (ws's
// WebSocketServer, then ws-native's), and what both sides saw must be equal:
// the client's events and their arguments, the server's events, and the
// request headers the server got.
//

const assert = require('node:assert/strict');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  bounded,
  cleanup,
  deferred,
  describeError,
  digest,
  listenWss,
  onceEvent,
  record,
  ref,
  sut,
  track
} = require('./helpers');
const { clientDifferential, recordClient, runClient } = require('./client-helpers');

afterEach(cleanup);

const SERVERS = [
  ['ws', () => ref()],
  ['ws-native', () => require('..')]
];

//
// What a server saw of the request, comparable across clients: the
// permessage-deflate offer is left out (ws's client sends one by default,
// ws-native's does not, yet), and the key and the port change every run.
//
function requestHeaders(req) {
  const out = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const lower = name.toLowerCase();
    if (lower === 'sec-websocket-key' || lower === 'sec-websocket-extensions') continue;
    const value = lower === 'host' ? req.rawHeaders[i + 1].replace(/:\d+$/, ':<port>') : req.rawHeaders[i + 1];
    out.push([name, value]);
  }
  return { method: req.method, url: req.url, headers: out };
}

/**
 * Starts a server of `ServerWS`, connects a client of `ClientWS` to it and
 * records both sides until the client has closed (and the server side too,
 * when a connection was made).
 */
async function scenario(ServerWS, ClientWS, s) {
  const { wss, port } = await listenWss(ServerWS, s.serverOptions);
  const serverLog = [];
  const serverClosed = deferred();
  let request = null;

  wss.on('connection', (ws, req) => {
    request = requestHeaders(req);
    record(ws, serverLog);
    ws.on('close', () => serverClosed.resolve());
    if (s.server) s.server(ws, req, serverLog);
  });

  const client = await runClient(ClientWS, {
    url: `ws://${s.userinfo || ''}127.0.0.1:${port}${s.path || '/'}`,
    ...s.client
  });
  if (request) await bounded(serverClosed.promise, 'server-side close');

  return { client, server: serverLog, request };
}

/** Registers `body` once per server kind, as a differential test. */
function differentialTest(name, s, check) {
  for (const [serverName, Server] of SERVERS) {
    test(`${name} (${serverName} server)`, async () => {
      const result = await clientDifferential((WS) => scenario(Server(), WS, s));
      if (check) check(result);
    });
  }
}

function payload(size, binary) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = binary ? (i * 7 + 3) & 0xff : 97 + (i % 26);
  return buf;
}

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

describe('client: echo through both servers', () => {
  for (const size of [0, 125, 126, 65535, 65536, 1024 * 1024]) {
    for (const binary of [false, true]) {
      const data = payload(size, binary);
      differentialTest(
        `${binary ? 'binary' : 'text'} ${size} bytes`,
        {
          server: echo,
          client: {
            open: (ws) => ws.send(binary ? data : data.toString()),
            prepare: (ws) => ws.on('message', () => ws.close(1000, 'done'))
          }
        },
        (result) => {
          assert.deepEqual(result.client.at(-1), ['close', 1000, 'done', 3]);
          assert.deepEqual(result.server[0], ['message', { type: 'Buffer', data: digest(data) }, binary]);
        }
      );
    }
  }
});

describe('client: events and attributes', () => {
  differentialTest('the server talks first, in the chunk of the 101', {
    server: (ws) => {
      ws.send('one');
      ws.send(Buffer.from('two'));
      ws.ping('p');
      ws.close(4001, 'server bye');
    }
  }, (result) => {
    assert.deepEqual(result.client.slice(0, 2), [['upgrade', 101], ['open', 1, '', '']]);
    assert.deepEqual(result.client.at(-1), ['close', 4001, 'server bye', 3]);
  });

  differentialTest('pings and pongs both ways, with payloads', {
    server: (ws) => {
      ws.ping('from server');
      ws.on('pong', () => ws.close());
    },
    client: { open: (ws) => ws.ping('from client') }
  });

  differentialTest('autoPong: false', {
    server: (ws) => {
      ws.ping('unanswered');
      setTimeout(() => ws.close(1000), 50);
    },
    client: { options: { autoPong: false } }
  });

  differentialTest('subprotocols: offered, and picked by the server', {
    serverOptions: { handleProtocols: (protocols) => [...protocols][1] },
    client: { protocols: ['chat', 'superchat'], open: (ws) => ws.close(1000) }
  }, (result) => {
    assert.deepEqual(result.client[1], ['open', 1, 'superchat', '']);
  });

  differentialTest('a single subprotocol as a string, and in options.protocols', {
    client: { options: { protocols: 'only' }, open: (ws) => ws.close() }
  }, (result) => {
    assert.deepEqual(result.client[1], ['open', 1, 'only', '']);
  });

  differentialTest('path, query, origin and extra headers', {
    path: '/a/b?c=d&e',
    client: {
      options: { origin: 'https://example.com', headers: { 'X-Custom': 'yes', Cookie: 'a=b' } },
      open: (ws) => ws.close(4000, 'x')
    }
  }, (result) => {
    assert.equal(result.request.url, '/a/b?c=d&e');
    assert.deepEqual(result.request.headers.find(([n]) => n === 'Origin'), ['Origin', 'https://example.com']);
  });

  differentialTest('protocolVersion 8 sends Sec-WebSocket-Origin', {
    client: { options: { protocolVersion: 8, origin: 'http://o' }, open: (ws) => ws.close() }
  }, (result) => {
    assert.deepEqual(result.request.headers.find(([n]) => n === 'Sec-WebSocket-Version'), ['Sec-WebSocket-Version', '8']);
  });

  differentialTest('credentials in the URL become an Authorization header', {
    userinfo: 'us%20er:p%40ss@',
    client: { open: (ws) => ws.close() }
  }, (result) => {
    const auth = result.request.headers.find(([n]) => n === 'Authorization');
    assert.deepEqual(auth, ['Authorization', `Basic ${Buffer.from('us er:p@ss').toString('base64')}`]);
  });

  differentialTest('close() without a code: 1005 on both sides', {
    client: { open: (ws) => ws.close() }
  }, (result) => {
    assert.deepEqual(result.client.at(-1), ['close', 1005, '', 3]);
  });

  differentialTest('the server terminates: 1006', {
    server: (ws) => ws.terminate()
  });

  differentialTest('the client terminates once open: 1006', {
    client: { open: (ws) => ws.terminate() }
  });

  differentialTest('maxPayload on the client: 1009', {
    server: (ws) => ws.send(Buffer.alloc(101)),
    client: { options: { maxPayload: 100 } }
  }, (result) => {
    assert.deepEqual(result.client[2][1], {
      name: 'RangeError',
      message: 'Max payload size exceeded',
      code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
    });
  });

  differentialTest('invalid UTF-8 from the server: 1007', {
    server: (ws) => ws.send(Buffer.from([0x68, 0xff]), { binary: false })
  });

  differentialTest('skipUTF8Validation delivers it', {
    server: (ws) => {
      ws.send(Buffer.from([0x68, 0xff]), { binary: false });
      ws.close();
    },
    client: { options: { skipUTF8Validation: true } }
  });

  for (const binaryType of ['arraybuffer', 'fragments']) {
    differentialTest(`binaryType ${binaryType}`, {
      server: (ws) => {
        ws.send(Buffer.from('abc'));
        ws.close();
      },
      client: {
        prepare: (ws) => {
          ws.binaryType = binaryType;
        }
      }
    });
  }

  differentialTest('fragments sent with fin: false', {
    server: echo,
    client: {
      open: (ws) => {
        ws.send('Hello, ', { fin: false });
        ws.send('wörld', { fin: true });
        ws.send(Buffer.alloc(70000, 1), { fin: false });
        ws.send(Buffer.alloc(10, 2));
      },
      prepare: (ws) => {
        let n = 0;
        ws.on('message', () => ++n === 2 && ws.close());
      }
    }
  });

  differentialTest('pause() and resume()', {
    server: (ws) => {
      ws.once('message', () => {
        ws.send('a');
        ws.send('b');
        ws.close();
      });
    },
    client: {
      open: (ws, log) => {
        ws.pause();
        log.push(['paused', ws.isPaused]);
        ws.send('go');
        setTimeout(() => {
          log.push(['resume']);
          ws.resume();
        }, 50);
      }
    }
  });

  differentialTest('callbacks of send(), ping() and pong(), before and after close()', {
    server: echo,
    client: {
      open: (ws, log) => {
        const cb = (name) => (err) => log.push(['cb', name, err ? err.message : null]);
        ws.send('x', cb('send'));
        ws.ping('y', cb('ping'));
        ws.pong('z', cb('pong'));
        ws.close();
        ws.send('late', cb('late send'));
        ws.ping(cb('late ping'));
        log.push(['bufferedAmount', ws.bufferedAmount > 0]);
      }
    }
  });

  differentialTest('the on* attributes and addEventListener()', {
    server: (ws) => {
      ws.send('hi');
      ws.close(4321, 'reason');
    },
    client: {
      prepare: (ws, log) => {
        ws.onopen = (event) => log.push(['onopen', event.type, event.target === ws]);
        ws.onmessage = (event) => log.push(['onmessage', event.type, String(event.data)]);
        ws.addEventListener('close', (event) => {
          log.push(['close event', event.code, event.reason, event.wasClean]);
        }, { once: true });
        ws.onerror = (event) => log.push(['onerror', event.message]);
      }
    }
  });
});

describe('client: failing before the connection is open', () => {
  test('send(), ping() and pong() throw while connecting', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port } = await listenWss(sut());
      const ws = track(new WS(`ws://127.0.0.1:${port}`));
      const out = [];
      for (const method of ['send', 'ping', 'pong']) {
        assert.throws(() => ws[method]('x'), (err) => {
          out.push(describeError(err));
          return true;
        });
      }
      out.push(ws.bufferedAmount, ws.readyState, ws.url.replace(String(port), '<port>'));
      const closed = onceEvent(ws, 'close');
      ws.on('error', () => {});
      ws.close();
      await closed;
      return out;
    });
    assert.equal(result[0].message, 'WebSocket is not open: readyState 0 (CONNECTING)');
  });

  for (const method of ['close', 'terminate']) {
    test(`${method}() while connecting`, async () => {
      const result = await clientDifferential(async (WS) => {
        const { port } = await listenWss(sut());
        return runClient(WS, { url: `ws://127.0.0.1:${port}`, prepare: (ws) => ws[method]() });
      });
      assert.deepEqual(result, [
        ['error', { name: 'Error', message: 'WebSocket was closed before the connection was established', code: undefined }, 2],
        ['close', 1006, '', 3]
      ]);
    });

    test(`${method}() from an 'upgrade' listener`, async () => {
      const result = await clientDifferential(async (WS) => {
        const { port } = await listenWss(sut());
        return runClient(WS, {
          url: `ws://127.0.0.1:${port}`,
          prepare: (ws) => ws.on('upgrade', () => ws[method]())
        });
      });
      assert.deepEqual(result[0], ['upgrade', 101]);
    });
  }

  test('the connection is refused', async () => {
    const { wss, port } = await listenWss(sut());
    await new Promise((resolve) => wss.close(resolve));
    const result = await clientDifferential((WS) => runClient(WS, { url: `ws://127.0.0.1:${port}` }));
    assert.equal(result[0][1].code, 'ECONNREFUSED');
  });
});

describe('client: ws-native specifics', { skip: !IS_NATIVE && 'ws-native only' }, () => {
  test('permessage-deflate is offered unless disabled, and used when agreed', async () => {
    const WS = sut();
    for (const Server of [ref(), WS]) {
      for (const serverDeflate of [true, false]) {
        const { wss, port } = await listenWss(Server, { perMessageDeflate: serverDeflate });
        for (const options of [
          {},
          { perMessageDeflate: true },
          { perMessageDeflate: { threshold: 0 } },
          { perMessageDeflate: false },
          // Replaces the default, as with ws: no offer.
          { perMessageDeflate: undefined }
        ]) {
          const got = onceEvent(wss, 'connection');
          const ws = track(new WS(`ws://127.0.0.1:${port}`, options));
          ws.on('error', () => {});
          const [server, req] = await got;
          const offered = !('perMessageDeflate' in options) || !!options.perMessageDeflate;
          assert.equal(
            req.headers['sec-websocket-extensions'],
            offered ? 'permessage-deflate; client_max_window_bits' : undefined
          );
          await onceEvent(ws, 'open');
          const agreed = offered && serverDeflate;
          assert.equal(ws.extensions, agreed ? 'permessage-deflate' : '');
          assert.equal(server.extensions, agreed ? 'permessage-deflate' : '');
          const message = onceEvent(ws, 'message');
          const echoed = onceEvent(server, 'message');
          server.send('x'.repeat(2000));
          ws.send('y'.repeat(2000));
          assert.equal(String((await message)[0]), 'x'.repeat(2000));
          assert.equal(String((await echoed)[0]), 'y'.repeat(2000));
          ws.close();
          await onceEvent(ws, 'close');
        }
        wss.close();
      }
    }
  });

  test('every frame is masked with a fresh mask, and generateMask is used', async () => {
    const WS = sut();
    const { wss } = await listenWss(WS);
    const log = [];
    wss.on('connection', (ws) => record(ws, log));

    const { rawServer, switching, waitClientFrames } = require('./client-helpers');
    const raw = await rawServer((socket, head, accept) => socket.write(switching(accept)));
    for (const generateMask of [undefined, (mask) => mask.fill(0x5a)]) {
      const ws = track(new WS(`ws://127.0.0.1:${raw.port}`, { generateMask }));
      ws.on('error', () => {});
      await onceEvent(ws, 'open');
      ws.send('hello');
      ws.send(Buffer.alloc(70000, 1));
      ws.ping('p');
      ws.close(1000, 'done');
      const frames = await waitClientFrames(raw.sockets.at(-1), 4);
      assert.deepEqual(frames.map((f) => f.masked), [true, true, true, true]);
      assert.deepEqual(frames.map((f) => f.payload.length), [5, 70000, 1, 6]);
      const masks = frames.map((f) => f.header.subarray(-4).toString('hex'));
      if (generateMask) assert.deepEqual(masks, Array(4).fill('5a5a5a5a'));
      else assert.equal(new Set(masks).size, 4);
      ws.terminate();
    }
    assert.equal(wss.clients.size, 0);
  });
});

describe('client: our client against ws server, many messages', () => {
  test('1000 messages each way, in order', async () => {
    const { wss, port } = await listenWss(ref());
    wss.on('connection', echo);
    const ws = track(new (sut())(`ws://127.0.0.1:${port}`));
    const log = recordClient(ws);
    await onceEvent(ws, 'open');
    const done = deferred();
    let n = 0;
    ws.on('message', (data) => {
      assert.equal(String(data), `m${n}`);
      if (++n === 1000) done.resolve();
    });
    for (let i = 0; i < 1000; i++) ws.send(`m${i}`);
    await bounded(done.promise, '1000 echoes');
    ws.close();
    await onceEvent(ws, 'close');
    assert.deepEqual(log.at(-1), ['close', 1005, '', 3]);
  });
});
