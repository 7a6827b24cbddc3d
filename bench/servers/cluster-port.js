'use strict';

//
// bench/cluster-port.js's server: a `cluster` primary that forks WORKERS
// workers (2 by default), each running ws-app.js in port mode on the same
// PORT, as PM2's cluster mode does. IMPL is `ws` or `ws-native`;
// BENCH_REUSE_PORT=1 gives ws-native's workers `reusePort: true`. Prints
// `LISTENING <port> <pid,pid,...>` (the primary's and the workers' pids)
// once every worker listens.
//

const cluster = require('cluster');
const path = require('path');

const ROOT = path.join(__dirname, '..', '..');

if (cluster.isPrimary) {
  const count = Number(process.env.WORKERS || 2);
  const pids = [process.pid];
  let listening = 0;

  for (let i = 0; i < count; i++) {
    const worker = cluster.fork();

    pids.push(worker.process.pid);
    worker.on('message', (m) => {
      if (m !== 'listening') return;
      if (++listening === count) {
        process.stdout.write(`LISTENING ${process.env.PORT} ${pids.join(',')}\n`);
      }
    });
    worker.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`worker ${worker.process.pid} exited (${signal || code})`);
        process.exit(1);
      }
    });
  }

  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 200);
  });
} else {
  const { WebSocketServer } =
    process.env.IMPL === 'ws' ? require('ws') : require(ROOT);

  // ws-app.js prints LISTENING on its own stdout (shared with the primary);
  // the primary waits for every worker's message instead.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (s, ...rest) =>
    /^LISTENING /.test(s) ? process.send('listening') : write(s, ...rest);
  require('./ws-app')(WebSocketServer);
}
