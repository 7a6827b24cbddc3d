/* eslint no-unused-vars: ["error", { "varsIgnorePattern": "^Duplex$" }] */

'use strict';

const EventEmitter = require('events');
const http = require('http');
const { Duplex } = require('stream');

const debug = require('./debug');
const upgrade = require('./upgrade');
const WebSocket = require('./websocket');
const { acceptKey, validateUpgrade } = require('./binding');
const { CLOSE_TIMEOUT, kWebSocket } = require('./constants');
const { isOwnedByHttp, takeFromHttp } = require('./http-takeover');
const {
  CLOSED,
  CLOSING,
  RUNNING,
  parseExtensions,
  parseProtocols
} = require('./handshake');

//
// How long a server given with `{ server }` may stay not listening before we
// warn that it is probably not the one the application listens on.
//
const LISTEN_CHECK_DELAY = 1000;

let warnedNotListening = false;

/**
 * Class representing a WebSocket server.
 *
 * @extends EventEmitter
 */
class WebSocketServer extends EventEmitter {
  /**
   * Create a `WebSocketServer` instance.
   *
   * @param {Object} options Configuration options
   * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether
   *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
   *     multiple times in the same tick
   * @param {Boolean} [options.autoPong=true] Specifies whether or not to
   *     automatically send a pong in response to a ping
   * @param {Number} [options.backlog=511] The maximum length of the queue of
   *     pending connections
   * @param {Boolean} [options.clientTracking=true] Specifies whether or not to
   *     track clients
   * @param {Number} [options.closeTimeout=30000] Duration in milliseconds to
   *     wait for the closing handshake to finish after `websocket.close()` is
   *     called
   * @param {Function} [options.handleProtocols] A hook to handle protocols
   * @param {String} [options.host] The hostname where to bind the server
   * @param {Number} [options.maxBufferedChunks=262144] The maximum number of
   *     buffered data chunks of a message
   * @param {Number} [options.maxFragments=16384] The maximum number of
   *     fragments of a message
   * @param {Number} [options.maxPayload=104857600] The maximum allowed message
   *     size
   * @param {Boolean} [options.noServer=false] Enable no server mode
   * @param {String} [options.path] Accept only connections matching this path
   * @param {(Boolean|Object)} [options.perMessageDeflate=false] Accepted for
   *     compatibility; the extension is not negotiated yet
   * @param {Number} [options.port] The port where to bind the server
   * @param {(http.Server|https.Server)} [options.server] A pre-created HTTP/S
   *     server to use
   * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
   *     not to skip UTF-8 validation for text messages
   * @param {Function} [options.verifyClient] A hook to reject connections
   * @param {Function} [options.WebSocket=WebSocket] Specifies the `WebSocket`
   *     class to use. It must be the `WebSocket` class or class that extends it
   * @param {Function} [callback] A listener for the `listening` event
   */
  constructor(options, callback) {
    super();

    options = {
      allowSynchronousEvents: true,
      autoPong: true,
      maxBufferedChunks: 256 * 1024,
      maxFragments: 16 * 1024,
      maxPayload: 100 * 1024 * 1024,
      maxPendingAutoPongs: 60,
      skipUTF8Validation: false,
      perMessageDeflate: false,
      handleProtocols: null,
      clientTracking: true,
      closeTimeout: CLOSE_TIMEOUT,
      verifyClient: null,
      noServer: false,
      backlog: null, // Let `net` pick its default (511).
      server: null,
      host: null,
      path: null,
      port: null,
      WebSocket,
      ...options
    };

    if (
      (options.port == null && !options.server && !options.noServer) ||
      (options.port != null && (options.server || options.noServer)) ||
      (options.server && options.noServer)
    ) {
      throw new TypeError(
        'One and only one of the "port", "server", or "noServer" options ' +
          'must be specified'
      );
    }

    if (options.port != null) {
      this._server = http.createServer(respondUpgradeRequired);
      this._server.listen(
        options.port,
        options.host,
        options.backlog,
        callback
      );
    } else if (options.server) {
      this._server = options.server;
      this._listenCheck = null;

      if (options.server.listening === false) {
        this._listenCheck = setTimeout(
          checkListening,
          LISTEN_CHECK_DELAY,
          this
        );
        this._listenCheck.unref();
      }
    }

    if (this._server) {
      const emitConnection = this.emit.bind(this, 'connection');

      this._removeListeners = addListeners(this._server, {
        listening: this.emit.bind(this, 'listening'),
        error: this.emit.bind(this, 'error'),
        upgrade: (req, socket, head) => {
          this.handleUpgrade(req, socket, head, emitConnection);
        }
      });
    }

    if (options.perMessageDeflate === true) options.perMessageDeflate = {};
    if (options.clientTracking) {
      this.clients = new Set();
      this._shouldEmitClose = false;
    }

    this.options = options;
    this._state = RUNNING;
  }

