/* eslint no-unused-vars: ["error", { "varsIgnorePattern": "^Duplex$" }] */

'use strict';

const { Buffer } = require('buffer');
const EventEmitter = require('events');
const http = require('http');
const { Duplex } = require('stream');

const debug = require('./debug');
const PerMessageDeflate = require('./permessage-deflate');
const nativeListener = require('./transport/native-listener');
const IdleTracker = require('./idle');
const { listenReusingPort } = require('./reuse-port');
const Topics = require('./topics');
const { WebSocketHandlers, openConnection } = require('./server-websocket');
const upgrade = require('./upgrade');
const WebSocket = require('./websocket');
const { acceptKey } = require('./binding');
const {
  CLOSE_TIMEOUT,
  EMPTY_BUFFER,
  kWebSocket,
  NO_EXTENSIONS,
  NOOP
} = require('./constants');
const { isOwnedByHttp, takeFromHttp } = require('./http-takeover');
const { NativeConnection } = require('./transport/native-connection');
const {
  CLOSED,
  CLOSING,
  RUNNING,
  checkHandshake,
  parseExtensions,
  parseProtocols,
  readHandshake
} = require('./handshake');

const DEFAULT_OPTIONS = {
  allowSynchronousEvents: true,
  autoPong: true,
  backlog: null, // `net` picks its own default (511)
  clientTracking: true,
  closeTimeout: CLOSE_TIMEOUT,
  handleProtocols: null,
  host: null,
  maxBufferedAmount: 128 * 1024 * 1024, // see js/websocket.js
  maxBufferedChunks: 256 * 1024,
  //
  // No fragment count limit (ws: 16Ki): a fragment costs no memory of its
  // own here (see the README, "Limits"), and Autobahn's 9.3.x/9.4.x send
  // legitimate messages of up to 64Ki fragments.
  //
  maxFragments: 0,
  maxPayload: 100 * 1024 * 1024,
  maxPendingAutoPongs: 60,
  noServer: false,
  path: null,
  perMessageDeflate: false,
  port: null,
  server: null,
  skipUTF8Validation: false,
  verifyClient: null
};

const kServer = Symbol('ws-native-server');

const VERSION_ERROR = 'Missing or invalid Sec-WebSocket-Version header';

//
// How long a server passed as `{ server }` may stay not listening before we
// suspect that the application listens on another one (Koa's `app.listen()`).
//
const LISTEN_CHECK_DELAY = 1000;

let warnedNotListening = false;

/**
 * A WebSocket server, with the API of ws's `WebSocketServer`.
 *
 * @extends EventEmitter
 */
