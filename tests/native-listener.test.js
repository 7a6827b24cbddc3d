'use strict';

//
// The native listener of `port` mode (js/transport/native-listener.js,
// src/transport/listener.rs): Rust accepts, takes a complete valid upgrade
// request in the first read itself, and hands every other connection,
// bytes unread, to Node's HTTP server. Each scenario runs against ws and
// against us and compares what a client or the application observes: the
// request object, the bytes of every answer, the connection accounting,
// requests split over several writes or sent late, frames pipelined after
// the request, listen errors.
//

const assert = require('node:assert/strict');
const net = require('node:net');
const { afterEach, describe, test } = require('node:test');

const {
  IS_NATIVE,
  OP,
  bounded,
  cleanup,
  differential,
  frame,
  handshakeRequest,
  listenWss,
  onceEvent,
  parseFrames,
  sut,
  stripDate,
  track
} = require('./helpers');

afterEach(cleanup);

const NATIVE =
  IS_NATIVE &&
  process.platform !== 'win32' &&
  process.env.WS_NATIVE_TRANSPORT !== 'stream' &&
  process.env.WS_NATIVE_LISTENER !== 'node';

/**
 * Connects, writes `parts` with `delay` ms between them, and resolves with
 * the bytes received until the server closes or `until(text)` holds.
 */
function talk(port, parts, { delay = 0, until = null, start = 0 } = {}) {
  return bounded(
    new Promise((resolve) => {
      const socket = track(net.connect(port, '127.0.0.1'));
      const received = [];
      const done = () => resolve(Buffer.concat(received));
      socket.on('error', () => {});
      socket.on('data', (d) => {
        received.push(d);
        if (until && until(Buffer.concat(received))) {
          socket.destroy();
          done();
        }
      });
      socket.on('close', done);
      socket.on('connect', async () => {
        await new Promise((r) => setTimeout(r, start));
        for (let i = 0; i < parts.length; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, delay));
          socket.write(parts[i]);
        }
      });
    }),
    'talk',
    8000
  );
}

const headEnd = (buf) => buf.includes('\r\n\r\n');

/**
 * Whether `buf` holds a whole HTTP response (head and Content-Length body).
 */
