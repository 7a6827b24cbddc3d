// Type definitions for ws-native: the API of ws 8.x (shaped like @types/ws,
// `export =` with a namespace), plus the Bun-style `upgrade()`, topics and
// Bun's `serve()` (`ServeServer`, `ServerWebSocket`, `WebSocketHandler`).
// The ESM entry's are in index.d.mts. tests/types/ checks that the server,
// the sockets and the options are assignable to @types/ws's.

/// <reference types="node" />

import { EventEmitter } from "events";
import {
    Agent,
    ClientRequest,
    ClientRequestArgs,
    IncomingMessage,
    OutgoingHttpHeaders,
    Server as HTTPServer,
} from "http";
import { Server as HTTPSServer, ServerOptions as HTTPSServerOptions } from "https";
import { createConnection } from "net";
import { Duplex, DuplexOptions } from "stream";
import { SecureContextOptions } from "tls";
import { URL } from "url";
import { ZlibOptions } from "zlib";
import { Adapter } from "./redis.js";

/** What `send()`, `ping()` and `pong()` accept (anything `Buffer.from()` takes). */
type BufferLike =
    | string
    | Buffer
    | DataView
    | number
    | ArrayBufferView
    | Uint8Array
    | ArrayBuffer
    | SharedArrayBuffer
    | Blob
    | readonly any[]
    | readonly number[]
    | { valueOf(): ArrayBuffer }
    | { valueOf(): SharedArrayBuffer }
    | { valueOf(): Uint8Array }
    | { valueOf(): readonly number[] }
    | { valueOf(): string }
    | { [Symbol.toPrimitive](hint: string): string };

/** Binary data for `ServerWebSocket#send()` and the like (Bun's `BufferSource`, plus `SharedArrayBuffer`). */
type BinaryData = ArrayBuffer | SharedArrayBuffer | ArrayBufferView;

/** The zlib options of `perMessageDeflate`: a preset dictionary is not part of RFC 7692. */
type ZlibOptionsWithoutDictionary = Omit<ZlibOptions, "dictionary">;

/** A WebSocket connection, client or server side. */
declare class WebSocket extends EventEmitter {
    /** The connection is not yet open. */
    static readonly CONNECTING: 0;
    /** The connection is open and ready to communicate. */
    static readonly OPEN: 1;
    /** The connection is in the process of closing. */
    static readonly CLOSING: 2;
    /** The connection is closed. */
    static readonly CLOSED: 3;

    binaryType: "nodebuffer" | "arraybuffer" | "fragments";
    readonly bufferedAmount: number;
    readonly extensions: string;
    /** Whether the connection is paused. */
    readonly isPaused: boolean;
    readonly protocol: string;
    /** The current state of the connection. */
    readonly readyState:
        | typeof WebSocket.CONNECTING
        | typeof WebSocket.OPEN
        | typeof WebSocket.CLOSING
        | typeof WebSocket.CLOSED;
    readonly url: string;

    /**
     * Server side, after `wss.upgrade(req, { data })`: the `data` given
     * there (Bun's `ws.data`).
     */
    data?: any;

    /** The connection is not yet open. */
    readonly CONNECTING: 0;
    /** The connection is open and ready to communicate. */
    readonly OPEN: 1;
    /** The connection is in the process of closing. */
    readonly CLOSING: 2;
    /** The connection is closed. */
    readonly CLOSED: 3;

    onopen: ((event: WebSocket.Event) => void) | null;
    onerror: ((event: WebSocket.ErrorEvent) => void) | null;
    onclose: ((event: WebSocket.CloseEvent) => void) | null;
    onmessage: ((event: WebSocket.MessageEvent) => void) | null;

    constructor(address: null);
    constructor(address: string | URL, options?: WebSocket.ClientOptions | ClientRequestArgs);
    constructor(
        address: string | URL,
        protocols?: string | string[],
        options?: WebSocket.ClientOptions | ClientRequestArgs,
    );

    close(code?: number, data?: string | Buffer): void;
    ping(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
    pong(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
    send(data: BufferLike, cb?: (err?: Error) => void): void;
    send(
        data: BufferLike,
        options: {
            mask?: boolean | undefined;
            binary?: boolean | undefined;
            compress?: boolean | undefined;
            fin?: boolean | undefined;
        },
        cb?: (err?: Error) => void,
    ): void;
    terminate(): void;

    /** Stops emitting events until `resume()`; a no-op unless open or closing. */
    pause(): void;
    /** Resumes a paused connection; a no-op unless open or closing. */
    resume(): void;

    // HTML5 WebSocket events
    addEventListener<K extends keyof WebSocket.WebSocketEventMap>(
        type: K,
        listener:
            | ((event: WebSocket.WebSocketEventMap[K]) => void)
            | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void },
        options?: WebSocket.EventListenerOptions,
    ): void;
    removeEventListener<K extends keyof WebSocket.WebSocketEventMap>(
        type: K,
        listener:
            | ((event: WebSocket.WebSocketEventMap[K]) => void)
            | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void },
    ): void;