  /**
   * Returns the bound address, the address family name, and port of the server
   * as reported by the operating system if listening on an IP socket.
   * If the server is listening on a pipe or UNIX domain socket, the name is
   * returned as a string.
   *
   * @return {(Object|String|null)} The address of the server
   * @public
   */
  address() {
    if (this.options.noServer) {
      throw new Error('The server is operating in "noServer" mode');
    }

    if (!this._server) return null;
    return this._server.address();
  }

  /**
   * Stop the server from accepting new connections and emit the `'close'` event
   * when all existing connections are closed.
   *
   * @param {Function} [cb] A one-time listener for the `'close'` event
   * @public
   */
  close(cb) {
    if (this._state === CLOSED) {
      if (cb) {
        this.once('close', () => {
          cb(new Error('The server is not running'));
        });
      }

      process.nextTick(emitClose, this);
      return;
    }

    if (cb) this.once('close', cb);

    if (this._state === CLOSING) return;
    this._state = CLOSING;

    if (this._listenCheck) {
      clearTimeout(this._listenCheck);
      this._listenCheck = null;
    }

    if (this.options.noServer || this.options.server) {
      if (this._server) {
        this._removeListeners();
        this._removeListeners = this._server = null;
      }

      if (this.clients && this.clients.size) {
        this._shouldEmitClose = true;
      } else {
        process.nextTick(emitClose, this);
      }
    } else {
      const server = this._server;

      this._removeListeners();
      this._removeListeners = this._server = null;

      //
      // The HTTP server was created internally. Close it, and emit `'close'`
      // when it is closed, that is after all the connections are gone.
      //
      server.close(() => {
        emitClose(this);
      });
    }
  }

  /**
   * See if a given request should be handled by this server instance.
   *
   * @param {http.IncomingMessage} req Request object to inspect
   * @return {Boolean} `true` if the request is valid, else `false`
   * @public
   */
  shouldHandle(req) {
    if (this.options.path) {
      const index = req.url.indexOf('?');
      const pathname = index !== -1 ? req.url.slice(0, index) : req.url;

      if (pathname !== this.options.path) return false;
    }

    return true;
  }

  /**
   * Handle a HTTP Upgrade request.
   *
   * @param {http.IncomingMessage} req The request object
   * @param {Duplex} socket The network socket between the server and client
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Function} cb Callback
   * @public
   */
  handleUpgrade(req, socket, head, cb) {
    socket.on('error', socketOnError);

    const headers = req.headers;
    const key = headers['sec-websocket-key'];
    const version = +headers['sec-websocket-version'];
    const invalid = validateUpgrade(
      req.method,
      headers.upgrade,
      key,
      headers['sec-websocket-version'],
      headers.connection,
      false
    );

    if (invalid !== null) {
      const [code, message] = invalid;
      const extra =
        code === 400 && message === VERSION_MESSAGE
          ? { 'Sec-WebSocket-Version': '13, 8' }
          : undefined;

      abortHandshakeOrEmitwsClientError(this, req, socket, code, message, extra);
      return;
    }

    if (!this.shouldHandle(req)) {
      abortHandshake(socket, 400);
      return;
    }

    let protocols;
    let extensions;

    try {
      protocols = parseProtocols(req);
    } catch {
      const message = 'Invalid Sec-WebSocket-Protocol header';
      abortHandshakeOrEmitwsClientError(this, req, socket, 400, message);
      return;
    }

    try {
      extensions = parseExtensions(this.options, req);
    } catch {
      const message = 'Invalid or unacceptable Sec-WebSocket-Extensions header';
      abortHandshakeOrEmitwsClientError(this, req, socket, 400, message);
      return;
    }

    //
    // Optionally call external client verification handler.
    //
    if (this.options.verifyClient) {
      const info = {
        origin: headers[version === 8 ? 'sec-websocket-origin' : 'origin'],
        secure: !!(req.socket.authorized || req.socket.encrypted),
        req
      };

      if (this.options.verifyClient.length === 2) {
        this.options.verifyClient(info, (verified, code, message, headers) => {
          if (!verified) {
            return abortHandshake(socket, code || 401, message, headers);
          }

          this.completeUpgrade(
            extensions,
            key,
            protocols,
            req,
            socket,
            head,
            cb
          );
        });
        return;
      }

      if (!this.options.verifyClient(info)) return abortHandshake(socket, 401);
    }

    this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
  }

