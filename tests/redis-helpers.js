'use strict';

//
// Helpers for the Redis adapter tests: a redis-server of the test's own on
// 127.0.0.1 and a free port, a raw RESP client to look at it (independent of
// the client libraries under test), and the client libraries themselves.
//
// The libraries are devDependencies under these names:
//
//   redis4 (redis@4), redis5 (redis@5), redis (redis@6, the latest),
//   ioredis5 (ioredis@5), ioredis (ioredis@6, the latest)
//

const { execFileSync, spawn } = require('node:child_process');
const net = require('node:net');

const { bounded } = require('./helpers');

const FLAVOURS = ['redis4', 'redis5', 'redis', 'ioredis5', 'ioredis'];

const INSTALL_HINT =
  'redis-server not found: install it (Debian: apt-get install -y ' +
  'redis-server) to run the Redis adapter tests';

/**
 * The path of redis-server, or `null`.
 */
function findRedisServer() {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], {
      encoding: 'utf8'
    }).trim() || null;
  } catch {
    return null;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` (sync or async) until it returns a truthy value, for at most
 * `ms`.
 */
async function waitFor(check, label, ms = 5000, every = 20) {
  const deadline = Date.now() + ms;
  let last;

  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }

    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${ms} ms: ${label}${last ? ` (${last.message})` : ''}`
      );
    }

    await sleep(every);
  }
}

/**
 * A redis-server of our own: no persistence, 127.0.0.1 only.
 */
class RedisServer {
  constructor(bin) {
    this.bin = bin;
    this.port = 0;
    this.child = null;
    this.output = '';
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts the server: on a free port the first time, on the same port after
   * `stop()` (a restart). Resolves once it answers PING.
   */
  async start() {
    const samePort = this.port !== 0;

    for (let attempt = 1; ; attempt++) {
      if (!samePort) this.port = await freePort();

      try {
        await this._spawn();
        return;
      } catch (err) {
        // Another process took the port after freePort(): take another.
        if (samePort || attempt === 5) throw err;
      }
    }
  }

  async _spawn() {
    const child = spawn(
      this.bin,
      [
        '--port', String(this.port),
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no'
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );

    this.child = child;
    this.output = '';
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdout.on('data', (chunk) => (this.output += chunk));
    child.stderr.on('data', (chunk) => (this.output += chunk));

    try {
      await Promise.race([
        waitFor(() => command(this.port, ['PING']), 'redis-server PING'),
        this.exited.then(() => {
          throw new Error(`redis-server exited: ${this.output.slice(-300)}`);
        })
      ]);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Kills the server (SIGKILL: as a crash, nothing sent to the clients). */
  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** A crash and a start on the same port. */
  async restart(downMs = 200) {
    await this.stop();
    await sleep(downMs);
    await this.start();
  }
}

//
// A raw RESP2 client: one command a connection.
//

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];

  for (const arg of args) {
    const buf = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${buf.length}\r\n`), buf, Buffer.from('\r\n'));
  }

  return Buffer.concat(parts);
}

/**
 * Parses one reply at `pos`: `{ value, end }`, or `null` if incomplete.
 * Bulk strings come as Buffers.
 */
function parseReply(buf, pos = 0) {
  const eol = buf.indexOf('\r\n', pos);
  if (eol === -1) return null;

  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);

  switch (type) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: new Error(line), end: eol + 2 };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + length + 2) return null;
      return {
        value: buf.subarray(eol + 2, eol + 2 + length),
        end: eol + 2 + length + 2
      };
    }
    case '*': {
      const count = Number(line);
      const value = [];
      let end = eol + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, end);
        if (item === null) return null;
        value.push(item.value);
        end = item.end;
      }
      return { value, end };
    }
    default:
      throw new Error(`unexpected RESP type ${type}`);
  }
}

/**
 * Sends one command to the redis-server on 127.0.0.1:`port` and resolves
 * with its reply (an error reply rejects).
 */
function command(port, args, ms = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${args[0]} within ${ms} ms`));
    }, ms);

    const done = (err, value) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };

    socket.on('error', (err) => done(err));
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      let reply;
      try {
        reply = parseReply(received);
      } catch (err) {
        done(err);
        return;
      }
      if (reply === null) return;
      if (reply.value instanceof Error) done(reply.value);
      else done(null, reply.value);
    });
  });
}

