'use strict';

const { Buffer } = require('buffer');
const { randomFillSync } = require('crypto');
const {
  types: { isUint8Array }
} = require('util');

const binding = require('./binding');
const PerMessageDeflate = require('./permessage-deflate');
const { toBuffer, view } = require('./buffer-util');
const {
  EMPTY_BUFFER,
  kWebSocket,
  NO_EXTENSIONS,
  NOOP
} = require('./constants');
const { isBlob, isValidStatusCode } = require('./validation');

const { FIN, RSV1, MASK, HEADER_ONLY, RAW, encodeFrames } = binding;

//
// Payloads from this size up are not copied when they go out unmasked: the
// frame's header is encoded alone and the payload is written after it.
//
const LARGE_PAYLOAD = 64 * 1024;

//
// A sender's batch and queue while they are empty (most of the time for an
// idle connection): this shared, frozen array instead of one of its own.
//
const NONE = Object.freeze([]);

const DEFAULT = 0;
const GET_BLOB_DATA = 1;
const DEFLATING = 2;

//
// Slots per frame in a sender's batch: payload, flags, length, mask, callback.
//
const FRAME_SLOTS = 5;

//
// Slots per operation queued behind a blob: kind (`true` for a blob,
// `false` for data, RAW_ITEM for bytes framed already), data, flags,
// callback, compress.
//
const QUEUE_SLOTS = 5;
const RAW_ITEM = 2;

//
// Small payloads are copied into the stage when they are sent, so that the
// caller may reuse its buffer at once (ws writes synchronously, so this works
// with ws), and strings are encoded straight into it. The stage is reused
// after each flush, when `encodeFrames()` has copied everything out of it.
//
let stage = Buffer.allocUnsafeSlow(LARGE_PAYLOAD);
let stageOffset = 0;

//
// Scratch space for `encodeFrames()`, shared by every sender: the call is
// synchronous and runs no JavaScript.
//
let meta = new Uint32Array(4 * 64);
let masks = Buffer.allocUnsafeSlow(4 * 64);
const payloads = [];

//
// Random masking keys are taken from a pool that is refilled when used up.
//
const RANDOM_POOL_SIZE = 8 * 1024;
let randomPool = null;
let randomPoolOffset = RANDOM_POOL_SIZE;

//
// Senders with frames waiting for the end of the tick.
//
let pending = [];
let flushScheduled = false;
let exitHookInstalled = false;

/**
 * Frames outgoing messages through the Rust `encodeFrames()`. Frames sent in
 * the same tick are encoded with one call and written with one
 * `socket.write()` (corked when large payloads go out on their own), so the
 * cost of crossing into the addon is paid once per batch.
 */
class Sender {
  /**
   * Creates a Sender instance.
   *
   * @param {Duplex} socket The connection socket
   * @param {Object} [extensions] An object containing the negotiated extensions
   * @param {Function} [generateMask] The function used to generate the masking
   *     key
   */
  constructor(socket, extensions, generateMask) {
    this._extensions = extensions || NO_EXTENSIONS;
    this._generateMask = generateMask || null;
    this._maskBuffer = null; // for `generateMask`, made when first needed

    this._socket = socket;
    this._firstFragment = true;
    this._compress = false;

    //
    // Payload bytes not handed to the socket yet: batched frames and the
    // operations that wait for a blob to be read.
    //
    this._bufferedBytes = 0;
    this._frames = NONE;
    this._pending = false;
    this._queue = NONE;
    this._state = DEFAULT;
    this.onerror = NOOP;
    this[kWebSocket] = undefined;
  }

