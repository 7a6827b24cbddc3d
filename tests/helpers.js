'use strict';

//
// Shared helpers for the Node test suite.
//
// The "module under test" is ws-native (`require('..')`) unless the
// environment variable WS_IMPL=ws points it at the ws package, which is how
// every differential test is validated: with WS_IMPL=ws both sides of the
// comparison are ws, so a test that fails then is a bad test, not a bug.
//
// Everything that opens a socket or a server registers it here, and each test
// file calls `cleanup()` after every test, so a failing test cannot leave a
// handle open and keep the test process alive.
//

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');

const WS_IMPL = process.env.WS_IMPL === 'ws' ? 'ws' : 'ws-native';
const IS_NATIVE = WS_IMPL === 'ws-native';

//
// Safety bound for every wait in the suite. Nothing should come close to it:
// each wait is for an event that is expected to happen promptly.
//
const WAIT_MS = 5000;

// RFC 6455, section 1.3.
const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

let sutModule;

/**
 * The reference implementation: ws from npm.
 */
function ref() {
  return require('ws');
}

/**
 * The module under test, loaded lazily so that a module that does not load
 * fails each test with the load error instead of the whole file.
 */
function sut() {
  if (!sutModule) sutModule = IS_NATIVE ? require('..') : require('ws');
  return sutModule;
}

//
// Resource tracking.
//
const resources = new Set();

function track(resource) {
  resources.add(resource);
  return resource;
}

async function cleanup() {
  const list = [...resources];
  resources.clear();

  //
  // Connections first, so that closing a server does not wait for them.
  //
  for (const r of list) {
    try {
      if (r instanceof net.Socket) r.destroy();
      else if (typeof r.terminate === 'function') r.terminate();
    } catch {
      // Best effort: the test already failed or the resource is gone.
    }
  }

  for (const r of list) {
    try {
      if (typeof r.handleUpgrade === 'function') {
        // A WebSocketServer.
        if (r.clients) for (const ws of r.clients) ws.terminate();
        await bounded(new Promise((resolve) => r.close(() => resolve())), 'wss close');
      } else if (r instanceof net.Server) {
        if (r.closeAllConnections) r.closeAllConnections();
        if (r.listening) {
          await bounded(new Promise((resolve) => r.close(resolve)), 'server close');
        }
      }
    } catch {
      // As above.
    }
  }
}

//
// Waiting.
//

/**
 * Resolves or rejects like `promise`, or rejects after `ms` with `label`.
 */
