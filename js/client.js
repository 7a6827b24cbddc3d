'use strict';

const { Buffer } = require('buffer');
const http = require('http');
const https = require('https');
const net = require('net');
const tls = require('tls');
const { randomBytes } = require('crypto');
const { unescape } = require('querystring');

const debug = require('./debug');
const PerMessageDeflate = require('./permessage-deflate');
const { format } = require('./extension');
const { checkResponse, responseHint } = require('./client-handshake');
const { CLOSE_TIMEOUT, CLOSING, CONNECTING } = require('./constants');
const { isToken } = require('./validation');

const kAborted = Symbol('kAborted');

const PROTOCOL_VERSIONS = [8, 13];

//
// ws's client defaults (permessage-deflate is offered by default).
//
const DEFAULT_OPTIONS = {
  allowSynchronousEvents: true,
  autoPong: true,
  closeTimeout: CLOSE_TIMEOUT,
  followRedirects: false,
  maxBufferedAmount: 128 * 1024 * 1024, // see js/websocket.js
  maxBufferedChunks: 256 * 1024,
  maxFragments: 0, // ws: 16Ki; see DEFAULT_OPTIONS in websocket-server.js
  maxPayload: 100 * 1024 * 1024,
  maxPendingAutoPongs: 60,
  maxRedirects: 10,
  perMessageDeflate: true,
  protocolVersion: PROTOCOL_VERSIONS[1],
  skipUTF8Validation: false
};

//
// Options that `http.request()` would read but that the URL decides, or that
// mean something else to a WebSocket (`protocols`, `timeout`): whatever the
// user passed under these names is overridden, as ws does.
//
const REQUEST_OVERRIDES = {
  host: undefined,
  hostname: undefined,
  method: 'GET',
  path: undefined,
  port: undefined,
  protocol: undefined,
  protocols: undefined,
  socketPath: undefined,
  timeout: undefined
};

/**
 * Starts the opening handshake of a client: validates the URL and the
 * options, sends the upgrade request, and follows redirects when asked to
 * (each redirect calls this function again with the new URL).
 *
 * @param {WebSocket} websocket The client
 * @param {(String|URL)} address The URL to connect to
 * @param {String[]} protocols The subprotocols to offer
 * @param {Object} [options] The options given to the constructor
 * @return {(Object|undefined)} The resolved options (`undefined` when a
 *     redirect leads to an invalid URL or `http.request()` throws on it:
 *     `'error'` and `'close'` were emitted)
 * @throws {RangeError} If `protocolVersion` is not supported
 * @throws {SyntaxError} If the URL or a subprotocol is not valid
 * @throws {Error} What `http.request()` / `https.request()` throws for the
 *     first request (an `agent` for the other protocol, ...)
 * @public
 */