  /**
   * Frames a piece of data as ws's `Sender.frame()` does, down to the shape
   * of the result, which engine.io and socket.io-adapter rely on: the header
   * alone, then `data` itself (not a copy) unless it is empty or the frame
   * is masked with `readOnly` set (then one buffer, header and masked copy);
   * masked without `readOnly`, `data` is masked in place.
   *
   * @param {(Buffer|String)} data The data to frame
   * @param {Object} options Options object
   * @param {Boolean} [options.fin=false] Specifies whether or not to set the
   *     FIN bit
   * @param {Function} [options.generateMask] The function used to generate the
   *     masking key
   * @param {Boolean} [options.mask=false] Specifies whether or not to mask
   *     `data`
   * @param {Buffer} [options.maskBuffer] The buffer used to store the masking
   *     key
   * @param {Number} options.opcode The opcode
   * @param {Boolean} [options.readOnly=false] Specifies whether `data` can be
   *     modified
   * @param {Boolean} [options.rsv1=false] Specifies whether or not to set the
   *     RSV1 bit
   * @return {Buffer[]} The frame
   * @public
   */
  static frame(data, options) {
    const payload =
      typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
    const length = payload.length;
    let mask = null;

    if (options.mask) {
      mask = options.maskBuffer || Buffer.alloc(4);

      if (options.generateMask) options.generateMask(mask);
      else mask.writeUInt32LE(randomMask(), 0);
    }

    //
    // A zero key leaves the payload as it is: ws skips the masking then.
    //
    const masking =
      mask !== null && (mask[0] | mask[1] | mask[2] | mask[3]) !== 0;
    const merge = masking && options.readOnly && typeof data !== 'string';
    const extended = length > 65535 ? 8 : length > 125 ? 2 : 0;
    const headerLength = 2 + extended + (mask === null ? 0 : 4);
    const target = Buffer.allocUnsafe(
      merge ? headerLength + length : headerLength
    );

    target[0] = (options.fin ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0);
    target[0] |= options.opcode;
    target[1] = extended === 8 ? 127 : extended === 2 ? 126 : length;

    if (extended === 2) {
      target.writeUInt16BE(length, 2);
    } else if (extended === 8) {
      target.writeUInt32BE(Math.floor(length / 0x100000000), 2);
      target.writeUInt32BE(length >>> 0, 6);
    }

    if (mask !== null) {
      target[1] |= 0x80;
      mask.copy(target, headerLength - 4, 0, 4);
    }

    if (length === 0) return [target];
    if (!masking) return [target, payload];

    const out = merge ? target : payload;
    const offset = merge ? headerLength : 0;

    for (let i = 0; i < length; i++) {
      out[offset + i] = payload[i] ^ mask[i & 3];
    }

    return merge ? [target] : [target, payload];
  }

  /**
   * Sends a close frame.
   *
   * @param {Number} [code] The status code component of the body
   * @param {(String|Buffer)} [data] The message component of the body
   * @param {Boolean} [mask=false] Specifies whether or not to mask the message
   * @param {Function} [cb] Callback
   * @public
   */
  close(code, data, mask, cb) {
    let buf;

    if (code === undefined) {
      buf = EMPTY_BUFFER;
    } else if (typeof code !== 'number' || !isValidStatusCode(code)) {
      throw new TypeError('First argument must be a valid error code number');
    } else if (data === undefined || !data.length) {
      buf = Buffer.allocUnsafe(2);
      buf.writeUInt16BE(code, 0);
    } else {
      const length = Buffer.byteLength(data);

      if (length > 123) {
        throw new RangeError('The message must not be greater than 123 bytes');
      }

      //
      // Any other view is refused (ws 8.20.1): copying it element by element
      // would leave uninitialised bytes in the frame.
      //
      if (typeof data !== 'string' && !isUint8Array(data)) {
        throw new TypeError('Second argument must be a string or a Uint8Array');
      }

      buf = Buffer.allocUnsafe(2 + length);
      buf.writeUInt16BE(code, 0);

      if (typeof data === 'string') buf.write(data, 2);
      else buf.set(data, 2);
    }

    this._enqueueOrAdd(buf, 0x08 | FIN | (mask ? MASK : 0), cb);
  }

  /**
   * Sends a ping frame.
   *
   * @param {*} data The message to send
   * @param {Boolean} [mask=false] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback
   * @public
   */
  ping(data, mask, cb) {
    this._control(0x09, data, mask, cb);
  }

