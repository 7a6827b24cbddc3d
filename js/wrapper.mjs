import createWebSocketStream from './stream.js';
import extension from './extension.js';
import Sender from './sender.js';
import subprotocol from './subprotocol.js';
import WebSocket from './websocket.js';
import WebSocketServer from './websocket-server.js';

export {
  createWebSocketStream,
  extension,
  Sender,
  subprotocol,
  WebSocket,
  WebSocketServer
};

export default WebSocket;
