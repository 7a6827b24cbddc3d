'use strict';

//
// Helpers for the client tests (tests/client*.test.js): recording what a
// client does, running one scenario with ws's client and with the client
// under test, and raw servers that answer the opening handshake by hand.
//

const assert = require('node:assert/strict');
const net = require('node:net');

const {
  WS_IMPL,
  acceptFor,
  bounded,
  cleanup,
  deferred,
  describeData,
  describeError,
  digest,
  onceEvent,
  parseFrames,
  ref,
  sut,
  track
} = require('./helpers');

/**
 * Records the events of a client into `log`, with comparable arguments. An
 * `'error'` listener is always installed.
 */
function recordClient(ws, log = []) {
  ws.on('upgrade', (res) => log.push(['upgrade', res.statusCode]));

  //
  // Not a 'redirect' listener: having one changes what the client does
  // (it then leaves the headers of a cross-host redirect alone).
  //
  const emit = ws.emit;
  ws.emit = function (event, ...args) {
    if (event === 'redirect') log.push(['redirect', args[0]]);
    return emit.call(this, event, ...args);
  };
  ws.on('open', () => {
    log.push(['open', ws.readyState, ws.protocol, ws.extensions]);
  });
  ws.on('message', (data, isBinary) => {
    log.push(['message', describeData(data), isBinary]);
  });
  ws.on('ping', (data) => log.push(['ping', digest(data)]));
  ws.on('pong', (data) => log.push(['pong', digest(data)]));
  ws.on('error', (err) => log.push(['error', describeClientError(err), ws.readyState]));
  ws.on('close', (code, reason) => {
    log.push(['close', code, reason.toString(), ws.readyState]);
  });
  return log;
}

/**
 * `describeError()` plus the `code` of a system error (ECONNREFUSED, ...)
 * and a TLS error's `code`.
 */
function describeClientError(err) {
  const out = describeError(err);
  if (err.errno !== undefined) out.errno = err.errno;
  return out;
}

/**
 * Creates a client of `WS`, records it, lets `drive(ws, log)` act on it, and
 * resolves with the log once the client has emitted `'close'`.
 *
 * @param {Object} WS The module whose client runs (ws or ws-native)
 * @param {Object} s
 * @param {String} s.url
 * @param {*} [s.protocols]
 * @param {Object} [s.options]
 * @param {Function} [s.prepare] `(ws, log)` before any event
 * @param {Function} [s.open] `(ws, log)` on `'open'`
 */
async function runClient(WS, s) {
  const log = [];
  const args = s.protocols === undefined ? [s.url, s.options] : [s.url, s.protocols, s.options];
  const ws = track(new WS(...args));
  const closed = onceEvent(ws, 'close', `client close (${s.url})`);

  recordClient(ws, log);
  if (s.prepare) s.prepare(ws, log);
  if (s.open) ws.on('open', () => s.open(ws, log));
  await closed;
  return log;
}

/**
 * Runs `scenario(WS, name)` with ws's client and with the client under test,
 * asserts that both results are deeply equal and returns ws's.
 */
async function clientDifferential(scenario) {
  const expected = await scenario(ref(), 'ws');
  await cleanup();
  const actual = await scenario(sut(), WS_IMPL);
  assert.deepEqual(actual, expected);
  return expected;
}

/**
 * A raw TCP server that answers each opening handshake with `respond(socket,
 * request, accept)`, where `request` is the request head (a string) and
 * `accept` the right `Sec-WebSocket-Accept` value. It records every request
 * head, and on each socket the bytes received after the head.
 */
async function rawServer(respond) {
  const server = net.createServer();
  const heads = [];
  const sockets = [];

  server.on('connection', (socket) => {
    track(socket);
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let headDone = false;
    socket.received = Buffer.alloc(0);
    sockets.push(socket);

    socket.on('data', (chunk) => {
      if (headDone) {
        socket.received = Buffer.concat([socket.received, chunk]);
        socket.emit('frames');
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      headDone = true;
      const head = buf.subarray(0, end + 4).toString('latin1');
      socket.received = buf.subarray(end + 4);
      heads.push(head);
      const key = /\r\nsec-websocket-key: *([^\r]*)/i.exec(head);
      respond(socket, head, key ? acceptFor(key[1]) : '');
      if (socket.received.length) socket.emit('frames');
    });
  });

  track(server);
  server.listen(0, '127.0.0.1');
  await onceEvent(server, 'listening');
  return { server, port: server.address().port, heads, sockets };
}

/** A 101 response head with the given accept value and extra lines. */
function switching(accept, extra = []) {
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${accept}`,
    ...extra
  ].join('\r\n') + '\r\n\r\n';
}

/**
 * Waits until a raw server's socket has received at least `n` complete
 * frames; resolves with them (parsed, unmasked).
 */
function waitClientFrames(socket, n) {
  const frames = () => parseFrames(socket.received).frames;
  if (frames().length >= n) return Promise.resolve(frames());
  const { promise, resolve } = deferred();
  const check = () => {
    if (frames().length >= n) {
      socket.removeListener('frames', check);
      resolve(frames());
    }
  };
  socket.on('frames', check);
  return bounded(promise, `${n} client frame(s)`);
}

/**
 * A request head with what changes from one run to the next (the key, the
 * port) replaced, so that heads of two clients can be compared.
 */
function normalizeHead(head) {
  return head
    .replace(/(\r\nSec-WebSocket-Key: )[^\r]*/i, '$1<key>')
    .replace(/(\r\nHost: [^:\r]*):\d+/i, '$1:<port>');
}

module.exports = {
  clientDifferential,
  describeClientError,
  normalizeHead,
  rawServer,
  recordClient,
  runClient,
  switching,
  waitClientFrames
};
