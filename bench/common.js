'use strict';

//
// What the bench scripts share: the load generator (its path and build),
// a free port, a pause, the median.
//

const { spawnSync } = require('child_process');
const net = require('net');
const path = require('path');

const LOADGEN_DIR = path.join(__dirname, 'loadgen');
const LOADGEN = path.join(LOADGEN_DIR, 'target', 'release', 'loadgen');

/**
 * Builds the load generator (`cargo build --release` in bench/loadgen, its
 * own workspace and target directory; a no-op when it is up to date).
 *
 * @throws {Error} If cargo fails
 */
function buildLoadgen() {
  const r = spawnSync(
    process.env.CARGO || 'cargo',
    ['build', '--release', '--quiet', '--manifest-path', path.join(LOADGEN_DIR, 'Cargo.toml')],
    { stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: path.join(LOADGEN_DIR, 'target') } }
  );
  if (r.error || r.status !== 0) {
    throw new Error('cannot build bench/loadgen (cargo build --release)');
  }
}

/** @return {Promise<Number>} A TCP port free on 127.0.0.1 just now */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {Array} xs Figures (what is not a finite number is left out)
 * @return {Number} Their median, NaN if there is none
 */
function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

module.exports = { LOADGEN, buildLoadgen, freePort, median, sleep };