function responseDone(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const m = /\r\ncontent-length: *(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
  return buf.length >= end + 4 + (m ? Number(m[1]) : 0);
}

/**
 * The request as the application sees it in 'connection'.
 */
function describeRequest(req) {
  return {
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    httpVersionMajor: req.httpVersionMajor,
    httpVersionMinor: req.httpVersionMinor,
    headers: req.headers,
    headersDistinct: req.headersDistinct,
    rawHeaders: req.rawHeaders,
    complete: req.complete,
    upgrade: req.upgrade,
    remoteAddress: req.socket.remoteAddress,
    remoteFamily: req.socket.remoteFamily,
    localAddress: req.socket.localAddress
  };
}

describe('native listener (port mode)', () => {
  test('a plain upgrade is taken natively; every other connection by Node', async (t) => {
    if (!NATIVE) return t.skip('native listener off');
    const { wss, port } = await listenWss(sut());
    const kinds = [];
    wss.on('connection', (ws) => {
      kinds.push(ws._socket instanceof net.Socket ? 'node' : 'native');
      ws.close();
    });
    const request = handshakeRequest({ path: '/a' });
    const closeFrame = (b) => parseFramesAfterHead(b).length === 1;
    await talk(port, [request], { until: closeFrame });
    // Split over two writes: Node's HTTP server parses it.
    await talk(port, [request.slice(0, 20), request.slice(20)], {
      delay: 50,
      until: closeFrame
    });
    assert.deepEqual(kinds, ['native', 'node']);
  });

  test('the request object is what Node builds', async () => {
    await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const seen = [];
      wss.on('connection', (ws, req) => {
        seen.push(describeRequest(req));
        ws.close();
      });
      const request = handshakeRequest({
        path: '/chat/room?x=1&y=%20z',
        headers: {
          Origin: 'http://example.test',
          'X-Empty': '',
          'X-Spaces': '  padded value\t ',
          'Set-Cookie': 'a=1',
          'sec-websocket-protocol': 'one, two'
        }
      });
      // Repeated headers that Node joins, drops or lists.
      const extra = request.replace(
        '\r\n\r\n',
        '\r\nX-Dup: 1\r\nx-dup: 2\r\nset-cookie: b=2\r\nUser-Agent: u1\r\nuser-agent: u2\r\n\r\n'
      );
      await talk(port, [extra], { until: headEnd });
      return seen;
    });
  });

  test('answers to other requests are Node\'s and ws\'s, byte for byte', async () => {
    await differential(async (WS) => {
      const { port } = await listenWss(WS);
      const answers = [];
      for (const request of [
        'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
        'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi',
        handshakeRequest({ headers: { 'Sec-WebSocket-Version': '12' } }),
        handshakeRequest({ headers: { Upgrade: 'websocket, h2c' } }),
        handshakeRequest({ headers: { 'Sec-WebSocket-Protocol': 'a,,b' } }),
        handshakeRequest({ method: 'HEAD' }),
        'GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n',
        `GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(20000)}\r\n\r\n`
      ]) {
        const bytes = await talk(port, [request], { until: responseDone });
        answers.push(stripDate(bytes.toString('latin1')));
      }
      return answers;
    });
  });

  test('a request split over writes, or sent late, is upgraded', async () => {
    await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const urls = [];
      wss.on('connection', (ws, req) => {
        urls.push(req.url);
        ws.send(req.url);
      });
      const got = [];
      const split = handshakeRequest({ path: '/split' });
      for (const [parts, opts] of [
        [[split.slice(0, 30), split.slice(30, 60), split.slice(60)], { delay: 30 }],
        // Past the listener's wait for a first byte (1 s): Node's turn.
        [[handshakeRequest({ path: '/late' })], { start: 1300 }]
      ]) {
        const bytes = await talk(port, parts, {
          ...opts,
          until: (b) => parseFramesAfterHead(b).length === 1
        });
        const frames = parseFramesAfterHead(bytes);
        got.push(frames.map((f) => f.payload.toString()));
      }
      return { urls, got };
    });
  });

  test('frames pipelined after the request in the same write are read', async () => {
    await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const messages = [];
      wss.on('connection', (ws) => {
        ws.on('message', (data) => {
          messages.push(String(data));
          if (messages.length === 2) ws.close(1000, 'done');
        });
      });
      const request = Buffer.concat([
        Buffer.from(handshakeRequest()),
        frame(OP.TEXT, Buffer.from('one')),
        frame(OP.TEXT, Buffer.from('two'))
      ]);
      const bytes = await talk(port, [request], {
        until: (b) => parseFramesAfterHead(b).length === 1
      });
      const frames = parseFramesAfterHead(bytes);
      return { messages, close: frames.map((f) => [f.opcode, f.payload.toString('hex')]) };
    });
  });

  test('getConnections() and close() count native connections', async () => {
    await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const log = [];
      const sockets = [];
      wss.on('connection', (ws) => {
        ws.on('close', () => log.push('ws close'));
      });
      for (let i = 0; i < 3; i++) {
        const socket = track(net.connect(port, '127.0.0.1'));
        socket.on('error', () => {});
        socket.write(handshakeRequest());
        await onceEvent(socket, 'data');
        sockets.push(socket);
      }
      const server = wss._server;
      log.push(['connections', await new Promise((r) => server.getConnections((e, n) => r(n)))]);
      const closed = new Promise((resolve) => wss.close(() => {
        log.push('wss closed');
        resolve();
      }));
      await new Promise((r) => setTimeout(r, 50));
      log.push(['clients', wss.clients.size]);
      for (const socket of sockets) {
        socket.destroy();
        await new Promise((r) => setTimeout(r, 20));
      }
      await bounded(closed, 'wss close');
      log.push(['connections', await new Promise((r) => server.getConnections((e, n) => r(n)))]);
      return log;
    });
  });

  test('a client that connects and leaves without a request', async () => {
    await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const events = [];
      wss.on('connection', () => events.push('connection'));
      wss.on('wsClientError', () => events.push('wsClientError'));
      const socket = track(net.connect(port, '127.0.0.1'));
      await onceEvent(socket, 'connect');
      socket.end();
      await onceEvent(socket, 'close');
      await new Promise((r) => setTimeout(r, 50));
      await new Promise((resolve) => wss.close(resolve));
      return events;
    });
  });

  test('listen errors are Node\'s', async () => {
    await differential(async (WS) => {
      const { port } = await listenWss(WS);
      const other = track(new WS.WebSocketServer({ port, host: '127.0.0.1' }));
      const [err] = await onceEvent(other, 'error');
      return {
        message: err.message.replace(String(port), 'PORT'),
        code: err.code,
        errno: err.errno,
        syscall: err.syscall,
        address: err.address,
        port: err.port === port
      };
    });
  });

  test('address() and the listening callback, for each host form', async () => {
    await differential(async (WS) => {
      const results = [];
      for (const host of ['127.0.0.1', 'localhost', undefined]) {
        let called = false;
        const wss = track(new WS.WebSocketServer({ port: 0, host }, () => {
          called = true;
        }));
        await onceEvent(wss, 'listening');
        const { address, family } = wss.address();
        results.push([host, address, family, called]);
        await new Promise((resolve) => wss.close(resolve));
        results.push(wss.address());
      }
      return results;
    });
  });

  test('remote and local addresses of the socket', async () => {
    await differential(async (WS) => {
      const { wss, port } = await listenWss(WS);
      const client = track(net.connect(port, '127.0.0.1'));
      client.on('error', () => {});
      client.write(handshakeRequest());
      const [ws, req] = await onceEvent(wss, 'connection');
      const s = ws._socket;
      const seen = {
        same: req.socket === s,
        remote: [s.remoteAddress, s.remotePort === client.localPort, s.remoteFamily],
        local: [s.localAddress, s.localPort === port, s.localFamily],
        address: s.address()
      };
      seen.address.port = seen.address.port === port;
      s.setNoDelay(false);
      s.setKeepAlive(true, 1000);
      ws.terminate();
      await onceEvent(ws, 'close');
      return seen;
    });
  });
});

