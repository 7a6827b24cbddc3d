'use strict';

const http = require('http');
const net = require('net');

const debug = require('./debug');

//
// Every assumption about Node's internals, in one place. Each group is
// checked once, at load; if a check fails, what depends on it is turned off
// (the feature falls back to public API, or to the stream transport) and
// `DEBUG=ws-native` says why. `report()` tells what holds, for the tests and
// for bug reports.
//

const failures = {};

/**
 * Records a failed check.
 *
 * @param {String} feature What is off
 * @param {String} why Which assumption failed
 * @private
 */
function fail(feature, why) {
  failures[feature] = why;
  debug('! %s is off on Node %s: %s', feature, process.version, why);
}

//
// 1. Taking a socket's descriptor over (the native transport, for sockets
// Node accepted): a TCP or Pipe handle with a numeric `fd`, `readStop()`
// and `readStart()` (and a `reading` flag that Node's stream code sets).
// A handle exists only once a socket is connected, so this is checked on
// the first socket offered (`takeableFd()`), once.
//
let fdTakeover = process.platform !== 'win32';
let handleChecked = false;

if (!fdTakeover) fail('fdTakeover', 'Windows sockets have no usable fd');

/**
 * Checks the first connected handle seen.
 *
 * @param {Object} handle A `net.Socket`'s `_handle`
 * @return {Boolean} Whether descriptors can be taken over
 * @private
 */
function checkHandle(handle) {
  handleChecked = true;

  const name = handle.constructor && handle.constructor.name;

  if (name !== 'TCP' && name !== 'Pipe') {
    fail('fdTakeover', `socket handles are ${name}, not TCP or Pipe`);
  } else if (typeof handle.fd !== 'number') {
    fail('fdTakeover', `${name} handles have no numeric fd`);
  } else if (
    typeof handle.readStop !== 'function' ||
    typeof handle.readStart !== 'function'
  ) {
    fail('fdTakeover', `${name} handles have no readStop()/readStart()`);
  } else {
    return true;
  }

  fdTakeover = false;
  return false;
}

/**
 * The descriptor of a plain TCP (or Unix domain) `net.Socket` that can be
 * taken over: open both ways, nothing left to write, not TLS.
 *
 * @param {Duplex} socket The socket
 * @return {Number} The descriptor, or -1 if the socket cannot be taken
 * @public
 */
function takeableFd(socket) {
  if (!fdTakeover || !(socket instanceof net.Socket) || socket.encrypted) {
    return -1;
  }

  const handle = socket._handle;

  if (handle == null || (!handleChecked && !checkHandle(handle))) return -1;

  if (
    typeof handle.fd !== 'number' ||
    handle.fd < 0 ||
    (handle.constructor.name !== 'TCP' && handle.constructor.name !== 'Pipe') ||
    socket.destroyed ||
    socket.connecting ||
    !socket.readable ||
    !socket.writable ||
    socket.writableEnded ||
    socket.writableLength !== 0 ||
    handle.writeQueueSize > 0
  ) {
    return -1;
  }

  return handle.fd;
}

/**
 * Makes a socket whose descriptor Rust took (a duplicate of it) an idle
 * shell: its handle never reads again, whatever calls `resume()` on it
 * later (Node's HTTP server does after a request handler's upgrade), and
 * what it had read but nobody consumed is returned.
 *
 * @param {net.Socket} socket The socket
 * @return {Buffer[]} The bytes it held
 * @public
 */
function idleShell(socket) {
  const handle = socket._handle;

  handle.reading = false;
  handle.readStop();
  handle.readStart = readStartDisabled;
  socket.pause();

  const chunks = [];

  while (socket.readableLength !== 0) {
    const chunk = socket.read();

    if (chunk === null) break;
    chunks.push(chunk);
  }

  return chunks;
}

/**
 * Replaces `readStart()` on a shell's handle.
 *
 * @return {Number} 0, as a successful `readStart()`
 * @private
 */