function initAsClient(websocket, address, protocols, options) {
  const opts = { ...DEFAULT_OPTIONS, ...options, ...REQUEST_OVERRIDES };

  if (!PROTOCOL_VERSIONS.includes(opts.protocolVersion)) {
    throw new RangeError(
      `Unsupported protocol version: ${opts.protocolVersion} ` +
        `(supported versions: ${PROTOCOL_VERSIONS.join(', ')})`
    );
  }

  const url = toWebSocketUrl(address);

  websocket._url = url.href;

  const urlError = checkUrl(url);

  if (urlError) {
    const err = new SyntaxError(urlError);

    //
    // A redirect is followed from a response listener: nothing could catch
    // the error there.
    //
    if (websocket._redirects === 0) throw err;

    emitErrorAndClose(websocket, err);
    return;
  }

  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  const key = randomBytes(16).toString('base64');
  const offered = checkProtocols(protocols);

  const defaultPort = secure ? 443 : 80;

  opts.createConnection =
    opts.createConnection || (secure ? tlsConnect : netConnect);
  opts.defaultPort = opts.defaultPort || defaultPort;
  opts.port = url.port || defaultPort;
  opts.host = url.hostname.startsWith('[')
    ? url.hostname.slice(1, -1)
    : url.hostname;
  opts.path = url.pathname + url.search;
  opts.timeout = opts.handshakeTimeout;

  //
  // The user's headers come first, and ours replace theirs, in ws's order.
  //
  opts.headers = {
    ...opts.headers,
    'Sec-WebSocket-Version': opts.protocolVersion,
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket'
  };

  let perMessageDeflate;

  if (opts.perMessageDeflate) {
    perMessageDeflate = new PerMessageDeflate({
      ...opts.perMessageDeflate,
      isServer: false,
      maxPayload: opts.maxPayload
    });
    opts.headers['Sec-WebSocket-Extensions'] = format({
      [PerMessageDeflate.extensionName]: perMessageDeflate.offer()
    });
  }

  if (offered.size !== 0) {
    opts.headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  }

  if (opts.origin) {
    const name = opts.protocolVersion < 13 ? 'Sec-WebSocket-Origin' : 'Origin';

    opts.headers[name] = opts.origin;
  }

  if (url.username || url.password) {
    opts.auth = `${unescape(url.username)}:${unescape(url.password)}`;
  }

  if (ipc) {
    //
    // `ws+unix:/path/to/socket:/request/path`: the request path is optional.
    //
    const colon = opts.path.indexOf(':');

    if (colon === -1) {
      opts.socketPath = opts.path;
      opts.path = '';
    } else {
      opts.socketPath = opts.path.slice(0, colon);
      opts.path = opts.path.slice(colon + 1);
    }
  }

  if (opts.followRedirects) {
    options = prepareRedirect(websocket, opts, options, url, ipc, secure);
  }

  const request = secure ? https.request : http.request;
  let req;

  try {
    req = websocket._req = request(opts);
  } catch (err) {
    //
    // A redirect is followed from a response listener, where nothing could
    // catch the error (`http.request()` throws, for example, when the
    // `agent` is an `http.Agent` and the redirect goes to `wss:`): it is
    // emitted instead, as ws 8.23.1 does.
    //
    if (websocket._redirects === 0) throw err;

    if (debug.enabled) debug('! client: %s', err.message);
    emitErrorAndClose(websocket, err);
    return;
  }

  if (debug.enabled) {
    debug('= client: connecting to %s', withoutCredentials(url));
  }

  //
  // No early return when the listener closes the client: it may also have
  // destroyed the request with an error, which needs the listeners below.
  //
  if (websocket._redirects !== 0) {
    websocket.emit('redirect', websocket.url, req);
  }

  if (opts.timeout) {
    req.on('timeout', () => {
      abortHandshake(websocket, req, 'Opening handshake has timed out');
    });
  }

  req.on('error', (err) => {
    if (req === null || req[kAborted]) return;

    req = websocket._req = null;
    if (debug.enabled) debug('! client: %s', err.message);
    emitErrorAndClose(websocket, err);
  });

  req.on('response', (res) => {
    const status = res.statusCode;
    const location = res.headers.location;

    if (opts.followRedirects && location && status >= 300 && status < 400) {
      if (++websocket._redirects > opts.maxRedirects) {
        abortHandshake(websocket, req, 'Maximum redirects exceeded');
        return;
      }

      req.abort();

      let next;

      try {
        next = new URL(location, address);
      } catch {
        const err = new SyntaxError(`Invalid URL: ${location}`);

        emitErrorAndClose(websocket, err);
        return;
      }

      if (debug.enabled) {
        debug('= client: %d redirect to %s', status, withoutCredentials(next));
      }

      initAsClient(websocket, next, protocols, options);
      return;
    }

    if (websocket.emit('unexpected-response', req, res)) return;

    const hint = responseHint(res, withoutCredentials(url));

    if (debug.enabled) {
      debug('! client: Unexpected server response: %d. %s', status, hint);
    }

    abortHandshake(
      websocket,
      req,
      `Unexpected server response: ${status}`,
      hint
    );
  });

  req.on('upgrade', (res, socket, head) => {
    websocket.emit('upgrade', res);

    //
    // An `'upgrade'` listener may have closed the client.
    //
    if (websocket.readyState !== CONNECTING) return;

    req = websocket._req = null;

    const error = checkResponse(res, key, offered, perMessageDeflate);

    if (error) {
      if (debug.enabled) debug('! client: %s', error);
      abortHandshake(websocket, socket, error);
      return;
    }

    const protocol = res.headers['sec-websocket-protocol'];

    if (protocol) websocket._protocol = protocol;

    if (res.headers['sec-websocket-extensions'] !== undefined) {
      websocket._extensions[PerMessageDeflate.extensionName] =
        perMessageDeflate;
    }

    if (debug.enabled) {
      debug('= client: open %s %s', withoutCredentials(url), protocol || '');
    }

    websocket.setSocket(socket, head, {
      allowSynchronousEvents: opts.allowSynchronousEvents,
      generateMask: opts.generateMask,
      maxBufferedChunks: opts.maxBufferedChunks,
      maxFragments: opts.maxFragments,
      maxPayload: opts.maxPayload,
      skipUTF8Validation: opts.skipUTF8Validation
    });
  });

  if (opts.finishRequest) opts.finishRequest(req, websocket);
  else req.end();

  return opts;
}

