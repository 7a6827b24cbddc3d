'use strict';

//
// Echo server for the Autobahn|Testsuite fuzzing client: every message goes
// back with the same type.
//
// Usage: node scripts/autobahn-echo-server.js PORT [--deflate]
//
// `--deflate` (or WS_DEFLATE=1 in the environment) turns permessage-deflate
// on with ws's defaults, for groups 12 and 13.
//

const { WebSocketServer } = require('..');

const args = process.argv.slice(2);
const deflate =
  args.includes('--deflate') ||
  /^(1|true|yes)$/i.test(process.env.WS_DEFLATE || '');
const port = Number(args.find((arg) => !arg.startsWith('--')) || 9001);
const wss = new WebSocketServer(
  { host: '127.0.0.1', port, perMessageDeflate: deflate },
  () => {
    console.log(
      `autobahn echo server on ws://127.0.0.1:${port}` +
        (deflate ? ' (permessage-deflate)' : '')
    );
  }
);

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
