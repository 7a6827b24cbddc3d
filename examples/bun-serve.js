'use strict';

//
// A chat with Bun's programming model: `serve({ fetch, websocket })`.
// `fetch` answers HTTP requests (the page below) and upgrades the WebSocket
// ones; the handlers get each connection, which joins the "chat" topic.
// The same file runs under Node with ws-native and under Bun unchanged:
//
//   node examples/bun-serve.js           (PORT=9000 HOST=0.0.0.0 override)
//   bun examples/bun-serve.js
//

const serve = globalThis.Bun ? globalThis.Bun.serve : require('ws-native').serve;

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>serve() chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
  #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em; }
  #log p { margin: .2em 0; }
  form { display: flex; gap: .5em; margin-top: .5em; }
  input { flex: 1; }
</style>
<h1>serve() chat</h1>
<p id="state">connecting…</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="Say something" autofocus><button>Send</button></form>
<script>
  const log = document.getElementById('log');
  const state = document.getElementById('state');
  const text = document.getElementById('text');
  const show = (line) => {
    const p = document.createElement('p');
    p.textContent = line;
    log.append(p);
    log.scrollTop = log.scrollHeight;
  };
  const name = prompt('Your name?') || 'anonymous';
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const ws = new WebSocket(scheme + location.host + '/chat?name=' + encodeURIComponent(name));
  ws.onopen = () => (state.textContent = 'connected as ' + name);
  ws.onclose = (e) => (state.textContent = 'closed (' + e.code + ')');
  ws.onmessage = (e) => show(e.data);
  document.getElementById('form').onsubmit = (e) => {
    e.preventDefault();
    if (text.value && ws.readyState === WebSocket.OPEN) ws.send(text.value);
    text.value = '';
  };
</script>
`;

const server = serve({
  port: Number(process.env.PORT || 3000),
  hostname: process.env.HOST || '127.0.0.1',

  fetch(req, server) {
    const url = new URL(req.url);

    if (url.pathname === '/') {
      return new Response(PAGE, {
        headers: { 'Content-Type': 'text/html; charset=utf-8' }
      });
    }

    if (url.pathname === '/chat') {
      const name = (url.searchParams.get('name') || 'anonymous').slice(0, 32);

      //
      // `open` runs inside `upgrade()`; `fetch` then returns nothing.
      //
      if (server.upgrade(req, { data: { name } })) return undefined;

      //
      // Not a WebSocket handshake: ws-native says why (Bun has no
      // `upgradeError()`).
      //
      const error = server.upgradeError ? server.upgradeError(req) : null;

      return new Response(error ? error.message : 'Upgrade Required', {
        status: 426,
        headers: { Upgrade: 'websocket' }
      });
    }

    return new Response('Not Found', { status: 404 });
  },

  websocket: {
    maxPayloadLength: 64 * 1024,
    idleTimeout: 60,

    open(ws) {
      ws.subscribe('chat');
      ws.send(`* welcome, ${ws.data.name}`);

      //
      // `server.publish()` reaches every subscriber; `ws.publish()` would
      // leave `ws` out.
      //
      server.publish(
        'chat',
        `* ${ws.data.name} joined (${server.subscriberCount('chat')} online)`
      );
    },

    message(ws, message) {
      if (typeof message !== 'string') return;
      server.publish('chat', `${ws.data.name}: ${message}`);
    },

    close(ws) {
      //
      // `ws` has left its topics already.
      //
      server.publish('chat', `* ${ws.data.name} left`);
    }
  }
});

console.log(`serve() chat: open ${server.url} (WebSocket at /chat?name=you)`);

process.on('SIGINT', () => {
  server.stop(true).then(() => process.exit(0));
});
