'use strict';

const { Buffer } = require('buffer');
const { validateHeaderName, validateHeaderValue } = require('http');

const debug = require('./debug');
const { kWebSocket } = require('./constants');
const {
  RUNNING,
  checkHandshake,
  parseExtensions,
  parseProtocols,
  readHandshake
} = require('./handshake');
const internals = require('./node-internals');
const { isOwnedByHttp, takeFromHttp } = require('./http-takeover');

const kUpgraded = Symbol('ws-native-upgraded');
const EMPTY_BUFFER = Buffer.alloc(0);

//
// Headers of the 101 response that the server itself owns.
//
const RESERVED_HEADERS = new Set([
  'connection',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'upgrade'
]);

const NGINX_HINT =
  'a proxy in front of this server may have changed it ' +
  '(nginx: proxy_set_header Connection "upgrade")';

/**
 * Takes a request over as a WebSocket connection, Bun style (see
 * `WebSocketServer#upgrade()`).
 *
 * @param {WebSocketServer} server The WebSocket server
 * @param {http.IncomingMessage} req The request (or a Koa context)
 * @param {Object} [options] The options: `data`, `headers`, `head`
 * @return {Boolean} `true` if the request was taken over, else `false`
 * @throws {TypeError} If an argument is not valid
 * @private
 */
function upgrade(server, req, options) {
  req = toRequest(req);

  const { data, head, headers, protocol } = readOptions(options);
  const values = readHandshake(req);
  const error = findError(server, req, values);

  if (error !== null) {
    if (debug.enabled) {
      debug(
        '! upgrade() returned false for %s %s: %d %s',
        req.method,
        req.url,
        error.status,
        error.message
      );
    }

    return false;
  }

  const socket = req.socket;
  const key = values.key;
  const protocols = parseProtocols(req);
  const extensions = parseExtensions(server.options, req);

  req[kUpgraded] = true;
  socket.on('error', destroySocket);

  //
  // Detach the response now, before the application can answer it (Koa does
  // when the middleware returns). The rest happens in the next tick: the HTTP
  // parser may still be executing, as Node calls `'request'` listeners from
  // inside it.
  //
  if (isOwnedByHttp(socket)) takeFromHttp(req, socket);

  process.nextTick(
    completeUpgrade,
    server,
    extensions,
    key,
    protocols,
    req,
    socket,
    head,
    { data, headers, protocol }
  );

  return true;
}

/**
 * Completes an upgrade accepted by `upgrade()`.
 *
 * @param {WebSocketServer} server The WebSocket server
 * @param {Object} extensions The accepted extensions
 * @param {String} key The value of the `Sec-WebSocket-Key` header
 * @param {Set} protocols The subprotocols
 * @param {http.IncomingMessage} req The request
 * @param {Duplex} socket The socket
 * @param {Buffer} head The first packet of the upgraded stream
 * @param {Object} bun The `data`, `headers` and `protocol` of the upgrade
 * @private
 */
function completeUpgrade(
  server,
  extensions,
  key,
  protocols,
  req,
  socket,
  head,
  bun
) {
  server.completeUpgrade(
    extensions,
    key,
    protocols,
    req,
    socket,
    head,
    (ws) => {
      socket.removeListener('error', destroySocket);
      server.emit('connection', ws, req);
    },
    bun
  );
}

/**
 * Tells why `upgrade(req)` would refuse a request (see
 * `WebSocketServer#upgradeError()`).
 *
 * @param {WebSocketServer} server The WebSocket server
 * @param {http.IncomingMessage} req The request (or a Koa context)
 * @return {(Object|null)} `null`, or `{ status, message, headers }`
 * @throws {TypeError} If `req` is not a request
 * @private
 */
function upgradeError(server, req) {
  req = toRequest(req);
  return findError(server, req, readHandshake(req));
}

/**
 * Checks a request for everything that makes `upgrade()` refuse it: first the
 * handshake headers, then the server's own conditions, then the state of the
 * connection.
 *
 * @param {WebSocketServer} server The WebSocket server
 * @param {http.IncomingMessage} req The request
 * @param {Object} values The handshake values of the request
 *     (`readHandshake()`)
 * @return {(Object|null)} `null`, or `{ status, message, headers }`
 * @private
 */