function readStartDisabled() {
  return 0;
}

//
// 2. Counting connections on a `net.Server` that did not accept them
// itself (the native listener hands connections to the HTTP server ws would
// have created, and counts its own there so that `close()` waits for them).
//
/**
 * @param {net.Server} server A server, not listening
 * @return {(String|null)} What is wrong, or `null`
 * @private
 */
function checkServerAccounting(server) {
  if (typeof server._connections !== 'number') {
    return 'net.Server#_connections is not a number';
  }

  if (typeof server._emitCloseIfDrained !== 'function') {
    return 'net.Server#_emitCloseIfDrained is missing';
  }

  return null;
}

const serverAccounting = (() => {
  const why = checkServerAccounting(http.createServer());

  if (why !== null) fail('nativeListener', why);
  return why === null;
})();

/**
 * Gives a socket to a server as if the server had accepted it.
 *
 * @param {net.Server} server The server
 * @param {net.Socket} socket The socket
 * @public
 */
function adoptConnection(server, socket) {
  server._connections++;
  socket.server = server;
  socket._server = server;
  server.emit('connection', socket);
}

/**
 * Counts a connection the server does not see as a socket of its own.
 *
 * @param {net.Server} server The server
 * @param {Number} delta +1 or -1
 * @public
 */
function countConnection(server, delta) {
  server._connections += delta;
  if (delta < 0) server._emitCloseIfDrained();
}

/**
 * @param {net.Server} server The server
 * @return {Number} The connections it counts
 * @public
 */
function connectionCount(server) {
  return server._connections;
}

//
// 3. `IncomingMessage` builds `headers` lazily from `rawHeaders` when its
// header count is set, under a private symbol found by its description.
//
function findHeadersCount() {
  const probe = new http.IncomingMessage(null);
  const symbol = Object.getOwnPropertySymbols(probe).find(
    (s) => s.description === 'kHeadersCount'
  );

  if (symbol === undefined) {
    fail('lazyHeaders', 'IncomingMessage has no kHeadersCount symbol');
    return null;
  }

  probe.rawHeaders = ['X-A', '1'];
  probe[symbol] = 2;

  let headers;

  try {
    headers = probe.headers;
  } catch {
    headers = null;
  }

  if (headers === null || headers['x-a'] !== '1') {
    fail('lazyHeaders', 'IncomingMessage#headers does not read rawHeaders');
    return null;
  }

  return symbol;
}

const kHeadersCount = findHeadersCount();

/**
 * Sets a request's raw headers; `headers` is built from them when first
 * read (by Node's code, as for a request it parsed), or at once if that is
 * not possible.
 *
 * @param {http.IncomingMessage} req The request
 * @param {String[]} rawHeaders Names and values, alternating
 * @public
 */
function setRawHeaders(req, rawHeaders) {
  req.rawHeaders = rawHeaders;

  if (kHeadersCount !== null) {
    req[kHeadersCount] = rawHeaders.length;
    return;
  }

  const headers = {};

  for (let i = 0; i < rawHeaders.length; i += 2) {
    req._addHeaderLine(rawHeaders[i], rawHeaders[i + 1], headers);
  }

  req.headers = headers;
}

//
// 4. Taking a socket from Node's HTTP server after a request reached a
// `'request'` listener (`upgrade(req)` from Koa or Express): the server's
// socket listeners, found by name, and its parser, which must be finished
// and freed as the server does before it emits `'upgrade'`.
//
const HTTP_LISTENERS = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause']
];

let freeParser = null;

function checkHttpTakeover() {
  let common;

  try {
    common = require('_http_common');
  } catch {
    fail('httpTakeover', "require('_http_common') failed");
    return false;
  }

  if (typeof common.freeParser === 'function') freeParser = common.freeParser;

  const proto = common.HTTPParser && common.HTTPParser.prototype;

  for (const name of ['finish', 'unconsume']) {
    if (!proto || typeof proto[name] !== 'function') {
      fail('httpTakeover', `HTTPParser.prototype.${name} is missing`);
      return false;
    }
  }

  return true;
}

