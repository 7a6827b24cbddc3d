'use strict';

const { Buffer } = require('buffer');
const IdleTracker = require('./idle');
const PerMessageDeflate = require('./permessage-deflate');
const WebSocket = require('./websocket');
const transport = require('./transport/native');
const { configFor, connect } = require('./transport');
const { inflateParams, parserOptions } = require('./receiver');
const {
  NativeConnection,
  NativeSender
} = require('./transport/native-connection');
const {
  errors,
  CLOSE,
  CTRL_PIECE,
  ERROR,
  FIN,
  FRAME_END,
  MASK,
  MESSAGE,
  MESSAGE_BINARY,
  MESSAGE_EXTRA,
  MESSAGE_TEXT,
  PIECE,
  PIECE_CONT,
  PING,
  PONG,
  RSV1
} = require('./binding');
const { concat, toArrayBuffer, toBuffer, view } = require('./buffer-util');
const { EMPTY_BUFFER, kStatusCode } = require('./constants');
const { isValidStatusCode } = require('./validation');

//
// Handler-based connections, the Bun model: `websocket: { open, message,
// close, drain, ping, pong, error }` on `serve()` or on a WebSocketServer,
// and the `ServerWebSocket` those handlers get. Such a connection holds
// little in JavaScript: on the native transport, its object and the
// connection's (Rust parses, inflates, validates, queues and writes); the
// handlers and options are the server's. Over a stream (TLS), a ws
// `WebSocket` carries it.
//
// `send()` says what became of a message: its length (it goes out at the
// end of the tick, with nothing queued before it), -1 (queued behind bytes
// the peer has not read yet: it will be sent, and `drain` follows once the
// queue shrinks), or 0 (not sent: the connection is closed, or more than
// `backpressureLimit` bytes are queued already).
//

const OPEN = 1;
const CLOSED = 3;

const HANDLERS = ['open', 'message', 'close', 'drain', 'ping', 'pong'];
const CLOSE_TIMEOUT = 10000;

const DEFAULTS = {
  maxPayloadLength: 16 * 1024 * 1024,
  idleTimeout: 120,
  backpressureLimit: 16 * 1024 * 1024,
  closeOnBackpressureLimit: false,
  sendPings: true,
  publishToSelf: false,
  perMessageDeflate: false
};

const BINARY_TYPES = ['nodebuffer', 'arraybuffer', 'uint8array'];

//
// A binary message of the slab this large is handed out as a view of it,
// a smaller one is copied (see `_binary()`): from 4 KiB `allocUnsafe()`
// no longer takes from Node's pool, so a copy costs an allocation, and a
// view pins at most 24 times its size (the slab is 96 KiB).
//
const MIN_SLAB_VIEW = 4096;

//
// The close reasons Bun gives a peer for a protocol error.
//
const BUN_REASONS = {
  1007: 'Received invalid UTF-8',
  1009: 'Received too big message'
};

/**
 * The handlers of a server and their options, shared by its connections.
 */
class WebSocketHandlers {
  /**
   * @param {Object} websocket The `websocket` option
   * @param {Topics} topics The server's topics
   * @throws {TypeError} If a handler is not a function or none is given
   */
  constructor(websocket, topics) {
    if (websocket === null || typeof websocket !== 'object') {
      throw new TypeError('The "websocket" option must be an object of handlers');
    }

    for (const name of [...HANDLERS, 'error', 'dropped']) {
      const fn = websocket[name];

      if (fn !== undefined && typeof fn !== 'function') {
        throw new TypeError(`websocket.${name} must be a function`);
      }
    }

    if (!HANDLERS.some((name) => typeof websocket[name] === 'function')) {
      throw new TypeError(
        'The "websocket" option needs at least one handler: message, open, ' +
          'close, drain, ping or pong'
      );
    }

    const o = { ...DEFAULTS, ...websocket };

    this.open = websocket.open || null;
    this.message = websocket.message || null;
    this.close = websocket.close || null;
    this.drain = websocket.drain || null;
    this.ping = websocket.ping || null;
    this.pong = websocket.pong || null;
    this.error = websocket.error || null;
    this.dropped = websocket.dropped || null;
    this.topics = topics;

    this.maxPayloadLength = count(o.maxPayloadLength, 'maxPayloadLength');
    this.backpressureLimit = count(o.backpressureLimit, 'backpressureLimit');
    this.closeOnBackpressureLimit = !!o.closeOnBackpressureLimit;
    this.publishToSelf = !!o.publishToSelf;

    //
    // The open connections (for `stop(true)` and `pendingWebSockets`), and
    // who waits for there to be none.
    //
    this.connections = new Set();
    this._emptyWaiters = null;

    const idle = count(o.idleTimeout, 'idleTimeout');

    this.idle =
      idle === 0
        ? null
        : new IdleTracker(idle * 1000, o.sendPings !== false, idlePing, idleClose);
  }

