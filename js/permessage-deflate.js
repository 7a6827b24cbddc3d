'use strict';

const { Buffer } = require('buffer');
const zlib = require('zlib');

const binding = require('./binding');
const { kStatusCode } = require('./constants');

const { Deflater, Inflater, negotiateDeflate } = binding;

const EXTENSION_NAME = 'permessage-deflate';
const EMPTY = Buffer.alloc(0);

//
// The ranges Node's zlib accepts for the options ws passes through
// `zlibDeflateOptions`; the window sizes are those of RFC 7692.
//
const ZLIB_RANGES = {
  level: [-1, 9],
  memLevel: [1, 9],
  strategy: [0, 4]
};

//
// The `zlibDeflateOptions` and `zlibInflateOptions` objects already checked
// by Node's zlib (see `checkWithZlib()`): servers and clients share theirs
// between connections.
//
const checkedZlibOptions = new WeakSet();

//
// Data of this many bytes or more is compressed on libuv's thread pool
// (`compressAsync()`), smaller data on the main thread (`compressSync()`).
// See bench/deflate-offload.js for the figures behind the default.
// `WS_NATIVE_DEFLATE_OFFLOAD` overrides it (bytes; 0 or `off` = never).
//
const OFFLOAD_THRESHOLD = offloadThreshold(process.env.WS_NATIVE_DEFLATE_OFFLOAD);

//
// Thread-pool jobs in progress in the whole process are limited, as ws
// limits its zlib jobs, by the `concurrencyLimit` of the first
// PerMessageDeflate (default 10; ws's rules: 0 or a value that is never
// reached means no limit). Waiting jobs hold the sender's data, not a copy
// (a job copies its input when it starts): a large message broadcast to
// many connections is not copied for each of them at once.
//
let offloadLimiter = null;

