'use strict';

const { Duplex } = require('stream');

/**
 * Wraps a `WebSocket` in a duplex stream: every message received is a chunk
 * of the readable side and every chunk written is sent as a message. Ending
 * the writable side starts the closing handshake; destroying the stream
 * terminates the connection.
 *
 * @param {WebSocket} ws The `WebSocket` to wrap
 * @param {Object} [options] The options for the `Duplex` constructor
 * @return {Duplex} The duplex stream
 * @public
 */
function createWebSocketStream(ws, options) {
  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false
  });

  //
  // When the WebSocket fails, it closes itself with a close frame that
  // `terminate()` could cut off, so destroying the stream must not call it.
  //
  let failed = false;

  ws.on('message', (data, isBinary) => {
    const chunk =
      isBinary || !duplex.readableObjectMode ? data : data.toString();

    if (!duplex.push(chunk)) ws.pause();
  });

  ws.once('error', (err) => {
    if (duplex.destroyed) return;

    failed = true;
    duplex.destroy(err);
  });

  ws.once('close', () => {
    if (!duplex.destroyed) duplex.push(null);
  });

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk, encoding, callback) => {
    whenOpen(ws, () => ws.send(chunk, callback));
  };

  duplex._final = (callback) => {
    whenOpen(ws, () => {
      //
      // A client whose handshake failed has no socket; its `'error'` event
      // destroys the stream.
      //
      const conn = ws._conn;

      if (conn === null) return;

      if (conn.writableFinished) {
        callback();
        if (duplex.readableEnded) duplex.destroy();
        return;
      }

      //
      // The stream is destroyed on `'end'`, which comes after: the end of
      // the readable side is pushed when the WebSocket emits `'close'`.
      //
      conn.onceFinished(() => callback());
      ws.close();
    });
  };

  duplex._destroy = (err, callback) => {
    if (ws.readyState === ws.CLOSED) {
      callback(err);
      process.nextTick(() => duplex.emit('close'));
      return;
    }

    let settled = false;

    ws.once('error', (error) => {
      settled = true;
      callback(error);
    });

    ws.once('close', () => {
      if (!settled) callback(err);
      process.nextTick(() => duplex.emit('close'));
    });

    if (!failed) ws.terminate();
  };

  //
  // Both sides are done: release the WebSocket.
  //
  duplex.on('end', () => {
    if (!duplex.destroyed && duplex.writableFinished) duplex.destroy();
  });

  duplex.on('error', function onError(err) {
    duplex.removeListener('error', onError);
    duplex.destroy();

    //
    // Without another listener, emit it again so that it is thrown as usual.
    //
    if (duplex.listenerCount('error') === 0) duplex.emit('error', err);
  });

  return duplex;
}

/**
 * Runs a function now, or once the WebSocket is open if it is connecting.
 *
 * @param {WebSocket} ws The WebSocket
 * @param {Function} fn The function
 * @private
 */
function whenOpen(ws, fn) {
  if (ws.readyState === ws.CONNECTING) ws.once('open', fn);
  else fn();
}

module.exports = createWebSocketStream;
