'use strict';

const EventEmitter = require('events');
const net = require('net');
const { getSystemErrorName } = require('util');
const { markAsUntransferable } = require('worker_threads');

const Sender = require('./sender');
const { native, FIN, MASK, RSV1 } = require('./binding');
const { toBuffer } = require('./buffer-util');
const { NOOP } = require('./constants');
const { newEventStore } = require('./event-store');

//
// The native transport: after the upgrade, a plain TCP socket's descriptor
// is handed to Rust (src/transport/), which reads, writes and polls it from
// Node's own libuv loop on the main thread. The JS `net.Socket` stays as an
// idle "shell": it never reads nor writes again, but it keeps the
// connection counted by its server (`server.close()` waits for it,
// `getConnections()` counts it) and answers `remoteAddress` and the like.
// It is destroyed when the connection closes; its own `'close'` is ours.
//
// `NativeSocket` stands in for the `net.Socket` in the WebSocket: it has
// the part of the stream API that js/websocket.js and js/sender.js use,
// with the same events in the same order (`'data'`, `'end'`, `'finish'`,
// `'error'`, `'close'`). Rust calls `onBatch()` once per loop wakeup with
// the events of every connection.
//
// `WS_NATIVE_TRANSPORT=stream` in the environment turns it off.
//

//
// Record types of a batch (src/transport/socket.rs).
//
const REC_DATA = 1;
const REC_EOF = 2;
const REC_ERROR = 3;
const REC_WRITTEN = 4;
const REC_FINISHED = 5;
const REC_UPGRADE = 6;
const REC_HANDOFF = 7;
const REC_LISTEN_ERROR = 8;

const RECORDS = 4096;
const HIGH_WATER_MARK = 16 * 1024;

const enabled =
  native !== null && process.env.WS_NATIVE_TRANSPORT !== 'stream';

//
// Reads are handed to JS once per loop wakeup, for every connection that
// was readable, right after the poll phase (ends and errors at once, where
// Node reports them). WS_NATIVE_BATCH=socket hands each connection's reads
// over from its own poll callback instead, as Node does (slower).
//
const perSocket = process.env.WS_NATIVE_BATCH === 'socket';

//
// libuv streams before 1.52 read on to the end of stream when a hang-up
// comes with a short read (libuv/libuv#4997 dropped this): follow the
// libuv Node runs on, so that `'end'` comes in the same loop turn.
//
const eofOnHangup = (() => {
  const [major, minor] = process.versions.uv.split('.').map(Number);
  return major === 1 && minor < 52;
})();

//
// Open connections by id (records of a closed one are dropped), and the
// records array Rust writes into. Rust has one transport per thread, so a
// second copy of this module (a test runner that resets its module
// registry) must share them rather than take the batches over.
//
const kShared = Symbol.for('ws-native.native-transport');
const shared =
  process[kShared] ||
  (process[kShared] = { conns: [], listeners: [], records: null });
const conns = shared.conns;
const listeners = shared.listeners;
let slab = null;

const kNativeSocket = Symbol('ws-native-native-socket');

//
// What an idle connection's queues hold: nothing, shared until the first
// element comes.
//
const NONE = Object.freeze([]);

//
// The outbox: frames that native connections send in a tick, framed here
// back to back and written at the end of the tick with one call into Rust,
// which writes each connection's frames with one `writev` (see
// `NativeSender`). Segments are (connection id, start, end) triples.
//
const OUTBOX_SIZE = 256 * 1024;
const MAX_SEGMENTS = 8192;

//
// Payloads up to this size are copied into the outbox (their header fits
// in 4 bytes); larger ones go the general way.
//
const MAX_OUTBOX_PAYLOAD = 65535;

let outbox = null;
let outboxOffset = 0;
let segments = null;
let results = null;
let segmentCount = 0;

//
// The last frame framed into the outbox (see `addToOutbox()`): its range,
// where its payload starts, its flags and, for a string, the string.
//
let repeatStart = 0;
let repeatEnd = -1;
let repeatPayloadStart = 0;
let repeatFlags = 0;
let repeatData = null;
let dirty = [];

//
// Sockets whose write callbacks are due at the end of the current flush
// (see `_afterWrite()`), and whether a sender's end-of-tick flush runs.
//
let settling = [];
let settleNow = false;
let outboxScheduled = false;
let exitHookInstalled = false;

/**
 * Tells whether a socket can be taken over: a plain TCP (or Unix domain)
 * `net.Socket` with a descriptor, open both ways, with nothing left to
 * write. TLS sockets, other `Duplex` streams and Windows stay on the stream
 * transport.
 *
 * @param {Duplex} socket The socket
 * @return {Boolean}
 * @public
 */
