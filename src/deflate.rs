//! permessage-deflate compression state (RFC 7692 §7), over zlib-rs (a
//! pure-Rust zlib: raw deflate with window bits, memory level and strategy,
//! which is what ws's `zlibDeflateOptions` reaches through Node's zlib).
//!
//! A message is compressed with a sync flush and sent without the trailing
//! `00 00 ff ff` (§7.2.1); on receipt the trailer is appended back before
//! the last inflate (§7.2.2). With context takeover the (de)compressor keeps
//! its window from one message to the next; without, it starts afresh for
//! each message. Fresh contexts cost allocation and initialisation (a window
//! 15 compressor is a 371 KiB block), so contexts that would be reset after
//! every message are not kept per connection: they are borrowed from a small
//! per-thread pool for the length of one message.
//!
//! Inflating is bounded: the output never grows past the caller's limit plus
//! one byte, so a decompression bomb is stopped at the limit, not after it
//! was inflated.

use std::cell::RefCell;

use zlib_rs::{Inflate, InflateFlush, Status};

use raw::RawDeflate;

mod raw;

/// The empty stored block a sync flush ends with (RFC 7692 §7.2.1).
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The window when no `*_max_window_bits` was agreed.
pub const DEFAULT_WINDOW_BITS: u8 = 15;

/// Output room requested at least when an output buffer must grow.
const MIN_GROWTH: usize = 4096;

/// Compressors kept per thread for connections without context takeover.
const DEFLATE_POOL_SIZE: usize = 8;
/// Decompressors kept per thread likewise.
const INFLATE_POOL_SIZE: usize = 16;

/// Compression settings (ws's `zlibDeflateOptions` plus the agreed window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateOptions {
    /// -1 (zlib's default, 6) or 0..=9.
    pub level: i32,
    /// 1..=9.
    pub mem_level: i32,
    /// 0..=4: default, filtered, Huffman only, RLE, fixed.
    pub strategy: i32,
    /// 8..=15. A raw deflate stream cannot use 8 with zlib, so 8 means 9,
    /// as with Node's `zlib.createDeflateRaw()` (the peer's window of 256
    /// bytes is still respected: RFC 7692 §7.1.2.1 lets it be larger than
    /// what it asked, and decoders accept 9-bit distances in practice).
    pub window_bits: u8,
}

impl Default for DeflateOptions {
    /// Node's zlib defaults, which ws uses.
    fn default() -> Self {
        DeflateOptions {
            level: -1,
            mem_level: 8,
            strategy: 0,
            window_bits: DEFAULT_WINDOW_BITS,
        }
    }
}

/// An option out of the range zlib accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidOption {
    pub name: &'static str,
    pub value: i32,
}

impl std::fmt::Display for InvalidOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "The value of \"{}\" is out of range. Received {}",
            self.name, self.value
        )
    }
}

impl std::error::Error for InvalidOption {}

impl DeflateOptions {
    /// Checks the ranges Node's zlib checks (zlib-rs would panic on them).
    pub fn validate(&self) -> Result<(), InvalidOption> {
        let check = |name, value: i32, lo, hi| {
            if value < lo || value > hi {
                Err(InvalidOption { name, value })
            } else {
                Ok(())
            }
        };
        check("level", self.level, -1, 9)?;
        check("memLevel", self.mem_level, 1, 9)?;
        check("strategy", self.strategy, 0, 4)?;
        check("windowBits", i32::from(self.window_bits), 8, 15)
    }

    /// A new compressor with these settings (clamped into range).
    fn new_state(&self) -> Result<RawDeflate, CompressError> {
        RawDeflate::new(
            self.level.clamp(-1, 9),
            i32::from(self.window_bits.clamp(9, 15)),
            self.mem_level.clamp(1, 9),
            self.strategy.clamp(0, 4),
        )
        .map_err(|e| {
            CompressError(if e.0 == libz_rs_sys::Z_MEM_ERROR {
                "insufficient memory"
            } else {
                "invalid deflate settings"
            })
        })
    }
}

/// Why a message could not be compressed: memory for a new context could
/// not be had (zlib-rs reports no other error for valid settings and a sync
/// flush).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompressError(pub &'static str);

impl std::fmt::Display for CompressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for CompressError {}

thread_local! {
    static DEFLATE_POOL: RefCell<Vec<(DeflateOptions, RawDeflate)>> = const { RefCell::new(Vec::new()) };
    static INFLATE_POOL: RefCell<Vec<Inflate>> = const { RefCell::new(Vec::new()) };
}

fn pooled_deflate(opts: &DeflateOptions) -> Result<RawDeflate, CompressError> {
    let found = DEFLATE_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let at = pool.iter().rposition(|(o, _)| o == opts)?;
        Some(pool.swap_remove(at).1)
    });
    match found {
        Some(state) => Ok(state),
        None => opts.new_state(),
    }
}

