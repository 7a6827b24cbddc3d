'use strict';

const PerMessageDeflate = require('./permessage-deflate');
const subprotocol = require('./subprotocol');
const { parseExtensions: parseHeader, validateUpgrade } = require('./binding');
const { NO_EXTENSIONS } = require('./constants');

const NOT_A_STRING = 'The header value is not a string';

/**
 * The states of a `WebSocketServer`.
 *
 * @private
 */
const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

/**
 * Reads the header values the handshake checks as ws 8.23.1 reads them,
 * whatever their types: a request made by hand (@fastify/websocket's
 * `injectWS`, a test) may hold numbers, arrays or objects where Node's parser
 * puts strings, and the addon takes strings only. A value ws would accept
 * becomes the string ws sees; any other becomes one that fails the same check
 * (where ws throws, on a value it cannot convert, the request is refused by
 * the check ws was making).
 *
 * @param {http.IncomingMessage} req The request
 * @return {Object} `method`, `upgrade`, `key`, `version` and `connection`,
 *     each a string, or `undefined`/`null` as if absent
 * @private
 */
function readHandshake(req) {
  const headers = req.headers;

  return {
    //
    // ws: `req.method !== 'GET'`.
    //
    method: typeof req.method === 'string' ? req.method : undefined,
    //
    // ws: `upgrade.toLowerCase()`, which only strings (and String objects)
    // have.
    //
    upgrade: stringValue(headers.upgrade),
    //
    // ws tests the key with a RegExp, which converts any value to a string
    // (`['k']` is `'k'`), and hashes `key + GUID`.
    //
    key: toText(headers['sec-websocket-key']),
    //
    // ws: `version !== '13' && version !== '8'`, with our one exception (a
    // numeric 13).
    //
    version: toVersion(headers['sec-websocket-version']),
    //
    // Checked by `upgrade()` only (ws never reads it): a list of tokens.
    //
    connection: toText(headers.connection)
  };
}

/**
 * Checks the handshake values of a request (`readHandshake()`), in ws's
 * order.
 *
 * @param {Object} values The values
 * @param {Boolean} checkConnection Whether `Connection` must hold `upgrade`
 * @return {(Array|null)} `null` if valid, else `[status, message]`
 * @private
 */
function checkHandshake(values, checkConnection) {
  return validateUpgrade(
    values.method,
    values.upgrade,
    values.key,
    values.version,
    values.connection,
    checkConnection
  );
}

/**
 * A header value where ws calls string methods on it: a string, or a String
 * object's value.
 *
 * @param {*} value The value
 * @return {(String|undefined|null)} The string, `undefined` if absent, `null`
 *     if it is not a string
 * @private
 */
function stringValue(value) {
  if (typeof value === 'string' || value === undefined) return value;
  return value instanceof String ? toText(value) : null;
}

/**
 * A header value as JavaScript's `String()` converts it.
 *
 * @param {*} value The value
 * @return {(String|undefined)} The string, or `undefined` if absent or if it
 *     cannot be converted (its `toString()` throws)
 * @private
 */
function toText(value) {
  if (typeof value === 'string' || value === undefined) return value;

  try {
    return String(value);
  } catch {
    return undefined;
  }
}

/**
 * The `Sec-WebSocket-Version` value. ws 8.23.1 compares it with the strings
 * `'13'` and `'8'`, so a string is left for the addon, which does the same.
 * One deliberate difference: version 13 given as the number `13`, or as a
 * one-element array of it (`[13]`, `['13']`), is taken as `'13'`, because
 * @fastify/websocket's `injectWS()` sends the number and ws 8.23.0 and
 * earlier (which read the header with `+`) upgraded it; ws 8.23.1 answers
 * 400. Any other value that is not a string is refused.
 *
 * @param {*} value The value
 * @return {(String|undefined|null)} The string, `undefined` if absent,
 *     `null` if refused
 * @private
 */
function toVersion(value) {
  if (typeof value === 'string' || value === undefined) return value;
  if (Array.isArray(value) && value.length === 1) value = value[0];

  return value === 13 || value === '13' ? '13' : null;
}

/**
 * Parses the `Sec-WebSocket-Protocol` header of a request.
 *
 * @param {http.IncomingMessage} req The request
 * @return {Set<String>} The offered subprotocols
 * @throws {SyntaxError} If the header is invalid
 * @private
 */
function parseProtocols(req) {
  const header = stringValue(req.headers['sec-websocket-protocol']);

  if (header === undefined) return new Set();
  if (header === null) throw new SyntaxError(NOT_A_STRING);

  return subprotocol.parse(header);
}

/**
 * Negotiates the extensions of a request, as ws does: with
 * `perMessageDeflate` enabled, the first acceptable permessage-deflate offer
 * of the `Sec-WebSocket-Extensions` header is accepted; other extensions are
 * ignored.
 *
 * @param {Object} options The options of the `WebSocketServer`
 * @param {http.IncomingMessage} req The request
 * @return {Object} The accepted extensions, by name (a shared frozen empty
 *     object when none)
 * @throws {(SyntaxError|Error|TypeError)} If the header is invalid, or no
 *     offer can be accepted
 * @private
 */
function parseExtensions(options, req) {
  const header = stringValue(req.headers['sec-websocket-extensions']);

  if (!options.perMessageDeflate || header === undefined) return NO_EXTENSIONS;
  if (header === null) throw new SyntaxError(NOT_A_STRING);

  const name = PerMessageDeflate.extensionName;
  const entry = parseHeader(header).find((offer) => offer[0] === name);

  if (entry === undefined) return NO_EXTENSIONS;

  const perMessageDeflate = new PerMessageDeflate({
    ...options.perMessageDeflate,
    isServer: true,
    maxPayload: options.maxPayload
  });

  perMessageDeflate.acceptPairs(entry[1]);
  return { [name]: perMessageDeflate };
}

module.exports = {
  CLOSED,
  CLOSING,
  RUNNING,
  checkHandshake,
  parseExtensions,
  parseProtocols,
  readHandshake
};
