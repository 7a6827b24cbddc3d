// Type definitions for ws-native/redis: the Redis adapter, which shares the
// topics of WebSocketServers in several processes (or machines) through
// Redis pub/sub. The client types are structural, so that neither the
// `redis` nor the `ioredis` package (nor any @types) is needed to compile.

/// <reference types="node" />

import { EventEmitter } from "events";

/**
 * The part of a node-redis client (`createClient()` from `redis` 4, 5 or 6)
 * that the adapter uses.
 */
export interface NodeRedisClientLike {
    readonly isOpen: boolean;
    readonly isReady: boolean;
    publish(...args: any[]): Promise<unknown>;
    subscribe(...args: any[]): Promise<unknown>;
    unsubscribe(...args: any[]): Promise<unknown>;
    on(event: string, listener: (...args: any[]) => void): unknown;
    removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * The part of an ioredis client (`new Redis()` from `ioredis` 5 or 6) that
 * the adapter uses.
 */
export interface IoredisClientLike {
    readonly status: string;
    publish(...args: any[]): Promise<unknown>;
    subscribe(...args: any[]): Promise<unknown>;
    unsubscribe(...args: any[]): Promise<unknown>;
    on(event: string, listener: (...args: any[]) => void): unknown;
    removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/** A client of either library. */
export type RedisClientLike = NodeRedisClientLike | IoredisClientLike;

export interface RedisAdapterOptions {
    /**
     * The prefix of the channel names: a topic's channel is
     * `${prefix}${topic}`. Servers that share topics use the same prefix.
     * @default "ws-native:"
     */
    prefix?: string;
}

/**
 * What a server's topic registry gives the adapter it is attached to.
 */
export interface TopicHub {
    /**
     * Delivers a message from another process to every local subscriber of
     * `topic`.
     */
    deliver(topic: string, payload: Buffer, isBinary: boolean, compress: boolean): void;
    /** The topics that have local subscribers. */
    topics(): Iterable<string>;
}

/**
 * The calls a server makes on its adapter (`new WebSocketServer({ adapter })`).
 * All are synchronous and never throw, except `attach()`.
 */
export interface Adapter {
    /**
     * Called once by the server. Throws if the adapter is attached already
     * (one adapter per server) or closed.
     */
    attach(hub: TopicHub): void;
    /** `topic` got its first local subscriber. */
    addTopic(topic: string): void;
    /** The last local subscriber of `topic` left. */
    removeTopic(topic: string): void;
    /**
     * Forwards a message, already delivered locally, to the other
     * processes. `payload` is copied before this returns.
     */
    publish(topic: string, payload: Buffer, isBinary: boolean, compress: boolean): void;
    /** Stops forwarding and delivering. */
    close(): Promise<void>;
}

/**
 * Shares topics through Redis pub/sub. Emits `'error'` for what went wrong
 * with Redis (a publish dropped, a SUBSCRIBE refused, a message in another
 * format); without an `'error'` listener the first one is a process
 * warning.
 */
export class RedisAdapter extends EventEmitter implements Adapter {
    constructor(pubClient: RedisClientLike, subClient: RedisClientLike, options?: RedisAdapterOptions);

    /** The prefix of the channel names. */
    readonly prefix: string;

    /**
     * The number of publishes that Redis did not take (the client refused
     * or failed them: connection closed, offline queue off or given up).
     */
    readonly dropped: number;

    attach(hub: TopicHub): void;
    addTopic(topic: string): void;
    removeTopic(topic: string): void;
    publish(topic: string, payload: Buffer | Uint8Array | string, isBinary: boolean, compress: boolean): void;

    /**
     * Unsubscribes from every channel and stops delivering; the clients are
     * left open (they are the application's). Resolves once Redis confirmed,
     * or at once if the subscriber connection is down.
     */
    close(): Promise<void>;

    on(event: "error", listener: (this: RedisAdapter, err: Error) => void): this;
    on(event: string | symbol, listener: (this: RedisAdapter, ...args: any[]) => void): this;
    once(event: "error", listener: (this: RedisAdapter, err: Error) => void): this;
    once(event: string | symbol, listener: (this: RedisAdapter, ...args: any[]) => void): this;
    off(event: "error", listener: (this: RedisAdapter, err: Error) => void): this;
    off(event: string | symbol, listener: (this: RedisAdapter, ...args: any[]) => void): this;
    addListener(event: "error", listener: (err: Error) => void): this;
    addListener(event: string | symbol, listener: (...args: any[]) => void): this;
    removeListener(event: "error", listener: (err: Error) => void): this;
    removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * Makes a Redis adapter for `new WebSocketServer({ adapter })`.
 *
 * @param pubClient A node-redis or ioredis client, connected or connecting,
 *     used to PUBLISH
 * @param subClient Another connection (e.g. `pubClient.duplicate()`), put in
 *     subscriber mode by the adapter
 *
 * @example
 * const { createClient } = require("redis");
 * const { createAdapter } = require("ws-native/redis");
 *
 * const pub = createClient({ url: "redis://127.0.0.1:6379" });
 * const sub = pub.duplicate();
 * await Promise.all([pub.connect(), sub.connect()]);
 * const wss = new WebSocketServer({ port: 8080, adapter: createAdapter(pub, sub) });
 */
export function createAdapter(
    pubClient: RedisClientLike,
    subClient: RedisClientLike,
    options?: RedisAdapterOptions,
): RedisAdapter;
