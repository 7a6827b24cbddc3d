'use strict';

//
// Differential tests of how the receiver hands out events: with
// `allowSynchronousEvents: false`, each 'message', 'ping' and 'pong' comes in
// a later macrotask of its own, as in ws; and a connection that never sent
// anything before closing.
//

const { afterEach, describe, test } = require('node:test');

const {
  OP,
  cleanup,
  closePayload,
  differential,
  frame,
  rawScenario
} = require('./helpers');

afterEach(cleanup);

/**
 * A 'connection' listener that notes, with each event, whether it came in
 * the same macrotask as the one before it.
 */
function markTicks(ws, req, log) {
  let sameTask = false;

  const mark = () => {
    log.push(['sameTask', sameTask]);
    sameTask = true;
    setImmediate(() => {
      sameTask = false;
    });
  };

  ws.on('message', mark);
  ws.on('ping', mark);
  ws.on('pong', mark);
}

describe('receiver dispatch', () => {
  for (const allowSynchronousEvents of [false, true]) {
    test(`allowSynchronousEvents: ${allowSynchronousEvents}`, async () => {
      await differential((WS) =>
        rawScenario(WS, {
          options: { allowSynchronousEvents },
          server: markTicks,
          client: async (raw) => {
            raw.send(
              Buffer.concat([
                frame(OP.TEXT, Buffer.from('one')),
                frame(OP.PING, Buffer.from('p')),
                frame(OP.BINARY, Buffer.from('two')),
                frame(OP.PONG),
                frame(OP.TEXT, Buffer.from('three')),
                frame(OP.CLOSE, closePayload(1000))
              ])
            );
          }
        })
      );
    });
  }

  test('a connection that sends nothing before its close frame', async () => {
    await differential((WS) =>
      rawScenario(WS, {
        client: async (raw) => {
          raw.send(frame(OP.CLOSE, closePayload(4000, 'bye')));
        }
      })
    );
  });

  test('a connection that sends nothing before its FIN', async () => {
    await differential((WS) =>
      rawScenario(WS, {
        client: async (raw) => {
          raw.socket.end();
        }
      })
    );
  });
});
