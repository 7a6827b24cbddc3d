'use strict';

const dns = require('dns');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const { getSystemErrorMap } = require('util');

const nativeTransport = require('./native-transport');
const { native } = require('./binding');
const { EMPTY_BUFFER } = require('./constants');

//
// The native listener of `port` mode: Rust listens and accepts, and takes a
// connection whose first read is a complete, plainly formed, valid upgrade
// request (src/transport/listener.rs). Such a connection never becomes a
// `net.Socket`: its request is parsed in Rust and read into the batch, and
// its socket is a `NativeSocket` from the start, with no shell (a
// `ListenerShell` answers for it). Every other connection (a plain
// request, a malformed, partial or slow one) goes to the HTTP server ws
// would have created, which is kept without a listening handle of its own:
// `net.Socket` over the descriptor, bytes unread, so Node answers it
// exactly as it answers ws's. The HTTP server also counts the native
// connections, so that `getConnections()` and `close()` see them all.
//
// `WS_NATIVE_TRANSPORT=stream` turns it off with the native transport.
//

//
// A connection that has sent nothing after this long goes to Node's HTTP
// server, whose `headersTimeout` then applies.
//
const PENDING_MAX_AGE = 1000;
const SWEEP_INTERVAL = 500;

//
// How long accepting pauses after running out of descriptors.
//
const ACCEPT_RETRY_DELAY = 100;

//
// On a request Rust upgraded: its `Sec-WebSocket-Accept` value, computed in
// Rust with the checks of the handshake, which JS then skips.
//
const kAccept = Symbol('ws-native-accept');

const ACCEPT_LENGTH = 28;

const NO_CHUNKS = Object.freeze([]);

const enabled =
  nativeTransport.enabled &&
  native !== null &&
  typeof native.listen === 'function' &&
  process.env.WS_NATIVE_LISTENER !== 'node';

let kHeadersCount = null;

/**
 * Finds the private symbol under which Node's `IncomingMessage` keeps its
 * header count: with it, `req.headers` is built lazily from `rawHeaders`
 * by Node's own code, as for a parsed request.
 *
 * @return {(Symbol|undefined)}
 * @private
 */
function headersCountSymbol() {
  if (kHeadersCount === null) {
    const probe = new http.IncomingMessage(null);

    kHeadersCount = Object.getOwnPropertySymbols(probe).find(
      (s) => s.description === 'kHeadersCount'
    );
  }

  return kHeadersCount;
}

/**
 * Tells whether `port` mode can use the native listener for these options.
 *
 * @param {Object} options The `WebSocketServer` options
 * @return {Boolean}
 * @public
 */
function canListen(options) {
  if (!enabled) return false;

  const port = options.port;

  //
  // Anything Node would refuse (or treat specially) is left to Node.
  //
  return (
    (typeof port === 'number' || (typeof port === 'string' && port !== '')) &&
    Number.isInteger(+port) &&
    +port >= 0 &&
    +port <= 65535 &&
    (options.host == null || typeof options.host === 'string') &&
    (options.backlog == null || Number.isInteger(options.backlog))
  );
}

/**
 * Builds the error Node's `net` gives for a failed `listen()`.
 *
 * @param {Number} errno The (positive) errno
 * @param {String} address The address
 * @param {Number} port The port
 * @return {Error}
 * @private
 */
function listenError(errno, address, port) {
  const [code, description] = getSystemErrorMap().get(-errno) || [
    `Unknown system error ${-errno}`,
    `Unknown system error ${-errno}`
  ];
  const err = new Error(`listen ${code}: ${description} ${address}:${port}`);

  err.code = code;
  err.errno = -errno;
  err.syscall = 'listen';
  err.address = address;
  err.port = port;
  return err;
}

/**
 * The listening side of a `WebSocketServer` in `port` mode.
 */
class NativeListener {
  /**
   * @param {WebSocketServer} wss The WebSocket server
   * @param {http.Server} server The HTTP server for the connections Rust
   *     does not take (never listening itself)
   */
  constructor(wss, server) {
    this._wss = wss;
    this._server = server;
    this._id = -1;
    this._address = null;
    this._sweep = null;
    this._closed = false;
  }

  /**
   * Listens, then emits `'listening'` on the HTTP server (or `'error'`).
   *
   * @param {(Number|String)} port The port
   * @param {String} [host] The host
   * @param {Number} [backlog=511] The backlog
   * @public
   */
  listen(port, host, backlog) {
    port = +port;
    backlog = backlog == null ? 511 : backlog;
    nativeTransport.init();

    if (host == null) {
      //
      // As Node: the unspecified IPv6 address (dual stack), else IPv4's.
      //
      let r = native.listen('::', port, backlog);

      if (r < 0 && -r === os.constants.errno.EAFNOSUPPORT) {
        r = native.listen('0.0.0.0', port, backlog);
        this._listened(r, '0.0.0.0', port);
      } else {
        this._listened(r, '::', port);
      }

      return;
    }

    if (net.isIP(host)) {
      this._listened(native.listen(host, port, backlog), host, port);
      return;
    }

    dns.lookup(host, (err, address) => {
      if (this._closed) return;
      if (err) {
        this._server.emit('error', err);
        return;
      }

      this._listened(native.listen(address, port, backlog), address, port);
    });
  }

