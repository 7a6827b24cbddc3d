// CommonJS (index.d.ts): ws-native's types against @types/ws's, as a
// program that imports `ws-native` would use them with libraries typed
// against `ws`. `// @ts-expect-error` marks what must not compile.
//
// What is assignable, and why not the rest:
// - `WebSocket` (instance), `ClientOptions`, `PerMessageDeflateOptions`,
//   `RawData`, `Data` and the listeners of `WebSocket`: both ways.
// - A `WebSocketServer` (`Server`), its connections (`ServerSideWebSocket`)
//   and `ServerOptions`: to @types/ws's. Not from: ws's server has no
//   `upgrade()`, `publish()`, ..., ws's sockets no topics, and the default
//   `WebSocket` option of ours is `typeof WebSocket`, whose statics (`Server`
//   among them) ws's lack. @types/ws's `ServerOptions` are still taken by
//   `new WebSocketServer()` and are a `ServerOptions<typeof import("ws")>`.
// - `typeof WebSocket` (the class): to @types/ws's, not from (our statics).

import http = require("http");
import net = require("net");
import WebSocket = require("ws-native");
import WS = require("ws");
import { a, assignable, exactly } from "./check.cjs";

const { WebSocketServer, PerMessageDeflate, createWebSocketStream, extension, subprotocol, Sender } = WebSocket;

// ---- WebSocket ----

assignable<WS>(a<WebSocket>());
assignable<WebSocket>(a<WS>());
assignable<WS.WebSocket>(a<WebSocket.WebSocket>());
assignable<WebSocket.WebSocket>(a<WS.WebSocket>());
assignable<typeof WS>(WebSocket);
assignable<typeof WS.WebSocket>(WebSocket.WebSocket);
// @ts-expect-error: ws's class lacks our statics (`Sender`, `extension`, ...)
assignable<typeof WebSocket>(WS);

// A socket made by one is used by functions typed with the other.
assignable<WS>(new WebSocket("ws://localhost:8080", ["chat"], { handshakeTimeout: 1000 }));
assignable<WebSocket>(new WS("ws://localhost:8080"));
assignable<WS.ServerOptions["WebSocket"]>(WebSocket);

// ---- Options ----

assignable<WS.ClientOptions>(a<WebSocket.ClientOptions>());
assignable<WebSocket.ClientOptions>(a<WS.ClientOptions>());
new WebSocket("ws://localhost:8080", a<WS.ClientOptions>());

assignable<WS.PerMessageDeflateOptions>(a<WebSocket.PerMessageDeflateOptions>());
assignable<WebSocket.PerMessageDeflateOptions>(a<WS.PerMessageDeflateOptions>());

assignable<WS.ServerOptions>(a<WebSocket.ServerOptions>());
// @ts-expect-error: the default `WebSocket` option is our class, whose statics ws's lacks
assignable<WebSocket.ServerOptions>(a<WS.ServerOptions>());
assignable<WebSocket.ServerOptions<typeof WS>>(a<WS.ServerOptions>());
assignable<WS.WebSocketServer>(new WebSocketServer(a<WS.ServerOptions>()));

// exactOptionalPropertyTypes: `undefined` is taken wherever @types/ws takes it.
const deflate: Required<WebSocket.PerMessageDeflateOptions> = {
    serverNoContextTakeover: undefined,
    clientNoContextTakeover: undefined,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
    zlibDeflateOptions: { level: undefined, memLevel: undefined, strategy: undefined, chunkSize: undefined },
    zlibInflateOptions: { chunkSize: undefined, windowBits: undefined },
    threshold: undefined,
    concurrencyLimit: undefined,
};
new WebSocketServer({ noServer: true, perMessageDeflate: deflate });
new WebSocketServer({ noServer: true, perMessageDeflate: { serverMaxWindowBits: 10, zlibDeflateOptions: { level: 1 } } });
// @ts-expect-error: a number, as in @types/ws (`true` works at run time)
new WebSocketServer({ noServer: true, perMessageDeflate: { serverMaxWindowBits: true } });
// @ts-expect-error: a preset dictionary is refused
new WebSocketServer({ noServer: true, perMessageDeflate: { zlibDeflateOptions: { dictionary: Buffer.alloc(1) } } });