function canTakeOver(socket) {
  if (!enabled || !(socket instanceof net.Socket) || socket.encrypted) {
    return false;
  }

  const handle = socket._handle;

  return (
    handle != null &&
    typeof handle.fd === 'number' &&
    handle.fd >= 0 &&
    (handle.constructor.name === 'TCP' || handle.constructor.name === 'Pipe') &&
    typeof handle.readStop === 'function' &&
    !socket.destroyed &&
    !socket.connecting &&
    socket.readable &&
    socket.writable &&
    !socket.writableEnded &&
    socket.writableLength === 0 &&
    !(handle.writeQueueSize > 0)
  );
}

/**
 * Takes a socket over: stops it reading for good, collects what it read
 * but nobody consumed, and hands a duplicate of its descriptor to Rust.
 *
 * @param {net.Socket} socket A socket that `canTakeOver()` accepted
 * @param {Buffer} head The first packet of the upgraded stream
 * @return {(NativeSocket|null)} The socket to use instead, or `null` if the
 *     descriptor could not be taken (the socket is left untouched)
 * @public
 */
function takeOver(socket, head) {
  init();

  const handle = socket._handle;
  let id;

  //
  // First, as it may fail (out of descriptors): the socket is then left as
  // it was, for the stream transport. No I/O callback can run before the
  // shell stops reading below.
  //
  try {
    id = native.adopt(handle.fd);
  } catch {
    return null;
  }

  //
  // The shell must never read again, whatever calls `resume()` on it
  // later (Node's HTTP server does, after a request handler's upgrade).
  //
  handle.reading = false;
  handle.readStop();
  handle.readStart = readStartDisabled;
  socket.pause();

  const chunks = [];

  if (head.length !== 0) chunks.push(head);

  //
  // Bytes read after the upgrade, while an async `verifyClient` ran.
  //
  while (socket.readableLength !== 0) {
    const chunk = socket.read();

    if (chunk === null) break;
    chunks.push(chunk);
  }

  return new NativeSocket(socket, id, chunks);
}

/**
 * Sets the transport up on first use.
 *
 * @private
 */
function init() {
  if (shared.records === null) {
    shared.records = new Uint32Array(4 * RECORDS);
    native.init(onBatch, shared.records, perSocket, eofOnHangup);
  }
}

/**
 * Registers a native listener (js/native-listener.js) under its id, for
 * the records of its connections.
 *
 * @param {Number} id The listener id
 * @param {NativeListener} listener The listener
 * @public
 */
function addListener(id, listener) {
  listeners[id] = listener;
}

/**
 * @param {Number} id The listener id
 * @public
 */
function removeListener(id) {
  listeners[id] = undefined;
}

/**
 * Handles a record of a native listener.
 *
 * @param {Number} kind The record type
 * @param {Number} lid The listener id
 * @param {Number} id The connection id (or descriptor, or listener id)
 * @param {Buffer} buffer The batch's bytes
 * @param {Number} a The record's third number
 * @param {Number} b The record's fourth number
 * @private
 */
function onListenerRecord(kind, lid, id, buffer, a, b) {
  const listener = listeners[lid];

  if (kind === REC_UPGRADE) {
    if (listener === undefined) native.close(id, false);
    else listener._onUpgrade(id, buffer.subarray(a, b));
  } else if (kind === REC_HANDOFF) {
    if (listener === undefined) require('fs').closeSync(id);
    else listener._onHandoff(id);
  } else if (kind === REC_LISTEN_ERROR && listener !== undefined) {
    listener._onAcceptError(a);
  }
}

/**
 * The sender of a native connection: unmasked, uncompressed frames of up
 * to 64 KiB (what a server sends) are framed straight into the outbox;
 * anything else takes `Sender`'s general path, which writes through
 * `NativeSocket#write()` (the outbox is flushed first, so the order
 * holds).
 *
 * @extends Sender
 */
class NativeSender extends Sender {
  /**
   * @param {NativeSocket} socket The connection
   * @param {Object} [extensions] The negotiated extensions
   * @param {Function} [generateMask] The function used to generate masks
   */
  constructor(socket, extensions, generateMask) {
    super(socket, extensions, generateMask);
    socket._sender = this;
  }

  /**
   * Adds a frame: to the outbox if it can, else to `Sender`'s batch.
   *
   * @param {*} data The payload
   * @param {Number} flags The frame's flags
   * @param {Function} [cb] Callback
   * @param {Boolean} [compress=false] Whether to compress the payload
   * @private
   */
  _add(data, flags, cb, compress) {
    if (
      compress ||
      (flags & (MASK | RSV1)) !== 0 ||
      this._frames.length !== 0 ||
      !addToOutbox(this._socket, data, flags, cb)
    ) {
      super._add(data, flags, cb, compress);
    }
  }

