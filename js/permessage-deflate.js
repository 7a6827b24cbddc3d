'use strict';

const binding = require('./binding');
const { kStatusCode } = require('./constants');

const { Deflater, Inflater, negotiateDeflate } = binding;

const EXTENSION_NAME = 'permessage-deflate';

//
// The ranges Node's zlib accepts for the options ws passes through
// `zlibDeflateOptions`; the window sizes are those of RFC 7692.
//
const ZLIB_RANGES = {
  level: [-1, 9],
  memLevel: [1, 9],
  strategy: [0, 4]
};

/**
 * permessage-deflate (RFC 7692), with the interface of ws's
 * `PerMessageDeflate`: `offer()`, `accept()`, `params`, `cleanup()`,
 * `compress()`, `decompress()`. The work is done in Rust: the negotiation
 * (`negotiateDeflate()`, ws's rules and texts), compression (one `Deflater`
 * per connection, synchronous: a message is compressed when it is sent, so
 * the order of frames is the order of sends) and decompression (inside the
 * connection's `Receiver`, as the payload arrives).
 *
 * `concurrencyLimit` is accepted and has no use: nothing runs on the libuv
 * thread pool. `zlibDeflateOptions` may set `level`, `memLevel` and
 * `strategy`; `zlibInflateOptions` and the other zlib options are accepted
 * and ignored.
 */
class PerMessageDeflate {
  /**
   * Creates a PerMessageDeflate instance.
   *
   * @param {Object} [options] Configuration options
   * @param {(Boolean|Number)} [options.clientMaxWindowBits] Advertise support
   *     for, or request, a custom client window size
   * @param {Boolean} [options.clientNoContextTakeover=false] Advertise/
   *     acknowledge disabling of client context takeover
   * @param {Number} [options.concurrencyLimit=10] Accepted for compatibility
   * @param {Boolean} [options.isServer=false] Create the instance in either
   *     server or client mode
   * @param {Number} [options.maxPayload=0] The maximum allowed message length
   * @param {(Boolean|Number)} [options.serverMaxWindowBits] Request/confirm the
   *     use of a custom server window size
   * @param {Boolean} [options.serverNoContextTakeover=false] Request/accept
   *     disabling of server context takeover
   * @param {Number} [options.threshold=1024] Size (in bytes) below which
   *     messages should not be compressed if context takeover is disabled
   * @param {Object} [options.zlibDeflateOptions] Options to pass to zlib on
   *     deflate (`level`, `memLevel`, `strategy`)
   * @param {Object} [options.zlibInflateOptions] Accepted for compatibility
   * @throws {RangeError} If a window size or a zlib option is out of range
   */
  constructor(options) {
    this._options = options || {};
    validateOptions(this._options);
    this._threshold =
      this._options.threshold !== undefined ? this._options.threshold : 1024;
    this._maxPayload = this._options.maxPayload | 0;
    this._isServer = !!this._options.isServer;
    this._deflate = null;
    this._inflate = null;
    this._header = '';

    this.params = null;
  }

  /**
   * @type {String}
   */
  static get extensionName() {
    return EXTENSION_NAME;
  }

  /**
   * Create an extension negotiation offer (the client's).
   *
   * @return {Object} Extension parameters
   * @public
   */
  offer() {
    const opts = this._options;
    const params = {};

    if (opts.serverNoContextTakeover) params.server_no_context_takeover = true;
    if (opts.clientNoContextTakeover) params.client_no_context_takeover = true;
    if (opts.serverMaxWindowBits) {
      params.server_max_window_bits = opts.serverMaxWindowBits;
    }

    //
    // Unset, the client still says it can work with a smaller window (a
    // parameter without a value), as ws does.
    //
    if (opts.clientMaxWindowBits) {
      params.client_max_window_bits = opts.clientMaxWindowBits;
    } else if (opts.clientMaxWindowBits == null) {
      params.client_max_window_bits = true;
    }

    return params;
  }

