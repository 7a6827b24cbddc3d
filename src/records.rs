//! Every number that crosses the binding as a record type or a flag, in
//! one place. JS reads them from the addon (`constants()`, see
//! src/napi_constants.rs) instead of defining them again.

/// Records of `Receiver#feed()` (the stream transport) and of the native
/// transport's batches (the same types where they mean the same thing).
pub mod rec {
    /// `[a, b)` is payload of the current data message; it starts a frame.
    pub const PIECE: u32 = 1;
    /// `[a, b)` is payload of the current control frame.
    pub const CTRL_PIECE: u32 = 2;
    /// The data message is complete (`a`: 1 if binary); its payload is the
    /// PIECEs since the last completion.
    pub const MESSAGE: u32 = 3;
    /// A ping is complete: its payload is the CTRL_PIECEs since the last
    /// control event.
    pub const PING: u32 = 4;
    pub const PONG: u32 = 5;
    /// A close frame (`a`: the code, 1005 when none); the reason is the
    /// CTRL_PIECE bytes after the first two.
    pub const CLOSE: u32 = 6;
    /// A protocol error (`a`: its id in the error table, `b`: the number of
    /// its message).
    pub const ERROR: u32 = 7;
    /// A compressed message is complete (stream transport): its payload is
    /// the next `takeInflated()` (`a`: 1 if binary, `b`: its length).
    pub const INFLATED: u32 = 8;

    // Native transport only.

    /// As PIECE, but the rest of the frame of the previous piece.
    pub const PIECE_CONT: u32 = 9;
    /// A whole text message in `[a, b)` (one piece, or inflated and copied
    /// there).
    pub const MESSAGE_TEXT: u32 = 10;
    /// A whole binary message in `[a, b)`.
    pub const MESSAGE_BINARY: u32 = 11;
    /// A whole message too large for the slab: the `a`-th Buffer of the
    /// delivery's extras (`b`: 1 if binary).
    pub const MESSAGE_EXTRA: u32 = 12;
    /// Where the output of a frame of the next (inflated) message ends, one
    /// record per frame that inflated to something, when there are two or
    /// more (for `binaryType = 'fragments'`).
    pub const FRAME_END: u32 = 13;
    /// The peer ended its side (a read returned 0).
    pub const EOF: u32 = 16;
    /// A read (`b` = 0) or write (`b` = 1) failed with errno `a`; the
    /// connection no longer polls.
    pub const SOCKET_ERROR: u32 = 17;
    /// Queued bytes were written; `a` + `b` * 2^32 bytes are still queued.
    pub const WRITTEN: u32 = 18;
    /// The queue drained after `end()` and the FIN went out.
    pub const FINISHED: u32 = 19;

    // Native listener: the listener id is in the type's upper 24 bits.

    /// Connection `id` was accepted with a valid upgrade request; its head,
    /// accept key and index are in `[a, b)` (see transport/listener.rs).
    pub const UPGRADE: u32 = 20;
    /// A connection for Node's HTTP server: `id` is its descriptor, now
    /// JS's.
    pub const HANDOFF: u32 = 21;
    /// Accepting failed with errno `a`; `id` is the listener id.
    pub const LISTEN_ERROR: u32 = 22;
}

/// Flags of an outgoing frame (`encodeFrames()` and `nativeSend()`): the
/// opcode in bits 0-3.
pub mod flags {
    pub const OPCODE: u32 = 0x0f;
    pub const FIN: u32 = 1 << 4;
    pub const RSV1: u32 = 1 << 5;
    pub const MASK: u32 = 1 << 6;
    /// `encodeFrames()`: write the header only (JS writes the payload).
    pub const HEADER_ONLY: u32 = 1 << 7;
    /// `nativeSend()`: the payload is whole frames already (ws's
    /// `sender.sendFrame()`): written as it is, with no header.
    pub const RAW: u32 = 1 << 8;
}

/// Names and values, for the N-API layer and the docs.
pub const ALL: &[(&str, u32)] = &[
    ("PIECE", rec::PIECE),
    ("CTRL_PIECE", rec::CTRL_PIECE),
    ("MESSAGE", rec::MESSAGE),
    ("PING", rec::PING),
    ("PONG", rec::PONG),
    ("CLOSE", rec::CLOSE),
    ("ERROR", rec::ERROR),
    ("INFLATED", rec::INFLATED),
    ("PIECE_CONT", rec::PIECE_CONT),
    ("MESSAGE_TEXT", rec::MESSAGE_TEXT),
    ("MESSAGE_BINARY", rec::MESSAGE_BINARY),
    ("MESSAGE_EXTRA", rec::MESSAGE_EXTRA),
    ("FRAME_END", rec::FRAME_END),
    ("EOF", rec::EOF),
    ("SOCKET_ERROR", rec::SOCKET_ERROR),
    ("WRITTEN", rec::WRITTEN),
    ("FINISHED", rec::FINISHED),
    ("UPGRADE", rec::UPGRADE),
    ("HANDOFF", rec::HANDOFF),
    ("LISTEN_ERROR", rec::LISTEN_ERROR),
    ("FIN", flags::FIN),
    ("RSV1", flags::RSV1),
    ("MASK", flags::MASK),
    ("HEADER_ONLY", flags::HEADER_ONLY),
    ("RAW", flags::RAW),
];