  /**
   * Writes encoded frames. From the flush at the end of the tick, the
   * callbacks of what the socket takes at once are called right after the
   * write, as ws's come one tick after the send.
   *
   * @param {Object} output The result of `_encode()`
   * @param {Boolean} [fromTick=false] Whether this is that flush
   * @private
   */
  _write(output, fromTick) {
    if (fromTick !== true) {
      super._write(output);
      return;
    }

    settleNow = true;

    try {
      super._write(output);
    } finally {
      settleNow = false;
    }

    if (settling.length !== 0) {
      //
      // The other senders of this flush must still write: a callback's
      // error is rethrown in a tick of its own.
      //
      try {
        settleAll();
      } catch (err) {
        process.nextTick(rethrow, err);
      }
    }
  }

  /**
   * Writes the frames sent so far now instead of at the end of the tick.
   *
   * @public
   */
  flush() {
    if (this._socket._outboxBytes !== 0) flushOutbox();
    super.flush();
  }
}

/**
 * Frames a payload into the outbox.
 *
 * @param {NativeSocket} socket The connection
 * @param {*} data The payload
 * @param {Number} flags The frame's flags (no mask, no RSV1)
 * @param {Function} [cb] Callback
 * @return {Boolean} `false` if the frame does not fit the outbox's rules
 * @private
 */
function addToOutbox(socket, data, flags, cb) {
  if (socket.destroyed || socket._ending) return false;

  let payload = null;
  let room;

  if (typeof data === 'string') {
    if (data.length * 3 > MAX_OUTBOX_PAYLOAD) return false;
    room = 4 + data.length * 3;
  } else {
    payload = toBuffer(data);
    if (payload.length > MAX_OUTBOX_PAYLOAD) return false;
    room = 4 + payload.length;
  }

  if (outbox === null) {
    outbox = Buffer.allocUnsafeSlow(OUTBOX_SIZE);
    segments = new Uint32Array(3 * MAX_SEGMENTS);
    results = new Float64Array(MAX_SEGMENTS);
  }

  if (OUTBOX_SIZE - outboxOffset < room || segmentCount === MAX_SEGMENTS) {
    flushOutbox();
  }

  let start;
  let end;
  let length;

  //
  // The frame just written, sent again to another connection in the same
  // tick (a broadcast): its bytes are shared rather than copied. Only the
  // same string or the same Buffer object qualifies (other payloads are
  // not compared: an echo server would pay for it on every message), and
  // a Buffer's bytes are compared too, as it may change between sends.
  //
  if (
    repeatEnd === outboxOffset &&
    flags === repeatFlags &&
    data === repeatData &&
    (payload === null ||
      (payload.length === repeatEnd - repeatPayloadStart &&
        outbox.compare(
          payload,
          0,
          payload.length,
          repeatPayloadStart,
          repeatEnd
        ) === 0))
  ) {
    start = repeatStart;
    end = repeatEnd;
    length = end - repeatPayloadStart;
  } else {
    length = writeFrame(data, payload, flags);
    start = outboxOffset;
    end = repeatEnd = outboxOffset = repeatPayloadStart + length;
    repeatStart = start;
    repeatFlags = flags;
    repeatData = data;
  }

  const id = socket._id;
  const last = 3 * (segmentCount - 1);

  if (
    segmentCount !== 0 &&
    segments[last] === id &&
    segments[last + 2] === start
  ) {
    segments[last + 2] = end;
  } else {
    segments[3 * segmentCount] = id;
    segments[3 * segmentCount + 1] = start;
    segments[3 * segmentCount + 2] = end;
    segmentCount++;
  }

  if (socket._outboxBytes === 0) dirty.push(socket);
  socket._outboxBytes += end - start;
  socket._outboxPayload += length;
  socket._outboxLast = segmentCount - 1;
  socket._sender._bufferedBytes += length;

  if (typeof cb === 'function') {
    if (socket._outboxCallbacks === null) socket._outboxCallbacks = [cb];
    else socket._outboxCallbacks.push(cb);
  }

  if (!outboxScheduled) {
    outboxScheduled = true;
    process.nextTick(flushOutboxTick);

    //
    // As with `Sender`: a program may send and exit in the same tick.
    //
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', flushOutbox);
    }
  }

  return true;
}

/**
 * Frames a payload at the end of the outbox (there is room for it).
 *
 * @param {*} data The payload as given
 * @param {(Buffer|null)} payload The payload as a Buffer, `null` for a
 *     string
 * @param {Number} flags The frame's flags
 * @return {Number} The payload's length; `repeatPayloadStart` is where it
 *     starts
 * @private
 */
