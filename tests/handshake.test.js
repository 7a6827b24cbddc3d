'use strict';

//
// The opening handshake: raw requests, compared byte for byte with ws's
// replies, and the hooks that take part in it (verifyClient, handleProtocols,
// the 'headers' and 'wsClientError' events).
//

const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { afterEach, describe, test } = require('node:test');

const {
  OP,
  SAMPLE_ACCEPT,
  SAMPLE_KEY,
  RawClient,
  acceptFor,
  bounded,
  cleanup,
  deferred,
  describeError,
  differential,
  frame,
  handshakeRequest,
  listenHttp,
  listenWss,
  onceEvent,
  openClient,
  rawExchange,
  stripDate,
  sut,
  track
} = require('./helpers');

afterEach(cleanup);

/**
 * Sends one handshake request to a fresh server of `WS` in port mode and
 * returns what came back: the response head for a 101 (the connection is then
 * closed cleanly), or every byte until the server closed the connection.
 */
async function probe(WS, options, request) {
  const { port } = await listenWss(WS, options);
  return probePort(port, request);
}

async function probePort(port, request) {
  const raw = new RawClient(port, {
    request: typeof request === 'string' ? request : handshakeRequest(request)
  });
  const { status, head } = await raw.head();

  if (status === 101) {
    raw.send(frame(OP.CLOSE));
    await raw.closed;
    return { status, response: head };
  }

  await raw.closed;
  return { status, response: stripDate(raw.received.toString('latin1')) };
}

/** A request with `count` padding headers before the handshake headers. */
function paddedRequest(count, tail) {
  const lines = ['GET / HTTP/1.1', 'Host: 127.0.0.1'];
  for (let i = 0; i < count; i++) lines.push(`X-Pad-${i}: ${i}`);
  return [...lines, ...tail].join('\r\n') + '\r\n\r\n';
}

describe('a valid handshake', () => {
  test('raw request: the 101 response is byte-identical to ws', async () => {
    const result = await differential((WS) => probe(WS, {}, {}));

    assert.equal(
      result.response,
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n\r\n`
    );
  });

  test("http.get with upgrade headers: RFC 6455's example key", async () => {
    const result = await differential(async (WS) => {
      const { port } = await listenWss(WS);
      const req = http.get({
        host: '127.0.0.1',
        port,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': SAMPLE_KEY,
          'Sec-WebSocket-Version': '13'
        }
      });
      const [res, socket] = await onceEvent(req, 'upgrade');
      track(socket);
      socket.destroy();
      return { status: res.statusCode, message: res.statusMessage, headers: res.headers };
    });

    assert.equal(result.status, 101);
    assert.equal(result.headers['sec-websocket-accept'], SAMPLE_ACCEPT);
    assert.equal(acceptFor(SAMPLE_KEY), SAMPLE_ACCEPT);
  });

  for (const [name, headers, path] of [
    ['Upgrade in mixed case', { Upgrade: 'WebSocket' }],
    ['a Connection list', { Connection: 'keep-alive, Upgrade' }],
    ['version 8', { 'Sec-WebSocket-Version': '8' }],
    ['version 13 with white space around it (Node trims it)', { 'Sec-WebSocket-Version': ' \t13 \t' }],
    ['a query string', {}, '/?a=1&b=2'],
    ['an unknown extension offer', { 'Sec-WebSocket-Extensions': 'x-foo; bar' }],
    ['a malformed extension offer (perMessageDeflate off, so ignored)', { 'Sec-WebSocket-Extensions': 'permessage-deflate; =x' }]
  ]) {
    test(`accepted: ${name}`, async () => {
      const result = await differential((WS) => probe(WS, {}, { headers, path }));
      assert.equal(result.status, 101);
    });
  }

  test('a client from npm connects and the connection event carries the request', async () => {
    const WS = sut();
    const { wss, port } = await listenWss(WS);
    const connection = onceEvent(wss, 'connection');
    const client = await openClient(`ws://127.0.0.1:${port}/chat?room=1`, [], {
      headers: { 'X-Custom': 'yes' }
    });
    const [ws, req] = await connection;

    assert.ok(ws instanceof WS.WebSocket);
    assert.ok(req instanceof http.IncomingMessage);
    assert.equal(req.url, '/chat?room=1');
    assert.equal(req.headers['x-custom'], 'yes');
    assert.equal(ws.readyState, WS.WebSocket.OPEN);
    assert.ok(wss.clients.has(ws));
    client.close();
  });
});

