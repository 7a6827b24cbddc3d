// CommonJS (index.d.ts): Bun's `serve()`, its server, `ServerWebSocket` and
// the handlers, and the `websocket` option of `WebSocketServer`, typed as
// js/serve.js and js/server-websocket.js behave. `// @ts-expect-error` marks
// what must not compile.

import http = require("http");
import WebSocket = require("ws-native");
import WS = require("ws");
import { createAdapter } from "ws-native/redis";
import { a, assignable, exactly } from "./check.cjs";

const { serve, WebSocketServer } = WebSocket;

type User = { name: string };

// ---- serve<T>() and ws.data ----

// T given: `upgrade()` takes a `data` of that type, the handlers see it.
const server = serve<User>({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request, srv) {
        exactly<Request>()(request);
        exactly<WebSocket.ServeServer<User>>()(srv);
        exactly<WebSocket.ServeServer<User>>()(this);
        if (srv.upgrade(request, { data: { name: "alice" }, headers: { "X-User": "alice" } })) return;
        // @ts-expect-error: data of the wrong type
        srv.upgrade(request, { data: { name: 1 } });
        // @ts-expect-error: not an option
        srv.upgrade(request, { head: Buffer.alloc(0) });
        // @ts-expect-error: a WHATWG Request, not Node's
        srv.upgrade(a<http.IncomingMessage>());
        srv.upgrade(request, { headers: new Headers({ "Sec-WebSocket-Protocol": "chat" }) });
        srv.upgrade(request, { headers: [["Sec-WebSocket-Protocol", "chat"]] });
        srv.upgrade(request, { data: undefined, headers: undefined });
        return new Response("Upgrade Required", { status: 426 });
    },
    websocket: {
        open(ws) {
            exactly<WebSocket.ServerWebSocket<User>>()(ws);
            exactly<User>()(ws.data);
        },
        message(ws, message) {
            exactly<string | Buffer | ArrayBuffer | Uint8Array>()(message);
            if (typeof message === "string") ws.publish("chat", `${ws.data.name}: ${message}`);
        },
    },
});
exactly<WebSocket.ServeServer<User>>()(server);

// T from `websocket.data` (types only), as in Bun.
serve({
    fetch: (req, srv) => (srv.upgrade(req, { data: { room: "a" } }) ? undefined : new Response("no")),
    websocket: {
        data: {} as { room: string },
        open(ws) {
            exactly<{ room: string }>()(ws.data);
        },
    },
});

// T from a typed handler parameter.
exactly<WebSocket.ServeServer<User>>()(
    serve({ fetch: () => new Response(""), websocket: { open(ws: WebSocket.ServerWebSocket<User>) {} } }),
);

// No T: `ws.data` is undefined, and so must `data` be.
serve({
    fetch(req, srv) {
        srv.upgrade(req);
        // @ts-expect-error: no data type was given
        srv.upgrade(req, { data: { name: "x" } });
        return undefined;
    },
    websocket: {
        message(ws) {
            exactly<undefined>()(ws.data);
        },
    },
});

// ---- fetch and error ----

serve({ fetch: () => new Response("hello") });
serve({ fetch: async () => new Response("hello") });
serve({
    // Upgraded, or answered, after an await.
    async fetch(req, srv) {
        await null;
        if (srv.upgrade(req)) return;
        return new Response("no", { status: 400 });
    },
    websocket: { message() {} },
});
serve({
    fetch() {
        throw new Error("boom");
    },
    error(err) {
        exactly<Error>()(err);
        return new Response(err.message, { status: 500 });
    },
});
serve({ fetch: () => new Response(""), error: async () => new Response("") });
serve({ fetch: () => new Response(""), error: () => {} });
// @ts-expect-error: fetch returns a Response
serve({ fetch: () => "hello" });
// @ts-expect-error: fetch is required
serve({ port: 3000 });
// @ts-expect-error: Bun's routes are not supported
serve({ fetch: () => new Response(""), routes: {} });

// ---- Options ----

serve({ fetch: () => new Response(""), port: "8080", hostname: "::1" });
serve({ fetch: () => new Response(""), tls: { key: "...", cert: Buffer.alloc(0), minVersion: "TLSv1.3" } });
serve({ fetch: () => new Response(""), adapter: createAdapter(a<any>(), a<any>(), { prefix: "app:" }) });
serve({ fetch: () => new Response(""), port: undefined, hostname: undefined, tls: undefined, websocket: undefined });
// @ts-expect-error: a port is a number or a string
serve({ fetch: () => new Response(""), port: true });