/**
 * Parses the address of a client into a URL, with `http:` and `https:`
 * turned into `ws:` and `wss:`.
 *
 * @param {(String|URL)} address The address
 * @return {URL} The URL
 * @throws {SyntaxError} If the address is not a URL
 * @private
 */
function toWebSocketUrl(address) {
  let url;

  if (address instanceof URL) {
    url = address;
  } else {
    try {
      url = new URL(address);
    } catch {
      throw new SyntaxError(`Invalid URL: ${address}`);
    }
  }

  if (url.protocol === 'http:' || url.protocol === 'https:') {
    //
    // A copy: the caller's URL object is left alone.
    //
    url = new URL(url);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  }

  return url;
}

/**
 * Checks that a URL can be connected to.
 *
 * @param {URL} url The URL
 * @return {(String|undefined)} ws's message when it cannot
 * @private
 */
function checkUrl(url) {
  const protocol = url.protocol;

  if (protocol !== 'ws:' && protocol !== 'wss:' && protocol !== 'ws+unix:') {
    return (
      'The URL\'s protocol must be one of "ws:", "wss:", ' +
      '"http:", "https:", or "ws+unix:"'
    );
  }

  if (protocol === 'ws+unix:' && !url.pathname) {
    return "The URL's pathname is empty";
  }

  if (url.hash) return 'The URL contains a fragment identifier';
}

/**
 * Checks the subprotocols to offer: tokens, each once.
 *
 * @param {Array} protocols The subprotocols
 * @return {Set<String>} The same subprotocols
 * @throws {SyntaxError} If one is not a token or is repeated
 * @private
 */
function checkProtocols(protocols) {
  const set = new Set();

  for (const protocol of protocols) {
    if (!isToken(protocol) || set.has(protocol)) {
      throw new SyntaxError(
        'An invalid or duplicated subprotocol was specified'
      );
    }

    set.add(protocol);
  }

  return set;
}

/**
 * Sets up a request for `followRedirects`, like curl 7.77.0 does: the first
 * request remembers where it went; a redirect to another host, or from
 * `wss:` to `ws:`, drops the credentials and cookies (unless a `'redirect'`
 * listener takes care of the headers itself).
 *
 * @param {WebSocket} websocket The client
 * @param {Object} opts The options of this request
 * @param {Object} [options] The options the user gave, or their copy from the
 *     first request
 * @param {URL} url The URL of this request
 * @param {Boolean} ipc Whether the URL is a `ws+unix:` one
 * @param {Boolean} secure Whether the URL is a `wss:` one
 * @return {Object} The options to use for the next redirect
 * @private
 */
