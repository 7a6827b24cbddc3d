'use strict';

const extension = require('./extension');
const subprotocol = require('./subprotocol');

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
 * Parses the `Sec-WebSocket-Extensions` header of a request when
 * permessage-deflate is enabled, as ws does. No extension is negotiated yet,
 * so the offer is always declined: the 101 response carries no
 * `Sec-WebSocket-Extensions` header, as with ws when permessage-deflate is
 * disabled.
 *
 * @param {Object} options The options of the `WebSocketServer`
 * @param {http.IncomingMessage} req The request
 * @return {Object} The accepted extensions (none)
 * @throws {SyntaxError} If the header is invalid
 * @private
 */
function parseExtensions(options, req) {
  const header = req.headers['sec-websocket-extensions'];

  if (options.perMessageDeflate && header !== undefined) {
    extension.parse(header);
  }

  return {};
}

module.exports = {
  CLOSED,
  CLOSING,
  RUNNING,
  parseExtensions,
  parseProtocols
};
