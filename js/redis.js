'use strict';

//
// The Redis adapter: shares the topics of several WebSocketServers (processes,
// machines) through Redis pub/sub.
//
//   const { createAdapter } = require('ws-native/redis');
//   new WebSocketServer({ port, adapter: createAdapter(pub, sub) });
//
// The server's topic registry (the "hub") delivers a publish to its own
// subscribers, then hands it to `adapter.publish()`, which sends it to the
// channel `${prefix}${topic}` wrapped in an envelope:
//
//   byte 0       version (high nibble) and flags (binary, compress)
//   bytes 1-8    origin: a random id of the adapter that published
//   bytes 9-14   sequence number of that origin (48-bit, big-endian)
//   bytes 15-    the payload, as given
//
// Each adapter subscribes (SUBSCRIBE, never PSUBSCRIBE: topics are arbitrary
// strings, glob characters included) to the channels of the topics that have
// local subscribers, drops its own messages (already delivered locally) and
// hands the others to `hub.deliver()`. The sequence number drops a message
// seen twice (ioredis resends a PUBLISH that was in flight when the
// connection broke, which may have reached Redis already).
//
// The clients are the application's own: node-redis (`redis` 4 or later) or
// ioredis, told apart by their shape. Nothing here throws into the hub or
// into a client's callbacks: failures become `'error'` events and the
// `dropped` count.
//

const { Buffer } = require('buffer');
const EventEmitter = require('events');
const { randomBytes } = require('crypto');

const VERSION = 1;
const FLAG_BINARY = 0x01;
const FLAG_COMPRESS = 0x02;
const ORIGIN_OFFSET = 1;
const ORIGIN_LENGTH = 8;
const SEQ_OFFSET = ORIGIN_OFFSET + ORIGIN_LENGTH;
const SEQ_LENGTH = 6;
const HEADER_LENGTH = SEQ_OFFSET + SEQ_LENGTH;

const DEFAULT_PREFIX = 'ws-native:';

//
// Origins whose last sequence number is remembered. Past it the oldest are
// forgotten: an origin forgotten and heard from again only loses the
// duplicate check for its next message.
//
const MAX_ORIGINS = 4096;

//
// Channels per SUBSCRIBE when resubscribing everything: one command, not
// thousands, but no argument list too long to spread.
//
const BATCH = 1024;

//
// Subscriber connections in use by an open adapter. UNSUBSCRIBE is per
// connection with ioredis, so two adapters on one connection would
// unsubscribe each other.
//
const subClientsInUse = new WeakSet();

/**
 * Shares topics between WebSocketServers through Redis pub/sub. Made by
 * `createAdapter()`; the server calls `attach()`, `addTopic()`,
 * `removeTopic()` and `publish()`, the application `close()`.
 *
 * @extends EventEmitter
 */
class RedisAdapter extends EventEmitter {
  /**
   * @param {Object} pubClient A node-redis or ioredis client, used to
   *     PUBLISH
   * @param {Object} subClient Another connection (e.g.
   *     `pubClient.duplicate()`), put in subscriber mode by the adapter
   * @param {Object} [options]
   * @param {String} [options.prefix='ws-native:'] The prefix of the channel
   *     names: a topic's channel is `${prefix}${topic}`
   */
  constructor(pubClient, subClient, options = {}) {
    super();

    const onMessage = (channel, message) => this._receive(channel, message);
    const pub = clientApi(pubClient, 'pubClient', onMessage);
    const sub = clientApi(subClient, 'subClient', onMessage);

    if (pubClient === subClient) {
      throw new TypeError(
        'createAdapter(): pubClient and subClient must be two connections ' +
          '(a connection in subscriber mode cannot publish): pass ' +
          'pubClient.duplicate() as subClient'
      );
    }

    if (subClientsInUse.has(subClient)) {
      throw new Error(
        'createAdapter(): this subClient is used by another adapter: give ' +
          'each adapter its own subClient (pubClient.duplicate()), or ' +
          'close() the other adapter first'
      );
    }

    const { prefix = DEFAULT_PREFIX } = options || {};

    if (typeof prefix !== 'string') {
      throw new TypeError('createAdapter(): options.prefix must be a string');
    }

    subClientsInUse.add(subClient);

    this.prefix = prefix;

    this._pub = pub;
    this._sub = sub;
    this._subClient = subClient;
    this._hub = null;
    this._closed = false;
    this._closing = null;
    this._dropped = 0;
    this._warned = false;

    //
    // Channel -> { topic, want, on, busy }: `want` is whether the topic has
    // local subscribers, `on` whether Redis confirmed the last SUBSCRIBE
    // (true) or UNSUBSCRIBE (false), `busy` whether one is on its way. One
    // command at a time per channel, so that a quick remove/add cannot leave
    // the subscription in the wrong state.
    //
    this._channels = new Map();

    this._origin = randomBytes(ORIGIN_LENGTH);
    this._originKey = this._origin.toString('latin1');
    this._seq = 0;
    this._lastSeq = new Map();

    // Counts the subscriber connection's 'ready' events (see `_sync()`).
    this._epoch = 0;
    this._onReady = () => {
      this._epoch++;
      this._resubscribe();
    };
    this._onPublishError = (err) => {
      this._dropped++;
      this._error('a publish was dropped', err);
    };
  }

