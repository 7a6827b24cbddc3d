'use strict';

const { Buffer } = require('buffer');
const binding = require('./binding');
const { concat, toArrayBuffer, view } = require('./buffer-util');
const {
  BINARY_TYPES,
  EMPTY_BUFFER,
  kStatusCode,
  kWebSocket,
  NOOP
} = require('./constants');
const { inflateParams } = require('./permessage-deflate');

const {
  PIECE,
  CTRL_PIECE,
  MESSAGE,
  PING,
  PONG,
  CLOSE,
  ERROR,
  INFLATED,
  PIECE_CONT,
  MESSAGE_TEXT,
  MESSAGE_BINARY,
  MESSAGE_EXTRA,
  FRAME_END
} = binding;

//
// One events array for every receiver: `feed()` fills it and the records are
// decoded into the receiver's queue before any listener runs, so it is never
// read while a nested `feed()` could overwrite it.
//
const events = new Uint32Array(2 + 3 * 1024);

//
// Where the frames of an inflated message end (`inflatedFrameEnds()`),
// shared likewise; grown when a message has more frames.
//
let frameEnds = new Uint32Array(64);

//
// The queue of a receiver before its first chunk (see `ParseState`).
//
const NO_ITEMS = Object.freeze([]);

//
// The options of the Rust parser, shared by the receivers that use the
// same ones (every connection of a server, typically).
//
let lastParserOptions = null;

//
// Bits of a receiver's `_flags`.
//
const ALLOW_SYNC = 1; // `allowSynchronousEvents`
const DISPATCHING = 2;
const STOPPED = 4; // a close frame or an error was parsed, or `cleanup()`
const ENDING = 8;
const FINISH_SCHEDULED = 16;
const ERROR_PENDING = 32;
const ERROR_EMITTED = 64;
const FINISHED = 128;
const NEED_DRAIN = 256;
const DETACHED = 512; // `detach()`: no more callbacks

//
// The payload of a message that is still incomplete when its chunk has been
// parsed is held in views of that chunk, which keep all of the chunk alive.
// Where its share of the chunk is small (or the chunk itself is tiny), it is
// copied instead into a buffer of the message's own (see `_unpin()`), so
// that what a message holds stays close to its payload size, however the
// peer cuts it into frames and TCP segments. Those buffers start at
// TAIL_MIN bytes and double up to TAIL_MAX.
//
const SMALL_SHARE = 1024;
const TAIL_MIN = 1024;
const TAIL_MAX = 64 * 1024;

//
// Kinds of the items in a receiver's queue. Each item takes three slots:
// kind, a, b.
//
const Q_MESSAGE = 0; // a: the payload (see `toMessageData()`), b: isBinary
const Q_PING = 1; // a: the payload
const Q_PONG = 2; // a: the payload
const Q_CONCLUDE = 3; // a: the status code, b: the reason
const Q_ERROR = 4; // a: the error

/**
 * The payload of a message made of more than one piece.
 *
 * @private
 */
class Pieces {
  /**
   * @param {Buffer[]} list The pieces, in order
   * @param {Number[]} frameStarts The indexes in `list` where a new frame
   *     begins, except the first one
   * @param {Number} length The total length
   */
  constructor(list, frameStarts, length) {
    this.list = list;
    this.frameStarts = frameStarts;
    this.length = length;
  }
}

/**
 * The payload of a compressed message whose output came from more than one
 * frame, with where each frame's output ends (`binaryType` 'fragments'
 * hands out one buffer per frame).
 *
 * @private
 */
class Inflated {
  /**
   * @param {Buffer} data The inflated payload
   * @param {Uint32Array} ends The offsets in `data` where the output of each
   *     frame that inflated to something ends, the last one `data.length`
   */
  constructor(data, ends) {
    this.data = data;
    this.ends = ends;
  }
}

/**
 * What a receiver needs once data comes in: the Rust parser and the state of
 * the message being received. It is made with the first chunk, so that a
 * connection that never sends anything (an idle one) does not pay for it.
 *
 * @private
 */