/**
 * The frames after the 101 response.
 */
function parseFramesAfterHead(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return [];
  try {
    return parseFrames(buf.subarray(end + 4)).frames;
  } catch {
    return [];
  }
}

describe('native listener out of descriptors', () => {
  test('connections past the limit are closed, no error is emitted, later ones are served', async () => {
    const { spawn } = require('node:child_process');
    const path = require('node:path');
    const run = async (WS, impl) => {
      const modulePath = impl === 'ws' ? require.resolve('ws') : path.join(__dirname, '..');
      const script = `
        const { WebSocketServer } = require(${JSON.stringify(modulePath)});
        const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
        let errors = 0;
        wss.on('error', () => errors++);
        wss.on('connection', (ws) => ws.on('error', () => {}));
        wss.on('listening', () => console.log('PORT ' + wss.address().port));
        process.stdin.on('data', () => {
          for (const ws of wss.clients) ws.terminate();
          setTimeout(() => console.log('REPORT ' + JSON.stringify({ errors })), 100);
        });
      `;
      const child = spawn('bash', ['-c', 'ulimit -n 60 && exec "$0" -e "$1"', process.execPath, script], {
        stdio: ['pipe', 'pipe', 'inherit']
      });
      track({ close: () => child.kill() });
      let out = '';
      const line = (prefix) =>
        bounded(
          new Promise((resolve) => {
            const check = () => {
              const m = new RegExp(`${prefix} (.*)`).exec(out);
              if (m) resolve(m[1]);
            };
            child.stdout.on('data', (d) => {
              out += d;
              check();
            });
            check();
          }),
          prefix,
          8000
        );
      const port = Number(await line('PORT'));
      // Each client keeps its connection until the end: 'upgraded' once
      // the 101 is in, 'closed' if the server closes it first.
      const outcome = () =>
        bounded(
          new Promise((resolve) => {
            const socket = track(net.connect(port, '127.0.0.1'));
            let received = '';
            socket.on('error', () => {});
            socket.on('connect', () => socket.write(handshakeRequest()));
            socket.on('data', (d) => {
              received += d.toString('latin1');
              if (received.includes('\r\n\r\n')) {
                resolve(received.startsWith('HTTP/1.1 101') ? 'upgraded' : 'other');
              }
            });
            socket.on('close', () => resolve('closed'));
          }),
          'outcome',
          8000
        );
      const first = await Promise.all(Array.from({ length: 80 }, outcome));
      child.stdin.write('x');
      const report = JSON.parse(await line('REPORT'));
      // Descriptors are free again: a new client is served.
      const later = await outcome();
      child.kill();
      return {
        some: first.includes('upgraded'),
        closed: first.includes('closed'),
        errors: report.errors,
        later
      };
    };
    const { expected, actual } = await (async () => {
      const expected = await run(require('ws'), 'ws');
      await cleanup();
      const actual = await run(sut(), IS_NATIVE ? 'ws-native' : 'ws');
      return { expected, actual };
    })();
    assert.deepEqual(actual, expected);
    assert.deepEqual(expected, { some: true, closed: true, errors: 0, later: 'upgraded' });
  });
});

