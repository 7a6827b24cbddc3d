'use strict';

const PerMessageDeflate = require('./permessage-deflate');
const Sender = require('./sender');
const transport = require('./transport/native');
const { NativeSender } = require('./transport/native-connection');
const { toBuffer } = require('./buffer-util');
const { FIN, RSV1 } = require('./binding');
const { OPEN } = require('./constants');

//
// Topics (pub/sub, the uWebSockets.js and Bun model) on a WebSocketServer:
// a connection subscribes to topics by name, and a message published to a
// topic goes to each of its subscribers. A publish is framed once: the
// native connections share its bytes (Rust writes them from one copy),
// the stream ones (TLS) are written the same frame. Compressed with
// permessage-deflate, it is compressed once for the subscribers whose
// server side resets its context per message (the same window size gives
// the same bytes), and per connection for the others, whose compressor
// keeps a context.
//
// With an adapter (js/redis.js), the topics of several servers are shared:
// the registry is its "hub" (`deliver()`, `topics()`), and tells it when a
// topic gets its first local subscriber or loses its last one.
//

/**
 * The topics of a server.
 */
class Topics {
  /**
   * @param {(Object|null)} adapter The adapter, if any
   */
  constructor(adapter) {
    this._map = new Map();
    this._adapter = null;

    if (adapter) {
      adapter.attach({
        deliver: (topic, payload, isBinary, compress) => {
          this._deliver(topic, payload, isBinary, compress, null);
        },
        topics: () => this._map.keys()
      });
      this._adapter = adapter;
    }
  }

  /**
   * @type {(Object|null)}
   */
  get adapter() {
    return this._adapter;
  }

  /**
   * Subscribes a connection.
   *
   * @param {WebSocket} ws The connection
   * @param {String} topic The topic
   * @return {Boolean} `true`, or `false` if the connection is not open
   * @public
   */
  subscribe(ws, topic) {
    if (ws.readyState !== OPEN) return false;

    let subscribers = this._map.get(topic);

    if (subscribers === undefined) {
      subscribers = new Set();
      this._map.set(topic, subscribers);
      if (this._adapter !== null) this._adapter.addTopic(topic);
    }

    subscribers.add(ws);

    if (ws._subscriptions === null) ws._subscriptions = new Set();
    ws._subscriptions.add(topic);
    return true;
  }

  /**
   * Unsubscribes a connection.
   *
   * @param {WebSocket} ws The connection
   * @param {String} topic The topic
   * @return {Boolean} Whether it was subscribed
   * @public
   */
  unsubscribe(ws, topic) {
    if (ws._subscriptions === null || !ws._subscriptions.delete(topic)) {
      return false;
    }

    this._remove(ws, topic);
    return true;
  }

  /**
   * Unsubscribes a connection from everything (it is closing).
   *
   * @param {WebSocket} ws The connection
   * @public
   */
  leaveAll(ws) {
    const topics = ws._subscriptions;

    if (topics === null) return;

    ws._subscriptions = null;
    for (const topic of topics) this._remove(ws, topic);
  }

  /**
   * @param {WebSocket} ws The connection
   * @param {String} topic The topic
   * @private
   */
  _remove(ws, topic) {
    const subscribers = this._map.get(topic);

    if (subscribers === undefined) return;

    subscribers.delete(ws);

    if (subscribers.size === 0) {
      this._map.delete(topic);
      if (this._adapter !== null) this._adapter.removeTopic(topic);
    }
  }

  /**
   * @param {String} topic The topic
   * @return {Number} Its local subscribers
   * @public
   */
  subscriberCount(topic) {
    const subscribers = this._map.get(topic);
    return subscribers === undefined ? 0 : subscribers.size;
  }

