'use strict';

const { Buffer } = require('buffer');
const EventEmitter = require('events');

const PerMessageDeflate = require('./permessage-deflate');
const Receiver = require('./receiver');
const { abortHandshake, initAsClient } = require('./client');
const { configFor, connect } = require('./transport');
const { NativeConnection } = require('./transport/native-connection');
const { toBuffer } = require('./buffer-util');
const {
  BINARY_TYPES,
  CLOSED,
  CLOSING,
  CONNECTING,
  EMPTY_BUFFER,
  kStatusCode,
  kWebSocket,
  NO_EXTENSIONS,
  OPEN,
  READY_STATES
} = require('./constants');
const {
  defineEventAttributes,
  EventTarget: { addEventListener, removeEventListener }
} = require('./event-target');
const { isBlob } = require('./validation');

const hasOwn = Object.hasOwn;
const { newEventStore } = require('./event-store');

/**
 * The receiver of a WebSocket. Its callbacks are the WebSocket's handlers
 * (below), on the prototype: a connection pays nothing for them.
 *
 * @extends Receiver
 * @private
 */
class WebSocketReceiver extends Receiver {}

WebSocketReceiver.prototype.onConclude = receiverOnConclude;
WebSocketReceiver.prototype.onDrain = receiverOnDrain;
WebSocketReceiver.prototype.onError = receiverOnError;
WebSocketReceiver.prototype.onMessage = receiverOnMessage;
WebSocketReceiver.prototype.onPing = receiverOnPing;
WebSocketReceiver.prototype.onPong = receiverOnPong;

/**
 * Class representing a WebSocket: a client (`new WebSocket(url)`), or the
 * server side of a connection accepted by `WebSocketServer`.
 *
 * @extends EventEmitter
 */
class WebSocket extends EventEmitter {
  /**
   * Create a new `WebSocket`. As a client, it connects at once; the options
   * not listed here (`agent`, `auth`, `ca`, `cert`, `key`,
   * `rejectUnauthorized`, `servername`, `localAddress`, `family`, ...) are
   * passed to `http.request()` / `https.request()`.
   *
   * @param {(String|URL|null)} address The URL to which to connect (`ws:`,
   *     `wss:`, `http:`, `https:` or `ws+unix:`), or `null` for the server
   *     side of a connection
   * @param {(String|String[])} [protocols] The subprotocols
   * @param {Object} [options] Connection options
   * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether
   *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
   *     multiple times in the same tick
   * @param {Boolean} [options.autoPong=true] Specifies whether or not to
   *     automatically send a pong in response to a ping
   * @param {Number} [options.closeTimeout=30000] Duration in milliseconds to
   *     wait for the closing handshake to finish after `websocket.close()` is
   *     called
   * @param {Function} [options.createConnection] An alternative function to
   *     create the socket
   * @param {Function} [options.finishRequest] A function which can be used to
   *     customize the headers of each HTTP request before it is sent; it must
   *     call `request.end()`
   * @param {Boolean} [options.followRedirects=false] Whether or not to follow
   *     redirects
   * @param {Function} [options.generateMask] The function used to generate the
   *     masking key
   * @param {Number} [options.handshakeTimeout] Timeout in milliseconds for the
   *     handshake request
   * @param {Object} [options.headers] Extra headers of the request
   * @param {Number} [options.maxBufferedAmount=134217728] The most bytes the
   *     connection may hold for a peer that does not read; past it, it emits
   *     `'error'` and is dropped (0: no limit)
   * @param {Number} [options.maxBufferedChunks=262144] The maximum number of
   *     buffered data chunks
   * @param {Number} [options.maxFragments=0] The maximum number of message
   *     fragments (0: no limit)
   * @param {Number} [options.maxPayload=104857600] The maximum allowed message
   *     size
   * @param {Number} [options.maxPendingAutoPongs=60] The maximum number of
   *     automatic pongs not written yet; past it the connection is
   *     terminated
   * @param {Number} [options.maxRedirects=10] The maximum number of redirects
   *     allowed
   * @param {String} [options.origin] Value of the `Origin` or
   *     `Sec-WebSocket-Origin` header
   * @param {(Boolean|Object)} [options.perMessageDeflate=true] Enable/disable
   *     permessage-deflate (offered with ws's parameters)
   * @param {Number} [options.protocolVersion=13] Value of the
   *     `Sec-WebSocket-Version` header (8 or 13)
   * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
   *     not to skip UTF-8 validation for text and close messages
   */
  constructor(address, protocols, options) {
    super();

    this._events = newEventStore();

    this._binaryType = BINARY_TYPES[0];
    this._closeCode = 1006;
    this._closeFrameReceived = false;
    this._closeFrameSent = false;
    this._closeMessage = EMPTY_BUFFER;
    this._closeTimer = null;
    this._errorEmitted = false;
    this._extensions = NO_EXTENSIONS;
    this._paused = false;
    this._protocol = '';
    this._readyState = CONNECTING;
    this._receiver = null;
    this._sender = null;
    this._conn = null;
    this._transportClosed = false;
    this._topics = null; // the server's, for a connection it accepted
    this._subscriptions = null;

    if (address !== null) {
      this._bufferedAmount = 0;
      this._extensions = {};
      this._isServer = false;
      this._redirects = 0;

      //
      // `protocols` may be omitted: `new WebSocket(url, options)`.
      //
      if (protocols === undefined) {
        protocols = toArray(options && options.protocols);
      } else if (!Array.isArray(protocols)) {
        if (typeof protocols === 'object' && protocols !== null) {
          options = protocols;
          protocols = toArray(options.protocols);
        } else {
          protocols = [protocols];
        }
      }

      options = initAsClient(this, address, protocols, options);
    } else {
      this._isServer = true;
      if (options === undefined || options === null) options = {};
    }

    if (options.autoPong) {
      this._autoPong = true;
      this._autoPongComplete = null; // made with the first automatic pong
      this._pendingAutoPongs = 0;
      this._maxPendingAutoPongs = options.maxPendingAutoPongs | 0;
    }

    this._closeTimeout = options.closeTimeout;
    this._maxBufferedAmount =
      options.maxBufferedAmount > 0 ? +options.maxBufferedAmount : 0;
  }