class ParseState {
  /**
   * @param {(binding.Receiver|null)} parser The Rust parser, `null` on the
   *     native transport (Rust parses there)
   */
  constructor(parser) {
    this.parser = parser;

    //
    // The current data message: its pieces, the indexes where its frames
    // begin (`binaryType` 'fragments' hands out one buffer per frame), its
    // length, and where the last piece ended, to tell whether the next piece
    // continues the same frame.
    //
    this.pieces = [];
    this.frameStarts = [];
    this.messageLength = 0;
    this.lastEnd = -1;
    this.lastChunkIndex = -1;
    this.chunkIndex = 0;

    //
    // The index in `pieces` of the first piece of the chunk being parsed,
    // and the buffer that `_unpin()` copies pieces into: `tailUsed` bytes
    // are taken, and piece `tailPiece` ends there.
    //
    this.chunkPieces = 0;
    this.tail = null;
    this.tailUsed = 0;
    this.tailPiece = -1;

    //
    // The payload pieces of the current control frame.
    //
    this.controlPieces = [];

    //
    // Native transport: where the frames of the next inflated message end
    // (FRAME_END records), if it has several.
    //
    this.frameEnds = null;
  }
}

/**
 * Turns the records of the Rust receiver into the events of ws's
 * `Receiver`. On the stream transport, `write()` feeds a socket's chunk to
 * a Rust `Receiver` (one `feed()` per chunk); on the native transport, Rust
 * parsed what it read already and `record()` takes its records. Either
 * way payloads are views into the bytes read (unmasked in place by Rust),
 * and the events are delivered through the `on*` methods, which the owner
 * overrides (in a subclass, so that they cost a connection nothing, or on
 * the instance); the defaults do nothing:
 *
 * - `onMessage(data, isBinary)`, `onPing(data)`, `onPong(data)`
 * - `onConclude(code, reason)`: a close frame was received
 * - `onError(err)`: a protocol error; the receiver is dead after it
 * - `onDrain()`: the deferred events are out, the socket may flow again
 * - `onFinish()`: set by the owner to learn when `end()` took effect (or the
 *   error was emitted); `null` by default
 *
 * `detach()` stops every callback (the owner is closed).
 */
class Receiver {
  /**
   * Creates a Receiver instance.
   *
   * @param {Object} [options] Options object
   * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether
   *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
   *     multiple times in the same tick
   * @param {String} [options.binaryType=nodebuffer] The type for binary data
   * @param {Object} [options.extensions] An object containing the negotiated
   *     extensions
   * @param {Boolean} [options.isServer=false] Specifies whether to operate in
   *     client or server mode
   * @param {Number} [options.maxBufferedChunks=0] The maximum number of
   *     payload pieces held for one message
   * @param {Number} [options.maxFragments=0] The maximum number of message
   *     fragments
   * @param {Number} [options.maxPayload=0] The maximum allowed message length
   * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
   *     not to skip UTF-8 validation for text messages and close reasons
   * @param {Boolean} [options.native=false] Whether the records come from
   *     the native transport (`record()`) rather than from chunks
   */
  constructor(options = {}) {
    const isServer = !!options.isServer;

    //
    // With permessage-deflate, the parser inflates compressed messages
    // itself and hands each one over as a buffer of its own (INFLATED).
    //
    const inflate = inflateParams(options.extensions, isServer);

    this._binaryType = options.binaryType || BINARY_TYPES[0];
    this._flags =
      options.allowSynchronousEvents === undefined ||
      options.allowSynchronousEvents
        ? ALLOW_SYNC
        : 0;

    //
    // The Rust parser and the state of the message being received, made
    // with the first chunk (`_start()`), dropped once nothing more is
    // parsed.
    //
    this._state = null;
    this._native = !!options.native;
    this._parserOptions = parserOptions(
      isServer,
      limit(options.maxPayload),
      !!options.skipUTF8Validation,
      limit(options.maxFragments),
      limit(options.maxBufferedChunks),
      inflate === null ? 0 : inflate.windowBits,
      inflate !== null && inflate.noContextTakeover
    );

    this._queue = NO_ITEMS;
    this._head = 0;
    this._immediate = null;

    this.onFinish = null;

    //
    // For the owner (js/websocket.js); set here so that it is not added
    // later, out of the object.
    //
    this[kWebSocket] = undefined;
  }

