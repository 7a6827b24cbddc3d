'use strict';

const PerMessageDeflate = require('./permessage-deflate');
const { acceptKey, parseExtensions } = require('./binding');

/**
 * Checks a server's answer to the client's opening handshake once Node.js
 * has seen it as a protocol switch (status 101 with `Connection: Upgrade` and
 * an `Upgrade` header; anything else is an unexpected response). The checks
 * and their texts are ws's, in ws's order.
 *
 * @param {http.IncomingMessage} res The response
 * @param {String} key The `Sec-WebSocket-Key` the client sent
 * @param {Set<String>} protocols The subprotocols the client offered
 * @param {PerMessageDeflate} [perMessageDeflate] The extension offered, if
 *     any; it takes the server's parameters when the response is valid
 * @return {(String|null)} Why the response is refused, or `null` when it is
 *     valid
 * @public
 */
function checkResponse(res, key, protocols, perMessageDeflate) {
  const headers = res.headers;
  const upgrade = headers.upgrade;

  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
    return 'Invalid Upgrade header';
  }

  if (headers['sec-websocket-accept'] !== acceptKey(key)) {
    return 'Invalid Sec-WebSocket-Accept header';
  }

  const protocol = headers['sec-websocket-protocol'];

  if (protocol !== undefined) {
    if (protocols.size === 0) {
      return 'Server sent a subprotocol but none was requested';
    }

    if (!protocols.has(protocol)) return 'Server sent an invalid subprotocol';
  } else if (protocols.size !== 0) {
    return 'Server sent no subprotocol';
  }

  const extensions = headers['sec-websocket-extensions'];

  if (extensions === undefined) return null;

  if (!perMessageDeflate) {
    return (
      'Server sent a Sec-WebSocket-Extensions header but no extension was ' +
      'requested'
    );
  }

  let list;

  try {
    list = parseExtensions(extensions);
  } catch {
    return 'Invalid Sec-WebSocket-Extensions header';
  }

  if (list.length !== 1 || list[0][0] !== PerMessageDeflate.extensionName) {
    return 'Server indicated an extension that was not requested';
  }

  try {
    perMessageDeflate.acceptPairs(list[0][1]);
  } catch {
    return 'Invalid Sec-WebSocket-Extensions header';
  }

  return null;
}

/**
 * Explains the usual causes of an ordinary HTTP response to an opening
 * handshake. ws only says `Unexpected server response: 404`; this is the
 * `hint` ws-native adds to that error.
 *
 * @param {http.IncomingMessage} res The response
 * @param {String} url The URL the client connected to, without credentials
 * @return {String} The hint
 * @public
 */
function responseHint(res, url) {
  const status = res.statusCode;
  const line = res.statusMessage ? `${status} ${res.statusMessage}` : status;

  return (
    `The server answered the WebSocket handshake for ${url} with ` +
    `"${line}" instead of "101 Switching Protocols". ` +
    causes(status, res.headers.location)
  );
}

/**
 * The likely causes of a response status, for `responseHint()`.
 *
 * @param {Number} status The status code
 * @param {String} [location] The `Location` header
 * @return {String} The explanation
 * @private
 */
function causes(status, location) {
  if (status === 101) {
    return (
      'It lacks the "Connection: Upgrade" or "Upgrade" header, so it is not ' +
      'a protocol switch: a proxy in between may have dropped them.'
    );
  }

  if (status >= 300 && status < 400 && location) {
    return (
      `It redirects to ${location}: connect to that URL, or pass ` +
      '`{ followRedirects: true }` to follow redirects.'
    );
  }

  if (status === 400) {
    return (
      'A WebSocket server refused the request. One attached with ' +
      '`{ server, path }` answers 400 to any other path: check the path of ' +
      'the URL. Otherwise the body of the response names the invalid header.'
    );
  }

  if (status === 401 || status === 403) {
    return (
      'The server refused the client: a `verifyClient` hook, an ' +
      'authentication middleware or a proxy rejected the request (check ' +
      'credentials, cookies and the Origin header).'
    );
  }

  if (status === 426) {
    return (
      'The server got a plain HTTP request, without the upgrade: a proxy in ' +
      'between does not forward it (nginx needs `proxy_http_version 1.1` ' +
      'and to set the Upgrade and Connection headers), or the server ' +
      'declined the upgrade.'
    );
  }

  return (
    'Usually the HTTP server that answered is not the one the WebSocket ' +
    'server is attached to, or a middleware or proxy answered the upgrade ' +
    'request. With Koa, `app.listen()` creates a second http server: create ' +
    'it with `http.createServer(app.callback())`, pass it to the ' +
    'WebSocketServer and call `server.listen()` (with Express, ' +
    '`http.createServer(app)`).'
  );
}

module.exports = { checkResponse, responseHint };
