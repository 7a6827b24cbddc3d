'use strict';

const createWebSocketStream = require('./stream');
const extension = require('./extension');
const Sender = require('./sender');
const subprotocol = require('./subprotocol');
const WebSocket = require('./websocket');
const WebSocketServer = require('./websocket-server');

//
// The same shape as ws's entry point, except `Receiver` (ours is not a
// Writable stream) and `PerMessageDeflate` (not implemented yet).
//
WebSocket.createWebSocketStream = createWebSocketStream;
WebSocket.extension = extension;
WebSocket.Sender = Sender;
WebSocket.Server = WebSocketServer;
WebSocket.subprotocol = subprotocol;
WebSocket.WebSocket = WebSocket;
WebSocket.WebSocketServer = WebSocketServer;

module.exports = WebSocket;
