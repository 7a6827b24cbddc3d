'use strict';

const { Buffer } = require('buffer');
const EventEmitter = require('events');

const { native } = require('../binding');

//
// What `ws._socket` and `req.socket` are for a connection the native
// listener accepted (no `net.Socket` ever existed): the part of a socket
// that applications and libraries built on ws read and call, made only
// when first asked for. Addresses and socket options come from Rust; the
// connection tells the view of its end (`'end'`, `'finish'`), errors and
// close, as a socket emits them. It does not read: the bytes of a
// WebSocket connection are Rust's.
//

/**
 * A view of a native connection, shaped like the `net.Socket` it stands
 * for.
 *
 * @extends EventEmitter
 */
class SocketView extends EventEmitter {
  /**
   * @param {NativeConnection} conn The connection
   */
  constructor(conn) {
    super();

    this._conn = conn;
    this._addresses = null;
    this._noDelay = true;
    this._timer = null;
    this._timeout = 0;
    this._hadError = false;
    this.closed = false;
  }

  /**
   * @return {Object} The connection's addresses, read once from Rust
   * @private
   */
  _names() {
    if (this._addresses === null) {
      if (this._conn.destroyed) return {};
      this._addresses = native.addresses(this._conn._id) || {};
    }

    return this._addresses;
  }

  get remoteAddress() {
    const remote = this._names().remote;
    return remote ? remote.address : undefined;
  }

  get remotePort() {
    const remote = this._names().remote;
    return remote ? remote.port : undefined;
  }

  get remoteFamily() {
    const remote = this._names().remote;
    return remote ? remote.family : undefined;
  }

  get localAddress() {
    const local = this._names().local;
    return local ? local.address : undefined;
  }

  get localPort() {
    const local = this._names().local;
    return local ? local.port : undefined;
  }

  get localFamily() {
    const local = this._names().local;
    return local ? local.family : undefined;
  }

  get destroyed() {
    return this._conn.destroyed;
  }

  get readable() {
    return !this._conn.destroyed && !this._conn._ended;
  }

  get writable() {
    return !this._conn.destroyed && !this._conn._ending;
  }

  get writableEnded() {
    return this._conn._ending;
  }

  get writableFinished() {
    return this._conn._finished;
  }

  get readableEnded() {
    return this._conn._ended;
  }

  /**
   * Bytes queued in Rust, not yet taken by the kernel.
   *
   * @type {Number}
   */
  get writableLength() {
    return this._conn.writableLength;
  }

  get bufferSize() {
    return this._conn.writableLength;
  }

  get writableNeedDrain() {
    return this._conn.writableLength >= 16 * 1024;
  }

  get bytesRead() {
    return this._conn.bytesRead;
  }

  get bytesWritten() {
    return this._conn.bytesWritten;
  }

  get readyState() {
    const conn = this._conn;

    if (conn.destroyed) return 'closed';
    if (conn._ended) return conn._ending ? 'closed' : 'writeOnly';
    return conn._ending ? 'readOnly' : 'open';
  }

  get pending() {
    return false;
  }

  get connecting() {
    return false;
  }

  get encrypted() {
    return undefined;
  }

  address() {
    const local = this._names().local;
    return local ? { ...local } : {};
  }

  setNoDelay(noDelay = true) {
    const on = Boolean(noDelay);

    if (on !== this._noDelay && !this._conn.destroyed) {
      this._noDelay = on;
      native.setNoDelay(this._conn._id, on);
    }

    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0) {
    if (!this._conn.destroyed) {
      native.setKeepAlive(
        this._conn._id,
        Boolean(enable),
        Math.floor(Math.max(0, initialDelay) / 1000)
      );
    }

    return this;
  }

  /**
   * An idle timer. It does not see the WebSocket's traffic: only turning it
   * off (what ws does) is exact; use the server's heartbeat or `ping()` to
   * find dead peers.
   *
   * @param {Number} msecs Milliseconds, 0 to turn it off
   * @param {Function} [callback] A `'timeout'` listener
   * @return {SocketView} this
   */
  setTimeout(msecs, callback) {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }

    this._timeout = msecs;

    if (msecs > 0 && !this._conn.destroyed) {
      this._timer = setTimeout(emitTimeout, msecs, this);
      this._timer.unref();
    }

    if (callback) {
      if (msecs === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }

    return this;
  }

  get timeout() {
    return this._timeout || undefined;
  }

  ref() {
    if (!this._conn.destroyed) native.setRef(this._conn._id, true);
    return this;
  }

  unref() {
    if (!this._conn.destroyed) native.setRef(this._conn._id, false);
    return this;
  }

  pause() {
    this._conn.pause();
    return this;
  }

  resume() {
    this._conn.resume();
    return this;
  }

  isPaused() {
    return this._conn._paused;
  }

  /**
   * Writes raw bytes to the connection, after what the WebSocket sent. On
   * an open WebSocket this corrupts its stream, as with ws.
   *
   * @param {(Buffer|String)} data The bytes
   * @param {(String|Function)} [encoding] The encoding of a string
   * @param {Function} [cb] Called once written
   * @return {Boolean} `false` if the caller should wait for `'drain'`
   */
  write(data, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }

    if (typeof data === 'string') data = Buffer.from(data, encoding);

    this._conn.write(data, cb);
    return this._conn.writableLength < 16 * 1024;
  }

  /**
   * Ends the write side (after writing `data`).
   *
   * @param {(Buffer|String|Function)} [data] The last bytes
   * @param {(String|Function)} [encoding] The encoding of a string
   * @param {Function} [cb] A `'finish'` listener
   * @return {SocketView} this
   */
  end(data, encoding, cb) {
    if (typeof data === 'function') {
      cb = data;
      data = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }

    if (data != null) this.write(data, encoding);
    if (typeof cb === 'function') this.once('finish', cb);
    this._conn.end();
    return this;
  }

  /**
   * Closes the connection now; the WebSocket closes with 1006.
   *
   * @param {Error} [err] An error to emit first
   * @return {SocketView} this
   */
  destroy(err) {
    this._conn.destroy(err);
    return this;
  }

  /**
   * Closes the connection with a reset.
   *
   * @return {SocketView} this
   */
  resetAndDestroy() {
    this._conn.resetAndDestroy();
    return this;
  }

  /**
   * @param {Error} err The connection's error
   * @private
   */
  _error(err) {
    this._hadError = true;
    if (this.listenerCount('error') !== 0) this.emit('error', err);
  }

  /**
   * @param {Boolean} hadError Whether the connection closed on an error
   * @private
   */
  _closed(hadError) {
    if (this._timer !== null) clearTimeout(this._timer);
    this.closed = true;
    this.emit('close', hadError || this._hadError);
  }
}

/**
 * @param {SocketView} view The view
 * @private
 */
function emitTimeout(view) {
  view._timer = null;
  view.emit('timeout');
}

module.exports = SocketView;