function findError(server, req, values) {
  const invalid = checkHandshake(values, true);

  if (invalid !== null) return describe(invalid, req);

  if (!server.shouldHandle(req)) {
    const path = server.options.path;
    const index = req.url.indexOf('?');
    const pathname = index === -1 ? req.url : req.url.slice(0, index);

    return refusal(
      400,
      path && pathname !== path
        ? `The path ${quote(pathname)} is not served by this ` +
            `WebSocketServer: its "path" option is ${quote(path)}`
        : 'The request is not served by this WebSocketServer: ' +
            'shouldHandle(req) returned false'
    );
  }

  try {
    parseProtocols(req);
  } catch (err) {
    return refusal(
      400,
      `Invalid "Sec-WebSocket-Protocol" header (${err.message}): it must be ` +
        'a comma-separated list of unique subprotocol names'
    );
  }

  try {
    parseExtensions(server.options, req);
  } catch (err) {
    return refusal(
      400,
      err instanceof SyntaxError
        ? `Invalid "Sec-WebSocket-Extensions" header (${err.message}): it ` +
            'must be a comma-separated list of extensions with parameters'
        : 'No acceptable permessage-deflate offer in the ' +
            `"Sec-WebSocket-Extensions" header (${err.message}): the ` +
            "client's parameters do not fit the server's perMessageDeflate " +
            'options'
    );
  }

  if (server._state !== RUNNING) {
    return refusal(
      503,
      'The WebSocketServer is closing: it accepts no new connections'
    );
  }

  const socket = req.socket;

  if (req[kUpgraded] || socket[kWebSocket]) {
    return refusal(
      500,
      'The request was already upgraded: call upgrade() once per request'
    );
  }

  if (socket.destroyed || !socket.readable || !socket.writable) {
    return refusal(
      500,
      'The connection is already closed: the client went away'
    );
  }

  if (isOwnedByHttp(socket)) {
    const res = internals.responseOf(socket);

    if (!res || res.req !== req) {
      return refusal(
        500,
        'An earlier request on this connection is still being answered ' +
          '(pipelining): the connection cannot be upgraded'
      );
    }

    if (res.headersSent || res.writableEnded) {
      return refusal(
        500,
        'The request was already answered: call upgrade() before writing ' +
          'the response'
      );
    }
  }

  return null;
}

/**
 * Turns a failed handshake check of the addon into a refusal that names the
 * missing or invalid header and what fixes it.
 *
 * @param {Array} invalid The `[status, message]` pair of `validateUpgrade()`
 * @param {http.IncomingMessage} req The request
 * @return {Object} The refusal
 * @private
 */
function describe([status, message], req) {
  const headers = req.headers;

  switch (message) {
    case 'Invalid HTTP method':
      return refusal(
        405,
        `Invalid HTTP method ${quote(req.method)}: a WebSocket handshake ` +
          'must be a GET request',
        { Allow: 'GET' }
      );
    case 'Invalid Upgrade header':
      return refusal(
        426,
        headers.upgrade === undefined
          ? 'Missing "Upgrade: websocket" header: this is a plain HTTP ' +
              'request; connect with a WebSocket client'
          : `Invalid "Upgrade: ${clip(headers.upgrade)}" header: a ` +
              'WebSocket handshake needs "Upgrade: websocket"; connect with ' +
              'a WebSocket client',
        { Connection: 'Upgrade', Upgrade: 'websocket' }
      );
    case 'Invalid Connection header':
      return refusal(
        400,
        headers.connection === undefined
          ? 'Missing "Connection: Upgrade" header: a WebSocket handshake ' +
              `needs it; ${NGINX_HINT}`
          : `Invalid "Connection: ${clip(headers.connection)}" header: it ` +
              `must contain the "Upgrade" token; ${NGINX_HINT}`
      );
    case 'Missing or invalid Sec-WebSocket-Key header':
      return refusal(
        400,
        headers['sec-websocket-key'] === undefined
          ? 'Missing "Sec-WebSocket-Key" header: a WebSocket client sends a ' +
              'random 16-byte key in base64'
          : 'Invalid "Sec-WebSocket-Key: ' +
              `${clip(headers['sec-websocket-key'])}" header: it must be 16 ` +
              'random bytes in base64 (24 characters ending in "==")'
      );
    case 'Missing or invalid Sec-WebSocket-Version header':
      return refusal(
        400,
        headers['sec-websocket-version'] === undefined
          ? 'Missing "Sec-WebSocket-Version" header: a WebSocket client ' +
              'sends "Sec-WebSocket-Version: 13"'
          : 'Unsupported "Sec-WebSocket-Version: ' +
              `${clip(headers['sec-websocket-version'])}" header: this ` +
              'server speaks versions 13 and 8; use ' +
              '"Sec-WebSocket-Version: 13"',
        { 'Sec-WebSocket-Version': '13, 8' }
      );
    default:
      return refusal(status, message);
  }
}

