'use strict';

const { Buffer } = require('buffer');
const { getSystemErrorName } = require('util');

const Sender = require('../sender');
const SocketView = require('./socket-view');
const transport = require('./native');
const {
  native,
  EOF,
  FINISHED,
  MASK,
  MESSAGE_EXTRA,
  RAW,
  SOCKET_ERROR,
  WRITTEN
} = require('../binding');

//
// A connection of the native transport (see js/transport/native.js): Rust
// owns it end to end (read, parse, inflate, frame, queue, write), and this
// object is what the WebSocket talks to. It emits nothing itself: records
// go to the WebSocket's receiver, and the end of stream, errors and the
// close to the WebSocket (`_onTransportEnd()`, `_onTransportError()`,
// `_onTransportClose()`, as js/transport/stream.js does for a stream).
//
// The socket that ws exposes (`ws._socket`, `req.socket`) is, for a socket
// Node accepted, that `net.Socket`, kept as an idle shell (it never reads
// nor writes again, but its server counts it and it answers addresses);
// for a connection the native listener accepted, a `SocketView` made when
// first asked for.
//

//
// What `writableNeedDrain` means, as for a `net.Socket`.
//
const HIGH_WATER_MARK = 16 * 1024;

//
// An idle connection's callback list: this shared, frozen array.
//
const NONE = Object.freeze([]);

/**
 * Rust's counts come as doubles (a `Float64Array`); stored as they are,
 * they would give each connection a boxed number (16 bytes).
 *
 * @param {Number} n A count
 * @return {Number} `n`, as a small integer when it fits one
 * @private
 */
function toSmall(n) {
  return n < 0x80000000 ? n | 0 : n;
}

/**
 * @param {Number} length A payload length
 * @param {Number} flags The frame's flags
 * @return {Number} The frame's length on the wire
 * @private
 */
function frameLength(length, flags) {
  if (flags & RAW) return length;

  const header = length > 65535 ? 10 : length > 125 ? 4 : 2;

  return (flags & MASK ? header + 4 : header) + length;
}

/**
 * The sender of a native connection: frames go to the transport's outbox,
 * which Rust frames and writes at the end of the tick. Compression, blobs
 * and the order of the sends are `Sender`'s.
 *
 * @extends Sender
 */
class NativeSender extends Sender {
  /**
   * Adds a frame to the outbox.
   *
   * @param {*} data The payload
   * @param {Number} flags The frame's flags
   * @param {Function} [cb] Callback
   * @param {Boolean} owned Whether nobody else holds `data`
   * @private
   */
  _frame(data, flags, cb, owned) {
    const conn = this._socket;

    if (conn.destroyed) {
      conn._writeAfterDestroy(cb);
      return;
    }

    const mask = flags & MASK ? this._mask() : 0;
    const length = transport.queueFrame(conn, data, flags, mask, owned);

    conn._queuedFrame(this, length, frameLength(length, flags), cb);
  }

  /**
   * Adds bytes framed already to the outbox.
   *
   * @param {Buffer} data The bytes
   * @param {Function} [cb] Callback
   * @private
   */
  _raw(data, cb) {
    const conn = this._socket;

    if (conn.destroyed) {
      conn._writeAfterDestroy(cb);
      return;
    }

    const length = transport.queueRaw(conn, data);

    conn._queuedFrame(this, length, length, cb);
  }

  /**
   * Adds a frame of a shared payload (a publish) to the outbox.
   *
   * @param {Object} shared What `transport.share()` returned
   * @param {Number} flags The frame's flags
   * @private
   */
  _shared(shared, flags) {
    const conn = this._socket;

    if (conn.destroyed) return;

    const length = transport.queueShared(conn, shared, flags);

    conn._queuedFrame(this, length, frameLength(length, flags));
  }

  /**
   * Hands what was sent so far to Rust now instead of at the end of the
   * tick.
   *
   * @public
   */
  flush() {
    transport.flush(false);
  }
}

/**
 * A connection of the native transport.
 */
