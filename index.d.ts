// Type definitions for ws-native: the API of ws 8.x (shaped like @types/ws,
// `export =` with a namespace), plus the Bun-style `upgrade()` and topics.
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
import { Server as HTTPSServer } from "https";
import { createConnection } from "net";
import { Duplex, DuplexOptions } from "stream";
import { SecureContextOptions } from "tls";
import { URL } from "url";
import { ZlibOptions } from "zlib";

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
    }

    interface AddressInfo {
        address: string;
        family: string;
        port: number;
    }

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
        headers?:
            | OutgoingHttpHeaders
            | Headers
            | ReadonlyArray<readonly [string, string | number | readonly string[]]>
            | undefined;
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
