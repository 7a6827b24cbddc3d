'use strict';

const internals = require('./node-internals');

//
// Taking a socket from Node's HTTP server after a request reached a
// `'request'` listener (`upgrade(req)` from Koa or Express). What it needs
// of Node's internals is in js/node-internals.js.
//

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
  if (res.socket === socket && internals.responseOf(socket) === res) {
    res.detachSocket(socket);
  }

  internals.dropResponseFinish(res);
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

  if (!internals.isOwnedByHttp(socket)) return;

  internals.releaseParser(socket, req);

  //
  // The server pauses the socket while responses back up. Leave it for the
  // next `'data'` listener to resume, as Node does before `'upgrade'`, or
  // resume it for the listener that is already there.
  //
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
  const res = internals.responseOf(socket);

  if (res && res.req === req) detachResponse(socket, res);
  process.nextTick(
    detachFromHttp,
    socket,
    req,
    internals.httpListeners(socket)
  );
}

module.exports = { isOwnedByHttp: internals.isOwnedByHttp, takeFromHttp };
