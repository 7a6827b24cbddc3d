// ESM (index.d.mts): `serve` as a named export and the Bun-style types as
// named exports, the same as the CommonJS entry's (serve.cts checks them in
// detail). `// @ts-expect-error` marks what must not compile.

import WebSocket, {
    serve,
    WebSocketServer,
    type ServeOptions,
    type ServeServer,
    type ServeUpgradeOptions,
    type ServerWebSocket,
    type ServerWebSocketMessage,
    type SocketAddress,
    type UpgradeHeaders,
    type WebSocketCompressor,
    type WebSocketHandler,
    type WebSocketServerHandlers,
} from "ws-native";
import type { WebSocket as WebSocketCjs } from "./cjs-types.cjs";
import { a, exactly } from "./check.cjs";

// The same types as the CommonJS entry's.
exactly<typeof WebSocketCjs.serve>()(serve);
exactly<WebSocketCjs.ServeOptions<number>>()(a<ServeOptions<number>>());
exactly<WebSocketCjs.ServeServer>()(a<ServeServer>());
exactly<WebSocketCjs.ServeUpgradeOptions<string>>()(a<ServeUpgradeOptions<string>>());
exactly<WebSocketCjs.ServerWebSocket<string>>()(a<ServerWebSocket<string>>());
exactly<WebSocketCjs.ServerWebSocketMessage>()(a<ServerWebSocketMessage>());
exactly<WebSocketCjs.SocketAddress>()(a<SocketAddress>());
exactly<WebSocketCjs.UpgradeHeaders>()(a<UpgradeHeaders>());
exactly<WebSocketCjs.WebSocketCompressor>()(a<WebSocketCompressor>());
exactly<WebSocketCjs.WebSocketHandler<string>>()(a<WebSocketHandler<string>>());
exactly<WebSocketCjs.WebSocketServerHandlers>()(a<WebSocketServerHandlers>());
exactly<ServerWebSocket<number>>()(a<WebSocket.ServerWebSocket<number>>());

// A chat, as Bun's docs write one.
const server = serve<{ user: string }>({
    port: 0,
    fetch(req, srv) {
        const user = new URL(req.url).searchParams.get("user") ?? "anonymous";
        if (srv.upgrade(req, { data: { user } })) return;
        // @ts-expect-error: data of the wrong type
        srv.upgrade(req, { data: { user: null } });
        return new Response("Upgrade Required", { status: 426 });
    },
    websocket: {
        open(ws) {
            ws.subscribe("chat");
            exactly<number>()(server.publish("chat", `${ws.data.user} joined`));
        },
        message(ws, message) {
            exactly<number>()(ws.publish("chat", typeof message === "string" ? message : new Uint8Array(message)));
        },
        close(ws, code, reason) {
            exactly<string>()(reason);
            exactly<string[]>()(ws.subscriptions);
        },
        idleTimeout: 60,
    },
});
exactly<ServeServer<{ user: string }>>()(server);
exactly<number | undefined>()((await server.ready).port);
await server.stop(true);

// @ts-expect-error: a handler with the wrong arguments
serve({ fetch: () => undefined, websocket: { ping(ws: ServerWebSocket, data: string) {} } });

// The `websocket` option of WebSocketServer.
new WebSocketServer({ noServer: true, websocket: { message: (ws, message) => void ws.send("ok") } });
