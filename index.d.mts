// Type definitions for the ESM entry of ws-native (js/wrapper.mjs), shaped
// like @types/ws's index.d.mts: the named exports of ws's wrapper.mjs but
// `Receiver`, plus Bun's `serve`, and a default export that is the `WebSocket`
// class alone. The CommonJS entry adds `Server`, `WebSocketServer`,
// `createWebSocketStream`, `serve`, ... to the class; the ESM entry does not,
// so neither do these types. Everything else is the CommonJS entry's types
// (index.d.ts), re-exported.

/// <reference types="node" />

import { ClientRequestArgs, IncomingMessage } from "http";
import { URL } from "url";
import Cjs from "./index.js";

/** What the CommonJS entry adds to the class and the ESM entry does not (as with ws). */
type CommonJsStatics =
    | "createWebSocketStream"
    | "extension"
    | "PerMessageDeflate"
    | "Sender"
    | "serve"
    | "Server"
    | "subprotocol"
    | "WebSocket"
    | "WebSocketServer";

/** `WebSocket` as the ESM entry exports it: the class, without the CommonJS entry's statics. */
declare const WebSocket: Omit<typeof Cjs.WebSocket, CommonJsStatics> & {
    new (address: null): WebSocket;
    new (address: string | URL, options?: Cjs.ClientOptions | ClientRequestArgs): WebSocket;
    new (
        address: string | URL,
        protocols?: string | string[],
        options?: Cjs.ClientOptions | ClientRequestArgs,
    ): WebSocket;
};
type WebSocket = Cjs.WebSocket;

// The types of the CommonJS namespace, as `WebSocket.RawData` and as named
// exports (`import type { RawData } from "ws-native"`), as with @types/ws.
declare namespace WebSocket {
    type AddressInfo = Cjs.AddressInfo;
    type CertMeta = Cjs.CertMeta;
    type ClientOptions = Cjs.ClientOptions;
    type CloseEvent = Cjs.CloseEvent;
    type Data = Cjs.Data;
    type ErrorEvent = Cjs.ErrorEvent;
    type Event = Cjs.Event;
    type EventListenerOptions = Cjs.EventListenerOptions;
    type FinishRequestCallback = Cjs.FinishRequestCallback;
    type MessageEvent = Cjs.MessageEvent;
    type PerMessageDeflateOptions = Cjs.PerMessageDeflateOptions;
    type PublishOptions = Cjs.PublishOptions;
    type ShutdownOptions = Cjs.ShutdownOptions;
    type RawData = Cjs.RawData;
    type ServeOptions<T = undefined> = Cjs.ServeOptions<T>;
    type ServeServer<T = undefined> = Cjs.ServeServer<T>;
    type ServeUpgradeOptions<T = undefined> = Cjs.ServeUpgradeOptions<T>;
    type ServerOptions<
        U extends Cjs.WebSocketClass = typeof Cjs.WebSocket,
        V extends typeof IncomingMessage = typeof IncomingMessage,
    > = Cjs.ServerOptions<U, V>;
    type ServerSideWebSocket<W extends Cjs.WebSocket = Cjs.WebSocket> = Cjs.ServerSideWebSocket<W>;
    type ServerWebSocket<T = undefined> = Cjs.ServerWebSocket<T>;
    type ServerWebSocketMessage = Cjs.ServerWebSocketMessage;
    type SocketAddress = Cjs.SocketAddress;
    type Topics = Cjs.Topics;
    type UnexpectedResponseError = Cjs.UnexpectedResponseError;
    type UpgradeError = Cjs.UpgradeError;
    type UpgradeHeaders = Cjs.UpgradeHeaders;
    type UpgradeOptions<D = any> = Cjs.UpgradeOptions<D>;
    type UpgradeRequest<R extends IncomingMessage = IncomingMessage> = Cjs.UpgradeRequest<R>;
    type VerifyClientCallbackAsync<R extends IncomingMessage = IncomingMessage> = Cjs.VerifyClientCallbackAsync<R>;
    type VerifyClientCallbackSync<R extends IncomingMessage = IncomingMessage> = Cjs.VerifyClientCallbackSync<R>;
    type WebSocketClass = Cjs.WebSocketClass;
    type WebSocketCompressor = Cjs.WebSocketCompressor;
    type WebSocketEventMap = Cjs.WebSocketEventMap;
    type WebSocketHandler<T = undefined> = Cjs.WebSocketHandler<T>;
    type WebSocketServerHandlers<T = any> = Cjs.WebSocketServerHandlers<T>;
}

