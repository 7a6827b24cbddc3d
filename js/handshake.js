'use strict';

const PerMessageDeflate = require('./permessage-deflate');
const subprotocol = require('./subprotocol');
const { parseExtensions: parseHeader } = require('./binding');
const { NO_EXTENSIONS } = require('./constants');

/**
 * The states of a `WebSocketServer`.
 *
 * @private
 */
const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

/**
 * Parses the `Sec-WebSocket-Protocol` header of a request.
 *
 * @param {http.IncomingMessage} req The request
 * @return {Set<String>} The offered subprotocols
 * @throws {SyntaxError} If the header is invalid
 * @private
 */
function parseProtocols(req) {
  const header = req.headers['sec-websocket-protocol'];

  return header === undefined ? new Set() : subprotocol.parse(header);
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
  const header = req.headers['sec-websocket-extensions'];

  if (!options.perMessageDeflate || header === undefined) return NO_EXTENSIONS;

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
  parseExtensions,
  parseProtocols
};
