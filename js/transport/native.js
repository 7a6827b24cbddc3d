'use strict';

const { Buffer } = require('buffer');
const { markAsUntransferable } = require('worker_threads');

const binding = require('../binding');
const internals = require('../node-internals');
const { toBuffer } = require('../buffer-util');

const { native, MASK, RAW, UPGRADE, HANDOFF, LISTEN_ERROR } = binding;

//
// The native transport: plain TCP connections whose I/O Rust drives from
// Node's own libuv loop, on the main thread (src/transport/). Rust reads,
// parses (unmasks, inflates, validates) and hands JS message-level records
// once per loop wakeup, for every connection, in one call (`onBatch()`);
// JS hands Rust the frames sent in a tick in one call (`flush()`), which
// Rust frames, queues and writes with one `writev` per connection.
//
// This module is the only one that calls `native.init()`/`native.send()`;
// js/transport/native-connection.js is a connection, and
// js/transport/native-listener.js the listener of `port` mode.
//
// `WS_NATIVE_TRANSPORT=stream` in the environment turns it off.
//

const enabled = native !== null && process.env.WS_NATIVE_TRANSPORT !== 'stream';

//
// Reads are handed to JS once per loop wakeup, for every connection that
// was readable, right after the poll phase (ends and errors at once, where
// Node reports them). WS_NATIVE_BATCH=socket hands each connection's reads
// over from its own poll callback instead, as Node does (slower).
//
const perSocket = process.env.WS_NATIVE_BATCH === 'socket';

//
// Open connections and listeners by id (records of a closed one are
// dropped). Rust has one transport per thread and per copy of the addon:
// a second copy of this module over the same addon (a test runner that
// resets its module registry) shares them rather than taking the batches
// over; another copy of the package has its own addon, so its own state.
//
const kShared = Symbol.for(`ws-native.native-transport.${binding.instanceId}`);
const shared =
  process[kShared] ||
  (process[kShared] = { conns: [], listeners: [], initialized: false });
const conns = shared.conns;
const listeners = shared.listeners;

//
// The slab the current batch's bytes are in.
//
let slab = null;

//
// Connections that got records in the current batch, for their end of
// batch (see `Receiver#endBatch()`), and the batch's serial number.
//
let touched = [];
let serial = 0;

//
// The outbox: the frames native connections send in a tick, handed to
// Rust at the end of the tick with one call. Payloads up to
// MAX_STAGED bytes are copied into the stage when they are sent (a
// Buffer may be reused at once; a string is encoded straight into it);
// larger ones are passed as they are. Each frame takes six numbers in
// `meta`: connection id, flags, payload source (SRC_STAGE or an index
// into `payloads`), offset, length, masking key.
//
const STAGE_SIZE = 256 * 1024;
const MAX_STAGED = 64 * 1024;
// Payloads up to this size are compared with a loop (`sameBytes()`).
const SMALL_COMPARE = 256;
const MAX_FRAMES = 8192;
const SRC_STAGE = 0xffffffff;
const STRIDE = 6;

let stage = null;
let stageWords = null;
let stageOffset = 0;
let meta = null;
let results = null;
let payloads = [];
let frameCount = 0;
let dirty = [];
let settling = [];
let flushScheduled = false;
let exitHookInstalled = false;

//
// The last two payloads staged and where: the same string or Buffer sent to
// many connections in one tick (a broadcast) is staged once. Two, for the
// frames engine.io and socket.io-adapter encode once (`Sender.frame()`: a
// header and a payload) and hand to each connection's `sendFrame()`.
//
let lastData = null;
let lastOffset = 0;
let lastLength = 0;
// The last payload as 32-bit words, made at its second send (`sameBytes()`).
let lastWords = null;
let prevData = null;
let prevOffset = 0;
let prevLength = 0;

//
// The payload of the publish in progress (see `share()`): kept at the
// start of the stage when the outbox is flushed in the middle of it.
//
let pinned = null;

/**
 * Sets the transport up on first use.
 *
 * @public
 */
function init() {
  if (!shared.initialized) {
    shared.initialized = true;
    native.init(onBatch, perSocket, internals.eofOnHangup);
  }
}

/**
 * Registers a connection under its id, for its records.
 *
 * @param {Number} id The connection id
 * @param {NativeConnection} conn The connection
 * @public
 */
function addConnection(id, conn) {
  conns[id] = conn;
}

/**
 * @param {Number} id The connection id
 * @public
 */
function removeConnection(id) {
  conns[id] = undefined;
}

/**
 * Registers a native listener under its id, for the records of its
 * connections.
 *
 * @param {Number} id The listener id
 * @param {NativeListener} listener The listener
 * @public
 */
