'use strict';

//
// The bench server on uWebSockets.js (`@trufflesuite/uws-js-unofficial`,
// installed by bench/run.js into bench/.deps), with the protocol of
// ws-app.js. Broadcast is uWS's own `app.publish()` to a topic every client
// subscribes to. The native binary is loaded directly: the package's entry
// point silently falls back to a JavaScript implementation on `ws`, which
// is not what we want to measure. Exits with status 3 if it cannot load.
// BENCH_DEFLATE as in ws-app.js: `on` = a dedicated compressor (window 15,
// uWS's 256 KB one) and decompressor per connection, `nct` = uWS's shared
// compressor and decompressor (negotiated without context takeover).
//

const path = require('path');

let uWS;
try {
  const pkg = require.resolve('@trufflesuite/uws-js-unofficial/package.json', {
    paths: [path.join(__dirname, '..', '.deps')]
  });
  const { platform, arch, versions } = process;
  uWS = require(
    path.join(
      path.dirname(pkg),
      'binaries',
      `uws_${platform}_${arch}_${versions.modules}.node`
    )
  );
} catch (err) {
  console.error(`uws: cannot load uWebSockets.js: ${err.message}`);
  process.exit(3);
}

const BCAST = Buffer.alloc(64, 0x42);
const app = uWS.App();

const COMPRESSION = {
  '': uWS.DISABLED,
  off: uWS.DISABLED,
  on: uWS.DEDICATED_COMPRESSOR | uWS.DEDICATED_DECOMPRESSOR,
  nct: uWS.SHARED_COMPRESSOR | uWS.SHARED_DECOMPRESSOR
}[process.env.BENCH_DEFLATE || ''];
if (COMPRESSION === undefined) {
  console.error(`uws: BENCH_DEFLATE: unknown value ${process.env.BENCH_DEFLATE}`);
  process.exit(1);
}
const compress = COMPRESSION !== uWS.DISABLED;

app.ws('/*', {
  compression: COMPRESSION,
  maxPayloadLength: 64 * 1024 * 1024,
  maxBackpressure: 64 * 1024 * 1024,
  idleTimeout: 0,
  sendPingsAutomatically: false,
  open: (ws) => {
    ws.subscribe('all');
  },
  message: (ws, msg, isBinary) => {
    if (!isBinary && msg.byteLength === 2) {
      const u = new Uint8Array(msg);
      if (u[0] === 0x21 && u[1] === 0x42) {
        app.publish('all', BCAST, true);
        return;
      }
      if (u[0] === 0x21 && u[1] === 0x47) {
        if (global.gc) {
          global.gc();
          global.gc();
        }
        ws.send('!g', false, compress);
        return;
      }
    }
    ws.send(msg, isBinary, compress);
  }
});

app.listen('127.0.0.1', Number(process.env.PORT || 0), (token) => {
  if (!token) {
    console.error('uws: cannot listen');
    process.exit(1);
  }
  process.stdout.write(`LISTENING ${uWS.us_socket_local_port(token)}\n`);
});
process.on('SIGTERM', () => process.exit(0));
