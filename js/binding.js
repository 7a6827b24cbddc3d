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
// Record types and frame flags, defined once in Rust (src/records.rs).
//
const constants = addon.constants();

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
  ...constants,
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
  // Which copy of the addon this is: two package directories in one
  // process load two copies, each with its own native transport.
  //
  instanceId: addon.instanceId(),
  //
  // The native transport (Unix; absent on Windows): see
  // js/transport/native.js and src/napi_native.rs.
  //
  native:
    typeof addon.nativeInit === 'function'
      ? {
          init: addon.nativeInit,
          adopt: addon.nativeAdopt,
          configure: addon.nativeConfigure,
          attach: addon.nativeAttach,
          send: addon.nativeSend,
          write: addon.nativeWrite,
          writev: addon.nativeWritev,
          end: addon.nativeEnd,
          setReading: addon.nativeSetReading,
          setMergeFrames: addon.nativeSetMergeFrames,
          setRef: addon.nativeSetRef,
          close: addon.nativeClose,
          counts: addon.nativeCounts,
          openCount: addon.nativeOpenCount,
          listen: addon.nativeListen,
          bind: addon.nativeBind,
          listenerAddress: addon.nativeListenerAddress,
          listenerClose: addon.nativeListenerClose,
          listenerPause: addon.nativeListenerPause,
          listenerSweep: addon.nativeListenerSweep,
          listenerSetRef: addon.nativeListenerSetRef,
          addresses: addon.nativeAddresses,
          setNoDelay: addon.nativeSetNoDelay,
          setKeepAlive: addon.nativeSetKeepAlive
        }
      : null,
  errors: decodeErrorTable(addon.errorTable())
};
