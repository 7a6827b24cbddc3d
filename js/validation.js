'use strict';

const { isUtf8 } = require('buffer');

const { hasBlob } = require('./constants');

//
// RFC 7230 `token`: any visible ASCII character except the separators.
//
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;

/**
 * Checks if a status code may be sent or received in a close frame.
 *
 * 1004, 1005 and 1006 are reserved and must never be on the wire; 1015 is
 * reserved for TLS failures; 3000-4999 are for libraries and applications.
 *
 * @param {Number} code The status code
 * @return {Boolean} `true` if the status code is valid, else `false`
 * @public
 */
function isValidStatusCode(code) {
  if (code >= 3000) return code <= 4999;
  return code >= 1000 && code <= 1014 && (code < 1004 || code > 1006);
}

/**
 * Checks if a buffer holds well-formed UTF-8. Node's `buffer.isUtf8` is a
 * native SIMD check; it is used for outgoing close reasons only, the Rust
 * receiver validates incoming data.
 *
 * @param {(Buffer|Uint8Array)} buf The bytes to check
 * @return {Boolean} `true` if `buf` is valid UTF-8, else `false`
 * @public
 */
function isValidUTF8(buf) {
  return buf.length === 0 || isUtf8(buf);
}

/**
 * Checks if a value is a `Blob` (or a `File`), the way ws detects one.
 *
 * @param {*} value The value to check
 * @return {Boolean} `true` if `value` is a `Blob`, else `false`
 * @public
 */
function isBlob(value) {
  if (!hasBlob || value === null || typeof value !== 'object') return false;

  const tag = value[Symbol.toStringTag];

  return (
    (tag === 'Blob' || tag === 'File') &&
    typeof value.arrayBuffer === 'function' &&
    typeof value.stream === 'function' &&
    typeof value.type === 'string'
  );
}

/**
 * Checks if a string is an RFC 7230 token (a valid subprotocol name, for
 * instance).
 *
 * @param {String} value The string to check
 * @return {Boolean} `true` if `value` is a token, else `false`
 * @public
 */
function isToken(value) {
  return typeof value === 'string' && TOKEN.test(value);
}

module.exports = { isBlob, isToken, isValidStatusCode, isValidUTF8 };