  /**
   * Whether the protocol error was emitted.
   *
   * @type {Boolean}
   */
  get errorEmitted() {
    return (this._flags & ERROR_EMITTED) !== 0;
  }

  /**
   * Whether `onFinish()` is due (or was called): the receiver was ended and
   * the events before the end are out.
   *
   * @type {Boolean}
   */
  get finished() {
    return (this._flags & FINISHED) !== 0;
  }

  /**
   * Whether `write()` returned `false`: `onDrain()` follows once the
   * deferred events are out.
   *
   * @type {Boolean}
   */
  get needDrain() {
    return (this._flags & NEED_DRAIN) !== 0;
  }

  /**
   * Stops every callback: the owner is gone. The receiver keeps working
   * otherwise (it ends, drops its queue, ...).
   *
   * @public
   */
  detach() {
    this._flags |= DETACHED;
  }

  /**
   * Parses a chunk and emits the events it completes.
   *
   * @param {Buffer} chunk The chunk; its payload bytes are unmasked in place
   * @return {Boolean} `false` if events are still waiting to be emitted (when
   *     `allowSynchronousEvents` is `false`) and the caller should stop
   *     reading until `onDrain()`, else `true`
   * @public
   */
  write(chunk) {
    if ((this._flags & (STOPPED | ENDING)) === 0 && chunk.length !== 0) {
      this._parse(chunk);
      this._dispatch();
    }

    if (this._head < this._queue.length) {
      this._flags |= NEED_DRAIN;
      return false;
    }

    return true;
  }

  /**
   * Changes the type of binary data handed out. The parser merges the
   * payloads of a message's frames that share a chunk (so a flood of tiny
   * fragments costs one piece per chunk, not one per fragment), except for
   * `'fragments'`, which needs the frame boundaries.
   *
   * @param {String} type The binary type
   * @public
   */
  setBinaryType(type) {
    this._binaryType = type;
    if (this._state !== null && this._state.parser !== null) {
      this._state.parser.setMergeFrames(type !== 'fragments');
    }
  }

  /**
   * Signals that no more data will be written. `onFinish()` is called once
   * the queued events are out.
   *
   * @public
   */
  end() {
    if ((this._flags & ENDING) !== 0) return;

    this._flags |= ENDING;
    this._maybeFinish();
  }

  /**
   * Frees the decompression state once the connection is closed (ws's
   * `PerMessageDeflate#cleanup()`). Nothing is parsed after it.
   *
   * @public
   */
  cleanup() {
    this._flags |= STOPPED;
    if (this._state !== null && this._state.parser !== null) {
      this._state.parser.release();
    }
  }

  /**
   * Takes a record of the native transport (src/records.rs): `buffer` is
   * the slab the connection's bytes were read into, or for MESSAGE_EXTRA
   * the message itself. The events it completes are emitted at once (or
   * deferred, without `allowSynchronousEvents`).
   *
   * @param {Number} type The record type
   * @param {Number} a Its first number
   * @param {Number} b Its second number
   * @param {Buffer} buffer The slab (or the message)
   * @return {Boolean} `false` if events wait to be emitted (see `write()`)
   * @public
   */
  record(type, a, b, buffer) {
    if ((this._flags & (STOPPED | ENDING)) !== 0) return true;
    if (this._state === null) this._start();

    const state = this._state;

    if (type === PIECE || type === PIECE_CONT) {
      if (type === PIECE && state.pieces.length !== 0) {
        state.frameStarts.push(state.pieces.length);
      }

      if (state.lastChunkIndex !== state.chunkIndex) {
        state.lastChunkIndex = state.chunkIndex;
        state.chunkPieces = state.pieces.length;
      }

      state.pieces.push(view(buffer, a, b - a));
      state.messageLength += b - a;
      return true;
    }

    if (type === CTRL_PIECE) {
      state.controlPieces.push(view(buffer, a, b - a));
      return true;
    }