  /**
   * The type of binary data handed to `'message'` listeners: `'nodebuffer'`
   * (the default), `'arraybuffer'`, `'fragments'` or `'blob'`. Other values
   * are ignored.
   *
   * @type {String}
   */
  get binaryType() {
    return this._binaryType;
  }

  set binaryType(type) {
    if (!BINARY_TYPES.includes(type)) return;

    this._binaryType = type;

    //
    // Takes effect from the next message on.
    //
    if (this._receiver) {
      this._receiver.setBinaryType(type);
      this._conn.setBinaryType(type);
    }
  }

  /**
   * @type {Number}
   */
  get bufferedAmount() {
    if (!this._conn) return this._bufferedAmount;

    return this._conn.writableLength + this._sender._bufferedBytes;
  }

  /**
   * The connection's socket: the `Duplex` it runs over, the idle
   * `net.Socket` of a connection the native transport took over, or a view
   * of a native listener's connection (made when first asked for). ws's
   * field, read by applications and libraries.
   *
   * @type {(Duplex|null)}
   * @private
   */
  get _socket() {
    return this._conn === null ? null : this._conn.socket;
  }

  /**
   * @type {String}
   */
  get extensions() {
    return Object.keys(this._extensions).join();
  }

  /**
   * @type {Boolean}
   */
  get isPaused() {
    return this._paused;
  }

  //
  // The `on<event>` attributes are defined below the class by
  // `defineEventAttributes()`; these placeholders document them and give the
  // prototype's properties ws's order.
  //

  /**
   * @type {Function}
   */
  get onclose() {
    return null;
  }

  /**
   * @type {Function}
   */
  get onerror() {
    return null;
  }

  /**
   * @type {Function}
   */
  get onopen() {
    return null;
  }

  /**
   * @type {Function}
   */
  get onmessage() {
    return null;
  }

  /**
   * @type {String}
   */
  get protocol() {
    return this._protocol;
  }

  /**
   * @type {Number}
   */
  get readyState() {
    return this._readyState;
  }

  /**
   * @type {String}
   */
  get url() {
    return this._url;
  }

