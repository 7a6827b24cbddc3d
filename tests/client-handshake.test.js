'use strict';

//
// The client's side of the opening handshake: what it sends, how it judges
// the server's answer, and the errors it throws for a bad URL or bad
// options. Each case runs with ws's client and with the client under test,
// against a raw server that answers by hand, and both must behave the same.
//

const assert = require('node:assert/strict');
const http = require('node:http');
const { spawn } = require('node:child_process');
const { afterEach, describe, test } = require('node:test');

const Koa = require('koa');

const {
  IS_NATIVE,
  OP,
  bounded,
  cleanup,
  closePayload,
  describeError,
  frame,
  listenHttp,
  onceEvent,
  ref,
  sut,
  track
} = require('./helpers');
const {
  clientDifferential,
  normalizeHead,
  rawServer,
  runClient,
  switching,
  waitClientFrames
} = require('./client-helpers');

afterEach(cleanup);

const INVALID_UTF8 = Buffer.from([0xce, 0xba, 0xe1, 0xbd]);

/**
 * Runs a client against a raw server whose answer is `respond(socket, head,
 * accept)`. `perMessageDeflate: false` unless the scenario says otherwise:
 * the offer has its own tests (tests/permessage-deflate.test.js too).
 */
function against(respond, s = {}) {
  return async (WS) => {
    const raw = await rawServer(respond);
    const log = await runClient(WS, {
      url: `ws://127.0.0.1:${raw.port}${s.path || '/'}`,
      protocols: s.protocols,
      options: { perMessageDeflate: false, ...s.options },
      prepare: s.prepare,
      open: s.open
    });
    return { log, heads: raw.heads.map(normalizeHead) };
  };
}

function errorOf(result) {
  const entry = result.log.find(([event]) => event === 'error');
  return entry && entry[1].message;
}

