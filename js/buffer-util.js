'use strict';

const { Buffer } = require('buffer');
const {
  types: { isAnyArrayBuffer }
} = require('util');

const { EMPTY_BUFFER } = require('./constants');

const FastBuffer = Buffer[Symbol.species];

/**
 * Concatenates buffers. A single buffer is returned as is, not copied.
 *
 * @param {Buffer[]} list The buffers
 * @param {Number} [length] Their total length, if known
 * @return {Buffer} The result
 * @public
 */
function concat(list, length) {
  if (list.length === 1) return list[0];
  if (list.length === 0) return EMPTY_BUFFER;

  if (length === undefined) {
    length = 0;
    for (let i = 0; i < list.length; i++) length += list[i].length;
  }

  const target = Buffer.allocUnsafe(length);
  let offset = 0;

  for (let i = 0; i < list.length; i++) {
    target.set(list[i], offset);
    offset += list[i].length;
  }

  return target;
}

/**
 * Returns the bytes of a buffer as an `ArrayBuffer`, without a copy when the
 * buffer spans its whole `ArrayBuffer`.
 *
 * @param {Buffer} buf The buffer
 * @return {ArrayBuffer} The bytes
 * @public
 */
function toArrayBuffer(buf) {
  if (buf.length === buf.buffer.byteLength) return buf.buffer;
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
}

/**
 * Converts data to a Buffer, as ws 8.23.1 does: binary data (a Buffer, any
 * `ArrayBuffer`, including a `SharedArrayBuffer` or one from another realm,
 * or a view) is wrapped without a copy, anything else goes through
 * `Buffer.from()` (which refuses an object that only inherits from
 * `ArrayBuffer.prototype`).
 *
 * @param {*} data The data to convert
 * @return {Buffer} The buffer
 * @throws {TypeError} If `Buffer.from()` does not accept `data`
 * @public
 */
function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (isAnyArrayBuffer(data)) return new FastBuffer(data);

  if (ArrayBuffer.isView(data)) {
    return new FastBuffer(data.buffer, data.byteOffset, data.byteLength);
  }

  return Buffer.from(data);
}

/**
 * Creates a view of part of a buffer, cheaper than `buf.subarray()`.
 *
 * @param {Buffer} buf The buffer
 * @param {Number} start The offset of the view in `buf`
 * @param {Number} length The length of the view
 * @return {Buffer} The view
 * @public
 */
function view(buf, start, length) {
  return new FastBuffer(buf.buffer, buf.byteOffset + start, length);
}

module.exports = { concat, toArrayBuffer, toBuffer, view };