  /**
   * The number of publishes that Redis did not take: refused or failed by
   * the client (connection closed, offline queue off or full, ...).
   *
   * @type {Number}
   */
  get dropped() {
    return this._dropped;
  }

  /**
   * Connects the adapter to a server's topic registry. Called once, by the
   * server.
   *
   * @param {Object} hub
   * @param {Function} hub.deliver `(topic, payload, isBinary, compress)`:
   *     delivers a message from another process to the local subscribers
   * @param {Function} hub.topics Returns the topics that have local
   *     subscribers
   * @throws {Error} If the adapter is attached already, or closed
   */
  attach(hub) {
    if (this._hub) {
      throw new Error('one adapter per server: call createAdapter() for each');
    }

    if (this._closed) {
      throw new Error(
        'this adapter is closed: call createAdapter() for a new one'
      );
    }

    if (
      !hub ||
      typeof hub.deliver !== 'function' ||
      typeof hub.topics !== 'function'
    ) {
      throw new TypeError(
        'adapter.attach(): the hub must have deliver() and topics()'
      );
    }

    this._hub = hub;
    this._sub.listen(this._onReady);

    for (const topic of hub.topics()) this.addTopic(topic);
  }

  /**
   * Subscribes to a topic's channel: the topic got its first local
   * subscriber.
   *
   * @param {String} topic
   */
  addTopic(topic) {
    if (this._closed) return;

    const channel = this.prefix + topic;
    let entry = this._channels.get(channel);

    if (entry === undefined) {
      entry = { topic: String(topic), want: true, on: false, busy: false };
      this._channels.set(channel, entry);
    } else {
      entry.want = true;
    }

    this._sync(channel, entry);
  }

  /**
   * Unsubscribes from a topic's channel: its last local subscriber left.
   *
   * @param {String} topic
   */
  removeTopic(topic) {
    if (this._closed) return;

    const channel = this.prefix + topic;
    const entry = this._channels.get(channel);

    if (entry === undefined) return;

    entry.want = false;
    this._sync(channel, entry);
  }

  /**
   * Sends a message to the other processes. Called by the hub after it
   * delivered the message locally. `payload` is copied at once: the caller
   * may reuse it.
   *
   * @param {String} topic
   * @param {(Buffer|Uint8Array|String)} payload
   * @param {Boolean} isBinary
   * @param {Boolean} compress
   */
  publish(topic, payload, isBinary, compress) {
    if (this._closed) return;

    let envelope;

    try {
      envelope = encode(
        this._origin,
        ++this._seq,
        payload,
        isBinary,
        compress
      );
    } catch (err) {
      this._dropped++;
      this._error('a publish was dropped', err);
      return;
    }

    this._pub.publish(this.prefix + topic, envelope, this._onPublishError);
  }