class NativeConnection {
  /**
   * @param {Number} id The connection id in Rust
   * @param {(net.Socket|null)} shell The socket Node accepted, kept idle,
   *     or `null` for a connection of the native listener
   * @param {(NativeListener|null)} listener The listener that accepted it
   */
  constructor(id, shell, listener) {
    this._id = id;
    this._shell = shell;
    this._listener = listener;
    this._view = null;
    this._owner = null;
    this._sender = null;

    //
    // The transport's bookkeeping: the batch that last touched it, and its
    // frames in the outbox (count, index of the last, payload bytes, wire
    // bytes, callbacks).
    //
    this._serial = 0;
    this._outboxFrames = 0;
    this._outboxLast = 0;
    this._outboxPayload = 0;
    this._outboxBytes = 0;
    this._outboxCallbacks = null;

    //
    // Bytes handed to Rust so far, bytes it still queues, and the callbacks
    // waiting for their bytes to be written, as pairs (offset after the
    // write, callback).
    //
    this._accepted = 0;
    this._queued = 0;
    this._bytesRead = 0;
    this._callbacks = NONE;

    this._paused = false;
    this._held = false;
    this._destroyOnFinish = false;
    this._finishWaiters = null;
    this._ended = false;
    this._ending = false;
    this._finished = false;
    this._hadError = false;
    this._closed = false;
    this.destroyed = false;

    transport.addConnection(id, this);

    if (shell !== null) {
      shell.on('error', noop);
      shell.on('close', onShellClose);
      shell[kConnection] = this;
      Object.setPrototypeOf(shell, liveCounters(Object.getPrototypeOf(shell)));
    }
  }

  /**
   * The socket ws exposes: the idle `net.Socket`, or a `SocketView` made
   * now.
   *
   * @type {(net.Socket|SocketView)}
   */
  get socket() {
    if (this._shell !== null) return this._shell;
    if (this._view === null) this._view = new SocketView(this);
    return this._view;
  }

  /**
   * Whether the connection can still take a WebSocket.
   *
   * @type {Boolean}
   */
  get usable() {
    return !this.destroyed && !this._ending && !this._ended;
  }

  /**
   * Bytes Rust read from the socket (the last count seen once closed).
   *
   * @type {Number}
   */
  get bytesRead() {
    const counts = this.destroyed ? undefined : native.counts(this._id);

    if (counts) this._bytesRead = counts[0];
    return this._bytesRead;
  }

  /**
   * Bytes queued in Rust, not yet taken by the kernel.
   *
   * @type {Number}
   */
  get writableLength() {
    return this._queued;
  }

  /**
   * Whether our side's end (the FIN) went out.
   *
   * @type {Boolean}
   */
  get writableFinished() {
    return this._finished;
  }

  /**
   * Calls `cb` once our side's end went out.
   *
   * @param {Function} cb The callback
   * @public
   */
  onceFinished(cb) {
    if (this._finishWaiters === null) this._finishWaiters = [cb];
    else this._finishWaiters.push(cb);
  }

  /**
   * Bytes accepted (written or queued), as `net.Socket#bytesWritten`.
   *
   * @type {Number}
   */
  get bytesWritten() {
    return this._accepted + this._outboxBytes;
  }

  /**
   * Sets the WebSocket up over this connection: its sender, and the
   * receiver options Rust parses with (the bytes read before the takeover
   * are parsed first).
   *
   * @param {WebSocket} ws The WebSocket
   * @param {Number} config The receiver options' number (`configure()`)
   * @param {Buffer} [input] Bytes read before the takeover
   * @param {Object} extensions The negotiated extensions
   * @param {Function} [generateMask] The function used to generate masks
   * @return {NativeSender} The sender
   * @public
   */
  attach(ws, config, input, extensions, generateMask) {
    this._sender = new NativeSender(this, extensions, generateMask);
    this.start(ws, config, input);
    return this._sender;
  }

  /**
   * Starts reading for `owner`: Rust parses with the receiver options
   * numbered `config` (the bytes read before the takeover first), and the
   * owner gets the records (`_onNativeRecord(type, a, b, buffer)`,
   * `_onNativeBatchEnd(slab)`) and hears of the end of stream, errors and
   * the close (`_onTransportEnd()`, `_onTransportError(err)`,
   * `_onTransportClose()`).
   *
   * @param {Object} owner The WebSocket (or handler-based connection)
   * @param {Number} config The receiver options' number (`configure()`)
   * @param {Buffer} [input] Bytes read before the takeover
   * @public
   */
  start(owner, config, input) {
    this._owner = owner;

    const r = native.attach(this._id, config, input);

    if (r < 0) this.destroy(errnoError(-r, 'read'));
  }