  /**
   * Set up the socket and the internal resources.
   *
   * @param {Duplex} socket The network socket between the server and client
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Object} options Options object
   * @param {Boolean} [options.allowSynchronousEvents=false] Specifies whether
   *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
   *     multiple times in the same tick
   * @param {Function} [options.generateMask] The function used to generate the
   *     masking key
   * @param {Number} [options.maxBufferedChunks=0] The maximum number of
   *     buffered data chunks
   * @param {Number} [options.maxFragments=0] The maximum number of message
   *     fragments
   * @param {Number} [options.maxPayload=0] The maximum allowed message size
   * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
   *     not to skip UTF-8 validation for text messages and close reasons
   * @private
   */
  setSocket(socket, head, options) {
    //
    // A plain TCP socket is handed to the native transport: Rust reads,
    // parses and writes it from Node's own event loop, and the socket stays
    // as an idle shell (js/transport/). TLS sockets and other streams stay
    // as they are.
    //
    const { conn, input } = connect(socket, head);
    const native = conn instanceof NativeConnection;
    const receiver = new WebSocketReceiver({
      allowSynchronousEvents: options.allowSynchronousEvents,
      binaryType: this.binaryType,
      extensions: this._extensions,
      isServer: this._isServer,
      maxBufferedChunks: options.maxBufferedChunks,
      maxFragments: options.maxFragments,
      maxPayload: options.maxPayload,
      native,
      skipUTF8Validation: options.skipUTF8Validation
    });

    this._receiver = receiver;
    this._conn = conn;
    receiver[kWebSocket] = this;

    let sender;

    if (native) {
      if (conn._shell !== null) {
        conn._shell[kWebSocket] = this;
        conn._shell.setTimeout(0);
        conn._shell.setNoDelay();
      }

      sender = conn.attach(
        this,
        configFor(receiver._parserOptions),
        input,
        this._extensions,
        options.generateMask
      );

      if (this._binaryType === 'fragments') conn.setBinaryType('fragments');
    } else {
      sender = conn.attach(this, input, this._extensions, options.generateMask);
    }

    this._sender = sender;
    sender[kWebSocket] = this;
    sender.onerror = senderOnError;

    this._readyState = OPEN;
    this.emit('open');
  }

  /**
   * A record of the native transport (see js/transport/native.js).
   *
   * @param {Number} type The record type
   * @param {Number} a Its first number
   * @param {Number} b Its second number
   * @param {Buffer} buffer The slab, or the message of MESSAGE_EXTRA
   * @return {Boolean} `false` to stop reading until the receiver drains
   * @private
   */
  _onNativeRecord(type, a, b, buffer) {
    return this._receiver.record(type, a, b, buffer);
  }

  /**
   * The native transport's batch is over.
   *
   * @param {Buffer} slab The slab
   * @private
   */
  _onNativeBatchEnd(slab) {
    if (this._idle !== null) this._idle.touch(this);
    this._receiver.endBatch(slab);
  }

  /**
   * Queued bytes were written (the native transport): nothing to do, the
   * callbacks of the sends are the connection's.
   *
   * @private
   */
  _onTransportWritten() {}

  /**
   * The peer ended its side of the connection.
   *
   * @private
   */
  _onTransportEnd() {
    this._readyState = CLOSING;
    this._receiver.end();
    endSocket(this);
  }

  /**
   * The connection failed (a read or write error); `'close'` follows with
   * 1006.
   *
   * @private
   */
  _onTransportError() {
    if (this._transportClosed) return;

    this._readyState = CLOSING;
    this._conn.destroy();
  }

  /**
   * The connection is closed. `'close'` is emitted once the receiver has
   * emitted what it holds.
   *
   * @param {Buffer} [rest] Data the socket held unread (parsed now)
   * @private
   */
  _onTransportClose(rest) {
    const receiver = this._receiver;

    this._readyState = CLOSING;
    this._transportClosed = true;

    if (
      rest != null &&
      !this._closeFrameReceived &&
      !receiver.errorEmitted
    ) {
      receiver.write(rest);
    }

    receiver.end();
    clearTimeout(this._closeTimer);

    if (receiver.finished || receiver.errorEmitted) {
      this.emitClose();
    } else {
      receiver.onFinish = receiverOnFinish;
    }
  }

  /**
   * Emit the `'close'` event.
   *
   * @private
   */
  emitClose() {
    if (this._conn) {
      const receiver = this._receiver;

      receiver.detach();

      //
      // Free the compression state now rather than when this object is
      // collected, which the application may delay.
      //
      if (this._extensions[PerMessageDeflate.extensionName]) {
        this._extensions[PerMessageDeflate.extensionName].cleanup();
        receiver.cleanup();
      }
    }

    //
    // A closing socket leaves its topics before its `'close'`.
    //
    if (this._subscriptions !== null) this._topics.leaveAll(this);
    if (this._idle !== null) this._idle.remove(this);

    this._readyState = CLOSED;
    this.emit('close', this._closeCode, this._closeMessage);
  }

