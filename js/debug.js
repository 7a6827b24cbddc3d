'use strict';

const { format } = require('util');

const NAMESPACE = 'ws-native';

/**
 * Checks whether a namespace is enabled by a `DEBUG`-style list, read the way
 * the `debug` package reads it: names separated by commas or whitespace, `*`
 * as a wildcard, and a leading `-` to exclude.
 *
 * @param {String} namespace The namespace to check
 * @param {String} [list] The value of the `DEBUG` environment variable
 * @return {Boolean} `true` if the namespace is enabled, else `false`
 * @private
 */
function isEnabled(namespace, list) {
  if (typeof list !== 'string') return false;

  const patterns = list.trim().split(/[\s,]+/).filter(Boolean);
  let enabled = false;

  for (const pattern of patterns) {
    if (pattern[0] === '-') {
      if (matches(namespace, pattern.slice(1))) return false;
    } else if (!enabled && matches(namespace, pattern)) {
      enabled = true;
    }
  }

  return enabled;
}

/**
 * Matches a namespace against a template where `*` stands for any sequence of
 * characters.
 *
 * @param {String} namespace The namespace
 * @param {String} template The template
 * @return {Boolean} `true` if the namespace matches, else `false`
 * @private
 */
function matches(namespace, template) {
  const source = template
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');

  return new RegExp(`^${source}$`).test(namespace);
}

/**
 * Writes one line to stderr, prefixed with `ws-native`, when `DEBUG` enables
 * the `ws-native` namespace. The arguments are formatted like `console.log()`.
 * Callers start the message with a marker, as python-websockets does: `= ` for
 * a state change, `! ` for an error, `< ` / `> ` for received / sent frames.
 *
 * Formatting costs time even when nothing is printed, so hot paths should
 * check `debug.enabled` first.
 *
 * @param {...*} args The message and its arguments
 * @public
 */
function debug(...args) {
  if (!debug.enabled) return;
  process.stderr.write(`${NAMESPACE} ${format(...args)}\n`);
}

/**
 * Re-reads the list of enabled namespaces (the value of `DEBUG` by default).
 *
 * @param {String} [list=process.env.DEBUG] The namespaces to enable
 * @return {Boolean} Whether logging is now enabled
 * @public
 */
debug.enable = function enable(list = process.env.DEBUG) {
  debug.enabled = isEnabled(NAMESPACE, list);
  return debug.enabled;
};

debug.namespace = NAMESPACE;
debug.isEnabled = isEnabled;
debug.enable();

module.exports = debug;