  /**
   * Unsubscribes from every channel and stops delivering. The clients are
   * the application's: they are left open.
   *
   * @return {Promise<void>} Resolves once Redis confirmed the UNSUBSCRIBE,
   *     at once if the subscriber connection is down (its client sends the
   *     command when it is back)
   */
  close() {
    if (this._closing) return this._closing;

    this._closed = true;
    if (this._hub) this._sub.unlisten(this._onReady);
    subClientsInUse.delete(this._subClient);

    const channels = [...this._channels.keys()];
    this._channels.clear();

    if (channels.length === 0) {
      this._closing = Promise.resolve();
      return this._closing;
    }

    const done = [];

    for (let i = 0; i < channels.length; i += BATCH) {
      done.push(
        this._sub
          .unsubscribe(channels.slice(i, i + BATCH))
          .catch((err) => this._error('UNSUBSCRIBE failed', err))
      );
    }

    this._closing = this._sub.isReady()
      ? Promise.all(done).then(() => {})
      : Promise.resolve();

    return this._closing;
  }

  /**
   * Sends the SUBSCRIBE or UNSUBSCRIBE that brings a channel to the state the
   * hub wants, unless one is on its way already.
   *
   * @private
   */
  _sync(channel, entry) {
    if (entry.busy || this._closed) return;

    if (entry.want === entry.on) {
      if (!entry.want) this._channels.delete(channel);
      return;
    }

    //
    // Nothing is sent while the connection is down: its 'ready' brings every
    // channel to the state wanted (`_resubscribe()`). node-redis 4 queues
    // SUBSCRIBE and UNSUBSCRIBE even with its offline queue off, and loses
    // count of them across a reconnection: a reply it did not expect then
    // throws in its socket's 'data' handler (node-redis#2597, #2626).
    //
    if (!this._sub.isReady()) return;

    const want = entry.want;
    const epoch = this._epoch;
    const readyAtStart = this._sub.isReady();
    const command = want
      ? this._sub.subscribe([channel])
      : this._sub.unsubscribe([channel]);

    entry.busy = true;
    command.then(
      () => {
        entry.busy = false;

        //
        // A command that straddled a reconnection is sent once more:
        // node-redis 4 replays its subscriptions when it reconnects after
        // the UNSUBSCRIBEs queued while it was down, which brings their
        // channels back in Redis (and takes the adapter's listener off).
        //
        if (readyAtStart && this._sub.isReady() && epoch === this._epoch) {
          entry.on = want;
        } else {
          entry.on = !entry.want;
        }

        this._sync(channel, entry);
      },
      (err) => {
        entry.busy = false;
        //
        // Tried again when the connection is ready again, not now: the
        // client would most likely refuse it for the same reason.
        //
        this._error(
          `${want ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} failed (tried again once ` +
            'reconnected)',
          err
        );
      }
    );
  }

  /**
   * The subscriber connection is ready again (Redis restarted, network
   * back). node-redis resubscribes by itself, ioredis does unless
   * `autoResubscribe` is off, and neither retries a SUBSCRIBE that failed
   * when the connection broke: so subscribe to every wanted channel again
   * (node-redis sends nothing for channels it knows, Redis ignores a
   * SUBSCRIBE to a channel already subscribed), and finish the UNSUBSCRIBEs
   * that failed.
   *
   * @private
   */
  _resubscribe() {
    if (this._closed) return;

    const channels = [];
    const entries = [];

    for (const [channel, entry] of this._channels) {
      if (entry.busy) continue;

      if (entry.want) {
        entry.busy = true;
        channels.push(channel);
        entries.push(entry);
      } else {
        this._sync(channel, entry);
      }
    }

    for (let i = 0; i < channels.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      const names = channels.slice(i, i + BATCH);

      this._sub.subscribe(names).then(
        () => {
          for (let j = 0; j < batch.length; j++) {
            batch[j].busy = false;
            batch[j].on = true;
            this._sync(names[j], batch[j]);
          }
        },
        (err) => {
          for (let j = 0; j < batch.length; j++) {
            batch[j].busy = false;
            batch[j].on = false;
          }
          this._error('SUBSCRIBE failed (tried again once reconnected)', err);
        }
      );
    }
  }