  /**
   * @param {Number} r What `native.listen()` returned
   * @param {String} address The address
   * @param {Number} port The port
   * @private
   */
  _listened(r, address, port) {
    if (r < 0) {
      process.nextTick(emitError, this._server, listenError(-r, address, port));
      return;
    }

    if (this._closed) {
      native.listenerClose(r);
      return;
    }

    this._id = r;
    this._address = native.listenerAddress(r);
    nativeTransport.addListener(r, this);
    this._sweep = setInterval(sweep, SWEEP_INTERVAL, this);
    this._sweep.unref();

    //
    // Node's HTTP server starts tracking connections for its timeouts on
    // `'listening'`, and the WebSocket server forwards it.
    //
    process.nextTick(emitListening, this);
  }

  /**
   * @return {(Object|null)} The bound address, as `server.address()`
   * @public
   */
  address() {
    if (this._address === null || this._closed) return null;

    const { address, family, port } = this._address;

    return { address, family, port };
  }

  /**
   * Stops listening and calls `cb` once every connection is closed, as
   * `server.close()` does.
   *
   * @param {Function} cb Callback
   * @public
   */
  close(cb) {
    this._closed = true;

    if (this._id !== -1) {
      clearInterval(this._sweep);
      nativeTransport.removeListener(this._id);
      native.listenerClose(this._id);
      this._id = -1;
    }

    const server = this._server;
    const onClose = () => {
      if (server._connections === 0) cb();
      else server.once('close', onClose);
    };

    server.once('close', onClose);
    server.close();
  }

  /**
   * Rust accepted a connection with a valid upgrade request.
   *
   * @param {Number} id The connection id
   * @param {Buffer} data The request head, then the accept key
   * @private
   */
  _onUpgrade(id, data) {
    const server = this._server;
    const length = data.length - ACCEPT_LENGTH;
    const shell = new ListenerShell(this, id, length);
    const socket = new nativeTransport.NativeSocket(shell, id, NO_CHUNKS);
    const req = buildRequest(socket, data, length);

    req[kAccept] = data.latin1Slice(length, data.length);

    server._connections++;

    const wss = this._wss;

    wss.handleUpgrade(req, socket, EMPTY_BUFFER, (ws) => {
      wss.emit('connection', ws, req);
    });
  }

  /**
   * A connection for Node's HTTP server, untouched.
   *
   * @param {Number} fd The descriptor, now ours
   * @private
   */
  _onHandoff(fd) {
    if (this._closed) {
      closeFd(fd);
      return;
    }

    let socket;

    try {
      socket = new net.Socket({ fd, readable: true, writable: true });
    } catch {
      closeFd(fd);
      return;
    }

    //
    // What `net.Server` does with a connection it accepted.
    //
    const server = this._server;

    server._connections++;
    socket.server = server;
    socket._server = server;
    server.emit('connection', socket);
  }

  /**
   * Accepting failed (out of descriptors): Node's server emits the error
   * and goes on; so do we, after a pause.
   *
   * @param {Number} errno The errno
   * @private
   */
  _onAcceptError(errno) {
    const [code] = getSystemErrorMap().get(-errno) || [
      `Unknown system error ${-errno}`
    ];
    const err = new Error(`accept ${code}`);

    err.code = code;
    err.errno = -errno;
    err.syscall = 'accept';

    const timer = setTimeout(() => {
      if (this._id !== -1) native.listenerPause(this._id, false);
    }, ACCEPT_RETRY_DELAY);

    timer.unref();
    this._server.emit('error', err);
  }

  /**
   * A native connection closed.
   *
   * @private
   */
  _connectionClosed() {
    const server = this._server;

    server._connections--;
    server._emitCloseIfDrained();
  }
}

/**
 * Hands the connections that sent nothing yet to Node's HTTP server.
 *
 * @param {NativeListener} listener The listener
 * @private
 */
function sweep(listener) {
  if (listener._id === -1) return;

  const fds = native.listenerSweep(listener._id, PENDING_MAX_AGE);

  for (let i = 0; i < fds.length; i++) listener._onHandoff(fds[i]);
}

/**
 * @param {Number} fd A descriptor to close
 * @private
 */
function closeFd(fd) {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed.
  }
}

/**
 * @param {http.Server} server The server
 * @param {Error} err The error
 * @private
 */
function emitError(server, err) {
  server.emit('error', err);
}

/**
 * @param {NativeListener} listener The listener
 * @private
 */
function emitListening(listener) {
  if (!listener._closed) listener._server.emit('listening');
}

/**
 * Builds the `http.IncomingMessage` of a request Rust parsed (and found to
 * be a plainly formed upgrade request: one line per header, visible ASCII).
 *
 * @param {NativeSocket} socket The connection
 * @param {Buffer} head The request head, blank line included, at its start
 * @param {Number} length The length of the head
 * @return {http.IncomingMessage}
 * @private
 */
