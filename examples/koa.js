'use strict';

//
// Koa and ws-native on one server, ws style (`{ server }` mode).
//
// Create the http server yourself and listen on it: `app.listen()` would
// create a second server that the WebSocket server knows nothing about, and
// upgrade requests sent there reach Koa, which answers 404
// ("Unexpected server response: 404" in the client).
//

const http = require('http');
const Koa = require('koa');

const { WebSocketServer } = require('ws-native');

const app = new Koa();
app.use((ctx) => {
  ctx.body = 'Hello from Koa. WebSocket endpoint: /ws\n';
});

const server = http.createServer(app.callback());
const wss = new WebSocketServer({ server, path: '/ws' });

wss.on('connection', (ws, req) => {
  ws.on('error', console.error);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.send(`welcome, you asked for ${req.url}`);
});

const port = Number(process.env.PORT || 3000);
server.listen(port, '127.0.0.1', () => {
  console.log(`Koa + ws-native on http://127.0.0.1:${port}/ (ws://127.0.0.1:${port}/ws)`);
});