/**
 * Builds the object `upgradeError()` returns.
 *
 * @param {Number} status The HTTP status to answer with
 * @param {String} message The cause and the fix
 * @param {Object} [headers={}] The headers to answer with
 * @return {Object} The refusal
 * @private
 */
function refusal(status, message, headers = {}) {
  return { status, message, headers };
}

/**
 * Quotes a value for a message, shortened if it is long.
 *
 * @param {String} value The value
 * @return {String} The quoted value
 * @private
 */
function quote(value) {
  return `"${clip(value)}"`;
}

/**
 * Shortens a client-supplied value for a message.
 *
 * @param {*} value The value (a string, unless the request was made by hand)
 * @return {String} The value, at most 64 characters long
 * @private
 */
function clip(value) {
  try {
    value = String(value);
  } catch {
    value = typeof value; // A value whose `toString()` throws
  }

  return value.length > 64 ? `${value.slice(0, 61)}...` : value;
}

/**
 * Gets the `http.IncomingMessage` out of what the caller passed: the request
 * itself, a Koa context or a Koa request.
 *
 * @param {*} req The argument
 * @return {http.IncomingMessage} The request
 * @throws {TypeError} If no request can be found
 * @private
 */
function toRequest(req) {
  if (req !== null && typeof req === 'object' && isRequest(req.req)) {
    req = req.req;
  }

  if (!isRequest(req)) {
    throw new TypeError(
      'The "req" argument must be the http.IncomingMessage of the request ' +
        '(ctx.req with Koa, req with Express)'
    );
  }

  return req;
}

/**
 * Checks whether a value looks like an `http.IncomingMessage`.
 *
 * @param {*} value The value
 * @return {Boolean} `true` if it does, else `false`
 * @private
 */
function isRequest(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    value.headers !== null &&
    typeof value.headers === 'object' &&
    typeof value.headers.get !== 'function' &&
    value.socket != null
  );
}

/**
 * Validates the options of `upgrade()`.
 *
 * @param {Object} [options] The options
 * @return {Object} `data`, `head`, `headers` (`[name, value]` pairs for the
 *     101 response) and `protocol` (`undefined` unless a
 *     `Sec-WebSocket-Protocol` header was given)
 * @throws {TypeError} If an option is not valid
 * @private
 */
function readOptions(options) {
  if (options == null) options = {};

  if (typeof options !== 'object') {
    throw new TypeError('The "options" argument must be an object');
  }

  let head = EMPTY_BUFFER;

  if (options.head != null) {
    if (!ArrayBuffer.isView(options.head)) {
      throw new TypeError('The "options.head" option must be a Buffer');
    }

    head = Buffer.isBuffer(options.head)
      ? options.head
      : Buffer.from(
          options.head.buffer,
          options.head.byteOffset,
          options.head.byteLength
        );
  }

  const headers = [];
  let protocol;

  for (const [name, value] of headerEntries(options.headers)) {
    const lowerCaseName = name.toLowerCase();

    if (lowerCaseName === 'sec-websocket-protocol') {
      protocol = value;
    } else if (RESERVED_HEADERS.has(lowerCaseName)) {
      if (debug.enabled) {
        debug('! upgrade() ignores the %s header: the server sets it', name);
      }
    } else {
      headers.push([name, value]);
    }
  }

  return { data: options.data, head, headers, protocol };
}

/**
 * Lists the headers given to `upgrade()` as validated `[name, value]` pairs,
 * one per value.
 *
 * @param {(Object|Headers|Map|Array)} [headers] The headers
 * @return {Array} The pairs
 * @throws {TypeError} If a header name or value is not valid
 * @private
 */
function headerEntries(headers) {
  if (headers == null) return [];

  let entries;

  if (Array.isArray(headers)) {
    entries = headers;
  } else if (
    typeof headers.get === 'function' &&
    typeof headers[Symbol.iterator] === 'function'
  ) {
    entries = Array.from(headers);
  } else if (typeof headers === 'object') {
    entries = Object.keys(headers).map((name) => [name, headers[name]]);
  } else {
    entries = null;
  }

  const pairs = [];

  for (const entry of entries || [null]) {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new TypeError(
        'The "options.headers" option must be an object, a Headers object, ' +
          'or an array of [name, value] pairs'
      );
    }

    const [name, value] = entry;

    validateHeaderName(name);

    for (const item of Array.isArray(value) ? value : [value]) {
      validateHeaderValue(name, item);
      pairs.push([name, String(item)]);
    }
  }

  return pairs;
}

/**
 * Destroys a socket that errors before the WebSocket takes it.
 *
 * @private
 */
function destroySocket() {
  this.destroy();
}

module.exports = { readOptions, upgrade, upgradeError };
