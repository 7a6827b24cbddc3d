import createWebSocketStream from './stream.js';
import extension from './extension.js';
import PerMessageDeflate from './permessage-deflate.js';
import Sender from './sender.js';
import subprotocol from './subprotocol.js';
import WebSocket from './websocket.js';
import WebSocketServer from './websocket-server.js';
import serveModule from './serve.js';

const { serve } = serveModule;

//
// ws's wrapper.mjs, except `Receiver` (as in index.js), plus Bun's
// `serve()`. The default export is the class alone: nothing here adds
// index.js's statics (`Server`, ...).
//
export {
  createWebSocketStream,
  extension,
  PerMessageDeflate,
  Sender,
  serve,
  subprotocol,
  WebSocket,
  WebSocketServer
};

export default WebSocket;