// ---- WebSocketServer ----

const wss = new WebSocketServer({ noServer: true });

assignable<WS.WebSocketServer>(wss);
assignable<WS.Server>(wss);
assignable<WS.Server>(new WebSocket.Server({ port: 0 }));
// @ts-expect-error: ws's server has no `upgrade()`, `publish()`, ...
assignable<WebSocket.WebSocketServer>(a<WS.WebSocketServer>());
assignable<typeof WS.WebSocketServer>(WebSocketServer);

// As graphql-ws's `useServer(options, ws: WebSocketServer)` takes it.
declare function useServer(options: { schema: unknown }, ws: WS.WebSocketServer, keepAlive?: number): { dispose(): void };
useServer({ schema: null }, wss);
useServer({ schema: null }, new WebSocketServer({ server: http.createServer(), path: "/graphql" }), 12_000);

// A server of a subclass.
class MyWebSocket extends WebSocket {
    user = "";
}
const myWss = new WebSocketServer({ noServer: true, WebSocket: MyWebSocket });
assignable<WS.Server>(myWss);
myWss.on("connection", (ws) => {
    exactly<string>()(ws.user);
    exactly<boolean>()(ws.subscribe("room"));
});

// ---- Listeners ----

const client = new WebSocket("ws://localhost:8080");
const wsClient = new WS("ws://localhost:8080");

declare const wsOnMessage: (this: WS, data: WS.RawData, isBinary: boolean) => void;
declare const wsOnClose: (this: WS, code: number, reason: Buffer) => void;
declare const wsOnUpgrade: (this: WS, request: http.IncomingMessage) => void;
declare const wsOnUnexpected: (this: WS, request: http.ClientRequest, response: http.IncomingMessage) => void;
declare const wsOnMessageEvent: (event: WS.MessageEvent) => void;
declare const wsOnConnection: (this: WS.Server, socket: WS, request: http.IncomingMessage) => void;
client.on("message", wsOnMessage).on("close", wsOnClose).once("upgrade", wsOnUpgrade);
client.off("unexpected-response", wsOnUnexpected).addListener("message", wsOnMessage);
client.onmessage = wsOnMessageEvent;
client.addEventListener("message", wsOnMessageEvent, { once: true });
wss.on("connection", wsOnConnection).off("connection", wsOnConnection);

declare const onMessage: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void;
declare const onClose: (this: WebSocket, code: number, reason: Buffer) => void;
declare const onMessageEvent: (event: WebSocket.MessageEvent) => void;
declare const onSocket: (socket: WebSocket, request: http.IncomingMessage) => void;
wsClient.on("message", onMessage).on("close", onClose).removeListener("message", onMessage);
wsClient.onmessage = onMessageEvent;
wsClient.addEventListener("message", onMessageEvent);
a<WS.Server>().on("connection", onSocket);

// In both, the listener's arguments are typed.
client.on("message", (data, isBinary) => {
    exactly<WebSocket.RawData>()(data);
    exactly<WS.RawData>()(data);
    exactly<boolean>()(isBinary);
});
client.on("error", (err) => exactly<Error>()(err));
wss.on("connection", (ws, req) => {
    exactly<WebSocket.ServerSideWebSocket>()(ws);
    exactly<http.IncomingMessage>()(req);
    assignable<WS>(ws);
});
wss.on("wsClientError", (err, socket, req) => {
    exactly<import("stream").Duplex>()(socket);
    exactly<http.IncomingMessage>()(req);
});

// ---- RawData ----

assignable<WS.RawData>(a<WebSocket.RawData>());
assignable<WebSocket.RawData>(a<WS.RawData>());
assignable<WS.Data>(a<WebSocket.Data>());
assignable<WebSocket.Data>(a<WS.Data>());