const allOptions: Required<WebSocket.WebSocketHandler<User>> = {
    open(ws) {},
    message(ws, message) {},
    close(ws, code, reason) {},
    drain(ws) {},
    ping(ws, data) {},
    pong(ws, data) {},
    error(err) {},
    dropped(ws, message, isBinary) {},
    maxPayloadLength: 1024 * 1024,
    idleTimeout: 0.5,
    sendPings: false,
    backpressureLimit: 0,
    closeOnBackpressureLimit: true,
    publishToSelf: true,
    perMessageDeflate: { compress: "dedicated", decompress: true },
    data: { name: "" },
};
serve<User>({ fetch: () => new Response(""), websocket: allOptions });

serve({ fetch: () => new Response(""), websocket: { message() {}, perMessageDeflate: true } });
serve({ fetch: () => new Response(""), websocket: { message() {}, perMessageDeflate: { compress: "16KB" } } });
serve({ fetch: () => new Response(""), websocket: { message() {}, perMessageDeflate: { compress: false, decompress: "shared" } } });
// @ts-expect-error: not a window size Bun knows
serve({ fetch: () => new Response(""), websocket: { message() {}, perMessageDeflate: { compress: "1KB" } } });
// @ts-expect-error: seconds, a number
serve({ fetch: () => new Response(""), websocket: { message() {}, idleTimeout: "10" } });
// @ts-expect-error: not a handler (Bun's names)
serve({ fetch: () => new Response(""), websocket: { onMessage() {} } });

// ---- Handlers: their arguments ----

serve<User>({
    fetch: () => undefined,
    websocket: {
        message(ws, message) {},
        close(ws, code, reason) {
            exactly<number>()(code);
            exactly<string>()(reason);
        },
        drain(ws) {
            exactly<number>()(ws.getBufferedAmount());
        },
        ping(ws, data) {
            exactly<Buffer>()(data);
        },
        pong(ws, data) {
            exactly<Buffer>()(data);
        },
        error(err) {
            exactly<Error>()(err);
        },
        dropped(ws, message, isBinary) {
            exactly<string | Buffer>()(message);
            exactly<boolean>()(isBinary);
        },
    },
});

// A handler may declare the message type its `binaryType` gives.
serve({ fetch: () => undefined, websocket: { message(ws, message: string | Buffer) {} } });
serve({ fetch: () => undefined, websocket: { message(ws, message: string | ArrayBuffer) {} } });
// Async handlers (a rejection goes to `error`).
serve({ fetch: () => undefined, websocket: { async message(ws, message) {}, async close() {} } });

// @ts-expect-error: the reason is a string, not a Buffer (ws's 'close')
serve({ fetch: () => undefined, websocket: { close(ws, code: number, reason: Buffer) {} } });
// @ts-expect-error: a message is never a number
serve({ fetch: () => undefined, websocket: { message(ws, message: number) {} } });
// @ts-expect-error: `error` gets the error alone (Bun's docs say `(ws, err)`)
serve({ fetch: () => undefined, websocket: { message() {}, error(ws: WebSocket.ServerWebSocket, err: Error) {} } });
// @ts-expect-error: the data of another type
serve<User>({ fetch: () => undefined, websocket: { open(ws: WebSocket.ServerWebSocket<number>) {} } });

// ---- The server ----

exactly<number | undefined>()(server.port);
exactly<string>()(server.hostname);
exactly<URL>()(server.url);
exactly<Promise<WebSocket.ServeServer<User>>>()(server.ready);
exactly<boolean>()(server.development);
exactly<number>()(server.pendingWebSockets);
exactly<number>()(server.pendingRequests);
exactly<number>()(server.publish("chat", "hello"));
exactly<number>()(server.publish("chat", new Uint8Array(2), true));
server.publish("chat", new ArrayBuffer(1));
server.publish("chat", new DataView(new ArrayBuffer(1)), false);
// @ts-expect-error: the third argument is `compress`, not ws's options
server.publish("chat", "hello", { binary: true });
exactly<number>()(server.subscriberCount("chat"));
exactly<WebSocket.SocketAddress | null>()(server.requestIP(a<Request>()));
const ip = server.requestIP(a<Request>());
if (ip) exactly<"IPv4" | "IPv6">()(ip.family);
exactly<{ status: number; message: string } | null>()(server.upgradeError(a<Request>()));
exactly<Promise<void>>()(server.stop());
exactly<Promise<void>>()(server.stop(true));
exactly<WebSocket.ServeServer<User>>()(server.unref().ref());
// @ts-expect-error: read-only
server.port = 1;
// @ts-expect-error: Bun's reload() is not supported
server.reload({});