const httpTakeover = checkHttpTakeover();

/**
 * Whether Node's HTTP server still reads requests from a socket, as it does
 * for a request that reached a `'request'` listener.
 *
 * @param {Duplex} socket The socket
 * @return {Boolean}
 * @public
 */
function isOwnedByHttp(socket) {
  return socket.parser != null;
}

/**
 * Finds the listeners Node's HTTP server put on a socket. Call it before
 * anything else adds listeners: `socketOnError` and `socketOnTimeout` are
 * common names.
 *
 * @param {Duplex} socket The socket
 * @return {Array} The `[event, listener]` pairs
 * @public
 */
function httpListeners(socket) {
  const found = [];

  for (const [event, name] of HTTP_LISTENERS) {
    for (const listener of socket.listeners(event)) {
      if (listener.name === name) found.push([event, listener]);
    }
  }

  return found;
}

/**
 * Finishes and frees the HTTP parser of a socket, as the server does before
 * it emits `'upgrade'`; this also takes the socket off the list that
 * `requestTimeout` and `headersTimeout` are checked against. The parser
 * must not be executing.
 *
 * @param {Duplex} socket The socket
 * @param {http.IncomingMessage} req The request
 * @public
 */
function releaseParser(socket, req) {
  const parser = socket.parser;

  if (!parser) return;

  if (httpTakeover) {
    if (parser._consumed) {
      parser.unconsume();
      parser._consumed = false;
    }

    parser.finish();
  }

  if (freeParser !== null) {
    freeParser(parser, req, socket);
  } else {
    if (typeof parser.remove === 'function') parser.remove();
    parser.socket = parser.incoming = null;
    req.parser = socket.parser = null;
  }

  //
  // The server pauses the socket while responses back up (its own flag,
  // which `resume()` alone does not clear).
  //
  socket._paused = false;
}

/**
 * The response Node's HTTP server assigned to a socket.
 *
 * @param {Duplex} socket The socket
 * @return {(http.ServerResponse|undefined)}
 * @public
 */
function responseOf(socket) {
  return socket._httpMessage;
}

/**
 * Removes the response's `'finish'` handler that asserts it still owns the
 * socket (a detached response never finishes, but be safe).
 *
 * @param {http.ServerResponse} res The response
 * @public
 */
function dropResponseFinish(res) {
  for (const listener of res.listeners('finish')) {
    if (listener.name === 'bound resOnFinish') {
      res.removeListener('finish', listener);
    }
  }
}

//
// 5. libuv before 1.52 reads on to the end of stream when a hang-up comes
// with a short read (libuv/libuv#4997 dropped this); the native transport
// follows the libuv Node runs on, so that `'end'` comes in the same loop
// turn (public: `process.versions.uv`).
//
const eofOnHangup = (() => {
  const [major, minor] = process.versions.uv.split('.').map(Number);
  return major === 1 && minor < 52;
})();

/**
 * What holds on this Node: each feature, on or off, and why not.
 *
 * @return {Object}
 * @public
 */
function report() {
  return {
    node: process.version,
    fdTakeover: fdTakeover && (handleChecked ? 'checked' : 'unchecked'),
    serverAccounting,
    lazyHeaders: kHeadersCount !== null,
    httpTakeover,
    eofOnHangup,
    failures: { ...failures }
  };
}

module.exports = {
  checkServerAccounting,
  adoptConnection,
  connectionCount,
  countConnection,
  dropResponseFinish,
  eofOnHangup,
  httpListeners,
  httpTakeover,
  idleShell,
  isOwnedByHttp,
  releaseParser,
  report,
  responseOf,
  serverAccounting,
  setRawHeaders,
  takeableFd
};
