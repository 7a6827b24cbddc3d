//! The receiving state machine: bytes in, event records out (sans-I/O).
//!
//! The caller hands in a chunk (the JS Buffer a socket delivered) and a
//! reusable `u32` events array. The Receiver parses the chunk in place,
//! unmasks payload bytes in the chunk itself, and describes what it found as
//! `(type, a, b)` records whose offsets point into the chunk. It keeps only
//! what straddles chunk boundaries: up to 8 header bytes of the current header
//! stage, the mask key and its phase, message state (fragment opcode, running
//! length, UTF-8 state) and a copy of a close frame's payload (at most 125
//! bytes, needed to validate it).
//!
//! Checks follow ws 8.23's `receiver.js` (`getInfo`, `haveLength`,
//! `getData`, `controlMessage`) in the same order, so a frame with several
//! problems reports the same error as ws. Where this receiver streams and ws
//! buffers, it reports earlier: UTF-8 of a text message fails at the piece
//! that makes it invalid, and the fragment count is checked when a data
//! frame's header is complete rather than after its payload arrived.
//!
//! With permessage-deflate on (`set_inflate`), a data message whose first
//! frame has RSV1 set is compressed: its payload is inflated as it arrives
//! (unmasked through a small buffer, so the chunk is left as it was), the
//! inflated size counts against `max_payload` as it grows (a decompression
//! bomb stops at the limit), and the message is handed over as its own
//! buffer (`take_inflated`) since its bytes are not in any chunk. Where
//! each frame's output ends in it is recorded (cheaply: nothing for a
//! message whose output came from one frame), for `binaryType =
//! 'fragments'`, which hands out one buffer per frame as ws does
//! (`inflated_frame_ends`).
//!
//! See docs/binding.md for the records.

use std::collections::VecDeque;

use crate::close;
use crate::deflate::{Decompressor, InflateError, DEFAULT_WINDOW_BITS};
use crate::errors::{ErrorId, ProtocolError};
use crate::frame::{
    self, FIN_BIT, LEN7_16BIT, LEN7_64BIT, LEN7_BITS, MASK_BIT, OPCODE_BITS, OP_BINARY, OP_CLOSE,
    OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, RSV1_BIT, RSV2_RSV3_BITS,
};
use crate::mask;
use crate::records::rec;
use crate::utf8::Utf8Validator;

/// Record types (the first `u32` of each triple), from src/records.rs.
pub const EV_PIECE: u32 = rec::PIECE;
pub const EV_CTRL_PIECE: u32 = rec::CTRL_PIECE;
pub const EV_MESSAGE: u32 = rec::MESSAGE;
pub const EV_PING: u32 = rec::PING;
pub const EV_PONG: u32 = rec::PONG;
pub const EV_CLOSE: u32 = rec::CLOSE;
pub const EV_ERROR: u32 = rec::ERROR;
pub const EV_INFLATED: u32 = rec::INFLATED;

/// `u32`s per record.
pub const RECORD_LEN: usize = 3;

/// A record of `feed`, decoded (see docs/binding.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// `chunk[start..end]` is payload of the current data message.
    Piece {
        start: usize,
        end: usize,
    },
    /// `chunk[start..end]` is payload of the current control frame.
    CtrlPiece {
        start: usize,
        end: usize,
    },
    /// The data message is complete: its payload is the pieces since the
    /// last completion.
    Message {
        binary: bool,
    },
    Ping,
    Pong,
    /// A close frame; its reason is the control pieces after two bytes.
    Close {
        code: u16,
    },
    /// A protocol error: an id of the error table and its message's number.
    Error {
        id: u32,
        arg: u32,
    },
    /// A compressed message is complete: `take_inflated` has its payload.
    Inflated {
        binary: bool,
        len: u32,
    },
}

impl Record {
    /// Decodes a `(type, a, b)` triple; `None` for an unknown type.
    pub fn decode(kind: u32, a: u32, b: u32) -> Option<Record> {
        Some(match kind {
            EV_PIECE => Record::Piece {
                start: a as usize,
                end: b as usize,
            },
            EV_CTRL_PIECE => Record::CtrlPiece {
                start: a as usize,
                end: b as usize,
            },
            EV_MESSAGE => Record::Message { binary: a == 1 },
            EV_PING => Record::Ping,
            EV_PONG => Record::Pong,
            EV_CLOSE => Record::Close {
                code: u16::try_from(a).ok()?,
            },
            EV_ERROR => Record::Error { id: a, arg: b },
            EV_INFLATED => Record::Inflated {
                binary: a == 1,
                len: b,
            },
            _ => return None,
        })
    }
}