  /**
   * Writes bytes at once (the handshake's answer), before anything else.
   *
   * @param {(Buffer|String)} data The bytes
   * @param {Function} [cb] Called once they are written
   * @public
   */
  write(data, cb) {
    if (typeof data === 'string') data = Buffer.from(data);

    if (this.destroyed || this._ending) {
      this._writeAfterDestroy(cb);
      return;
    }

    transport.flush(false);
    this._afterWrite(data.length, native.write(this._id, data), cb || null);
  }

  /**
   * Answers a refused handshake: writes the answer, ends, and closes once
   * the FIN went out.
   *
   * @param {String} response The HTTP answer
   * @public
   */
  refuse(response) {
    this._destroyOnFinish = true;
    this.write(response);
    this.end();
  }

  /**
   * Calls `cb` for what was written so far (the settle of
   * `_afterWrite()`).
   *
   * @private
   */
  _settle() {
    settle(this);
  }

  /**
   * `binaryType` changed: Rust keeps frame boundaries for `'fragments'`.
   *
   * @param {String} type The binary type
   * @public
   */
  setBinaryType(type) {
    if (!this.destroyed) native.setMergeFrames(this._id, type !== 'fragments');
  }

  /**
   * Stops reading (`ws.pause()`).
   *
   * @public
   */
  pause() {
    this._paused = true;
    this._setReading();
  }

  /**
   * Reads again (`ws.resume()`).
   *
   * @public
   */
  resume() {
    this._paused = false;
    this._setReading();
  }

  /**
   * The receiver holds events it has not emitted yet (no synchronous
   * events): stop reading until it drains, or read again.
   *
   * @param {Boolean} held Whether to hold
   * @public
   */
  hold(held) {
    this._held = held;
    this._setReading();
  }

  /**
   * Reads on to the end of stream whatever `pause()` said: after a close
   * frame or an error, Rust drops what it reads, and the peer's FIN must be
   * seen.
   *
   * @public
   */
  drainToEnd() {
    this._paused = false;
    this._held = false;
    this._setReading();
  }

  /**
   * @private
   */
  _setReading() {
    if (!this.destroyed && !this._ended) {
      native.setReading(this._id, !this._paused && !this._held);
    }
  }

  /**
   * The frames in the outbox are the last (a close frame, usually): Rust
   * writes them with the FIN, in one segment where they fit. `end()` must
   * follow.
   *
   * @public
   */
  endAfterWrite() {
    if (this._outboxFrames !== 0 && !this._ending && !this.destroyed) {
      native.end(this._id, true);
    }
  }

  /**
   * Ends the write side: the FIN goes out once what is queued is written.
   *
   * @public
   */
  end() {
    if (this._ending || this.destroyed) return;

    this.endAfterWrite();
    transport.flush(false);
    this._ending = true;

    const r = native.end(this._id);

    if (r === 1) process.nextTick(finish, this);
    else if (r < 0) this.destroy(errnoError(-r, 'shutdown'));
  }

  /**
   * Closes the connection now. What is still queued is dropped; the
   * WebSocket hears of the close in a later loop turn, as with a socket.
   *
   * @param {Error} [err] An error to report first
   * @public
   */
  destroy(err) {
    if (this.destroyed) return;

    this._close(false);

    if (err) {
      this._hadError = true;
      process.nextTick(emitError, this, err);
    }
  }

  /**
   * Closes the connection with a reset (`SO_LINGER` 0), as
   * `net.Socket#resetAndDestroy()`.
   *
   * @public
   */
  resetAndDestroy() {
    if (!this.destroyed) this._close(true);
  }

  /**
   * @param {Boolean} abort Whether to reset the connection
   * @private
   */
  _close(abort) {
    //
    // ws would have written these frames already.
    //
    if (this._outboxFrames !== 0) transport.flush(false);

    this.destroyed = true;
    transport.removeConnection(this._id);
    native.close(this._id, abort);

    if (this._listener !== null) this._listener._connectionClosed();

    //
    // Closing the shell closes the last descriptor of the socket; its
    // `'close'` is the connection's. Without one, as a socket's, the close
    // comes in a later loop turn.
    //
    if (this._shell === null) setImmediate(closed, this);
    else if (!this._shell.destroyed) this._shell.destroy();
  }