  /**
   * Subscribes the connection to a topic of its server (`publish()` there
   * and on its connections reaches it). Subscribing twice does nothing.
   *
   * @param {String} topic The topic
   * @return {Boolean} `true`, or `false` if the connection is not open or
   *     has no server
   * @throws {TypeError} If `topic` is not a non-empty string
   * @public
   */
  subscribe(topic) {
    if (this._topics === null || this._readyState !== OPEN) return false;

    checkTopic(topic, 'subscribe');
    return this._topics.subscribe(this, topic);
  }

  /**
   * Unsubscribes the connection from a topic.
   *
   * @param {String} topic The topic
   * @return {Boolean} Whether it was subscribed
   * @public
   */
  unsubscribe(topic) {
    if (this._subscriptions === null) return false;
    return this._topics.unsubscribe(this, topic);
  }

  /**
   * @param {String} topic The topic
   * @return {Boolean} Whether the connection is subscribed to it
   * @public
   */
  isSubscribed(topic) {
    return this._subscriptions !== null && this._subscriptions.has(topic);
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
   * Publishes a message to every subscriber of a topic on the connection's
   * server except this connection (which need not be subscribed). On a
   * connection that is not open, does nothing.
   *
   * @param {String} topic The topic
   * @param {*} data The message
   * @param {Object} [options] Options
   * @param {Boolean} [options.binary] Whether the message is binary (by
   *     default, unless it is a string)
   * @param {Boolean} [options.compress=true] Whether to compress it, where
   *     permessage-deflate was negotiated
   * @return {Boolean} Whether another local subscriber was sent it
   * @public
   */
  publish(topic, data, options) {
    if (this._topics === null || this._readyState !== OPEN) return false;

    checkTopic(topic, 'publish');
    return this._topics.publish(topic, data, options, this) !== 0;
  }

  /**
   * Start a closing handshake: send a close frame, then end the socket once
   * the peer's close frame is in (or destroy it after `closeTimeout`).
   *
   * @param {Number} [code] Status code explaining why the connection is closing
   * @param {(String|Buffer)} [data] The reason why the connection is closing
   * @public
   */
  close(code, data) {
    if (this.readyState === CLOSED) return;
    if (this.readyState === CONNECTING) {
      const msg = 'WebSocket was closed before the connection was established';
      abortHandshake(this, this._req, msg);
      return;
    }

    if (this.readyState === CLOSING) {
      if (
        this._closeFrameSent &&
        (this._closeFrameReceived || this._receiver.errorEmitted)
      ) {
        endSocket(this);
      }

      return;
    }

    this._sender.close(code, data, !this._isServer, (err) => {
      //
      // A write error is handled by the socket's `'error'` listener; only a
      // close frame that went out matters here.
      //
      if (err) return;

      this._closeFrameSent = true;

      //
      // `_endAfterCloseFrame`: a serve() connection over a stream ends at
      // once, as on the native path and in Bun, not when the peer answers.
      //
      if (
        this._closeFrameReceived ||
        this._receiver.errorEmitted ||
        this._endAfterCloseFrame === true
      ) {
        endSocket(this);
      }
    });

    //
    // Answering the peer's close frame: ours is the last frame, and the
    // socket ends once it is written (the callback above).
    //
    if (this._closeFrameReceived && this._sender.idle) this._conn.endAfterWrite();

    this._readyState = CLOSING;
    setCloseTimer(this);
  }

  /**
   * Pause the socket.
   *
   * @public
   */
  pause() {
    if (this.readyState === CONNECTING || this.readyState === CLOSED) return;

    this._paused = true;
    this._conn.pause();
  }

  /**
   * Send a ping.
   *
   * @param {*} [data] The data to send
   * @param {Boolean} [mask] Indicates whether or not to mask `data`
   * @param {Function} [cb] Callback which is executed when the ping is sent
   * @public
   */
  ping(data, mask, cb) {
    sendControl(this, 'ping', data, mask, cb);
  }

  /**
   * Send a pong.
   *
   * @param {*} [data] The data to send
   * @param {Boolean} [mask] Indicates whether or not to mask `data`
   * @param {Function} [cb] Callback which is executed when the pong is sent
   * @public
   */
  pong(data, mask, cb) {
    sendControl(this, 'pong', data, mask, cb);
  }

  /**
   * Resume the socket.
   *
   * @public
   */
  resume() {
    if (this.readyState === CONNECTING || this.readyState === CLOSED) return;

    this._paused = false;
    if (!this._receiver.needDrain) this._conn.resume();
  }

  /**
   * Send a data message.
   *
   * @param {*} data The message to send
   * @param {Object} [options] Options object
   * @param {Boolean} [options.binary] Specifies whether `data` is binary or
   *     text
   * @param {Boolean} [options.compress=true] Specifies whether or not to
   *     compress `data` (when permessage-deflate was negotiated)
   * @param {Boolean} [options.fin=true] Specifies whether the fragment is the
   *     last one
   * @param {Boolean} [options.mask] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback which is executed when data is written out
   * @public
   */
  send(data, options, cb) {
    if (this.readyState === CONNECTING) {
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    }

    if (typeof options === 'function') {
      cb = options;
      options = {};
    }

    if (typeof data === 'number') data = data.toString();

    if (this.readyState !== OPEN) {
      sendAfterClose(this, data, cb);
      return;
    }

    //
    // ws spreads `options` over the defaults; reading the four options it
    // uses, own properties only, is the same without copying the object.
    //
    let binary = typeof data !== 'string';
    let mask = !this._isServer;
    let compress = true;
    let fin = true;

    if (options !== undefined && options !== null) {
      if (hasOwn(options, 'binary')) binary = options.binary;
      if (hasOwn(options, 'mask')) mask = options.mask;
      if (hasOwn(options, 'compress')) compress = options.compress;
      if (hasOwn(options, 'fin')) fin = options.fin;
    }

    if (!this._extensions[PerMessageDeflate.extensionName]) compress = false;

    this._sender.send(
      data || EMPTY_BUFFER,
      { binary, mask, compress, fin },
      cb
    );
    checkBufferedAmount(this);
  }

  /**
   * Forcibly close the connection.
   *
   * @public
   */
  terminate() {
    if (this.readyState === CLOSED) return;
    if (this.readyState === CONNECTING) {
      const msg = 'WebSocket was closed before the connection was established';
      abortHandshake(this, this._req, msg);
      return;
    }

    if (this._conn) {
      this._readyState = CLOSING;

      //
      // What was sent before is written first, as ws would have written it
      // already.
      //
      this._sender.flush();
      this._conn.destroy();
    }
  }
}

for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED]
]) {
  Object.defineProperty(WebSocket, name, { enumerable: true, value });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
}

