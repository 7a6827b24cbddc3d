'use strict';

//
// A real browser (Debian's chromium, headless) talks to our server with
// permessage-deflate: it offers the extension, our server accepts it, and
// compressed messages go both ways (text and binary, small and large,
// several in a row on one context). Driven over the DevTools protocol with
// ws from npm. Skipped when /usr/bin/chromium (or $CHROMIUM) is absent;
// .ci/run installs it.
//

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { after, before, describe, test } = require('node:test');

const { IS_NATIVE, bounded, deferred, listenHttp, ref, sut } = require('./helpers');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM);
const skip = available
  ? false
  : `${CHROMIUM} not found (apt-get install -y chromium, or set CHROMIUM)`;

const WAIT_MS = 30000;

/**
 * Starts chromium with remote debugging on a free port and resolves with
 * the process and the browser's DevTools WebSocket URL.
 */
function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-native-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`,
      '--remote-debugging-port=0',
      'about:blank'
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] }
  );
  const ready = deferred();
  let stderr = '';

  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    stderr += text;
    const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
    if (match) ready.resolve(match[1]);
  });
  child.on('exit', (code) => {
    ready.reject(new Error(`chromium exited (${code}) before it was ready:\n${stderr}`));
  });

  return bounded(ready.promise, 'chromium start', WAIT_MS).then((url) => ({
    child,
    profile,
    url
  }));
}

/**
 * A minimal DevTools protocol session over a ws client.
 */
class DevTools {
  constructor(url) {
    const WebSocket = ref();
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0 });
    this.id = 0;
    this.pending = new Map();
    this.ws.on('message', (data) => {
      const msg = JSON.parse(data);
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.error) waiter.reject(new Error(msg.error.message));
      else waiter.resolve(msg.result);
    });
    this.opened = bounded(
      new Promise((resolve, reject) => {
        this.ws.once('open', resolve);
        this.ws.once('error', reject);
      }),
      'DevTools connection',
      WAIT_MS
    );
  }

  send(method, params = {}, sessionId) {
    const id = ++this.id;
    const done = deferred();
    this.pending.set(id, done);
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return bounded(done.promise, method, WAIT_MS);
  }

  close() {
    this.ws.terminate();
  }
}

/**
 * What the page runs: opens a WebSocket to `url`, sends each message and
 * checks the echo, and reports what it saw.
 */
function pageScript(url) {
  return `(async () => {
    const text = (n) => Array.from({ length: n }, (_, i) => 'word' + (i % 97) + ' ').join('');
    const bytes = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 7) % 13; return b; };
    const messages = [
      text(10), text(3000), '', 'héllo 😀', text(200000),
      bytes(0), bytes(50), bytes(100000), text(3000)
    ];
    const ws = new WebSocket(${JSON.stringify(url)});
    ws.binaryType = 'arraybuffer';
    const received = [];
    const done = new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        received.push(e.data);
        if (received.length === messages.length) resolve();
      };
      ws.onerror = () => reject(new Error('WebSocket error'));
      ws.onclose = (e) => reject(new Error('closed early: ' + e.code));
    });
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    for (const m of messages) ws.send(m);
    await done;
    const same = messages.map((m, i) => {
      const r = received[i];
      if (typeof m === 'string') return typeof r === 'string' && r === m;
      const a = new Uint8Array(r);
      return a.length === m.length && a.every((v, j) => v === m[j]);
    });
    const extensions = ws.extensions;
    ws.onclose = null;
    ws.close(1000, 'bye');
    return JSON.stringify({ extensions, same });
  })()`;
}

/**
 * Waits until the new tab has loaded `url`: evaluating earlier may run in
 * the context of the initial about:blank, which the navigation destroys.
 */
async function pageLoaded(devtools, sessionId, url) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const state = await devtools
      .send(
        'Runtime.evaluate',
        { expression: 'location.href + " " + document.readyState', returnByValue: true },
        sessionId
      )
      .catch(() => null);
    if (state && state.result && state.result.value === `${url} complete`) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not load`);
}