  /**
   * Calls a write's callback with the error of a write to a closed socket.
   *
   * @param {Function} [cb] The callback
   * @private
   */
  _writeAfterDestroy(cb) {
    if (typeof cb !== 'function') return;

    const err = new Error('Cannot call write after a stream was destroyed');

    err.code = 'ERR_STREAM_DESTROYED';
    process.nextTick(cb, err);
  }

  /**
   * A frame went into the outbox.
   *
   * @param {NativeSender} sender The sender
   * @param {Number} payload Its payload length
   * @param {Number} bytes Its length on the wire
   * @param {Function} [cb] Its callback
   * @private
   */
  _queuedFrame(sender, payload, bytes, cb) {
    //
    // A WebSocket counts what its sender holds in `bufferedAmount`; a
    // handler-based connection (no sender) counts the outbox itself.
    //
    if (sender !== null) {
      sender._bufferedBytes += payload;
      this._outboxPayload += payload;
    }

    this._outboxBytes += bytes;

    if (typeof cb === 'function') {
      if (this._outboxCallbacks === null) this._outboxCallbacks = [cb];
      else this._outboxCallbacks.push(cb);
    }
  }

  /**
   * The outbox was handed to Rust.
   *
   * @param {Number} queued What Rust returned for this connection: the
   *     bytes it queues, or -errno
   * @param {Boolean} now Whether callbacks of what was written may be
   *     called at the end of this flush
   * @private
   */
  _afterFlush(queued, now) {
    const callbacks = this._outboxCallbacks;
    const bytes = this._outboxBytes;

    if (this._outboxPayload !== 0) {
      this._sender._bufferedBytes -= this._outboxPayload;
      this._outboxPayload = 0;
    }

    this._outboxBytes = 0;
    this._outboxCallbacks = null;

    this._afterWrite(
      bytes,
      queued,
      callbacks === null
        ? null
        : callbacks.length === 1
          ? callbacks[0]
          : callbacks,
      now
    );
  }

  /**
   * Accounts for a write handed to Rust.
   *
   * @param {Number} length The bytes written or queued
   * @param {Number} queued What Rust returned: the bytes queued, or -errno
   * @param {(Function|Function[]|null)} cb The callback(s) of the write
   * @param {Boolean} [now=false] Whether written callbacks may be called at
   *     the end of this flush
   * @private
   */
  _afterWrite(length, queued, cb, now) {
    if (queued < 0) {
      if (cb !== null) {
        const err = this.destroyed
          ? destroyedError()
          : errnoError(-queued, 'write');

        if (Array.isArray(cb)) {
          for (let i = 0; i < cb.length; i++) process.nextTick(cb[i], err);
        } else {
          process.nextTick(cb, err);
        }
      }

      this.destroy(this.destroyed ? undefined : errnoError(-queued, 'write'));
      return;
    }

    this._accepted += length;
    this._queued = toSmall(queued);

    if (cb !== null) {
      if (this._callbacks === NONE) this._callbacks = [];
      this._callbacks.push(this._accepted, cb);

      //
      // As for a stream's write that completes at once, the callbacks are
      // called in a later tick (the end-of-tick flush is one already).
      //
      if (queued === 0) {
        if (now === true) transport.settleLater(this);
        else process.nextTick(settle, this);
      }
    }
  }

  /**
   * Takes a record of this connection's batch (src/records.rs).
   *
   * @param {Number} type The record type
   * @param {Number} a Its first number
   * @param {Number} b Its second number
   * @param {Buffer} slab The slab
   * @param {(Buffer[]|undefined)} extras The batch's large messages
   * @private
   */
  _record(type, a, b, slab, extras) {
    if (type < EOF) {
      const buffer = type === MESSAGE_EXTRA ? extras[a] : slab;

      if (!this._owner._onNativeRecord(type, a, b, buffer)) this.hold(true);
      return;
    }

    switch (type) {
      case WRITTEN:
        this._onWritten(a + b * 0x100000000);
        break;
      case EOF:
        this._onEof();
        break;
      case FINISHED:
        finish(this);
        break;
      case SOCKET_ERROR:
        this.destroy(errnoError(a, b === 1 ? 'write' : 'read'));
        break;
    }
  }