for (const property of [
  'binaryType',
  'bufferedAmount',
  'extensions',
  'isPaused',
  'protocol',
  'readyState',
  'url'
]) {
  Object.defineProperty(WebSocket.prototype, property, { enumerable: true });
}

//
// The `onopen`, `onerror`, `onclose` and `onmessage` attributes of the
// WebSocket interface of the HTML standard.
//
defineEventAttributes(WebSocket.prototype, [
  'open',
  'error',
  'close',
  'message'
]);

WebSocket.prototype.addEventListener = addEventListener;
WebSocket.prototype._errorReasons = null;

//
// Called with (code, reason) when the peer's close frame is read, for a
// handler-based connection (js/server-websocket.js), whose `close` runs
// then, as in Bun, not once the socket has closed.
//
WebSocket.prototype._onCloseFrame = null;

//
// The server's idle tracker (js/idle.js), when its `idleTimeout` option is
// set: the connection then has its own (`_idle` and the tracker's fields).
//
WebSocket.prototype._idle = null;
WebSocket.prototype.removeEventListener = removeEventListener;

module.exports = WebSocket;

/**
 * @param {*} topic A topic name
 * @param {String} method The method it was given to
 * @throws {TypeError} If it is not a non-empty string
 * @private
 */
function checkTopic(topic, method) {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new TypeError(`${method}() requires a non-empty topic name (a string)`);
  }
}

/**
 * Normalises the `protocols` option to an array.
 *
 * @param {(String|String[])} [value] The option
 * @return {String[]} The subprotocols
 * @private
 */
