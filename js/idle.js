'use strict';

//
// Idle timeouts for the connections of a server: a connection that has
// received nothing for `timeout` milliseconds is closed, and with pings on,
// it is pinged once it has been silent for half of that (a live peer
// answers, which counts as traffic). Only what is received counts: a
// server that keeps sending to a dead peer still finds it dead.
//
// The connections are kept in lists ordered by when they last received
// something (a move to the tail per batch of traffic, O(1)), so the next
// deadline is always at a list's head and one timer serves every
// connection, set for that exact time: small timeouts are honoured as
// given, not rounded.
//

//
// The longest delay `setTimeout()` takes (2^31 - 1 ms, about 24.8 days).
//
const MAX_DELAY = 2147483647;

/**
 * The idle timeouts of a server's connections. The tracked objects carry
 * four fields of their own: `_idlePrev`, `_idleNext`, `_idleSeen`,
 * `_idleList`.
 */
class IdleTracker {
  /**
   * @param {Number} timeout Milliseconds of silence before the close
   * @param {Boolean} pings Whether to ping at half of it
   * @param {Function} onPing Called with a connection to ping
   * @param {Function} onTimeout Called with a connection to close
   */
  constructor(timeout, pings, onPing, onTimeout) {
    this.timeout = timeout;
    this._pings = pings;
    this._onPing = onPing;
    this._onTimeout = onTimeout;

    //
    // Silent connections not pinged yet, and pinged ones, each ordered by
    // when they last received something.
    //
    this._fresh = new List();
    this._pinged = new List();
    this._timer = null;
    this._due = Infinity;
  }

  /**
   * Starts tracking a connection, as if it had just received something.
   *
   * @param {Object} conn The connection
   * @public
   */
  add(conn) {
    conn._idleSeen = Date.now();
    this._fresh.push(conn);
    this._schedule();
  }

  /**
   * The connection received something.
   *
   * @param {Object} conn The connection
   * @param {Number} [now] The time, if the caller has it
   * @public
   */
  touch(conn, now) {
    const list = conn._idleList;

    if (list === null || list === undefined) return;

    conn._idleSeen = now === undefined ? Date.now() : now;
    list.remove(conn);
    this._fresh.push(conn);

    //
    // A connection that was at the head may have set the timer: it fires
    // early at worst, and sets the next one.
    //
    if (this._timer === null) this._schedule();
  }

  /**
   * Stops tracking a connection.
   *
   * @param {Object} conn The connection
   * @public
   */
  remove(conn) {
    const list = conn._idleList;

    if (list !== null && list !== undefined) list.remove(conn);
  }

  /**
   * Stops the timer (the server is closed).
   *
   * @public
   */
  stop() {
    clearTimeout(this._timer);
    this._timer = null;
    this._due = Infinity;
  }

  /**
   * Sets the timer for the next deadline.
   *
   * @private
   */
  _schedule() {
    let due = Infinity;

    if (this._fresh.head !== null) {
      const seen = this._fresh.head._idleSeen;

      due = this._pings ? seen + this.timeout / 2 : seen + this.timeout;
    }

    if (this._pinged.head !== null) {
      due = Math.min(due, this._pinged.head._idleSeen + this.timeout);
    }

    if (due === this._due && this._timer !== null) return;

    clearTimeout(this._timer);
    this._timer = null;
    this._due = due;

    if (due !== Infinity) {
      //
      // Capped to what `setTimeout()` takes (Node makes a longer delay 1
      // ms, a busy loop): a timer that fires early sets the next one.
      //
      const delay = Math.min(Math.max(0, due - Date.now()), MAX_DELAY);

      this._timer = setTimeout(check, delay, this);
      this._timer.unref();
    }
  }
}

/**
 * The timer: pings and closes what is due, then sets the next deadline.
 *
 * @param {IdleTracker} tracker The tracker
 * @private
 */
function check(tracker) {
  tracker._timer = null;
  tracker._due = Infinity;

  const now = Date.now();
  const timeout = tracker.timeout;

  //
  // `+ 1`: a timer may fire a little before its time.
  //
  if (tracker._pings) {
    while (
      tracker._fresh.head !== null &&
      tracker._fresh.head._idleSeen + timeout / 2 <= now + 1
    ) {
      const conn = tracker._fresh.head;

      tracker._fresh.remove(conn);
      tracker._pinged.push(conn);
      tracker._onPing(conn);
    }
  }

  const late = tracker._pings ? tracker._pinged : tracker._fresh;

  while (late.head !== null && late.head._idleSeen + timeout <= now + 1) {
    const conn = late.head;

    late.remove(conn);
    tracker._onTimeout(conn);
  }

  tracker._schedule();
}

/**
 * A doubly linked list through the tracked objects' own fields.
 */
class List {
  constructor() {
    this.head = null;
    this.tail = null;
  }

  push(conn) {
    conn._idleList = this;
    conn._idlePrev = this.tail;
    conn._idleNext = null;
    if (this.tail === null) this.head = conn;
    else this.tail._idleNext = conn;
    this.tail = conn;
  }

  remove(conn) {
    if (conn._idlePrev === null) this.head = conn._idleNext;
    else conn._idlePrev._idleNext = conn._idleNext;
    if (conn._idleNext === null) this.tail = conn._idlePrev;
    else conn._idleNext._idlePrev = conn._idlePrev;
    conn._idlePrev = conn._idleNext = null;
    conn._idleList = null;
  }
}

module.exports = IdleTracker;
