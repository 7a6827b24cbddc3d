#!/usr/bin/env node
'use strict';

//
// Memory of one permessage-deflate context, as in README.md's table:
// `node bench/deflate-memory.js [N [KIND...]]` creates N compressors
// (Deflater) or decompressors (Inflater) of each kind, has each handle one
// 2 KiB JSON-like message (ten for the `-10` kinds, $MESSAGES if set), and
// prints the RSS growth per context (after gc(), from /proc/self/statm,
// 4 KiB pages, when there is one). Node's zlib (what ws uses) is measured
// the same way for comparison. Each kind runs in a fresh process so that
// freed memory of one does not serve the next.
//

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const N = Number(process.argv[process.argv[2] === '--child' ? 3 : 2]) || 500;

function rss() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  try {
    const pages = Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    return pages * 4096;
  } catch {
    return process.memoryUsage().rss;
  }
}

function message(seed) {
  const parts = [];
  let i = 0;
  while (parts.join(',').length < 2048) {
    parts.push(`{"id":${seed * 1000 + i},"name":"user${(seed * 7 + i) % 97}","active":${i % 3 === 0},"score":${(seed * 13 + i * 31) % 1000}}`);
    i++;
  }
  return Buffer.from(`[${parts.join(',')}]`.slice(0, 2048));
}

const KINDS = {
  'deflate': { native: true, make: (b) => new b.Deflater({}) },
  // Ten messages: what a connection holds once it has been in use.
  'deflate-10': { native: true, messages: 10, make: (b) => new b.Deflater({}) },
  'deflate-w10-m4': {
    native: true,
    make: (b) => new b.Deflater({ windowBits: 10, memLevel: 4 })
  },
  'deflate-nct': { native: true, make: (b) => new b.Deflater({ noContextTakeover: true }) },
  'inflate': { native: true, inflate: true, make: (b) => new b.Inflater({}) },
  'inflate-nct': {
    native: true,
    inflate: true,
    make: (b) => new b.Inflater({ noContextTakeover: true })
  },
  'zlib-deflate': { make: () => zlib.createDeflateRaw({ windowBits: 15, memLevel: 8 }) },
  'zlib-deflate-10': {
    messages: 10,
    make: () => zlib.createDeflateRaw({ windowBits: 15, memLevel: 8 })
  },
  'zlib-inflate': { inflate: true, make: () => zlib.createInflateRaw({ windowBits: 15 }) }
};

function compressed(msg) {
  const out = zlib.deflateRawSync(msg, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

async function zlibRound(stream, data) {
  return new Promise((resolve, reject) => {
    const fail = (err) => reject(err);
    stream.once('error', fail);
    stream.write(data);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.read();
      stream.removeListener('error', fail);
      resolve();
    });
  });
}

async function child(kindName) {
  const kind = KINDS[kindName];
  const binding = require(path.join(__dirname, '..', 'js', 'binding'));
  const inputs = [];
  for (let i = 0; i < N; i++) {
    const msg = message(i);
    inputs.push(kind.inflate ? compressed(msg) : msg);
  }
  // Warm up: the pools and the allocator's first arenas.
  const warm = [];
  for (let i = 0; i < 8; i++) {
    const c = kind.make(binding);
    if (kind.native) {
      if (kind.inflate) c.inflate(inputs[i], true);
      else c.compress(inputs[i], true);
    } else {
      await zlibRound(c, inputs[i]);
    }
    warm.push(c);
  }
  const before = rss();
  const held = [];
  for (let i = 0; i < N; i++) {
    const c = kind.make(binding);
    const messages = Number(process.env.MESSAGES) || kind.messages || 1;
    for (let m = 0; m < messages; m++) {
      const input = inputs[(i + m * 7) % N];
      if (kind.native) {
        if (kind.inflate) c.inflate(input, true);
        else c.compress(input, true);
      } else {
        await zlibRound(c, input);
      }
    }
    held.push(c);
  }
  const after = rss();
  process.stdout.write(`${kindName}\t${((after - before) / N / 1024).toFixed(1)} KiB\n`);
  held.length = warm.length;
}

if (process.argv[2] === '--child') {
  child(process.argv[4]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  const only = process.argv.slice(3);
  for (const kind of Object.keys(KINDS)) {
    if (only.length && !only.includes(kind)) continue;
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', __filename, '--child', String(N), kind],
      { stdio: ['ignore', 'inherit', 'inherit'] }
    );
    if (r.status !== 0) process.exit(1);
  }
}