  /**
   * Sends a pong frame.
   *
   * @param {*} data The message to send
   * @param {Boolean} [mask=false] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback
   * @public
   */
  pong(data, mask, cb) {
    this._control(0x0a, data, mask, cb);
  }

  /**
   * Sends a data frame.
   *
   * @param {*} data The message to send
   * @param {Object} options Options object
   * @param {Boolean} [options.binary=false] Specifies whether `data` is binary
   *     or text
   * @param {Boolean} [options.compress=false] Specifies whether or not to
   *     compress `data` (with permessage-deflate negotiated)
   * @param {Boolean} [options.fin=false] Specifies whether the fragment is the
   *     last one
   * @param {Boolean} [options.mask=false] Specifies whether or not to mask
   *     `data`
   * @param {Function} [cb] Callback
   * @public
   */
  send(data, options, cb) {
    const deflate = this._extensions[PerMessageDeflate.extensionName];
    let opcode = options.binary ? 0x02 : 0x01;
    let rsv1 = !!options.compress && deflate !== undefined;

    //
    // A message is compressed or not as a whole, as its first fragment
    // says; only that frame carries RSV1. As in ws, the threshold applies
    // only without context takeover: with it, even small messages gain.
    //
    if (this._firstFragment) {
      this._firstFragment = false;

      if (
        rsv1 &&
        deflate.params[
          deflate._isServer
            ? 'server_no_context_takeover'
            : 'client_no_context_takeover'
        ]
      ) {
        rsv1 = byteLength(data) >= deflate._threshold;
      }

      this._compress = rsv1;
    } else {
      rsv1 = false;
      opcode = 0x00;
    }

    if (options.fin) this._firstFragment = true;

    const flags =
      opcode |
      (options.fin ? FIN : 0) |
      (rsv1 ? RSV1 : 0) |
      (options.mask ? MASK : 0);

    if (isBlob(data)) this._sendBlob(data, flags, cb, this._compress);
    else this._enqueueOrAdd(data, flags, cb, this._compress);
  }

  /**
   * Whether nothing waits (a blob being read, data being compressed off
   * the main thread): a frame added now goes out next.
   *
   * @type {Boolean}
   */
  get idle() {
    return this._state === DEFAULT;
  }

  /**
   * Adds a frame made elsewhere (a publish's compressed message), or queues
   * it behind what waits.
   *
   * @param {Buffer} data The payload
   * @param {Number} flags The frame's flags
   * @param {Boolean} owned Whether nobody else holds `data`
   * @private
   */
  _frameOrQueue(data, flags, owned) {
    if (this._state === DEFAULT) {
      this._frame(data, flags, undefined, owned);
      return;
    }

    this._bufferedBytes += data.length;
    if (this._queue === NONE) this._queue = [];
    this._queue.push(false, data, flags, undefined, false);
  }

  /**
   * Writes the batched frames now instead of at the end of the tick. Called
   * before the socket is ended or destroyed.
   *
   * @public
   */
  flush() {
    if (this._frames.length === 0) return;

    const out = this._encode();
    this._write(out);
  }

  /**
   * Sends a ping or a pong.
   *
   * @param {Number} opcode The opcode
   * @param {*} data The payload
   * @param {Boolean} [mask=false] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback
   * @private
   */
  _control(opcode, data, mask, cb) {
    const blob = isBlob(data);
    let length;

    if (blob) {
      length = data.size;
    } else {
      if (typeof data !== 'string') data = toBuffer(data);
      length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    }

    if (length > 125) {
      throw new RangeError('The data size must not be greater than 125 bytes');
    }

    const flags = opcode | FIN | (mask ? MASK : 0);

    if (blob) this._sendBlob(data, flags, cb);
    else this._enqueueOrAdd(data, flags, cb);
  }