/// The records a `feed` call wrote into `events` (its count is
/// `events[0]`), decoded; an unknown type ends the sequence.
pub fn records(events: &[u32]) -> impl Iterator<Item = Record> + '_ {
    let count = events.first().copied().unwrap_or(0) as usize;
    events
        .get(2..)
        .unwrap_or_default()
        .chunks_exact(RECORD_LEN)
        .take(count)
        .map_while(|r| Record::decode(r[0], r[1], r[2]))
}
/// Records one step may produce (a piece and the completion that follows it,
/// or a piece and an error).
pub const RECORDS_PER_STEP: usize = 2;
/// The smallest events array `feed` accepts: count, offset, one step.
pub const MIN_EVENTS_LEN: usize = 2 + RECORD_LEN * RECORDS_PER_STEP;

/// With `merge_frames`, the PIECE records a message gets before its frames
/// are merged: a message of a few frames keeps its frame boundaries even if
/// JS switches `binaryType` to `'fragments'` after the chunk was parsed.
pub const MERGE_AFTER_PIECES: u32 = 16;

/// Compressed payload is unmasked through a buffer of this size.
const UNMASK_BLOCK: usize = 4096;
/// The largest buffer `recycle` keeps for the next compressed message.
const MAX_SPARE: usize = 64 * 1024;

thread_local! {
    /// A buffer to inflate the next compressed message into, shared by the
    /// Receivers of the thread (see `recycle`).
    static SPARE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The largest payload length ws accepts (2^53 - 1): the high 32 bits of a
/// 64-bit length may be at most 2^21 - 1.
const MAX_LEN_HIGH_WORD: u32 = (1 << 21) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Server side: frames must be masked. Client side: must not be.
    pub is_server: bool,
    /// Largest message (sum of its fragments' payloads); 0 = no limit.
    pub max_payload: u64,
    /// Skip UTF-8 validation of text messages and close reasons (as ws's
    /// `skipUTF8Validation`).
    pub skip_utf8_validation: bool,
    /// Most data frames per message; 0 = no limit.
    pub max_fragments: u32,
    /// Most PIECE records per message; 0 = no limit.
    pub max_pieces: u32,
}

impl Default for Options {
    /// The defaults of ws's `Receiver` class: client side, no limits.
    fn default() -> Self {
        Options {
            is_server: false,
            max_payload: 0,
            skip_utf8_validation: false,
            max_fragments: 0,
            max_pieces: 0,
        }
    }
}

/// Misuse of `feed` by the caller (not peer input). Becomes a RangeError.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedError {
    /// The events array has fewer than `MIN_EVENTS_LEN` entries.
    EventsTooSmall,
    /// `start` is past the end of the chunk.
    StartOutOfRange,
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedError::EventsTooSmall => write!(
                f,
                "The events array must have at least {MIN_EVENTS_LEN} elements"
            ),
            FeedError::StartOutOfRange => f.write_str("The start offset is out of range"),
        }
    }
}

impl std::error::Error for FeedError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// First two header bytes.
    Info,
    /// 16-bit extended length.
    Length16,
    /// 64-bit extended length.
    Length64,
    /// Masking key.
    MaskKey,
    /// Payload bytes of the current frame.
    Payload,
    /// A close frame was received; everything after it is ignored (as ws
    /// does).
    Closed,
    /// A protocol error was reported; the Receiver is dead.
    Failed,
}

/// Writes records into the caller's events array.
struct Records<'e> {
    events: &'e mut [u32],
    count: usize,
    capacity: usize,
}

impl Records<'_> {
    fn room(&self) -> usize {
        self.capacity - self.count
    }

    fn push(&mut self, kind: u32, a: u32, b: u32) {
        let at = 2 + self.count * RECORD_LEN;
        if let Some(slot) = self.events.get_mut(at..at + RECORD_LEN) {
            slot.copy_from_slice(&[kind, a, b]);
            self.count += 1;
        }
    }

    /// Where the last record ends if it is a PIECE. Only data frame headers
    /// can lie between that end and the parse position: any control frame,
    /// completion or error pushes a record of its own.
    fn last_piece_end(&self) -> Option<usize> {
        let at = 2 + self.count.checked_sub(1)? * RECORD_LEN;
        match self.events.get(at..at + RECORD_LEN)? {
            [EV_PIECE, _, end] => Some(*end as usize),
            _ => None,
        }
    }

    /// Moves the end of the last record (a PIECE, see `last_piece_end`).
    fn extend_last_piece(&mut self, end: u32) {
        let at = 2 + self.count.saturating_sub(1) * RECORD_LEN + 2;
        if let Some(slot) = self.events.get_mut(at) {
            *slot = end;
        }
    }
}