function writeFrame(data, payload, flags) {
  //
  // The header's size is known before the payload is written, so that the
  // frames of a connection sit back to back (one buffer for its writev).
  // Only a string of 42 to 125 characters may need its byte length.
  //
  let length =
    payload !== null
      ? payload.length
      : data.length * 3 < 126
        ? 0
        : data.length >= 126
          ? 126
          : Buffer.byteLength(data);
  const start = outboxOffset;
  const payloadStart = start + (length < 126 ? 2 : 4);

  if (payload === null) length = outbox.utf8Write(data, payloadStart);
  else outbox.set(payload, payloadStart);

  if (length < 126) {
    outbox[start + 1] = length;
  } else {
    outbox[start + 1] = 126;
    outbox[start + 2] = length >>> 8;
    outbox[start + 3] = length & 0xff;
  }

  outbox[start] = (flags & FIN ? 0x80 : 0) | (flags & 0x0f);
  repeatPayloadStart = payloadStart;
  return length;
}

/**
 * Writes the outbox at the end of the tick the frames were sent in. The
 * send callbacks of what the sockets took at once are called from here,
 * one tick after the sends, as a stream calls those of a write that
 * completes at once (ws's sends).
 *
 * @private
 */
function flushOutboxTick() {
  flushOutbox(true);
}

/**
 * Writes the outbox: one call into Rust for every connection.
 *
 * @param {Boolean} [fromTick=false] Whether the send callbacks may be
 *     called now (else in a later tick: the caller may be a `send()`)
 * @private
 */
function flushOutbox(fromTick) {
  outboxScheduled = false;
  if (segmentCount === 0) return;

  const now = fromTick === true;

  const count = segmentCount;
  const sockets = dirty;

  segmentCount = 0;
  outboxOffset = 0;
  repeatEnd = -1;
  repeatData = null;
  dirty = [];

  native.flush(outbox, segments, count, results);

  for (let i = 0; i < sockets.length; i++) {
    const socket = sockets[i];
    const callbacks = socket._outboxCallbacks;

    socket._sender._bufferedBytes -= socket._outboxPayload;
    socket._outboxPayload = 0;
    socket._outboxCallbacks = null;

    const bytes = socket._outboxBytes;

    socket._outboxBytes = 0;
    socket._afterWrite(
      bytes,
      results[socket._outboxLast],
      callbacks === null ? null : callbacks.length === 1 ? callbacks[0] : callbacks,
      now
    );
  }

  if (settling.length !== 0) settleAll();
}

/**
 * Calls the send callbacks `_afterWrite()` left for the end of a flush. A
 * callback that throws does not cost the other sockets theirs: the first
 * error is rethrown at the end, later ones in ticks of their own.
 *
 * @private
 */
function settleAll() {
  const list = settling;
  let error = null;
  let failed = false;

  settling = [];

  for (let i = 0; i < list.length; i++) {
    try {
      settle(list[i]);
    } catch (err) {
      if (failed) {
        process.nextTick(rethrow, err);
      } else {
        failed = true;
        error = err;
      }
    }
  }

  if (failed) throw error;
}

/**
 * A count read from a `Float64Array`, as a small integer when it fits, so
 * that storing it on a connection does not allocate a heap number.
 *
 * @param {Number} n The count
 * @return {Number}
 * @private
 */
function toSmall(n) {
  return n <= 0x3fffffff ? n | 0 : n;
}

/**
 * Replaces `readStart()` on the shell's handle.
 *
 * @return {Number} 0, as a successful `readStart()`
 * @private
 */
function readStartDisabled() {
  return 0;
}

/**
 * Called by Rust once per loop wakeup: `buffer` holds the bytes read, and
 * `records` `count` records of 4 numbers: connection id, type, a, b.
 *
 * @param {Buffer} buffer The bytes read
 * @param {Number} count The number of records
 * @private
 */
function onBatch(buffer, count) {
  const records = shared.records;

  //
  // Rust keeps reading into a slab after handing it over: it must never be
  // detached (transferred to a worker), which would free its memory.
  //
  if (buffer !== slab && buffer !== undefined) {
    slab = buffer;
    markAsUntransferable(buffer.buffer);
  }

  let i = 0;
  let error = null;
  let failed = false;

  //
  // A listener that throws must not cost the other connections their
  // events: the first error is rethrown at the end (as uncaught, as from a
  // socket's `'data'` listener), later ones in their own ticks.
  //
  while (i < count) {
    try {
      while (i < count) {
        const r = 4 * i++;
        const type = records[r + 1];

        if ((type & 0xff) >= REC_UPGRADE) {
          onListenerRecord(
            type & 0xff,
            type >>> 8,
            records[r],
            buffer,
            records[r + 2],
            records[r + 3]
          );
          continue;
        }

        const socket = conns[records[r]];

        if (socket === undefined) continue;

        const a = records[r + 2];
        const b = records[r + 3];

        switch (records[r + 1]) {
          case REC_DATA:
            socket._onData(buffer.subarray(a, b));
            break;
          case REC_WRITTEN:
            socket._onWritten(a + b * 0x100000000);
            break;
          case REC_EOF:
            socket._onEof();
            break;
          case REC_FINISHED:
            socket._onFinished();
            break;
          case REC_ERROR:
            socket._onError(a, b === 1 ? 'write' : 'read');
            break;
        }
      }
    } catch (err) {
      if (failed) {
        process.nextTick(rethrow, err);
      } else {
        failed = true;
        error = err;
      }
    }
  }

  if (failed) throw error;
}