  /**
   * Adds a frame to the batch, or queues it behind a blob that is being read.
   *
   * @param {*} data The payload
   * @param {Number} flags The frame's flags
   * @param {Function} [cb] Callback
   * @param {Boolean} [compress=false] Whether to compress the payload
   * @private
   */
  _enqueueOrAdd(data, flags, cb, compress) {
    if (this._state === DEFAULT) {
      this._add(data, flags, cb, compress);
      return;
    }

    //
    // Copied now: the caller may reuse its buffer as soon as this returns.
    //
    const payload = Buffer.from(
      typeof data === 'string' ? data : toBuffer(data)
    );

    this._bufferedBytes += payload.length;
    if (this._queue === NONE) this._queue = [];
    this._queue.push(false, payload, flags, cb, compress);
  }

  /**
   * Adds a frame: compresses its payload first if asked to (the same for
   * every transport), then hands it to `_frame()`.
   *
   * @param {*} data The payload
   * @param {Number} flags The frame's flags
   * @param {Function} [cb] Callback
   * @param {Boolean} [compress=false] Whether to compress the payload
   * @private
   */
  _add(data, flags, cb, compress) {
    if (!compress) {
      this._frame(data, flags, cb, false);
      return;
    }

    //
    // Compressed now, in the order of the sends, which is the order the
    // peer inflates in. The result is a new buffer that nothing else holds,
    // so it needs neither the stage nor a snapshot. Large data is
    // compressed on the thread pool, later frames waiting meanwhile.
    //
    const mark = stageOffset;
    const input = typeof data === 'string' ? stageString(data) : toBuffer(data);
    const deflate = this._extensions[PerMessageDeflate.extensionName];

    if (input.length >= PerMessageDeflate.OFFLOAD_THRESHOLD) {
      //
      // The stage is reused once flushed, and the job may start later: a
      // staged string is copied (strings of LARGE_PAYLOAD bytes or more are
      // never staged). Other data is held, not copied, as ws does.
      //
      this._deflateOffThread(
        deflate,
        input.buffer === stage.buffer ? Buffer.from(input) : input,
        flags,
        cb
      );
      return;
    }

    const payload = deflate.compressSync(input, (flags & FIN) !== 0);

    //
    // The input was only needed for the call: its room in the stage is
    // free again.
    //
    if (input.buffer === stage.buffer) stageOffset = mark;
    this._frame(payload, flags, cb, true);
  }

  /**
   * Adds a frame to the batch and schedules the flush.
   *
   * @param {*} data The payload
   * @param {Number} flags The frame's flags
   * @param {Function} [cb] Callback
   * @param {Boolean} owned Whether nobody else holds `data` (compressed)
   * @private
   */
  _frame(data, flags, cb, owned) {
    let payload;

    if (owned) {
      payload = data;
    } else if (typeof data === 'string') {
      payload = stageString(data);
    } else {
      payload = toBuffer(data);

      if (payload.length !== 0) {
        if (payload.length < LARGE_PAYLOAD) {
          payload = stageBuffer(payload);
        } else if (flags & MASK) {
          //
          // `encodeFrames()` copies a masked payload, but only at the end of
          // the tick: take a snapshot now.
          //
          payload = Buffer.from(payload);
        }
      }
    }

    let mask = 0;

    if (flags & MASK) {
      mask = this._mask();
    } else if (payload.length >= LARGE_PAYLOAD) {
      flags |= HEADER_ONLY;
    }

    this._bufferedBytes += payload.length;
    if (this._frames === NONE) this._frames = [];
    this._frames.push(payload, flags, payload.length, mask, cb);
    this._schedule();
  }

  /**
   * Writes frames encoded already (ws's `Sender.frame()` output, which
   * engine.io and socket.io encode once for many connections), in order
   * with what was sent before.
   *
   * @param {Buffer[]} list The buffers of the frames
   * @param {Function} [cb] Callback
   * @public
   */
  sendFrame(list, cb) {
    const last = list.length - 1;

    for (let i = 0; i <= last; i++) {
      const data = toBuffer(list[i]);

      if (this._state === DEFAULT) {
        this._raw(data, i === last ? cb : undefined);
      } else {
        if (this._queue === NONE) this._queue = [];
        this._bufferedBytes += data.length;
        this._queue.push(RAW_ITEM, data, 0, i === last ? cb : undefined, false);
      }
    }
  }

