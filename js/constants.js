'use strict';

const { Buffer } = require('buffer');
const hasBlob = typeof Blob !== 'undefined';

//
// The order matters: the first entry is the default `binaryType`.
//
const BINARY_TYPES = ['nodebuffer', 'arraybuffer', 'fragments'];

if (hasBlob) BINARY_TYPES.push('blob');

module.exports = {
  BINARY_TYPES,
  CLOSE_TIMEOUT: 30000,
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
  EMPTY_BUFFER: Buffer.alloc(0),
  GUID: '258EAFA5-E914-47DA-95CA-C5AB0DC85B11',
  hasBlob,
  kForOnEventAttribute: Symbol('kIsForOnEventAttribute'),
  kListener: Symbol('kListener'),
  kStatusCode: Symbol('status-code'),
  kWebSocket: Symbol('websocket'),
  //
  // The extensions of a connection that negotiated none (shared, frozen).
  //
  NO_EXTENSIONS: Object.freeze({}),
  NOOP: () => {},
  READY_STATES: ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']
};
