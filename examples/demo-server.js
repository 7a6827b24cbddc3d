'use strict';

//
// `npm start`: a small chat server. A plain http server serves the page below,
// and ws-native shares it in `{ server }` mode; every message a client sends is
// broadcast to every connected client.
//
//   PORT=9000 HOST=0.0.0.0 npm start
//

const http = require('http');

const { WebSocketServer, WebSocket } = require('ws-native');

const PORT = Number(process.env.PORT || 8080);
const HOST = process.env.HOST || '127.0.0.1';

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>ws-native chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
  #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em; }
  #log p { margin: .2em 0; }
  form { display: flex; gap: .5em; margin-top: .5em; }
  input { flex: 1; }
</style>
<h1>ws-native chat</h1>
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
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/chat');
  ws.onopen = () => (state.textContent = 'connected');
  ws.onclose = (e) => (state.textContent = 'closed (' + e.code + ')');
  ws.onmessage = (e) => show(e.data);
  document.getElementById('form').onsubmit = (e) => {
    e.preventDefault();
    if (text.value && ws.readyState === WebSocket.OPEN) ws.send(text.value);
    text.value = '';
  };
</script>
`;

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(PAGE);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('Not Found');
});

const wss = new WebSocketServer({ server, path: '/chat', maxPayload: 64 * 1024 });
let nextId = 1;

function broadcast(text) {
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) client.send(text);
  }
}

wss.on('connection', (ws) => {
  const name = `guest-${nextId++}`;
  ws.on('error', (err) => console.error(`${name}: ${err.message}`));
  ws.on('message', (data, isBinary) => {
    if (!isBinary) broadcast(`${name}: ${data}`);
  });
  ws.on('close', () => broadcast(`* ${name} left`));
  broadcast(`* ${name} joined (${wss.clients.size} online)`);
});

server.listen(PORT, HOST, () => {
  const { address, port } = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  console.log(`ws-native demo: open http://${host}:${port}/ (WebSocket at ws://${host}:${port}/chat)`);
});

process.on('SIGINT', () => {
  wss.close();
  server.close(() => process.exit(0));
  for (const client of wss.clients) client.close(1001, 'server shutting down');
});
