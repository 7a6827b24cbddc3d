'use strict';

//
// The bench server on ws-native with the native transport forced on
// connections (js/native-transport.js), through a WebSocket subclass.
//
const { WebSocketServer, WebSocket } = require('../..');
const transport = require('../../js/native-transport');

const EMPTY = Buffer.alloc(0);

class NativeWebSocket extends WebSocket {
  setSocket(socket, head, options) {
    if (transport.canTakeOver(socket)) {
      socket = transport.takeOver(socket, head);
      head = EMPTY;
    }
    super.setSocket(socket, head, options);
  }
}

class Server extends WebSocketServer {
  constructor(options, callback) {
    super({ WebSocket: NativeWebSocket, ...options }, callback);
  }
}

require('./ws-app')(Server);
