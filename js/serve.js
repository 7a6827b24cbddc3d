'use strict';

const { Buffer } = require('buffer');
const cluster = require('cluster');
const http = require('http');
const https = require('https');
const net = require('net');
const { Readable } = require('stream');

const debug = require('./debug');
const nativeListener = require('./transport/native-listener');
const WebSocketServer = require('./websocket-server');
const { NativeConnection } = require('./transport/native-connection');
const { parseExtensions, parseProtocols, readHandshake, checkHandshake } = require('./handshake');
const { listenReusingPort } = require('./reuse-port');
const { readOptions } = require('./upgrade');
const { EMPTY_BUFFER } = require('./constants');
const { native } = require('./binding');

//
// Bun's `serve()`: `fetch(request, server)` answers every HTTP request with
// a WHATWG `Response`, and calls `server.upgrade(request)` to take a
// WebSocket handshake over; the connections are handler-based (see
// js/server-websocket.js). The `Request` and `Response` classes are Node's
// own (undici's): the conversion from and to Node's `http` objects is a few
// lines here rather than an adapter package, because `upgrade()` needs the
// link from a `Request` back to its socket (the native listener's
// connection, or Node's), which no adapter keeps.
//
// Requests: a plain request comes from Node's HTTP server; an upgrade
// request from its `'upgrade'` event, or, in the common case, from the
// native listener, which parsed and checked it in Rust: if `fetch` upgrades
// it, the connection never goes through Node's HTTP machinery at all.
//

const kServer = Symbol('ws-native-serve');

//
// What a request is waiting for.
//
const PENDING = 0;
const UPGRADED = 1;
const ANSWERED = 2;

/**
 * The server `serve()` returns.
 */
