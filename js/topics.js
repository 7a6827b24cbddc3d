'use strict';

const { Buffer } = require('buffer');
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
   * @return {Number} What `_deliver()` returns
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
   * @param {(Object|null)} except A connection left out
   * @return {Number} The payload's length (at least 1) if every subscriber
   *     took it at once, -1 if one queued it behind backpressure, 0 if none
   *     was sent it
   * @private
   */
  _deliver(topic, payload, binary, compress, except) {
    const subscribers = this._map.get(topic);

    if (subscribers === undefined) return 0;

    const delivery = new Delivery(payload, binary, compress);
    let status = 0;

    try {
      for (const ws of subscribers) {
        if (ws === except) continue;

        const s = ws._light === true ? ws._takePublish(delivery) : toWebSocket(ws, delivery);

        //
        // 0 always means "not sent": an empty message that goes out is 1,
        // as for `send()`.
        //
        if (s === -1 || (s > 0 && status === 0)) {
          status = s === -1 ? -1 : Math.max(delivery.length, 1);
        }
      }
    } finally {
      delivery.done();
    }

    return status;
  }
}

/**
 * A message being published: framed, staged and compressed at most once,
 * when the first subscriber that needs it asks.
 */
class Delivery {
  /**
   * @param {(String|Buffer)} payload The message
   * @param {Boolean} binary Whether it is binary
   * @param {Boolean} compress Whether to compress it
   */
  constructor(payload, binary, compress) {
    this.payload = payload;
    this.binary = binary;
    this.compress = compress;
    this.flags = (binary ? 0x02 : 0x01) | FIN;
    this.length =
      typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    this._shared = null;
    this._frame = null;
    this._compressed = null;
  }

  /**
   * The payload staged once for the native transport.
   *
   * @return {Object} What `transport.share()` returned
   */
  shared() {
    if (this._shared === null) this._shared = transport.share(this.payload);
    return this._shared;
  }

  /**
   * The frame, for stream connections.
   *
   * @return {Buffer[]} The frame
   */
  frame() {
    if (this._frame === null) {
      //
      // One buffer, with a copy of the payload: what goes out is the
      // message as it was when published.
      //
      const list = Sender.frame(this.payload, {
        fin: true,
        opcode: this.flags & 0x0f
      });

      this._frame = [list.length === 1 ? list[0] : Buffer.concat(list)];
    }

    return this._frame;
  }

  /**
   * Whether a connection with these extensions gets the message compressed
   * (negotiated, and over the threshold, which applies only without
   * context takeover, as for `send()`).
   *
   * @param {Object} extensions The connection's extensions
   * @return {Boolean}
   */
  compressesFor(extensions) {
    if (!this.compress) return false;

    const deflate = extensions[PerMessageDeflate.extensionName];

    if (deflate === undefined) return false;
    if (!deflate.params.server_no_context_takeover) return true;
    return this.length >= deflate._threshold;
  }

  /**
   * The compressed message for a connection whose server side resets its
   * context per message: the same bytes for every such connection with the
   * same window size.
   *
   * @param {PerMessageDeflate} deflate The connection's extension
   * @return {Buffer} The compressed payload
   */
  compressed(deflate) {
    if (this._compressed === null) this._compressed = new Map();

    const bits = deflate.params.server_max_window_bits || 15;
    let bytes = this._compressed.get(bits);

    if (bytes === undefined) {
      bytes = deflate.compressSync(
        typeof this.payload === 'string'
          ? Buffer.from(this.payload)
          : this.payload,
        true
      );
      this._compressed.set(bits, bytes);
    }

    return bytes;
  }

  /**
   * The publish is over.
   */
  done() {
    if (this._shared !== null) transport.unshare();
  }
}

/**
 * Delivers a publish to a `WebSocket` (the ws API).
 *
 * @param {WebSocket} ws The subscriber
 * @param {Delivery} delivery The message
 * @return {Number} 1 if sent, 0 if not (the connection is not open)
 * @private
 */
function toWebSocket(ws, delivery) {
  if (ws.readyState !== OPEN) return 0;

  const sender = ws._sender;

  if (delivery.compressesFor(ws._extensions)) {
    const deflate = ws._extensions[PerMessageDeflate.extensionName];

    if (deflate.params.server_no_context_takeover) {
      sender._frameOrQueue(delivery.compressed(deflate), delivery.flags | RSV1, true);
    } else {
      //
      // Its compressor keeps a context: compressed for it alone.
      //
      sender.send(delivery.payload, {
        binary: delivery.binary,
        compress: true,
        fin: true,
        mask: false
      });
    }

    return 1;
  }

  if (sender instanceof NativeSender && sender.idle) {
    sender._shared(delivery.shared(), delivery.flags);
  } else if (sender.idle) {
    sender.sendFrame(delivery.frame());
  } else {
    //
    // Behind a blob or a compression job: queued (a copy) in order.
    //
    sender.send(delivery.payload, {
      binary: delivery.binary,
      compress: false,
      fin: true,
      mask: false
    });
  }

  return 1;
}

module.exports = Topics;
