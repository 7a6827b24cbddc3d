'use strict';

const cluster = require('cluster');
const dns = require('dns');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const { getSystemErrorMap } = require('util');

const internals = require('../node-internals');
const transport = require('./native');
const { NativeConnection } = require('./native-connection');
const { native } = require('../binding');

//
// The native listener of `port` mode: Rust listens and accepts, and takes a
// connection whose first read is a complete, plainly formed, valid upgrade
// request (src/transport/listener.rs). Such a connection never becomes a
// `net.Socket`: its request is parsed in Rust, which hands over its head
// with an index of its parts (so JS builds the request without parsing it
// again), and it is a `NativeConnection` from the start, its socket a view
// made only if asked for. Every other connection (a plain request, a
// malformed, partial or slow one) goes to the HTTP server ws would have
// created, which is kept without a listening handle of its own:
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

const enabled =
  transport.enabled &&
  internals.serverAccounting &&
  process.env.WS_NATIVE_LISTENER !== 'node';

/**
 * The request of a connection the native listener upgraded: Node's own
 * `IncomingMessage`, whose `socket` is made only if asked for.
 *
 * @extends http.IncomingMessage
 */
class NativeRequest extends http.IncomingMessage {
  /**
   * @param {NativeConnection} conn The connection
   */
  constructor(conn) {
    super(null);
    this._conn = conn;
  }

  get socket() {
    if (this._socket == null && this._conn != null) {
      this._socket = this._conn.socket;
    }

    return this._socket;
  }

  set socket(value) {
    this._socket = value;
  }
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

  //
  // A cluster worker shares the primary's listening socket through Node's
  // server (the primary accepts, round robin): Node listens, and each
  // upgraded connection is then taken over. With `reusePort`, each worker
  // listens itself (SO_REUSEPORT: the kernel spreads the connections), and
  // the native listener can.
  //
  if (cluster.isWorker && !options.reusePort) return false;

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
   * @param {Object} owner Who takes the upgrade requests Rust checked and
   *     parsed (`_onNativeUpgrade(req, conn)`): a WebSocketServer, or
   *     `serve()`'s server
   * @param {http.Server} server The HTTP server for the connections Rust
   *     does not take (never listening itself)
   */
  constructor(owner, server) {
    this._owner = owner;
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
  listen(port, host, backlog, reusePort) {
    port = +port;
    backlog = backlog == null ? 511 : backlog;
    reusePort = !!reusePort;
    transport.init();

    if (host == null) {
      //
      // As Node: the unspecified IPv6 address (dual stack), else IPv4's.
      //
      let r = native.listen('::', port, backlog, reusePort);

      if (r < 0 && -r === os.constants.errno.EAFNOSUPPORT) {
        r = native.listen('0.0.0.0', port, backlog, reusePort);
        this._listened(r, '0.0.0.0', port);
      } else {
        this._listened(r, '::', port);
      }

      return;
    }

    if (net.isIP(host)) {
      this._listened(native.listen(host, port, backlog, reusePort), host, port);
      return;
    }

    dns.lookup(host, (err, address) => {
      if (this._closed) return;
      if (err) {
        this._server.emit('error', err);
        return;
      }

      this._listened(
        native.listen(address, port, backlog, reusePort),
        address,
        port
      );
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
    transport.addListener(r, this);
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
      transport.removeListener(this._id);
      native.listenerClose(this._id);
      this._id = -1;
    }

    const server = this._server;
    const onClose = () => {
      if (internals.connectionCount(server) === 0) cb();
      else server.once('close', onClose);
    };

    server.once('close', onClose);
    server.close();
  }

  /**
   * Rust accepted a connection with a valid upgrade request.
   *
   * @param {Number} id The connection id
   * @param {Buffer} slab The slab its request is in
   * @param {Number} start Where the request's index starts (then the accept
   *     key, then the head)
   * @private
   */
  _onUpgrade(id, slab, start) {
    const conn = new NativeConnection(id, null, this);
    const req = buildRequest(conn, slab, start);

    internals.countConnection(this._server, 1);
    this._owner._onNativeUpgrade(req, conn);
  }

  /**
   * Whether the listener keeps the event loop alive.
   *
   * @param {Boolean} on Whether it does
   * @public
   */
  setRef(on) {
    if (this._id !== -1) native.listenerSetRef(this._id, on);
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
    internals.adoptConnection(this._server, socket);
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
    internals.countConnection(this._server, -1);
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
 * Builds the `http.IncomingMessage` of a request Rust parsed, from the
 * index of its parts that Rust put before it (little-endian u16s: header
 * count, head length, target start and end, then the start and end of each
 * header's name and value, offsets into the head), then its
 * `Sec-WebSocket-Accept` value.
 *
 * @param {NativeConnection} conn The connection
 * @param {Buffer} slab The slab
 * @param {Number} start Where the index starts
 * @return {http.IncomingMessage}
 * @private
 */
function buildRequest(conn, slab, start) {
  const count = slab.readUInt16LE(start);
  const keyStart = start + 8 + 8 * count;
  const head = keyStart + ACCEPT_LENGTH;
  const req = new NativeRequest(conn);
  const rawHeaders = new Array(2 * count);

  for (let i = 0, at = start + 8; i < count; i++, at += 8) {
    rawHeaders[2 * i] = slab.latin1Slice(
      head + slab.readUInt16LE(at),
      head + slab.readUInt16LE(at + 2)
    );
    rawHeaders[2 * i + 1] = slab.latin1Slice(
      head + slab.readUInt16LE(at + 4),
      head + slab.readUInt16LE(at + 6)
    );
  }

  req.method = 'GET';
  req.url = slab.latin1Slice(
    head + slab.readUInt16LE(start + 4),
    head + slab.readUInt16LE(start + 6)
  );
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  req.upgrade = true;
  req.complete = true;
  req[kAccept] = slab.latin1Slice(keyStart, head);
  internals.setRawHeaders(req, rawHeaders);
  return req;
}

module.exports = { NativeListener, canListen, enabled, kAccept };