describe('rejected handshakes, byte for byte', () => {
  const cases = [
    ['POST', 405, { method: 'POST' }],
    ['POST with a bad key too (the method is checked first)', 405, { method: 'POST', headers: { 'Sec-WebSocket-Key': 'x' } }],
    ['Upgrade: foo', 400, { headers: { Upgrade: 'foo' } }],
    ['Upgrade: websocket2', 400, { headers: { Upgrade: 'websocket2' } }],
    ['no Sec-WebSocket-Key', 400, { headers: { 'Sec-WebSocket-Key': null } }],
    ['a key that is not 16 bytes', 400, { headers: { 'Sec-WebSocket-Key': 'YWJjZGVmZ2hpamtsbW5v' } }],
    ['a key of 17 bytes', 400, { headers: { 'Sec-WebSocket-Key': 'YWJjZGVmZ2hpamtsbW5vcHE=' } }],
    ['a key without padding', 400, { headers: { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ' } }],
    ['a key that is not base64', 400, { headers: { 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' } }],
    ['no Sec-WebSocket-Version', 400, { headers: { 'Sec-WebSocket-Version': null } }],
    ['Sec-WebSocket-Version: 12', 400, { headers: { 'Sec-WebSocket-Version': '12' } }],
    ['Sec-WebSocket-Version: abc', 400, { headers: { 'Sec-WebSocket-Version': 'abc' } }],
    ['Sec-WebSocket-Version twice (Node joins them: "13, 13")', 400, { headers: { 'Sec-WebSocket-Version': ['13', '13'] } }],
    //
    // Version 13 or 8 to `+value`, which ws 8.23.0 compared; ws 8.23.1
    // compares the string with '13' and '8'.
    //
    ...['013', '13.0', '13.', '+13', '0xd', '0o15', '0b1101', '1.3e1', '08', '8.0'].map((version) => [
      `Sec-WebSocket-Version: ${version}`,
      400,
      { headers: { 'Sec-WebSocket-Version': version } }
    ]),
    ['Sec-WebSocket-Protocol with an empty element', 400, { headers: { 'Sec-WebSocket-Protocol': 'a,,b' } }],
    ['Sec-WebSocket-Protocol with a space inside', 400, { headers: { 'Sec-WebSocket-Protocol': 'a b' } }],
    ['Sec-WebSocket-Protocol with a duplicate', 400, { headers: { 'Sec-WebSocket-Protocol': 'chat, chat' } }],
    ['Sec-WebSocket-Protocol ending with a comma', 400, { headers: { 'Sec-WebSocket-Protocol': 'chat,' } }],
    ['Sec-WebSocket-Protocol with a separator', 400, { headers: { 'Sec-WebSocket-Protocol': 'chat/1' } }]
  ];

  for (const [name, status, request] of cases) {
    test(name, async () => {
      const result = await differential((WS) => probe(WS, {}, request));
      assert.equal(result.status, status);
    });
  }

  test('bad Sec-WebSocket-Extensions with perMessageDeflate enabled', async () => {
    const result = await differential((WS) =>
      probe(WS, { perMessageDeflate: true }, {
        headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; =x' }
      })
    );

    assert.equal(result.status, 400);
    assert.match(result.response, /Invalid or unacceptable Sec-WebSocket-Extensions header$/);
  });

  test('the version error names the supported versions', async () => {
    const result = await differential((WS) =>
      probe(WS, {}, { headers: { 'Sec-WebSocket-Version': '12' } })
    );

    assert.equal(
      result.response,
      'HTTP/1.1 400 Bad Request\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/html\r\n' +
        'Content-Length: 47\r\n' +
        'Sec-WebSocket-Version: 13, 8\r\n\r\n' +
        'Missing or invalid Sec-WebSocket-Version header'
    );
  });

  test('path mismatch', async () => {
    const result = await differential(async (WS) => ({
      other: await probe(WS, { path: '/ws' }, { path: '/other' }),
      prefix: await probe(WS, { path: '/ws' }, { path: '/ws/more' }),
      match: await probe(WS, { path: '/ws' }, { path: '/ws?token=1' })
    }));

    assert.equal(result.other.status, 400);
    assert.match(result.other.response, /\r\n\r\nBad Request$/);
    assert.equal(result.match.status, 101);
  });

  test('a plain GET in port mode gets 426', async () => {
    const result = await differential(async (WS) => {
      const { port } = await listenWss(WS);
      return stripDate(
        await rawExchange(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
      );
    });

    assert.match(result, /^HTTP\/1.1 426 Upgrade Required\r\n/);
    assert.match(result, /\r\n\r\nUpgrade Required$/);
  });

  test('Upgrade without Connection: upgrade is a plain request (426)', async () => {
    const result = await differential(async (WS) => {
      const { port } = await listenWss(WS);
      return stripDate(
        await rawExchange(port, handshakeRequest({ headers: { Connection: 'close' } }))
      );
    });

    assert.match(result, /^HTTP\/1.1 426 /);
  });

  test('503 once the server is closing (noServer + handleUpgrade)', async () => {
    const result = await differential(async (WS) => {
      const wss = track(new WS.WebSocketServer({ noServer: true }));
      const server = http.createServer();
      server.on('upgrade', (req, socket, head) => {
        wss.handleUpgrade(req, socket, head, () => {});
      });
      const port = await listenHttp(server);
      await new Promise((resolve) => wss.close(resolve));
      return probePort(port, {});
    });

    assert.equal(result.status, 503);
  });
});

describe('maxHeadersCount', () => {
  for (const [name, pad, tail] of [
    [
      'Upgrade beyond the limit',
      8,
      ['Connection: Upgrade', 'Sec-WebSocket-Key: ' + SAMPLE_KEY, 'Sec-WebSocket-Version: 13', 'Upgrade: websocket']
    ],
    [
      'Sec-WebSocket-Key beyond the limit',
      4,
      ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: ' + SAMPLE_KEY]
    ]
  ]) {
    test(`${name}: a clean 400, no crash, and the server keeps working`, async () => {
      const result = await differential(async (WS) => {
        const server = http.createServer();
        server.maxHeadersCount = 6;
        const wss = track(new WS.WebSocketServer({ server }));
        wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`${data} still alive`)));
        const port = await listenHttp(server);
        const rejected = await probePort(port, paddedRequest(pad, tail));

        const client = await openClient(`ws://127.0.0.1:${port}`);
        client.send('server');
        const [data] = await onceEvent(client, 'message');
        client.close();
        return { rejected, after: data.toString() };
      });

      // Node 20 hands the request over and ws answers 400; newer Node
      // versions refuse it themselves with 431 before any 'upgrade' event.
      assert.ok([400, 431].includes(result.rejected.status), `status ${result.rejected.status}`);
      assert.equal(result.after, 'server still alive');
    });
  }
});

describe('hooks', () => {
  test("'wsClientError' gets the error, the socket and the request", async () => {
    const result = await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const seen = [];
      wss.on('wsClientError', (err, socket, req) => {
        seen.push([describeError(err), socket instanceof net.Socket, req.url, req.method]);
        socket.end('HTTP/1.1 418 I\'m a Teapot\r\nConnection: close\r\n\r\n');
      });
      const responses = [];
      for (const request of [
        { method: 'POST', path: '/a' },
        { path: '/b', headers: { Upgrade: 'nope' } },
        { path: '/c', headers: { 'Sec-WebSocket-Key': null } },
        { path: '/d', headers: { 'Sec-WebSocket-Version': '7' } },
        { path: '/e', headers: { 'Sec-WebSocket-Protocol': ',' } }
      ]) {
        responses.push(await rawExchange(port, handshakeRequest(request)));
      }
      return { seen, responses };
    });

    assert.equal(result.seen.length, 5);
    assert.equal(result.seen[0][0].message, 'Invalid HTTP method');
  });

  test('verifyClient, synchronous', async () => {
    const result = await differential(async (WS) => {
      const infos = [];
      const options = {
        verifyClient(info) {
          infos.push([
            Object.keys(info).sort(),
            info.origin,
            info.secure,
            info.req instanceof http.IncomingMessage
          ]);
          return info.req.url === '/yes';
        }
      };
      const { port } = await listenWss(WS, options);
      return {
        no: await probePort(port, { path: '/no', headers: { Origin: 'http://example.com' } }),
        yes: await probePort(port, { path: '/yes', headers: { Origin: 'http://example.com' } }),
        v8: await probePort(port, {
          path: '/v8',
          headers: { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'http://old.example' }
        }),
        infos
      };
    });

    assert.equal(result.no.status, 401);
    assert.equal(result.yes.status, 101);
    assert.equal(result.infos[2][1], 'http://old.example');
  });

  test('verifyClient, asynchronous, with custom codes, messages and headers', async () => {
    const result = await differential(async (WS) => {
      const options = {
        verifyClient(info, cb) {
          const path = info.req.url;
          setImmediate(() => {
            if (path === '/ok') cb(true);
            else if (path === '/plain') cb(false);
            else if (path === '/403') cb(false, 403);
            else if (path === '/custom') cb(false, 429, 'Go away', { 'X-Reason': 'test', 'Retry-After': 5 });
            else cb(false, 500, 'Ünïcode body');
          });
        }
      };
      const { port } = await listenWss(WS, options);
      const out = {};
      for (const path of ['/ok', '/plain', '/403', '/custom', '/utf8']) {
        out[path] = await probePort(port, { path });
      }
      return out;
    });

    assert.equal(result['/ok'].status, 101);
    assert.equal(result['/plain'].status, 401);
    assert.equal(result['/403'].status, 403);
    assert.equal(result['/custom'].status, 429);
    assert.match(result['/custom'].response, /X-Reason: test\r\n/);
    assert.equal(result['/utf8'].status, 500);
  });

  test('handleProtocols picks, declines, or is not called', async () => {
    const result = await differential(async (WS) => {
      const calls = [];
      const { wss, port } = await listenWss(WS, {
        handleProtocols(protocols, req) {
          calls.push([protocols instanceof Set, [...protocols], req.url]);
          return req.url === '/decline' ? false : [...protocols].at(-1);
        }
      });
      const serverProtocols = [];
      wss.on('connection', (ws) => serverProtocols.push(ws.protocol));
      const out = {
        pick: await probePort(port, { path: '/pick', headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' } }),
        decline: await probePort(port, { path: '/decline', headers: { 'Sec-WebSocket-Protocol': 'chat' } }),
        none: await probePort(port, { path: '/none' })
      };
      return { out, calls, serverProtocols };
    });

    assert.match(result.out.pick.response, /Sec-WebSocket-Protocol: superchat\r\n/);
    assert.doesNotMatch(result.out.decline.response, /Sec-WebSocket-Protocol/);
    assert.equal(result.calls.length, 2);
  });

  test('without handleProtocols the first protocol is chosen', async () => {
    const result = await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const connection = onceEvent(wss, 'connection');
      const client = await openClient(`ws://127.0.0.1:${port}`, ['b', 'a']);
      const [ws] = await connection;
      client.close();
      return [client.protocol, ws.protocol];
    });

    assert.deepEqual(result, ['b', 'b']);
  });

  test("the 'headers' event can add headers to the 101", async () => {
    const result = await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const seen = [];
      wss.on('headers', (headers, req) => {
        seen.push([[...headers], req.url]);
        headers.push('X-Powered-By: tests');
      });
      return { response: (await probePort(port, { path: '/h' })).response, seen };
    });

    assert.match(result.response, /X-Powered-By: tests\r\n\r\n$/);
  });
});

