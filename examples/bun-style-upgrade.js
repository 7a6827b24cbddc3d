'use strict';

//
// Bun-style upgrades: decide inside an ordinary request handler (here a Koa
// middleware, on a server started with `app.listen()`) whether a request
// becomes a WebSocket. `wss.upgrade(req)` returns true when it took the
// request over, false when the request is not a valid upgrade; then nothing
// has been written and the app answers, for example with 426 and the reason
// from `wss.upgradeError(req)`.
//

const Koa = require('koa');

const { WebSocketServer } = require('ws-native');

const wss = new WebSocketServer({ noServer: true });

wss.on('connection', (ws) => {
  ws.on('error', console.error);
  ws.send(`hello ${ws.data.user}`);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const app = new Koa();

app.use(async (ctx, next) => {
  if (ctx.path !== '/ws') return next();

  const user = ctx.query.user || 'anonymous';
  if (wss.upgrade(ctx.req, { data: { user }, headers: { 'X-Chat-User': user } })) return;

  const error = wss.upgradeError(ctx.req);
  ctx.status = 426;
  ctx.set('Upgrade', 'websocket');
  ctx.body = error ? error.message : 'Upgrade Required';
});

app.use((ctx) => {
  ctx.body = 'Connect a WebSocket client to /ws?user=you\n';
});

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => {
  console.log(`Bun-style upgrade demo on ws://127.0.0.1:${port}/ws?user=you`);
});
