'use strict';

//
// The bench server, Bun style: one program for Bun and for Node. Under Bun
// it is `Bun.serve`; under Node, ws-native's `serve()`: nothing else
// differs. The protocol of ws-app.js: data messages are echoed with their
// type, text "!B" publishes 64 B to a topic every connection subscribes to,
// text "!G" collects garbage (when exposed) and answers "!g". Prints
// `LISTENING <port>`. BENCH_DEFLATE as in ws-app.js (`on`: dedicated
// compressors, `nct`: shared ones).
//

const serve =
  typeof Bun === 'undefined'
    ? require('../..').serve
    : // eslint-disable-next-line no-undef
      Bun.serve;

const BCAST = Buffer.alloc(64, 0x42);
const deflate = {
  '': false,
  off: false,
  on: { compress: 'dedicated', decompress: 'dedicated' },
  nct: { compress: 'shared', decompress: 'shared' }
}[process.env.BENCH_DEFLATE || ''];

const server = serve({
  port: Number(process.env.PORT || 0),
  hostname: '127.0.0.1',
  fetch(req, srv) {
    if (srv.upgrade(req)) return undefined;
    return new Response('Upgrade Required', { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 * 1024 * 1024,
    backpressureLimit: 64 * 1024 * 1024,
    idleTimeout: 0,
    sendPings: false,
    perMessageDeflate: deflate,
    open(ws) {
      ws.subscribe('all');
    },
    message(ws, message) {
      if (typeof message === 'string' && message.length === 2 && message[0] === '!') {
        if (message === '!B') {
          server.publish('all', BCAST);
          return;
        }
        if (message === '!G') {
          if (global.gc) {
            global.gc();
            global.gc();
          }
          ws.send('!g');
          return;
        }
      }
      ws.send(message, !!deflate);
    }
  }
});

console.log(`LISTENING ${server.port}`);