function bounded(promise, label = 'wait', ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms: ${label}`)),
      ms
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `events.once` with a safety bound.
 */
function onceEvent(emitter, event, label = event, ms = WAIT_MS) {
  return bounded(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
    label,
    ms
  );
}

/**
 * A promise with its resolve function exposed.
 */
function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

//
// Servers.
//

/**
 * Starts a WebSocketServer of `WS` in port mode on 127.0.0.1 and an ephemeral
 * port.
 */
async function listenWss(WS, options = {}) {
  const wss = track(
    new WS.WebSocketServer({ port: 0, host: '127.0.0.1', ...options })
  );
  await onceEvent(wss, 'listening');
  return { wss, port: wss.address().port };
}

/**
 * Starts a plain http server on 127.0.0.1 and an ephemeral port.
 */
async function listenHttp(server) {
  track(server);
  server.listen(0, '127.0.0.1');
  await onceEvent(server, 'listening');
  return server.address().port;
}

//
// WebSocket frames.
//

const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa
};

const FIXED_MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/**
 * Encodes one frame as a client would (masked unless `mask: false`).
 *
 * @param {Number} opcode
 * @param {(Buffer|String)} [payload]
 * @param {Object} [opts]
 * @param {Boolean} [opts.fin=true]
 * @param {Number} [opts.rsv=0] bits 0x40 (RSV1), 0x20 (RSV2), 0x10 (RSV3)
 * @param {(Boolean|Buffer)} [opts.mask=true]
 * @param {Number} [opts.length] a length to announce instead of the real one
 * @param {Buffer} [opts.lengthBytes] raw extended length bytes (after 127)
 */
function frame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const fin = opts.fin !== false;
  const mask = opts.mask === false ? null : Buffer.isBuffer(opts.mask) ? opts.mask : FIXED_MASK;
  const length = opts.length !== undefined ? opts.length : data.length;

  let header;
  if (opts.lengthBytes) {
    header = Buffer.concat([Buffer.from([0, 127]), opts.lengthBytes]);
  } else if (length < 126) {
    header = Buffer.from([0, length]);
  } else if (length < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }

  header[0] = (fin ? 0x80 : 0) | (opts.rsv || 0) | opcode;

  if (!mask) return Buffer.concat([header, data]);

  header[1] |= 0x80;
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

/**
 * A close frame payload: 2-byte code and a reason.
 */
function closePayload(code, reason = '') {
  const reasonBuf = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
  const buf = Buffer.alloc(2 + reasonBuf.length);
  buf.writeUInt16BE(code, 0);
  reasonBuf.copy(buf, 2);
  return buf;
}

/**
 * Parses the frames in `buf` (as a server sends them).
 *
 * @return {{ frames: Object[], rest: Buffer }} `rest` holds the bytes of an
 *     incomplete trailing frame
 */
function parseFrames(buf) {
  const frames = [];
  let pos = 0;

  while (buf.length - pos >= 2) {
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    let len = b1 & 0x7f;
    let hdr = 2;

    if (len === 126) {
      if (buf.length - pos < 4) break;
      len = buf.readUInt16BE(pos + 2);
      hdr = 4;
    } else if (len === 127) {
      if (buf.length - pos < 10) break;
      len = Number(buf.readBigUInt64BE(pos + 2));
      hdr = 10;
    }

    const masked = (b1 & 0x80) !== 0;
    if (masked) hdr += 4;
    if (buf.length - pos < hdr + len) break;

    let payload = buf.subarray(pos + hdr, pos + hdr + len);
    if (masked) {
      const key = buf.subarray(pos + hdr - 4, pos + hdr);
      payload = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
    }

    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: b0 & 0x70,
      opcode: b0 & 0x0f,
      masked,
      header: buf.subarray(pos, pos + hdr),
      payload
    });
    pos += hdr + len;
  }

  return { frames, rest: buf.subarray(pos) };
}

/**
 * A short, comparable description of a payload: the text itself when short,
 * else its length and a hash.
 */
function digest(buf) {
  if (buf.length <= 64) return buf.toString('hex');
  return `${buf.length}:${crypto.createHash('sha256').update(buf).digest('hex').slice(0, 16)}`;
}

/**
 * A comparable description of the frames a server wrote: the exact header
 * bytes, and the payload (digested), so that equal descriptions mean equal
 * bytes.
 */
function describeFrames(frames) {
  return frames.map((f) => {
    const out = { header: f.header.toString('hex'), payload: digest(f.payload) };
    if (f.opcode === OP.CLOSE && f.payload.length >= 2) {
      out.code = f.payload.readUInt16BE(0);
      out.reason = f.payload.subarray(2).toString();
    }
    return out;
  });
}

//
// Raw client: a net socket that does the handshake by hand.
//

/**
 * Builds an HTTP request. `headers` are added after the defaults; a default
 * whose value in `headers` is `null` is left out.
 */
function handshakeRequest({ path = '/', method = 'GET', headers = {}, host = '127.0.0.1' } = {}) {
  const defaults = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': SAMPLE_KEY,
    'Sec-WebSocket-Version': '13'
  };
  const lines = [`${method} ${path} HTTP/1.1`];
  const lower = Object.fromEntries(Object.keys(headers).map((k) => [k.toLowerCase(), k]));

  for (const [name, value] of Object.entries(defaults)) {
    const override = lower[name.toLowerCase()];
    if (override === undefined) lines.push(`${name}: ${value}`);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) continue;
    for (const v of [].concat(value)) lines.push(`${name}: ${v}`);
  }

  return lines.join('\r\n') + '\r\n\r\n';
}

class RawClient {
  /**
   * @param {Number} port
   * @param {Object} [opts]
   * @param {String} [opts.request] the full request to write; else
   *     `handshakeRequest(opts)`
   * @param {Boolean} [opts.replyToClose=true] answer a close frame from the
   *     server with a close frame carrying the same payload
   */
  constructor(port, opts = {}) {
    this.received = Buffer.alloc(0);
    this.headEnd = -1;
    this.closeSent = false;
    this.replyToClose = opts.replyToClose !== false;
    this.ended = false;
    this.waiters = new Set();

    this.socket = track(net.connect(port, '127.0.0.1'));
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => {
      this.error = err;
    });
    this.closed = bounded(
      new Promise((resolve) => this.socket.once('close', resolve)),
      'raw client socket close'
    );
    this.closed.catch(() => {});
    this.socket.on('end', () => {
      this.ended = true;
    });
    this.socket.on('data', (chunk) => {
      this.received = Buffer.concat([this.received, chunk]);
      if (this.headEnd === -1) {
        const i = this.received.indexOf('\r\n\r\n');
        if (i !== -1) this.headEnd = i + 4;
      }
      if (this.headEnd !== -1 && this.replyToClose && !this.closeSent) {
        const close = this.frames().find((f) => f.opcode === OP.CLOSE);
        if (close) this.send(frame(OP.CLOSE, close.payload));
      }
      this.check();
    });
    this.socket.on('close', () => this.check(true));
    this.socket.write(opts.request !== undefined ? opts.request : handshakeRequest(opts));
  }

  check(closed = false) {
    for (const w of this.waiters) {
      if (w.predicate(this) || closed) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  /**
   * Waits until `predicate(this)` is true or the socket closes.
   */
  until(predicate, label = 'raw client condition') {
    if (predicate(this) || this.socket.destroyed) return Promise.resolve();
    const { promise, resolve } = deferred();
    this.waiters.add({ predicate, resolve });
    return bounded(promise, label);
  }

  /**
   * Waits for the response head; returns `{ status, head }`.
   */
  async head() {
    await this.until((c) => c.headEnd !== -1, 'response head');
    if (this.headEnd === -1) {
      throw new Error(`No response head; received ${JSON.stringify(this.received.toString())}`);
    }
    const head = this.received.subarray(0, this.headEnd).toString('latin1');
    return { status: Number(head.split(' ')[1]), head };
  }

  /** The bytes after the response head. */
  body() {
    return this.headEnd === -1 ? Buffer.alloc(0) : this.received.subarray(this.headEnd);
  }

  frames() {
    return parseFrames(this.body()).frames;
  }

  async waitFrames(n, label = `${n} frame(s)`) {
    await this.until((c) => c.frames().length >= n, label);
    return this.frames();
  }

  send(buf) {
    if (buf.length >= 2 && (buf[0] & 0x0f) === OP.CLOSE) this.closeSent = true;
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  /**
   * Everything the server wrote, once it has closed the connection.
   */
  async all() {
    await this.closed;
    return this.received;
  }
}

//
// Recording what happens on a server-side WebSocket.
//

/**
 * A comparable description of a 'message' payload.
 */
function describeData(data) {
  if (Buffer.isBuffer(data)) return { type: 'Buffer', data: digest(data) };
  if (data instanceof ArrayBuffer) return { type: 'ArrayBuffer', data: digest(Buffer.from(data)) };
  if (Array.isArray(data)) {
    return {
      type: 'Array',
      pieces: data.map((d) => (Buffer.isBuffer(d) ? d.length : typeof d)),
      data: digest(Buffer.concat(data))
    };
  }
  if (typeof Blob !== 'undefined' && data instanceof Blob) return { type: 'Blob', size: data.size };
  return { type: typeof data, value: String(data) };
}

function describeError(err) {
  return {
    name: err.constructor.name,
    message: err.message,
    code: err.code
  };
}

/**
 * Records the events of a WebSocket into `log`. An 'error' listener is always
 * installed, so that a protocol error never crashes the process.
 */
function record(ws, log) {
  ws.on('message', (data, isBinary) => log.push(['message', describeData(data), isBinary]));
  ws.on('ping', (data) => log.push(['ping', digest(data)]));
  ws.on('pong', (data) => log.push(['pong', digest(data)]));
  ws.on('error', (err) => log.push(['error', describeError(err)]));
  ws.on('close', (code, reason) => {
    log.push(['close', code, Buffer.isBuffer(reason) ? reason.toString() : { notABuffer: String(reason) }]);
  });
  return log;
}

/** A 'connection' listener that echoes every message with the same type. */
function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/**
 * Runs one scenario against a server of `WS` with a raw client.
 *
 * @param {Object} WS the module (ws or ws-native)
 * @param {Object} s
 * @param {Object} [s.options] WebSocketServer options
 * @param {Function} [s.server] `(ws, req, log)` called on 'connection', after
 *     the recorder is installed
 * @param {Function} s.client `async (raw, ctx)` drives the raw client; `ctx`
 *     has `connected` (a promise of the server-side ws) and `log`
 * @param {Boolean} [s.waitClose=true] wait for the server-side 'close' event
 * @return {Promise<Object>} `{ head, frames, rest, events, extra }`
 */
async function rawScenario(WS, s) {
  const { wss, port } = await listenWss(WS, s.options);
  const log = [];
  const connected = deferred();
  const wsClosed = deferred();
  const extra = {};

  wss.on('connection', (ws, req) => {
    record(ws, log);
    ws.on('close', () => wsClosed.resolve());
    if (s.server) s.server(ws, req, log, extra);
    connected.resolve(ws);
  });

  const raw = new RawClient(port, s.request || {});
  const { head } = await raw.head();
  await s.client(raw, { connected: bounded(connected.promise, 'connection'), log, extra });
  await raw.closed;
  if (s.waitClose !== false && head.startsWith('HTTP/1.1 101')) {
    await bounded(wsClosed.promise, 'server-side close event');
  }

  const { frames, rest } = parseFrames(raw.body());
  return {
    head,
    frames: describeFrames(frames),
    rest: rest.toString('hex'),
    events: log,
    extra
  };
}

/**
 * Runs `scenario(WS, name)` against ws and then against the module under
 * test, asserts deep equality and returns ws's result (for further absolute
 * assertions).
 */
async function differential(scenario) {
  const expected = await scenario(ref(), 'ws');
  await cleanup();
  const actual = await scenario(sut(), WS_IMPL);
  assert.deepEqual(actual, expected);
  return expected;
}

/**
 * Writes `request` on a raw socket and resolves with every byte the server
 * sent until it closed the connection.
 */
async function rawExchange(port, request) {
  const raw = new RawClient(port, { request, replyToClose: false });
  return (await raw.all()).toString('latin1');
}

/**
 * Removes the `Date` header (the only part of Node's own HTTP replies that
 * changes between runs).
 */
function stripDate(text) {
  return text.replace(/\r\nDate: [^\r]*/i, '');
}

/**
 * Opens a ws client (from npm) and waits for 'open'. `prepare(ws)` runs
 * before the handshake, to install listeners that must not miss messages
 * arriving in the same chunk as the 101.
 */
async function openClient(url, protocols, options, prepare) {
  const WebSocket = ref();
  const ws = track(new WebSocket(url, protocols, options));
  ws.on('error', () => {});
  if (prepare) prepare(ws);
  await onceEvent(ws, 'open', `client open ${url}`);
  return ws;
}

function acceptFor(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

let certificate;

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made once with the
 * openssl CLI (`null` without it).
 */
function selfSigned() {
  if (certificate !== undefined) return certificate;
  const { execFileSync } = require('node:child_process');
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-native-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'
    ], { stdio: 'pipe', timeout: 20000 });
    certificate = {
      key: fs.readFileSync(path.join(dir, 'key.pem')),
      cert: fs.readFileSync(path.join(dir, 'cert.pem'))
    };
  } catch {
    certificate = null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return certificate;
}

module.exports = {
  selfSigned,
  GUID,
  IS_NATIVE,
  OP,
  SAMPLE_ACCEPT,
  SAMPLE_KEY,
  WAIT_MS,
  WS_IMPL,
  RawClient,
  acceptFor,
  bounded,
  cleanup,
  closePayload,
  deferred,
  describeData,
  describeError,
  describeFrames,
  differential,
  digest,
  echo,
  frame,
  handshakeRequest,
  listenHttp,
  listenWss,
  onceEvent,
  openClient,
  parseFrames,
  rawExchange,
  rawScenario,
  record,
  ref,
  stripDate,
  sut,
  track
};