describe('dual stack with net.ipv6.bindv6only = 1', () => {
  //
  // Node (libuv) clears IPV6_V6ONLY on every IPv6 listening socket unless
  // `ipv6Only` is asked for, which ws never does: `{ port }` alone listens
  // on `::` and takes IPv4 clients whatever the system's default is. The
  // default is per network namespace, so each implementation runs in a
  // child process inside a fresh one where it is 1.
  //
  const { execFileSync } = require('node:child_process');
  const path = require('node:path');

  const SETUP =
    'echo 1 > /proc/sys/net/ipv6/bindv6only && ip link set lo up';

  /**
   * Why the scenario cannot run here, or `null`.
   */
  function unavailable() {
    try {
      execFileSync('unshare', ['-n', 'sh', '-c', SETUP], {
        stdio: 'pipe',
        timeout: 5000
      });
      return null;
    } catch (err) {
      const why = String(err.stderr || err.message).trim().split('\n')[0];
      return `needs a network namespace (root, unshare -n, ip): ${why}`;
    }
  }

  /**
   * Runs the scenario with the WebSocketServer of `modulePath` and the ws
   * client, in a network namespace of its own, and returns its report.
   */
  function run(modulePath) {
    const script = `
      const fs = require('fs');
      const { WebSocketServer } = require(${JSON.stringify(modulePath)});
      const WebSocket = require(${JSON.stringify(require.resolve('ws'))});

      const once = (emitter, ok, fail) => new Promise((resolve) => {
        emitter.once(ok, (...args) => resolve({ ok: args }));
        emitter.once(fail, (err) => resolve({ error: err.code }));
      });

      async function connect(target, port) {
        const ws = new WebSocket('ws://' + target + ':' + port);
        const r = await once(ws, 'message', 'error');
        ws.terminate();
        return r.error || String(r.ok[0]);
      }

      (async () => {
        const report = {
          bindv6only: fs.readFileSync('/proc/sys/net/ipv6/bindv6only', 'utf8').trim()
        };
        for (const host of [undefined, '::', '::ffff:127.0.0.1']) {
          const wss = new WebSocketServer({ port: 0, host });
          const listening = await once(wss, 'listening', 'error');
          const seen = (report[String(host)] = {});
          if (listening.error) {
            seen.error = listening.error;
            continue;
          }
          wss.on('connection', (ws) => ws.send('hello'));
          const { address, family, port } = wss.address();
          seen.address = [address, family];
          for (const target of ['127.0.0.1', '[::1]', 'localhost']) {
            seen[target] = await connect(target, port);
          }
          await new Promise((resolve) => wss.close(resolve));
        }
        console.log(JSON.stringify(report));
      })();
    `;
    const out = execFileSync(
      'unshare',
      ['-n', 'sh', '-c', `${SETUP} && exec "$0" -e "$1"`, process.execPath, script],
      { stdio: ['ignore', 'pipe', 'inherit'], timeout: 15000 }
    );
    return JSON.parse(out.toString());
  }

  test('{ port } takes IPv4 and IPv6 clients, as with ws', (t) => {
    const why = unavailable();
    if (why) {
      t.skip(why);
      return;
    }

    const expected = run(require.resolve('ws'));
    const actual = run(IS_NATIVE ? path.join(__dirname, '..') : require.resolve('ws'));

    assert.deepEqual(actual, expected);
    assert.equal(expected.bindv6only, '1');
    assert.deepEqual(expected.undefined, {
      address: ['::', 'IPv6'],
      '127.0.0.1': 'hello',
      '[::1]': 'hello',
      localhost: 'hello'
    });
  });
});