describe('the request', () => {
  test('is the same bytes as ws sends, but for the key', async () => {
    const result = await clientDifferential(
      against((socket) => socket.destroy(), {
        path: '/p?q=1',
        protocols: ['a', 'b'],
        options: { headers: { 'X-One': '1', cookie: 'c=d' }, origin: 'http://o.example' }
      })
    );
    assert.match(result.heads[0], /^GET \/p\?q=1 HTTP\/1\.1\r\n/);
    assert.match(result.heads[0], /\r\nSec-WebSocket-Protocol: a,b\r\n/);
  });

  test('the permessage-deflate offer is the same bytes as ws sends', async () => {
    for (const perMessageDeflate of [
      undefined,
      true,
      { serverNoContextTakeover: true },
      { clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
      { clientMaxWindowBits: false },
      { clientMaxWindowBits: true, threshold: 0 }
    ]) {
      const result = await clientDifferential(
        against((socket) => socket.destroy(), {
          protocols: ['a'],
          options: { perMessageDeflate }
        })
      );
      // An explicit `undefined` replaces the default (true): no offer, as in ws.
      if (perMessageDeflate !== undefined) {
        assert.match(result.heads[0], /\r\nSec-WebSocket-Extensions: permessage-deflate/);
      }
    }
  });
});

describe('invalid URLs and options throw as in ws', () => {
  const cases = [
    ['not a url', ['not a url']],
    ['a relative URL', ['/path']],
    ['ftp:', ['ftp://example.com']],
    ['a fragment', ['ws://example.com/#frag']],
    ['ws+unix: without a path', ['ws+unix:']],
    ['a duplicated subprotocol', ['ws://example.com', ['a', 'a']]],
    ['a subprotocol that is not a token', ['ws://example.com', ['a b']]],
    ['a comma in a subprotocol', ['ws://example.com', 'a,b']],
    ['an empty subprotocol', ['ws://example.com', ['']]],
    ['a subprotocol that is not a string', ['ws://example.com', [1]]],
    ['protocolVersion 7', ['ws://example.com', { protocolVersion: 7 }]],
    ['protocolVersion "13"', ['ws://example.com', [], { protocolVersion: '13' }]],
    ['options.protocols duplicated', ['ws://example.com', { protocols: ['x', 'x'] }]]
  ];

  for (const [name, args] of cases) {
    test(name, async () => {
      await clientDifferential((WS) => {
        let thrown;
        assert.throws(() => new WS(...args), (err) => {
          thrown = { ...describeError(err), instance: err instanceof Error };
          return true;
        });
        return thrown;
      });
    });
  }

  test('http: and https: URLs become ws: and wss:', async () => {
    await clientDifferential((WS) => {
      const out = [];
      for (const address of ['http://h.invalid/a', 'https://h.invalid:444/b?c', new URL('http://h.invalid')]) {
        const ws = new WS(address);
        ws.on('error', () => {});
        out.push(ws.url, String(address));
        ws.terminate();
      }
      return out;
    });
  });
});

describe("the server's answer", () => {
  const cases = [
    ['a valid 101', (s, h, accept) => s.write(switching(accept))],
    ['a wrong Sec-WebSocket-Accept', (s) => s.write(switching('dGhlIHNhbXBsZSBub25jZQ=='))],
    ['no Sec-WebSocket-Accept', (s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')],
    ['Upgrade: h2c', (s, h, accept) => s.write(switching(accept).replace('Upgrade: websocket', 'Upgrade: h2c'))],
    ['Upgrade: WebSocket (any case)', (s, h, accept) => s.write(switching(accept).replace('Upgrade: websocket', 'Upgrade: WebSocket'))],
    ['no Connection: Upgrade', (s, h, accept) => s.write(switching(accept).replace('Connection: Upgrade\r\n', ''))],
    ['a subprotocol that was not requested', (s, h, accept) => s.write(switching(accept, ['Sec-WebSocket-Protocol: chat']))],
    ['an extension that was not requested', (s, h, accept) => s.write(switching(accept, ['Sec-WebSocket-Extensions: permessage-deflate']))],
    ['a 404 with a body', (s) => s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot Found')],
    ['a 200', (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')],
    ['a 302 without followRedirects', (s) => s.end('HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n')],
    ['a closed connection', (s) => s.destroy()],
    ['garbage', (s) => s.end('NOT HTTP AT ALL\r\n\r\n')],
    ['frames in the same chunk as the 101', (s, h, accept) => {
      s.write(Buffer.concat([
        Buffer.from(switching(accept)),
        frame(OP.TEXT, 'first', { mask: false }),
        frame(OP.BINARY, Buffer.from([1, 2, 3]), { mask: false }),
        frame(OP.CLOSE, closePayload(1001, 'going'), { mask: false })
      ]));
      s.end();
    }],
    ['a masked frame from the server', (s, h, accept) => s.write(Buffer.concat([Buffer.from(switching(accept)), frame(OP.TEXT, 'masked')]))],
    ['invalid UTF-8 from the server', (s, h, accept) => s.write(Buffer.concat([Buffer.from(switching(accept)), frame(OP.TEXT, INVALID_UTF8, { mask: false })]))],
    ['a close frame with an invalid code', (s, h, accept) => s.write(Buffer.concat([Buffer.from(switching(accept)), frame(OP.CLOSE, closePayload(1005), { mask: false })]))],
    ['an RSV1 frame (nothing negotiated)', (s, h, accept) => s.write(Buffer.concat([Buffer.from(switching(accept)), frame(OP.TEXT, 'x', { mask: false, rsv: 0x40 })]))]
  ];

  for (const [name, respond] of cases) {
    test(name, async () => {
      await clientDifferential(
        against(respond, {
          open: (ws) => setTimeout(() => ws.terminate(), 20)
        })
      );
    });
  }

  describe('subprotocols', () => {
    const protocolCases = [
      ['offered, and one picked', ['a', 'b'], 'Sec-WebSocket-Protocol: b', null],
      ['offered, none picked', ['a', 'b'], null, 'Server sent no subprotocol'],
      ['offered, another picked', ['a', 'b'], 'Sec-WebSocket-Protocol: c', 'Server sent an invalid subprotocol'],
      ['offered, two picked', ['a', 'b'], 'Sec-WebSocket-Protocol: a, b', 'Server sent an invalid subprotocol'],
      ['offered, an empty one picked', ['a'], 'Sec-WebSocket-Protocol: ', 'Server sent an invalid subprotocol'],
      ['not offered, one picked', undefined, 'Sec-WebSocket-Protocol: a', 'Server sent a subprotocol but none was requested']
    ];

    for (const [name, protocols, line, expected] of protocolCases) {
      test(name, async () => {
        const result = await clientDifferential(
          against((s, h, accept) => s.write(switching(accept, line ? [line] : [])), {
            protocols,
            open: (ws, log) => {
              log.push(['protocol', ws.protocol]);
              ws.terminate();
            }
          })
        );
        assert.equal(errorOf(result), expected === null ? undefined : expected);
      });
    }
  });

  test("the texts are ws's", async () => {
    const texts = [];
    for (const [, respond] of cases.slice(1, 9)) {
      texts.push(errorOf(await against(respond, { open: (ws) => ws.terminate() })(sut())));
      await cleanup();
    }
    assert.deepEqual(texts, [
      'Invalid Sec-WebSocket-Accept header',
      'Invalid Sec-WebSocket-Accept header',
      'Invalid Upgrade header',
      undefined,
      'Unexpected server response: 101',
      'Server sent a subprotocol but none was requested',
      'Server sent a Sec-WebSocket-Extensions header but no extension was requested',
      'Unexpected server response: 404'
    ]);
  });

  test("'unexpected-response' listeners take over the failure", async () => {
    const result = await clientDifferential(
      against((s) => s.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nX-Reason: nope\r\n\r\ndeny'), {
        prepare: (ws, log) => {
          ws.on('unexpected-response', (req, res) => {
            log.push(['unexpected-response', req.method, req.path, res.statusCode, res.headers['x-reason']]);
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk) => (body += chunk));
            res.on('end', () => {
              log.push(['body', body]);
              ws.close();
            });
          });
        }
      })
    );
    assert.deepEqual(result.log[0], ['unexpected-response', 'GET', '/', 403, 'nope']);
  });

  test('handshakeTimeout', async () => {
    const result = await clientDifferential(
      against(() => {}, { options: { handshakeTimeout: 100 } })
    );
    assert.equal(errorOf(result), 'Opening handshake has timed out');
  });

  test('finishRequest() can add headers before ending the request', async () => {
    const result = await clientDifferential(
      against((s, h, accept) => s.write(switching(accept)), {
        options: {
          finishRequest: (req, ws) => {
            req.setHeader('X-Late', String(ws.readyState));
            req.end();
          }
        },
        open: (ws) => ws.terminate()
      })
    );
    assert.match(result.heads[0], /\r\nX-Late: 0\r\n/);
  });
});

describe('the hint on unexpected responses', { skip: !IS_NATIVE && 'err.hint is ws-native only' }, () => {
  async function failure(url) {
    const ws = track(new (sut())(url));
    const error = onceEvent(ws, 'error');
    await onceEvent(ws, 'close');
    return (await error)[0];
  }

  test("Koa's app.listen(): a second server, whose 404 gets the hint", async () => {
    const WS = sut();
    const app = new Koa();
    app.use((ctx) => {
      if (ctx.path === '/page') ctx.body = 'page';
    });
    // The WebSocket server is attached to a server that never listens...
    track(new WS.WebSocketServer({ server: http.createServer(app.callback()) }));
    // ...while the app listens on another one.
    const other = track(app.listen(0, '127.0.0.1'));
    await onceEvent(other, 'listening');

    const err = await failure(`ws://127.0.0.1:${other.address().port}/ws`);
    assert.equal(err.message, 'Unexpected server response: 404');
    assert.equal(err.code, undefined);
    assert.match(err.hint, /"404 Not Found" instead of "101 Switching Protocols"/);
    assert.match(err.hint, /not the one the WebSocket server is attached to/);
    assert.match(err.hint, /app\.listen\(\)/);
    assert.match(err.hint, /http\.createServer\(app\.callback\(\)\)/);
    assert.match(err.hint, /middleware or proxy/);
  });

  test('the fix from the hint works', async () => {
    const WS = sut();
    const app = new Koa();
    const server = http.createServer(app.callback());
    const wss = track(new WS.WebSocketServer({ server }));
    wss.on('connection', (ws) => ws.send('hello'));
    const port = await listenHttp(server);

    const ws = track(new WS(`ws://127.0.0.1:${port}/ws`));
    const [data] = await onceEvent(ws, 'message');
    assert.equal(String(data), 'hello');
  });

  test('the hint fits the status', async () => {
    const responses = {
      '/200': 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      '/302': 'HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/x\r\nContent-Length: 0\r\n\r\n',
      '/400': 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n',
      '/401': 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n',
      '/426': 'HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n',
      '/502': 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'
    };
    const raw = await rawServer((socket, head) => socket.end(responses[head.split(' ')[1]]));
    const hints = {};
    for (const path of Object.keys(responses)) {
      const err = await failure(`ws://user:secret@127.0.0.1:${raw.port}${path}`);
      assert.equal(err.message, `Unexpected server response: ${path.slice(1)}`);
      assert.doesNotMatch(err.hint, /secret/);
      hints[path] = err.hint;
    }
    assert.match(hints['/200'], /app\.listen\(\)/);
    assert.match(hints['/302'], /redirects to ws:\/\/127\.0\.0\.1:1\/x.*followRedirects: true/);
    assert.match(hints['/400'], /\{ server, path \}/);
    assert.match(hints['/401'], /verifyClient/);
    assert.match(hints['/426'], /proxy/);
    assert.match(hints['/502'], /middleware or proxy/);
  });

  test('no hint and no error with an unexpected-response listener; other errors have none', async () => {
    const raw = await rawServer((socket, head) => {
      if (head.startsWith('GET /404')) socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      else socket.write(switching('bad'));
    });
    const WS = sut();
    const ws = track(new WS(`ws://127.0.0.1:${raw.port}/404`));
    const errors = [];
    ws.on('error', (err) => errors.push(err));
    const [, res] = await onceEvent(ws, 'unexpected-response');
    assert.equal(res.statusCode, 404);
    const closed = onceEvent(ws, 'close');
    ws.terminate();
    await closed;
    assert.deepEqual(errors.map((e) => [e.message, e.hint]), [
      ['WebSocket was closed before the connection was established', undefined]
    ]);

    const err = await failure(`ws://127.0.0.1:${raw.port}/bad`);
    assert.equal(err.message, 'Invalid Sec-WebSocket-Accept header');
    assert.equal(err.hint, undefined);
  });

  test('DEBUG=ws-native logs the failure with its hint', async () => {
    const raw = await rawServer((socket) => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
    const script = `
      const WebSocket = require(${JSON.stringify(require.resolve('..'))});
      const ws = new WebSocket('ws://127.0.0.1:${raw.port}/chat');
      ws.on('error', (err) => console.log('error:', err.message));
    `;
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, DEBUG: 'ws-native' },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await bounded(new Promise((resolve) => child.on('close', (...a) => resolve(a))), 'child exit');
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'error: Unexpected server response: 404\n');
    assert.match(stderr, /^ws-native = client: connecting to ws:\/\/127\.0\.0\.1:\d+\/chat$/m);
    assert.match(stderr, /^ws-native ! client: Unexpected server response: 404\. The server answered .*app\.listen\(\)/m);
  });
});

describe('our client against ws server, and ws client against ours', () => {
  test('both pairs talk', async () => {
    for (const [Client, Server] of [[sut(), ref()], [ref(), require('..')]]) {
      const wss = track(new Server.WebSocketServer({ port: 0, host: '127.0.0.1' }));
      await onceEvent(wss, 'listening');
      wss.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
      const ws = track(new Client(`ws://127.0.0.1:${wss.address().port}`));
      await onceEvent(ws, 'open');
      ws.send('ping-pong');
      const [data] = await onceEvent(ws, 'message');
      assert.equal(String(data), 'ping-pong');
      ws.close();
      await onceEvent(ws, 'close');
    }
  });

  test('frames the client sends are unmasked correctly by a raw server', async () => {
    const raw = await rawServer((s, h, accept) => s.write(switching(accept)));
    const ws = track(new (sut())(`ws://127.0.0.1:${raw.port}`));
    ws.on('error', () => {});
    await onceEvent(ws, 'open');
    ws.send('héllo');
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.close(1000, 'bye');
    const frames = await waitClientFrames(raw.sockets[0], 3);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.rsv, f.masked, f.payload.toString('hex')]),
      [
        [OP.TEXT, true, 0, true, Buffer.from('héllo').toString('hex')],
        [OP.BINARY, true, 0, true, '000102ff'],
        [OP.CLOSE, true, 0, true, closePayload(1000, 'bye').toString('hex')]
      ]
    );
  });
});