function addListener(id, listener) {
  listeners[id] = listener;
}

/**
 * @param {Number} id The listener id
 * @public
 */
function removeListener(id) {
  listeners[id] = undefined;
}

/**
 * Called by Rust once per loop wakeup: `records` holds `count` records of
 * four numbers (connection id, type, a, b), whose ranges are in `buffer`,
 * the slab, and `extras` the messages too large for it.
 *
 * @param {Buffer} buffer The slab
 * @param {Number} count The number of records
 * @param {Uint32Array} records The records
 * @param {(Buffer[]|undefined)} extras The large messages
 * @private
 */
function onBatch(buffer, count, records, extras) {
  //
  // Rust keeps reading into a slab after handing it over: it must never be
  // detached (transferred to a worker), which would free its memory.
  //
  if (buffer !== slab && buffer !== undefined) {
    slab = buffer;
    markAsUntransferable(buffer.buffer);
  }

  serial++;

  let i = 0;
  let error = null;
  let failed = false;

  //
  // A listener that throws must not cost the other connections their
  // events: the first error is rethrown at the end (as uncaught, as from a
  // socket's `'data'` listener), later ones in their own ticks.
  //
  while (i < count) {
    try {
      while (i < count) {
        const r = 4 * i++;
        const id = records[r];
        const type = records[r + 1];
        const kind = type & 0xff;

        if (kind >= UPGRADE) {
          onListenerRecord(kind, type >>> 8, id, records[r + 2]);
          continue;
        }

        const conn = conns[id];

        if (conn === undefined) continue;

        if (conn._serial !== serial) {
          conn._serial = serial;
          touched.push(conn);
        }

        conn._record(kind, records[r + 2], records[r + 3], slab, extras);
      }
    } catch (err) {
      if (failed) {
        process.nextTick(rethrow, err);
      } else {
        failed = true;
        error = err;
      }
    }
  }

  const list = touched;

  touched = [];

  for (let j = 0; j < list.length; j++) list[j]._endBatch(slab);

  if (failed) throw error;
}

/**
 * Handles a record of a native listener.
 *
 * @param {Number} kind The record type
 * @param {Number} lid The listener id
 * @param {Number} id The connection id (or descriptor, or listener id)
 * @param {Number} a The record's third number
 * @private
 */
function onListenerRecord(kind, lid, id, a) {
  const listener = listeners[lid];

  if (kind === UPGRADE) {
    if (listener === undefined) native.close(id, false);
    else listener._onUpgrade(id, slab, a);
  } else if (kind === HANDOFF) {
    if (listener === undefined) require('fs').closeSync(id);
    else listener._onHandoff(id);
  } else if (kind === LISTEN_ERROR && listener !== undefined) {
    listener._onAcceptError(a);
  }
}

/**
 * Puts a frame in the outbox.
 *
 * @param {NativeConnection} conn The connection
 * @param {*} data The payload (a string, or binary data)
 * @param {Number} flags The frame's flags (src/records.rs)
 * @param {Number} mask The masking key, with MASK
 * @param {Boolean} owned Whether nobody else holds `data` (a Buffer that
 *     compression made): it is passed as it is
 * @return {Number} The payload's length
 * @public
 */
function queueFrame(conn, data, flags, mask, owned) {
  if (stage === null) queueFrameSetup();
  if (frameCount === MAX_FRAMES) flush(false);

  let src = SRC_STAGE;
  let offset;
  let length;

  if (
    data === lastData &&
    lastData !== null &&
    sameBytes(data, lastOffset, lastLength)
  ) {
    offset = lastOffset;
    length = lastLength;
  } else if (
    data === prevData &&
    prevData !== null &&
    sameBytes(data, prevOffset, prevLength)
  ) {
    offset = prevOffset;
    length = prevLength;
  } else if (typeof data === 'string') {
    length = stageString(data);

    if (length === -1) {
      src = addPayload(Buffer.from(data));
      offset = 0;
      length = payloads[src].length;
    } else {
      offset = stageOffset;
      stageOffset += length;
      remember(data, offset, length);
    }
  } else {
    const payload = toBuffer(data);

    length = payload.length;

    if (owned || (length > MAX_STAGED && (flags & MASK) === 0)) {
      //
      // Large data goes out from where it is, as ws writes it (a change
      // made to it later in the same tick shows, as with a queued write).
      //
      src = addPayload(payload);
      offset = 0;
    } else if (length > MAX_STAGED) {
      //
      // Masked at the end of the tick: a snapshot now, as ws masks at once.
      //
      src = addPayload(Buffer.from(payload));
      offset = 0;
    } else {
      //
      // At a multiple of 4, so that a broadcast compares words.
      //
      stageOffset = (stageOffset + 3) & ~3;
      if (length > STAGE_SIZE - stageOffset) flush(false);
      stage.set(payload, stageOffset);
      offset = stageOffset;
      stageOffset += length;
      remember(data, offset, length);
    }
  }

  const m = STRIDE * frameCount++;

  meta[m] = conn._id;
  meta[m + 1] = flags;
  meta[m + 2] = src;
  meta[m + 3] = offset;
  meta[m + 4] = length;
  meta[m + 5] = mask;

  if (conn._outboxFrames === 0) dirty.push(conn);
  conn._outboxFrames++;
  conn._outboxLast = frameCount - 1;

  schedule();
  return length;
}