    if (type === FRAME_END) {
      if (state.frameEnds === null) state.frameEnds = [];
      state.frameEnds.push(a);
      return true;
    }

    if (type === MESSAGE_TEXT || type === MESSAGE_BINARY) {
      const binary = type === MESSAGE_BINARY;

      //
      // The common case, a whole message with nothing queued before it:
      // emitted at once, without the queue.
      //
      if (
        (this._flags & (ALLOW_SYNC | DISPATCHING | DETACHED)) === ALLOW_SYNC &&
        this._head === this._queue.length &&
        this._immediate === null &&
        state.frameEnds === null
      ) {
        this.onMessage(
          toMessageData(b === a ? null : view(buffer, a, b - a), binary, this._binaryType),
          binary
        );
        return true;
      }

      this._queue.push(
        Q_MESSAGE,
        this._nativePayload(view(buffer, a, b - a), binary),
        binary
      );
    } else if (type === MESSAGE_EXTRA) {
      this._queue.push(Q_MESSAGE, this._nativePayload(buffer, b === 1), b === 1);
    } else {
      this._record(type, a, b, buffer);
    }

    this._dispatch();

    if (this._head < this._queue.length) {
      this._flags |= NEED_DRAIN;
      return false;
    }

    return true;
  }

  /**
   * The native transport's batch is over: pieces of an unfinished message
   * that it read into the slab are copied out where they would pin much of
   * it (see `_unpin()`).
   *
   * @param {Buffer} slab The slab
   * @public
   */
  endBatch(slab) {
    const state = this._state;

    if (state === null || (this._flags & STOPPED) !== 0) return;

    if (state.lastChunkIndex === state.chunkIndex) {
      state.chunkIndex++;
      if (state.pieces.length > state.chunkPieces) this._unpin(slab);
    }
  }

  /**
   * The payload of a whole message of the native transport, with the frame
   * ends that preceded it.
   *
   * @param {Buffer} data The payload
   * @param {Boolean} binary Whether the message is binary
   * @return {(Buffer|Inflated|null)} The payload as queued
   * @private
   */
  _nativePayload(data, binary) {
    const state = this._state;
    const ends = state.frameEnds;

    if (ends !== null) state.frameEnds = null;
    if (data.length === 0) return null;
    if (ends === null || !binary) return data;

    //
    // Rust reports a bounded number of ends: the rest of the payload is
    // the last frame's.
    //
    if (ends[ends.length - 1] !== data.length) ends.push(data.length);
    return new Inflated(data, ends);
  }

  /**
   * Feeds a chunk to the parser and turns its records into queue items.
   *
   * @param {Buffer} chunk The chunk
   * @private
   */
  _parse(chunk) {
    if (this._state === null) this._start();

    const state = this._state;
    const parser = state.parser;
    const chunkIndex = ++state.chunkIndex;
    let pos = 0;
    let count;

    state.chunkPieces = state.pieces.length;

    do {
      parser.feed(chunk, pos, events);
      count = events[0];
      pos = events[1];

      for (let i = 0, r = 2; i < count; i++, r += 3) {
        const type = events[r];
        const a = events[r + 1];
        const b = events[r + 2];

        if (type === PIECE) {
          const continues =
            state.lastChunkIndex === chunkIndex
              ? a === state.lastEnd
              : a === 0 &&
                state.lastChunkIndex === chunkIndex - 1 &&
                state.lastEnd === -2;

          if (!continues && state.pieces.length !== 0) {
            state.frameStarts.push(state.pieces.length);
          }

          state.pieces.push(view(chunk, a, b - a));
          state.messageLength += b - a;
          state.lastChunkIndex = chunkIndex;
          state.lastEnd = b;
        } else if (type === CTRL_PIECE) {
          state.controlPieces.push(view(chunk, a, b - a));
        } else if (type === INFLATED) {
          const data = parser.takeInflated();

          //
          // `null` is how an empty message is held (see `toMessageData()`).
          //
          this._queue.push(
            Q_MESSAGE,
            data.length === 0
              ? null
              : a === 1 && this._mayWantFragments()
                ? inflatedFrames(parser, data)
                : data,
            a === 1
          );
        } else if (this._record(type, a, b)) {
          return;
        }
      }
    } while (pos < chunk.length && count !== 0);

    //
    // Mark a piece that ends the chunk: a piece at offset 0 of the next chunk
    // is then the rest of the same frame, as no header came in between.
    //
    if (state.lastChunkIndex === chunkIndex && state.lastEnd === chunk.length) {
      state.lastEnd = -2;
    }

    if (state.pieces.length > state.chunkPieces) this._unpin(chunk);
  }