  /**
   * Adds bytes framed already to the batch.
   *
   * @param {Buffer} data The bytes
   * @param {Function} [cb] Callback
   * @private
   */
  _raw(data, cb) {
    this._bufferedBytes += data.length;
    if (this._frames === NONE) this._frames = [];
    this._frames.push(data, RAW, data.length, 0, cb);
    this._schedule();
  }

  /**
   * @return {Number} The masking key of the next frame
   * @private
   */
  _mask() {
    if (this._generateMask !== null) {
      if (this._maskBuffer === null) this._maskBuffer = Buffer.alloc(4);
      this._generateMask(this._maskBuffer);
      return this._maskBuffer.readUInt32LE(0);
    }

    return randomMask();
  }

  /**
   * Schedules the end-of-tick flush of this sender's batch.
   *
   * @private
   */
  _schedule() {
    if (this._pending) return;

    this._pending = true;
    pending.push(this);

    if (!flushScheduled) {
      flushScheduled = true;
      process.nextTick(flushAll);

      //
      // ws writes at once, so a program may send and then exit in the
      // same tick; write the batch on the way out then.
      //
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.once('exit', flushAll);
      }
    }
  }

  /**
   * Compresses large data on libuv's thread pool, then adds its frame.
   * Later frames wait in the queue meanwhile (the DEFLATING state), as
   * behind a blob, so frames keep the order of the sends and the
   * compressor sees the messages in that order.
   *
   * @param {PerMessageDeflate} deflate The extension
   * @param {Buffer} input The data (copied when the job starts)
   * @param {Number} flags The frame's flags (RSV1 set)
   * @param {Function} [cb] Callback
   * @private
   */
  _deflateOffThread(deflate, input, flags, cb) {
    const size = input.length;

    this._bufferedBytes += size;
    this._state = DEFLATING;

    deflate.compressAsync(input, (flags & FIN) !== 0).then(
      (payload) => {
        if (this._socket.destroyed) {
          const err = new Error(
            'The socket was closed while data was being compressed'
          );

          process.nextTick(callCallbacks, this, err, cb);
          return;
        }

        this._bufferedBytes -= size;
        this._state = DEFAULT;
        this._add(payload, flags, cb, false);
        this._dequeue();
      },
      (err) => {
        process.nextTick(onError, this, err, cb);
      }
    );
  }

  /**
   * Reads a blob, then sends it. Later frames wait in the queue meanwhile.
   *
   * @param {Blob} blob The blob
   * @param {Number} flags The frame's flags
   * @param {Function} [cb] Callback
   * @private
   */
  _sendBlob(blob, flags, cb, compress) {
    if (this._state !== DEFAULT) {
      this._bufferedBytes += blob.size;
      if (this._queue === NONE) this._queue = [];
      this._queue.push(true, blob, flags, cb, compress);
      return;
    }

    const size = blob.size;

    this._bufferedBytes += size;
    this._state = GET_BLOB_DATA;

    blob
      .arrayBuffer()
      .then((arrayBuffer) => {
        if (this._socket.destroyed) {
          const err = new Error(
            'The socket was closed while the blob was being read'
          );

          //
          // In the next tick, so that an error thrown by a callback is not
          // swallowed by the promise.
          //
          process.nextTick(callCallbacks, this, err, cb);
          return;
        }

        this._bufferedBytes -= size;
        this._state = DEFAULT;
        this._add(toBuffer(arrayBuffer), flags, cb, compress);
        this._dequeue();
      })
      .catch((err) => {
        process.nextTick(onError, this, err, cb);
      });
  }

  /**
   * Sends the operations that waited for a blob, until the next blob.
   *
   * @private
   */
  _dequeue() {
    const queue = this._queue;

    while (this._state === DEFAULT && queue.length !== 0) {
      const kind = queue.shift();
      const data = queue.shift();
      const flags = queue.shift();
      const cb = queue.shift();
      const compress = queue.shift();

      this._bufferedBytes -= kind === true ? data.size : data.length;

      if (kind === true) this._sendBlob(data, flags, cb, compress);
      else if (kind === RAW_ITEM) this._raw(data, cb);
      else this._add(data, flags, cb, compress);
    }
  }

  /**
   * Encodes the batched frames with one `encodeFrames()` call.
   *
   * @return {Object} The buffers to write, in order, and the callback to call
   *     once they are written
   * @private
   */
  _encode() {
    const frames = this._frames;
    const count = frames.length / FRAME_SLOTS;
    let size = 0;
    let payloadBytes = 0;

    if (meta.length < 4 * count) {
      meta = new Uint32Array(4 * nextPowerOfTwo(count));
      masks = Buffer.allocUnsafeSlow(4 * nextPowerOfTwo(count));
    }

    //
    // Frames framed already (`sendFrame()`) are not encoded: they are
    // written as they are, between the others.
    //
    let encoded = 0;

    for (let f = 0; f < frames.length; f += FRAME_SLOTS) {
      const flags = frames[f + 1];
      const length = frames[f + 2];

      payloadBytes += length;
      if (flags & RAW) continue;

      const i = encoded++;

      meta[4 * i] = flags;
      meta[4 * i + 1] = length;
      meta[4 * i + 2] = 4 * i;
      meta[4 * i + 3] = i;
      if (flags & MASK) masks.writeUInt32LE(frames[f + 3], 4 * i);
      payloads.push(frames[f]);
      size += headerSize(length, flags);
      if ((flags & HEADER_ONLY) === 0) size += length;
    }

    const out = Buffer.allocUnsafe(size);

    try {
      encodeFrames(out, payloads, meta, encoded, masks);
    } finally {
      payloads.length = 0;
    }

    //
    // Cut the output after each header whose payload goes out on its own.
    //
    const buffers = [];
    const callbacks = [];
    let start = 0;
    let offset = 0;

    for (let f = 0; f < frames.length; f += FRAME_SLOTS) {
      const flags = frames[f + 1];
      const length = frames[f + 2];

      if (frames[f + 4] !== undefined) callbacks.push(frames[f + 4]);

      if (flags & RAW) {
        if (offset > start) buffers.push(view(out, start, offset - start));
        buffers.push(frames[f]);
        start = offset;
        continue;
      }

      offset += headerSize(length, flags);

      if (flags & HEADER_ONLY) {
        buffers.push(view(out, start, offset - start), frames[f]);
        start = offset;
      } else {
        offset += length;
      }
    }

    if (start === 0 && buffers.length === 0) buffers.push(out);
    else if (offset > start) buffers.push(view(out, start, offset - start));

    this._bufferedBytes -= payloadBytes;
    this._frames = NONE;
    this._pending = false;

    let callback;

    if (callbacks.length === 1) callback = callbacks[0];
    else if (callbacks.length !== 0) callback = callAll.bind(null, callbacks);

    return { buffers, callback };
  }

  /**
   * Writes encoded frames to the socket.
   *
   * @param {Object} output The result of `_encode()`
   * @private
   */
  _write(output) {
    const { buffers, callback } = output;
    const socket = this._socket;
    const last = buffers.length - 1;

    if (last === 0) {
      socket.write(buffers[0], callback);
      return;
    }

    socket.cork();
    for (let i = 0; i < last; i++) socket.write(buffers[i]);
    socket.write(buffers[last], callback);
    socket.uncork();
  }
}