/**
 * Copies a payload for many frames (a publish): a change made to `data`
 * later does not show. The result goes to `queueShared()` for each
 * connection, until `unshare()`.
 *
 * @param {(String|Buffer)} data The payload
 * @return {Object} Where the copy is
 * @public
 */
function share(data) {
  if (stage === null) queueFrameSetup();

  let buffer = null;
  let length;

  if (typeof data === 'string') {
    length = stageString(data);
    if (length === -1) buffer = Buffer.from(data);
  } else {
    length = data.length;

    if (length > MAX_STAGED) {
      buffer = Buffer.from(data);
    } else {
      if (length > STAGE_SIZE - stageOffset) flush(false);
      stage.set(data, stageOffset);
    }
  }

  if (buffer !== null) {
    pinned = { buffer, offset: 0, length: buffer.length };
  } else {
    pinned = { buffer: null, offset: stageOffset, length };
    stageOffset += length;
  }

  return pinned;
}

/**
 * Ends what `share()` started.
 *
 * @public
 */
function unshare() {
  pinned = null;
}

/**
 * Puts a frame of a shared payload in the outbox.
 *
 * @param {NativeConnection} conn The connection
 * @param {Object} shared What `share()` returned
 * @param {Number} flags The frame's flags
 * @return {Number} The payload's length
 * @public
 */
function queueShared(conn, shared, flags) {
  if (frameCount === MAX_FRAMES) flush(false);

  const m = STRIDE * frameCount++;

  meta[m] = conn._id;
  meta[m + 1] = flags;
  meta[m + 2] = shared.buffer === null ? SRC_STAGE : addPayload(shared.buffer);
  meta[m + 3] = shared.offset;
  meta[m + 4] = shared.length;
  meta[m + 5] = 0;

  if (conn._outboxFrames === 0) dirty.push(conn);
  conn._outboxFrames++;
  conn._outboxLast = frameCount - 1;

  schedule();
  return shared.length;
}

/**
 * Makes the outbox's buffers.
 *
 * @private
 */
function queueFrameSetup() {
  stage = Buffer.allocUnsafeSlow(STAGE_SIZE);
  stageWords = new Int32Array(stage.buffer, stage.byteOffset, STAGE_SIZE >> 2);
  meta = new Uint32Array(STRIDE * MAX_FRAMES);
  results = new Float64Array(MAX_FRAMES);
}

/**
 * Puts bytes framed already (ws's `sender.sendFrame()`) in the outbox.
 *
 * @param {NativeConnection} conn The connection
 * @param {Buffer} bytes The frames
 * @return {Number} Their length
 * @public
 */
function queueRaw(conn, bytes) {
  return queueFrame(conn, bytes, RAW, 0, false);
}

/**
 * Stages a string, encoded as UTF-8, at `stageOffset`.
 *
 * @param {String} data The string
 * @return {Number} Its length in bytes, or -1 if it is too large to stage
 * @private
 */
function stageString(data) {
  if (data.length === 0) return 0;

  //
  // A UTF-16 code unit takes at most 3 bytes in UTF-8; only compute the
  // exact length when the worst case does not fit.
  //
  if (data.length * 3 > STAGE_SIZE - stageOffset) {
    const length = Buffer.byteLength(data);

    if (length > MAX_STAGED) return -1;
    if (length > STAGE_SIZE - stageOffset) flush(false);
  }

  return stage.utf8Write(data, stageOffset);
}

/**
 * @param {*} data The payload just staged
 * @param {Number} offset Where
 * @param {Number} length Its length
 * @private
 */
function remember(data, offset, length) {
  prevData = lastData;
  prevOffset = lastOffset;
  prevLength = lastLength;
  lastData = data;
  lastOffset = offset;
  lastLength = length;
  lastWords = null;
}

