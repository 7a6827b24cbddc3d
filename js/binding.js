'use strict';

//
// The only module that loads the native addon. Everything the JavaScript API
// needs from Rust goes through the exports below; docs/binding.md is the
// contract they follow.
//

let addon;

try {
  addon = require('./ws-native.node');
} catch (err) {
  const missing =
    err.code === 'MODULE_NOT_FOUND' &&
    String(err.message).includes('ws-native.node');

  throw new Error(
    missing
      ? 'ws-native: the native addon js/ws-native.node was not found; it is ' +
          'built from source by `npm install` (needs Rust\'s cargo) or ' +
          '`npm run build`'
      : 'ws-native: the native addon js/ws-native.node could not be loaded ' +
          `(${err.message}); rebuild it for this platform and Node.js ` +
          'version with `npm run build` (needs Rust\'s cargo)',
    { cause: err }
  );
}

//
// Record types that `Receiver#feed()` writes into the events array.
//
const PIECE = 1;
const CTRL_PIECE = 2;
const MESSAGE = 3;
const PING = 4;
const PONG = 5;
const CLOSE = 6;
const ERROR = 7;
const INFLATED = 8;

//
// Bits of the flags word that `encodeFrames()` reads for each frame; the
// opcode is in bits 0-3.
//
const FIN = 0x10;
const RSV1 = 0x20;
const MASK = 0x40;
const HEADER_ONLY = 0x80;

/**
 * Decodes the addon's error table into an array indexed by error id. Read
 * once, so building an error costs no call into the addon.
 *
 * @param {Object[]} table The rows returned by `errorTable()`
 * @return {Object[]} The decoded rows: `{ ErrorCtor, code, message,
 *     statusCode }`
 * @private
 */
function decodeErrorTable(table) {
  const errors = [];

  for (const row of table) {
    errors[row.id] = {
      ErrorCtor: row.kind === 'RangeError' ? RangeError : Error,
      code: row.code,
      message: row.message,
      statusCode: row.statusCode
    };
  }

  return errors;
}

module.exports = {
  Receiver: addon.Receiver,
  encodeFrames: addon.encodeFrames,
  acceptKey: addon.acceptKey,
  validateUpgrade: addon.validateUpgrade,
  parseSubprotocols: addon.parseSubprotocols,
  parseExtensions: addon.parseExtensions,
  negotiateDeflate: addon.negotiateDeflate,
  Deflater: addon.Deflater,
  Inflater: addon.Inflater,
  version: addon.version,
  //
  // The native transport (Unix; absent on Windows): see
  // js/native-transport.js and src/napi_native.rs.
  //
  native:
    typeof addon.nativeInit === 'function'
      ? {
          init: addon.nativeInit,
          adopt: addon.nativeAdopt,
          write: addon.nativeWrite,
          writev: addon.nativeWritev,
          flush: addon.nativeFlush,
          end: addon.nativeEnd,
          setReading: addon.nativeSetReading,
          setRef: addon.nativeSetRef,
          close: addon.nativeClose,
          openCount: addon.nativeOpenCount,
          listen: addon.nativeListen,
          listenerAddress: addon.nativeListenerAddress,
          listenerClose: addon.nativeListenerClose,
          listenerPause: addon.nativeListenerPause,
          listenerSweep: addon.nativeListenerSweep,
          addresses: addon.nativeAddresses,
          setNoDelay: addon.nativeSetNoDelay,
          setKeepAlive: addon.nativeSetKeepAlive
        }
      : null,
  errors:
    typeof addon.errorTable === 'function'
      ? decodeErrorTable(addon.errorTable())
      : [],
  PIECE,
  CTRL_PIECE,
  MESSAGE,
  PING,
  PONG,
  CLOSE,
  ERROR,
  INFLATED,
  FIN,
  RSV1,
  MASK,
  HEADER_ONLY
};
