// ESM (index.d.mts): the ESM entry's exports and its default export, and
// its types against @types/ws's (its index.d.mts, and its index.d.ts as a
// library with CommonJS types sees it). `// @ts-expect-error` marks what
// must not compile. What is assignable and what is not: see cjs.cts (the
// types are the same, re-exported).

import * as http from "http";
import WebSocket, {
    createWebSocketStream,
    extension,
    PerMessageDeflate,
    Sender,
    subprotocol,
    WebSocketServer,
    type ClientOptions,
    type PerMessageDeflateOptions,
    type RawData,
    type Server,
    type ServerOptions,
    type ServerSideWebSocket,
    type UpgradeError,
} from "ws-native";
import * as wsNative from "ws-native";
import WS, { WebSocketServer as WSServer } from "ws";
import type { WebSocket as WebSocketCjs, WS as WSCjs } from "./cjs-types.cjs";
import { a, assignable, exactly } from "./check.cjs";

// ---- The entry: what js/wrapper.mjs exports (tests/esm-entry.test.js checks it against ws's) ----

exactly<
    | "createWebSocketStream"
    | "default"
    | "extension"
    | "PerMessageDeflate"
    | "Sender"
    | "serve"
    | "subprotocol"
    | "WebSocket"
    | "WebSocketServer"
>()(a<keyof typeof wsNative>());
exactly<typeof WebSocket>()(wsNative.WebSocket);

// The default export is the class alone: the CommonJS entry's statics are not on it.
// @ts-expect-error
WebSocket.Server;
// @ts-expect-error
WebSocket.WebSocketServer;
// @ts-expect-error
WebSocket.createWebSocketStream;
// @ts-expect-error
WebSocket.WebSocket;
// @ts-expect-error
WebSocket.PerMessageDeflate;
// @ts-expect-error: a named export only
WebSocket.serve;
exactly<1>()(WebSocket.OPEN);
WebSocket.listenerCount(new WebSocket("ws://localhost:8080"), "message");
// @ts-expect-error: a type only, as in ws (no `Server` export)
new Server({ noServer: true });

class MyWebSocket extends WebSocket {
    user = "";
}
const client: WebSocket = new MyWebSocket("ws://localhost:8080", { perMessageDeflate: false });
if (a<unknown>() instanceof WebSocket) exactly<WebSocket>()(a<WebSocket>());

// The namespace's types, both ways of naming them.
exactly<RawData>()(a<WebSocket.RawData>());
exactly<ServerOptions>()(a<WebSocket.ServerOptions>());

// The same types as the CommonJS entry's.
exactly<WebSocketCjs>()(a<WebSocket>());
exactly<WebSocketCjs.ServerOptions>()(a<ServerOptions>());
exactly<WebSocketCjs.WebSocketServer>()(a<WebSocketServer>());
exactly<WebSocketCjs.Server<typeof MyWebSocket>>()(a<Server<typeof MyWebSocket>>());
exactly<WebSocketCjs.ServerSideWebSocket>()(a<ServerSideWebSocket>());
exactly<typeof WebSocketCjs.WebSocketServer>()(WebSocketServer);

// ---- Against @types/ws (index.d.mts) ----

assignable<WS>(client);
assignable<WebSocket>(new WS("ws://localhost:8080"));
assignable<typeof WS>(WebSocket);
assignable<typeof WebSocket>(WS);

assignable<WS.ClientOptions>(a<ClientOptions>());
assignable<ClientOptions>(a<WS.ClientOptions>());
assignable<WS.PerMessageDeflateOptions>(a<PerMessageDeflateOptions>());
assignable<PerMessageDeflateOptions>(a<WS.PerMessageDeflateOptions>());
assignable<WS.RawData>(a<RawData>());
assignable<RawData>(a<WS.RawData>());
assignable<WS.ServerOptions>(a<ServerOptions>());
// @ts-expect-error: the default `WebSocket` option is our class, whose statics ws's lacks
assignable<ServerOptions>(a<WS.ServerOptions>());
assignable<ServerOptions<typeof WS>>(a<WS.ServerOptions>());

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: { zlibInflateOptions: { chunkSize: 1024 } } });
assignable<WSServer>(wss);
// @ts-expect-error: ws's server has no `upgrade()`, `publish()`, ...
assignable<WebSocketServer>(a<WSServer>());
assignable<WSServer>(new WebSocketServer(a<WS.ServerOptions>()));

// As graphql-ws's `useServer(options, ws: WebSocketServer)` takes it (its ESM types import "ws").
declare function useServer(options: { schema: unknown }, ws: WSServer, keepAlive?: number): { dispose(): void };
useServer({ schema: null }, wss);
useServer({ schema: null }, new WebSocketServer({ noServer: true, WebSocket: MyWebSocket }));

// A library whose types are CommonJS gets @types/ws's index.d.ts.
declare function attach(wss: WSCjs.WebSocketServer, socket: WSCjs): void;
attach(wss, client);

// Listeners, both ways.
declare const wsOnMessage: (this: WS, data: WS.RawData, isBinary: boolean) => void;
declare const wsOnConnection: (this: WSServer, socket: WS, request: http.IncomingMessage) => void;
declare const onMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
client.on("message", wsOnMessage);
wss.on("connection", wsOnConnection);
new WS("ws://localhost:8080").on("message", onMessage);
client.onclose = a<(event: WS.CloseEvent) => void>();
new WS("ws://localhost:8080").onclose = a<(event: WebSocket.CloseEvent) => void>();

// ---- ws-native's additions ----

wss.on("connection", (ws, req) => {
    exactly<ServerSideWebSocket>()(ws);
    exactly<boolean>()(ws.subscribe("chat"));
    exactly<string[]>()(ws.subscriptions);
    exactly<boolean>()(ws.publish("chat", "hello", { compress: false }));
    exactly<boolean>()(wss.upgrade(req, { data: 1, headers: { "X-A": "1" } }));
    exactly<UpgradeError | null>()(wss.upgradeError(req));
});
exactly<boolean>()(wss.publish("chat", "hello", { binary: false }));
exactly<number>()(wss.subscriberCount("chat"));
// @ts-expect-error: topics are a server's connections', not a client's
client.subscribe("chat");

// ---- The other named exports ----

exactly<"permessage-deflate">()(PerMessageDeflate.extensionName);
createWebSocketStream(client).end();
exactly<Set<string>>()(subprotocol.parse("a"));
extension.parse("permessage-deflate");
new Sender(a<import("stream").Duplex>());