function buildRequest(socket, head, length) {
  const text = head.latin1Slice(0, length - 4);
  const lines = text.split('\r\n');
  const requestLine = lines[0];
  const req = new http.IncomingMessage(socket);
  const rawHeaders = new Array(2 * (lines.length - 1));

  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');

    rawHeaders[2 * i - 2] = line.slice(0, colon);
    rawHeaders[2 * i - 1] = line.slice(colon + 1).trim();
  }

  req.method = 'GET';
  req.url = requestLine.slice(4, requestLine.length - 9);
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  req.upgrade = true;
  req.complete = true;
  req.rawHeaders = rawHeaders;

  const symbol = headersCountSymbol();

  if (symbol !== undefined) {
    req[symbol] = rawHeaders.length;
  } else {
    const headers = {};

    for (let i = 0; i < rawHeaders.length; i += 2) {
      req._addHeaderLine(rawHeaders[i], rawHeaders[i + 1], headers);
    }

    req.headers = headers;
  }

  return req;
}

/**
 * Stands in for the `net.Socket` shell of a taken-over connection (see
 * js/native-transport.js) when there never was one: the socket options and
 * addresses come from Rust, and closing it tells the listener.
 */
class ListenerShell {
  /**
   * @param {NativeListener} listener The listener
   * @param {Number} id The connection id
   * @param {Number} bytesRead The bytes of the request
   */
  constructor(listener, id, bytesRead) {
    this._listener = listener;
    this._id = id;
    this._addresses = null;
    this._onClose = null;
    this._onTimeout = null;
    this._timer = null;
    this._noDelay = true;
    this.bytesRead = bytesRead;
    this.bytesWritten = 0;
    this.destroyed = false;
    this.allowHalfOpen = false;
  }

  /**
   * Takes the listeners `NativeSocket` puts on a shell.
   *
   * @param {String} event The event
   * @param {Function} listener The listener
   * @return {ListenerShell} this
   */
  on(event, listener) {
    if (event === 'close') this._onClose = listener;
    else if (event === 'timeout') this._onTimeout = listener;
    return this;
  }

  /**
   * @return {Object} The connection's addresses, read once from Rust
   * @private
   */
  _names() {
    if (this._addresses === null) {
      if (this.destroyed) return {};
      this._addresses = native.addresses(this._id) || {};
    }

    return this._addresses;
  }

  get remoteAddress() {
    const remote = this._names().remote;
    return remote ? remote.address : undefined;
  }

  get remotePort() {
    const remote = this._names().remote;
    return remote ? remote.port : undefined;
  }

  get remoteFamily() {
    const remote = this._names().remote;
    return remote ? remote.family : undefined;
  }

  get localAddress() {
    const local = this._names().local;
    return local ? local.address : undefined;
  }

  get localPort() {
    const local = this._names().local;
    return local ? local.port : undefined;
  }

  get localFamily() {
    const local = this._names().local;
    return local ? local.family : undefined;
  }

  address() {
    const local = this._names().local;
    return local ? { ...local } : {};
  }

  setNoDelay(noDelay = true) {
    const on = Boolean(noDelay);

    if (on !== this._noDelay && !this.destroyed) {
      this._noDelay = on;
      native.setNoDelay(this._id, on);
    }

    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0) {
    if (!this.destroyed) {
      native.setKeepAlive(
        this._id,
        Boolean(enable),
        Math.floor(Math.max(0, initialDelay) / 1000)
      );
    }

    return this;
  }

  /**
   * An idle timer that, as the shell's, does not see the traffic: only
   * turning it off (what the WebSocket does) is exact.
   *
   * @param {Number} msecs Milliseconds, 0 to turn it off
   * @return {ListenerShell} this
   */
  setTimeout(msecs) {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }

    if (msecs > 0 && !this.destroyed) {
      this._timer = setTimeout(emitTimeout, msecs, this);
      this._timer.unref();
    }

    return this;
  }

  /**
   * The connection is closed (Rust closed the descriptor): `'close'`
   * follows in a later tick, as for a socket.
   *
   * @return {ListenerShell} this
   */
  destroy() {
    if (this.destroyed) return this;

    this.destroyed = true;
    this.setTimeout(0);

    //
    // As a `net.Socket`: the server stops counting it at once (its own
    // `'close'` may follow in the next tick), the socket's `'close'` comes
    // once the handle is closed, in a later loop turn.
    //
    this._listener._connectionClosed();
    setImmediate(shellClosed, this);
    return this;
  }
}

/**
 * @param {ListenerShell} shell The shell
 * @private
 */
function emitTimeout(shell) {
  shell._timer = null;
  if (shell._onTimeout !== null) shell._onTimeout.call(shell);
}

/**
 * @param {ListenerShell} shell The shell
 * @private
 */
function shellClosed(shell) {
  if (shell._onClose !== null) shell._onClose.call(shell);
}

module.exports = { NativeListener, canListen, enabled, kAccept };
