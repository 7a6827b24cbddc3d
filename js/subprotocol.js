'use strict';

const { parseSubprotocols } = require('./binding');

/**
 * Parses the `Sec-WebSocket-Protocol` header into a set of subprotocol names.
 *
 * @param {String} header The field value of the header
 * @return {Set<String>} The subprotocol names, in the order of the header
 * @throws {SyntaxError} If the header is not a list of unique tokens
 * @public
 */
function parse(header) {
  try {
    return new Set(parseSubprotocols(header));
  } catch (err) {
    throw asSyntaxError(err);
  }
}

/**
 * Makes sure a parse error is a `SyntaxError`, as with ws, whatever error
 * class the addon used to throw it.
 *
 * @param {Error} err The error thrown by the addon
 * @return {SyntaxError} The error to throw
 * @private
 */
function asSyntaxError(err) {
  if (err instanceof SyntaxError) return err;
  return new SyntaxError(err && err.message);
}

module.exports = { parse };