module.exports = Sender;

/**
 * Encodes the batches of every sender with frames, then writes them. Encoding
 * everything first frees the stage before any write can run code (a `Duplex`
 * may call back synchronously) that sends again.
 *
 * @private
 */
function flushAll() {
  const senders = pending;
  const outputs = new Array(senders.length);

  pending = [];
  flushScheduled = false;

  for (let i = 0; i < senders.length; i++) {
    outputs[i] = senders[i]._frames.length !== 0 ? senders[i]._encode() : null;
  }

  stageOffset = 0;

  for (let i = 0; i < senders.length; i++) {
    if (outputs[i] !== null) senders[i]._write(outputs[i]);
  }
}

/**
 * Copies a string into the stage as UTF-8.
 *
 * @param {String} data The string
 * @return {Buffer} A view of the encoded bytes
 * @private
 */
function stageString(data) {
  if (data.length === 0) return EMPTY_BUFFER;

  //
  // A UTF-16 code unit takes at most 3 bytes in UTF-8; only compute the exact
  // length when the worst case does not fit.
  //
  let length = data.length * 3;

  if (length > stage.length - stageOffset) {
    length = Buffer.byteLength(data);
    if (length >= LARGE_PAYLOAD) return Buffer.from(data);
    if (length > stage.length - stageOffset) newStage();
  }

  const written = stage.write(data, stageOffset);
  const payload = view(stage, stageOffset, written);

  stageOffset += written;
  return payload;
}