fn return_deflate(opts: DeflateOptions, mut state: RawDeflate) {
    state.reset();
    DEFLATE_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < DEFLATE_POOL_SIZE {
            pool.push((opts, state));
        }
    });
}

fn pooled_inflate() -> Inflate {
    INFLATE_POOL
        .with(|pool| pool.borrow_mut().pop())
        // Pooled decompressors use the largest window: zlib-rs resets to
        // it anyway, and a larger window decodes any smaller one's output.
        .unwrap_or_else(|| Inflate::new(false, DEFAULT_WINDOW_BITS))
}

fn return_inflate(mut state: Inflate) {
    state.reset(false);
    INFLATE_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < INFLATE_POOL_SIZE {
            pool.push(state);
        }
    });
}

/// Appends zeroed room to `out` for zlib to write into and returns where it
/// starts: at least `want` bytes (and `MIN_GROWTH`), at least the size of
/// the output so far (so a growing message doubles), at most `cap`.
/// Zero-filling keeps this free of `unsafe`; the room is sized by the work
/// at hand, not by the capacity a recycled buffer may have.
fn open_room(out: &mut Vec<u8>, want: usize, cap: usize) -> usize {
    let start = out.len();
    let room = want.max(MIN_GROWTH).max(start).min(cap);
    out.reserve(room);
    out.resize(start + room, 0);
    start
}

/// The sending side of one connection.
pub struct Compressor {
    opts: DeflateOptions,
    no_context_takeover: bool,
    /// With context takeover: this connection's own state. Without: a
    /// pooled state, held only while a fragmented message is in progress.
    state: Option<RawDeflate>,
    /// `state` is this connection's own and has not finished a message yet:
    /// after the first, the pages it left zero are handed back (see
    /// `RawDeflate::release_zero_pages`).
    first_message: bool,
}

impl Compressor {
    /// `opts` must be valid (see [`DeflateOptions::validate`]); out-of-range
    /// values are clamped.
    pub fn new(opts: DeflateOptions, no_context_takeover: bool) -> Self {
        Compressor {
            opts,
            no_context_takeover,
            state: None,
            first_message: false,
        }
    }

