'use strict';

const { Buffer } = require('buffer');
const debug = require('../debug');
const internals = require('../node-internals');
const StreamConnection = require('./stream');
const transport = require('./native');
const { NativeConnection } = require('./native-connection');
const { native } = require('../binding');
const { EMPTY_BUFFER } = require('../constants');

//
// Which transport a WebSocket gets (the `Connection` between `WebSocket`
// and the bytes): a connection the native listener accepted is native
// already; a plain TCP `net.Socket` is taken over by the native transport
// (Rust drives a duplicate of its descriptor, the socket stays as an idle
// shell); anything else (TLS, another `Duplex`, Windows, or
// `WS_NATIVE_TRANSPORT=stream`) keeps the stream transport.
//

//
// The receiver options Rust was given, by the frozen options object of the
// JS receiver (one per server, typically).
//
const configs = new WeakMap();

/**
 * Makes the connection of a WebSocket over `socket`.
 *
 * @param {(Duplex|NativeConnection)} socket The socket (or a native
 *     connection of the listener)
 * @param {Buffer} head The first packet of the upgraded stream
 * @return {{ conn: (StreamConnection|NativeConnection), input: Buffer }}
 *     The connection, and the bytes it must parse first
 * @public
 */
function connect(socket, head) {
  if (socket instanceof NativeConnection) return { conn: socket, input: head };

  if (transport.enabled) {
    const fd = internals.takeableFd(socket);

    if (fd !== -1) {
      transport.init();

      let id;

      //
      // First, as it may fail (out of descriptors): the socket is then left
      // as it was, for the stream transport. No I/O callback can run before
      // the shell stops reading below.
      //
      try {
        id = native.adopt(fd);
      } catch (err) {
        debug('! native takeover failed (%s): stream transport', err.message);
        id = -1;
      }

      if (id !== -1) {
        const chunks = internals.idleShell(socket);

        if (head.length !== 0) chunks.unshift(head);

        const input =
          chunks.length === 0
            ? EMPTY_BUFFER
            : chunks.length === 1
              ? chunks[0]
              : Buffer.concat(chunks);

        return { conn: new NativeConnection(id, socket, null), input };
      }
    }
  }

  return { conn: new StreamConnection(socket), input: head };
}

/**
 * The number under which Rust keeps a receiver's options.
 *
 * @param {Object} options The frozen options of a JS receiver
 * @return {Number}
 * @public
 */
function configFor(options) {
  let config = configs.get(options);

  if (config === undefined) {
    config = native.configure(options);
    configs.set(options, config);
  }

  return config;
}

module.exports = { configFor, connect };
