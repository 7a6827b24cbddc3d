'use strict';

//
// Two copies of ws-native in one process: a project with ws-native as a
// dependency and `"overrides": { "ws": "npm:ws-native" }` installs two
// package directories, so two copies of the addon load, each with its own
// native transport. Both must serve at once, in every mode. And one copy
// loaded twice (a test runner that resets its module registry) shares its
// transport between the two module instances.
//

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, describe, test } = require('node:test');

const { IS_NATIVE, bounded } = require('./helpers');

const ROOT = path.join(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-native-copies-'));

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the package (its JS and its addon) in `dir`. */
function copyPackage(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(ROOT, 'js'), path.join(dir, 'js'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  return dir;
}

function run(code) {
  return bounded(
    new Promise((resolve) => {
      const proc = spawn(process.execPath, ['-e', code], {
        cwd: ROOT,
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
        stdio: ['ignore', 'pipe', 'pipe']
      });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d) => (stdout += d));
      proc.stderr.on('data', (d) => (stderr += d));
      proc.on('close', (status) => resolve({ status, stdout, stderr }));
    }),
    'child process',
    20000
  );
}

//
// Starts, with a copy, a server in `port` mode and one in `server` mode,
// and has a ws client of each exchange messages with each.
//
const SERVE_BOTH = `
  const http = require('http');
  const Peer = require(${JSON.stringify(require.resolve('ws'))});
  async function serve(WS, label) {
    const results = [];
    const port = new WS.WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => port.once('listening', r));
    const server = http.createServer();
    const shared = new WS.WebSocketServer({ server });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    for (const wss of [port, shared]) {
      wss.on('connection', (ws) => ws.on('message', (d) => ws.send(label + ':' + d)));
    }
    for (const p of [port.address().port, server.address().port]) {
      const c = new Peer('ws://127.0.0.1:' + p);
      await new Promise((r) => c.once('open', r));
      const got = new Promise((r) => c.once('message', (d) => r(String(d))));
      c.send('hi');
      results.push(await got);
      c.close();
      await new Promise((r) => c.once('close', r));
    }
    await new Promise((r) => port.close(r));
    shared.close();
    server.close();
    return results;
  }
`;

describe('more than one copy in a process', () => {
  test('two copies from two directories serve at once', async () => {
    const a = copyPackage(path.join(tmp, 'a'));
    const b = copyPackage(path.join(tmp, 'b'));
    const { status, stdout, stderr } = await run(`
      ${SERVE_BOTH}
      const [a, b] = ${JSON.stringify([a, b])};
      const A = require(${JSON.stringify(path.join(a, 'js', 'index.js'))});
      const B = require(${JSON.stringify(path.join(b, 'js', 'index.js'))});
      const ids = [a, b].map((d) => require(d + '/js/binding.js').instanceId);
      if (ids[0] === ids[1]) throw new Error('one addon for both copies: ' + ids);
      Promise.all([serve(A, 'a'), serve(B, 'b'), serve(A, 'a2')]).then((r) => {
        console.log(JSON.stringify(r));
      });
    `);
    assert.equal(status, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), [
      ['a:hi', 'a:hi'],
      ['b:hi', 'b:hi'],
      ['a2:hi', 'a2:hi']
    ]);
    if (IS_NATIVE) assert.equal(stderr, '');
  });

  test('one copy loaded twice (module registry reset) shares its transport', async () => {
    const { status, stdout, stderr } = await run(`
      ${SERVE_BOTH}
      const first = require('./js/index.js');
      for (const key of Object.keys(require.cache)) {
        if (key.startsWith(${JSON.stringify(path.join(ROOT, 'js'))})) delete require.cache[key];
      }
      const second = require('./js/index.js');
      if (first === second) throw new Error('not reloaded');
      Promise.all([serve(first, '1'), serve(second, '2')]).then((r) => console.log(JSON.stringify(r)));
    `);
    assert.equal(status, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), [
      ['1:hi', '1:hi'],
      ['2:hi', '2:hi']
    ]);
  });
});