// ---- ws-native's additions ----

// upgrade(req, { data, headers }) -> boolean, from a request handler; also a Koa context.
http.createServer((req, res) => {
    exactly<boolean>()(wss.upgrade(req));
    exactly<boolean>()(wss.upgrade(req, { data: { user: "alice" }, headers: { "X-Server": "ws-native" } }));
    exactly<boolean>()(wss.upgrade({ req }, { headers: [["Sec-WebSocket-Protocol", "chat"]] }));
    exactly<boolean>()(wss.upgrade(req, { headers: new Headers({ "X-A": "1" }), head: Buffer.alloc(0) }));
    // @ts-expect-error: not an option
    wss.upgrade(req, { date: 1 });
    // @ts-expect-error: a request is needed
    wss.upgrade(req.url);

    const error = wss.upgradeError(req);
    exactly<WebSocket.UpgradeError | null>()(error);
    if (error) {
        exactly<number>()(error.status);
        exactly<string>()(error.message);
        res.writeHead(error.status, error.headers).end(error.message);
    }
});
wss.on("connection", (ws) => exactly<any>()(ws.data));

// err.hint on the client's error for an ordinary HTTP response.
client.on("error", (err) => {
    const { hint } = err as WebSocket.UnexpectedResponseError;
    exactly<string | undefined>()(hint);
});

// Topics: on a server's connections and on the server.
wss.on("connection", (ws) => {
    exactly<boolean>()(ws.subscribe("chat"));
    exactly<boolean>()(ws.unsubscribe("chat"));
    exactly<boolean>()(ws.isSubscribed("chat"));
    exactly<string[]>()(ws.subscriptions);
    exactly<boolean>()(ws.publish("chat", "hello"));
    exactly<boolean>()(ws.publish("chat", Buffer.from("hi"), { binary: true, compress: false }));
    ws.publish("chat", new Uint8Array(2), { binary: undefined, compress: undefined });
    // @ts-expect-error: read-only
    ws.subscriptions = [];
    // @ts-expect-error: not an option
    ws.publish("chat", "hello", { fin: false });
    // @ts-expect-error: a topic is a string
    ws.subscribe(1);
});
for (const ws of wss.clients) exactly<boolean>()(ws.isSubscribed("chat"));

// More than one process: reusePort, the heartbeat, an adapter, shutdown.
const clustered = new WebSocketServer({ port: 8080, reusePort: true, idleTimeout: 30, sendPings: true });
exactly<Promise<void>>()(clustered.shutdown());
exactly<Promise<void>>()(clustered.shutdown({ code: 1012, reason: "restart", timeout: 5000 }));
// @ts-expect-error: a number of seconds
new WebSocketServer({ port: 8080, idleTimeout: "30s" });
// @ts-expect-error: an object of options
clustered.shutdown(1001);
wss.handleUpgrade(a<http.IncomingMessage>(), a<net.Socket>(), Buffer.alloc(0), (ws) => ws.subscribe("chat"));
exactly<boolean>()(wss.publish("chat", "hello"));
exactly<boolean>()(wss.publish("chat", new ArrayBuffer(1), { binary: true, compress: true }));
exactly<number>()(wss.subscriberCount("chat"));
// @ts-expect-error: topics are a server's connections', not a client's
client.subscribe("chat");

// ---- The rest of the CommonJS entry ----

exactly<"permessage-deflate">()(PerMessageDeflate.extensionName);
new PerMessageDeflate({ isServer: true, maxPayload: 0, serverNoContextTakeover: true }).offer();
exactly<import("stream").Duplex>()(createWebSocketStream(client, { allowHalfOpen: false }));
createWebSocketStream(wsClient);
exactly<Set<string>>()(subprotocol.parse("a, b"));
extension.format({ "permessage-deflate": { client_max_window_bits: true } });
Sender.frame(Buffer.alloc(1), { opcode: 2, fin: true, mask: false, readOnly: false });