    /// Compresses one fragment of a message into `out` (cleared first) with
    /// a sync flush. For the last fragment (`fin`), the trailing
    /// `00 00 ff ff` is removed and, without context takeover, the context
    /// is dropped.
    pub fn compress(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressError> {
        let mut state = match self.state.take() {
            Some(s) => s,
            None if self.no_context_takeover => pooled_deflate(&self.opts)?,
            None => {
                self.first_message = true;
                self.opts.new_state()?
            }
        };
        out.clear();
        // On error the state is dropped: the stream is in an unknown state,
        // so the next message starts afresh.
        deflate_sync(&mut state, input, out)?;
        if fin {
            if out.ends_with(&TRAILER) {
                out.truncate(out.len() - TRAILER.len());
            }
            if self.no_context_takeover {
                return_deflate(self.opts, state);
                return Ok(());
            }
            if std::mem::take(&mut self.first_message) {
                // Idle connections hold only what their compressor used: a
                // window 15 one, about 150 KiB after a 2 KiB message (the
                // hash table is 128 KiB of it) instead of 313 KiB. Later
                // messages fault back in what they write (the symbol
                // buffer, more of the window and chains), once.
                state.release_zero_pages();
            }
        }
        self.state = Some(state);
        Ok(())
    }

    /// Releases the context (ws's `cleanup()`); a later `compress` starts
    /// afresh.
    pub fn close(&mut self) {
        self.state = None;
    }
}

/// Deflates `input` with a sync flush, appending to `out`, in two steps as
/// Node's zlib does for ws (a write, then a flush): the write also makes
/// zlib forget the previous flush, without which it would skip this one
/// when nothing is pending (an empty message right after another would then
/// come out empty instead of as an empty stored block).
fn deflate_sync(
    state: &mut RawDeflate,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressError> {
    // Room for the input, assuming some compression; grown as needed.
    let want = input.len() / 4 + 64;
    deflate_step(state, input, out, Flush::None, want)?;
    deflate_step(state, &[], out, Flush::Sync, 64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flush {
    None,
    Sync,
}

fn deflate_step(
    state: &mut RawDeflate,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: Flush,
    mut want: usize,
) -> Result<(), CompressError> {
    let zflush = match flush {
        Flush::None => libz_rs_sys::Z_NO_FLUSH,
        Flush::Sync => libz_rs_sys::Z_SYNC_FLUSH,
    };
    loop {
        let start = open_room(out, want, usize::MAX);
        let room = out.len() - start;
        let (in0, out0) = (state.total_in(), state.total_out());
        let res = state.compress(input, out.get_mut(start..).unwrap_or_default(), zflush);
        let consumed = usize::try_from(state.total_in() - in0).unwrap_or(usize::MAX);
        let produced = usize::try_from(state.total_out() - out0).unwrap_or(usize::MAX);
        out.truncate(start + produced.min(room));
        input = input.get(consumed..).unwrap_or_default();
        if res.is_err() {
            return Err(CompressError(
                state.error_message().unwrap_or("deflate failed"),
            ));
        }
        // A write is done once zlib has taken all the input (it keeps what
        // it has not written yet); a flush once zlib stops with output room
        // to spare.
        let done = match flush {
            Flush::None => input.is_empty(),
            Flush::Sync => produced < room,
        };
        if done {
            return Ok(());
        }
        if consumed == 0 && produced == 0 {
            return Err(CompressError("deflate made no progress"));
        }
        want = input.len() / 4 + MIN_GROWTH;
    }
}

/// Why inflating failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InflateError {
    /// The input is not a valid deflate stream: zlib's message (as Node's
    /// zlib error reports it, e.g. `"invalid block type"`).
    Data(Option<&'static str>),
    /// The inflated message would exceed the limit.
    TooLarge,
}

/// The receiving side of one connection.
pub struct Decompressor {
    window_bits: u8,
    no_context_takeover: bool,
    state: Option<Inflate>,
    /// The current message's deflate stream ended (a final block): the rest
    /// of the message is ignored and the next one starts afresh, as with
    /// Node's zlib, whose stream ends there.
    ended: bool,
}

impl Decompressor {
    /// `window_bits` is the peer's agreed `*_max_window_bits` (8..=15,
    /// clamped). zlib-rs needs at least 9 for a raw stream to decode what
    /// zlib compresses for a window of 8 (it uses 9).
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Decompressor {
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
            state: None,
            ended: false,
        }
    }

    /// Inflates a piece of a compressed message, appending to `out`, which
    /// holds the message so far. `limit` is the most bytes the message may
    /// inflate to (0 = no limit): `out` never grows past `limit + 1` bytes.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
    ) -> Result<(), InflateError> {
        if self.ended || input.is_empty() {
            return Ok(());
        }
        let no_context_takeover = self.no_context_takeover;
        let window_bits = self.window_bits;
        let state = self.state.get_or_insert_with(|| {
            if no_context_takeover {
                pooled_inflate()
            } else {
                Inflate::new(false, window_bits)
            }
        });
        // `out.len()` may reach `cap` (the limit plus one byte, to tell that
        // the limit was exceeded).
        let cap = if limit == 0 {
            usize::MAX
        } else {
            usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX)
        };
        let mut input = input;
        loop {
            if out.len() >= cap {
                return Err(InflateError::TooLarge);
            }
            let start = open_room(out, input.len().saturating_mul(4), cap - out.len());
            let room = out.len() - start;
            let (in0, out0) = (state.total_in(), state.total_out());
            let res = state.decompress(
                input,
                out.get_mut(start..).unwrap_or_default(),
                InflateFlush::SyncFlush,
            );
            let consumed = usize::try_from(state.total_in() - in0).unwrap_or(usize::MAX);
            let produced = usize::try_from(state.total_out() - out0).unwrap_or(usize::MAX);
            out.truncate(start + produced.min(room));
            input = input.get(consumed..).unwrap_or_default();
            match res {
                Err(_) => {
                    let message = state.error_message();
                    // The state is unusable; the connection fails anyway.
                    self.state = None;
                    return Err(InflateError::Data(message));
                }
                Ok(Status::StreamEnd) => {
                    self.ended = true;
                    return if out.len() >= cap {
                        Err(InflateError::TooLarge)
                    } else {
                        Ok(())
                    };
                }
                Ok(_) => {}
            }
            if out.len() >= cap {
                return Err(InflateError::TooLarge);
            }
            // Done once the input is used up and zlib stopped with room to
            // spare (else it may hold more output).
            if input.is_empty() && produced < room {
                return Ok(());
            }
            if consumed == 0 && produced == 0 {
                // No progress with room available: zlib wants more input.
                return Ok(());
            }
        }
    }

    /// Ends a message: inflates the trailer, then drops the context without
    /// context takeover (or when the stream ended).
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: u64) -> Result<(), InflateError> {
        let result = self.inflate(&TRAILER, out, limit);
        self.end_message();
        result
    }

    /// Forgets the current message's stream state where the next message
    /// must start afresh.
    fn end_message(&mut self) {
        if self.ended || self.no_context_takeover {
            if let Some(state) = self.state.take() {
                if self.no_context_takeover {
                    return_inflate(state);
                }
            }
        }
        self.ended = false;
    }

    /// Releases the context (ws's `cleanup()`).
    pub fn close(&mut self) {
        self.state = None;
        self.ended = false;
    }
}

#[cfg(test)]
mod tests;
