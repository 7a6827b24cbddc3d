'use strict';

const Sender = require('../sender');
const { kWebSocket, NOOP } = require('../constants');

//
// The stream transport: a WebSocket over any `Duplex` (a TLS socket, a
// socket the native transport cannot take, a custom stream given to
// `handleUpgrade()`), as ws does it: the socket's `'data'` chunks go to the
// receiver (one call into Rust per chunk), frames go out with
// `socket.write()`. The WebSocket hears of the socket's end, errors and
// close through `_onTransportEnd()`, `_onTransportError()` and
// `_onTransportClose()`, as from a native connection.
//

/**
 * A WebSocket's connection over a `Duplex`.
 */
class StreamConnection {
  /**
   * @param {Duplex} socket The socket
   */
  constructor(socket) {
    this.socket = socket;
  }

  /**
   * Whether the socket can still take a WebSocket.
   *
   * @type {Boolean}
   */
  get usable() {
    return this.socket.readable && this.socket.writable;
  }

  /**
   * @type {Number}
   */
  get writableLength() {
    return this.socket.writableLength;
  }

  /**
   * @type {Boolean}
   */
  get destroyed() {
    return this.socket.destroyed;
  }

  /**
   * Whether our side's end went out.
   *
   * @type {Boolean}
   */
  get writableFinished() {
    return this.socket.writableFinished;
  }

  /**
   * Calls `cb` once our side's end went out.
   *
   * @param {Function} cb The callback
   * @public
   */
  onceFinished(cb) {
    this.socket.once('finish', cb);
  }

  /**
   * Sets the WebSocket up over the socket.
   *
   * @param {WebSocket} ws The WebSocket
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Object} extensions The negotiated extensions
   * @param {Function} [generateMask] The function used to generate masks
   * @return {Sender} The sender
   * @public
   */
  attach(ws, head, extensions, generateMask) {
    const socket = this.socket;
    const sender = new Sender(socket, extensions, generateMask);

    socket[kWebSocket] = ws;

    //
    // A plain `Duplex` has neither method.
    //
    if (socket.setTimeout) socket.setTimeout(0);
    if (socket.setNoDelay) socket.setNoDelay();

    if (head.length > 0) socket.unshift(head);

    socket.on('close', socketOnClose);
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('error', socketOnError);
    return sender;
  }

  /**
   * Writes bytes (the handshake's answer).
   *
   * @param {(Buffer|String)} data The bytes
   * @param {Function} [cb] Called once written
   * @public
   */
  write(data, cb) {
    this.socket.write(data, cb);
  }

  /**
   * Nothing to do: the receiver keeps frame boundaries itself.
   *
   * @public
   */
  setBinaryType() {}

  /**
   * @public
   */
  pause() {
    this.socket.pause();
  }

  /**
   * @public
   */
  resume() {
    this.socket.resume();
  }

  /**
   * The receiver holds events it has not emitted yet: stop reading until
   * it drains (`hold(false)` then resumes, unless paused).
   *
   * @param {Boolean} held Whether to hold
   * @param {Boolean} [paused=false] Whether the WebSocket is paused
   * @public
   */
  hold(held, paused) {
    if (held) this.socket.pause();
    else if (!paused) this.socket.resume();
  }

  /**
   * Nothing more is parsed (a close frame or an error came): stop feeding
   * the receiver, and read on to the end of stream.
   *
   * @public
   */
  drainToEnd() {
    this.socket.removeListener('data', socketOnData);
    process.nextTick(resume, this.socket);
  }

  /**
   * The frames written so far are the last (a stream has no way to send
   * them with the FIN: `end()` follows).
   *
   * @public
   */
  endAfterWrite() {}

  /**
   * @public
   */
  end() {
    this.socket.end();
  }

  /**
   * @public
   */
  destroy() {
    this.socket.destroy();
  }
}

/**
 * Resume a readable stream.
 *
 * @param {Readable} stream The readable stream
 * @private
 */
function resume(stream) {
  stream.resume();
}

/**
 * The listener of the socket `'close'` event.
 *
 * @private
 */
function socketOnClose() {
  const websocket = this[kWebSocket];

  this.removeListener('close', socketOnClose);
  this.removeListener('data', socketOnData);
  this.removeListener('end', socketOnEnd);

  //
  // The socket may close without a close frame or an `'end'` (destroyed on
  // an error, for instance) while paused with data buffered: that data is
  // parsed, as a single chunk.
  //
  const rest =
    !this._readableState.endEmitted && this.readableLength !== 0
      ? this.read(this.readableLength)
      : null;

  this[kWebSocket] = undefined;
  websocket._onTransportClose(rest);
}

/**
 * The listener of the socket `'data'` event.
 *
 * @param {Buffer} chunk A chunk of data
 * @private
 */
function socketOnData(chunk) {
  const websocket = this[kWebSocket];

  if (websocket._idle !== null) websocket._idle.touch(websocket);
  if (!websocket._receiver.write(chunk)) this.pause();
}

/**
 * The listener of the socket `'end'` event.
 *
 * @private
 */
function socketOnEnd() {
  this[kWebSocket]._onTransportEnd();
}

/**
 * The listener of the socket `'error'` event.
 *
 * @private
 */
function socketOnError() {
  const websocket = this[kWebSocket];

  this.removeListener('error', socketOnError);
  this.on('error', NOOP);

  if (websocket) websocket._onTransportError();
}

module.exports = StreamConnection;
