'use strict';

/**
 * Makes the listener store of an `EventEmitter` that many instances have
 * (a connection's `WebSocket` and socket): `EventEmitter` starts with an
 * object in dictionary mode (about 180 bytes); one in fast mode, with the
 * same `null` prototype, holds the few events of a connection in about 56.
 * Assign it to `_events` right after `super()`.
 *
 * @return {Object} An empty object without prototype, in fast mode (unlike
 *     `{ __proto__: null }` and `Object.create(null)`)
 * @private
 */
function newEventStore() {
  const events = {};

  Object.setPrototypeOf(events, null);
  return events;
}

module.exports = { newEventStore };
