'use strict';

let freeParser;

try {
  ({ freeParser } = require('_http_common'));
} catch {
  // Not Node's own `http` (a runtime that emulates it): see `detachFromHttp()`.
}

//
// The listeners Node's HTTP server puts on every socket it reads requests
// from (`connectionListenerInternal()` in `lib/_http_server.js`). They are
// closures bound to private state, so they can only be found by name. Node
// removes exactly these before it emits `'upgrade'`.
//
const HTTP_LISTENERS = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause']
];

/**
 * Checks whether Node's HTTP server still reads requests from a socket, as it
 * does for a request that reached a `'request'` listener.
 *
 * @param {Duplex} socket The socket
 * @return {Boolean} `true` if an HTTP parser is attached, else `false`
 * @private
 */
function isOwnedByHttp(socket) {
  return socket.parser != null;
}

/**
 * Detaches the response Node's HTTP server assigned to a socket, so that
 * nothing the application later does with it (a framework's 404, Express's
 * final handler) reaches the socket: the response just buffers and is
 * dropped. Call it synchronously, before the application gets a chance to
 * respond.
 *
 * @param {Duplex} socket The socket
 * @param {http.ServerResponse} res The response assigned to the socket
 * @private
 */
function detachResponse(socket, res) {
  if (res.socket === socket && socket._httpMessage === res) {
    res.detachSocket(socket);
  }

  //
  // The server's `'finish'` handler asserts that the response still owns the
  // socket. A detached response never finishes, but be safe.
  //
  for (const listener of res.listeners('finish')) {
    if (listener.name === 'bound resOnFinish') {
      res.removeListener('finish', listener);
    }
  }
}

/**
 * Finds the listeners Node's HTTP server put on a socket. Call it before
 * anything else adds listeners: `socketOnError` and `socketOnTimeout` are
 * common names.
 *
 * @param {Duplex} socket The socket
 * @return {Array} The `[event, listener]` pairs
 * @private
 */
function httpListeners(socket) {
  const found = [];

  for (const [event, name] of HTTP_LISTENERS) {
    for (const listener of socket.listeners(event)) {
      if (listener.name === name) found.push([event, listener]);
    }
  }

  return found;
}

/**
 * Takes a socket away from Node's HTTP server after a request that reached a
 * `'request'` listener, the way the server itself does before it emits
 * `'upgrade'`: remove its socket listeners, give the native read path back to
 * the socket, and finish and free the HTTP parser. Freeing the parser also
 * removes the socket from the list of connections that `requestTimeout` and
 * `headersTimeout` are checked against. The socket stays counted by the
 * server, so `server.close(cb)` waits for it, as with `'upgrade'`.
 *
 * The parser must not be executing, so call this from a later tick than the
 * `'request'` listener (Node calls it after `parser.execute()` returns).
 *
 * @param {Duplex} socket The socket
 * @param {http.IncomingMessage} req The request
 * @param {Array} listeners The listeners found by `httpListeners()`
 * @private
 */
function detachFromHttp(socket, req, listeners) {
  for (const [event, listener] of listeners) {
    socket.removeListener(event, listener);
  }

  const parser = socket.parser;

  if (!parser) return;

  if (parser._consumed) {
    parser.unconsume();
    parser._consumed = false;
  }

  parser.finish();

  if (freeParser) {
    freeParser(parser, req, socket);
  } else {
    if (typeof parser.remove === 'function') parser.remove();
    parser.socket = parser.incoming = null;
    req.parser = socket.parser = null;
  }

  //
  // The server pauses the socket while responses back up. Leave it for the
  // next `'data'` listener to resume, as Node does before `'upgrade'`, or
  // resume it for the listener that is already there.
  //
  socket._paused = false;

  if (socket.listenerCount('data') === 0) socket.readableFlowing = null;
  else if (socket.isPaused()) socket.resume();
}

/**
 * Takes a socket from the HTTP server that still reads requests from it: the
 * response is detached at once, the listeners and the parser are released in
 * the next tick, once the parser is no longer executing. No data can arrive in
 * between, as no I/O is processed before that tick.
 *
 * @param {http.IncomingMessage} req The request
 * @param {Duplex} socket The socket
 * @private
 */
function takeFromHttp(req, socket) {
  const res = socket._httpMessage;

  if (res && res.req === req) detachResponse(socket, res);
  process.nextTick(detachFromHttp, socket, req, httpListeners(socket));
}

module.exports = { isOwnedByHttp, takeFromHttp };
