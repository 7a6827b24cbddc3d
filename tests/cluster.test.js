'use strict';

//
// More than one process on one port: Node's `cluster` (what PM2's cluster
// mode runs), two workers each with `new WebSocketServer({ port })`. As
// with ws, every worker serves the shared port (Node's round robin); with
// `reusePort`, each worker listens itself (SO_REUSEPORT) and keeps the
// native listener. Then SIGTERM: each worker shuts down gracefully, its
// clients get 1001, and it exits 0.
//

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { afterEach, describe, test } = require('node:test');

const { IS_NATIVE, bounded, cleanup, deferred, onceEvent, ref, track } = require('./helpers');

afterEach(cleanup);

const APP = path.join(__dirname, 'fixtures', 'cluster-app.js');

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await onceEvent(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

async function startCluster(env) {
  const port = await freePort();
  const proc = spawn(process.execPath, [APP], {
    env: {
      ...process.env,
      PORT: String(port),
      WS_NATIVE_PATH: IS_NATIVE ? path.join(__dirname, '..') : require.resolve('ws'),
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  track({ terminate: () => proc.kill('SIGKILL') });
  const lines = [];
  const ready = deferred();
  const exited = deferred();
  let stderr = '';
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
    let nl;
    while ((nl = out.indexOf('\n')) !== -1) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      lines.push(line);
      if (line.startsWith('READY ')) ready.resolve(line.slice(6).split(' ').map(Number));
    }
  });
  proc.stderr.on('data', (d) => (stderr += d));
  proc.on('exit', (code) => exited.resolve(code));
  const pids = await bounded(
    Promise.race([ready.promise, exited.promise.then(() => { throw new Error(stderr); })]),
    'cluster ready',
    20000
  );
  return { port, pids, lines, exited: exited.promise, stderr: () => stderr };
}

async function connectMany(port, n) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const ws = track(new (ref().WebSocket)(`ws://127.0.0.1:${port}`));
    const [greeting] = await onceEvent(ws, 'message', 'greeting');
    ws.pid = Number(greeting.toString());
    ws.on('error', () => {});
    clients.push(ws);
  }
  return clients;
}

describe('cluster: two workers on one port', () => {
  for (const [label, env] of [
    ['Node\'s shared socket (the default in a worker)', {}],
    ['reusePort: each worker listens', { REUSE_PORT: '1' }]
  ]) {
    test(label, { timeout: 60000, skip: !IS_NATIVE && 'ws-native only (shutdown, reusePort)' }, async () => {
      const app = await startCluster({ WORKERS: '2', ...env });
      const clients = await connectMany(app.port, 16);
      const pids = new Set(clients.map((c) => c.pid));

      assert.deepEqual([...pids].sort(), [...app.pids].sort(), 'both workers serve');

      // Each worker echoes over its own connections.
      for (const c of clients.slice(0, 4)) {
        c.send('ping');
        const [data] = await onceEvent(c, 'message');
        assert.equal(data.toString(), 'ping');
      }

      const closes = clients.map((c) => onceEvent(c, 'close', 'client close', 10000));
      for (const pid of app.pids) process.kill(pid, 'SIGTERM');
      const codes = await Promise.all(closes);
      assert.ok(codes.every(([code, reason]) => code === 1001 && reason.toString() === 'Server shutting down'));
      await bounded(app.exited, 'cluster exit', 15000);
      const exits = app.lines.filter((l) => l.startsWith('EXIT '));
      assert.equal(exits.length, 2);
      assert.ok(exits.every((l) => l.endsWith(' 0 null')), exits.join('; '));
    });
  }
});