describe('a real browser (chromium headless)', { skip }, () => {
  let browser;
  let devtools;

  before(async () => {
    if (!available) return;
    browser = await launch();
    devtools = new DevTools(browser.url);
    await devtools.opened;
  });

  after(async () => {
    if (!browser) return;

    //
    // Closed through DevTools, so that its helper processes end with it and
    // stop writing to the profile; killed if that does not work.
    //
    const exited = new Promise((resolve) => {
      if (browser.child.exitCode !== null) resolve();
      else browser.child.once('exit', resolve);
    });
    if (devtools) {
      await devtools.send('Browser.close').catch(() => {});
      devtools.close();
    }
    await bounded(exited, 'chromium exit', 5000).catch(() => {
      browser.child.kill('SIGKILL');
    });
    try {
      fs.rmSync(browser.profile, { recursive: true, force: true, maxRetries: 10 });
    } catch {
      // A leftover temporary profile is not worth failing the tests for.
    }
  });

  for (const perMessageDeflate of [true, { serverNoContextTakeover: true, threshold: 0 }, false]) {
    test(`exchanges messages with perMessageDeflate ${JSON.stringify(perMessageDeflate)}`, async () => {
      const { WebSocketServer } = IS_NATIVE ? sut() : ref();
      const server = http.createServer((req, res) => res.end('<!doctype html><title>ws</title>'));
      const wss = new WebSocketServer({ server, perMessageDeflate, maxPayload: 0 });
      const port = await listenHttp(server);

      let offer;
      let bytesIn = 0;
      let payloadIn = 0;
      wss.on('headers', (lines, req) => {
        offer = req.headers['sec-websocket-extensions'];
      });
      const serverSide = deferred();
      wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => {
          //
          // Bytes read from the wire so far, from the connection's own
          // socket (on the native path a view over Rust's counters: it
          // emits no 'data', the bytes never reach JS).
          //
          bytesIn = ws._socket.bytesRead;
          payloadIn += data.length;
          ws.send(data, { binary: isBinary });
        });
        ws.on('error', (err) => serverSide.reject(err));
        ws.on('close', () => serverSide.resolve(ws.extensions));
      });

      const { targetId } = await devtools.send('Target.createTarget', {
        url: `http://127.0.0.1:${port}/`
      });
      const { sessionId } = await devtools.send('Target.attachToTarget', {
        targetId,
        flatten: true
      });

      try {
        await pageLoaded(devtools, sessionId, `http://127.0.0.1:${port}/`);
        const { result, exceptionDetails } = await devtools.send(
          'Runtime.evaluate',
          {
            expression: pageScript(`ws://127.0.0.1:${port}/`),
            awaitPromise: true,
            returnByValue: true
          },
          sessionId
        );
        assert.equal(exceptionDetails, undefined, JSON.stringify(exceptionDetails));

        const report = JSON.parse(result.value);
        const serverExtensions = await bounded(serverSide.promise, 'server close', WAIT_MS);

        // Chromium always offers permessage-deflate.
        assert.match(offer, /^permessage-deflate/);
        assert.deepEqual(report.same, report.same.map(() => true));

        if (perMessageDeflate) {
          assert.equal(serverExtensions, 'permessage-deflate');
          assert.match(report.extensions, /^permessage-deflate/);
          // The repetitive payloads arrived compressed.
          assert.ok(bytesIn > 0 && bytesIn < payloadIn / 4, `${bytesIn} bytes for ${payloadIn}`);
        } else {
          assert.equal(serverExtensions, '');
          assert.equal(report.extensions, '');
          assert.ok(bytesIn > payloadIn, `${bytesIn} bytes for ${payloadIn}`);
        }
      } finally {
        await devtools.send('Target.closeTarget', { targetId }).catch(() => {});
        wss.close();
        server.close();
      }
    });
  }
});