export import AddressInfo = WebSocket.AddressInfo;
export import CertMeta = WebSocket.CertMeta;
export import ClientOptions = WebSocket.ClientOptions;
export import CloseEvent = WebSocket.CloseEvent;
export import Data = WebSocket.Data;
export import ErrorEvent = WebSocket.ErrorEvent;
export import Event = WebSocket.Event;
export import EventListenerOptions = WebSocket.EventListenerOptions;
export import FinishRequestCallback = WebSocket.FinishRequestCallback;
export import MessageEvent = WebSocket.MessageEvent;
export import PerMessageDeflateOptions = WebSocket.PerMessageDeflateOptions;
export import PublishOptions = WebSocket.PublishOptions;
export import ShutdownOptions = WebSocket.ShutdownOptions;
export import RawData = WebSocket.RawData;
export import ServeOptions = WebSocket.ServeOptions;
export import ServeServer = WebSocket.ServeServer;
export import ServeUpgradeOptions = WebSocket.ServeUpgradeOptions;
export import ServerOptions = WebSocket.ServerOptions;
export import ServerSideWebSocket = WebSocket.ServerSideWebSocket;
export import ServerWebSocket = WebSocket.ServerWebSocket;
export import ServerWebSocketMessage = WebSocket.ServerWebSocketMessage;
export import SocketAddress = WebSocket.SocketAddress;
export import Topics = WebSocket.Topics;
export import UnexpectedResponseError = WebSocket.UnexpectedResponseError;
export import UpgradeError = WebSocket.UpgradeError;
export import UpgradeHeaders = WebSocket.UpgradeHeaders;
export import UpgradeOptions = WebSocket.UpgradeOptions;
export import UpgradeRequest = WebSocket.UpgradeRequest;
export import VerifyClientCallbackAsync = WebSocket.VerifyClientCallbackAsync;
export import VerifyClientCallbackSync = WebSocket.VerifyClientCallbackSync;
export import WebSocketClass = WebSocket.WebSocketClass;
export import WebSocketCompressor = WebSocket.WebSocketCompressor;
export import WebSocketEventMap = WebSocket.WebSocketEventMap;
export import WebSocketHandler = WebSocket.WebSocketHandler;
export import WebSocketServerHandlers = WebSocket.WebSocketServerHandlers;

/** The server class, as a type only: the ESM entry exports it as `WebSocketServer`. */
export type Server<
    T extends Cjs.WebSocketClass = typeof Cjs.WebSocket,
    U extends typeof IncomingMessage = typeof IncomingMessage,
> = Cjs.Server<T, U>;

export const WebSocketServer: typeof Cjs.Server;
export interface WebSocketServer extends Cjs.Server {} // eslint-disable-line @typescript-eslint/no-empty-interface

export const createWebSocketStream: typeof Cjs.createWebSocketStream;
export import extension = Cjs.extension;
export const PerMessageDeflate: typeof Cjs.PerMessageDeflate;
export type PerMessageDeflate = Cjs.PerMessageDeflate;
export const Sender: typeof Cjs.Sender;
export type Sender = Cjs.Sender;
export import subprotocol = Cjs.subprotocol;

/** Bun's `serve()` (see index.d.ts). */
export const serve: typeof Cjs.serve;

export { WebSocket };
export default WebSocket;