class WebSocketServer extends EventEmitter {
  /**
   * Creates a `WebSocketServer`. Exactly one of `port`, `server` and
   * `noServer` must be given.
   *
   * @param {Object} options Configuration options
   * @param {Boolean} [options.allowSynchronousEvents=true] Whether
   *     `'message'`, `'ping'` and `'pong'` may be emitted more than once in
   *     the same tick
   * @param {Boolean} [options.autoPong=true] Whether to answer pings with
   *     pongs automatically
   * @param {Number} [options.backlog=511] The length of the queue of pending
   *     connections (`port` mode)
   * @param {Boolean} [options.clientTracking=true] Whether to keep the open
   *     connections in `clients`
   * @param {Number} [options.closeTimeout=30000] How long, in milliseconds, a
   *     connection waits for the closing handshake after `close()`
   * @param {Function} [options.handleProtocols] Picks the subprotocol from the
   *     offered ones: `(protocols, req) => String|false`
   * @param {Number} [options.connectionsCheckingInterval=30000] How often
   *     Node checks `headersTimeout` and `requestTimeout` (`port` mode)
   * @param {Number} [options.headersTimeout=60000] How long a client may
   *     take to send the handshake's headers (`port` mode, Node's option)
   * @param {String} [options.host] The host to listen on (`port` mode)
   * @param {Number} [options.maxBufferedAmount=134217728] The most bytes a
   *     connection may hold for a peer that does not read; past it, the
   *     connection emits `'error'` and is dropped (0: no limit)
   * @param {Number} [options.maxBufferedChunks=262144] The most pieces a
   *     message may be received in
   * @param {Number} [options.maxFragments=0] The most frames a message may
   *     be made of (0: no limit)
   * @param {Number} [options.maxPayload=104857600] The largest message
   *     accepted, in bytes
   * @param {Number} [options.idleTimeout=0] Seconds a connection may stay
   *     silent (nothing received) before it is dropped; 0: no limit
   * @param {Boolean} [options.sendPings=true] With `idleTimeout`, ping a
   *     connection silent for half of it (a live peer's pong counts as
   *     traffic)
   * @param {Number} [options.maxPendingAutoPongs=60] The most automatic pongs
   *     that may wait to be written
   * @param {Boolean} [options.noServer=false] Use no HTTP server: the
   *     application calls `handleUpgrade()` or `upgrade()`
   * @param {String} [options.path] Accept only requests for this path
   * @param {Boolean} [options.reusePort=false] Listen with `SO_REUSEPORT`
   *     (`port` mode): several processes (cluster workers, PM2 instances)
   *     may listen on the port, each with the native listener, and the
   *     kernel spreads the connections between them
   * @param {Number} [options.requestTimeout=300000] How long a client may
   *     take to send the whole handshake request (`port` mode, Node's
   *     option)
   * @param {(Boolean|Object)} [options.perMessageDeflate=false] Enable/disable
   *     permessage-deflate (ws's options: `serverNoContextTakeover`,
   *     `clientNoContextTakeover`, `serverMaxWindowBits`,
   *     `clientMaxWindowBits`, `zlibDeflateOptions`, `threshold`, ...)
   * @param {Number} [options.port] Create an HTTP server listening on this
   *     port
   * @param {(http.Server|https.Server)} [options.server] Handle the upgrade
   *     requests of this HTTP/S server
   * @param {Boolean} [options.skipUTF8Validation=false] Whether to skip the
   *     UTF-8 validation of text messages
   * @param {Function} [options.verifyClient] Accepts or refuses a handshake:
   *     `(info) => Boolean` or `(info, cb) => void`
   * @param {Function} [options.WebSocket=WebSocket] The class of the
   *     connections: `WebSocket` or a subclass of it
   * @param {Function} [callback] A listener for `'listening'` (`port` mode)
   */
  constructor(options, callback) {
    super();

    options = { ...DEFAULT_OPTIONS, WebSocket, ...options };

    const modes =
      (options.port != null) +
      Boolean(options.server) +
      Boolean(options.noServer);

    if (modes !== 1) {
      throw new TypeError(
        'One and only one of the "port", "server", or "noServer" options ' +
          'must be specified'
      );
    }

    this._server = null;
    this._listener = null;
    this._socketOptions = undefined;
    this._removeListeners = null;
    this._listenCheck = null;

    if (options.port != null) {
      this._server = http.createServer(
        httpServerOptions(options),
        answerUpgradeRequired
      );

      //
      // Rust listens and upgrades plain requests itself; the HTTP server
      // gets every other connection (js/native-listener.js).
      //
      if (nativeListener.canListen(options)) {
        this._listener = new nativeListener.NativeListener(this, this._server);
        if (callback) this._server.once('listening', callback);
        this._listener.listen(
          options.port,
          options.host,
          options.backlog,
          options.reusePort
        );
      } else if (options.reusePort) {
        //
        // Node's server, on a socket bound with SO_REUSEPORT (Node's own
        // `reusePort` needs 22.12 or later).
        //
        if (callback) this._server.once('listening', callback);
        listenReusingPort(
          this._server,
          options.port,
          options.host == null ? undefined : options.host,
          options.backlog == null ? undefined : options.backlog
        );
      } else {
        this._server.listen(
          options.port,
          options.host,
          options.backlog,
          callback
        );
      }
    } else if (options.server) {
      this._server = options.server;

      if (this._server.listening === false) {
        this._listenCheck = setTimeout(
          checkListening,
          LISTEN_CHECK_DELAY,
          this
        );
        this._listenCheck.unref();
      }
    }

    if (this._server) this._removeListeners = listenTo(this, this._server);

    if (options.perMessageDeflate === true) options.perMessageDeflate = {};

    //
    // ws passes these to zlib only on the first message, which then throws;
    // refuse them before a connection depends on them.
    //
    if (options.perMessageDeflate) {
      PerMessageDeflate.validateOptions(options.perMessageDeflate);
    }

    if (options.clientTracking) {
      this.clients = new Set();
      this._shouldEmitClose = false;
    }

    //
    // Topics (pub/sub); with an adapter, shared with other servers.
    //
    this._topics = new Topics(options.adapter || null);

    //
    // The heartbeat ws users write by hand: a connection silent for
    // `idleTimeout` seconds is pinged at half of it (with `sendPings`) and
    // dropped at its end.
    //
    this._idle =
      options.idleTimeout > 0 && options.websocket == null
        ? new IdleTracker(
            options.idleTimeout * 1000,
            options.sendPings !== false,
            idlePing,
            idleDrop
          )
        : null;

    //
    // The Bun model: handlers instead of `'connection'` and a WebSocket.
    //
    this._handlers =
      options.websocket == null
        ? null
        : new WebSocketHandlers(options.websocket, this._topics);

    this.options = options;
    this._state = RUNNING;
  }