/**
 * permessage-deflate (RFC 7692), with the interface of ws's
 * `PerMessageDeflate`: `offer()`, `accept()`, `params`, `cleanup()`,
 * `compress()`, `decompress()`. The work is done in Rust: the negotiation
 * (`negotiateDeflate()`, ws's rules and texts), compression (one `Deflater`
 * per connection, synchronous: a message is compressed when it is sent, so
 * the order of frames is the order of sends) and decompression (inside the
 * connection's `Receiver`, as the payload arrives).
 *
 * `zlibDeflateOptions` sets `level`, `memLevel` and `strategy`. Both
 * `zlibDeflateOptions` and `zlibInflateOptions` are checked by Node's zlib
 * as ws has them checked (a stream is created with them once, then closed);
 * their other options have no effect here, and `dictionary` is refused
 * (see `checkWithZlib()`).
 *
 * Messages of `OFFLOAD_THRESHOLD` bytes or more (128 KiB) are compressed on
 * libuv's thread pool, the smaller ones synchronously; inflating is always
 * synchronous. `concurrencyLimit` has ws's meaning for the thread-pool
 * jobs: at most that many in progress in the whole process, the value of
 * the first PerMessageDeflate created counting (ws does not check it
 * either).
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
   * @param {Number} [options.concurrencyLimit=10] The number of messages
   *     compressed on the thread pool at once, in the whole process
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
   *     deflate: `level`, `memLevel` and `strategy` are used; the others are
   *     checked as Node's zlib checks them and have no effect; `dictionary`
   *     is refused
   * @param {Object} [options.zlibInflateOptions] Checked as Node's zlib
   *     checks them (`chunkSize`, `flush`, `level`, ...), no effect;
   *     `dictionary` is refused
   * @throws {(RangeError|TypeError|Error)} If a window size or a zlib option
   *     is out of range or of the wrong type, or for a `dictionary`
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
    this._cleanedUp = false;

    if (offloadLimiter === null) {
      offloadLimiter = new Limiter(
        this._options.concurrencyLimit !== undefined
          ? this._options.concurrencyLimit
          : 10
      );
    }

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
    this._cleanedUp = true;

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
    return this._deflater().compress(data, fin);
  }

  /**
   * Compress data on libuv's thread pool, once the process has fewer than
   * `concurrencyLimit` such jobs in progress (the data is copied when the
   * job starts). Calls must not overlap, nor overlap with `compressSync()`:
   * the sender starts one only when the previous one is done, and queues
   * whatever is sent meanwhile.
   *
   * @param {Buffer} data Data to compress
   * @param {Boolean} fin Specifies whether or not this is the last fragment
   * @return {Promise<Buffer>} The compressed data, without the trailer if
   *     `fin`
   * @private
   */
  compressAsync(data, fin) {
    return new Promise((resolve, reject) => {
      offloadLimiter.add((done) => {
        //
        // Closed while waiting: nothing will be sent.
        //
        if (this._cleanedUp) {
          done();
          resolve(EMPTY);
          return;
        }

        this._deflater()
          .compressAsync(data, fin)
          .then(
            (result) => {
              done();
              resolve(result);
            },
            (err) => {
              done();
              reject(err);
            }
          );
      });
    });
  }

  /**
   * @return {Deflater} The compressor, created on first use
   * @private
   */
  _deflater() {
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

    return this._deflate;
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

/**
 * A queue of jobs with at most `concurrency` running, as ws's `Limiter`
 * (which it uses for its zlib jobs).
 */
class Limiter {
  /**
   * @param {Number} [concurrency=Infinity] Jobs allowed to run at once
   */
  constructor(concurrency) {
    this.concurrency = concurrency || Infinity;
    this.jobs = [];
    this.pending = 0;
    this.done = () => {
      this.pending--;
      this.run();
    };
  }

  /**
   * @param {Function} job Called with a function to call when it is done
   */
  add(job) {
    this.jobs.push(job);
    this.run();
  }

  /**
   * Starts the next job if there is room.
   */
  run() {
    if (this.pending === this.concurrency || this.jobs.length === 0) return;

    this.pending++;
    this.jobs.shift()(this.done);
  }
}

module.exports = PerMessageDeflate;
module.exports.OFFLOAD_THRESHOLD = OFFLOAD_THRESHOLD;
module.exports.inflateParams = inflateParams;
module.exports.validateOptions = validateOptions;

/**
 * @param {(String|undefined)} value `WS_NATIVE_DEFLATE_OFFLOAD`
 * @return {Number} The size from which data is compressed off the main
 *     thread (Infinity: never)
 * @private
 */
function offloadThreshold(value) {
  if (value === undefined || value === '') return 128 * 1024;
  if (value === 'off') return Infinity;

  const n = Number(value);

  if (!Number.isFinite(n) || n < 0) {
    throw new Error(`WS_NATIVE_DEFLATE_OFFLOAD must be a size in bytes or "off", not "${value}"`);
  }

  return n === 0 ? Infinity : n;
}

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
 * @throws {(RangeError|TypeError|Error)} If a window size or a zlib option
 *     is out of range or of the wrong type (see `checkWithZlib()`)
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

  checkWithZlib(options.zlibInflateOptions, 'zlibInflateOptions');

  const deflateOptions = options.zlibDeflateOptions;

  if (deflateOptions === null || typeof deflateOptions !== 'object') return;

  for (const name of Object.keys(ZLIB_RANGES)) {
    const value = deflateOptions[name];
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

  checkWithZlib(deflateOptions, 'zlibDeflateOptions');
}

/**
 * Checks `zlibDeflateOptions` or `zlibInflateOptions` as Node's zlib does
 * when ws creates its stream on the first message (`createDeflateRaw()` or
 * `createInflateRaw()` with `{ ...options, windowBits }`): a stream is
 * created with them and closed at once, so the errors are Node's own
 * (`options.chunkSize`, `options.flush`, `options.dictionary`, ...), for
 * whatever Node version runs. Each object is checked once.
 *
 * Nothing else in them has an effect here (zlib-rs does the work, in one
 * call per message): `chunkSize` only splits the output that ws joins
 * again, `info` and `maxOutputLength` concern the `*Sync()` helpers,
 * `windowBits` is overridden by ws with the agreed size, and an inflater
 * has no use for `level`, `memLevel` or `strategy`. `flush` and
 * `finishFlush` are ignored (ws always flushes each message fully).
 * `dictionary` is refused: a preset dictionary is not part of RFC 7692,
 * and a peer that relies on it cannot be understood without it.
 *
 * @param {*} options The object
 * @param {String} name `zlibDeflateOptions` or `zlibInflateOptions`
 * @throws {(RangeError|TypeError|Error)} If Node's zlib refuses them, or
 *     for `dictionary`
 * @private
 */
function checkWithZlib(options, name) {
  //
  // ws spreads the value into zlib's options: anything but an object
  // (`undefined`, `null`, a number...) adds nothing that zlib checks.
  //
  if (options === null || typeof options !== 'object') return;
  if (checkedZlibOptions.has(options)) return;

  if (options.dictionary !== undefined) {
    const err = new Error(
      `perMessageDeflate.${name}.dictionary is not supported by ws-native`
    );

    err.code = 'ERR_WS_NATIVE_UNSUPPORTED_OPTION';
    throw err;
  }

  const create =
    name === 'zlibInflateOptions' ? zlib.createInflateRaw : zlib.createDeflateRaw;

  create({ ...options, windowBits: 15 }).close();
  checkedZlibOptions.add(options);
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
