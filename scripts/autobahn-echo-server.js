'use strict';

//
// Echo server for the Autobahn|Testsuite fuzzing client: every message goes
// back with the same type. Usage: node scripts/autobahn-echo-server.js PORT
//

const { WebSocketServer } = require('..');

const port = Number(process.argv[2] || 9001);
const wss = new WebSocketServer({ host: '127.0.0.1', port }, () => {
  console.log(`autobahn echo server on ws://127.0.0.1:${port}`);
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
