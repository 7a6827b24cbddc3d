'use strict';

const { parseExtensions } = require('./binding');

/**
 * Parses the `Sec-WebSocket-Extensions` header into an object.
 *
 * The result has no prototype, so names like `constructor` or `__proto__` in
 * the header are plain keys. Each extension name maps to the list of its
 * offers; each offer maps a parameter name to the list of its values, where a
 * parameter without a value is `true`.
 *
 * @param {String} header The field value of the header
 * @return {Object} The parsed offers
 * @throws {SyntaxError} If the header is not valid
 * @public
 */
function parse(header) {
  let list;

  try {
    list = parseExtensions(header);
  } catch (err) {
    throw asSyntaxError(err);
  }

  const offers = Object.create(null);

  for (const [name, configurations] of list) {
    for (const pairs of configurations) {
      const params = Object.create(null);

      for (const [param, value] of pairs) push(params, param, value);
      push(offers, name, params);
    }
  }

  return offers;
}

/**
 * Appends a value to the list stored under a key, creating the list first.
 *
 * @param {Object} dest The object holding the lists
 * @param {String} key The key
 * @param {*} value The value to append
 * @private
 */
function push(dest, key, value) {
  if (dest[key] === undefined) dest[key] = [value];
  else dest[key].push(value);
}

/**
 * Makes sure a parse error is a `SyntaxError`, as with ws, whatever error
 * class the addon used to throw it.
 *
 * @param {Error} err The error thrown by the addon
 * @return {SyntaxError} The error to throw
 * @private
 */
function asSyntaxError(err) {
  if (err instanceof SyntaxError) return err;
  return new SyntaxError(err && err.message);
}

/**
 * Builds the `Sec-WebSocket-Extensions` header field value.
 *
 * @param {Object} extensions The map of extensions and parameters to format;
 *     a value may be one offer or a list of offers, and a parameter value may
 *     be one value or a list of values (`true` means a parameter without a
 *     value)
 * @return {String} A string representing the given object
 * @public
 */
function format(extensions) {
  return Object.keys(extensions)
    .map((name) => {
      const configurations = [].concat(extensions[name]);

      return configurations
        .map((params) => {
          const parts = [name];

          for (const key of Object.keys(params)) {
            const values = [].concat(params[key]);

            parts.push(
              values.map((v) => (v === true ? key : `${key}=${v}`)).join('; ')
            );
          }

          return parts.join('; ');
        })
        .join(', ');
    })
    .join(', ');
}

module.exports = { format, parse };