    // Events
    on(event: "close", listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
    on(event: "error", listener: (this: WebSocket, error: Error) => void): this;
    on(event: "upgrade", listener: (this: WebSocket, request: IncomingMessage) => void): this;
    on(event: "message", listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
    on(event: "open", listener: (this: WebSocket) => void): this;
    on(event: "ping" | "pong", listener: (this: WebSocket, data: Buffer) => void): this;
    on(event: "redirect", listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
    on(
        event: "unexpected-response",
        listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void,
    ): this;
    on(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;

    once(event: "close", listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
    once(event: "error", listener: (this: WebSocket, error: Error) => void): this;
    once(event: "upgrade", listener: (this: WebSocket, request: IncomingMessage) => void): this;
    once(event: "message", listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
    once(event: "open", listener: (this: WebSocket) => void): this;
    once(event: "ping" | "pong", listener: (this: WebSocket, data: Buffer) => void): this;
    once(event: "redirect", listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
    once(
        event: "unexpected-response",
        listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void,
    ): this;
    once(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;

    off(event: "close", listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
    off(event: "error", listener: (this: WebSocket, error: Error) => void): this;
    off(event: "upgrade", listener: (this: WebSocket, request: IncomingMessage) => void): this;
    off(event: "message", listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
    off(event: "open", listener: (this: WebSocket) => void): this;
    off(event: "ping" | "pong", listener: (this: WebSocket, data: Buffer) => void): this;
    off(event: "redirect", listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
    off(
        event: "unexpected-response",
        listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void,
    ): this;
    off(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;

    addListener(event: "close", listener: (code: number, reason: Buffer) => void): this;
    addListener(event: "error", listener: (error: Error) => void): this;
    addListener(event: "upgrade", listener: (request: IncomingMessage) => void): this;
    addListener(event: "message", listener: (data: WebSocket.RawData, isBinary: boolean) => void): this;
    addListener(event: "open", listener: () => void): this;
    addListener(event: "ping" | "pong", listener: (data: Buffer) => void): this;
    addListener(event: "redirect", listener: (url: string, request: ClientRequest) => void): this;
    addListener(
        event: "unexpected-response",
        listener: (request: ClientRequest, response: IncomingMessage) => void,
    ): this;
    addListener(event: string | symbol, listener: (...args: any[]) => void): this;

    removeListener(event: "close", listener: (code: number, reason: Buffer) => void): this;
    removeListener(event: "error", listener: (error: Error) => void): this;
    removeListener(event: "upgrade", listener: (request: IncomingMessage) => void): this;
    removeListener(event: "message", listener: (data: WebSocket.RawData, isBinary: boolean) => void): this;
    removeListener(event: "open", listener: () => void): this;
    removeListener(event: "ping" | "pong", listener: (data: Buffer) => void): this;
    removeListener(event: "redirect", listener: (url: string, request: ClientRequest) => void): this;
    removeListener(
        event: "unexpected-response",
        listener: (request: ClientRequest, response: IncomingMessage) => void,
    ): this;
    removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
}

declare const WebSocketAlias: typeof WebSocket;
interface WebSocketAlias extends WebSocket {} // eslint-disable-line @typescript-eslint/no-empty-interface

declare namespace WebSocket {
    /** A received message: a Buffer, an ArrayBuffer or Buffer fragments, by `binaryType`. */
    type RawData = Buffer | ArrayBuffer | Buffer[];

    /** A message payload as the `MessageEvent` carries it. */
    type Data = string | Buffer | ArrayBuffer | Buffer[];

    /** Certificate and key data. */
    type CertMeta = string | string[] | Buffer | Buffer[];

    /** A `verifyClient` hook that answers at once. */
    type VerifyClientCallbackSync<Request extends IncomingMessage = IncomingMessage> = (info: {
        origin: string;
        secure: boolean;
        req: Request;
    }) => boolean;

    /**
     * A `verifyClient` hook that answers through `callback`; a refusal may
     * carry the HTTP status (401 by default), the body and extra headers.
     */
    type VerifyClientCallbackAsync<Request extends IncomingMessage = IncomingMessage> = (
        info: { origin: string; secure: boolean; req: Request },
        callback: (res: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
    ) => void;

    /** A client hook to edit the request; it must call `request.end()`. */
    type FinishRequestCallback = (request: ClientRequest, websocket: WebSocket) => void;

    interface ClientOptions extends SecureContextOptions {
        protocol?: string | undefined;
        followRedirects?: boolean | undefined;
        generateMask?(mask: Buffer): void;
        handshakeTimeout?: number | undefined;
        maxRedirects?: number | undefined;
        perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
        localAddress?: string | undefined;
        protocolVersion?: number | undefined;
        headers?: { [key: string]: string } | undefined;
        origin?: string | undefined;
        agent?: Agent | undefined;
        host?: string | undefined;
        family?: number | undefined;
        checkServerIdentity?(servername: string, cert: CertMeta): boolean;
        rejectUnauthorized?: boolean | undefined;
        allowSynchronousEvents?: boolean | undefined;
        autoPong?: boolean | undefined;
        closeTimeout?: number | undefined;
        maxPayload?: number | undefined;
        /**
         * The most bytes waiting to be written to the peer (`bufferedAmount`)
         * before the connection is dropped: `'error'` (code
         * `WS_NATIVE_ERR_MAX_BUFFERED_AMOUNT`), then `'close'` with 1006.
         * Default 128 MiB; 0 for no limit (ws has none).
         */
        maxBufferedAmount?: number | undefined;
        maxBufferedChunks?: number | undefined;
        /** The most frames per message; default 0 (no limit; ws: 16384). */
        maxFragments?: number | undefined;
        maxPendingAutoPongs?: number | undefined;
        skipUTF8Validation?: boolean | undefined;
        createConnection?: typeof createConnection | undefined;
        finishRequest?: FinishRequestCallback | undefined;
        /** The TLS server name (SNI); by default the URL's host name, none for an IP address. */
        servername?: string | undefined;
    }

    /**
     * The `'error'` of a client whose opening handshake got an ordinary HTTP
     * response (`Unexpected server response: 404`) and no
     * `'unexpected-response'` listener: ws's error, plus ws-native's `hint`
     * on the usual causes (the wrong http server, as with Koa's
     * `app.listen()`, a middleware or proxy, a redirect, a refused path).
     */
    interface UnexpectedResponseError extends Error {
        hint?: string;
    }

    /**
     * permessage-deflate (RFC 7692), negotiated as ws does. Window sizes must
     * be integers from 8 to 15 and the zlib options within Node's ranges
     * (a RangeError when the server or client is created; ws fails on the
     * first message instead).
     */
    interface PerMessageDeflateOptions {
        serverNoContextTakeover?: boolean | undefined;
        clientNoContextTakeover?: boolean | undefined;
        /**
         * A number, as in @types/ws, so that these options are assignable to
         * its; `true` and `false` work too, with ws's meaning.
         */
        serverMaxWindowBits?: number | undefined;
        clientMaxWindowBits?: number | undefined;
        /**
         * `level`, `memLevel` and `strategy` are used; the other zlib options
         * are checked as Node's zlib checks them, with no effect. Without
         * `dictionary`, which is refused (an Error).
         */
        zlibDeflateOptions?: ZlibOptionsWithoutDictionary | undefined;
        /**
         * Checked as Node's zlib checks them (`chunkSize`, `flush`, ...), with
         * no effect. Without `dictionary`, which is refused (an Error).
         */
        zlibInflateOptions?: ZlibOptionsWithoutDictionary | undefined;
        /** Default 1024: below it, messages are not compressed when this endpoint has no context takeover. */
        threshold?: number | undefined;
        /**
         * Default 10: messages of 128 KiB or more are compressed on libuv's
         * thread pool, at most this many at once in the process (the value of
         * the first server or client created counts), as ws limits its zlib jobs.
         */
        concurrencyLimit?: number | undefined;
    }

    interface Event {
        type: string;
        target: WebSocket;
    }

    interface ErrorEvent {
        error: any;
        message: string;
        type: string;
        target: WebSocket;
    }

    interface CloseEvent {
        wasClean: boolean;
        code: number;
        reason: string;
        type: string;
        target: WebSocket;
    }

    interface MessageEvent {
        data: Data;
        type: string;
        target: WebSocket;
    }

    interface WebSocketEventMap {
        open: Event;
        error: ErrorEvent;
        close: CloseEvent;
        message: MessageEvent;
    }

    interface EventListenerOptions {
        once?: boolean | undefined;
    }

    /**
     * The class of a server's connections (`Server<T>`, the `WebSocket`
     * option): `WebSocket`, the default, or a subclass. Only a constructor
     * of `WebSocket`s, not `typeof WebSocket`: @types/ws's class, which lacks
     * our statics (`Sender`, ...), must fit, or a server is not assignable
     * to @types/ws's `Server`; so must the ESM entry's class.
     */
    type WebSocketClass = new (...args: any[]) => WebSocket;

    /** The options of `publish()`, as those of `send()`. */
    interface PublishOptions {
        binary?: boolean | undefined;
        compress?: boolean | undefined;
    }

    /**
     * Topics (publish/subscribe, as Bun's `ServerWebSocket`): what a server's
     * connections have besides ws's `WebSocket` API.
     */
    interface Topics {
        subscribe(topic: string): boolean;
        unsubscribe(topic: string): boolean;
        isSubscribed(topic: string): boolean;
        /** The topics this connection is subscribed to. */
        readonly subscriptions: string[];
        /** Sends `data` to the other subscribers of `topic`. */
        publish(topic: string, data: BufferLike, options?: PublishOptions): boolean;
    }

    /**
     * A connection of a `WebSocketServer` (`'connection'`, `clients`,
     * `handleUpgrade()`): a `WebSocket`, or an instance of the `WebSocket`
     * option, with the topics API.
     *
     * The topics are kept out of the `WebSocket` class on purpose: @types/ws's
     * `WebSocket` appears where a function takes one (`onopen`'s event
     * `target`, `finishRequest`, `createWebSocketStream()`), so any member it
     * lacks would make ours not assignable to it. As it is, a `WebSocket` is
     * assignable to and from @types/ws's, and a `ServerSideWebSocket` to it;
     * one of @types/ws is not a `ServerSideWebSocket` (no topics).
     */
    type ServerSideWebSocket<W extends WebSocket = WebSocket> = W & Topics;

    interface ServerOptions<
        U extends WebSocketClass = typeof WebSocket.WebSocket,
        V extends typeof IncomingMessage = typeof IncomingMessage,
    > {
        host?: string | undefined;
        port?: number | undefined;
        backlog?: number | undefined;
        /**
         * `port` mode: Node's http server timeouts, which drop a handshake
         * that never completes (defaults 60 s, 300 s, checked every 30 s).
         */
        headersTimeout?: number | undefined;
        requestTimeout?: number | undefined;
        connectionsCheckingInterval?: number | undefined;
        server?: HTTPServer<V> | HTTPSServer<V> | undefined;
        verifyClient?:
            | VerifyClientCallbackAsync<InstanceType<V>>
            | VerifyClientCallbackSync<InstanceType<V>>
            | undefined;
        handleProtocols?: (protocols: Set<string>, request: InstanceType<V>) => string | false;
        path?: string | undefined;
        noServer?: boolean | undefined;
        allowSynchronousEvents?: boolean | undefined;
        autoPong?: boolean | undefined;
        clientTracking?: boolean | undefined;
        closeTimeout?: number | undefined;
        perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
        maxPayload?: number | undefined;
        /**
         * The most bytes waiting to be written to the peer (`bufferedAmount`)
         * before the connection is dropped: `'error'` (code
         * `WS_NATIVE_ERR_MAX_BUFFERED_AMOUNT`), then `'close'` with 1006.
         * Default 128 MiB; 0 for no limit (ws has none).
         */
        maxBufferedAmount?: number | undefined;
        maxBufferedChunks?: number | undefined;
        /** The most frames per message; default 0 (no limit; ws: 16384). */
        maxFragments?: number | undefined;
        maxPendingAutoPongs?: number | undefined;
        skipUTF8Validation?: boolean | undefined;
        WebSocket?: U | undefined;
        /**
         * Bun's handlers (`open`, `message`, `close`, ...) instead of
         * `'connection'` and a `WebSocket`: each connection is then a
         * `ServerWebSocket`, as with `serve()`. `'connection'` is still
         * emitted (after `open`), with that `ServerWebSocket`, and `clients`
         * stays empty.
         *
         * Trade-off: `'connection'`, `handleUpgrade()` and `clients` keep
         * their ws types (`ServerSideWebSocket`) with this option too. A
         * server type that depends on whether the option was given needs a
         * type parameter inferred from the handlers object, and TypeScript
         * infers none from an object of methods with untyped parameters: it
         * would fall back to its default in the common case. Use the
         * handlers (typed), or cast: `ws as unknown as WebSocket.ServerWebSocket`.
         */
        websocket?: WebSocketServerHandlers | undefined;
        /**
         * `port` mode: listen with `SO_REUSEPORT`, so that several processes
         * (cluster workers, PM2 instances) each listen on the port with the
         * native listener; the kernel spreads the connections. Every process
         * on the port must set it.
         */
        reusePort?: boolean | undefined;
        /**
         * Seconds a connection may stay silent (nothing received) before it
         * is sent 1001 "Idle timeout" and dropped; 0 (the default): no limit.
         */
        idleTimeout?: number | undefined;
        /** With `idleTimeout`: ping a connection silent for half of it (default true). */
        sendPings?: boolean | undefined;
        /** Shares the server's topics with other processes (`ws-native/redis`). */
        adapter?: Adapter | undefined;
    }

    /** `wss.shutdown()`'s options. */
    interface ShutdownOptions {
        /** The close code sent (default 1001). */
        code?: number | undefined;
        /** The close reason sent (default "Server shutting down"). */
        reason?: string | undefined;
        /** Milliseconds before the connections still open are terminated (default 10000). */
        timeout?: number | undefined;
    }

    interface AddressInfo {
        address: string;
        family: string;
        port: number;
    }

    /** Extra headers of a 101 response (`upgrade()`): an object, a `Headers`, or `[name, value]` pairs. */
    type UpgradeHeaders =
        | OutgoingHttpHeaders
        | Headers
        | ReadonlyArray<readonly [string, string | number | readonly string[]]>;

    /** The options of `WebSocketServer#upgrade()`. */
    interface UpgradeOptions<D = any> {
        /** The value of `ws.data` on the new connection. */
        data?: D | undefined;
        /**
         * Extra headers for the 101 response. A `Sec-WebSocket-Protocol`
         * header selects the subprotocol; `Upgrade`, `Connection`,
         * `Sec-WebSocket-Accept` and `Sec-WebSocket-Extensions` are the
         * server's and are ignored.
         */
        headers?: UpgradeHeaders | undefined;
        /** The first packet of the upgraded stream, as given to an `'upgrade'` listener. */
        head?: Buffer | Uint8Array | undefined;
    }

    /** Why `upgrade(req)` refuses a request, and how to answer it. */
    interface UpgradeError {
        /** The HTTP status to answer with (426 for a plain HTTP request). */
        status: number;
        /** The missing or invalid header (or other cause), and the fix. */
        message: string;
        /** Headers to answer with, e.g. `Upgrade: websocket` with a 426. */
        headers: { [name: string]: string };
    }

    /** What `upgrade()` accepts: the request, or a Koa context / request holding it. */
    type UpgradeRequest<R extends IncomingMessage = IncomingMessage> = R | { req: R };

    // WebSocket Server
    class Server<
        T extends WebSocketClass = typeof WebSocket.WebSocket,
        U extends typeof IncomingMessage = typeof IncomingMessage,
    > extends EventEmitter {
        options: ServerOptions<T, U>;
        path: string;
        clients: Set<ServerSideWebSocket<InstanceType<T>>>;

        constructor(options?: ServerOptions<T, U>, callback?: () => void);

        address(): AddressInfo | string | null;
        close(cb?: (err?: Error) => void): void;
        /**
         * Graceful shutdown: stops accepting (as `close()`), sends every open
         * connection a close frame (1001 "Server shutting down" by default),
         * and resolves once they and the server are closed; connections still
         * open after `timeout` ms are terminated.
         */
        shutdown(options?: WebSocket.ShutdownOptions): Promise<void>;
        handleUpgrade(
            request: InstanceType<U>,
            socket: Duplex,
            upgradeHead: Buffer,
            callback: (client: ServerSideWebSocket<InstanceType<T>>, request: InstanceType<U>) => void,
        ): void;
        shouldHandle(request: InstanceType<U>): boolean | Promise<boolean>;

        /**
         * Bun-style upgrade, from a `'request'` listener (plain `http`, a Koa
         * middleware, an Express route) or an `'upgrade'` listener. Returns
         * `true` when the request was taken over: `'connection'` follows, with
         * `ws.data` set to `options.data`, and nothing the application writes
         * to the response reaches the socket. Returns `false`, having written
         * nothing, when the request is not a valid upgrade, was already
         * answered or upgraded, or the server is closing; answer it yourself
         * (see `upgradeError()`).
         */
        upgrade<D = any>(request: UpgradeRequest<InstanceType<U>>, options?: UpgradeOptions<D>): boolean;

        /** `null` if `upgrade(request)` would accept the request, else why not. */
        upgradeError(request: UpgradeRequest<InstanceType<U>>): UpgradeError | null;

        /** Sends `data` to the subscribers of `topic` (see `Topics`). */
        publish(topic: string, data: BufferLike, options?: PublishOptions): boolean;

        /** How many connections are subscribed to `topic`. */
        subscriberCount(topic: string): number;

        // Events
        on(
            event: "connection",
            cb: (
                this: Server<T>,
                websocket: ServerSideWebSocket<InstanceType<T>>,
                request: InstanceType<U>,
            ) => void,
        ): this;
        on(event: "error", cb: (this: Server<T>, error: Error) => void): this;
        on(event: "headers", cb: (this: Server<T>, headers: string[], request: InstanceType<U>) => void): this;
        on(event: "close" | "listening", cb: (this: Server<T>) => void): this;
        on(
            event: "wsClientError",
            cb: (this: Server<T>, error: Error, socket: Duplex, request: InstanceType<U>) => void,
        ): this;
        on(event: string | symbol, listener: (this: Server<T>, ...args: any[]) => void): this;

        once(
            event: "connection",
            cb: (
                this: Server<T>,
                websocket: ServerSideWebSocket<InstanceType<T>>,
                request: InstanceType<U>,
            ) => void,
        ): this;
        once(event: "error", cb: (this: Server<T>, error: Error) => void): this;
        once(event: "headers", cb: (this: Server<T>, headers: string[], request: InstanceType<U>) => void): this;
        once(event: "close" | "listening", cb: (this: Server<T>) => void): this;
        once(
            event: "wsClientError",
            cb: (this: Server<T>, error: Error, socket: Duplex, request: InstanceType<U>) => void,
        ): this;
        once(event: string | symbol, listener: (this: Server<T>, ...args: any[]) => void): this;

        off(
            event: "connection",
            cb: (
                this: Server<T>,
                websocket: ServerSideWebSocket<InstanceType<T>>,
                request: InstanceType<U>,
            ) => void,
        ): this;
        off(event: "error", cb: (this: Server<T>, error: Error) => void): this;
        off(event: "headers", cb: (this: Server<T>, headers: string[], request: InstanceType<U>) => void): this;
        off(event: "close" | "listening", cb: (this: Server<T>) => void): this;
        off(
            event: "wsClientError",
            cb: (this: Server<T>, error: Error, socket: Duplex, request: InstanceType<U>) => void,
        ): this;
        off(event: string | symbol, listener: (this: Server<T>, ...args: any[]) => void): this;

        addListener(
            event: "connection",
            cb: (websocket: ServerSideWebSocket<InstanceType<T>>, request: InstanceType<U>) => void,
        ): this;
        addListener(event: "error", cb: (error: Error) => void): this;
        addListener(event: "headers", cb: (headers: string[], request: InstanceType<U>) => void): this;
        addListener(event: "close" | "listening", cb: () => void): this;
        addListener(event: "wsClientError", cb: (error: Error, socket: Duplex, request: InstanceType<U>) => void): this;
        addListener(event: string | symbol, listener: (...args: any[]) => void): this;

        removeListener(
            event: "connection",
            cb: (websocket: ServerSideWebSocket<InstanceType<T>>, request: InstanceType<U>) => void,
        ): this;
        removeListener(event: "error", cb: (error: Error) => void): this;
        removeListener(event: "headers", cb: (headers: string[], request: InstanceType<U>) => void): this;
        removeListener(event: "close" | "listening", cb: () => void): this;
        removeListener(
            event: "wsClientError",
            cb: (error: Error, socket: Duplex, request: InstanceType<U>) => void,
        ): this;
        removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
    }

    // ---- Bun's serve() ----

    /**
     * Starts an HTTP server, Bun style: `fetch(request, server)` answers
     * each request (a WHATWG `Request`) with a `Response`, or calls
     * `server.upgrade(request)` to take a WebSocket handshake over, and the
     * connection then gets the `websocket` handlers. The server listens when
     * this returns.
     *
     * `T` is the type of `ws.data` (what `upgrade(request, { data })`
     * takes): give it (`serve<{ user: string }>({ ... })`), or let
     * `websocket.data` (types only) or a typed handler parameter set it.
     *
     * @example
     * const server = serve<{ user: string }>({
     *     port: 3000,
     *     fetch(req, server) {
     *         if (server.upgrade(req, { data: { user: "alice" } })) return;
     *         return new Response("Upgrade Required", { status: 426 });
     *     },
     *     websocket: {
     *         open(ws) { ws.subscribe("chat"); },
     *         message(ws, message) { ws.publish("chat", `${ws.data.user}: ${message}`); },
     *     },
     * });
     */
    function serve<T = undefined>(options: ServeOptions<T>): ServeServer<T>;

    /** The options of `serve()`. */
    interface ServeOptions<T = undefined> {
        /**
         * Answers a request: a `Response` (or a promise of one), or
         * `undefined` once `server.upgrade(request)` returned true. What it
         * throws or rejects with, and anything else it returns, goes to
         * `error` (a 500 without it).
         */
        fetch(
            this: ServeServer<T>,
            request: Request,
            server: ServeServer<T>,
        ): Response | undefined | Promise<Response | undefined>;
        /** Answers a request whose `fetch` failed; a 500 if it returns no `Response`. */
        error?(this: ServeServer<T>, error: Error): Response | void | Promise<Response | void>;
        /** Default: `$BUN_PORT`, `$PORT`, `$NODE_PORT`, else 3000; 0 for any free port. */
        port?: number | string | undefined;
        /** Default `"0.0.0.0"`. */
        hostname?: string | undefined;
        /** `https.createServer()`'s options (`key`, `cert`, ...): HTTPS and wss. */
        tls?: HTTPSServerOptions | undefined;
        /** Shares the topics with other servers (`require("ws-native/redis").createAdapter()`). */
        adapter?: Adapter | undefined;
        /** The WebSocket handlers and their options; without them, `upgrade()` throws. */
        websocket?: WebSocketHandler<T> | undefined;
    }

    /** What `requestIP()` returns. */
    interface SocketAddress {
        address: string;
        family: "IPv4" | "IPv6";
        port: number;
    }

    /** The server `serve()` returns. */
    interface ServeServer<T = undefined> {
        /**
         * The port listened on. Known when `serve()` returns when `hostname`
         * is an IP address (the default); with a host name to look up,
         * `undefined` until `ready` resolves.
         */
        readonly port: number | undefined;
        readonly hostname: string;
        /** `http://` (or `https://`) `hostname:port/`, with `localhost` for `0.0.0.0` and `::`. Throws while `port` is unknown. */
        readonly url: URL;
        /** Resolves with the server once it listens; rejects with the listen error. */
        readonly ready: Promise<ServeServer<T>>;
        /** Always false (Bun's development mode does not exist here). */
        readonly development: boolean;
        /** The WebSocket connections open now. */
        readonly pendingWebSockets: number;
        /** The HTTP requests whose `fetch` has not answered yet. */
        readonly pendingRequests: number;

        /**
         * Takes a WebSocket handshake over: the 101 goes out, `open` runs
         * (before this returns) and it returns true. False, with nothing
         * written, when `request` is not a valid upgrade request (a plain
         * request, a bad key or version), is not the very object `fetch` was
         * given (`new Request(request)` is another), was upgraded or answered
         * already, or the server is stopping: `upgradeError(request)` says
         * why. Works after an `await`. Throws without `websocket` handlers.
         *
         * `data` becomes `ws.data` (the same object); `headers` are added to
         * the 101 response, and a `Sec-WebSocket-Protocol` there picks the
         * subprotocol.
         */
        upgrade(request: Request, options?: ServeUpgradeOptions<T>): boolean;
        /** `null` if `upgrade(request)` would succeed, else why not (not in Bun). */
        upgradeError(request: Request): { status: number; message: string } | null;
        /**
         * Sends to every subscriber of `topic` (text for a string, else
         * binary). Returns the message's length (at least 1) if every
         * subscriber took it at once, -1 if one queued it behind
         * backpressure, 0 if none was sent it (no subscriber, or all past
         * `backpressureLimit`).
         */
        publish(topic: string, data: string | BinaryData, compress?: boolean): number;
        /** How many connections of this server are subscribed to `topic`. */
        subscriberCount(topic: string): number;
        /** The client's address, or `null` for a `Request` this server did not give to `fetch`. */
        requestIP(request: Request): SocketAddress | null;
        /**
         * Stops accepting connections. With `closeActive`, every WebSocket
         * gets close 1001 "Server closed" (newest first) and every HTTP
         * connection is closed. Resolves once the listener and the
         * connections are closed (without `closeActive`, once they closed on
         * their own). Every call returns the same promise.
         */
        stop(closeActive?: boolean): Promise<void>;
        /** Keeps the process alive while the server listens (the default). */
        ref(): this;
        /** Lets the process exit while the server listens. */
        unref(): this;
    }

    /** The options of `ServeServer#upgrade()`. */
    interface ServeUpgradeOptions<T = undefined> {
        /** The value of `ws.data`. */
        data?: T | undefined;
        /**
         * Extra headers for the 101 response. A `Sec-WebSocket-Protocol`
         * header selects the subprotocol; `Upgrade`, `Connection`,
         * `Sec-WebSocket-Accept` and `Sec-WebSocket-Extensions` are the
         * server's and are ignored.
         */
        headers?: UpgradeHeaders | undefined;
    }

    /**
     * A connection of `serve()`, or of a `WebSocketServer` with the
     * `websocket` option: what the handlers get (Bun's `ServerWebSocket`).
     * It has no events (the handlers get what it receives), and it stays
     * usable once closed: sends and publishes return 0, `subscribe()`
     * false, nothing throws.
     */
    interface ServerWebSocket<T = undefined> {
        /** What `upgrade(request, { data })` was given (the same object); writable. */
        data: T;
        /** 1 while open; 3 once closed, from inside `close()` and `terminate()` on. */
        readonly readyState: 0 | 1 | 2 | 3;
        /** The peer's IP address, as text. */
        readonly remoteAddress: string;
        /** The subprotocol agreed on, or `""`. */
        readonly protocol: string;
        /** What binary messages are: a `Buffer` (the default), an `ArrayBuffer` or a `Uint8Array`. */
        binaryType: "nodebuffer" | "arraybuffer" | "uint8array";
        /** The topics subscribed to, in subscription order (a copy). */
        readonly subscriptions: string[];

        readonly CONNECTING: 0;
        readonly OPEN: 1;
        readonly CLOSING: 2;
        readonly CLOSED: 3;

        /**
         * Sends a message: text for a string, binary otherwise. Returns its
         * length in bytes, at least 1 (an empty message is 1: 0 always means
         * "not sent"); -1 if it was queued behind bytes the peer has not read
         * (it will be sent, and `drain` follows); 0 if it was not sent (the
         * connection is closed, or more than `backpressureLimit` bytes are
         * queued). `compress` applies where permessage-deflate was negotiated.
         */
        send(data: string | BinaryData, compress?: boolean): number;
        /** Sends a text message; returns as `send()`. */
        sendText(data: string, compress?: boolean): number;
        /** Sends a binary message; returns as `send()`. */
        sendBinary(data: BinaryData, compress?: boolean): number;
        /**
         * Sends to every subscriber of `topic` but this connection (unless
         * `publishToSelf`), which need not be subscribed. Returns the
         * message's length (at least 1) if the other subscribers took it at
         * once, -1 if one queued it, 0 if none was sent it (also when this
         * connection is the only subscriber, or is closed).
         */
        publish(topic: string, data: string | BinaryData, compress?: boolean): number;
        /** Publishes a text message; returns as `publish()`. */
        publishText(topic: string, data: string, compress?: boolean): number;
        /** Publishes a binary message; returns as `publish()`. */
        publishBinary(topic: string, data: BinaryData, compress?: boolean): number;
        /** `true`, or `false` on a closed connection. Throws for an empty topic. */
        subscribe(topic: string): boolean;
        /** Whether it was subscribed. */
        unsubscribe(topic: string): boolean;
        isSubscribed(topic: string): boolean;
        /** Calls `callback(ws)` and returns what it returns (the sends of a tick go out in one write anyway). */
        cork<R>(callback: (ws: ServerWebSocket<T>) => R): R;
        /** Sends a close frame; `close` runs before this returns, with this code and reason. */
        close(code?: number, reason?: string): void;
        /** Closes the connection without a close frame: the peer and `close` see 1006. */
        terminate(): void;
        /** Sends a ping (never dropped at `backpressureLimit`). Returns the payload's length (0 for none), 0 if closed. */
        ping(data?: string | BinaryData): number;
        /** Sends a pong; returns as `ping()`. */
        pong(data?: string | BinaryData): number;
        /** Bytes sent but not yet taken by the kernel. */
        getBufferedAmount(): number;
    }

    /** A `perMessageDeflate` compressor of `serve()`. */
    type WebSocketCompressor =
        | "disable"
        | "shared"
        | "dedicated"
        | "3KB"
        | "4KB"
        | "8KB"
        | "16KB"
        | "32KB"
        | "64KB"
        | "128KB"
        | "256KB";

    /**
     * A message as `message` gets it: a string for a text message; for a
     * binary one, a `Buffer`, or an `ArrayBuffer` or a `Uint8Array` after
     * `ws.binaryType = "arraybuffer"` or `"uint8array"`. A handler may
     * declare a narrower type (`message: string | Buffer` while `binaryType`
     * stays as it is).
     */
    type ServerWebSocketMessage = string | Buffer | ArrayBuffer | Uint8Array;

    /**
     * The handlers of handler-based connections and their options: the
     * `websocket` option of a `WebSocketServer`. `serve()`'s
     * (`WebSocketHandler`) adds `perMessageDeflate` and `data`. At least one
     * of `open`, `message`, `close`, `drain`, `ping` and `pong` is needed.
     * What a handler throws (or its promise rejects with) goes to `error`;
     * without `error`, it is an uncaught exception.
     */
    interface WebSocketServerHandlers<T = any> {
        /** Runs inside `upgrade()`, before it returns. If it throws, the connection is dropped (1006). */
        open?(ws: ServerWebSocket<T>): void | Promise<void>;
        /** A message, in order, never before `open` nor after `close`. */
        message?(ws: ServerWebSocket<T>, message: ServerWebSocketMessage): void | Promise<void>;
        /**
         * Runs once, after the connection left its topics: with the peer's
         * code and reason (1005 and `""` when it gave none), the code and
         * reason given to `ws.close()` (inside it), 1006 after `terminate()`
         * or a lost connection, the code the peer was sent after a protocol
         * error (1009 for a message over `maxPayloadLength`, 1007 for
         * invalid UTF-8; Bun says 1006), 1001 after `idleTimeout`, 1013
         * after `closeOnBackpressureLimit`.
         */
        close?(ws: ServerWebSocket<T>, code: number, reason: string): void | Promise<void>;
        /** A connection that was told -1 wrote some of its queue; may run again until it is empty. */
        drain?(ws: ServerWebSocket<T>): void | Promise<void>;
        /** A ping was received (it has been answered already). */
        ping?(ws: ServerWebSocket<T>, data: Buffer): void | Promise<void>;
        /** A pong was received (also the answers to `sendPings`' pings). */
        pong?(ws: ServerWebSocket<T>, data: Buffer): void | Promise<void>;
        /** What a handler threw. */
        error?(error: Error): void;
        /** A published message this connection did not get: past `backpressureLimit` (not in Bun). */
        dropped?(ws: ServerWebSocket<T>, message: string | Buffer, isBinary: boolean): void | Promise<void>;

        /** The largest message received, in bytes, after inflation; default 16 MiB. Past it: close 1009. */
        maxPayloadLength?: number | undefined;
        /**
         * Seconds with nothing received before the connection is closed
         * (1001 "Idle timeout"); default 120, 0 for none. Exact: fractions
         * work, nothing is rounded. What the server sends does not count.
         */
        idleTimeout?: number | undefined;
        /** Whether to ping a connection silent for half of `idleTimeout` (a live peer answers); default true. */
        sendPings?: boolean | undefined;
        /** Bytes queued for a connection past which sends and publishes are dropped (0); default 16 MiB, 0 for no limit. */
        backpressureLimit?: number | undefined;
        /** Whether a drop past `backpressureLimit` closes the connection (1013, then at once); default false. */
        closeOnBackpressureLimit?: boolean | undefined;
        /** Whether `ws.publish()` also sends to `ws` itself when it is subscribed; default false. */
        publishToSelf?: boolean | undefined;
    }

    /** The `websocket` option of `serve()`: the handlers and their options, as Bun's. */
    interface WebSocketHandler<T = undefined> extends WebSocketServerHandlers<T> {
        /**
         * Off by default. `true` (or `compress: "shared"`) compresses
         * without context takeover (no memory kept per connection);
         * `"dedicated"` or a window size (`"3KB"` to `"256KB"`) with it;
         * `false` or `"disable"` negotiates it without compressing what is
         * sent. Messages are compressed only when sent with `compress`.
         * `decompress` is accepted and has no effect: what was negotiated is
         * always inflated.
         */
        perMessageDeflate?:
            | boolean
            | {
                compress?: WebSocketCompressor | boolean | undefined;
                decompress?: WebSocketCompressor | boolean | undefined;
            }
            | undefined;
        /** Types only: gives `T`, the type of `ws.data` (`data: {} as { user: string }`). */
        data?: T | undefined;
    }

    const WebSocketServer: typeof Server;
    interface WebSocketServer extends Server {} // eslint-disable-line @typescript-eslint/no-empty-interface
    const WebSocket: typeof WebSocketAlias;
    interface WebSocket extends WebSocketAlias {} // eslint-disable-line @typescript-eslint/no-empty-interface

    /** A Duplex stream over a WebSocket. */
    function createWebSocketStream(websocket: WebSocket, options?: DuplexOptions): Duplex;

    /**
     * permessage-deflate negotiation and compression for one connection
     * (ws's `PerMessageDeflate`, which ws's entry exports too).
     */
    class PerMessageDeflate {
        constructor(
            options?: PerMessageDeflateOptions & {
                isServer?: boolean | undefined;
                maxPayload?: number | undefined;
            },
        );
        static readonly extensionName: "permessage-deflate";
        /** The agreed parameters, once `accept()` succeeded. */
        params: { [param: string]: number | true } | null;
        /** The client's offer. */
        offer(): { [param: string]: number | true };
        /** Accepts offers (server) or a response (client), as `extension.parse()` gives them. Throws if refused. */
        accept(configurations: Array<{ [param: string]: Array<string | true> }>): { [param: string]: number | true };
        cleanup(): void;
        compress(data: Buffer | string, fin: boolean, callback: (err: Error | null, result?: Buffer) => void): void;
        decompress(data: Buffer, fin: boolean, callback: (err: Error | null, result?: Buffer) => void): void;
    }

    /** The frame writer of a connection (ws's `Sender`). */
    class Sender {
        constructor(socket: Duplex, extensions?: { [name: string]: any }, generateMask?: (mask: Buffer) => void);
        static frame(
            data: Buffer | string,
            options: {
                fin?: boolean | undefined;
                generateMask?: ((mask: Buffer) => void) | undefined;
                mask?: boolean | undefined;
                maskBuffer?: Buffer | undefined;
                opcode: number;
                readOnly?: boolean | undefined;
                rsv1?: boolean | undefined;
            },
        ): Buffer[];
        close(code?: number, data?: string | Buffer, mask?: boolean, cb?: (err?: Error) => void): void;
        ping(data: any, mask: boolean, cb?: (err?: Error) => void): void;
        pong(data: any, mask: boolean, cb?: (err?: Error) => void): void;
        send(
            data: any,
            options: {
                binary?: boolean | undefined;
                compress?: boolean | undefined;
                fin?: boolean | undefined;
                mask?: boolean | undefined;
                readOnly?: boolean | undefined;
            },
            cb?: (err?: Error) => void,
        ): void;
    }

    /** Parsing and formatting of the `Sec-WebSocket-Extensions` header. */
    namespace extension {
        /** The offers of a header: extension name → offers → parameter name → values (`true` for no value). */
        type Offers = { [name: string]: Array<{ [param: string]: Array<string | true> }> };

        /** Parses a header; the objects have no prototype. Throws a `SyntaxError`. */
        function parse(header: string): Offers;

        /** Builds a header value; single offers and single values need no array. */
        function format(extensions: {
            [name: string]:
                | { [param: string]: string | number | true | Array<string | number | true> }
                | Array<{ [param: string]: string | number | true | Array<string | number | true> }>;
        }): string;
    }

    /** Parsing of the `Sec-WebSocket-Protocol` header. */
    namespace subprotocol {
        /** Parses a header into the subprotocol names, in order. Throws a `SyntaxError`. */
        function parse(header: string): Set<string>;
    }
}

export = WebSocket;