/// The permessage-deflate state of a Receiver, boxed: most connections
/// never negotiate compression, and each one holds a Receiver.
struct InflateState {
    decompressor: Decompressor,
    /// The compressed message in progress, inflated so far.
    inflated: Vec<u8>,
    /// Where the output of the first frame of the message in progress that
    /// inflated to something ends (0 until one did). A message whose output
    /// comes from one frame needs nothing more.
    first_end: u32,
    /// Frame ends (see `inflated_frame_ends`): those of the messages in
    /// `ready` (`Ready::ends` are ranges of it), then, from `progress_from`,
    /// those of the message in progress once a second frame of it inflated
    /// to something (then its first end too).
    frame_ends: Vec<u32>,
    progress_from: usize,
    /// Inflated messages of the current `feed` call, not taken yet.
    ready: VecDeque<Ready>,
    /// The frame ends of the message `take_inflated` returned last, a range
    /// of `frame_ends` (empty if its output came from one frame or none),
    /// and its length.
    taken_ends: (usize, usize),
    taken_len: usize,
}

/// An inflated message of the current `feed` call, not taken yet.
struct Ready {
    data: Vec<u8>,
    /// Its frame ends, a range of `InflateState::frame_ends`.
    ends: (usize, usize),
}

/// The most frame ends whose room is kept for the next messages (1 KiB).
const MAX_KEPT_FRAME_ENDS: usize = 256;

impl InflateState {
    /// A data frame of the compressed message in progress is complete:
    /// records where its output ends if it inflated to something.
    fn end_frame(&mut self) {
        let end = u32::try_from(self.inflated.len()).unwrap_or(u32::MAX);
        let tracked = self.frame_ends.len() > self.progress_from;
        let last = if tracked {
            self.frame_ends.last().copied().unwrap_or(0)
        } else {
            self.first_end
        };
        if end <= last {
            // Nothing inflated (ws leaves such frames out).
        } else if self.first_end == 0 {
            self.first_end = end;
        } else {
            if !tracked {
                self.frame_ends.push(self.first_end);
            }
            self.frame_ends.push(end);
        }
    }

    /// The message in progress is complete: hands it over with its frame
    /// ends.
    fn end_message(&mut self) {
        let data = std::mem::take(&mut self.inflated);
        let ends = (self.progress_from, self.frame_ends.len());
        self.ready.push_back(Ready { data, ends });
        self.progress_from = self.frame_ends.len();
        self.first_end = 0;
    }

    /// A new `feed` call: the messages not taken are dropped, with their
    /// frame ends (those of the message in progress are kept).
    fn start_feed(&mut self) {
        self.ready.clear();
        self.frame_ends.drain(..self.progress_from);
        self.progress_from = 0;
        if self.frame_ends.is_empty() && self.frame_ends.capacity() > MAX_KEPT_FRAME_ENDS {
            self.frame_ends = Vec::new();
        }
        self.taken_ends = (0, 0);
        self.taken_len = 0;
    }
}

/// One per connection, so kept small (about 120 bytes): what only some
/// connections use (compression, a close frame's payload) is allocated
/// when it is needed.
pub struct Receiver {
    opts: Options,
    /// permessage-deflate: when set, RSV1 on the first frame of a data
    /// message marks it compressed, and this inflates it.
    inflate: Option<Box<InflateState>>,
    /// Merge the payloads of a message's frames that arrive in the same
    /// chunk into one PIECE (see `set_merge_frames`).
    merge_frames: bool,

    stage: Stage,
    /// Bytes of the current header stage gathered across chunks.
    acc: [u8; 8],
    acc_len: u8,

    // The current frame.
    fin: bool,
    /// Effective opcode: 1/2 for data frames (continuations resolved), 8-10
    /// for control frames.
    opcode: u8,
    masked: bool,
    mask_key: [u8; 4],
    /// Payload bytes of this frame unmasked so far, mod 4 (the key phase).
    mask_phase: u8,
    remaining: u64,

    // The current data message.
    /// Opcode of a fragmented message in progress, 0 when none.
    fragmented: u8,
    /// Whether the message's first frame had RSV1 set (compression hook).
    compressed: bool,
    total_payload: u64,
    num_fragments: u32,
    num_pieces: u32,
    utf8: Utf8Validator,