  /**
   * Publishes a message to every subscriber of a topic (and, with an
   * adapter, to those of the other servers sharing it).
   *
   * @param {String} topic The topic
   * @param {*} data The message
   * @param {Object} [options] Options
   * @param {Boolean} [options.binary] Whether the message is binary (by
   *     default, unless it is a string)
   * @param {Boolean} [options.compress=true] Whether to compress it, where
   *     permessage-deflate was negotiated
   * @return {Boolean} Whether a local subscriber was sent it
   * @throws {TypeError} If `topic` is not a non-empty string
   * @public
   */
  publish(topic, data, options) {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new TypeError('publish() requires a non-empty topic name (a string)');
    }

    return this._topics.publish(topic, data, options, null) !== 0;
  }

  /**
   * @param {String} topic The topic
   * @return {Number} How many connections of this server are subscribed to
   *     it
   * @public
   */
  subscriberCount(topic) {
    return this._topics.subscriberCount(topic);
  }

  /**
   * Returns the address the HTTP server is bound to, as `server.address()`
   * does.
   *
   * @return {(Object|String|null)} The address, or `null` once closed
   * @throws {Error} In `noServer` mode
   * @public
   */
  address() {
    if (this.options.noServer) {
      throw new Error('The server is operating in "noServer" mode');
    }

    if (this._listener) return this._listener.address();

    return this._server ? this._server.address() : null;
  }

  /**
   * Stops accepting connections. `'close'` is emitted once the server is done:
   * in `port` mode when the HTTP server has closed, otherwise when the last
   * tracked connection has closed. The open connections are left alone.
   *
   * @param {Function} [cb] Called on `'close'`, with an error if the server
   *     was already closed
   * @public
   */
  close(cb) {
    if (this._state === CLOSED) {
      if (cb) {
        this.once('close', () => cb(new Error('The server is not running')));
      }

      process.nextTick(emitClose, this);
      return;
    }

    if (cb) this.once('close', cb);
    if (this._state === CLOSING) return;

    this._state = CLOSING;
    clearTimeout(this._listenCheck);

    if (this._handlers !== null) this._handlers.stop();
    if (this._idle !== null) this._idle.stop();

    if (this._topics.adapter !== null) {
      //
      // Its failures are reported on the adapter (`'error'`).
      //
      this._topics.adapter.close().catch(NOOP);
    }

    const server = this._server;

    if (server) {
      this._removeListeners();
      this._removeListeners = this._server = null;
    }

    if (this.options.port != null) {
      //
      // We created the HTTP server, so we close it, and we are closed when it
      // is: `server.close()` waits for every connection, upgraded ones too.
      //
      if (this._listener) {
        const listener = this._listener;

        this._listener = null;
        listener.close(() => emitClose(this));
      } else {
        server.close(() => emitClose(this));
      }
    } else if (this.clients && this.clients.size) {
      this._shouldEmitClose = true;
    } else {
      process.nextTick(emitClose, this);
    }
  }

  /**
   * Shuts the server down gracefully: stops accepting (as `close()`), sends
   * each open connection a close frame (1001 "Server shutting down" by
   * default), and resolves once they are all closed and the server is;
   * connections still open after `timeout` milliseconds are terminated.
   * For a worker that gets SIGTERM (or SIGINT from PM2):
   * `process.on('SIGTERM', () => wss.shutdown().then(() => process.exit(0)))`.
   * Without `clientTracking` (and handlers), the connections cannot be
   * listed: only the server closes.
   *
   * @param {Object} [options] Options
   * @param {Number} [options.code=1001] The close code sent
   * @param {String} [options.reason='Server shutting down'] The reason
   * @param {Number} [options.timeout=10000] How long to wait before the
   *     connections still open are terminated
   * @return {Promise<void>}
   * @public
   */
  shutdown(options = {}) {
    const code = options.code === undefined ? 1001 : options.code;
    const reason =
      options.reason === undefined ? 'Server shutting down' : options.reason;
    const timeout = options.timeout === undefined ? 10000 : options.timeout;
    const open = [];

    if (this.clients) open.push(...this.clients);
    if (this._handlers !== null) open.push(...this._handlers.connections);

    const done = [
      new Promise((resolve) => {
        if (this._state === CLOSED) resolve();
        else this.close(() => resolve());
      })
    ];

    for (const ws of open) {
      if (ws._light !== true) {
        done.push(
          ws.readyState === ws.CLOSED
            ? Promise.resolve()
            : new Promise((resolve) => ws.once('close', () => resolve()))
        );
      }

      ws.close(code, reason);
    }

    if (this._handlers !== null) done.push(this._handlers.whenEmpty());

    const timer = setTimeout(() => {
      for (const ws of open) {
        if (ws.readyState !== ws.CLOSED || ws._light === true) ws.terminate();
      }
    }, timeout);

    timer.unref();
    return Promise.all(done).then(() => clearTimeout(timer));
  }

  /**
   * Tells whether this server handles a request: with the `path` option, only
   * requests for that path (the query string aside). Override it to route
   * requests some other way.
   *
   * @param {http.IncomingMessage} req The request
   * @return {Boolean} `true` to handle the request, else `false`
   * @public
   */
  shouldHandle(req) {
    if (!this.options.path) return true;

    const query = req.url.indexOf('?');
    const pathname = query === -1 ? req.url : req.url.slice(0, query);

    return pathname === this.options.path;
  }

  /**
   * An upgrade request the native listener checked and parsed (`port`
   * mode).
   *
   * @param {http.IncomingMessage} req The request
   * @param {NativeConnection} conn Its connection
   * @private
   */
  _onNativeUpgrade(req, conn) {
    this.handleUpgrade(req, conn, EMPTY_BUFFER, (ws) => {
      this.emit('connection', ws, req);
    });
  }

  /**
   * Handles an HTTP upgrade request the way ws does: it checks the handshake,
   * asks `verifyClient`, then writes the 101 response and calls `cb` with the
   * new connection, or answers the request with an error status and closes
   * the socket (or emits `'wsClientError'` for a malformed handshake, when
   * that event has listeners).
   *
   * @param {http.IncomingMessage} req The request
   * @param {Duplex} socket The socket of the request
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Function} cb Called with `(ws, req)` once upgraded
   * @public
   */
  handleUpgrade(req, socket, head, cb) {
    //
    // A connection of the native listener comes as itself: Rust owns it,
    // and its socket is made only if the application asks for one.
    //
    if (!(socket instanceof NativeConnection)) {
      socket.on('error', destroySocket);
    }

    const values = readHandshake(req);

    //
    // Rust checked a request its listener upgraded (js/native-listener.js).
    //
    const failure =
      req[nativeListener.kAccept] === undefined
        ? checkHandshake(values, false)
        : null;

    if (failure !== null) {
      const [code, message] = failure;
      const headers =
        message === VERSION_ERROR ? { 'Sec-WebSocket-Version': '13, 8' } : null;

      refuseOrEmitClientError(this, req, socket, code, message, headers);
      return;
    }

    if (!this.shouldHandle(req)) {
      refuse(socket, 400);
      return;
    }

    let protocols;
    let extensions;

    try {
      protocols = parseProtocols(req);
    } catch {
      const message = 'Invalid Sec-WebSocket-Protocol header';

      refuseOrEmitClientError(this, req, socket, 400, message);
      return;
    }

    try {
      extensions = parseExtensions(this.options, req);
    } catch {
      const message = 'Invalid or unacceptable Sec-WebSocket-Extensions header';

      refuseOrEmitClientError(this, req, socket, 400, message);
      return;
    }

    const key = values.key;
    const verifyClient = this.options.verifyClient;

    if (!verifyClient) {
      this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
      return;
    }

    const accept = () => {
      this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
    };

    //
    // A version 8 client (hybi-08) sends its origin in `Sec-WebSocket-Origin`.
    //
    const legacy = values.version === '8';

    //
    // A request made by hand (@fastify/websocket's `injectWS`) may have no
    // `socket` (ws throws then): the socket given is asked instead.
    //
    const reqSocket =
      socket instanceof NativeConnection ? null : req.socket || socket;
    const info = {
      origin: req.headers[legacy ? 'sec-websocket-origin' : 'origin'],
      secure:
        reqSocket !== null &&
        Boolean(reqSocket.authorized || reqSocket.encrypted),
      req
    };

    if (verifyClient.length !== 2) {
      if (verifyClient(info)) accept();
      else refuse(socket, 401);
      return;
    }

    verifyClient(info, (verified, code, message, headers) => {
      if (verified) accept();
      else refuse(socket, code || 401, message, headers);
    });
  }

  /**
   * Writes the 101 response and turns the socket into a WebSocket connection.
   *
   * @param {Object} extensions The accepted extensions
   * @param {String} key The `Sec-WebSocket-Key` of the request
   * @param {Set<String>} protocols The offered subprotocols
   * @param {http.IncomingMessage} req The request
   * @param {Duplex} socket The socket of the request
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Function} cb Called with `(ws, req)` once upgraded
   * @param {Object} [bun] From `upgrade()`: `headers` (validated
   *     `[name, value]` pairs for the 101), `protocol` (the subprotocol named
   *     in those headers, if any) and `data` (for `ws.data`)
   * @throws {Error} If the socket was already upgraded
   * @private
   */
  completeUpgrade(extensions, key, protocols, req, socket, head, cb, bun) {
    const native = socket instanceof NativeConnection;

    //
    // The client may have gone (or half-closed) while `verifyClient` ran.
    //
    if (native ? !socket.usable : !socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }

    if (native ? socket._owner !== null : socket[kWebSocket]) {
      throw new Error(
        'server.handleUpgrade() was called more than once with the same ' +
          'socket, possibly due to a misconfiguration'
      );
    }

    if (this._state !== RUNNING) {
      refuse(socket, 503);
      return;
    }

    //
    // Called from a `'request'` listener, the socket still belongs to the
    // HTTP server: its parser would read our frames as HTTP, its timeouts
    // would kill the connection, and the framework would answer the request.
    //
    if (!native && isOwnedByHttp(socket)) takeFromHttp(req, socket);

    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${req[nativeListener.kAccept] || acceptKey(key)}`
    ];

    const protocol =
      bun && bun.protocol !== undefined
        ? bun.protocol
        : selectProtocol(this.options.handleProtocols, protocols, req);

    if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);

    const deflate = extensions[PerMessageDeflate.extensionName];

    if (deflate) lines.push(`Sec-WebSocket-Extensions: ${deflate._header}`);

    if (bun) {
      for (const [name, value] of bun.headers) lines.push(`${name}: ${value}`);
    }

    //
    // Listeners may still add, change or remove lines.
    //
    this.emit('headers', lines, req);

    if (this._handlers !== null) {
      //
      // Handler-based (the `websocket` option): a ServerWebSocket, whose
      // `open` has run when it is returned.
      //
      if (!native) socket.removeListener('error', destroySocket);
      if (debug.enabled) debug('= open: %s %s', req.method, req.url);

      const sws = openConnection(
        this._handlers,
        socket,
        head,
        deflate ? extensions : NO_EXTENSIONS,
        protocol || '',
        bun ? bun.data : undefined,
        `${lines.join('\r\n')}\r\n\r\n`
      );

      cb(sws, req);
      return;
    }

    const ws = new this.options.WebSocket(null, undefined, this.options);

    ws._topics = this._topics;
    if (protocol) ws._protocol = protocol;
    if (this._idle !== null) {
      ws._idle = this._idle;
      ws._idlePrev = ws._idleNext = ws._idleList = null;
      ws._idleSeen = 0;
      this._idle.add(ws);
    }
    if (deflate) ws._extensions = extensions;
    if (bun) ws.data = bun.data;

    if (this._socketOptions === undefined) {
      this._socketOptions = Object.freeze({
        allowSynchronousEvents: this.options.allowSynchronousEvents,
        autoPong: this.options.autoPong,
        maxBufferedChunks: this.options.maxBufferedChunks,
        maxFragments: this.options.maxFragments,
        maxPayload: this.options.maxPayload,
        skipUTF8Validation: this.options.skipUTF8Validation
      });
    }

    //
    // The handshake's `'error'` listener goes once the connection's own are
    // on: the socket never has none, and its listener store stays compact.
    //
    ws.setSocket(socket, head, this._socketOptions);
    if (!native) socket.removeListener('error', destroySocket);

    //
    // Written through the connection, after `setSocket()`: with the native
    // transport, Rust writes it, without the stream machinery. No frame can
    // go out before it, as the application gets `ws` after this.
    //
    ws._conn.write(`${lines.join('\r\n')}\r\n\r\n`);

    if (this.clients) {
      this.clients.add(ws);

      //
      // A shared listener rather than a closure: an idle connection should
      // cost little.
      //
      ws[kServer] = this;
      ws.on('close', clientOnClose);
    }

    if (debug.enabled) debug('= open: %s %s', req.method, req.url);

    cb(ws, req);
  }

  /**
   * Takes a request over as a WebSocket connection, Bun style. Call it from a
   * `'request'` listener (plain `http`, a Koa middleware with `ctx.req`, an
   * Express route), even on a server started with `app.listen()`, or from an
   * `'upgrade'` listener.
   *
   * It returns `true` when the request is a valid WebSocket upgrade: the
   * socket is then ours, whatever the application does with the response,
   * and `'connection'` follows in a later tick, with `ws.data` set to
   * `options.data`. It returns `false`, having written nothing, when the
   * request is not a valid upgrade (a plain GET, say), was already answered
   * or upgraded, or the server is closing: the caller answers the request,
   * and `upgradeError(req)` tells why. `verifyClient` is not called: the
   * caller decides.
   *
   * @param {http.IncomingMessage} req The request (a Koa context will do)
   * @param {Object} [options] Options
   * @param {*} [options.data] The value of `ws.data`
   * @param {(Object|Headers|Array)} [options.headers] Extra headers for the
   *     101 response; a `Sec-WebSocket-Protocol` header picks the subprotocol
   * @param {Buffer} [options.head] The first packet of the upgraded stream,
   *     as given to an `'upgrade'` listener
   * @return {Boolean} `true` if the request was taken over, else `false`
   * @public
   */
  upgrade(req, options) {
    return upgrade.upgrade(this, req, options);
  }

  /**
   * Tells why `upgrade(req)` would refuse a request.
   *
   * @param {http.IncomingMessage} req The request (a Koa context will do)
   * @return {(Object|null)} `null` if the request can be upgraded, else the
   *     `status` to answer with, a `message` that names the cause and the
   *     fix, and `headers` to answer with
   * @public
   */
  upgradeError(req) {
    return upgrade.upgradeError(this, req);
  }
}

module.exports = WebSocketServer;

/**
 * Picks the subprotocol of a connection: `handleProtocols` decides if given,
 * else the client's first choice.
 *
 * @param {(Function|null)} handleProtocols The `handleProtocols` option
 * @param {Set<String>} protocols The offered subprotocols
 * @param {http.IncomingMessage} req The request
 * @return {(String|false|undefined)} The subprotocol, if any
 * @private
 */
function selectProtocol(handleProtocols, protocols, req) {
  if (protocols.size === 0) return undefined;
  if (handleProtocols) return handleProtocols(protocols, req);

  const [first] = protocols;
  return first;
}

/**
 * The options of the HTTP server created in `port` mode: Node's timeouts
 * for requests, which are what drops a handshake that never completes (a
 * slowloris client). Node's defaults: `headersTimeout` 60 s,
 * `requestTimeout` 300 s, both checked every `connectionsCheckingInterval`
 * (30 s). An upgraded connection is no longer subject to them.
 *
 * @param {Object} options The `WebSocketServer` options
 * @return {Object} The options given among those
 * @private
 */
function httpServerOptions(options) {
  const result = {};

  for (const name of [
    'connectionsCheckingInterval',
    'headersTimeout',
    'requestTimeout'
  ]) {
    if (options[name] !== undefined) result[name] = options[name];
  }

  return result;
}

/**
 * The idle tracker: a connection silent for half of `idleTimeout`.
 *
 * @param {WebSocket} ws The connection
 * @private
 */
function idlePing(ws) {
  if (ws.readyState === ws.OPEN) ws.ping();
}

/**
 * The idle tracker: a connection silent for all of `idleTimeout` is sent a
 * close frame (1001 "Idle timeout") and dropped at once (its `'close'` then
 * says 1006, as for `terminate()`).
 *
 * @param {WebSocket} ws The connection
 * @private
 */
function idleDrop(ws) {
  if (ws.readyState !== ws.OPEN) return;
  ws.close(1001, 'Idle timeout');
  ws.terminate();
}

/**
 * Answers a plain HTTP request sent to the server created in `port` mode.
 *
 * @param {http.IncomingMessage} req The request
 * @param {http.ServerResponse} res The response
 * @private
 */
function answerUpgradeRequired(req, res) {
  const body = http.STATUS_CODES[426];

  res.writeHead(426, {
    'Content-Length': body.length,
    'Content-Type': 'text/plain'
  });
  res.end(body);
}

/**
 * Forwards the events of the HTTP server that concern a `WebSocketServer`.
 *
 * @param {WebSocketServer} wss The WebSocket server
 * @param {http.Server} server The HTTP server
 * @return {Function} Removes the listeners
 * @private
 */
function listenTo(wss, server) {
  const listeners = [
    ['listening', () => wss.emit('listening')],
    ['error', (err) => wss.emit('error', err)],
    [
      'upgrade',
      (req, socket, head) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          wss.emit('connection', ws, req);
        });
      }
    ]
  ];

  for (const [event, listener] of listeners) server.on(event, listener);

  return () => {
    for (const [event, listener] of listeners) {
      server.removeListener(event, listener);
    }
  };
}

/**
 * Warns, once per process, that the server given as `{ server }` is still
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
 * The `'close'` listener of a tracked client.
 *
 * @private
 */
function clientOnClose() {
  const wss = this[kServer];

  wss.clients.delete(this);

  if (wss._shouldEmitClose && wss.clients.size === 0) {
    process.nextTick(emitClose, wss);
  }
}

/**
 * Marks a `WebSocketServer` closed and emits `'close'`.
 *
 * @param {WebSocketServer} wss The WebSocket server
 * @private
 */
function emitClose(wss) {
  wss._state = CLOSED;
  wss.emit('close');
}

/**
 * Destroys a socket that errors during the handshake.
 *
 * @private
 */
function destroySocket() {
  this.destroy();
}

/**
 * Answers a handshake with an error status and closes the socket once the
 * answer is written. The bytes are ws's, so clients see no difference.
 *
 * @param {Duplex} socket The socket of the request
 * @param {Number} code The HTTP status
 * @param {String} [message] The body, the status text by default
 * @param {Object} [headers] Extra headers, after the standard ones
 * @private
 */
function refuse(socket, code, message, headers) {
  const reason = http.STATUS_CODES[code];
  const body = message || reason;
  const fields = {
    Connection: 'close',
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(body),
    ...headers
  };

  let response = `HTTP/1.1 ${code} ${reason}\r\n`;

  for (const name of Object.keys(fields)) {
    response += `${name}: ${fields[name]}\r\n`;
  }

  if (debug.enabled) debug('! handshake refused: %d %s', code, body);

  if (socket instanceof NativeConnection) {
    socket.refuse(`${response}\r\n${body}`);
    return;
  }

  //
  // If the socket was already ended or destroyed (by `verifyClient`, say),
  // this write fails, and the `'error'` listener destroys the socket.
  //
  socket.once('finish', socket.destroy);
  socket.end(`${response}\r\n${body}`);
}

/**
 * Reports a malformed handshake: through `'wsClientError'` if it has
 * listeners (they answer the socket themselves), else by answering it.
 *
 * @param {WebSocketServer} wss The WebSocket server
 * @param {http.IncomingMessage} req The request
 * @param {Duplex} socket The socket of the request
 * @param {Number} code The HTTP status
 * @param {String} message The body, and the error message
 * @param {Object} [headers] Extra headers
 * @private
 */
function refuseOrEmitClientError(wss, req, socket, code, message, headers) {
  if (wss.listenerCount('wsClientError') === 0) {
    refuse(socket, code, message, headers);
    return;
  }

  const err = new Error(message);

  Error.captureStackTrace(err, refuseOrEmitClientError);
  wss.emit(
    'wsClientError',
    err,
    socket instanceof NativeConnection ? socket.socket : socket,
    req
  );
}
