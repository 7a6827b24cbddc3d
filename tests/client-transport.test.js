'use strict';

//
// How the client gets to the server: TLS (with certificates generated here
// by the openssl CLI), Unix sockets (`ws+unix:`), redirects, agents and
// `createConnection`, and the handshake timeout. Most cases are
// differential: ws's client and the client under test must see the same.
//

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { after, afterEach, before, describe, test } = require('node:test');

const {
  cleanup,
  listenHttp,
  onceEvent,
  sut,
  track
} = require('./helpers');
const { clientDifferential, runClient } = require('./client-helpers');

afterEach(cleanup);

let tmp;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-native-client-'));
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The first server modules: the WebSocketServer every case runs on. */
function Server() {
  return require('..');
}

/** A WebSocketServer that echoes and says where the request went. */
function echoServer(server, options = {}) {
  const wss = track(new (Server().WebSocketServer)({ server, ...options }));
  wss.on('connection', (ws, req) => {
    const headers = {};
    for (const name of ['authorization', 'cookie', 'host', 'x-custom']) {
      if (req.headers[name] !== undefined) headers[name] = req.headers[name].replace(/:\d+$/, ':<port>');
    }
    ws.send(JSON.stringify({ url: req.url, headers }));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return wss;
}

/** A client scenario: read the server's first message, log it, close. */
function greetAndClose(ws, log) {
  ws.once('message', (data) => {
    log.push(['greeting', JSON.parse(data)]);
    ws.close(1000, 'done');
  });
  return log;
}

//
// TLS.
//

function openssl(args) {
  execFileSync('openssl', args, { stdio: 'pipe', timeout: 20000 });
}

function makeCertificate(name, subject, san) {
  const key = path.join(tmp, `${name}.key`);
  const cert = path.join(tmp, `${name}.crt`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${subject}`,
    ...(san ? ['-addext', `subjectAltName=${san}`] : [])
  ]);
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

let hasOpenssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'pipe' });
} catch {
  hasOpenssl = false;
}

describe('wss: and https:', { skip: !hasOpenssl && 'needs the openssl CLI' }, () => {
  let server;
  let client;

  before(() => {
    server = makeCertificate('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
    client = makeCertificate('client', 'ws-native test client');
  });

  async function listenTls(options = {}) {
    const httpsServer = https.createServer({ key: server.key, cert: server.cert, ...options });
    const seen = [];
    httpsServer.on('secureConnection', (socket) => {
      const peer = socket.getPeerCertificate();
      seen.push({ servername: socket.servername || false, peer: peer && peer.subject ? peer.subject.CN : null });
    });
    echoServer(httpsServer);
    const port = await listenHttp(httpsServer);
    return { port, seen };
  }

  test('a certificate trusted through `ca`, with SNI for a host name only', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port, seen } = await listenTls();
      const logs = [];
      for (const url of [`wss://127.0.0.1:${port}/a`, `https://localhost:${port}/b`]) {
        logs.push(await runClient(WS, { url, options: { ca: server.cert }, prepare: greetAndClose }));
      }
      return { logs, seen };
    });
    assert.deepEqual(result.seen, [
      { servername: false, peer: null },
      { servername: 'localhost', peer: null }
    ]);
    assert.deepEqual(result.logs[1].find(([e]) => e === 'greeting'), ['greeting', { url: '/b', headers: { host: 'localhost:<port>' } }]);
  });

  test('an untrusted certificate fails the handshake', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port } = await listenTls();
      return runClient(WS, { url: `wss://127.0.0.1:${port}` });
    });
    assert.equal(result[0][0], 'error');
    assert.equal(result[0][1].code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.deepEqual(result.at(-1), ['close', 1006, '', 3]);
  });

  test('rejectUnauthorized: false, and servername', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port, seen } = await listenTls();
      const log = await runClient(WS, {
        url: `wss://127.0.0.1:${port}`,
        options: { rejectUnauthorized: false, servername: 'example.test' },
        prepare: greetAndClose
      });
      return { log, seen };
    });
    assert.deepEqual(result.seen, [{ servername: 'example.test', peer: null }]);
  });

  test('a client certificate (cert and key)', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port, seen } = await listenTls({ requestCert: true, rejectUnauthorized: true, ca: client.cert });
      const log = await runClient(WS, {
        url: `wss://localhost:${port}`,
        options: { ca: server.cert, cert: client.cert, key: client.key },
        prepare: greetAndClose
      });
      return { log, seen };
    });
    assert.deepEqual(result.seen, [{ servername: 'localhost', peer: 'ws-native test client' }]);
    assert.deepEqual(result.log.at(-1), ['close', 1000, 'done', 3]);
  });
});