/**
 * @return {Error} The error of a write to a destroyed stream
 * @private
 */
function destroyedError() {
  const err = new Error('Cannot call write after a stream was destroyed');

  err.code = 'ERR_STREAM_DESTROYED';
  return err;
}

/**
 * @param {Error} err The error to throw
 * @private
 */
function rethrow(err) {
  throw err;
}

/**
 * Builds an error the way Node's `net` reports a failed system call.
 *
 * @param {Number} errno The (positive) errno
 * @param {String} syscall The system call
 * @return {Error}
 * @private
 */
function errnoError(errno, syscall) {
  let code;

  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `Unknown system error ${-errno}`;
  }

  const err = new Error(`${syscall} ${code}`);

  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

/**
 * A socket whose I/O runs in Rust, with the stream API of a `net.Socket`
 * that the WebSocket uses.
 *
 * @extends EventEmitter
 */
class NativeSocket extends EventEmitter {
  /**
   * @param {net.Socket} shell The original socket, kept idle
   * @param {Number} id The connection id in Rust
   * @param {Buffer[]} chunks Bytes read before the takeover
   */
  constructor(shell, id, chunks) {
    super();

    this._events = newEventStore();
    this._shell = shell;
    this._id = id;

    //
    // Readable side, with the fields of `_readableState` that are read
    // from outside.
    //
    this._readableState = { endEmitted: false, ended: false };
    this._flowing = null;
    this._chunks = chunks.length === 0 ? NONE : chunks;
    this._chunksLength = 0;
    this._flushScheduled = false;
    this._bytesRead = 0;

    for (let i = 0; i < chunks.length; i++) {
      this._chunksLength += chunks[i].length;
    }

    //
    // Writable side: bytes accepted so far, bytes still queued in Rust, and
    // the callbacks waiting for their bytes to be written, as pairs
    // (offset after the write, callback).
    //
    this._accepted = 0;
    this._queued = 0;
    this._callbacks = NONE;
    this._corked = 0;
    this._corkedBuffers = null;
    this._corkedCallbacks = null;
    this._corkedLength = 0;
    this._ending = false;
    this._finished = false;

    //
    // Frames in the outbox: bytes, payload bytes, callbacks, last segment.
    //
    this._sender = null;
    this._outboxBytes = 0;
    this._outboxPayload = 0;
    this._outboxCallbacks = null;
    this._outboxLast = 0;

    this.destroyed = false;
    this._hadError = false;
    this._shellClosed = false;
    this.allowHalfOpen = shell.allowHalfOpen;

    conns[id] = this;

    shell.on('error', NOOP);
    //
    // Plain functions rather than bound ones: an idle connection should
    // cost little.
    //
    shell[kNativeSocket] = this;
    shell.on('close', onShellClose);
    shell.on('timeout', onShellTimeout);
  }

  //
  // Properties of the underlying socket.
  //

  get remoteAddress() {
    return this._shell.remoteAddress;
  }

  get remotePort() {
    return this._shell.remotePort;
  }

  get remoteFamily() {
    return this._shell.remoteFamily;
  }

  get localAddress() {
    return this._shell.localAddress;
  }

  get localPort() {
    return this._shell.localPort;
  }

  get localFamily() {
    return this._shell.localFamily;
  }

  get bytesRead() {
    return this._shell.bytesRead + this._bytesRead;
  }

  get bytesWritten() {
    return (
      this._shell.bytesWritten +
      this._accepted +
      this._corkedLength +
      this._outboxBytes
    );
  }

  get readable() {
    return !this.destroyed && !this._readableState.endEmitted;
  }

  get writable() {
    return !this.destroyed && !this._ending;
  }

  get writableEnded() {
    return this._ending;
  }

  get writableFinished() {
    return this._finished;
  }

  //
  // Frames in the outbox are not counted: the sender counts their payload
  // (`bufferedAmount` adds both), as it does for the frames it batches.
  //
  get writableLength() {
    return this._queued + this._corkedLength;
  }

  get writableNeedDrain() {
    return this.writableLength >= HIGH_WATER_MARK;
  }

  get readableLength() {
    return this._chunksLength;
  }