  /**
   * Calls a handler; what it throws goes to the `error` handler (or is
   * rethrown, as an uncaught exception, without one).
   *
   * @param {Function} fn The handler
   * @param {ServerWebSocket} ws The connection
   * @param {*} [a] An argument
   * @param {*} [b] Another
   * @return {Boolean} Whether it returned without throwing
   * @private
   */
  call(fn, ws, a, b) {
    try {
      const result = fn(ws, a, b);

      //
      // An async handler's rejection, as a throw.
      //
      if (result !== undefined && typeof result.then === 'function') {
        result.then(undefined, (err) => this.fail(err));
      }

      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  /**
   * @param {Error} err What a handler threw
   * @private
   */
  fail(err) {
    if (this.error === null) {
      process.nextTick(rethrow, err);
      return;
    }

    try {
      this.error(err);
    } catch (err2) {
      process.nextTick(rethrow, err2);
    }
  }

  /**
   * The receiver options (ws's) of a connection with these extensions.
   *
   * @param {Object} extensions The negotiated extensions
   * @return {Object} Frozen options (shared)
   * @private
   */
  receiverOptions(extensions) {
    const inflate = inflateParams(extensions, true);

    return parserOptions(
      true,
      this.maxPayloadLength,
      false,
      0,
      256 * 1024,
      inflate === null ? 0 : inflate.windowBits,
      inflate !== null && inflate.noContextTakeover
    );
  }

  /**
   * The options of the ws `WebSocket` that carries a connection over a
   * stream.
   *
   * @return {Object}
   * @private
   */
  socketOptions() {
    if (this._socketOptions === undefined) {
      this._socketOptions = Object.freeze({
        allowSynchronousEvents: true,
        autoPong: true,
        closeTimeout: CLOSE_TIMEOUT,
        maxBufferedAmount: 0,
        maxBufferedChunks: 256 * 1024,
        maxFragments: 0,
        maxPayload: this.maxPayloadLength,
        maxPendingAutoPongs: 60,
        skipUTF8Validation: false
      });
    }

    return this._socketOptions;
  }

  /**
   * Stops the idle timer (the server closes).
   *
   * @public
   */
  stop() {
    if (this.idle !== null) this.idle.stop();
  }

  /**
   * @return {Promise<void>} Resolves once no connection is open
   * @public
   */
  whenEmpty() {
    if (this.connections.size === 0) return Promise.resolve();

    return new Promise((resolve) => {
      if (this._emptyWaiters === null) this._emptyWaiters = [];
      this._emptyWaiters.push(resolve);
    });
  }

  /**
   * A connection closed.
   *
   * @param {ServerWebSocket} ws The connection
   * @private
   */
  closed(ws) {
    this.connections.delete(ws);

    if (this.connections.size === 0 && this._emptyWaiters !== null) {
      const waiters = this._emptyWaiters;

      this._emptyWaiters = null;
      for (const resolve of waiters) resolve();
    }
  }
}

/**
 * A connection of a handler-based server, what the handlers get (Bun's
 * `ServerWebSocket`).
 */
class ServerWebSocket {
  /**
   * @param {WebSocketHandlers} handlers The server's handlers
   * @param {*} data What `upgrade(req, { data })` was given
   */
  constructor(handlers, data) {
    this._h = handlers;
    this._conn = null;
    this._ws = null;
    this._sender = null;
    this._extensions = null;
    this._state = OPEN;
    this._needDrain = false;
    this._binaryType = 'nodebuffer';
    this._pieces = null;
    this._ctrl = null;
    this._frameEnds = null;
    this._closeTimer = null;
    this._subscriptions = null;
    this._address = undefined;
    this._protocol = '';

    //
    // The idle tracker's (js/idle.js).
    //
    this._idlePrev = null;
    this._idleNext = null;
    this._idleSeen = 0;
    this._idleList = null;

    this.data = data;
  }

  get readyState() {
    return this._state;
  }

  get remoteAddress() {
    if (this._address === undefined) {
      const socket = this._ws !== null ? this._ws._socket : this._conn.socket;

      this._address = socket && socket.remoteAddress;
    }

    return this._address;
  }

  /**
   * The subprotocol agreed on, or `''`.
   *
   * @type {String}
   */
  get protocol() {
    return this._protocol;
  }

  get binaryType() {
    return this._binaryType;
  }

  set binaryType(type) {
    if (!BINARY_TYPES.includes(type)) {
      throw new TypeError(
        `binaryType must be one of ${BINARY_TYPES.map((t) => `"${t}"`).join(', ')}`
      );
    }

    this._binaryType = type;
  }

  /**
   * The topics the connection is subscribed to, in subscription order.
   *
   * @type {String[]}
   */
  get subscriptions() {
    return this._subscriptions === null ? [] : Array.from(this._subscriptions);
  }

  /**
   * Bytes sent but not yet taken by the kernel.
   *
   * @return {Number}
   */
  getBufferedAmount() {
    if (this._ws !== null) return this._ws.bufferedAmount;
    if (this._conn === null) return 0;
    return this._conn._queued + this._conn._outboxBytes;
  }

  /**
   * Sends a message: text for a string, binary for anything else.
   *
   * @param {*} data The message
   * @param {Boolean} [compress=false] Whether to compress it (with
   *     permessage-deflate)
   * @return {Number} Its length (at least 1), -1 if queued behind
   *     backpressure, 0 if not sent
   */
  send(data, compress) {
    return this._send(data, typeof data !== 'string', compress);
  }

  /**
   * @param {String} text The message
   * @param {Boolean} [compress=false] Whether to compress it
   * @return {Number} As `send()`
   */
  sendText(text, compress) {
    return this._send(String(text), false, compress);
  }

  /**
   * @param {*} data The message
   * @param {Boolean} [compress=false] Whether to compress it
   * @return {Number} As `send()`
   */
  sendBinary(data, compress) {
    return this._send(data, true, compress);
  }

  /**
   * @param {*} data The message
   * @param {Boolean} binary Whether it is binary
   * @param {Boolean} compress Whether to compress it
   * @return {Number} As `send()`
   * @private
   */
  _send(data, binary, compress) {
    if (this._state !== OPEN) return 0;
    if (!this._underLimit()) return 0;

    if (typeof data !== 'string') data = toBuffer(data);

    let length;

    if (this._ws !== null) {
      length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      this._ws.send(data, { binary, compress: !!compress });
    } else if (compress && this._sender !== null) {
      length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      this._sender.send(data, { binary, compress: true, fin: true, mask: false });
    } else {
      const flags = (binary ? 0x02 : 0x01) | FIN;
      const conn = this._conn;

      length = transport.queueFrame(conn, data, flags, 0, false);
      conn._queuedFrame(null, length, frameLength(length, flags));
    }

    return this._status(length);
  }

  /**
   * What a send that went into the outbox returns.
   *
   * @param {Number} length The payload's length
   * @return {Number} The length (at least 1), or -1 behind backpressure
   * @private
   */
  _status(length) {
    const queued =
      this._ws !== null ? this._ws._conn.writableLength : this._conn._queued;

    if (queued !== 0) {
      this._needDrain = true;
      return -1;
    }

    //
    // 0 always means "not sent": an empty message that goes out is 1.
    //
    return length === 0 ? 1 : length;
  }

  /**
   * Whether a message may be queued: `backpressureLimit` not passed (the
   * limit is checked before the message, as Bun does). Past it, the message
   * is dropped, and with `closeOnBackpressureLimit` the connection closes.
   *
   * @return {Boolean}
   * @private
   */
  _underLimit() {
    const limit = this._h.backpressureLimit;

    if (limit === 0 || this.getBufferedAmount() <= limit) return true;

    if (this._h.closeOnBackpressureLimit) {
      //
      // The close frame waits behind what the peer does not read; Bun
      // shuts the socket (1006). A 1013 ("try again later") goes out
      // first, for a peer that reads again.
      //
      this._closeWith(1013, 'Backpressure limit exceeded', true);
    }

    return false;
  }

  /**
   * Sends a ping (never dropped at the limit).
   *
   * @param {*} [data] The payload (at most 125 bytes)
   * @return {Number} The payload's length, or 0 if closed
   */
  ping(data) {
    return this._control(0x09, data);
  }

  /**
   * Sends a pong (never dropped at the limit).
   *
   * @param {*} [data] The payload (at most 125 bytes)
   * @return {Number} The payload's length, or 0 if closed
   */
  pong(data) {
    return this._control(0x0a, data);
  }

  /**
   * @param {Number} opcode The opcode
   * @param {*} data The payload
   * @return {Number} Its length
   * @private
   */
  _control(opcode, data) {
    if (this._state !== OPEN) return 0;

    const payload =
      data === undefined
        ? EMPTY_BUFFER
        : typeof data === 'string'
          ? Buffer.from(data)
          : toBuffer(data);

    if (payload.length > 125) {
      throw new RangeError('The data size must not be greater than 125 bytes');
    }

    if (this._ws !== null) {
      if (opcode === 0x09) this._ws.ping(payload);
      else this._ws.pong(payload);
    } else {
      const conn = this._conn;
      const length = transport.queueFrame(conn, payload, opcode | FIN, 0, false);

      conn._queuedFrame(null, length, frameLength(length, opcode));
    }

    return payload.length;
  }

  /**
   * Calls `cb(ws)` and returns what it returns. The sends of a tick go out
   * together anyway (one write per connection at the end of the tick); this
   * is for code written for Bun.
   *
   * @param {Function} cb The callback
   * @return {*} What it returned
   */
  cork(cb) {
    return cb(this);
  }

  /**
   * Closes the connection: the close frame goes out and `close` runs now
   * (with this code and reason), as in Bun.
   *
   * @param {Number} [code=1000] The status code
   * @param {String} [reason=''] The reason (at most 123 bytes)
   */
  close(code = 1000, reason = '') {
    if (this._state !== OPEN) return;

    if (typeof code !== 'number' || !isValidStatusCode(code)) {
      throw new TypeError('First argument must be a valid error code number');
    }

    reason = String(reason);

    if (Buffer.byteLength(reason) > 123) {
      throw new RangeError('The message must not be greater than 123 bytes');
    }

    this._closeWith(code, reason, false);
  }

  /**
   * Closes the connection at once, without a close frame: the peer sees
   * 1006, and so does `close`.
   */
  terminate() {
    if (this._state !== OPEN) return;

    this._state = CLOSED;
    if (this._ws !== null) this._ws.terminate();
    else this._conn.destroy();
    this._finish(1006, '');
  }

  /**
   * Sends a close frame, ends our side, and runs `close`.
   *
   * @param {(Number|undefined)} code The status code (none: an empty close
   *     frame)
   * @param {String} reason The reason
   * @param {Boolean} now Whether to drop the connection right after the
   *     close frame is handed to the kernel
   * @param {Number} [report=code] The code `close` is told
   * @private
   */
  _closeWith(code, reason, now, report = code) {
    if (this._state !== OPEN) return;

    this._state = CLOSED;

    if (this._ws !== null) {
      this._ws.close(code, reason);
      if (now) this._ws.terminate();
    } else {
      const conn = this._conn;
      const payload = code === undefined ? EMPTY_BUFFER : closePayload(code, reason);
      const length = transport.queueFrame(conn, payload, 0x08 | FIN, 0, false);

      conn._queuedFrame(null, length, frameLength(length, 0x08));

      if (now) {
        transport.flush(false);
        conn.destroy();
      } else {
        conn.end();
        this._closeTimer = setTimeout(destroyLater, CLOSE_TIMEOUT, conn);
        this._closeTimer.unref();
      }
    }

    this._finish(report, reason);
  }

  /**
   * Subscribes to a topic of the server.
   *
   * @param {String} topic The topic
   * @return {Boolean} `true`, or `false` if the connection is closed
   * @throws {TypeError} If `topic` is empty or not a string
   */
  subscribe(topic) {
    if (this._state !== OPEN) return false;
    checkTopic(topic, 'subscribe');
    return this._h.topics.subscribe(this, topic);
  }

  /**
   * @param {String} topic The topic
   * @return {Boolean} Whether it was subscribed
   */
  unsubscribe(topic) {
    if (this._subscriptions === null) return false;
    return this._h.topics.unsubscribe(this, topic);
  }

  /**
   * @param {String} topic The topic
   * @return {Boolean} Whether it is subscribed
   */
  isSubscribed(topic) {
    return this._subscriptions !== null && this._subscriptions.has(topic);
  }

  /**
   * Publishes to every subscriber of a topic but this connection (unless
   * `publishToSelf`); it need not be subscribed.
   *
   * @param {String} topic The topic
   * @param {*} data The message: text for a string, else binary
   * @param {Boolean} [compress=false] Whether to compress it
   * @return {Number} The message's length (at least 1) if another
   *     subscriber was sent it, -1 if one queued it behind backpressure, 0
   *     if none was sent it
   */
  publish(topic, data, compress) {
    return this._publish(topic, data, typeof data !== 'string', compress);
  }

  /**
   * @param {String} topic The topic
   * @param {String} text The message
   * @param {Boolean} [compress=false] Whether to compress it
   * @return {Number} As `publish()`
   */
  publishText(topic, text, compress) {
    return this._publish(topic, String(text), false, compress);
  }

  /**
   * @param {String} topic The topic
   * @param {*} data The message
   * @param {Boolean} [compress=false] Whether to compress it
   * @return {Number} As `publish()`
   */
  publishBinary(topic, data, compress) {
    return this._publish(topic, data, true, compress);
  }

  /**
   * @private
   */
  _publish(topic, data, binary, compress) {
    if (this._state !== OPEN) return 0;
    checkTopic(topic, 'publish');

    return this._h.topics.publish(
      topic,
      data,
      { binary, compress: !!compress },
      this._h.publishToSelf ? null : this
    );
  }

  /**
   * Takes a message published to a topic it is subscribed to.
   *
   * @param {Delivery} d The message (js/topics.js)
   * @return {Number} 1 if sent, -1 if queued behind backpressure, 0 if not
   * @private
   */
  _takePublish(d) {
    if (this._state !== OPEN) return 0;

    if (!this._underLimit()) {
      if (this._h.dropped !== null) {
        this._h.call(this._h.dropped, this, d.payload, d.binary);
      }

      return 0;
    }

    const compress = this._extensions !== null && d.compressesFor(this._extensions);

    if (this._ws !== null) {
      const sender = this._ws._sender;

      if (compress) {
        this._ws.send(d.payload, { binary: d.binary, compress: true });
      } else if (sender.idle) {
        sender.sendFrame(d.frame());
      } else {
        this._ws.send(d.payload, { binary: d.binary, compress: false });
      }
    } else if (compress) {
      const deflate = this._extensions[PerMessageDeflate.extensionName];

      if (deflate.params.server_no_context_takeover) {
        this._sender._frameOrQueue(d.compressed(deflate), d.flags | RSV1, true);
      } else {
        this._sender.send(d.payload, {
          binary: d.binary,
          compress: true,
          fin: true,
          mask: false
        });
      }
    } else if (this._sender === null || this._sender.idle) {
      const conn = this._conn;
      const length = transport.queueShared(conn, d.shared(), d.flags);

      conn._queuedFrame(null, length, frameLength(length, d.flags));
    } else {
      this._sender.send(d.payload, {
        binary: d.binary,
        compress: false,
        fin: true,
        mask: false
      });
    }

    return this._status(1) === -1 ? -1 : 1;
  }

  /**
   * The connection is over: it leaves its topics and the idle tracker,
   * then `close` runs.
   *
   * @param {Number} code The status code
   * @param {String} reason The reason
   * @private
   */
  _finish(code, reason) {
    this._state = CLOSED;
    this._pieces = this._ctrl = null;

    if (this._subscriptions !== null) this._h.topics.leaveAll(this);
    if (this._h.idle !== null) this._h.idle.remove(this);
    this._h.closed(this);

    if (this._sender !== null) {
      const deflate = this._extensions[PerMessageDeflate.extensionName];

      if (deflate) deflate.cleanup();
    }

    if (this._h.close !== null) this._h.call(this._h.close, this, code, reason);
  }

  //
  // The native transport (js/transport/native-connection.js).
  //

  /**
   * A record of the connection's batch.
   *
   * @param {Number} type The record type
   * @param {Number} a Its first number
   * @param {Number} b Its second number
   * @param {Buffer} buffer The slab, or the message of MESSAGE_EXTRA
   * @return {Boolean} `true` (keep reading)
   * @private
   */
  _onNativeRecord(type, a, b, buffer) {
    if (this._state !== OPEN) return true;

    switch (type) {
      case MESSAGE_TEXT:
        this._text(buffer.toString('utf8', a, b));
        break;
      case MESSAGE_BINARY:
        this._binary(buffer, a, b, false);
        break;
      case MESSAGE_EXTRA:
        if (b === 1) this._binary(buffer, 0, buffer.length, true);
        else this._text(buffer.toString());
        break;
      case PIECE:
      case PIECE_CONT:
        if (this._pieces === null) this._pieces = [];
        this._pieces.push(view(buffer, a, b - a));
        break;
      case MESSAGE: {
        const pieces = this._pieces;
        const data = pieces === null ? EMPTY_BUFFER : concat(pieces);

        this._pieces = null;
        //
        // One piece is a range of the slab, more were joined (and a piece
        // kept across batches was copied out by `_onNativeBatchEnd()`).
        //
        if (a === 1) this._binary(data, 0, data.length, pieces === null || pieces.length > 1);
        else this._text(data.toString());
        break;
      }
      case FRAME_END:
        // Frame boundaries: nothing here hands out fragments.
        break;
      case CTRL_PIECE:
        if (this._ctrl === null) this._ctrl = [];
        this._ctrl.push(view(buffer, a, b - a));
        break;
      case PING: {
        const data = this._takeControl();

        this.pong(data);
        if (this._h.ping !== null) this._h.call(this._h.ping, this, data);
        break;
      }
      case PONG: {
        const data = this._takeControl();

        if (this._h.pong !== null) this._h.call(this._h.pong, this, data);
        break;
      }
      case CLOSE: {
        const body = this._takeControl();
        const reason = a === 1005 ? '' : body.toString('utf8', 2);

        //
        // The close frame is echoed with the peer's code (an empty one if
        // it gave none, as ws does); `close` gets the peer's code, 1005 for
        // none.
        //
        this._closeWith(a === 1005 ? undefined : a, reason, false, a);
        break;
      }
      case ERROR: {
        const row = errors[a];
        const code = row ? row.statusCode : 1002;

        //
        // Bun's reasons where Bun has one, else ws's message.
        //
        const reason =
          BUN_REASONS[code] ||
          (row ? row.message.replace('%d', b) : 'Protocol error').slice(0, 123);

        this._closeWith(code, reason, false);
        break;
      }
    }

    return true;
  }

  /**
   * The connection's batch is over: it received something (the idle
   * timeout starts again), and pieces of an unfinished message are copied
   * out of the slab.
   *
   * @private
   */
  _onNativeBatchEnd() {
    if (this._h.idle !== null && this._state === OPEN) this._h.idle.touch(this);

    if (this._pieces !== null && this._pieces.length > 1) {
      this._pieces = [concat(this._pieces)];
    }
  }

  /**
   * The connection's queue shrank: `drain` runs for a connection that was
   * told -1 (each time the queue shrinks, until it is empty).
   *
   * @private
   */
  _onTransportWritten() {
    if (!this._needDrain || this._state !== OPEN) return;

    this._needDrain = this._conn._queued !== 0;
    if (this._h.drain !== null) this._h.call(this._h.drain, this);
  }

  _onTransportEnd() {
    if (this._state === OPEN) this._finish(1006, '');
  }

  _onTransportError() {
    if (this._state === OPEN) this._finish(1006, '');
  }

  _onTransportClose() {
    clearTimeout(this._closeTimer);
    if (this._state === OPEN) this._finish(1006, '');
  }

  /**
   * @return {Buffer} The payload of the control frame just completed
   * @private
   */
  _takeControl() {
    const ctrl = this._ctrl;

    this._ctrl = null;
    return ctrl === null ? EMPTY_BUFFER : Buffer.from(concat(ctrl));
  }

  /**
   * @param {String} text A text message
   * @private
   */
  _text(text) {
    if (this._h.message !== null) this._h.call(this._h.message, this, text);
  }

  /**
   * Hands out a binary message. A buffer nobody else holds (`owned`: joined
   * pieces, a message too large for the slab, ws's payload on a stream) is
   * handed out as it is. A range of the slab is copied when small, so that
   * a message the app keeps does not pin the slab; from `MIN_SLAB_VIEW`
   * bytes it is a view (the slab's bytes are never written again once
   * handed out, see src/transport/socket.rs), as ws hands out views of
   * the chunks it reads.
   *
   * @param {Buffer} buffer Where it is
   * @param {Number} start Its start
   * @param {Number} end Its end
   * @param {Boolean} owned Whether nobody else holds `buffer`
   * @private
   */
  _binary(buffer, start, end, owned) {
    if (this._h.message === null) return;

    const length = end - start;
    let data;

    if (owned || length >= MIN_SLAB_VIEW) {
      data = start === 0 && end === buffer.length ? buffer : view(buffer, start, length);
      if (this._binaryType === 'arraybuffer') {
        data = toArrayBuffer(data);
      } else if (this._binaryType === 'uint8array') {
        data = new Uint8Array(data.buffer, data.byteOffset, length);
      }
    } else if (this._binaryType === 'arraybuffer') {
      data = buffer.buffer.slice(buffer.byteOffset + start, buffer.byteOffset + end);
    } else {
      data = Buffer.allocUnsafe(length);
      buffer.copy(data, 0, start, end);
      if (this._binaryType === 'uint8array') {
        data = new Uint8Array(data.buffer, data.byteOffset, length);
      }
    }

    this._h.call(this._h.message, this, data);
  }
}

//
// Marks the objects topics deliver to with `_takePublish()`.
//
ServerWebSocket.prototype._light = true;

for (const [name, value] of [
  ['CONNECTING', 0],
  ['OPEN', 1],
  ['CLOSING', 2],
  ['CLOSED', 3]
]) {
  Object.defineProperty(ServerWebSocket.prototype, name, { value });
}

/**
 * Opens a handler-based connection over a socket whose handshake was
 * answered (the 101 is written by the caller, right after, through
 * `write101`).
 *
 * @param {WebSocketHandlers} handlers The server's handlers
 * @param {(Duplex|NativeConnection)} socket The socket
 * @param {Buffer} head Bytes read after the request
 * @param {Object} extensions The negotiated extensions
 * @param {String} protocol The subprotocol, or `''`
 * @param {*} data The value of `ws.data`
 * @param {String} response The 101 response
 * @return {ServerWebSocket} The connection (its `open` has run)
 * @public
 */
function openConnection(handlers, socket, head, extensions, protocol, data, response) {
  const sws = new ServerWebSocket(handlers, data);
  const negotiated = extensions[PerMessageDeflate.extensionName] !== undefined;

  sws._protocol = protocol;

  const { conn, input } = connect(socket, head);

  if (conn instanceof NativeConnection) {
    sws._conn = conn;
    if (conn._shell !== null) {
      conn._shell.setTimeout(0);
      conn._shell.setNoDelay();
    }

    if (negotiated) {
      sws._extensions = extensions;
      sws._sender = new NativeSender(conn, extensions);
      conn._sender = sws._sender;
    }

    conn.write(response);
    conn.start(sws, configFor(handlers.receiverOptions(extensions)), input);
  } else {
    //
    // A stream (TLS, ...): a ws WebSocket carries it.
    //
    const ws = new WebSocket(null, undefined, handlers.socketOptions());

    ws._protocol = protocol;
    ws._errorReasons = BUN_REASONS;
    ws._endAfterCloseFrame = true;
    if (negotiated) {
      ws._extensions = extensions;
      sws._extensions = extensions;
    }

    ws.setSocket(conn.socket, input, handlers.socketOptions());
    ws._conn.write(response);
    sws._ws = ws;
    bindWebSocket(sws, ws);
  }

  handlers.connections.add(sws);
  if (handlers.idle !== null) handlers.idle.add(sws);

  if (handlers.open !== null && !handlers.call(handlers.open, sws)) {
    //
    // `open` threw: as in Bun, the connection is closed (1006).
    //
    sws.terminate();
  }

  return sws;
}

/**
 * Forwards the events of the ws WebSocket carrying a stream connection.
 *
 * @param {ServerWebSocket} sws The connection
 * @param {WebSocket} ws Its WebSocket
 * @private
 */
function bindWebSocket(sws, ws) {
  const h = sws._h;

  //
  // A frame the receiver refused fails the connection: `close` runs now
  // with the code the peer is sent, as on the native path, not once the
  // socket has closed (Bun runs it at once too).
  //
  ws.on('error', (err) => {
    const code = err[kStatusCode];

    if (sws._state === OPEN && code !== undefined) {
      sws._finish(code, BUN_REASONS[code] || err.message.slice(0, 123));
    }
  });
  ws._onCloseFrame = (code, reason) => {
    if (sws._state === OPEN) sws._finish(code, reason.toString());
  };
  ws.on('message', (data, isBinary) => {
    if (h.idle !== null && sws._state === OPEN) h.idle.touch(sws);
    if (sws._state !== OPEN) return;
    if (isBinary) sws._binary(data, 0, data.length, true);
    else sws._text(data.toString());
  });
  ws.on('ping', (data) => {
    if (h.idle !== null && sws._state === OPEN) h.idle.touch(sws);
    if (h.ping !== null && sws._state === OPEN) h.call(h.ping, sws, data);
  });
  ws.on('pong', (data) => {
    if (h.idle !== null && sws._state === OPEN) h.idle.touch(sws);
    if (h.pong !== null && sws._state === OPEN) h.call(h.pong, sws, data);
  });
  ws.on('close', (code, reason) => {
    if (sws._state === OPEN) sws._finish(code, reason.toString());
  });

  const socket = ws._socket;

  if (socket !== null && typeof socket.on === 'function') {
    socket.on('drain', () => {
      if (sws._needDrain && sws._state === OPEN && h.drain !== null) {
        sws._needDrain = ws.bufferedAmount !== 0;
        h.call(h.drain, sws);
      }
    });
  }
}

/**
 * @param {Number} length A payload length
 * @param {Number} flags The frame's flags
 * @return {Number} The frame's length on the wire
 * @private
 */
function frameLength(length, flags) {
  const header = length > 65535 ? 10 : length > 125 ? 4 : 2;

  return (flags & MASK ? header + 4 : header) + length;
}

/**
 * @param {Number} code A status code
 * @param {String} reason A reason
 * @return {Buffer} The payload of a close frame
 * @private
 */
function closePayload(code, reason) {
  const buf = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));