/**
 * How many connections are subscribed to `channel` (PUBSUB NUMSUB).
 */
async function numsub(port, channel) {
  const reply = await command(port, ['PUBSUB', 'NUMSUB', channel]);
  return reply[1];
}

/**
 * The channels that have subscribers and start with `prefix`, sorted.
 */
async function channels(port, prefix) {
  // PUBSUB CHANNELS takes a pattern: escape the prefix's glob characters.
  const pattern = prefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
  const reply = await command(port, ['PUBSUB', 'CHANNELS', pattern]);
  return reply.map(String).sort();
}

//
// The client libraries.
//

function isIoredis(flavour) {
  return flavour.startsWith('ioredis');
}

/**
 * A pub and a sub client of `flavour`, connected to `url` (unless
 * `connect: false`, then still connecting when this resolves). Client
 * errors are recorded in `errors`, as an application is told to by both
 * libraries.
 *
 * @param {String} flavour One of FLAVOURS
 * @param {String} url
 * @param {Object} [options]
 * @param {Boolean} [options.offlineQueue=true] Whether commands given while
 *     disconnected are queued (both libraries' default) or refused
 * @param {Boolean} [options.autoResubscribe=true] ioredis's option
 * @param {Boolean} [options.wait=true] Whether to wait until both are ready
 */
async function connectClients(flavour, url, options = {}) {
  const { offlineQueue = true, autoResubscribe = true, wait = true } = options;
  const errors = [];
  // A quick retry: the tests restart Redis and should not wait long.
  const delay = (attempt) => Math.min(20 * attempt, 200);
  let pub, sub;

  if (isIoredis(flavour)) {
    const Redis = require(flavour);
    pub = new Redis(url, {
      enableOfflineQueue: offlineQueue,
      retryStrategy: delay,
      autoResubscribe
    });
    sub = pub.duplicate();
  } else {
    const { createClient } = require(flavour);
    pub = createClient({
      url,
      disableOfflineQueue: !offlineQueue,
      socket: { reconnectStrategy: delay }
    });
    sub = pub.duplicate();
  }

  for (const client of [pub, sub]) {
    client.on('error', (err) => errors.push(err));
  }

  let ready;

  if (isIoredis(flavour)) {
    ready = Promise.all(
      [pub, sub].map((c) =>
        c.status === 'ready'
          ? undefined
          : new Promise((resolve) => c.once('ready', resolve))
      )
    );
  } else {
    ready = Promise.all([pub.connect(), sub.connect()]);
  }

  if (wait) {
    await bounded(ready, `${flavour} clients ready`);
  } else {
    ready.catch(() => {});
  }

  return { pub, sub, errors, flavour };
}

/**
 * Whether a client of either library is connected and ready.
 */
function isReady(client) {
  return typeof client.status === 'string'
    ? client.status === 'ready'
    : client.isReady;
}

/**
 * Closes a client of either library at once, whatever its state.
 */
async function closeClient(client) {
  try {
    if (typeof client.status === 'string') {
      client.disconnect();
    } else if (client.isOpen) {
      await (typeof client.destroy === 'function'
        ? client.destroy()
        : client.disconnect());
    }
  } catch {
    // Closed already.
  }
}

module.exports = {
  FLAVOURS,
  INSTALL_HINT,
  RedisServer,
  bounded,
  channels,
  closeClient,
  command,
  connectClients,
  findRedisServer,
  isIoredis,
  isReady,
  numsub,
  sleep,
  waitFor
};