  get readableFlowing() {
    return this._flowing;
  }

  get readyState() {
    if (this.destroyed) return 'closed';
    if (this._readableState.ended) return this._ending ? 'closed' : 'writeOnly';
    return this._ending ? 'readOnly' : 'open';
  }

  address() {
    return this._shell.address();
  }

  setNoDelay(noDelay) {
    this._shell.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable, initialDelay) {
    this._shell.setKeepAlive(enable, initialDelay);
    return this;
  }

  /**
   * The shell's idle timer does not see our traffic; only turning it off
   * (what the WebSocket does) is exact.
   *
   * @param {Number} msecs Milliseconds, 0 to turn it off
   * @param {Function} [callback] A `'timeout'` listener
   * @return {NativeSocket} this
   */
  setTimeout(msecs, callback) {
    this._shell.setTimeout(msecs);
    if (callback) {
      if (msecs === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    return this;
  }

  ref() {
    if (!this.destroyed) native.setRef(this._id, true);
    return this;
  }

  unref() {
    if (!this.destroyed) native.setRef(this._id, false);
    return this;
  }

  //
  // Readable side.
  //

  on(event, listener) {
    super.on(event, listener);

    //
    // As with a stream: a `'data'` listener starts the flow unless the
    // stream was paused explicitly.
    //
    if (event === 'data' && this._flowing !== false) this.resume();
    return this;
  }

  addListener(event, listener) {
    return this.on(event, listener);
  }

  isPaused() {
    return this._flowing === false;
  }

  pause() {
    if (this._flowing !== false) {
      this._flowing = false;
      if (!this.destroyed && !this._readableState.ended) {
        native.setReading(this._id, false);
      }
    }
    return this;
  }

  resume() {
    if (this._flowing !== true) {
      this._flowing = true;
      if (!this.destroyed && !this._readableState.ended) {
        native.setReading(this._id, true);
      }

      //
      // As with a stream, what was held is emitted in a later tick.
      //
      if (
        (this._chunks.length !== 0 || this._readableState.ended) &&
        !this._flushScheduled
      ) {
        this._flushScheduled = true;
        process.nextTick(flushChunks, this);
      }
    }
    return this;
  }

  /**
   * Puts data back at the front of the readable side.
   *
   * @param {Buffer} chunk The data
   */
  unshift(chunk) {
    if (chunk.length === 0) return;
    if (this._chunks === NONE) this._chunks = [];
    this._chunks.unshift(chunk);
    this._chunksLength += chunk.length;
  }

  /**
   * Returns all the data held (only what js/websocket.js needs: a socket
   * that closes while paused).
   *
   * @return {(Buffer|null)} The data, or `null` if none
   */
  read() {
    if (this._chunksLength === 0) return null;

    const data =
      this._chunks.length === 1
        ? this._chunks[0]
        : Buffer.concat(this._chunks, this._chunksLength);

    this._chunks = NONE;
    this._chunksLength = 0;
    return data;
  }

  /**
   * Bytes read by Rust.
   *
   * @param {Buffer} chunk The bytes
   * @private
   */
  _onData(chunk) {
    this._bytesRead += chunk.length;

    if (this._flowing === true && this._chunks.length === 0) {
      this.emit('data', chunk);
    } else {
      if (this._chunks === NONE) this._chunks = [];
      this._chunks.push(chunk);
      this._chunksLength += chunk.length;
    }
  }

  /**
   * The peer ended its side.
   *
   * @private
   */
  _onEof() {
    this._readableState.ended = true;

    if (this._flowing === true && !this._flushScheduled) {
      this._flushScheduled = true;
      process.nextTick(flushChunks, this);
    }
  }

  /**
   * Emits `'end'`, then ends our side too without `allowHalfOpen`, or
   * closes if it is ended already.
   *
   * @private
   */
  _emitEnd() {
    const state = this._readableState;

    if (state.endEmitted || this.destroyed) return;

    state.endEmitted = true;
    this.emit('end');

    if (!this.allowHalfOpen && !this._ending) this.end();
    if (this._finished) this.destroy();
  }

  //
  // Writable side.
  //

  cork() {
    this._corked++;
  }

  uncork() {
    if (this._corked === 0 || --this._corked !== 0) return;
    if (this._corkedBuffers === null) return;

    const buffers = this._corkedBuffers;
    const callbacks = this._corkedCallbacks;

    this._corkedBuffers = null;
    this._corkedCallbacks = null;
    this._corkedLength = 0;
    this._writeNow(buffers, callbacks.length === 0 ? null : callbacks);
  }

  /**
   * Writes data: at once as far as the socket takes it, the rest queued in
   * Rust. The callback is called once the data is handed to the kernel.
   *
   * @param {(Buffer|String)} chunk The data
   * @param {(String|Function)} [encoding] The encoding of a string
   * @param {Function} [cb] Callback
   * @return {Boolean} `false` if the caller should wait for `'drain'`
   */
  write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }

    if (typeof chunk === 'string') chunk = Buffer.from(chunk, encoding);

    if (this.destroyed || this._ending) {
      const err = new Error(
        this.destroyed
          ? 'Cannot call write after a stream was destroyed'
          : 'write after end'
      );

      err.code = this.destroyed
        ? 'ERR_STREAM_DESTROYED'
        : 'ERR_STREAM_WRITE_AFTER_END';
      if (typeof cb === 'function') process.nextTick(cb, err);
      if (!this.destroyed) this.destroy(err);
      return false;
    }

    //
    // Frames of the outbox go first.
    //
    if (this._outboxBytes !== 0) flushOutbox();

    if (this._corked !== 0) {
      if (this._corkedBuffers === null) {
        this._corkedBuffers = [];
        this._corkedCallbacks = [];
      }

      this._corkedBuffers.push(chunk);
      this._corkedLength += chunk.length;
      if (typeof cb === 'function') this._corkedCallbacks.push(cb);
      return this.writableLength < HIGH_WATER_MARK;
    }

    this._writeNow(chunk, typeof cb === 'function' ? cb : null);
    return this._queued < HIGH_WATER_MARK;
  }