describe('server object', () => {
  test('constructor option errors', async () => {
    await differential(async (WS) => {
      const out = [];
      for (const options of [{}, { port: 0, noServer: true }, { noServer: true, server: http.createServer() }]) {
        try {
          new WS.WebSocketServer(options);
          out.push('no error');
        } catch (err) {
          out.push(describeError(err));
        }
      }
      return out;
    });
  });

  test('noServer: address() throws; close() twice reports "not running"', async () => {
    const result = await differential(async (WS) => {
      const wss = new WS.WebSocketServer({ noServer: true, clientTracking: false });
      const out = [wss.clients === undefined];
      try {
        wss.address();
      } catch (err) {
        out.push(describeError(err));
      }
      out.push(wss.shouldHandle({ url: '/anything' }));
      await new Promise((resolve) => wss.close(() => resolve()));
      const [err] = await bounded(new Promise((resolve) => wss.close((...args) => resolve(args))));
      out.push(err && describeError(err));
      return out;
    });

    assert.equal(result[1].message, 'The server is operating in "noServer" mode');
  });

  test('shouldHandle with a path', async () => {
    const result = await differential(async (WS) => {
      const wss = new WS.WebSocketServer({ noServer: true, path: '/ws' });
      const out = ['/ws', '/ws?x=1', '/ws/', '/other', '/WS'].map((url) => wss.shouldHandle({ url }));
      wss.close();
      return out;
    });

    assert.deepEqual(result, [true, true, false, false, false]);
  });

  test('close() in port mode closes the clients and calls back', async () => {
    const result = await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const client = await openClient(`ws://127.0.0.1:${port}`);
      const clientClose = onceEvent(client, 'close');
      const events = [];
      const done = deferred();
      const mark = (event) => {
        events.push(event);
        if (events.length === 2) done.resolve();
      };
      wss.on('close', () => mark('wss close event'));
      wss.close((...args) => mark(['close cb', args.length]));
      for (const ws of wss.clients) ws.close(1001);
      const [code] = await clientClose;
      await bounded(done.promise, 'wss close');
      return { code, events: [...events] };
    });

    assert.equal(result.code, 1001);
  });
});
