'use strict';

//
// Express and ws-native on one server, ws style (`{ server }` mode).
//

const http = require('http');
const express = require('express');

const { WebSocketServer } = require('ws-native');

const app = express();
app.get('/', (req, res) => res.send('Hello from Express. WebSocket endpoint: /ws\n'));

const server = http.createServer(app);
const wss = new WebSocketServer({ server, path: '/ws' });

wss.on('connection', (ws) => {
  ws.on('error', console.error);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const port = Number(process.env.PORT || 3000);
server.listen(port, '127.0.0.1', () => {
  console.log(`Express + ws-native on http://127.0.0.1:${port}/ (ws://127.0.0.1:${port}/ws)`);
});