  /**
   * Hands data to Rust.
   *
   * @param {(Buffer|Buffer[])} data A buffer, or buffers to write in order
   * @param {(Function|Function[]|null)} cb The callback(s) of the write
   * @private
   */
  _writeNow(data, cb) {
    let length = 0;
    let queued;

    if (Array.isArray(data)) {
      for (let i = 0; i < data.length; i++) length += data[i].length;
      queued =
        data.length === 1
          ? native.write(this._id, data[0])
          : native.writev(this._id, data);
    } else {
      length = data.length;
      queued = native.write(this._id, data);
    }

    this._afterWrite(length, queued, cb);
  }

  /**
   * Accounts for a write handed to Rust.
   *
   * @param {Number} length The bytes written or queued
   * @param {Number} queued What Rust returned: the bytes queued, or -errno
   * @param {(Function|Function[]|null)} cb The callback(s) of the write
   * @param {Boolean} [now=false] Whether written callbacks may be called at
   *     the end of this flush of the outbox
   * @private
   */
  _afterWrite(length, queued, cb, now) {
    if (queued < 0) {
      const err = this.destroyed
        ? destroyedError()
        : errnoError(-queued, 'write');

      if (cb !== null) {
        if (Array.isArray(cb)) {
          for (let i = 0; i < cb.length; i++) process.nextTick(cb[i], err);
        } else {
          process.nextTick(cb, err);
        }
      }

      this.destroy(err);
      return;
    }

    this._accepted += length;
    this._queued = toSmall(queued);

    if (cb !== null) {
      if (this._callbacks === NONE) this._callbacks = [];
      this._callbacks.push(this._accepted, cb);
    }

    //
    // As for a stream's write that completes at once, the callbacks are
    // called in a later tick (the outbox's flush is one already).
    //
    if (queued === 0 && cb !== null) {
      if (now === true || settleNow) settling.push(this);
      else process.nextTick(settle, this);
    }
  }

  /**
   * Rust wrote queued bytes.
   *
   * @param {Number} queued The bytes still queued
   * @private
   */
  _onWritten(queued) {
    const needDrain = this._queued >= HIGH_WATER_MARK;

    this._queued = toSmall(queued);
    settle(this);

    if (needDrain && queued < HIGH_WATER_MARK && !this.destroyed) {
      this.emit('drain');
    }
  }

  /**
   * Ends the write side: the FIN goes out once what is queued is written.
   *
   * @param {(Buffer|String)} [chunk] Data to write first
   * @param {String} [encoding] The encoding of a string
   * @param {Function} [cb] A `'finish'` listener
   * @return {NativeSocket} this
   */
  end(chunk, encoding, cb) {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }

    if (chunk != null && !this._ending && !this.destroyed) {
      this.write(chunk, encoding);
    }

    if (typeof cb === 'function') this.once('finish', cb);
    if (this._ending || this.destroyed) return this;

    this._corked = Math.min(this._corked, 1);
    this.uncork();
    this._ending = true;

    const r = native.end(this._id);

    if (r === 1) process.nextTick(finish, this);
    else if (r < 0) this.destroy(errnoError(-r, 'shutdown'));