  /**
   * Accept an extension negotiation offer (server) or response (client).
   *
   * @param {Array} configurations The offers or the response, as
   *     `extension.parse()` returns them for this extension
   * @return {Object} Accepted configuration
   * @throws {(Error|TypeError)} With ws's message, if refused
   * @public
   */
  accept(configurations) {
    const lists = configurations.map((params) => {
      const pairs = [];

      for (const key of Object.keys(params)) {
        for (const value of [].concat(params[key])) {
          pairs.push([key, value === true ? true : String(value)]);
        }
      }

      return pairs;
    });

    return this.acceptPairs(lists);
  }

  /**
   * `accept()` for configurations as `parseExtensions()` of the addon gives
   * them (`[param, value]` pairs), which saves the handshake a conversion.
   *
   * @param {Array} lists The configurations
   * @return {Object} Accepted configuration
   * @private
   */
  acceptPairs(lists) {
    const opts = this._options;
    const agreement = negotiateDeflate(lists, this._isServer, {
      serverNoContextTakeover: flag(opts.serverNoContextTakeover),
      clientNoContextTakeover: flag(opts.clientNoContextTakeover),
      serverMaxWindowBits: windowBits(opts.serverMaxWindowBits),
      clientMaxWindowBits: windowBits(opts.clientMaxWindowBits)
    });

    //
    // Like the objects of `extension.parse()`, which ws returns.
    //
    const params = Object.create(null);

    for (const [key, value] of agreement.params) params[key] = value;

    this._header = agreement.header;
    this.params = params;
    return params;
  }

  /**
   * Releases all resources used by the extension.
   *
   * @public
   */
  cleanup() {
    if (this._inflate) {
      this._inflate.close();
      this._inflate = null;
    }

    if (this._deflate) {
      this._deflate.close();
      this._deflate = null;
    }
  }

  /**
   * Compress data, synchronously. What a connection's sender uses.
   *
   * @param {Buffer} data Data to compress
   * @param {Boolean} fin Specifies whether or not this is the last fragment
   * @return {Buffer} The compressed data, without the trailer if `fin`
   * @private
   */
  compressSync(data, fin) {
    if (this._deflate === null) {
      const own = this._isServer ? 'server' : 'client';
      const bits = this.params[`${own}_max_window_bits`];
      const zlib = this._options.zlibDeflateOptions || {};

      this._deflate = new Deflater({
        windowBits: typeof bits === 'number' ? bits : 15,
        noContextTakeover: !!this.params[`${own}_no_context_takeover`],
        level: zlib.level,
        memLevel: zlib.memLevel,
        strategy: zlib.strategy
      });
    }

    return this._deflate.compress(data, fin);
  }

  /**
   * Compress data. The callback is called asynchronously, as with ws.
   *
   * @param {(Buffer|String)} data Data to compress
   * @param {Boolean} fin Specifies whether or not this is the last fragment
   * @param {Function} callback Callback
   * @public
   */
  compress(data, fin, callback) {
    const input = typeof data === 'string' ? Buffer.from(data) : data;
    const result = this.compressSync(input, fin);

    process.nextTick(callback, null, result);
  }

  /**
   * Decompress data. The callback is called asynchronously, as with ws.
   *
   * @param {Buffer} data Compressed data
   * @param {Boolean} fin Specifies whether or not this is the last fragment
   * @param {Function} callback Callback
   * @public
   */
  decompress(data, fin, callback) {
    if (this._inflate === null) {
      const peer = this._isServer ? 'client' : 'server';
      const bits = this.params[`${peer}_max_window_bits`];

      this._inflate = new Inflater({
        windowBits: typeof bits === 'number' ? bits : 15,
        noContextTakeover: !!this.params[`${peer}_no_context_takeover`],
        maxPayload: this._maxPayload
      });
    }

    const result = this._inflate.inflate(data, fin);

    if (typeof result !== 'number') {
      process.nextTick(callback, null, result);
      return;
    }

    this._inflate = null;
    process.nextTick(callback, inflateError(result));
  }
}

