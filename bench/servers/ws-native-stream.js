'use strict';

//
// The bench server on ws-native with the stream transport (Node's own
// net.Socket I/O, as for TLS or any Duplex), for comparison with the native
// transport that plain TCP connections get by default (see ws-app.js).
//
process.env.WS_NATIVE_TRANSPORT = 'stream';
require('./ws-app')(require('../..').WebSocketServer);