  /**
   * A message from Redis.
   *
   * @param {Buffer} channel
   * @param {Buffer} message
   * @private
   */
  _receive(channel, message) {
    if (this._closed || this._hub === null) return;

    const entry = this._channels.get(channel.toString());

    //
    // Not ours (another user of the connection), or a topic whose last
    // local subscriber left while the message was on its way.
    //
    if (entry === undefined || !entry.want) return;

    if (message.length < HEADER_LENGTH || message[0] >> 4 !== VERSION) {
      this._error(
        `ignored a message on ${channel} that is not in this adapter's ` +
          'format (another program, or another version of ws-native, ' +
          'publishes to this prefix)'
      );
      return;
    }

    const origin = message.toString(
      'latin1',
      ORIGIN_OFFSET,
      ORIGIN_OFFSET + ORIGIN_LENGTH
    );

    if (origin === this._originKey) return;

    const seq = message.readUIntBE(SEQ_OFFSET, SEQ_LENGTH);
    const last = this._lastSeq.get(origin);

    if (last === undefined) {
      if (this._lastSeq.size >= MAX_ORIGINS) {
        this._lastSeq.delete(this._lastSeq.keys().next().value);
      }
    } else if (seq <= last) {
      return;
    }

    this._lastSeq.set(origin, seq);

    try {
      this._hub.deliver(
        entry.topic,
        message.subarray(HEADER_LENGTH),
        (message[0] & FLAG_BINARY) !== 0,
        (message[0] & FLAG_COMPRESS) !== 0
      );
    } catch (err) {
      this._error('hub.deliver() threw', err);
    }
  }

  /**
   * Reports an error as an `'error'` event, or, with no listener, as one
   * process warning (an `'error'` without listener would throw into the
   * client or the hub).
   *
   * @param {String} what What went wrong
   * @param {*} [cause] The error from the client or the hub
   * @private
   */
  _error(what, cause) {
    const error =
      cause === undefined
        ? new Error(`ws-native/redis: ${what}`)
        : new Error(
            `ws-native/redis: ${what}: ${cause && cause.message ? cause.message : cause}`,
            { cause }
          );

    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
      return;
    }

    if (this._warned) return;

    this._warned = true;
    process.emitWarning(
      `${error.message} (later errors are not shown: listen to the ` +
        "adapter's 'error' event)",
      { code: 'WS_NATIVE_REDIS_ERROR' }
    );
  }
}

/**
 * Makes a Redis adapter for `new WebSocketServer({ adapter })`.
 *
 * @param {Object} pubClient A node-redis (`createClient()`, v4 or later) or
 *     ioredis (`new Redis()`) client, connected or connecting
 * @param {Object} subClient Another connection of either kind, e.g.
 *     `pubClient.duplicate()`: the adapter puts it in subscriber mode
 * @param {Object} [options]
 * @param {String} [options.prefix='ws-native:'] The prefix of the channel
 *     names
 * @return {RedisAdapter}
 */
function createAdapter(pubClient, subClient, options) {
  return new RedisAdapter(pubClient, subClient, options);
}

/**
 * Wraps a payload in the envelope.
 *
 * @private
 */
function encode(origin, seq, payload, isBinary, compress) {
  const isString = typeof payload === 'string';
  const length = isString ? Buffer.byteLength(payload) : payload.byteLength;
  const envelope = Buffer.allocUnsafe(HEADER_LENGTH + length);

  envelope[0] =
    (VERSION << 4) |
    (isBinary ? FLAG_BINARY : 0) |
    (compress ? FLAG_COMPRESS : 0);
  origin.copy(envelope, ORIGIN_OFFSET);
  envelope.writeUIntBE(seq, SEQ_OFFSET, SEQ_LENGTH);

  if (isString) envelope.write(payload, HEADER_LENGTH);
  else envelope.set(payload, HEADER_LENGTH);

  return envelope;
}