    /// The current close frame's payload (for its validation), allocated
    /// when a close frame with a payload comes; the payloads of pings and
    /// pongs are not kept (JS has them as CTRL_PIECE records).
    ctrl: Vec<u8>,

    error: Option<ProtocolError>,
}

impl Receiver {
    pub fn new(opts: Options) -> Self {
        Receiver {
            opts,
            inflate: None,
            merge_frames: false,
            stage: Stage::Info,
            acc: [0; 8],
            acc_len: 0,
            fin: false,
            opcode: 0,
            masked: false,
            mask_key: [0; 4],
            mask_phase: 0,
            remaining: 0,
            fragmented: 0,
            compressed: false,
            total_payload: 0,
            num_fragments: 0,
            num_pieces: 0,
            utf8: Utf8Validator::new(),
            ctrl: Vec::new(),
            error: None,
        }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// permessage-deflate with the defaults (window 15, context takeover)
    /// or off. See `set_inflate`.
    pub fn set_compression(&mut self, enabled: bool) {
        self.set_inflate(enabled.then_some((DEFAULT_WINDOW_BITS, false)));
    }

    /// Turns permessage-deflate on with the peer's agreed window bits
    /// (8..=15) and whether it resets its context after each message, or
    /// off (`None`, the default: RSV1 is then refused, 'RSV1 must be
    /// clear'). Set it before the first frame.
    pub fn set_inflate(&mut self, params: Option<(u8, bool)>) {
        self.inflate = params.map(|(bits, nct)| {
            Box::new(InflateState {
                decompressor: Decompressor::new(bits, nct),
                inflated: Vec::new(),
                first_end: 0,
                frame_ends: Vec::new(),
                progress_from: 0,
                ready: VecDeque::new(),
                taken_ends: (0, 0),
                taken_len: 0,
            })
        });
    }

    /// Off (the default), each data frame's payload in a chunk gets PIECE
    /// records of its own. On, once a message has `MERGE_AFTER_PIECES`
    /// pieces, a data frame whose payload follows an earlier frame of the
    /// same message in the same chunk, with only frame headers in between
    /// (no control frame), has its payload moved back in place to right
    /// after the previous piece, whose record is extended: a flood
    /// of tiny fragments then costs no record and no JS object per fragment,
    /// and the piece count of a message is bounded by the chunks it spans
    /// (plus interleaved control frames). The frame boundaries are lost, so
    /// JS turns it off for `binaryType = 'fragments'`.
    pub fn set_merge_frames(&mut self, on: bool) {
        self.merge_frames = on;
    }

    /// The payload of the oldest compressed message reported by an
    /// `EV_INFLATED` record of the last `feed` call (they are dropped when
    /// the next call starts).
    pub fn take_inflated(&mut self) -> Option<Vec<u8>> {
        let state = self.inflate.as_mut()?;
        let ready = state.ready.pop_front()?;
        state.taken_ends = ready.ends;
        state.taken_len = ready.data.len();
        Some(ready.data)
    }

    /// Where the output of each frame of the message `take_inflated`
    /// returned last ends in it, for the frames that inflated to something
    /// (ws's `binaryType = 'fragments'` leaves the others out), in order:
    /// the last end is the message's length. Writes as many as `out` holds
    /// and returns how many there are: 0 for an empty message (or when none
    /// was taken in this `feed` call), 1 when one frame made all of it.
    /// Ends are saturated at `u32::MAX`.
    pub fn inflated_frame_ends(&self, out: &mut [u32]) -> usize {
        let Some(state) = self.inflate.as_deref() else {
            return 0;
        };
        let (from, to) = state.taken_ends;
        let single = [u32::try_from(state.taken_len).unwrap_or(u32::MAX)];
        let ends = match state.frame_ends.get(from..to) {
            Some(ends) if !ends.is_empty() => ends,
            _ if state.taken_len == 0 => return 0,
            _ => &single[..],
        };
        for (dst, src) in out.iter_mut().zip(ends) {
            *dst = *src;
        }
        ends.len()
    }

    /// Gives a buffer returned by `take_inflated` back, to inflate the next
    /// compressed message into (saves an allocation per message). It goes
    /// to a per-thread spare, not to this connection: an idle connection
    /// holds no buffer.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if buf.capacity() <= MAX_SPARE {
            SPARE.with(|spare| {
                let mut spare = spare.borrow_mut();
                if buf.capacity() > spare.capacity() {
                    *spare = buf;
                }
            });
        }
    }

    /// Frees the compression state and buffers (the connection is gone);
    /// the Receiver then ignores input as after a close frame.
    pub fn release(&mut self) {
        if self.stage != Stage::Failed {
            self.stage = Stage::Closed;
        }
        self.drop_inflate_state();
        if let Some(state) = self.inflate.as_mut() {
            state.ready = VecDeque::new();
            state.frame_ends = Vec::new();
            state.progress_from = 0;
            state.taken_ends = (0, 0);
            state.taken_len = 0;
        }
        self.ctrl = Vec::new();
    }

    /// Drops the message in progress and the context (the messages
    /// ready to be taken stay).
    fn drop_inflate_state(&mut self) {
        if let Some(state) = self.inflate.as_mut() {
            state.decompressor.close();
            state.inflated = Vec::new();
            state.first_end = 0;
            let progress_from = state.progress_from;
            state.frame_ends.truncate(progress_from);
        }
    }

    /// The capacity of the buffer the compressed message in progress is
    /// inflated into.
    #[cfg(test)]
    pub(crate) fn inflated_capacity(&self) -> usize {
        self.inflate.as_ref().map_or(0, |s| s.inflated.capacity())
    }

    /// The error that killed this Receiver, if any.
    pub fn error(&self) -> Option<ProtocolError> {
        self.error
    }

    /// True once a close frame was received.
    pub fn is_closed(&self) -> bool {
        self.stage == Stage::Closed
    }

    /// True while the payload of a data frame is being received: the next
    /// bytes fed continue that frame (the native transport tells JS so,
    /// for `binaryType = 'fragments'`).
    pub fn in_data_payload(&self) -> bool {
        self.stage == Stage::Payload && !frame::is_control(self.opcode)
    }

    /// True once nothing more is parsed (a close frame, an error, or
    /// `release`).
    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Closed | Stage::Failed)
    }

    /// Parses `chunk[start..]`, unmasking payload bytes in place, and writes
    /// `events[0]` = record count, `events[1]` = the absolute offset where
    /// parsing stopped, then the records from `events[2]`. Stops early only
    /// when fewer than `RECORDS_PER_STEP` records still fit.
    ///
    /// Chunks are addressed with `u32` offsets: bytes past `u32::MAX` are
    /// not looked at (the offset reported stops there).
    pub fn feed(
        &mut self,
        chunk: &mut [u8],
        start: usize,
        events: &mut [u32],
    ) -> Result<(), FeedError> {
        if events.len() < MIN_EVENTS_LEN {
            return Err(FeedError::EventsTooSmall);
        }
        if start > chunk.len() {
            return Err(FeedError::StartOutOfRange);
        }
        let end = chunk.len().min(u32::MAX as usize);
        let chunk = chunk.get_mut(..end).unwrap_or_default();
        let mut pos = start.min(end);
        let capacity = (events.len() - 2) / RECORD_LEN;
        if let Some(state) = self.inflate.as_mut() {
            state.start_feed();
        }
        let mut out = Records {
            events,
            count: 0,
            capacity,
        };

        match self.stage {
            Stage::Failed => {
                if let Some(e) = self.error {
                    out.push(EV_ERROR, e.id as u32, e.arg);
                }
            }
            Stage::Closed => pos = end,
            _ => {
                if let Err(e) = self.run(chunk, &mut pos, &mut out) {
                    self.error = Some(e);
                    self.stage = Stage::Failed;
                    out.push(EV_ERROR, e.id as u32, e.arg);
                }
                if self.stage == Stage::Closed {
                    pos = end;
                }
                if matches!(self.stage, Stage::Closed | Stage::Failed) {
                    // Nothing more is parsed: free the inflate state now.
                    self.drop_inflate_state();
                    self.ctrl = Vec::new();
                }
            }
        }

        let count = out.count as u32;
        if let Some(head) = out.events.get_mut(..2) {
            head.copy_from_slice(&[count, pos as u32]);
        }
        Ok(())
    }

    fn run(
        &mut self,
        chunk: &mut [u8],
        pos: &mut usize,
        out: &mut Records<'_>,
    ) -> Result<(), ProtocolError> {
        while *pos < chunk.len() && out.room() >= RECORDS_PER_STEP {
            match self.stage {
                Stage::Info => {
                    if let Some(b) = self.gather(chunk, pos, 2) {
                        self.on_info(b[0], b[1], out)?;
                    }
                }
                Stage::Length16 => {
                    if let Some(b) = self.gather(chunk, pos, 2) {
                        let len = u16::from_be_bytes([b[0], b[1]]);
                        self.have_length(u64::from(len), out)?;
                    }
                }
                Stage::Length64 => {
                    if let Some(b) = self.gather(chunk, pos, 8) {
                        let high = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        if high > MAX_LEN_HIGH_WORD {
                            return Err(ProtocolError::new(ErrorId::UnsupportedDataPayloadLength));
                        }
                        self.have_length(u64::from_be_bytes(b), out)?;
                    }
                }
                Stage::MaskKey => {
                    if let Some(b) = self.gather(chunk, pos, 4) {
                        self.mask_key = [b[0], b[1], b[2], b[3]];
                        self.start_payload(out)?;
                    }
                }
                Stage::Payload => self.on_payload(chunk, pos, out)?,
                Stage::Closed | Stage::Failed => break,
            }
        }
        Ok(())
    }

    /// Collects `n` (<= 8) bytes of the current header stage. Reads straight
    /// from the chunk when nothing is pending, else accumulates across
    /// chunks. Returns the bytes once all `n` are there.
    #[inline]
    fn gather(&mut self, chunk: &[u8], pos: &mut usize, n: usize) -> Option<[u8; 8]> {
        let avail = chunk.get(*pos..).unwrap_or_default();
        let mut bytes = [0u8; 8];
        let have = usize::from(self.acc_len);
        if have == 0 {
            if let Some(src) = avail.get(..n) {
                bytes.get_mut(..n)?.copy_from_slice(src);
                *pos += n;
                return Some(bytes);
            }
        }
        let take = (n - have).min(avail.len());
        let dst = self.acc.get_mut(have..have + take)?;
        dst.copy_from_slice(avail.get(..take)?);
        // `have + take <= n <= 8`.
        self.acc_len = (have + take) as u8;
        *pos += take;
        if have + take < n {
            return None;
        }
        self.acc_len = 0;
        bytes.get_mut(..n)?.copy_from_slice(self.acc.get(..n)?);
        Some(bytes)
    }

    /// The first two header bytes: ws's `getInfo`, same checks, same order.
    fn on_info(&mut self, b0: u8, b1: u8, out: &mut Records<'_>) -> Result<(), ProtocolError> {
        if b0 & RSV2_RSV3_BITS != 0 {
            return Err(ProtocolError::new(ErrorId::Rsv2Rsv3));
        }
        let rsv1 = b0 & RSV1_BIT != 0;
        if rsv1 && self.inflate.is_none() {
            return Err(ProtocolError::new(ErrorId::Rsv1));
        }

        let fin = b0 & FIN_BIT != 0;
        let mut opcode = b0 & OPCODE_BITS;
        let len7 = b1 & LEN7_BITS;

        match opcode {
            OP_CONTINUATION => {
                if rsv1 {
                    return Err(ProtocolError::new(ErrorId::Rsv1));
                }
                if self.fragmented == 0 {
                    return Err(ProtocolError::with_arg(ErrorId::InvalidOpcode, 0));
                }
                opcode = self.fragmented;
            }
            OP_TEXT | OP_BINARY => {
                if self.fragmented != 0 {
                    return Err(ProtocolError::with_arg(
                        ErrorId::InvalidOpcode,
                        u32::from(opcode),
                    ));
                }
                self.compressed = rsv1;
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin {
                    return Err(ProtocolError::new(ErrorId::ExpectedFin));
                }
                if rsv1 {
                    return Err(ProtocolError::new(ErrorId::Rsv1));
                }
                if usize::from(len7) > frame::MAX_CONTROL_PAYLOAD
                    || (opcode == OP_CLOSE && len7 == 1)
                {
                    return Err(ProtocolError::with_arg(
                        ErrorId::InvalidControlPayloadLength,
                        u32::from(len7),
                    ));
                }
            }
            _ => {
                return Err(ProtocolError::with_arg(
                    ErrorId::InvalidOpcode,
                    u32::from(opcode),
                ))
            }
        }

        if !fin && self.fragmented == 0 {
            self.fragmented = opcode;
        }
        let masked = b1 & MASK_BIT != 0;
        if self.opts.is_server {
            if !masked {
                return Err(ProtocolError::new(ErrorId::ExpectedMask));
            }
        } else if masked {
            return Err(ProtocolError::new(ErrorId::UnexpectedMask));
        }

        self.fin = fin;
        self.opcode = opcode;
        self.masked = masked;

        match len7 {
            LEN7_16BIT => self.stage = Stage::Length16,
            LEN7_64BIT => self.stage = Stage::Length64,
            _ => self.have_length(u64::from(len7), out)?,
        }
        Ok(())
    }

    /// ws's `haveLength`: the message size limit, checked before any payload.
    fn have_length(&mut self, len: u64, out: &mut Records<'_>) -> Result<(), ProtocolError> {
        if len != 0 && !frame::is_control(self.opcode) {
            self.total_payload = self.total_payload.saturating_add(len);
            if self.opts.max_payload > 0 && self.total_payload > self.opts.max_payload {
                return Err(ProtocolError::new(ErrorId::MaxPayloadExceeded));
            }
        }
        self.remaining = len;
        if self.masked {
            self.stage = Stage::MaskKey;
            Ok(())
        } else {
            self.start_payload(out)
        }
    }

    /// The header is complete.
    fn start_payload(&mut self, out: &mut Records<'_>) -> Result<(), ProtocolError> {
        if !frame::is_control(self.opcode) {
            self.num_fragments = self.num_fragments.saturating_add(1);
            if self.opts.max_fragments > 0 && self.num_fragments > self.opts.max_fragments {
                return Err(ProtocolError::new(ErrorId::TooManyFragments));
            }
        } else if self.opcode == OP_CLOSE {
            self.ctrl.clear();
            // At most 125 bytes (checked with the header).
            self.ctrl.reserve_exact(self.remaining as usize);
        }
        self.mask_phase = 0;
        if self.remaining == 0 {
            self.complete_frame(out)
        } else {
            self.stage = Stage::Payload;
            Ok(())
        }
    }

    fn on_payload(
        &mut self,
        chunk: &mut [u8],
        pos: &mut usize,
        out: &mut Records<'_>,
    ) -> Result<(), ProtocolError> {
        let start = *pos;
        let avail = chunk.len().saturating_sub(start);
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(avail);
        let Some(piece) = chunk.get_mut(start..start + n) else {
            // Cannot happen: n <= avail.
            *pos = chunk.len();
            return Ok(());
        };
        let control = frame::is_control(self.opcode);
        if self.compressed && !control {
            self.inflate_piece(piece)?;
            *pos = start + n;
            self.remaining -= n as u64;
            if self.remaining == 0 {
                self.complete_frame(out)?;
            }
            return Ok(());
        }
        if self.masked {
            mask::apply(piece, self.mask_key, usize::from(self.mask_phase));
            self.mask_phase = ((usize::from(self.mask_phase) + n) & 3) as u8;
        }

        // With `merge_frames`, where this payload joins the previous piece.
        let mut merge_at = None;
        if control {
            if self.opcode == OP_CLOSE {
                self.ctrl.extend_from_slice(piece);
            }
        } else {
            if self.merge_frames && self.num_pieces >= MERGE_AFTER_PIECES {
                merge_at = out.last_piece_end().filter(|&end| end <= start);
            }
            if merge_at.is_none()
                && self.opts.max_pieces > 0
                && self.num_pieces >= self.opts.max_pieces
            {
                return Err(ProtocolError::new(ErrorId::TooManyPieces));
            }
            if self.opcode == OP_TEXT && !self.opts.skip_utf8_validation && !self.utf8.feed(piece) {
                return Err(ProtocolError::new(ErrorId::InvalidUtf8));
            }
            if merge_at.is_none() {
                self.num_pieces += 1;
            }
        }

        *pos = start + n;
        self.remaining -= n as u64;
        if let Some(end) = merge_at {
            // Over the frame headers in between, already parsed.
            chunk.copy_within(start..start + n, end);
            out.extend_last_piece((end + n) as u32);
        } else {
            let kind = if control { EV_CTRL_PIECE } else { EV_PIECE };
            out.push(kind, start as u32, (start + n) as u32);
        }
        if self.remaining == 0 {
            self.complete_frame(out)?;
        }
        Ok(())
    }

    /// The current frame's payload is complete.
    fn complete_frame(&mut self, out: &mut Records<'_>) -> Result<(), ProtocolError> {
        match self.opcode {
            OP_PING | OP_PONG => {
                out.push(
                    if self.opcode == OP_PING {
                        EV_PING
                    } else {
                        EV_PONG
                    },
                    0,
                    0,
                );
                self.stage = Stage::Info;
            }
            OP_CLOSE => {
                let code = close::parse_payload(&self.ctrl, self.opts.skip_utf8_validation)?;
                out.push(EV_CLOSE, u32::from(code), 0);
                self.stage = Stage::Closed;
            }
            _ => {
                self.stage = Stage::Info;
                if self.compressed {
                    if self.fin {
                        self.finish_inflated()?;
                    }
                    if let Some(state) = self.inflate.as_deref_mut() {
                        state.end_frame();
                    }
                }
                if self.fin {
                    let text = self.opcode == OP_TEXT;
                    if text && !self.opts.skip_utf8_validation && !self.utf8.is_complete() {
                        return Err(ProtocolError::new(ErrorId::InvalidUtf8));
                    }
                    if let (true, Some(state)) = (self.compressed, self.inflate.as_mut()) {
                        let len = u32::try_from(state.inflated.len()).unwrap_or(u32::MAX);
                        state.end_message();
                        out.push(EV_INFLATED, u32::from(!text), len);
                    } else {
                        out.push(EV_MESSAGE, u32::from(!text), 0);
                    }
                    self.fragmented = 0;
                    self.compressed = false;
                    self.total_payload = 0;
                    self.num_fragments = 0;
                    self.num_pieces = 0;
                    self.utf8.reset();
                }
            }
        }
        Ok(())
    }

    /// Inflates a piece of a compressed message's payload, unmasking it
    /// through a small buffer (the chunk is not modified), and validates the
    /// text it inflates to as it grows.
    fn inflate_piece(&mut self, piece: &[u8]) -> Result<(), ProtocolError> {
        let limit = self.opts.max_payload;
        let Some(state) = self.inflate.as_deref_mut() else {
            // Cannot happen: a compressed message needs the inflater.
            return Err(ProtocolError::new(ErrorId::Rsv1));
        };
        let InflateState {
            decompressor,
            inflated,
            ..
        } = state;
        if inflated.capacity() == 0 {
            *inflated = SPARE.with(|spare| std::mem::take(&mut *spare.borrow_mut()));
        }
        let before = inflated.len();
        let result = if self.masked {
            let mut block = [0u8; UNMASK_BLOCK];
            let mut result = Ok(());
            for src in piece.chunks(UNMASK_BLOCK) {
                let Some(dst) = block.get_mut(..src.len()) else {
                    break;
                };
                dst.copy_from_slice(src);
                mask::apply(dst, self.mask_key, usize::from(self.mask_phase));
                self.mask_phase = ((usize::from(self.mask_phase) + src.len()) & 3) as u8;
                result = decompressor.inflate(dst, inflated, limit);
                if result.is_err() {
                    break;
                }
            }
            result
        } else {
            decompressor.inflate(piece, inflated, limit)
        };
        // What was inflated before an inflate error (or before the size
        // limit struck) is checked first, its text, then its size: had the
        // piece come in smaller chunks, an earlier call would have checked
        // it (and failed), so skipping it made the error depend on the
        // chunking (found by fuzzing).
        self.check_inflated(before, limit)?;
        result.map_err(inflate_error)
    }

    /// Ends a compressed message: the trailer, then the last of the text.
    fn finish_inflated(&mut self) -> Result<(), ProtocolError> {
        let limit = self.opts.max_payload;
        let Some(state) = self.inflate.as_deref_mut() else {
            return Ok(());
        };
        let before = state.inflated.len();
        let result = state.decompressor.finish(&mut state.inflated, limit);
        // As in `inflate_piece`: what was inflated first.
        self.check_inflated(before, self.opts.max_payload)?;
        result.map_err(inflate_error)
    }

    /// Checks what was inflated since `from`: its text, then the size
    /// limit (`Decompressor` stops one byte past it).
    fn check_inflated(&mut self, from: usize, limit: u64) -> Result<(), ProtocolError> {
        let Some(state) = self.inflate.as_deref() else {
            return Ok(());
        };
        let inflated = &state.inflated;
        if self.opcode == OP_TEXT && !self.opts.skip_utf8_validation {
            let new = inflated.get(from..).unwrap_or_default();
            if !self.utf8.feed(new) {
                return Err(ProtocolError::new(ErrorId::InvalidUtf8));
            }
        }
        if limit > 0 && inflated.len() as u64 > limit {
            return Err(ProtocolError::new(ErrorId::MaxPayloadExceeded));
        }
        Ok(())
    }
}

fn inflate_error(e: InflateError) -> ProtocolError {
    match e {
        InflateError::TooLarge => ProtocolError::new(ErrorId::MaxPayloadExceeded),
        InflateError::Data(message) => ProtocolError::new(ErrorId::from_inflate_message(message)),
    }
}

#[cfg(test)]
mod tests;
