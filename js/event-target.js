'use strict';

const { kForOnEventAttribute, kListener } = require('./constants');

const kTarget = Symbol('kTarget');
const kType = Symbol('kType');
const kCode = Symbol('kCode');
const kReason = Symbol('kReason');
const kWasClean = Symbol('kWasClean');
const kError = Symbol('kError');
const kMessage = Symbol('kMessage');
const kData = Symbol('kData');

/**
 * A minimal DOM-like event, as handed to `addEventListener()` listeners and
 * `on<event>` handlers.
 */
class Event {
  /**
   * Create a new `Event`.
   *
   * @param {String} type The name of the event
   */
  constructor(type) {
    this[kTarget] = null;
    this[kType] = type;
  }

  /**
   * @type {*}
   */
  get target() {
    return this[kTarget];
  }

  /**
   * @type {String}
   */
  get type() {
    return this[kType];
  }
}

/**
 * The event of a `'close'` listener.
 *
 * @extends Event
 */
class CloseEvent extends Event {
  /**
   * Create a new `CloseEvent`.
   *
   * @param {String} type The name of the event
   * @param {Object} [options] The event's attributes
   * @param {Number} [options.code=0] The status code
   * @param {String} [options.reason=''] The reason
   * @param {Boolean} [options.wasClean=false] Whether or not the closing
   *     handshake completed
   */
  constructor(type, options = {}) {
    super(type);

    this[kCode] = options.code === undefined ? 0 : options.code;
    this[kReason] = options.reason === undefined ? '' : options.reason;
    this[kWasClean] = options.wasClean === undefined ? false : options.wasClean;
  }

  /**
   * @type {Number}
   */
  get code() {
    return this[kCode];
  }

  /**
   * @type {String}
   */
  get reason() {
    return this[kReason];
  }

  /**
   * @type {Boolean}
   */
  get wasClean() {
    return this[kWasClean];
  }
}

/**
 * The event of an `'error'` listener.
 *
 * @extends Event
 */
class ErrorEvent extends Event {
  /**
   * Create a new `ErrorEvent`.
   *
   * @param {String} type The name of the event
   * @param {Object} [options] The event's attributes
   * @param {*} [options.error=null] The error
   * @param {String} [options.message=''] The error message
   */
  constructor(type, options = {}) {
    super(type);

    this[kError] = options.error === undefined ? null : options.error;
    this[kMessage] = options.message === undefined ? '' : options.message;
  }

  /**
   * @type {*}
   */
  get error() {
    return this[kError];
  }

  /**
   * @type {String}
   */
  get message() {
    return this[kMessage];
  }
}

/**
 * The event of a `'message'` listener.
 *
 * @extends Event
 */
class MessageEvent extends Event {
  /**
   * Create a new `MessageEvent`.
   *
   * @param {String} type The name of the event
   * @param {Object} [options] The event's attributes
   * @param {*} [options.data=null] The message content
   */
  constructor(type, options = {}) {
    super(type);

    this[kData] = options.data === undefined ? null : options.data;
  }

  /**
   * @type {*}
   */
  get data() {
    return this[kData];
  }
}

//
// The attributes are accessors on the prototype, like in the DOM, but
// enumerable so that `console.log()` and spreading show them.
//
for (const [Class, names] of [
  [Event, ['target', 'type']],
  [CloseEvent, ['code', 'reason', 'wasClean']],
  [ErrorEvent, ['error', 'message']],
  [MessageEvent, ['data']]
]) {
  for (const name of names) {
    Object.defineProperty(Class.prototype, name, { enumerable: true });
  }
}

//
// One factory per supported type: it turns the EventEmitter arguments into the
// DOM event. `this` is the WebSocket.
//
const eventFactories = {
  message(data, isBinary) {
    return new MessageEvent('message', {
      data: isBinary ? data : data.toString()
    });
  },
  close(code, reason) {
    return new CloseEvent('close', {
      code,
      reason: reason.toString(),
      wasClean: this._closeFrameReceived && this._closeFrameSent
    });
  },
  error(error) {
    return new ErrorEvent('error', { error, message: error.message });
  },
  open() {
    return new Event('open');
  }
};

/**
 * Register an event listener, in the way of `EventTarget`. Only the
 * `'message'`, `'close'`, `'error'` and `'open'` types are supported; other
 * types are ignored. Adding the same listener twice is a no-op.
 *
 * @param {String} type The event type
 * @param {(Function|Object)} handler A function or an object with a
 *     `handleEvent()` method
 * @param {Object} [options] Options object
 * @param {Boolean} [options.once=false] Remove the listener after its first
 *     call
 * @public
 */
function addEventListener(type, handler, options = {}) {
  const forAttribute = !!options[kForOnEventAttribute];

  if (!forAttribute) {
    for (const listener of this.listeners(type)) {
      if (listener[kListener] === handler && !listener[kForOnEventAttribute]) {
        return;
      }
    }
  }

  if (!Object.prototype.hasOwnProperty.call(eventFactories, type)) return;

  const makeEvent = eventFactories[type];

  const wrapper = function (a, b) {
    const event = makeEvent.call(this, a, b);

    event[kTarget] = this;
    if (typeof handler === 'object' && handler.handleEvent) {
      handler.handleEvent.call(handler, event);
    } else {
      handler.call(this, event);
    }
  };

  wrapper[kForOnEventAttribute] = forAttribute;
  wrapper[kListener] = handler;

  if (options.once) this.once(type, wrapper);
  else this.on(type, wrapper);
}

/**
 * Remove a listener added with `addEventListener()`. Handlers set through an
 * `on<event>` attribute are not removed.
 *
 * @param {String} type The event type
 * @param {(Function|Object)} handler The listener to remove
 * @public
 */
function removeEventListener(type, handler) {
  for (const listener of this.listeners(type)) {
    if (listener[kListener] === handler && !listener[kForOnEventAttribute]) {
      this.removeListener(type, listener);
      return;
    }
  }
}

/**
 * Defines the `on<event>` attributes of `proto` for the given event types.
 * Setting one removes the attribute's previous handler and appends the new
 * one after the other listeners; setting a non-function only removes it.
 *
 * @param {Object} proto The prototype to define the attributes on
 * @param {String[]} types The event types
 * @private
 */
function defineEventAttributes(proto, types) {
  for (const type of types) {
    Object.defineProperty(proto, `on${type}`, {
      enumerable: true,
      configurable: true,
      get() {
        for (const listener of this.listeners(type)) {
          if (listener[kForOnEventAttribute]) return listener[kListener];
        }

        return null;
      },
      set(handler) {
        for (const listener of this.listeners(type)) {
          if (listener[kForOnEventAttribute]) {
            this.removeListener(type, listener);
            break;
          }
        }

        if (typeof handler !== 'function') return;

        this.addEventListener(type, handler, { [kForOnEventAttribute]: true });
      }
    });
  }
}

module.exports = {
  CloseEvent,
  ErrorEvent,
  Event,
  EventTarget: { addEventListener, removeEventListener },
  MessageEvent,
  defineEventAttributes
};
