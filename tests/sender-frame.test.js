'use strict';

//
// `WebSocket.Sender.frame()`, as libraries built on ws call it:
// socket.io-adapter frames a broadcast once with it and engine.io hands the
// result to each connection's `_sender.sendFrame()`; socket.io-adapter's
// own tests check the shape of the result. Compared with ws's: the buffers
// returned, whether the payload is returned as it is (not a copy), and
// whether it was masked in place.
//

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { digest, ref, sut } = require('./helpers');

const PAYLOADS = {
  empty: () => Buffer.alloc(0),
  small: () => Buffer.from('hello'),
  125: () => Buffer.alloc(125, 1),
  126: () => Buffer.alloc(126, 2),
  65535: () => Buffer.alloc(65535, 3),
  65536: () => Buffer.alloc(65536, 4),
  text: () => 'héllo wörld',
  'long text': () => 'x'.repeat(300)
};

const fixedMask = (mask) => mask.set([0x12, 0x34, 0x56, 0x78]);

const OPTIONS = {
  'text, fin': { opcode: 1, fin: true, mask: false, readOnly: false, rsv1: false },
  'binary, no fin, rsv1': { opcode: 2, fin: false, rsv1: true },
  'masked, readOnly': { opcode: 2, fin: true, mask: true, readOnly: true, generateMask: fixedMask },
  'masked, not readOnly': { opcode: 2, fin: true, mask: true, readOnly: false, generateMask: fixedMask },
  'masked with a zero key': { opcode: 1, fin: true, mask: true, readOnly: true, generateMask: (m) => m.fill(0) },
  'masked, maskBuffer': {
    opcode: 2,
    fin: true,
    mask: true,
    readOnly: true,
    maskBuffer: Buffer.alloc(4),
    generateMask: fixedMask
  }
};

function describeFrame(Sender, makePayload, options) {
  const data = makePayload();
  const before = typeof data === 'string' ? data : Buffer.from(data);
  const list = Sender.frame(data, { ...options });
  return {
    buffers: list.map((b) => digest(b)),
    payloadReturned: list.indexOf(data),
    payloadChanged: typeof data === 'string' ? false : !before.equals(data)
  };
}

for (const [payloadName, makePayload] of Object.entries(PAYLOADS)) {
  test(`Sender.frame(): ${payloadName} payload, as ws frames it`, () => {
    for (const [optionsName, options] of Object.entries(OPTIONS)) {
      const expected = describeFrame(ref().Sender, makePayload, options);
      const actual = describeFrame(sut().Sender, makePayload, options);
      assert.deepEqual(actual, expected, optionsName);
    }
  });
}