  /**
   * Upgrade the connection to WebSocket.
   *
   * @param {Object} extensions The accepted extensions
   * @param {String} key The value of the `Sec-WebSocket-Key` header
   * @param {Set} protocols The subprotocols
   * @param {http.IncomingMessage} req The request object
   * @param {Duplex} socket The network socket between the server and client
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Function} cb Callback
   * @param {Object} [bun] The options of `upgrade()`: `headers` (a list of
   *     `[name, value]` pairs, already validated), `protocol` (the
   *     subprotocol chosen through `headers`, if any) and `data`
   * @throws {Error} If called more than once with the same socket
   * @private
   */
  completeUpgrade(extensions, key, protocols, req, socket, head, cb, bun) {
    //
    // Destroy the socket if the client has already sent a FIN packet.
    //
    if (!socket.readable || !socket.writable) return socket.destroy();

    if (socket[kWebSocket]) {
      throw new Error(
        'server.handleUpgrade() was called more than once with the same ' +
          'socket, possibly due to a misconfiguration'
      );
    }

    if (this._state > RUNNING) return abortHandshake(socket, 503);

    //
    // A socket the HTTP server still reads requests from (`handleUpgrade()` or
    // `upgrade()` called from a `'request'` listener) must be taken from it,
    // or its parser would read WebSocket frames as HTTP and its timeouts would
    // kill the connection.
    //
    if (isOwnedByHttp(socket)) takeFromHttp(req, socket);

    const headers = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptKey(key)}`
    ];

    const ws = new this.options.WebSocket(null, undefined, this.options);
    let protocol;

    if (bun && bun.protocol !== undefined) {
      protocol = bun.protocol;
    } else if (protocols.size) {
      //
      // Optionally call external protocol selection handler.
      //
      protocol = this.options.handleProtocols
        ? this.options.handleProtocols(protocols, req)
        : protocols.values().next().value;
    }

    if (protocol) {
      headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
      ws._protocol = protocol;
    }

    if (bun) {
      for (const [name, value] of bun.headers) headers.push(`${name}: ${value}`);
      ws.data = bun.data;
    }

    //
    // Allow external modification/inspection of handshake headers.
    //
    this.emit('headers', headers, req);

    socket.write(headers.concat('\r\n').join('\r\n'));
    socket.removeListener('error', socketOnError);

    ws.setSocket(socket, head, {
      allowSynchronousEvents: this.options.allowSynchronousEvents,
      autoPong: this.options.autoPong,
      maxBufferedChunks: this.options.maxBufferedChunks,
      maxFragments: this.options.maxFragments,
      maxPayload: this.options.maxPayload,
      skipUTF8Validation: this.options.skipUTF8Validation
    });

    if (this.clients) {
      this.clients.add(ws);
      ws.on('close', () => {
        this.clients.delete(ws);

        if (this._shouldEmitClose && !this.clients.size) {
          process.nextTick(emitClose, this);
        }
      });
    }

    if (debug.enabled) {
      debug('= connection open: %s %s', req.method, req.url);
    }

    cb(ws, req);
  }

  /**
   * Takes a request over as a WebSocket connection, Bun style. Call it from a
   * `'request'` listener (plain `http`, a Koa middleware with `ctx.req`, an
   * Express route) or from an `'upgrade'` listener.
   *
   * It returns `true` when the request is a valid WebSocket upgrade: the
   * server then owns the socket, whatever the application does with its
   * response afterwards, and emits `'connection'` with `ws.data` set to
   * `options.data`, from a later tick. It returns `false`, having written
   * nothing, when the request is not a valid upgrade (a plain GET, for
   * example), was already answered or upgraded, or the server is closing; the
   * caller answers the request itself, and `upgradeError(req)` says why.
   *
   * `verifyClient` is not called: the caller decides.
   *
   * @param {http.IncomingMessage} req The request
   * @param {Object} [options] Options
   * @param {*} [options.data] The value of `ws.data`
   * @param {(Object|Headers|Array)} [options.headers] Extra headers for the
   *     101 response; a `Sec-WebSocket-Protocol` header selects the subprotocol
   * @param {Buffer} [options.head] The first packet of the upgraded stream, as
   *     given to an `'upgrade'` listener
   * @return {Boolean} `true` if the request was taken over, else `false`
   * @public
   */
  upgrade(req, options) {
    return upgrade.upgrade(this, req, options);
  }

  /**
   * Tells why `upgrade(req)` would refuse a request.
   *
   * @param {http.IncomingMessage} req The request
   * @return {(Object|null)} `null` if the request can be upgraded, else an
   *     object with the HTTP `status` to answer with, a `message` that names
   *     the cause and the fix, and `headers` to send with the answer
   * @public
   */
  upgradeError(req) {
    return upgrade.upgradeError(this, req);
  }
}

const VERSION_MESSAGE = 'Missing or invalid Sec-WebSocket-Version header';

module.exports = WebSocketServer;

/**
 * Answers a plain HTTP request sent to the server created in `port` mode.
 *
 * @param {http.IncomingMessage} req The request
 * @param {http.ServerResponse} res The response
 * @private
 */
function respondUpgradeRequired(req, res) {
  const body = http.STATUS_CODES[426];

  res.writeHead(426, {
    'Content-Length': body.length,
    'Content-Type': 'text/plain'
  });
  res.end(body);
}

/**
 * Add event listeners on an `EventEmitter` using a map of <event, listener>
 * pairs.
 *
 * @param {EventEmitter} server The event emitter
 * @param {Object.<String, Function>} map The listeners to add
 * @return {Function} A function that will remove the added listeners when
 *     called
 * @private
 */
function addListeners(server, map) {
  for (const event of Object.keys(map)) server.on(event, map[event]);

  return function removeListeners() {
    for (const event of Object.keys(map)) {
      server.removeListener(event, map[event]);
    }
  };
}

/**
 * Warns, once per process, that the server given with `{ server }` is still
 * not listening: the application most likely listens on another one.
 *
 * @param {WebSocketServer} wss The WebSocket server
 * @private
 */
function checkListening(wss) {
  wss._listenCheck = null;

  if (wss._state !== RUNNING || !wss._server || wss._server.listening) return;

  const message =
    'The http server given to WebSocketServer is not listening, so no ' +
    'WebSocket connection can reach it. With Koa, app.listen() creates ' +
    'another server: use `const server = http.createServer(app.callback()); ' +
    'new WebSocketServer({ server }); server.listen(...)` (with Express, ' +
    '`http.createServer(app)`)';