/**
 * Whether the bytes staged for a remembered payload are still its bytes: a
 * Buffer may change between two sends of a tick (a string cannot).
 *
 * @param {*} data The remembered payload
 * @param {Number} offset Where it was staged
 * @param {Number} length Its length then
 * @return {Boolean}
 * @private
 */
function sameBytes(data, offset, length) {
  if (typeof data === 'string') return true;

  const payload = toBuffer(data);

  if (payload.length !== length) return false;

  //
  // A broadcast compares one small message per recipient: a loop costs
  // less than the call into C++ that `compare()` makes, and a loop over
  // 32-bit words (where both sides are aligned) a quarter of one over bytes.
  //
  if (length > SMALL_COMPARE) {
    return stage.compare(payload, 0, length, offset, offset + length) === 0;
  }

  let i = 0;

  if (
    data === lastData &&
    offset === lastOffset &&
    (offset & 3) === 0 &&
    (payload.byteOffset & 3) === 0
  ) {
    if (lastWords === null) {
      lastWords = new Int32Array(payload.buffer, payload.byteOffset, length >> 2);
    }

    const words = lastWords;
    const base = offset >> 2;

    for (; i < words.length; i++) {
      if (words[i] !== stageWords[base + i]) return false;
    }

    i <<= 2;
  }

  for (; i < length; i++) {
    if (payload[i] !== stage[offset + i]) return false;
  }

  return true;
}

/**
 * @param {Buffer} payload A payload passed as it is
 * @return {Number} Its index
 * @private
 */
function addPayload(payload) {
  const last = payloads.length - 1;

  if (last >= 0 && payloads[last] === payload) return last;

  payloads.push(payload);
  return last + 1;
}

/**
 * Schedules the end-of-tick flush.
 *
 * @private
 */
function schedule() {
  if (flushScheduled) return;

  flushScheduled = true;
  process.nextTick(flushTick);

  //
  // ws writes at once, so a program may send and exit in the same tick.
  //
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', flush);
  }
}

/**
 * The flush at the end of the tick the frames were sent in: the callbacks
 * of what the sockets took at once are called from here, one tick after
 * the sends, as a stream calls those of a write that completes at once
 * (ws's sends).
 *
 * @private
 */
function flushTick() {
  flush(true);
}

/**
 * Hands the outbox to Rust: one call for every connection.
 *
 * @param {Boolean} [fromTick=false] Whether the send callbacks may be
 *     called now (else in a later tick: the caller may be a `send()`)
 * @public
 */
function flush(fromTick) {
  flushScheduled = false;
  if (frameCount === 0) return;

  const count = frameCount;
  const list = dirty;
  const list2 = payloads;

  frameCount = 0;
  stageOffset = 0;
  lastData = null;
  prevData = null;
  dirty = [];
  payloads = [];

  native.send(stage, list2, meta, count, results);

  //
  // A publish in progress keeps its staged payload: it moves to the start
  // of the stage.
  //
  if (pinned !== null && pinned.buffer === null) {
    stage.copyWithin(0, pinned.offset, pinned.offset + pinned.length);
    pinned.offset = 0;
    stageOffset = pinned.length;
  }

  const now = fromTick === true;

  //
  // The bookkeeping of every connection first (no user code runs: a
  // callback may send again, to a connection not settled yet), then the
  // callbacks of what the sockets took at once.
  //
  for (let i = 0; i < list.length; i++) {
    const conn = list[i];

    conn._outboxFrames = 0;
    conn._afterFlush(results[conn._outboxLast], now);
  }

  if (settling.length !== 0) settleAll();
}

/**
 * Has a connection's written callbacks called at the end of the flush.
 *
 * @param {NativeConnection} conn The connection
 * @public
 */
function settleLater(conn) {
  settling.push(conn);
}

/**
 * Calls the callbacks of the connections `settleLater()` was given. A
 * callback that throws does not cost the other connections theirs: the
 * first error is rethrown at the end, later ones in ticks of their own.
 *
 * @private
 */
function settleAll() {
  const list = settling;
  let error = null;
  let failed = false;

  settling = [];

  for (let i = 0; i < list.length; i++) {
    try {
      list[i]._settle();
    } catch (err) {
      if (failed) {
        process.nextTick(rethrow, err);
      } else {
        failed = true;
        error = err;
      }
    }
  }

  if (failed) throw error;
}

/**
 * @param {Error} err The error to throw
 * @private
 */
function rethrow(err) {
  throw err;
}

module.exports = {
  addConnection,
  addListener,
  enabled,
  flush,
  init,
  queueFrame,
  queueRaw,
  queueShared,
  removeConnection,
  removeListener,
  settleLater,
  share,
  unshare
};