function toArray(value) {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Sends a ping or a pong, with ws's argument shuffling and its rules for a
 * connection that is not open.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @param {String} kind `'ping'` or `'pong'`
 * @param {*} [data] The data to send
 * @param {Boolean|Function} [mask] Whether or not to mask `data`, or `cb`
 * @param {Function} [cb] Callback which is executed when the frame is sent
 * @private
 */
function sendControl(websocket, kind, data, mask, cb) {
  if (websocket.readyState === CONNECTING) {
    throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
  }

  if (typeof data === 'function') {
    cb = data;
    data = mask = undefined;
  } else if (typeof mask === 'function') {
    cb = mask;
    mask = undefined;
  }

  if (typeof data === 'number') data = data.toString();

  if (websocket.readyState !== OPEN) {
    sendAfterClose(websocket, data, cb);
    return;
  }

  if (mask === undefined) mask = !websocket._isServer;
  websocket._sender[kind](data || EMPTY_BUFFER, mask, cb);
  checkBufferedAmount(websocket);
}

/**
 * Handle `ping()`, `pong()` and `send()` calls made when the `readyState` is
 * `CLOSING` or `CLOSED`: the data is counted in `bufferedAmount` and never
 * sent, and the callback gets an error.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @param {*} [data] The data to send
 * @param {Function} [cb] Callback
 * @private
 */
function sendAfterClose(websocket, data, cb) {
  if (data) {
    const length = isBlob(data) ? data.size : toBuffer(data).length;

    //
    // `_bufferedAmount` is for a client whose handshake failed: it never got
    // a socket nor a sender.
    //
    if (websocket._conn) websocket._sender._bufferedBytes += length;
    else websocket._bufferedAmount += length;
  }

  if (cb) {
    //
    // Write what is batched now, so that the callbacks of earlier sends still
    // come first, as they do with ws, which writes at once.
    //
    if (websocket._sender) websocket._sender.flush();

    const err = new Error(
      `WebSocket is not open: readyState ${websocket.readyState} ` +
        `(${READY_STATES[websocket.readyState]})`
    );
    process.nextTick(cb, err);
  }
}

/**
 * Drops the connection when more than `maxBufferedAmount` bytes wait to be
 * written: the peer does not read (or not fast enough), and buffering more
 * for it would let it take memory without bound. A close frame would wait
 * behind those bytes, so the socket is destroyed at once (`'close'` gets
 * 1006), after an `'error'` that says why.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @private
 */
function checkBufferedAmount(websocket) {
  const max = websocket._maxBufferedAmount;

  if (max === 0 || websocket.readyState !== OPEN) return;

  const amount = websocket.bufferedAmount;

  if (amount <= max) return;

  if (!websocket._errorEmitted) {
    const err = new Error(
      `Max buffered amount exceeded: ${amount} bytes not written to a peer ` +
        `that does not read (maxBufferedAmount: ${max})`
    );

    err.code = 'WS_NATIVE_ERR_MAX_BUFFERED_AMOUNT';
    websocket._errorEmitted = true;

    //
    // Not from inside `send()`; and before `'close'`, which the socket
    // emits once its handle is closed.
    //
    process.nextTick(emitError, websocket, err);
  }

  websocket.terminate();
}

/**
 * @param {WebSocket} websocket The WebSocket instance
 * @param {Error} err The error
 * @private
 */
function emitError(websocket, err) {
  websocket.emit('error', err);
}

/**
 * Ends the socket after writing what is still batched.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @private
 */
function endSocket(websocket) {
  websocket._sender.flush();
  websocket._conn.end();
}

/**
 * The receiver's `onConclude` callback: a close frame was received.
 *
 * @param {Number} code The status code
 * @param {Buffer} reason The reason for closing
 * @private
 */
function receiverOnConclude(code, reason) {
  const websocket = this[kWebSocket];

  websocket._closeFrameReceived = true;
  websocket._closeCode = code;

  //
  // The reason is a view into a socket chunk: copy it so the WebSocket does
  // not keep the chunk alive, and not into the pool, which it would keep
  // alive the same way.
  //
  if (reason.length === 0) {
    websocket._closeMessage = EMPTY_BUFFER;
  } else {
    websocket._closeMessage = Buffer.allocUnsafeSlow(reason.length);
    websocket._closeMessage.set(reason);
  }

  if (websocket._onCloseFrame !== null) {
    websocket._onCloseFrame(code, websocket._closeMessage);
  }

  if (websocket._transportClosed) return;

  //
  // Nothing after the close frame is parsed; keep reading so the peer's FIN
  // is seen.
  //
  websocket._conn.drainToEnd();

  if (code === 1005) websocket.close();
  else websocket.close(code, reason);
}

/**
 * The receiver's `onDrain` callback.
 *
 * @private
 */
function receiverOnDrain() {
  const websocket = this[kWebSocket];

  websocket._conn.hold(false, websocket.isPaused);
}

/**
 * The receiver's `onError` callback: fail the connection with the error's
 * close code.
 *
 * @param {(RangeError|Error)} err The emitted error
 * @private
 */
function receiverOnError(err) {
  const websocket = this[kWebSocket];

  if (!websocket._transportClosed) {
    websocket._conn.drainToEnd();

    //
    // ws sends the code alone; a handler-based connection over a stream
    // gives Bun's reasons (js/server-websocket.js).
    //
    const code = err[kStatusCode];

    if (websocket._errorReasons === null) websocket.close(code);
    else websocket.close(code, websocket._errorReasons[code]);
  }

  if (!websocket._errorEmitted) {
    websocket._errorEmitted = true;
    websocket.emit('error', err);
  }
}

/**
 * The receiver's `onFinish` callback, set once the socket is closed.
 *
 * @private
 */
function receiverOnFinish() {
  this[kWebSocket].emitClose();
}

/**
 * The receiver's `onMessage` callback.
 *
 * @param {(Buffer|ArrayBuffer|Buffer[]|Blob)} data The message
 * @param {Boolean} isBinary Specifies whether the message is binary or not
 * @private
 */
function receiverOnMessage(data, isBinary) {
  this[kWebSocket].emit('message', data, isBinary);
}

/**
 * The receiver's `onPing` callback. Answers with a pong unless too many
 * automatic pongs are still unwritten (a peer that pings without reading),
 * in which case the connection is terminated.
 *
 * @param {Buffer} data The data included in the ping frame
 * @private
 */
function receiverOnPing(data) {
  const websocket = this[kWebSocket];

  if (websocket._autoPong && websocket.readyState === OPEN) {
    if (
      websocket._maxPendingAutoPongs > 0 &&
      websocket._pendingAutoPongs >= websocket._maxPendingAutoPongs
    ) {
      websocket.terminate();
    } else {
      websocket._pendingAutoPongs++;
      if (websocket._autoPongComplete === null) {
        websocket._autoPongComplete = autoPongCompleter(websocket);
      }

      websocket.pong(data, !websocket._isServer, websocket._autoPongComplete);
    }
  }

  websocket.emit('ping', data);
}

/**
 * @param {WebSocket} websocket The WebSocket instance
 * @return {Function} The callback of its automatic pongs
 * @private
 */
function autoPongCompleter(websocket) {
  return () => {
    websocket._pendingAutoPongs--;
  };
}

/**
 * The receiver's `onPong` callback.
 *
 * @param {Buffer} data The data included in the pong frame
 * @private
 */
function receiverOnPong(data) {
  this[kWebSocket].emit('pong', data);
}

/**
 * The sender's error handler (a blob that could not be read).
 *
 * @param {Error} err The error
 * @private
 */
function senderOnError(err) {
  const websocket = this[kWebSocket];

  if (websocket.readyState === CLOSED) return;
  if (websocket.readyState === OPEN) {
    websocket._readyState = CLOSING;
    setCloseTimer(websocket);
  }

  //
  // `end()` rather than `destroy()` lets the peer finish sending. No timer is
  // needed: `CLOSING` means it is set already, or not needed.
  //
  endSocket(websocket);

  if (!websocket._errorEmitted) {
    websocket._errorEmitted = true;
    websocket.emit('error', err);
  }
}

/**
 * Set a timer to destroy the socket if the closing handshake does not
 * complete in time.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @private
 */
function setCloseTimer(websocket) {
  websocket._closeTimer = setTimeout(
    destroyConnection,
    websocket._closeTimeout,
    websocket._conn
  );
}

/**
 * @param {(StreamConnection|NativeConnection)} conn The connection
 * @private
 */
function destroyConnection(conn) {
  conn.destroy();
}