  debug('! %s', message);

  if (warnedNotListening) return;
  warnedNotListening = true;
  process.emitWarning(message, { code: 'WS_NATIVE_SERVER_NOT_LISTENING' });
}

/**
 * Emit a `'close'` event on an `EventEmitter`.
 *
 * @param {EventEmitter} server The event emitter
 * @private
 */
function emitClose(server) {
  server._state = CLOSED;
  server.emit('close');
}

/**
 * Handle socket errors.
 *
 * @private
 */
function socketOnError() {
  this.destroy();
}

/**
 * Close the connection when preconditions are not fulfilled.
 *
 * @param {Duplex} socket The socket of the upgrade request
 * @param {Number} code The HTTP response status code
 * @param {String} [message] The HTTP response body
 * @param {Object} [headers] Additional HTTP response headers
 * @private
 */
function abortHandshake(socket, code, message, headers) {
  //
  // If the user destroyed or ended the socket already, the write below fails
  // and the resulting `'error'` destroys the socket: nothing to do about it.
  //
  message = message || http.STATUS_CODES[code];
  headers = {
    Connection: 'close',
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(message),
    ...headers
  };

  const lines = [`HTTP/1.1 ${code} ${http.STATUS_CODES[code]}`];

  for (const name of Object.keys(headers)) {
    lines.push(`${name}: ${headers[name]}`);
  }

  if (debug.enabled) debug('! handshake refused: %d %s', code, message);

  socket.once('finish', socket.destroy);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${message}`);
}

/**
 * Emit a `'wsClientError'` event on a `WebSocketServer` if there is at least
 * one listener for it, otherwise call `abortHandshake()`.
 *
 * @param {WebSocketServer} server The WebSocket server
 * @param {http.IncomingMessage} req The request object
 * @param {Duplex} socket The socket of the upgrade request
 * @param {Number} code The HTTP response status code
 * @param {String} message The HTTP response body
 * @param {Object} [headers] The HTTP response headers
 * @private
 */
function abortHandshakeOrEmitwsClientError(
  server,
  req,
  socket,
  code,
  message,
  headers
) {
  if (server.listenerCount('wsClientError')) {
    const err = new Error(message);
    Error.captureStackTrace(err, abortHandshakeOrEmitwsClientError);

    server.emit('wsClientError', err, socket, req);
  } else {
    abortHandshake(socket, code, message, headers);
  }
}