  /**
   * Queues what a record common to both transports completes: a message
   * made of pieces, a ping or pong, the close frame, an error.
   *
   * @param {Number} type The record type
   * @param {Number} a Its first number
   * @param {Number} b Its second number
   * @return {Boolean} `true` if nothing more is parsed
   * @private
   */
  _record(type, a, b) {
    const state = this._state;

    if (type === MESSAGE) {
      this._queue.push(Q_MESSAGE, this._takeMessage(), a === 1);
    } else if (type === PING || type === PONG) {
      this._queue.push(
        type === PING ? Q_PING : Q_PONG,
        concat(state.controlPieces),
        undefined
      );
      state.controlPieces = [];
    } else if (type === CLOSE) {
      let reason = EMPTY_BUFFER;

      if (a !== 1005) {
        const body = concat(state.controlPieces);

        if (body.length > 2) reason = view(body, 2, body.length - 2);
      }

      this._queue.push(Q_CONCLUDE, a, reason);
      this._stop();
      return true;
    } else if (type === ERROR) {
      this._queue.push(Q_ERROR, createError(a, b), undefined);
      this._flags |= ERROR_PENDING;
      this._stop();
      return true;
    }

    return false;
  }

  /**
   * Copies the pieces that the unfinished message has in `chunk` out of it,
   * unless they are a large part of a large chunk. Without this, a peer that
   * sends a byte of payload per chunk (behind control frames, or in frames
   * of one byte) makes each byte pin a chunk of up to 64 KiB, and one that
   * sends tiny TCP segments makes each byte cost a Buffer. Copied pieces
   * that follow each other are merged (except for `binaryType`
   * `'fragments'`, which needs the frame boundaries), so that either flood
   * costs about its payload size, which `maxPayload` bounds.
   *
   * @param {Buffer} chunk The chunk just parsed
   * @private
   */
  _unpin(chunk) {
    const state = this._state;
    const pieces = state.pieces;
    const first = state.chunkPieces;
    let length = 0;

    for (let i = first; i < pieces.length; i++) length += pieces[i].length;

    if (length > SMALL_SHARE && 2 * length > chunk.buffer.byteLength) return;

    let tail = state.tail;

    if (tail === null || tail.length - state.tailUsed < length) {
      const size = tail === null ? TAIL_MIN : Math.min(2 * tail.length, TAIL_MAX);

      tail = state.tail = Buffer.allocUnsafeSlow(Math.max(size, length));
      state.tailUsed = 0;
      state.tailPiece = -1;
    }

    const fragments = this._binaryType === 'fragments';
    const start = state.tailUsed;
    let offset = start;

    for (let i = first; i < pieces.length; i++) {
      const piece = pieces[i];

      tail.set(piece, offset);
      if (fragments) pieces[i] = view(tail, offset, piece.length);
      offset += piece.length;
    }

    if (!fragments) {
      //
      // Frame boundaries do not matter: one piece for all, which extends the
      // previous one if that one ends where these bytes begin.
      //
      let at = first;
      let from = start;

      if (first !== 0 && state.tailPiece === first - 1) {
        at = first - 1;
        from = start - pieces[at].length;
      }

      pieces[at] = view(tail, from, offset - from);
      pieces.length = at + 1;

      const frameStarts = state.frameStarts;

      while (frameStarts.length !== 0 && frameStarts.at(-1) > at) {
        frameStarts.pop();
      }
    }

    state.tailUsed = offset;
    state.tailPiece = pieces.length - 1;
  }

