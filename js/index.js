'use strict';

const createWebSocketStream = require('./stream');
const extension = require('./extension');
const PerMessageDeflate = require('./permessage-deflate');
const Sender = require('./sender');
const subprotocol = require('./subprotocol');
const WebSocket = require('./websocket');
const WebSocketServer = require('./websocket-server');
const { serve } = require('./serve');

//
// The same shape as ws's entry point, except `Receiver` (ours is not a
// Writable stream).
//
WebSocket.createWebSocketStream = createWebSocketStream;
WebSocket.extension = extension;
WebSocket.PerMessageDeflate = PerMessageDeflate;
WebSocket.Sender = Sender;
WebSocket.Server = WebSocketServer;
WebSocket.subprotocol = subprotocol;
WebSocket.WebSocket = WebSocket;
WebSocket.WebSocketServer = WebSocketServer;

//
// Not in ws: Bun's `serve()`.
//
WebSocket.serve = serve;

module.exports = WebSocket;
