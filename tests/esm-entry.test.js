'use strict';

const assert = require('assert');
const { test } = require('node:test');

//
// The ESM entry, through the package's own `exports` (a self-reference):
// ws's named exports but `Receiver` (which ws-native does not have), plus
// Bun's `serve`, and the class as the default export. index.d.mts types the
// same.
//
test('ESM entry: the named exports of ws but Receiver, plus serve, the class as default', async () => {
  const ours = await import('ws-native');
  const ws = await import('ws');

  assert.deepStrictEqual(
    Object.keys(ours).sort(),
    [...Object.keys(ws).filter((name) => name !== 'Receiver'), 'serve'].sort()
  );
  assert.strictEqual(ours.serve, require('../js/serve').serve);
  assert.strictEqual(ours.default, ours.WebSocket);

  //
  // Unless the CommonJS entry was loaded too, the class has none of its
  // statics, as with ws; index.d.mts types it so.
  //
  for (const name of ['createWebSocketStream', 'Server', 'WebSocketServer']) {
    assert.strictEqual(ours.default[name], undefined, name);
    assert.strictEqual(ws.default[name], undefined, name);
  }

  assert.strictEqual(ours.PerMessageDeflate, require('../js/permessage-deflate'));
  assert.strictEqual(ours.WebSocketServer, require('../js/websocket-server'));
});