class Server {
  /**
   * @param {Object} options See `serve()`
   */
  constructor(options) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('serve() needs an options object with a fetch() handler');
    }

    if (typeof options.fetch !== 'function') {
      throw new TypeError(
        'serve() needs a fetch(request, server) handler: it answers HTTP ' +
          'requests and calls server.upgrade(request) for WebSocket ones'
      );
    }

    if (options.error !== undefined && typeof options.error !== 'function') {
      throw new TypeError('The "error" option must be a function');
    }

    this._fetch = options.fetch;
    this._error = options.error || null;
    this._contexts = new WeakMap();
    this._pendingRequests = 0;
    this._stopping = null;
    this._listener = null;
    this._tls = options.tls != null;

    const websocket = options.websocket;

    this._wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      websocket: websocket == null ? undefined : websocket,
      perMessageDeflate: deflateOptions(websocket && websocket.perMessageDeflate),
      adapter: options.adapter
    });

    const onRequest = (req, res) => this._onRequest(req, res);

    this._http = this._tls
      ? https.createServer(options.tls, onRequest)
      : http.createServer(onRequest);
    this._http[kServer] = this;
    this._http.on('upgrade', (req, socket, head) => {
      this._onUpgradeRequest(req, socket, head);
    });
    this._http.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      else socket.destroy();
    });

    const port = options.port == null ? defaultPort() : options.port;

    this.hostname = options.hostname == null ? '0.0.0.0' : options.hostname;
    this.development = false;

    const reusePort = !!options.reusePort;
    const listen = { port, host: this.hostname, reusePort };

    if (!this._tls && nativeListener.canListen(listen)) {
      this._listener = new nativeListener.NativeListener(this, this._http);
      this._listener.listen(port, this.hostname, undefined, reusePort);
    } else if (cluster.isWorker && !reusePort) {
      //
      // The primary's socket, shared by the workers (round robin).
      //
      this._http.listen(port, this.hostname);
    } else {
      listenNow(this._http, port, this.hostname, reusePort);
    }

    //
    // Resolves once listening (the native listener binds at once, Node's
    // after a lookup of the host); rejects on a listen error.
    //
    this.ready = new Promise((resolve, reject) => {
      this._http.once('listening', () => resolve(this));
      this._http.once('error', reject);
    });
    this.ready.catch(noop);
  }

  /**
   * The port the server listens on (`undefined` until it is known: at once
   * with the native listener, else once `ready` resolves).
   *
   * @type {(Number|undefined)}
   */
  get port() {
    const address = this._address();
    return address ? address.port : undefined;
  }

  /**
   * @type {URL}
   */
  get url() {
    const host =
      this.hostname === '0.0.0.0' || this.hostname === '::'
        ? 'localhost'
        : this.hostname;
    const scheme = this._tls ? 'https' : 'http';

    return new URL(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${this.port}/`);
  }

  /**
   * WebSocket connections open now.
   *
   * @type {Number}
   */
  get pendingWebSockets() {
    const handlers = this._wss._handlers;
    return handlers === null ? 0 : handlers.connections.size;
  }

  /**
   * HTTP requests whose `fetch` has not answered yet.
   *
   * @type {Number}
   */
  get pendingRequests() {
    return this._pendingRequests;
  }

  /**
   * @return {(Object|null)} The bound address
   * @private
   */
  _address() {
    return this._listener !== null ? this._listener.address() : this._http.address();
  }

  /**
   * Takes a WebSocket handshake over: the 101 goes out, `open` runs, and
   * `true` is returned. `false` (nothing written) when `request` is not a
   * valid upgrade request of this server (a plain request, a bad key or
   * version, a `Request` made anew from it), was upgraded or answered
   * already, or the server is stopping; `upgradeError(request)` tells why.
   * Works after an `await` in `fetch`.
   *
   * @param {Request} request The request `fetch` was given
   * @param {Object} [options] `data` (the connection's `ws.data`) and
   *     `headers` (extra headers of the 101; a `Sec-WebSocket-Protocol`
   *     there picks the subprotocol)
   * @return {Boolean}
   * @throws {TypeError} Without `websocket` handlers
   */
  upgrade(request, options) {
    if (this._wss._handlers === null) {
      throw new TypeError(
        'server.upgrade() needs WebSocket handlers: pass serve({ ..., ' +
          'websocket: { open, message, close } })'
      );
    }

    const { data, headers, protocol } = readOptions(options);
    const why = this._refusal(request);

    if (why !== null) {
      if (debug.enabled) debug('! server.upgrade() returned false: %s', why.message);
      return false;
    }

    const ctx = this._contexts.get(request);
    const req = ctx.req;

    ctx.state = UPGRADED;

    this._wss.completeUpgrade(
      parseExtensions(this._wss.options, req),
      readHandshake(req).key,
      parseProtocols(req),
      req,
      ctx.socket,
      ctx.head,
      noop,
      { data, headers, protocol }
    );

    return true;
  }

  /**
   * Tells why `upgrade(request)` would return false.
   *
   * @param {Request} request The request
   * @return {(Object|null)} `null`, or `{ status, message }`
   */
  upgradeError(request) {
    return this._refusal(request);
  }

  /**
   * @param {Request} request The request
   * @return {(Object|null)} Why it cannot be upgraded
   * @private
   */
  _refusal(request) {
    const ctx = this._contexts.get(request);

    if (ctx === undefined) {
      return {
        status: 500,
        message:
          'This Request is not one this server gave to fetch(): pass the ' +
          'very object fetch() received (new Request(request) makes another)'
      };
    }

    if (ctx.state === UPGRADED) {
      return { status: 500, message: 'The request was already upgraded' };
    }

    if (ctx.state === ANSWERED) {
      return { status: 500, message: 'The request was already answered' };
    }

    if (this._stopping !== null) {
      return { status: 503, message: 'The server is stopping' };
    }

    if (ctx.socket === null) {
      const invalid = checkHandshake(readHandshake(ctx.req), true);

      return {
        status: invalid === null ? 400 : invalid[0],
        message:
          invalid === null
            ? 'A plain HTTP request: a WebSocket handshake comes with ' +
              '"Upgrade: websocket" and "Connection: Upgrade"'
            : `${invalid[1]}: this is not a valid WebSocket handshake`
      };
    }

    if (!(ctx.socket instanceof NativeConnection)) {
      const invalid = checkHandshake(readHandshake(ctx.req), true);

      if (invalid !== null) return { status: invalid[0], message: invalid[1] };
    }

    try {
      parseProtocols(ctx.req);
    } catch (err) {
      return { status: 400, message: `Invalid Sec-WebSocket-Protocol header (${err.message})` };
    }

    try {
      parseExtensions(this._wss.options, ctx.req);
    } catch (err) {
      return {
        status: 400,
        message: `Invalid or unacceptable Sec-WebSocket-Extensions header (${err.message})`
      };
    }

    const socket = ctx.socket;
    const gone =
      socket instanceof NativeConnection
        ? !socket.usable
        : socket.destroyed || !socket.readable || !socket.writable;

    if (gone) return { status: 500, message: 'The client went away' };
    return null;
  }

  /**
   * Publishes to every subscriber of a topic.
   *
   * @param {String} topic The topic
   * @param {*} data The message: text for a string, else binary
   * @param {Boolean} [compress=false] Whether to compress it
   * @return {Number} The message's length (at least 1) if every
   *     subscriber took it at once, -1 if one queued it behind
   *     backpressure, 0 if none was sent it
   */
  publish(topic, data, compress) {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new TypeError('publish requires a non-empty topic name');
    }

    return this._wss._topics.publish(
      topic,
      data,
      { binary: typeof data !== 'string', compress: !!compress },
      null
    );
  }

  /**
   * @param {String} topic The topic
   * @return {Number} Its subscribers in this server
   */
  subscriberCount(topic) {
    return this._wss._topics.subscriberCount(topic);
  }

  /**
   * @param {Request} request A request `fetch` was given
   * @return {(Object|null)} `{ address, family, port }` of its client
   */
  requestIP(request) {
    const ctx = this._contexts.get(request);

    if (ctx === undefined) return null;

    const socket =
      ctx.socket instanceof NativeConnection ? ctx.socket.socket : ctx.req.socket;

    if (!socket || socket.remoteAddress === undefined) return null;

    return {
      address: socket.remoteAddress,
      family: socket.remoteFamily,
      port: socket.remotePort
    };
  }

  /**
   * Stops accepting connections. With `closeActive`, every WebSocket gets
   * a close frame 1001 "Server closed" and every HTTP connection is
   * closed. The promise resolves once the listener and (with
   * `closeActive`) the connections are closed; without it, once the open
   * connections are gone on their own.
   *
   * @param {Boolean} [closeActive=false] Whether to close what is open
   * @return {Promise<void>}
   */
  stop(closeActive = false) {
    if (this._stopping === null) {
      this._stopping = new Promise((resolve) => {
        const handlers = this._wss._handlers;
        const listening = new Promise((done) => {
          if (this._listener !== null) this._listener.close(done);
          else if (this._http.listening) this._http.close(() => done());
          else done();
        });

        this._wss.close();

        if (closeActive) {
          if (typeof this._http.closeAllConnections === 'function') {
            this._http.closeAllConnections();
          }

          //
          // Newest first, as Bun does.
          //
          if (handlers !== null) {
            for (const ws of Array.from(handlers.connections).reverse()) {
              ws.close(1001, 'Server closed');
            }
          }
        }

        const gone =
          handlers === null ? Promise.resolve() : handlers.whenEmpty();

        Promise.all([listening, gone]).then(() => resolve());
      });
    }

    return this._stopping;
  }

  /**
   * Lets the process exit while the server listens (or not).
   *
   * @return {Server} this
   */
  unref() {
    if (this._listener !== null) this._listener.setRef(false);
    else this._http.unref();
    return this;
  }

  /**
   * @return {Server} this
   */
  ref() {
    if (this._listener !== null) this._listener.setRef(true);
    else this._http.ref();
    return this;
  }

  /**
   * A plain request, from Node's HTTP server.
   *
   * @param {http.IncomingMessage} req The request
   * @param {http.ServerResponse} res The response
   * @private
   */
  _onRequest(req, res) {
    const request = toRequest(req, this._tls, this.hostname, true);

    this._contexts.set(request, { req, socket: null, head: null, state: PENDING });
    this._pendingRequests++;
    this._run(request, (response) => {
      this._pendingRequests--;
      writeResponse(req, res, response);
    });
  }

  /**
   * An upgrade request from Node's HTTP server.
   *
   * @param {http.IncomingMessage} req The request
   * @param {Duplex} socket The socket
   * @param {Buffer} head What followed the request
   * @private
   */
  _onUpgradeRequest(req, socket, head) {
    socket.on('error', destroySocket);
    this._candidate(req, socket, head);
  }

  /**
   * An upgrade request the native listener checked and parsed.
   *
   * @param {http.IncomingMessage} req The request
   * @param {NativeConnection} conn The connection
   * @private
   */
  _onNativeUpgrade(req, conn) {
    this._candidate(req, conn, EMPTY_BUFFER);
  }

  /**
   * A request `fetch` may upgrade: if it does not, its response goes out
   * on the raw connection, which then closes.
   *
   * @private
   */
  _candidate(req, socket, head) {
    const request = toRequest(req, this._tls, this.hostname, false);
    const ctx = { req, socket, head, state: PENDING };

    this._contexts.set(request, ctx);
    this._pendingRequests++;
    this._run(request, (response) => {
      this._pendingRequests--;

      if (ctx.state === UPGRADED) {
        if (!(socket instanceof NativeConnection)) {
          socket.removeListener('error', destroySocket);
        }

        return;
      }

      ctx.state = ANSWERED;
      writeRawResponse(socket, req, response);
    });
  }

  /**
   * Calls `fetch` and hands its response (or the error handler's, or a
   * 500) to `done`.
   *
   * @param {Request} request The request
   * @param {Function} done Called with the `Response` (or `undefined` after
   *     an upgrade)
   * @private
   */
  _run(request, done) {
    let result;

    try {
      result = this._fetch.call(this, request, this);
    } catch (err) {
      this._failed(request, err, done);
      return;
    }

    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then(
        (response) => this._answer(request, response, done),
        (err) => this._failed(request, err, done)
      );
    } else {
      this._answer(request, result, done);
    }
  }

  /**
   * @private
   */
  _answer(request, response, done) {
    const ctx = this._contexts.get(request);

    if (ctx.state === UPGRADED) {
      done(undefined);
      return;
    }

    if (!(response instanceof Response)) {
      this._failed(
        request,
        new TypeError(
          'fetch() must return a Response (or a Promise of one), or call ' +
            'server.upgrade(request) and return undefined; it returned ' +
            (response === undefined ? 'undefined' : typeof response)
        ),
        done
      );
      return;
    }

    done(response);
  }

  /**
   * `fetch` threw: the `error` option answers, or a 500.
   *
   * @private
   */
  _failed(request, err, done) {
    if (this._error !== null) {
      let result;

      try {
        result = this._error.call(this, err);
      } catch (err2) {
        err = err2;
        result = undefined;
      }

      Promise.resolve(result).then(
        (response) => done(response instanceof Response ? response : internalError(err)),
        (err2) => done(internalError(err2))
      );
      return;
    }

    console.error(err);
    done(internalError(err));
  }
}

/**
 * Starts a server, Bun style: `fetch(request, server)` answers each request
 * (a WHATWG `Request`) with a `Response`, or calls `server.upgrade(request)`
 * for a WebSocket handshake, whose connection then gets the `websocket`
 * handlers.
 *
 * @param {Object} options Options
 * @param {Function} options.fetch `(request, server) => Response | Promise`
 * @param {Function} [options.error] `(err) => Response`, for what `fetch`
 *     throws
 * @param {Object} [options.websocket] The handlers (`open`, `message`,
 *     `close`, `drain`, `ping`, `pong`, `error`, `dropped`) and their
 *     options (`maxPayloadLength`, `idleTimeout`, `sendPings`,
 *     `backpressureLimit`, `closeOnBackpressureLimit`, `publishToSelf`,
 *     `perMessageDeflate`)
 * @param {(Number|String)} [options.port] The port ($BUN_PORT, $PORT,
 *     $NODE_PORT or 3000)
 * @param {String} [options.hostname='0.0.0.0'] The address to listen on
 * @param {Object} [options.tls] `https.createServer()`'s options (`key`,
 *     `cert`, ...): HTTPS and wss
 * @param {Boolean} [options.reusePort=false] Listen with SO_REUSEPORT:
 *     several processes may serve the port (the kernel spreads the
 *     connections)
 * @param {Object} [options.adapter] A topics adapter (ws-native/redis)
 * @return {Server} The server, listening
 */
function serve(options) {
  return new Server(options);
}

/**
 * Bun's `perMessageDeflate` as ws's: `true` or `"shared"` compress without
 * context takeover (no memory kept per connection), `"dedicated"` or a
 * window size ("3KB" to "256KB") with it.
 *
 * @param {*} value The option
 * @return {(Boolean|Object)} ws's option
 * @private
 */
function deflateOptions(value) {
  if (!value) return false;
  if (value === true) return { serverNoContextTakeover: true, threshold: 0 };

  const compress = value.compress === undefined ? 'shared' : value.compress;

  if (compress === false || compress === 'disable') {
    return { serverNoContextTakeover: true, threshold: Infinity };
  }

  const bits = {
    '3KB': 9,
    '4KB': 10,
    '8KB': 11,
    '16KB': 12,
    '32KB': 13,
    '64KB': 14,
    '128KB': 15,
    '256KB': 15
  }[compress];

  if (compress === true || compress === 'shared') {
    return { serverNoContextTakeover: true, threshold: 0 };
  }

  return bits === undefined
    ? { threshold: 0 }
    : { threshold: 0, serverMaxWindowBits: bits };
}

/**
 * Has Node's server listen, bound at once where it can be (an IP address,
 * the addon at hand) so that `server.port` is known when `serve()` returns,
 * as in Bun; otherwise (a host name to look up) once `ready` resolves.
 *
 * @param {http.Server} server The server
 * @param {(Number|String)} port The port
 * @param {String} hostname The host
 * @param {Boolean} reusePort Whether to set SO_REUSEPORT
 * @private
 */
function listenNow(server, port, hostname, reusePort) {
  if (reusePort) {
    listenReusingPort(server, port, hostname);
    return;
  }

  if (native !== null && net.isIP(hostname) && Number.isInteger(+port)) {
    const fd = native.bind(hostname, +port, 511, false);

    if (fd >= 0) {
      server.listen({ fd });
      return;
    }

    //
    // Node's own attempt reports the error as Node words it.
    //
  }

  server.listen({ port, host: hostname });
}

/**
 * @return {Number} Bun's default port
 * @private
 */
function defaultPort() {
  for (const name of ['BUN_PORT', 'PORT', 'NODE_PORT']) {
    const value = process.env[name];

    if (value !== undefined && value !== '' && Number.isInteger(+value)) return +value;
  }

  return 3000;
}

/**
 * A WHATWG `Request` of a Node request.
 *
 * @param {http.IncomingMessage} req The request
 * @param {Boolean} tls Whether it came over TLS
 * @param {String} hostname The server's hostname
 * @param {Boolean} withBody Whether it may have a body
 * @return {Request}
 * @private
 */
function toRequest(req, tls, hostname, withBody) {
  const raw = req.rawHeaders;
  const scheme = tls ? 'https://' : 'http://';
  const method = req.method;
  let host = hostname;

  //
  // From the raw headers: `req.headers` would build an object that nothing
  // else may need (the first Host counts, as in Node).
  //
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') {
      if (raw[i + 1] !== '') host = raw[i + 1];
      break;
    }
  }

  let init;

  if (method !== 'GET') {
    init = { method };

    if (withBody && method !== 'HEAD') {
      init.body = Readable.toWeb(req);
      init.duplex = 'half';
    }
  }

  let request;

  try {
    request = new Request(`${scheme}${host}${req.url}`, init);
  } catch {
    //
    // A request line or Host header the URL parser refuses.
    //
    request = new Request(`${scheme}${hostname}/`, init);
  }

  //
  // Appended to the new Request's own headers: a `Headers` given to the
  // constructor would be copied into them, header by header, at about
  // twice the cost.
  //
  const headers = request.headers;

  for (let i = 0; i < raw.length; i += 2) {
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch {
      // A value the Headers class refuses (Node's parser is more lenient).
    }
  }

  return request;
}

/**
 * Writes a `Response` to Node's `ServerResponse`, streaming its body.
 *
 * @param {http.IncomingMessage} req The request
 * @param {http.ServerResponse} res The Node response
 * @param {Response} response The response
 * @private
 */
function writeResponse(req, res, response) {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;

  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    res.setHeader(name, value);
  }

  const cookies = response.headers.getSetCookie();

  if (cookies.length !== 0) res.setHeader('set-cookie', cookies);

  if (response.body === null || req.method === 'HEAD') {
    res.end();
    if (response.body !== null) response.body.cancel().catch(noop);
    return;
  }

  const body = Readable.fromWeb(response.body);

  body.on('error', (err) => {
    debug('! response body failed: %s', err.message);
    res.destroy(err);
  });
  res.on('close', () => body.destroy());
  body.pipe(res);
}

/**
 * Writes a `Response` on a connection that came as an upgrade request and
 * was not upgraded, then closes it.
 *
 * @param {(Duplex|NativeConnection)} socket The connection
 * @param {http.IncomingMessage} req The request
 * @param {Response} response The response
 * @private
 */
function writeRawResponse(socket, req, response) {
  response.arrayBuffer().then(
    (body) => {
      const bytes = req.method === 'HEAD' ? EMPTY_BUFFER : Buffer.from(body);
      let head =
        `HTTP/1.1 ${response.status} ` +
        `${response.statusText || http.STATUS_CODES[response.status] || ''}\r\n`;

      for (const [name, value] of response.headers) {
        if (name === 'set-cookie' || name === 'content-length' || name === 'connection') {
          continue;
        }

        head += `${name}: ${value}\r\n`;
      }

      for (const cookie of response.headers.getSetCookie()) {
        head += `set-cookie: ${cookie}\r\n`;
      }

      head += `content-length: ${bytes.length}\r\nconnection: close\r\n\r\n`;

      const all = Buffer.concat([Buffer.from(head, 'latin1'), bytes]);

      if (socket instanceof NativeConnection) {
        socket.refuse(all);
      } else {
        socket.once('finish', socket.destroy);
        socket.end(all);
      }
    },
    () => {
      if (socket instanceof NativeConnection) socket.destroy();
      else socket.destroy();
    }
  );
}

/**
 * @param {Error} err What failed
 * @return {Response} A 500
 * @private
 */
function internalError(err) {
  debug('! fetch failed: %s', err && err.message);
  return new Response('Internal Server Error', {
    status: 500,
    headers: { 'content-type': 'text/plain;charset=utf-8' }
  });
}

/**
 * Destroys a socket that errors before it is upgraded.
 *
 * @private
 */
function destroySocket() {
  this.destroy();
}

function noop() {}

module.exports = { Server, serve };