module.exports = PerMessageDeflate;
module.exports.inflateParams = inflateParams;
module.exports.validateOptions = validateOptions;

/**
 * What a connection's receiver needs to inflate the peer's messages.
 *
 * @param {Object} extensions The negotiated extensions
 * @param {Boolean} isServer Whether this end is the server
 * @return {(Object|null)} `{ windowBits, noContextTakeover }`, or `null`
 *     when permessage-deflate is not in use
 * @private
 */
function inflateParams(extensions, isServer) {
  const deflate = extensions && extensions[EXTENSION_NAME];

  if (!deflate) return null;

  const peer = isServer ? 'client' : 'server';
  const bits = deflate.params[`${peer}_max_window_bits`];

  return {
    windowBits: typeof bits === 'number' ? bits : 15,
    noContextTakeover: !!deflate.params[`${peer}_no_context_takeover`]
  };
}

/**
 * Checks the options that ws only hands to zlib, which throws on the first
 * message; failing when the server or client is created is kinder.
 *
 * @param {Object} options The `perMessageDeflate` options
 * @throws {RangeError} If a window size or a zlib option is out of range
 * @private
 */
function validateOptions(options) {
  for (const name of ['serverMaxWindowBits', 'clientMaxWindowBits']) {
    const value = options[name];

    if (
      typeof value === 'number' &&
      !(Number.isInteger(value) && value >= 8 && value <= 15)
    ) {
      throw outOfRange(`perMessageDeflate.${name}`, value, 8, 15);
    }
  }

  const zlib = options.zlibDeflateOptions;

  if (zlib === null || typeof zlib !== 'object') return;

  for (const name of Object.keys(ZLIB_RANGES)) {
    const value = zlib[name];
    const [min, max] = ZLIB_RANGES[name];

    //
    // Node's zlib uses the default for `undefined` and NaN.
    //
    if (value === undefined || Number.isNaN(value)) continue;

    if (typeof value !== 'number') {
      const err = new TypeError(
        `The "perMessageDeflate.zlibDeflateOptions.${name}" option must be ` +
          `of type number. Received ${typeof value}`
      );

      err.code = 'ERR_INVALID_ARG_TYPE';
      throw err;
    }

    if (value < min || value > max) {
      throw outOfRange(
        `perMessageDeflate.zlibDeflateOptions.${name}`,
        value,
        min,
        max
      );
    }
  }
}

/**
 * @param {String} name The option
 * @param {Number} value Its value
 * @param {Number} min The smallest value allowed
 * @param {Number} max The largest value allowed
 * @return {RangeError} The error, worded as Node's `ERR_OUT_OF_RANGE`
 * @private
 */
function outOfRange(name, value, min, max) {
  const err = new RangeError(
    `The value of "${name}" is out of range. It must be >= ${min} and ` +
      `<= ${max}. Received ${value}`
  );

  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}

/**
 * Maps a `*NoContextTakeover` option to what the negotiation tests: exactly
 * `false`, truthy, or neither.
 *
 * @param {*} value The option
 * @return {(Boolean|undefined)} The flag
 * @private
 */
function flag(value) {
  if (value === false) return false;
  return value ? true : undefined;
}

/**
 * Maps a `*MaxWindowBits` option to what the negotiation tests: a number,
 * exactly `false`, or neither (`true`, absent: no size is imposed).
 *
 * @param {*} value The option
 * @return {(Number|Boolean|undefined)} The size
 * @private
 */
function windowBits(value) {
  return typeof value === 'number' || value === false ? value : undefined;
}

/**
 * Builds the error `decompress()` reports, as ws's `PerMessageDeflate`
 * does (zlib's error, or the size limit).
 *
 * @param {Number} id The id in the addon's error table
 * @return {Error} The error
 * @private
 */
function inflateError(id) {
  const row = binding.errors[id];
  const err = new row.ErrorCtor(row.message);

  err.code = row.code;
  if (row.code === 'Z_DATA_ERROR') err.errno = -3;
  err[kStatusCode] = row.statusCode;
  return err;
}