/**
 * The few calls the adapter makes on a client, the same for node-redis and
 * ioredis.
 *
 * @param {Object} client
 * @param {String} name `'pubClient'` or `'subClient'`, for the error
 * @param {Function} onMessage `(channel, message)`, both Buffers
 * @return {Object}
 * @throws {TypeError} If `client` is neither
 * @private
 */
function clientApi(client, name, onMessage) {
  if (isIoredis(client)) return ioredisApi(client, onMessage);
  if (isNodeRedis(client)) return nodeRedisApi(client, onMessage);

  let got;

  if (client === null || typeof client !== 'object') {
    got = typeof client === 'string' ? 'a string (a URL?)' : String(client);
  } else {
    got = `an object${client.constructor ? ` (${client.constructor.name})` : ''}`;
  }

  throw new TypeError(
    `createAdapter(): ${name} must be a node-redis client (createClient() ` +
      "from the 'redis' package, v4 or later, not its legacy() interface) " +
      "or an ioredis client (new Redis() from the 'ioredis' package), " +
      `created by the application; got ${got}`
  );
}

function isIoredis(client) {
  return (
    client !== null &&
    typeof client === 'object' &&
    typeof client.status === 'string' &&
    typeof client.subscribe === 'function' &&
    typeof client.publish === 'function' &&
    typeof client.on === 'function'
  );
}

function isNodeRedis(client) {
  return (
    client !== null &&
    typeof client === 'object' &&
    typeof client.isOpen === 'boolean' &&
    typeof client.isReady === 'boolean' &&
    typeof commandsOf(client).subscribe === 'function' &&
    typeof commandsOf(client).publish === 'function' &&
    typeof client.on === 'function'
  );
}

/**
 * node-redis 4 in `legacyMode` keeps the promise API under `client.v4` (a
 * getter that throws when not in that mode).
 *
 * @private
 */
function commandsOf(client) {
  const options = client.options;
  return options && options.legacyMode ? client.v4 : client;
}

/**
 * node-redis: messages go to the listener given with SUBSCRIBE, as Buffers
 * with `bufferMode` (its third argument, v4 and later). UNSUBSCRIBE with
 * that listener leaves the channel's other listeners alone.
 *
 * @private
 */
function nodeRedisApi(client, onMessage) {
  const commands = commandsOf(client);
  const listener = (message, channel) => onMessage(channel, message);

  return {
    isReady: () => client.isReady,
    listen(onReady) {
      client.on('ready', onReady);
    },
    unlisten(onReady) {
      client.removeListener('ready', onReady);
    },
    publish(channel, message, onError) {
      call(() => commands.publish(channel, message), onError);
    },
    subscribe: (channels) =>
      promise(() => commands.subscribe(channels, listener, true)),
    unsubscribe: (channels) =>
      promise(() => commands.unsubscribe(channels, listener, true))
  };
}

/**
 * ioredis: messages come as `'messageBuffer'` events (channel and message as
 * Buffers) for every channel of the connection.
 *
 * @private
 */
function ioredisApi(client, onMessage) {
  return {
    isReady: () => client.status === 'ready',
    listen(onReady) {
      client.on('messageBuffer', onMessage);
      client.on('ready', onReady);
    },
    unlisten(onReady) {
      client.removeListener('messageBuffer', onMessage);
      client.removeListener('ready', onReady);
    },
    publish(channel, message, onError) {
      call(() => client.publish(channel, message), onError);
    },
    subscribe: (channels) => promise(() => client.subscribe(...channels)),
    unsubscribe: (channels) => promise(() => client.unsubscribe(...channels))
  };
}

/**
 * Runs a client call whose failure, thrown or rejected, goes to `onError`.
 *
 * @private
 */
function call(fn, onError) {
  let result;

  try {
    result = fn();
  } catch (err) {
    onError(err);
    return;
  }

  if (result && typeof result.then === 'function') {
    result.then(undefined, onError);
  }
}

/**
 * Runs a client call as a promise, a thrown error included.
 *
 * @private
 */
function promise(fn) {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

module.exports = { createAdapter, RedisAdapter };