  /**
   * Whether a binary message parsed now may be handed out with `binaryType`
   * 'fragments': it is now, or code may run before the message is emitted
   * (which reads `binaryType`, as ws reads it when a message completes):
   * listeners of the events queued before it, or the deferred dispatch.
   *
   * @return {Boolean}
   * @private
   */
  _mayWantFragments() {
    return (
      this._binaryType === 'fragments' ||
      this._head < this._queue.length ||
      this._immediate !== null ||
      (this._flags & (ALLOW_SYNC | DISPATCHING)) !== ALLOW_SYNC
    );
  }

  /**
   * Stops parsing: nothing after a close frame or an error is read. Drops the
   * pieces held, which pin socket chunks, and the parser (Rust has freed its
   * compression state already).
   *
   * @private
   */
  _stop() {
    this._flags |= STOPPED;
    this._state = null;
  }

  /**
   * Makes what parsing needs, with the first chunk.
   *
   * @private
   */
  _start() {
    let parser = null;

    if (!this._native) {
      parser = new binding.Receiver(this._parserOptions);
      if (this._binaryType === 'fragments') parser.setMergeFrames(false);
    }

    this._state = new ParseState(parser);
    this._queue = [];
  }

  /**
   * Takes the pieces of the message that just completed.
   *
   * @return {(Buffer|Pieces|null)} The only piece, all of them, or `null` for
   *     an empty message
   * @private
   */
  _takeMessage() {
    const state = this._state;
    const pieces = state.pieces;
    let data;

    if (pieces.length === 1) {
      data = pieces[0];
      pieces.length = 0;
    } else if (pieces.length === 0) {
      data = null;
    } else {
      data = new Pieces(pieces, state.frameStarts, state.messageLength);
      state.pieces = [];
      state.frameStarts = [];
    }

    state.messageLength = 0;
    state.lastChunkIndex = -1;
    state.chunkPieces = 0;
    state.tail = null;
    state.tailPiece = -1;
    return data;
  }

  /**
   * Emits the queued events, in order. With `allowSynchronousEvents` off,
   * each `'message'`, `'ping'` and `'pong'` waits for its own `setImmediate`,
   * as in ws.
   *
   * @private
   */
  _dispatch() {
    if ((this._flags & DISPATCHING) !== 0 || this._immediate !== null) return;

    const queue = this._queue;
    let threw = true;

    this._flags |= DISPATCHING;

    try {
      while (this._head < queue.length) {
        if (queue[this._head] <= Q_PONG && (this._flags & ALLOW_SYNC) === 0) {
          this._immediate = setImmediate(emitDeferred, this);
          threw = false;
          return;
        }

        this._emitNext();
      }

      threw = false;
    } finally {
      this._flags &= ~DISPATCHING;

      //
      // A listener threw. The exception goes up to the caller, as with ws,
      // but the rest of the queue still goes out, a tick later, instead of
      // stalling the connection.
      //
      if (threw) this._immediate = setImmediate(resumeDispatch, this);
    }

    queue.length = 0;
    this._head = 0;

    if ((this._flags & NEED_DRAIN) !== 0) {
      this._flags &= ~NEED_DRAIN;
      if ((this._flags & DETACHED) === 0) this.onDrain();
    }

    this._maybeFinish();
  }

  /**
   * Emits the item at the head of the queue.
   *
   * @private
   */
  _emitNext() {
    const queue = this._queue;
    const head = this._head;
    const kind = queue[head];
    const a = queue[head + 1];
    const b = queue[head + 2];

    queue[head + 1] = queue[head + 2] = undefined;
    this._head = head + 3;

    if ((this._flags & DETACHED) !== 0) {
      if (kind === Q_CONCLUDE) this.end();
      else if (kind === Q_ERROR) process.nextTick(emitError, this, a);
      return;
    }

    switch (kind) {
      case Q_MESSAGE:
        this.onMessage(toMessageData(a, b, this._binaryType), b);
        break;
      case Q_PING:
        this.onPing(a);
        break;
      case Q_PONG:
        this.onPong(a);
        break;
      case Q_CONCLUDE:
        this.onConclude(a, b);
        this.end();
        break;
      default:
        //
        // Like a `Writable` that fails in `_write()`, the error is emitted
        // asynchronously, after the events that preceded it.
        //
        process.nextTick(emitError, this, a);
    }
  }

