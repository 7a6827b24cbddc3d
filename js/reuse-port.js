'use strict';

const cluster = require('cluster');
const net = require('net');

const debug = require('./debug');
const { native } = require('./binding');

//
// Node's `listen({ reusePort })` came in 23.1 and 22.12; earlier ones
// ignore the option.
//
const NODE_REUSE_PORT = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number);

  return major > 22 || (major === 22 && minor >= 12);
})();

/**
 * Has Node's server listen on a socket bound with `SO_REUSEPORT`, for when
 * the native listener does not listen (TLS, the native transport off): the
 * socket is bound by the addon where it can be (an IP address, not in a
 * cluster worker, where Node would ask the primary for a socket instead of
 * taking the descriptor), else by Node with its own option. A worker on a
 * Node without the option shares the primary's socket, as without
 * `reusePort`.
 *
 * @param {net.Server} server The server
 * @param {(Number|String)} port The port
 * @param {String} [host] The host (`::` or `0.0.0.0` when absent)
 * @param {Number} [backlog] The backlog
 * @public
 */
function listenReusingPort(server, port, host, backlog) {
  if (cluster.isWorker) {
    if (NODE_REUSE_PORT) {
      server.listen({ port, host, backlog, reusePort: true, exclusive: true });
    } else {
      debug(
        'reusePort: Node %s cannot listen with SO_REUSEPORT in a cluster ' +
          "worker (22.12 or later can): the primary's socket is shared",
        process.versions.node
      );
      server.listen({ port, host, backlog });
    }
    return;
  }

  const address = host == null ? '::' : host;

  if (native !== null && net.isIP(address) && Number.isInteger(+port)) {
    let fd = native.bind(address, +port, backlog == null ? 511 : backlog, true);

    if (fd < 0 && host == null) {
      fd = native.bind('0.0.0.0', +port, backlog == null ? 511 : backlog, true);
    }

    if (fd >= 0) {
      server.listen({ fd });
      return;
    }

    //
    // Node's own attempt reports the error as Node words it.
    //
  }

  server.listen({ port, host, backlog, reusePort: true });
}

module.exports = { listenReusingPort };