    return this;
  }

  /**
   * The FIN went out after the queue drained.
   *
   * @private
   */
  _onFinished() {
    finish(this);
  }

  /**
   * A read or write failed in Rust.
   *
   * @param {Number} errno The errno
   * @param {String} syscall `'read'` or `'write'`
   * @private
   */
  _onError(errno, syscall) {
    this.destroy(errnoError(errno, syscall));
  }

  /**
   * Closes the connection now. What is still queued is dropped; `'close'`
   * follows once the shell is closed.
   *
   * @param {Error} [err] An error to emit first
   * @return {NativeSocket} this
   */
  destroy(err) {
    if (this.destroyed) return this;

    this.destroyed = true;
    this._close(false);

    if (err) {
      this._hadError = true;
      process.nextTick(emitError, this, err);
    }

    return this;
  }

  /**
   * Closes the connection with a reset (`SO_LINGER` 0), like
   * `net.Socket#resetAndDestroy()`.
   *
   * @return {NativeSocket} this
   */
  resetAndDestroy() {
    if (this.destroyed) return this;

    this.destroyed = true;
    this._close(true);
    return this;
  }

  /**
   * @param {Boolean} abort Whether to reset the connection
   * @private
   */
  _close(abort) {
    //
    // ws would have written these frames already.
    //
    if (this._outboxBytes !== 0) flushOutbox();

    conns[this._id] = undefined;
    native.close(this._id, abort);

    //
    // Closing the shell closes the last descriptor of the socket; its
    // `'close'` becomes ours (see `onShellClose()`).
    //
    if (this._shell.destroyed) {
      if (this._shellClosed) process.nextTick(emitClose, this);
    } else {
      this._shell.destroy();
    }
  }
}

/**
 * Emits held chunks while flowing, then `'end'` once the peer ended and
 * nothing is held.
 *
 * @param {NativeSocket} socket The socket
 * @private
 */
function flushChunks(socket) {
  socket._flushScheduled = false;

  while (
    socket._flowing === true &&
    socket._chunks.length !== 0 &&
    !socket.destroyed
  ) {
    const chunk = socket._chunks.shift();

    socket._chunksLength -= chunk.length;
    socket.emit('data', chunk);
  }

  if (
    socket._flowing === true &&
    socket._chunks.length === 0 &&
    socket._readableState.ended
  ) {
    socket._emitEnd();
  }
}

/**
 * Calls the write callbacks whose bytes are written.
 *
 * @param {NativeSocket} socket The socket
 * @private
 */
function settle(socket) {
  const callbacks = socket._callbacks;
  const written = socket._accepted - socket._queued;
  let n = 0;

  while (n < callbacks.length && callbacks[n] <= written) n += 2;
  if (n === 0) return;

  const done = callbacks.splice(0, n);

  for (let i = 1; i < done.length; i += 2) callCallbacks(done[i], null);
}

/**
 * @param {(Function|Function[])} cb A callback or a list of them
 * @param {Error} [err] The error
 * @private
 */
function callCallbacks(cb, err) {
  if (Array.isArray(cb)) {
    for (let i = 0; i < cb.length; i++) cb[i](err);
  } else {
    cb(err);
  }
}

/**
 * Emits `'finish'`, and closes if the readable side ended too.
 *
 * @param {NativeSocket} socket The socket
 * @private
 */
function finish(socket) {
  if (socket._finished || socket.destroyed) return;

  socket._finished = true;
  socket.emit('finish');

  if (socket._readableState.endEmitted) socket.destroy();
}

/**
 * @param {NativeSocket} socket The socket
 * @param {Error} err The error
 * @private
 */
function emitError(socket, err) {
  socket.emit('error', err);
}

/**
 * Emits `'close'`. The callbacks of writes still queued are called first,
 * without an error, as Node calls those of a destroyed socket's writes.
 *
 * @param {NativeSocket} socket The socket
 * @private
 */
function emitClose(socket) {
  const callbacks = socket._callbacks;

  socket._callbacks = NONE;
  for (let i = 1; i < callbacks.length; i += 2) {
    callCallbacks(callbacks[i], null);
  }

  socket.emit('close', socket._hadError);
}

/**
 * The shell's `'close'` listener: the end of the connection, whoever closed
 * it (the user may destroy `req.socket`).
 *
 * @private
 */
function onShellClose() {
  const socket = this[kNativeSocket];

  socket._shellClosed = true;

  if (!socket.destroyed) {
    if (socket._outboxBytes !== 0) flushOutbox();
    socket.destroyed = true;
    conns[socket._id] = undefined;
    native.close(socket._id, false);
  }

  emitClose(socket);
}

/**
 * The shell's `'timeout'` listener.
 *
 * @private
 */
function onShellTimeout() {
  this[kNativeSocket].emit('timeout');
}

module.exports = {
  NativeSender,
  NativeSocket,
  addListener,
  canTakeOver,
  enabled,
  init,
  removeListener,
  takeOver
};
