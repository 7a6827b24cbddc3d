'use strict';

//
// The bench server for ws and ws-native (same code, different module):
// - a data message is echoed back with its type;
// - text "!B" sends a 64 B binary message to every client
//   (`wss.clients.forEach(c => c.send(m))`);
// - text "!G" runs the garbage collector (node --expose-gc) and answers "!g".
// Prints `LISTENING <port>` once listening on 127.0.0.1:$PORT (0 = any).
//
// BENCH_DEFLATE turns permessage-deflate on (it is off otherwise, as by
// default): `on` with context takeover (ws's default parameters), `nct`
// with `serverNoContextTakeover` and `clientNoContextTakeover`. The
// threshold is 0 so that every echo is compressed, even without context
// takeover (with it, ws compresses whatever the size).
//

function deflateOption(mode) {
  switch (mode || '') {
    case '':
    case 'off':
      return false;
    case 'on':
      return { threshold: 0 };
    case 'nct':
      return {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true
      };
    default:
      throw new Error(`BENCH_DEFLATE: unknown value ${mode} (off, on, nct)`);
  }
}

module.exports = function start(WebSocketServer) {
  const BCAST = Buffer.alloc(64, 0x42);
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: Number(process.env.PORT || 0),
    perMessageDeflate: deflateOption(process.env.BENCH_DEFLATE),
    maxPayload: 64 * 1024 * 1024,
    // cluster-port.js's reusePort row (ws-native only: ws has no such option).
    ...(process.env.BENCH_REUSE_PORT === '1' && { reusePort: true })
  });

  //
  // BENCH_BROADCAST=publish: a topic every connection subscribes to, and
  // `wss.publish()` (ws-native's topics; ws has none, and broadcasts with
  // `clients.forEach`).
  //
  const publish =
    process.env.BENCH_BROADCAST === 'publish' &&
    typeof wss.publish === 'function';

  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    if (publish) ws.subscribe('all');
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.length === 2 && data[0] === 0x21) {
        if (data[1] === 0x42) {
          if (publish) wss.publish('all', BCAST);
          else wss.clients.forEach((c) => c.send(BCAST));
          return;
        }
        if (data[1] === 0x47) {
          if (global.gc) {
            global.gc();
            global.gc();
          }
          ws.send('!g');
          return;
        }
      }
      ws.send(data, { binary: isBinary });
    });
  });

  wss.on('listening', () => {
    process.stdout.write(`LISTENING ${wss.address().port}\n`);
  });
  wss.on('error', (err) => {
    console.error(err);
    process.exit(1);
  });
  process.on('SIGTERM', () => process.exit(0));
};