  /**
   * Publishes a message to a topic's subscribers, here and, with an
   * adapter, in the other servers.
   *
   * @param {String} topic The topic
   * @param {*} data The message
   * @param {Object} [options] `binary` and `compress`, as for `send()`
   * @param {(WebSocket|null)} except The connection that publishes, left
   *     out, or `null`
   * @return {Boolean} Whether a local subscriber was sent the message
   * @public
   */
  publish(topic, data, options, except) {
    let binary;
    let compress = true;

    if (typeof data === 'number') data = data.toString();

    if (options !== undefined && options !== null) {
      if (options.binary !== undefined) binary = !!options.binary;
      if (options.compress !== undefined) compress = !!options.compress;
    }

    if (binary === undefined) binary = typeof data !== 'string';

    const payload = typeof data === 'string' ? data : toBuffer(data);
    const sent = this._deliver(topic, payload, binary, compress, except);

    if (this._adapter !== null) {
      this._adapter.publish(
        topic,
        typeof payload === 'string' ? Buffer.from(payload) : payload,
        binary,
        compress
      );
    }

    return sent;
  }

  /**
   * Sends a message to the local subscribers of a topic.
   *
   * @param {String} topic The topic
   * @param {(String|Buffer)} payload The message
   * @param {Boolean} binary Whether it is binary
   * @param {Boolean} compress Whether to compress it (with
   *     permessage-deflate)
   * @param {(WebSocket|null)} except A connection left out
   * @return {Boolean} Whether a subscriber was sent the message
   * @private
   */
  _deliver(topic, payload, binary, compress, except) {
    const subscribers = this._map.get(topic);

    if (subscribers === undefined) return false;

    const flags = (binary ? 0x02 : 0x01) | FIN;
    const options = { binary, compress, fin: true, mask: false };
    let shared = null;
    let frame = null;
    let compressed = null;
    let sent = false;

    try {
      for (const ws of subscribers) {
        if (ws === except || ws.readyState !== OPEN) continue;

        const sender = ws._sender;

        sent = true;

        if (compress && wantsCompression(ws, payload)) {
          const deflate = ws._extensions[PerMessageDeflate.extensionName];

          if (!deflate.params.server_no_context_takeover) {
            //
            // Its compressor keeps a context: compressed for it alone.
            //
            sender.send(payload, options);
            continue;
          }

          if (compressed === null) compressed = new Map();

          const bits = deflate.params.server_max_window_bits || 15;
          let bytes = compressed.get(bits);

          if (bytes === undefined) {
            bytes = deflate.compressSync(toInput(payload), true);
            compressed.set(bits, bytes);
          }

          sendCompressed(sender, bytes, flags);
          continue;
        }

        if (sender instanceof NativeSender && sender.idle) {
          if (shared === null) shared = transport.share(payload);
          sender._shared(shared, flags);
        } else if (sender.idle) {
          if (frame === null) {
            frame = Sender.frame(payload, { fin: true, opcode: flags & 0x0f });
          }

          sender.sendFrame(frame);
        } else {
          //
          // Behind a blob or a compression job: queued (a copy) in order.
          //
          sender.send(payload, { ...options, compress: false });
        }
      }
    } finally {
      if (shared !== null) transport.unshare();
    }

    return sent;
  }
}

/**
 * Whether a message to a connection is compressed: permessage-deflate was
 * negotiated and the size is over the threshold (which applies only
 * without context takeover, as for `send()`).
 *
 * @param {WebSocket} ws The connection
 * @param {(String|Buffer)} payload The message
 * @return {Boolean}
 * @private
 */
function wantsCompression(ws, payload) {
  const deflate = ws._extensions[PerMessageDeflate.extensionName];

  if (deflate === undefined) return false;
  if (!deflate.params.server_no_context_takeover) return true;

  const length =
    typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;

  return length >= deflate._threshold;
}

/**
 * @param {(String|Buffer)} payload A message
 * @return {Buffer} Its bytes
 * @private
 */
function toInput(payload) {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}

/**
 * Sends bytes compressed already with RSV1, in order with the sender's
 * other frames.
 *
 * @param {Sender} sender The sender
 * @param {Buffer} bytes The compressed message
 * @param {Number} flags The frame's flags (without RSV1)
 * @private
 */
function sendCompressed(sender, bytes, flags) {
  sender._frameOrQueue(bytes, flags | RSV1, true);
}

module.exports = Topics;