  /**
   * Calls `onFinish()` once the receiver is ended and idle.
   *
   * @private
   */
  _maybeFinish() {
    if (
      (this._flags &
        (ENDING |
          FINISHED |
          ERROR_PENDING |
          ERROR_EMITTED |
          FINISH_SCHEDULED)) ===
        ENDING &&
      this._head === this._queue.length &&
      this._immediate === null
    ) {
      this._flags |= FINISH_SCHEDULED;
      process.nextTick(finish, this);
    }
  }
}

//
// The callbacks, until the owner overrides them.
//
Receiver.prototype.onMessage = NOOP;
Receiver.prototype.onPing = NOOP;
Receiver.prototype.onPong = NOOP;
Receiver.prototype.onConclude = NOOP;
Receiver.prototype.onError = NOOP;
Receiver.prototype.onDrain = NOOP;

module.exports = Receiver;
module.exports.parserOptions = parserOptions;
module.exports.inflateParams = inflateParams;

/**
 * Emits a deferred event and resumes the dispatch loop.
 *
 * @param {Receiver} receiver The receiver
 * @private
 */
function emitDeferred(receiver) {
  receiver._immediate = null;

  try {
    receiver._emitNext();
  } catch (err) {
    receiver._immediate = setImmediate(resumeDispatch, receiver);
    throw err;
  }

  receiver._dispatch();
}

/**
 * Resumes the dispatch loop after a listener threw.
 *
 * @param {Receiver} receiver The receiver
 * @private
 */
function resumeDispatch(receiver) {
  receiver._immediate = null;
  receiver._dispatch();
}

/**
 * Emits a protocol error.
 *
 * @param {Receiver} receiver The receiver
 * @param {(Error|RangeError)} err The error
 * @private
 */
function emitError(receiver, err) {
  receiver._flags = (receiver._flags & ~ERROR_PENDING) | ERROR_EMITTED;
  if ((receiver._flags & DETACHED) !== 0) return;

  receiver.onError(err);
  if (receiver.onFinish !== null) receiver.onFinish();
}

/**
 * Marks a receiver as finished.
 *
 * @param {Receiver} receiver The receiver
 * @private
 */
function finish(receiver) {
  receiver._flags |= FINISHED;
  if ((receiver._flags & DETACHED) === 0 && receiver.onFinish !== null) {
    receiver.onFinish();
  }
}

/**
 * Builds the error of an ERROR record, the way ws's receiver does.
 *
 * @param {Number} id The error id
 * @param {Number} value The number that replaces `%d` in the message
 * @return {(Error|RangeError)} The error
 * @private
 */
function createError(id, value) {
  const row = binding.errors[id];

  if (row === undefined) {
    return new Error(`ws-native: unknown receiver error id ${id}`);
  }

  const err = new row.ErrorCtor(row.message.replace('%d', value));

  Error.captureStackTrace(err, createError);
  err.code = row.code;
  err[kStatusCode] = row.statusCode;
  return err;
}

/**
 * Turns a message's payload into what ws hands to `'message'` listeners:
 * text is always a Buffer; binary data follows `binaryType`.
 *
 * @param {(Buffer|Pieces|Inflated|null)} payload The payload
 * @param {Boolean} isBinary Whether the message is binary
 * @param {String} binaryType The binary type
 * @return {(Buffer|ArrayBuffer|Buffer[]|Blob)} The message data
 * @private
 */
function toMessageData(payload, isBinary, binaryType) {
  if (payload instanceof Inflated) {
    if (isBinary && binaryType === 'fragments') return splitInflated(payload);
    payload = payload.data;
  }

  if (!isBinary || binaryType === 'nodebuffer') return joinPayload(payload);
  if (binaryType === 'arraybuffer') return toArrayBuffer(joinPayload(payload));

  if (binaryType === 'fragments') {
    if (payload === null) return [];
    if (payload instanceof Pieces) return toFrames(payload);
    return [payload];
  }

  if (payload === null) return new Blob([]);
  return new Blob(payload instanceof Pieces ? payload.list : [payload]);
}