/**
 * Copies a small buffer into the stage.
 *
 * @param {Buffer} data The buffer
 * @return {Buffer} A view of the copy
 * @private
 */
function stageBuffer(data) {
  if (data.length > stage.length - stageOffset) newStage();

  stage.set(data, stageOffset);

  const payload = view(stage, stageOffset, data.length);

  stageOffset += data.length;
  return payload;
}

/**
 * Starts a new stage; views of the old one stay valid until they are flushed.
 *
 * @private
 */
function newStage() {
  stage = Buffer.allocUnsafeSlow(LARGE_PAYLOAD);
  stageOffset = 0;
}

/**
 * @return {Number} A random masking key as a 32-bit unsigned integer
 * @private
 */
function randomMask() {
  if (randomPoolOffset === RANDOM_POOL_SIZE) {
    //
    // Allocated lazily: servers never mask.
    //
    if (randomPool === null) {
      randomPool = Buffer.allocUnsafeSlow(RANDOM_POOL_SIZE);
    }

    randomFillSync(randomPool, 0, RANDOM_POOL_SIZE);
    randomPoolOffset = 0;
  }

  const mask = randomPool.readUInt32LE(randomPoolOffset);

  randomPoolOffset += 4;
  return mask;
}

/**
 * @param {*} data The data of a message
 * @return {Number} Its length in bytes
 * @private
 */
function byteLength(data) {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (isBlob(data)) return data.size;
  return toBuffer(data).length;
}

/**
 * @param {Number} length The payload length
 * @param {Number} flags The frame's flags
 * @return {Number} The size of the frame's header
 * @private
 */
function headerSize(length, flags) {
  const size = length > 65535 ? 10 : length > 125 ? 4 : 2;
  return flags & MASK ? size + 4 : size;
}

/**
 * @param {Number} n A positive integer
 * @return {Number} The smallest power of two not below `n`
 * @private
 */
function nextPowerOfTwo(n) {
  return 2 ** Math.ceil(Math.log2(n));
}

/**
 * Calls the callbacks of a batch with the result of its write.
 *
 * @param {Function[]} callbacks The callbacks
 * @param {Error} [err] The write error
 * @private
 */
function callAll(callbacks, err) {
  for (let i = 0; i < callbacks.length; i++) callbacks[i](err);
}

/**
 * Calls a sender's pending callbacks with an error.
 *
 * @param {Sender} sender The sender
 * @param {Error} err The error
 * @param {Function} [cb] The first callback
 * @private
 */
function callCallbacks(sender, err, cb) {
  if (typeof cb === 'function') cb(err);

  for (let i = 3; i < sender._queue.length; i += QUEUE_SLOTS) {
    if (typeof sender._queue[i] === 'function') sender._queue[i](err);
  }
}

/**
 * Handles the failure to read a blob.
 *
 * @param {Sender} sender The sender
 * @param {Error} err The error
 * @param {Function} [cb] The first pending callback
 * @private
 */
function onError(sender, err, cb) {
  callCallbacks(sender, err, cb);
  sender.onerror(err);
}