  buf.writeUInt16BE(code, 0);
  buf.write(reason, 2);
  return buf;
}

/**
 * @param {*} value An option
 * @param {String} name Its name
 * @return {Number} Its value as a count (0 for none)
 * @throws {TypeError} If it is not a non-negative number
 * @private
 */
function count(value, name) {
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new TypeError(`websocket.${name} must be a number >= 0`);
  }

  return value;
}

/**
 * @param {*} topic A topic name
 * @param {String} method The method it was given to
 * @throws {TypeError} If it is not a non-empty string
 * @private
 */
function checkTopic(topic, method) {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new TypeError(`${method} requires a non-empty topic name`);
  }
}

/**
 * The idle tracker: ping a connection silent for half the timeout.
 *
 * @param {ServerWebSocket} sws The connection
 * @private
 */
function idlePing(sws) {
  sws.ping();
}

/**
 * The idle tracker: a connection silent for the whole timeout.
 *
 * @param {ServerWebSocket} sws The connection
 * @private
 */
function idleClose(sws) {
  sws._closeWith(1001, 'Idle timeout', true);
}

/**
 * @param {NativeConnection} conn A connection that did not close in time
 * @private
 */
function destroyLater(conn) {
  conn.destroy();
}

/**
 * @param {Error} err The error to throw
 * @private
 */
function rethrow(err) {
  throw err;
}

module.exports = { ServerWebSocket, WebSocketHandlers, openConnection };