//
// ws+unix:
//

describe('ws+unix:', { skip: process.platform === 'win32' && 'no Unix sockets' }, () => {
  test('the socket path, and the request path after the colon', async () => {
    const result = await clientDifferential(async (WS, name) => {
      const socketPath = path.join(tmp, `${name}.sock`);
      const httpServer = track(http.createServer());
      echoServer(httpServer);
      httpServer.listen(socketPath);
      await onceEvent(httpServer, 'listening');
      const logs = [];
      for (const url of [`ws+unix:${socketPath}`, `ws+unix:${socketPath}:/chat?room=1`]) {
        logs.push(await runClient(WS, { url, prepare: greetAndClose }));
      }
      return logs.map((log) => JSON.stringify(log).replaceAll(name, '<name>'));
    });
    assert.match(result[0], /"open",1/);
  });

  test('a socket that does not exist', async () => {
    const result = await clientDifferential((WS) =>
      runClient(WS, { url: `ws+unix:${path.join(tmp, 'missing.sock')}` })
    );
    assert.equal(result[0][1].code, 'ENOENT');
  });
});

//
// Redirects.
//

/**
 * An http server whose upgrade requests are answered by `route(req)`: a
 * `[status, location]` pair to redirect, or nothing to hand the request to a
 * WebSocket server.
 */