/**
 * The payload of the inflated message `parser.takeInflated()` returned last,
 * with its frame ends if more than one frame made it.
 *
 * @param {binding.Receiver} parser The Rust parser
 * @param {Buffer} data The inflated payload (not empty)
 * @return {(Buffer|Inflated)} The payload
 * @private
 */
function inflatedFrames(parser, data) {
  let count = parser.inflatedFrameEnds(frameEnds);

  if (count < 2) return data;

  if (count > frameEnds.length) {
    frameEnds = new Uint32Array(Math.max(count, 2 * frameEnds.length));
    count = parser.inflatedFrameEnds(frameEnds);
  }

  return new Inflated(data, frameEnds.slice(0, count));
}

/**
 * @param {Inflated} payload The payload
 * @return {Buffer[]} One view of it per frame that inflated to something
 * @private
 */
function splitInflated(payload) {
  const { data, ends } = payload;
  const frames = new Array(ends.length);
  let start = 0;

  for (let i = 0; i < ends.length; i++) {
    frames[i] = view(data, start, ends[i] - start);
    start = ends[i];
  }

  return frames;
}

/**
 * @param {(Buffer|Pieces|null)} payload The payload
 * @return {Buffer} The payload in one buffer
 * @private
 */
function joinPayload(payload) {
  if (payload === null) return EMPTY_BUFFER;
  if (payload instanceof Pieces) return concat(payload.list, payload.length);
  return payload;
}

/**
 * @param {Pieces} payload The payload
 * @return {Buffer[]} One buffer per frame
 * @private
 */
function toFrames(payload) {
  const { list, frameStarts } = payload;
  const frames = [];
  let start = 0;

  for (let i = 0; i <= frameStarts.length; i++) {
    const end = i < frameStarts.length ? frameStarts[i] : list.length;

    frames.push(
      end - start === 1 ? list[start] : concat(list.slice(start, end))
    );
    start = end;
  }

  return frames;
}

/**
 * Normalises a limit option the way ws does (`value | 0`, not positive means
 * no limit).
 *
 * @param {Number} value The option's value
 * @return {Number} The limit, 0 for none
 * @private
 */
function limit(value) {
  const n = value | 0;
  return n > 0 ? n : 0;
}

/**
 * The options of the Rust parser: the last ones made, if the same, else new
 * ones. `mergeFrames` is set after construction for `binaryType`
 * `'fragments'`.
 *
 * @param {Boolean} isServer Whether frames must be masked
 * @param {Number} maxPayload The largest message, 0 for no limit
 * @param {Boolean} skipUtf8Validation Whether to skip UTF-8 validation
 * @param {Number} maxFragments The most frames per message, 0 for no limit
 * @param {Number} maxPieces The most pieces per message, 0 for no limit
 * @param {Number} inflateWindowBits The peer's window bits, 0 without
 *     permessage-deflate
 * @param {Boolean} inflateNoContextTakeover Whether the peer resets its
 *     compression context after each message
 * @return {Object} The options (frozen)
 * @private
 */
function parserOptions(
  isServer,
  maxPayload,
  skipUtf8Validation,
  maxFragments,
  maxPieces,
  inflateWindowBits,
  inflateNoContextTakeover
) {
  const o = lastParserOptions;

  if (
    o !== null &&
    o.isServer === isServer &&
    o.maxPayload === maxPayload &&
    o.skipUtf8Validation === skipUtf8Validation &&
    o.maxFragments === maxFragments &&
    o.maxPieces === maxPieces &&
    o.inflateWindowBits === inflateWindowBits &&
    o.inflateNoContextTakeover === inflateNoContextTakeover
  ) {
    return o;
  }

  lastParserOptions = Object.freeze({
    isServer,
    maxPayload,
    skipUtf8Validation,
    maxFragments,
    maxPieces,
    inflateWindowBits,
    inflateNoContextTakeover,
    mergeFrames: true
  });

  return lastParserOptions;
}
