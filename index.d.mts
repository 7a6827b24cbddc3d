// Type definitions for the ESM entry of ws-native (js/wrapper.mjs), shaped
// like @types/ws's index.d.mts: the named exports of ws's wrapper.mjs but
// `Receiver`, and a default export that is the `WebSocket` class alone. The CommonJS
// entry adds `Server`, `WebSocketServer`, `createWebSocketStream`, ... to the
// class; the ESM entry does not, so neither do these types. Everything else
// is the CommonJS entry's types (index.d.ts), re-exported.

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
    type RawData = Cjs.RawData;
    type ServerOptions<
        U extends Cjs.WebSocketClass = typeof Cjs.WebSocket,
        V extends typeof IncomingMessage = typeof IncomingMessage,
    > = Cjs.ServerOptions<U, V>;
    type ServerSideWebSocket<W extends Cjs.WebSocket = Cjs.WebSocket> = Cjs.ServerSideWebSocket<W>;
    type Topics = Cjs.Topics;
    type UnexpectedResponseError = Cjs.UnexpectedResponseError;
    type UpgradeError = Cjs.UpgradeError;
    type UpgradeOptions<D = any> = Cjs.UpgradeOptions<D>;
    type UpgradeRequest<R extends IncomingMessage = IncomingMessage> = Cjs.UpgradeRequest<R>;
    type VerifyClientCallbackAsync<R extends IncomingMessage = IncomingMessage> = Cjs.VerifyClientCallbackAsync<R>;
    type VerifyClientCallbackSync<R extends IncomingMessage = IncomingMessage> = Cjs.VerifyClientCallbackSync<R>;
    type WebSocketClass = Cjs.WebSocketClass;
    type WebSocketEventMap = Cjs.WebSocketEventMap;
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
export import RawData = WebSocket.RawData;
export import ServerOptions = WebSocket.ServerOptions;
export import ServerSideWebSocket = WebSocket.ServerSideWebSocket;
export import Topics = WebSocket.Topics;
export import UnexpectedResponseError = WebSocket.UnexpectedResponseError;
export import UpgradeError = WebSocket.UpgradeError;
export import UpgradeOptions = WebSocket.UpgradeOptions;
export import UpgradeRequest = WebSocket.UpgradeRequest;
export import VerifyClientCallbackAsync = WebSocket.VerifyClientCallbackAsync;
export import VerifyClientCallbackSync = WebSocket.VerifyClientCallbackSync;
export import WebSocketClass = WebSocket.WebSocketClass;
export import WebSocketEventMap = WebSocket.WebSocketEventMap;

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

export { WebSocket };
export default WebSocket;
