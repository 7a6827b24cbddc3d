'use strict';

//
// js/node-internals.js: every assumption about Node's internals is checked
// once, and where one fails, what depends on it is turned off with a
// `DEBUG=ws-native` line saying why, and the public fallback works. CI runs
// this file (with the rest) on Node 20, 22, 24 and the current release.
//

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { afterEach, describe, test } = require('node:test');

const { IS_NATIVE, bounded, cleanup } = require('./helpers');

afterEach(cleanup);

const ROOT = path.join(__dirname, '..');

/**
 * Runs `code` in a child Node process with DEBUG=ws-native; resolves with
 * its exit code, stdout and stderr.
 */
function child(code, env = {}) {
  return bounded(
    new Promise((resolve) => {
      const proc = spawn(process.execPath, ['-e', code], {
        cwd: ROOT,
        env: { ...process.env, DEBUG: 'ws-native', ...env },
        stdio: ['ignore', 'pipe', 'pipe']
      });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d) => (stdout += d));
      proc.stderr.on('data', (d) => (stderr += d));
      proc.on('close', (status) => resolve({ status, stdout, stderr }));
    }),
    'child process',
    20000
  );
}

//
// A round trip through a server the child starts: a ws client sends, the
// server echoes; prints the transport the server's connection used.
//
const ROUND_TRIP = `
  const WS = require('.');
  const Peer = require('ws');
  const http = require('http');
  const mode = process.env.MODE;
  const done = (wss, server) => { wss.close(); if (server) server.close(); };
  const start = (cb) => {
    if (mode === 'port') {
      const wss = new WS.WebSocketServer({ port: 0, host: '127.0.0.1' }, () => cb(wss, null, wss.address().port));
      return;
    }
    const server = http.createServer();
    const wss = new WS.WebSocketServer({ server });
    server.listen(0, '127.0.0.1', () => cb(wss, server, server.address().port));
  };
  start((wss, server, port) => {
    wss.on('connection', (ws) => {
      const { NativeConnection } = require('./js/transport/native-connection');
      console.log('transport', ws._conn instanceof NativeConnection ? 'native' : 'stream');
      ws.on('message', (d, b) => ws.send(d, { binary: b }));
    });
    if (process.env.BREAK_HANDLE) {
      server.prependOnceListener('upgrade', (req, socket) => {
        Object.defineProperty(socket._handle.constructor, 'name', { value: 'Renamed' });
      });
    }
    const c = new Peer('ws://127.0.0.1:' + port);
    c.on('open', () => c.send('ping'));
    c.on('message', (d) => { console.log('echo', String(d)); c.close(); });
    c.on('close', () => done(wss, server));
  });
`;

describe('Node internals', () => {
  test('every check holds on this Node', () => {
    const internals = require('../js/node-internals');
    const report = internals.report();
    assert.deepEqual(report.failures, {}, JSON.stringify(report));
    assert.equal(report.serverAccounting, true);
    assert.equal(report.lazyHeaders, true);
    assert.equal(report.httpTakeover, true);
    assert.equal(typeof report.eofOnHangup, 'boolean');
  });

  test('IncomingMessage headers: lazy through the internal count, eager without it', () => {
    const http = require('node:http');
    const internals = require('../js/node-internals');
    const req = new http.IncomingMessage(null);
    internals.setRawHeaders(req, ['Host', 'a', 'X-Two', '1', 'x-two', '2', 'Cookie', 'a=1', 'cookie', 'b=2']);
    assert.deepEqual(req.headers, { host: 'a', 'x-two': '1, 2', cookie: 'a=1; b=2' });
    assert.deepEqual(req.rawHeaders.length, 10);
  });

  test('server accounting: what the check refuses', () => {
    const internals = require('../js/node-internals');
    assert.equal(internals.checkServerAccounting(require('node:http').createServer()), null);
    assert.match(internals.checkServerAccounting({}), /_connections is not a number/);
    assert.match(internals.checkServerAccounting({ _connections: 0 }), /_emitCloseIfDrained is missing/);
    // Off, the port mode listens with Node's own server: CI runs the port
    // mode tests that way too (WS_NATIVE_LISTENER=node).
  });

  test('lazy headers off: requests get their headers built at once', async (t) => {
    if (!IS_NATIVE) return t.skip('ws-native only');
    const { status, stdout, stderr } = await child(
      `
      const Original = require('http').IncomingMessage;
      // Hide the private symbol: the check must fail and the eager path run.
      const getSymbols = Object.getOwnPropertySymbols;
      Object.getOwnPropertySymbols = (o) => o instanceof Original
        ? getSymbols(o).filter((s) => s.description !== 'kHeadersCount')
        : getSymbols(o);
      ${ROUND_TRIP}
      `,
      { MODE: 'port' }
    );
    assert.equal(status, 0, stderr);
    assert.match(stdout, /echo ping/);
    assert.match(stderr, /lazyHeaders is off/);
  });

  test('an unexpected socket handle: the stream transport takes the connection, and says why', async (t) => {
    if (!IS_NATIVE || process.env.WS_NATIVE_TRANSPORT === 'stream') return t.skip('native transport only');
    const { status, stdout, stderr } = await child(ROUND_TRIP, { MODE: 'server', BREAK_HANDLE: '1' });
    assert.equal(status, 0, stderr);
    assert.match(stdout, /transport stream/);
    assert.match(stdout, /echo ping/);
    assert.match(stderr, /fdTakeover is off .*Renamed, not TCP or Pipe/);
  });

  test('with the checks passing, the same round trips are native', async (t) => {
    if (!IS_NATIVE || process.env.WS_NATIVE_TRANSPORT === 'stream') return t.skip('native transport only');
    for (const MODE of ['port', 'server']) {
      const { status, stdout, stderr } = await child(ROUND_TRIP, { MODE });
      assert.equal(status, 0, stderr);
      assert.match(stdout, /transport native/);
      assert.match(stdout, /echo ping/);
      assert.doesNotMatch(stderr, /is off/);
    }
  });
});