function prepareRedirect(websocket, opts, options, url, ipc, secure) {
  if (websocket._redirects === 0) {
    websocket._originalIpc = ipc;
    websocket._originalSecure = secure;
    websocket._originalHostOrSocketPath = ipc ? opts.socketPath : url.host;

    //
    // A copy, with lower-case header names so that the headers to drop are
    // found whatever their case, and which can be changed freely.
    //
    const headers = {};

    if (options && options.headers) {
      for (const name of Object.keys(options.headers)) {
        headers[name.toLowerCase()] = options.headers[name];
      }
    }

    options = { ...options, headers };
  } else if (websocket.listenerCount('redirect') === 0) {
    const target = ipc ? opts.socketPath : url.host;
    const sameHost =
      ipc === websocket._originalIpc &&
      target === websocket._originalHostOrSocketPath;

    if (!sameHost || (websocket._originalSecure && !secure)) {
      delete opts.headers.authorization;
      delete opts.headers.cookie;
      if (!sameHost) delete opts.headers.host;
      opts.auth = undefined;
    }
  }

  //
  // Credentials from a URL go on as an `Authorization` header; one the user
  // set wins.
  //
  if (opts.auth && !options.headers.authorization) {
    options.headers.authorization =
      'Basic ' + Buffer.from(opts.auth).toString('base64');
  }

  return options;
}

/**
 * Opens the TCP (or IPC) connection of a `ws:` or `ws+unix:` request.
 *
 * @param {Object} options The request options
 * @return {net.Socket} The socket
 * @private
 */
function netConnect(options) {
  options.path = options.socketPath;
  return net.connect(options);
}

/**
 * Opens the TLS connection of a `wss:` request, with SNI for a host name
 * (never for an IP address) unless `servername` is given.
 *
 * @param {Object} options The request options
 * @return {tls.TLSSocket} The socket
 * @private
 */
function tlsConnect(options) {
  options.path = undefined;

  if (!options.servername && options.servername !== '') {
    options.servername = net.isIP(options.host) ? '' : options.host;
  }

  return tls.connect(options);
}

/**
 * A URL as it can be logged: without its credentials.
 *
 * @param {URL} url The URL
 * @return {String} The URL
 * @private
 */
function withoutCredentials(url) {
  if (!url.username && !url.password) return url.href;

  const copy = new URL(url.href);

  copy.username = '';
  copy.password = '';
  return copy.href;
}

/**
 * Emits `'error'` then `'close'`.
 *
 * @param {WebSocket} websocket The client
 * @param {Error} err The error
 * @public
 */
function emitErrorAndClose(websocket, err) {
  websocket._readyState = CLOSING;
  websocket._errorEmitted = true;
  websocket.emit('error', err);
  websocket.emitClose();
}

/**
 * Fails the opening handshake: aborts the request (the `'error'` and
 * `'close'` events follow on the next tick), or destroys the upgraded socket
 * (they follow its own `'error'` and `'close'`).
 *
 * @param {WebSocket} websocket The client
 * @param {(http.ClientRequest|net.Socket|tls.TLSSocket|null)} stream The
 *     request or the socket
 * @param {String} message The error message
 * @param {String} [hint] What usually causes the error (ws-native's own
 *     addition, set as `err.hint`)
 * @public
 */
function abortHandshake(websocket, stream, message, hint) {
  websocket._readyState = CLOSING;

  const err = new Error(message);

  Error.captureStackTrace(err, abortHandshake);
  if (hint !== undefined) err.hint = hint;

  if (!stream || stream.setHeader) {
    if (stream) {
      stream[kAborted] = true;
      stream.abort();

      //
      // `request.abort()` leaves the socket open when the request already
      // completed.
      //
      if (stream.socket && !stream.socket.destroyed) stream.socket.destroy();
    }

    process.nextTick(emitErrorAndClose, websocket, err);
  } else {
    stream.destroy(err);
    stream.once('error', websocket.emit.bind(websocket, 'error'));
    stream.once('close', websocket.emitClose.bind(websocket));
  }
}

module.exports = { abortHandshake, emitErrorAndClose, initAsClient };