async function redirectingServer(route) {
  const httpServer = http.createServer((req, res) => res.end('plain'));
  const wss = track(new (Server().WebSocketServer)({ noServer: true }));
  const requests = [];

  httpServer.on('upgrade', (req, socket, head) => {
    requests.push({
      url: req.url,
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
      host: req.headers.host && req.headers.host.replace(/:\d+$/, ':<port>')
    });
    const redirect = route(req);
    if (redirect) {
      const [status, location] = redirect;
      socket.end(`HTTP/1.1 ${status} Redirect\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ at: req.url }));
      ws.on('message', (data) => ws.send(data));
    });
  });

  const port = await listenHttp(httpServer);
  return { port, requests };
}

/** Replaces ports in the redirect URLs of a log. */
function portless(value) {
  return JSON.parse(JSON.stringify(value).replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>'));
}

const credentials = {
  headers: { Authorization: 'Bearer secret', Cookie: 'session=1' }
};

describe('redirects', () => {
  test('same host: followed, credentials kept', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port, requests } = await redirectingServer((req) =>
        req.url === '/old' ? [301, '/new'] : req.url === '/new' ? [307, `ws://127.0.0.1:${req.socket.localPort}/final?x=1`] : null
      );
      const log = await runClient(WS, {
        url: `ws://127.0.0.1:${port}/old`,
        options: { followRedirects: true, ...credentials },
        prepare: greetAndClose
      });
      return portless({ log, requests });
    });
    assert.deepEqual(result.log.map(([event, arg]) => [event, arg]).slice(0, 3), [
      ['redirect', 'ws://127.0.0.1:<port>/new'],
      ['redirect', 'ws://127.0.0.1:<port>/final?x=1'],
      ['upgrade', 101]
    ]);
    assert.deepEqual(result.requests.map((r) => r.authorization), Array(3).fill('Bearer secret'));
    assert.deepEqual(result.requests.map((r) => r.cookie), Array(3).fill('session=1'));
  });

  test('cross host: followed, Authorization, Cookie and Host dropped', async () => {
    const result = await clientDifferential(async (WS) => {
      const target = await redirectingServer(() => null);
      const { port, requests } = await redirectingServer(() => [302, `http://127.0.0.1:${target.port}/there`]);
      const log = await runClient(WS, {
        url: `ws://user:pass@127.0.0.1:${port}/here`,
        options: { followRedirects: true, headers: { ...credentials.headers, Host: 'original.example' } },
        prepare: greetAndClose
      });
      return portless({ log, first: requests, second: target.requests });
    });
    assert.deepEqual(result.first, [
      { url: '/here', authorization: 'Bearer secret', cookie: 'session=1', host: 'original.example' }
    ]);
    assert.deepEqual(result.second, [{ url: '/there', host: '127.0.0.1:<port>' }]);
  });

  test('credentials from the URL follow a same-host redirect', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port, requests } = await redirectingServer((req) => (req.url === '/a' ? [302, '/b'] : null));
      const log = await runClient(WS, {
        url: `ws://us%20er:p%40ss@127.0.0.1:${port}/a`,
        options: { followRedirects: true },
        prepare: greetAndClose
      });
      return portless({ log, requests });
    });
    const basic = `Basic ${Buffer.from('us er:p@ss').toString('base64')}`;
    assert.deepEqual(result.requests.map((r) => r.authorization), [basic, basic]);
  });

  test("a 'redirect' listener keeps the headers and can edit the request", async () => {
    const result = await clientDifferential(async (WS) => {
      const target = await redirectingServer(() => null);
      const { port } = await redirectingServer(() => [302, `ws://127.0.0.1:${target.port}/x`]);
      const log = await runClient(WS, {
        url: `ws://127.0.0.1:${port}/`,
        options: { followRedirects: true, ...credentials },
        prepare: (ws, log) => {
          ws.on('redirect', (url, req) => {
            log.push(['redirect request', req.method, req.path]);
            req.removeHeader('cookie');
          });
          greetAndClose(ws, log);
        }
      });
      return portless({ log, second: target.requests });
    });
    assert.equal(result.second[0].authorization, 'Bearer secret');
    assert.equal(result.second[0].cookie, undefined);
  });

  test('too many redirects', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port, requests } = await redirectingServer(() => [302, '/loop']);
      const log = await runClient(WS, {
        url: `ws://127.0.0.1:${port}/loop`,
        options: { followRedirects: true, maxRedirects: 3 }
      });
      return portless({ log, requests: requests.length });
    });
    assert.equal(result.requests, 4);
    assert.deepEqual(result.log.slice(-2), [
      ['error', { name: 'Error', message: 'Maximum redirects exceeded' }, 2],
      ['close', 1006, '', 3]
    ]);
  });

  for (const [name, location] of [
    ['to an invalid URL', 'ws://[bad'],
    ['to an ftp: URL', 'ftp://127.0.0.1/'],
    ['to a URL with a fragment', '/x#y']
  ]) {
    test(name, async () => {
      const result = await clientDifferential(async (WS) => {
        const { port } = await redirectingServer(() => [302, location]);
        return portless(await runClient(WS, { url: `ws://127.0.0.1:${port}/`, options: { followRedirects: true } }));
      });
      assert.equal(result.find(([e]) => e === 'error')[1].name, 'SyntaxError');
    });
  }

  //
  // `http.request()` throws when the agent is for the other protocol. In a
  // redirect, the request is made from a response listener, where nothing
  // could catch it: ws 8.23.1 emits it (8.23.0 threw it out of the listener).
  //
  test('http.request() throws on the redirect (an http.Agent, a wss: location): error and close', async () => {
    const result = await clientDifferential(async (WS) => {
      const { port, requests } = await redirectingServer(() => [302, 'wss://127.0.0.1:1/secure']);
      const agent = new http.Agent();
      const log = await runClient(WS, {
        url: `ws://127.0.0.1:${port}/`,
        options: { followRedirects: true, agent }
      });
      agent.destroy();
      return portless({ log, requests: requests.length });
    });
    assert.deepEqual(result, {
      log: [
        [
          'error',
          {
            name: 'TypeError',
            message: 'Protocol "https:" not supported. Expected "http:"',
            code: 'ERR_INVALID_PROTOCOL'
          },
          2
        ],
        ['close', 1006, '', 3]
      ],
      requests: 1
    });
  });

  test('http.request() throws on the first request: the constructor throws', async () => {
    const result = await clientDifferential(async (WS) => {
      const agent = new http.Agent();
      try {
        track(new WS('wss://127.0.0.1:1/', { followRedirects: true, agent }));
        return 'no throw';
      } catch (err) {
        return { name: err.constructor.name, message: err.message, code: err.code };
      } finally {
        agent.destroy();
      }
    });
    assert.equal(result.code, 'ERR_INVALID_PROTOCOL');
  });

  test('close() from a redirect listener', async () => {
    await clientDifferential(async (WS) => {
      const { port } = await redirectingServer((req) => (req.url === '/' ? [302, '/b'] : null));
      return portless(await runClient(WS, {
        url: `ws://127.0.0.1:${port}/`,
        options: { followRedirects: true },
        prepare: (ws) => ws.on('redirect', () => ws.close())
      }));
    });
  });
});

