'use strict';

//
// examples/bun-serve.js, started as it is documented (`node
// examples/bun-serve.js`, and `bun examples/bun-serve.js` where the machine
// has Bun: npm's @oven/bun-linux-x64 in .nodes/bun/, or $BUN), talked to
// with the npm `ws` client: the page, a refused plain request, and a chat
// between two clients through the topic.
//

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { afterEach, describe, test } = require('node:test');

const { IS_NATIVE, bounded, cleanup, deferred, onceEvent, ref, track } = require('./helpers');

afterEach(cleanup);

const ROOT = path.join(__dirname, '..');
const EXAMPLE = path.join(ROOT, 'examples', 'bun-serve.js');

function findBun() {
  const candidates = [
    process.env.BUN,
    path.join(ROOT, '.nodes', 'bun', 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun')
  ];

  for (const c of candidates) {
    if (c && fs.existsSync(c)) return c;
  }

  return null;
}

/**
 * Starts the example on a free port; resolves with its base URL.
 */
async function startExample(runtime) {
  const proc = spawn(runtime, [EXAMPLE], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const listening = deferred();
  const exited = deferred();
  let stdout = '';
  let stderr = '';

  proc.stdout.on('data', (chunk) => {
    stdout += chunk;
    const match = /open (http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
    if (match) listening.resolve(match[1]);
  });
  proc.stderr.on('data', (chunk) => (stderr += chunk));
  proc.on('exit', (code) => exited.resolve(code));
  track({ terminate: () => proc.kill() });

  const base = await bounded(
    Promise.race([
      listening.promise,
      exited.promise.then((code) => {
        throw new Error(`the example exited (${code}): ${stderr}`);
      })
    ]),
    'example listening',
    20000
  );

  return { base, proc, exited: exited.promise };
}

/** A chat client that collects the lines it receives. */
async function chatter(base, name) {
  const WS = ref().WebSocket;
  const ws = track(new WS(`${base.replace('http', 'ws')}/chat?name=${name}`));

  ws.lines = [];
  ws.waiters = [];
  ws.on('message', (data) => {
    ws.lines.push(data.toString());
    ws.waiters = ws.waiters.filter((w) => !w());
  });
  await onceEvent(ws, 'open', `${name} open`);
  return ws;
}

/** Resolves once `ws` has received `line`. */
function receive(ws, line) {
  return bounded(
    new Promise((resolve) => {
      const check = () => ws.lines.includes(line) && (resolve(), true);
      if (!check()) ws.waiters.push(check);
    }),
    `"${line}"`
  );
}

async function scenario(runtime) {
  const { base, proc, exited } = await startExample(runtime);

  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(await page.text(), /<title>serve\(\) chat<\/title>/);

  const plain = await fetch(`${base}/chat`);
  assert.equal(plain.status, 426);
  await plain.text();
  assert.equal((await fetch(`${base}/nothing`)).status, 404);

  const alice = await chatter(base, 'alice');
  await receive(alice, '* welcome, alice');
  await receive(alice, '* alice joined (1 online)');

  const bob = await chatter(base, 'bob');
  await receive(bob, '* bob joined (2 online)');
  await receive(alice, '* bob joined (2 online)');

  alice.send('hello bob');
  await receive(bob, 'alice: hello bob');
  await receive(alice, 'alice: hello bob');

  bob.close();
  await receive(alice, '* bob left');

  assert.deepEqual(alice.lines, [
    '* welcome, alice',
    '* alice joined (1 online)',
    '* bob joined (2 online)',
    'alice: hello bob',
    '* bob left'
  ]);
  assert.deepEqual(bob.lines, ['* welcome, bob', '* bob joined (2 online)', 'alice: hello bob']);

  //
  // SIGINT: stop(true), every WebSocket closed with 1001.
  //
  const closed = onceEvent(alice, 'close', 'alice close');
  proc.kill('SIGINT');
  const [code] = await closed;
  assert.equal(code, 1001);
  assert.equal(await bounded(exited, 'example exit', 10000), 0);
}

describe('examples/bun-serve.js', () => {
  test('under Node: the page, a refused plain request, a chat through the topic, SIGINT', { skip: !IS_NATIVE && 'ws-native only', timeout: 60000 }, async () => {
    await scenario(process.execPath);
  });

  test('the same file under Bun', { skip: findBun() === null ? 'needs Bun (npm @oven/bun-linux-x64 in .nodes/bun, or $BUN)' : false, timeout: 60000 }, async () => {
    await scenario(findBun());
  });
});