// ---- ServerWebSocket ----

const ws = a<WebSocket.ServerWebSocket<User>>();
exactly<number>()(ws.send("text"));
exactly<number>()(ws.send(Buffer.from("binary"), true));
exactly<number>()(ws.sendText("text", false));
exactly<number>()(ws.sendBinary(new Uint8Array(1)));
exactly<number>()(ws.publish("chat", "text"));
exactly<number>()(ws.publishText("chat", "text", true));
exactly<number>()(ws.publishBinary("chat", new ArrayBuffer(1)));
exactly<boolean>()(ws.subscribe("chat"));
exactly<boolean>()(ws.unsubscribe("chat"));
exactly<boolean>()(ws.isSubscribed("chat"));
exactly<string[]>()(ws.subscriptions);
exactly<string>()(ws.cork((w) => (w === ws ? "same" : "")));
exactly<void>()(ws.close());
exactly<void>()(ws.close(4000, "bye"));
exactly<void>()(ws.terminate());
exactly<number>()(ws.ping());
exactly<number>()(ws.pong("data"));
exactly<User>()(ws.data);
ws.data = { name: "bob" };
exactly<0 | 1 | 2 | 3>()(ws.readyState);
exactly<1>()(ws.OPEN);
exactly<string>()(ws.remoteAddress);
exactly<string>()(ws.protocol);
exactly<"nodebuffer" | "arraybuffer" | "uint8array">()(ws.binaryType);
ws.binaryType = "arraybuffer";
exactly<number>()(ws.getBufferedAmount());
// @ts-expect-error: ws's binary types are not all here
ws.binaryType = "fragments";
// @ts-expect-error: `sendText` takes a string
ws.sendText(Buffer.alloc(1));
// @ts-expect-error: `sendBinary` takes binary data
ws.sendBinary("text");
// @ts-expect-error: the second argument is `compress`, not ws's options
ws.send("text", { binary: true });
// @ts-expect-error: read-only
ws.readyState = 3;
// @ts-expect-error: no events: the handlers get what it receives
ws.on("message", () => {});
// @ts-expect-error: data of the wrong type
ws.data = { name: 1 };
// @ts-expect-error: a ws-style connection is not a ServerWebSocket
assignable<WebSocket.ServerWebSocket<any>>(a<WebSocket.ServerSideWebSocket>());

// ---- The `websocket` option of WebSocketServer ----

const handlers: WebSocket.WebSocketServerHandlers = {
    open(ws) {
        exactly<WebSocket.ServerWebSocket<any>>()(ws);
    },
    message(ws, message) {
        ws.send(`got ${message}`);
    },
    close(ws, code, reason) {
        exactly<string>()(reason);
    },
    idleTimeout: 30,
    sendPings: true,
    backpressureLimit: 1024 * 1024,
};
const wss = new WebSocketServer({ noServer: true, websocket: handlers });
new WebSocketServer({ port: 0, websocket: { message(ws, message) { ws.send(message); } } });
// The same handlers object as serve()'s (its perMessageDeflate is ignored there).
new WebSocketServer({ noServer: true, websocket: allOptions });
new WebSocketServer({ noServer: true, websocket: undefined });
// @ts-expect-error: the server's own perMessageDeflate option applies (ws's format)
new WebSocketServer({ noServer: true, websocket: { message() {}, perMessageDeflate: true } });
// @ts-expect-error: not a handler
new WebSocketServer({ noServer: true, websocket: { connection() {} } });

// Still a ws server to @types/ws.
assignable<WS.Server>(wss);
assignable<WS.ServerOptions>(a<WebSocket.ServerOptions>());
http.createServer((req, res) => {
    if (wss.upgrade(req, { data: { name: "alice" } })) return;
    res.writeHead(426).end();
});