  /**
   * The batch that touched this connection is over.
   *
   * @param {Buffer} slab The slab
   * @private
   */
  _endBatch(slab) {
    if (this._owner !== null) this._owner._onNativeBatchEnd(slab);
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

    if (needDrain && queued < HIGH_WATER_MARK && this._view !== null) {
      this._view.emit('drain');
    }

    if (this._owner !== null) this._owner._onTransportWritten();
  }

  /**
   * The peer ended its side: the WebSocket ends ours too (ws does, as a
   * socket without `allowHalfOpen` would), and the connection closes once
   * the FIN went out.
   *
   * @private
   */
  _onEof() {
    if (this.destroyed) return;

    this._ended = true;
    if (this._view !== null) this._view.emit('end');
    if (this._owner !== null) this._owner._onTransportEnd();
    if (!this._ending) this.end();
    if (this._finished) this.destroy();
  }
}

const kConnection = Symbol('ws-native-connection');

//
// The prototype given to a taken-over socket, per socket class: its byte
// counters and write queue are Rust's from then on, so these getters add
// Rust's counts to what Node counted before the takeover (a
// `net.Socket` subclass keeps its own prototype chain under it).
//
const liveCounterPrototypes = new WeakMap();

/**
 * @param {Object} proto The prototype of a socket Node accepted
 * @return {Object} A prototype inheriting from it, with live counters
 * @private
 */
function liveCounters(proto) {
  let live = liveCounterPrototypes.get(proto);

  if (live !== undefined) return live;

  const queued = {
    configurable: true,
    get() {
      return this[kConnection].writableLength;
    }
  };

  live = Object.create(proto, {
    bytesRead: {
      configurable: true,
      get() {
        return Reflect.get(proto, 'bytesRead', this) + this[kConnection].bytesRead;
      }
    },
    bytesWritten: {
      configurable: true,
      get() {
        return Reflect.get(proto, 'bytesWritten', this) + this[kConnection].bytesWritten;
      }
    },
    bufferSize: queued,
    writableLength: queued,
    writableNeedDrain: {
      configurable: true,
      get() {
        return this[kConnection].writableLength >= HIGH_WATER_MARK;
      }
    }
  });
  liveCounterPrototypes.set(proto, live);
  return live;
}

/**
 * Emits `'finish'` on the view, and closes if the peer ended too.
 *
 * @param {NativeConnection} conn The connection
 * @private
 */
function finish(conn) {
  if (conn._finished || conn.destroyed) return;

  conn._finished = true;
  if (conn._view !== null) conn._view.emit('finish');

  if (conn._finishWaiters !== null) {
    const waiters = conn._finishWaiters;

    conn._finishWaiters = null;
    for (let i = 0; i < waiters.length; i++) waiters[i]();
  }

  if (conn._ended || conn._destroyOnFinish) conn.destroy();
}

/**
 * Calls the write callbacks whose bytes are written.
 *
 * @param {NativeConnection} conn The connection
 * @private
 */
function settle(conn) {
  const callbacks = conn._callbacks;
  const written = conn._accepted - conn._queued;
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
 * The connection is closed: the callbacks of writes still queued are
 * called first, without an error (as Node calls those of a destroyed
 * socket's writes), then the WebSocket hears of it.
 *
 * @param {NativeConnection} conn The connection
 * @private
 */
function closed(conn) {
  if (conn._closed) return;

  conn._closed = true;

  const callbacks = conn._callbacks;

  conn._callbacks = NONE;
  for (let i = 1; i < callbacks.length; i += 2) {
    callCallbacks(callbacks[i], null);
  }

  if (conn._view !== null) conn._view._closed(conn._hadError);
  if (conn._owner !== null) conn._owner._onTransportClose();
}

/**
 * @param {NativeConnection} conn The connection
 * @param {Error} err The error
 * @private
 */
function emitError(conn, err) {
  if (conn._view !== null) conn._view._error(err);
  if (conn._owner !== null) conn._owner._onTransportError(err);
}

/**
 * The shell's `'close'` listener: the end of the connection, whoever closed
 * it (the user may destroy `req.socket`).
 *
 * @private
 */
function onShellClose() {
  const conn = this[kConnection];

  if (!conn.destroyed) conn._close(false);
  closed(conn);
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

function noop() {}

module.exports = { NativeConnection, NativeSender, errnoError };