//
// Agents, createConnection, timeouts.
//

describe('connections', () => {
  test('createConnection', async () => {
    const result = await clientDifferential(async (WS) => {
      const httpServer = http.createServer();
      echoServer(httpServer);
      const port = await listenHttp(httpServer);
      let calls = 0;
      const log = await runClient(WS, {
        url: `ws://example.invalid:${port}/c`,
        options: {
          createConnection: () => {
            calls++;
            return net.connect(port, '127.0.0.1');
          }
        },
        prepare: greetAndClose
      });
      return { log: JSON.stringify(log).replace(String(port), '<port>'), calls };
    });
    assert.equal(result.calls, 1);
  });

  test('agent', async () => {
    const result = await clientDifferential(async (WS) => {
      const httpServer = http.createServer();
      echoServer(httpServer);
      const port = await listenHttp(httpServer);
      const agent = new http.Agent();
      let calls = 0;
      const createConnection = agent.createConnection;
      agent.createConnection = function (...args) {
        calls++;
        return createConnection.apply(this, args);
      };
      const log = await runClient(WS, { url: `ws://127.0.0.1:${port}/`, options: { agent }, prepare: greetAndClose });
      agent.destroy();
      return { log: JSON.stringify(log).replace(String(port), '<port>'), calls };
    });
    assert.equal(result.calls, 1);
  });

  test('auth option', async () => {
    const result = await clientDifferential(async (WS) => {
      const httpServer = http.createServer();
      echoServer(httpServer);
      const port = await listenHttp(httpServer);
      return runClient(WS, { url: `ws://127.0.0.1:${port}/`, options: { auth: 'a:b' }, prepare: greetAndClose });
    });
    assert.deepEqual(result.find(([e]) => e === 'greeting')[1].headers, {
      authorization: `Basic ${Buffer.from('a:b').toString('base64')}`,
      host: '127.0.0.1:<port>'
    });
  });

  test('handshakeTimeout: a server that never answers', async () => {
    const result = await clientDifferential(async (WS) => {
      const silent = track(net.createServer((socket) => track(socket)));
      const port = await listenHttp(silent);
      const started = Date.now();
      const log = await runClient(WS, { url: `ws://127.0.0.1:${port}`, options: { handshakeTimeout: 150 } });
      return { log, late: Date.now() - started >= 140 };
    });
    assert.deepEqual(result, {
      log: [
        ['error', { name: 'Error', message: 'Opening handshake has timed out', code: undefined }, 2],
        ['close', 1006, '', 3]
      ],
      late: true
    });
  });

  test('handshakeTimeout no longer applies once open', async () => {
    const WS = sut();
    const httpServer = http.createServer();
    echoServer(httpServer);
    const port = await listenHttp(httpServer);
    const ws = track(new WS(`ws://127.0.0.1:${port}`, { handshakeTimeout: 50 }));
    ws.on('error', () => {});
    await onceEvent(ws, 'message');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(ws.readyState, WS.OPEN);
    ws.send('still here');
    assert.equal(String((await onceEvent(ws, 'message'))[0]), 'still here');
  });
});
