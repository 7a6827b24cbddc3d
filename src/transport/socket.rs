//! One connection of the native transport and the batch its events go
//! into. No libuv and no N-API here: a connection reads and writes its
//! descriptor when told to and says which readiness it wants next
//! ([`Conn::interest`]); the caller (transport/mod.rs) polls for it.
//!
//! A connection owns its end to end once JS attaches it (`attach`): each
//! read lands in the batch's slab and is parsed there at once by the
//! connection's [`Receiver`] (unmasked in place, inflated, validated), and
//! what JS gets are message-level records (src/records.rs): a whole
//! message as a range of the slab, or the pieces of one that spans reads,
//! control frames, the close frame, a protocol error, the end of stream.
//! After a close frame or an error nothing more is parsed; the connection
//! reads on (and drops what it reads) to see the peer's end of stream, as
//! ws does.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};

use super::fd;
use crate::receiver::{
    Receiver, EV_CLOSE, EV_CTRL_PIECE, EV_ERROR, EV_INFLATED, EV_MESSAGE, EV_PIECE, EV_PING,
    EV_PONG, RECORD_LEN as EV_LEN,
};
use crate::records::rec;

/// `u32`s per record: connection id, type, a, b.
pub const RECORD_LEN: usize = 4;

/// Readiness a connection wants (libuv's `UV_READABLE` / `UV_WRITABLE`).
pub const WANT_READ: i32 = 1;
pub const WANT_WRITE: i32 = 2;
/// `UV_DISCONNECT`: the peer shut its side (EPOLLRDHUP; a full hang-up
/// reports it too).
pub const WANT_HANGUP: i32 = 4;

/// A read is given at least this much room in the slab; with less, the
/// connection waits for a new slab (transport/mod.rs).
pub const MIN_READ_ROOM: usize = 16 * 1024;
/// Reads per readiness event before giving the other connections a turn
/// (libuv's own stream reads loop 32 times at 64 KiB).
const MAX_READS_PER_EVENT: usize = 4;
/// A drained write queue keeps at most this much capacity.
const MAX_IDLE_QUEUE: usize = 16 * 1024;
/// An inflated message up to this size is copied into the slab (a view for
/// JS); a larger one goes to JS as a Buffer of its own.
const MAX_SLAB_MESSAGE: usize = 64 * 1024;
/// Receiver records per `feed` call.
const EVENTS: usize = 256;
/// Most frame ends reported for one inflated message per call (a message
/// with more frames than this is handed out with fewer frame boundaries).
const MAX_FRAME_ENDS: usize = 1024;

/// The events of one loop wakeup, for every connection: the bytes read go
/// back to back into a slab, memory that JS owns (a Buffer the N-API layer
/// creates, see `set_slab`), and records describe them with offsets into
/// it. A slab is filled across batches and never written twice once a
/// record points into it, so the views JS keeps of earlier batches stay
/// valid.
pub struct Batch {
    slab: *mut u8,
    slab_len: usize,
    used: usize,
    /// Backing memory when the slab is not JS memory (unit tests).
    #[cfg_attr(not(test), allow(dead_code))]
    owned: Vec<u8>,
    pub records: Vec<u32>,
    /// Messages too large for the slab, handed to JS with the records
    /// (`MESSAGE_EXTRA` records give their index).
    pub extras: Vec<Vec<u8>>,
    /// An end of stream, an error or a FIN went in: the connection is
    /// closing, which JS should see in the same loop phase as with a
    /// `net.Socket` (see `Transport::on_poll`).
    pub closing: bool,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            slab: std::ptr::null_mut(),
            slab_len: 0,
            used: 0,
            owned: Vec::new(),
            records: Vec::new(),
            extras: Vec::new(),
            closing: false,
        }
    }
}

impl Batch {
    /// A batch over memory of its own (for tests).
    #[cfg(test)]
    pub fn with_owned_slab(len: usize) -> Batch {
        let mut b = Batch {
            owned: vec![0; len],
            ..Batch::default()
        };
        b.slab = b.owned.as_mut_ptr();
        b.slab_len = len;
        b
    }

    /// Reads go into `len` bytes at `slab` from now on, from its start.
    ///
    /// # Safety
    /// `slab` must be valid for writes of `len` bytes until the next call,
    /// and not written by anything else meanwhile (JS only reads the ranges
    /// records describe, which are never written again).
    pub unsafe fn set_slab(&mut self, slab: *mut u8, len: usize) {
        self.slab = slab;
        self.slab_len = len;
        self.used = 0;
    }

    /// Bytes of the slab not used yet.
    pub fn room(&self) -> usize {
        self.slab_len - self.used
    }

    /// The slab's bytes so far (tests).
    #[cfg(test)]
    pub fn data(&self) -> &[u8] {
        &self.owned[..self.used]
    }

    fn spare(&mut self) -> &mut [MaybeUninit<u8>] {
        if self.slab.is_null() {
            return &mut [];
        }
        // SAFETY: per `set_slab`'s contract the slab is valid for writes of
        // `slab_len` bytes and only this batch writes it; `used <=
        // slab_len`, and the bytes before `used` are not part of the slice.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.slab.add(self.used).cast::<MaybeUninit<u8>>(),
                self.slab_len - self.used,
            )
        }
    }

    /// The committed bytes `[start, end)` of the slab, for the receiver to
    /// parse in place.
    fn committed_mut(&mut self, start: usize, end: usize) -> &mut [u8] {
        if self.slab.is_null() || start > end || end > self.used {
            return &mut [];
        }
        // SAFETY: `[start, end)` lies within the bytes written so far
        // (`end <= used <= slab_len`, initialised by the read that
        // committed them); JS reads no slab bytes while Rust runs, and the
        // slice is dropped before anything else touches the slab.
        unsafe { std::slice::from_raw_parts_mut(self.slab.add(start), end - start) }
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn record_count(&self) -> usize {
        self.records.len() / RECORD_LEN
    }

    /// Forgets the records (delivered); the slab keeps its bytes.
    pub fn clear(&mut self) {
        self.records.clear();
        self.extras.clear();
        self.closing = false;
    }

    pub fn push(&mut self, id: u32, kind: u32, a: u32, b: u32) {
        self.records.extend_from_slice(&[id, kind, a, b]);
        if matches!(kind, rec::EOF | rec::SOCKET_ERROR | rec::FINISHED) {
            self.closing = true;
        }
    }

    /// Fills the next `len` bytes of the slab with `fill` and returns their
    /// range, or `None` if they do not fit (or `fill` fails).
    pub fn append_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> io::Result<()>,
    ) -> Option<(u32, u32)> {
        let start = self.used;
        if self.room() < len || start + len > u32::MAX as usize {
            return None;
        }
        fill(&mut self.spare()[..len]).ok()?;
        self.used += len;
        Some((start as u32, (start + len) as u32))
    }

    /// Copies `bytes` to the end of the slab; their range, if they fit.
    pub fn append(&mut self, bytes: &[u8]) -> Option<(u32, u32)> {
        self.append_with(bytes.len(), |dst| {
            for (d, &s) in dst.iter_mut().zip(bytes) {
                d.write(s);
            }
            Ok(())
        })
    }
}

/// How JS configures a connection's receiver (ws's options).
#[derive(Clone, Copy, Debug)]
pub struct RxOptions {
    pub opts: crate::receiver::Options,
    /// permessage-deflate: the peer's window bits and context reset, if
    /// negotiated.
    pub inflate: Option<(u8, bool)>,
    pub merge_frames: bool,
}

/// The state of one connection whose descriptor the transport owns.
pub struct Conn {
    id: u32,
    fd: OwnedFd,
    /// Bytes accepted but not written yet, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// JS wants data (attached and not paused).
    reading: bool,
    /// The peer's FIN was read.
    eof: bool,
    /// A read or write failed: the connection is dead, JS destroys it.
    failed: bool,
    /// The next write is the last: the FIN follows it at once.
    fin_next: bool,
    /// `end()` was called: send the FIN once the queue drains.
    ending: bool,
    /// The FIN was sent.
    finished: bool,
    /// The protocol state, from `attach` on.
    rx: Option<Receiver>,
    /// A close frame or an error was parsed: what is read is dropped.
    discard: bool,
    /// The current data message already has records (its first pieces
    /// came in an earlier read): its end cannot be folded into one record.
    msg_open: bool,
    /// Bytes JS handed over at `attach` (read before the takeover), parsed
    /// at the next delivery.
    input: Vec<u8>,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

impl Conn {
    pub fn new(id: u32, fd: OwnedFd) -> Self {
        Conn {
            id,
            fd,
            out: Vec::new(),
            out_pos: 0,
            reading: false,
            eof: false,
            failed: false,
            fin_next: false,
            ending: false,
            finished: false,
            rx: None,
            discard: false,
            msg_open: false,
            input: Vec::new(),
            bytes_read: 0,
            bytes_written: 0,
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Bytes waiting in the write queue.
    pub fn queued(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// The readiness to poll for now.
    pub fn interest(&self) -> i32 {
        if self.failed {
            return 0;
        }
        let mut events = 0;
        if self.reading && !self.eof {
            events |= WANT_READ | WANT_HANGUP;
        }
        if self.queued() != 0 || (self.ending && !self.finished) {
            events |= WANT_WRITE;
        }
        events
    }

    /// Whether JS gave it a receiver (`attach`).
    pub fn attached(&self) -> bool {
        self.rx.is_some()
    }

    /// Neither failed nor at the end of its input.
    pub fn live(&self) -> bool {
        !self.failed && !self.eof
    }

    /// The peer's FIN was read.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Starts parsing with `options`; `input` (bytes read before) is
    /// parsed at the next delivery (see `take_input`). Reading starts.
    pub fn attach(&mut self, options: &RxOptions, input: &[u8]) {
        let mut rx = Receiver::new(options.opts);
        rx.set_inflate(options.inflate);
        rx.set_merge_frames(options.merge_frames);
        self.rx = Some(rx);
        self.input.extend_from_slice(input);
        self.reading = true;
    }

    pub fn is_attached(&self) -> bool {
        self.rx.is_some()
    }

    /// Whether bytes handed over at `attach` wait to be parsed.
    pub fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// Parses as much of the handed-over bytes as the slab takes; returns
    /// whether some are left (then the caller gives a new slab first).
    pub fn parse_input(&mut self, batch: &mut Batch) -> bool {
        let input = std::mem::take(&mut self.input);
        let n = input.len().min(batch.room());
        let Some((start, end)) = batch.append(&input[..n]) else {
            self.input = input;
            return true;
        };
        self.bytes_read += n as u64;
        self.parse(batch, start as usize, end as usize);
        if n < input.len() {
            self.input = input[n..].to_vec();
        }
        self.has_input()
    }

    pub fn set_reading(&mut self, on: bool) {
        self.reading = on && self.rx.is_some();
    }

    /// `binaryType = 'fragments'` needs frame boundaries: no merging.
    pub fn set_merge_frames(&mut self, on: bool) {
        if let Some(rx) = self.rx.as_mut() {
            rx.set_merge_frames(on);
        }
    }

    /// A poll error: the connection is dead.
    pub fn fail(&mut self, batch: &mut Batch, errno: i32, writing: bool) {
        if !self.failed {
            self.failed = true;
            batch.push(
                self.id,
                rec::SOCKET_ERROR,
                errno.unsigned_abs(),
                u32::from(writing),
            );
        }
    }

    /// Reads what the socket has into the batch and parses it. After a
    /// short read, reading goes on to the end of stream only on a full
    /// hang-up (the peer's FIN while ours is sent), as libuv's stream reads
    /// do on POLLHUP, so that `'end'` comes in the same loop turn as with a
    /// `net.Socket`.
    pub fn on_readable(&mut self, batch: &mut Batch, hangup: bool) {
        let to_eof = hangup && self.finished;
        if !self.reading || self.eof || self.failed {
            return;
        }
        for _ in 0..MAX_READS_PER_EVENT {
            let start = batch.used;
            // Slab offsets travel as u32; slabs are far smaller.
            let room = batch.room().min(u32::MAX as usize - start);
            if room < MIN_READ_ROOM {
                // The transport gives a new slab before the next event.
                return;
            }
            let spare = batch.spare();
            match fd::read(self.fd.as_raw_fd(), &mut spare[..room]) {
                Ok(Some(0)) => {
                    self.eof = true;
                    batch.push(self.id, rec::EOF, 0, 0);
                    return;
                }
                Ok(Some(n)) => {
                    self.bytes_read += n as u64;
                    // Dropped bytes are read over again by the next read.
                    if !self.discard {
                        batch.used += n;
                        self.parse(batch, start, start + n);
                    }
                    if n < room && !to_eof {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.fail(batch, e.raw_os_error().unwrap_or(libc::EIO), false);
                    return;
                }
            }
        }
    }

    /// Parses `slab[start..end]` and turns the receiver's records into the
    /// connection's (see src/records.rs).
    fn parse(&mut self, batch: &mut Batch, start: usize, end: usize) {
        let Some(rx) = self.rx.as_mut() else {
            return;
        };
        let mut events = [0u32; 2 + EV_LEN * EVENTS];
        let mut ends = [0u32; MAX_FRAME_ENDS];
        let mut pos = 0;
        let len = end - start;
        // A whole message held back: a PIECE folded into the MESSAGE record
        // that follows it, if one does.
        let mut held: Option<(u32, u32)> = None;
        let id = self.id;
        while pos < len && !self.discard {
            // Mid-payload of a data frame, the piece that starts right here
            // continues it; any other piece follows a header.
            let cont_at = rx.in_data_payload().then_some(pos as u32);
            let chunk = batch.committed_mut(start, end);
            if rx.feed(chunk, pos, &mut events).is_err() {
                // Cannot happen: the arrays are large enough.
                break;
            }
            let count = events[0] as usize;
            pos = events[1] as usize;
            for r in events[2..2 + count * EV_LEN].chunks_exact(EV_LEN) {
                let (kind, a, b) = (r[0], r[1], r[2]);
                let (sa, sb) = (a + start as u32, b + start as u32);
                if kind != EV_MESSAGE {
                    if let Some((ha, hb)) = held.take() {
                        batch.push(id, rec::PIECE, ha, hb);
                        self.msg_open = true;
                    }
                }
                match kind {
                    EV_PIECE => {
                        if cont_at == Some(a) {
                            batch.push(id, rec::PIECE_CONT, sa, sb);
                            self.msg_open = true;
                        } else if self.msg_open {
                            batch.push(id, rec::PIECE, sa, sb);
                        } else {
                            held = Some((sa, sb));
                        }
                    }
                    EV_MESSAGE => {
                        match held.take() {
                            Some((ha, hb)) => {
                                let kind = if a == 1 {
                                    rec::MESSAGE_BINARY
                                } else {
                                    rec::MESSAGE_TEXT
                                };
                                batch.push(id, kind, ha, hb);
                            }
                            None => batch.push(id, rec::MESSAGE, a, 0),
                        }
                        self.msg_open = false;
                    }
                    EV_INFLATED => {
                        let data = rx.take_inflated().unwrap_or_default();
                        let n = rx.inflated_frame_ends(&mut ends).min(ends.len());
                        if n >= 2 {
                            for &e in &ends[..n] {
                                batch.push(id, rec::FRAME_END, e, 0);
                            }
                        }
                        let placed = if data.len() <= MAX_SLAB_MESSAGE {
                            batch.append(&data)
                        } else {
                            None
                        };
                        match placed {
                            Some((pa, pb)) => {
                                let kind = if a == 1 {
                                    rec::MESSAGE_BINARY
                                } else {
                                    rec::MESSAGE_TEXT
                                };
                                batch.push(id, kind, pa, pb);
                                rx.recycle(data);
                            }
                            None => {
                                let index = batch.extras.len() as u32;
                                batch.extras.push(data);
                                batch.push(id, rec::MESSAGE_EXTRA, index, a);
                            }
                        }
                        self.msg_open = false;
                    }
                    EV_CTRL_PIECE => batch.push(id, rec::CTRL_PIECE, sa, sb),
                    EV_PING | EV_PONG => batch.push(id, kind, 0, 0),
                    EV_CLOSE | EV_ERROR => {
                        batch.push(id, kind, a, b);
                        self.discard = true;
                    }
                    _ => {}
                }
            }
            if count == 0 {
                break;
            }
        }
        if let Some((ha, hb)) = held.take() {
            batch.push(id, rec::PIECE, ha, hb);
            self.msg_open = true;
        }
    }

    /// Writes what the queue holds; reports progress (and the FIN) in the
    /// batch.
    pub fn on_writable(&mut self, batch: &mut Batch) {
        if self.failed {
            return;
        }
        if self.queued() != 0 {
            match fd::write_all_now(self.fd.as_raw_fd(), &[&self.out[self.out_pos..]], false) {
                Ok(0) => return,
                Ok(n) => self.out_pos += n,
                Err(e) => {
                    self.fail(batch, e.raw_os_error().unwrap_or(libc::EIO), true);
                    return;
                }
            }
            let queued = self.queued() as u64;
            if queued == 0 {
                self.reset_queue();
            }
            batch.push(self.id, rec::WRITTEN, queued as u32, (queued >> 32) as u32);
        }
        if self.queued() == 0 && self.ending && !self.finished {
            match self.send_fin() {
                Ok(()) => batch.push(self.id, rec::FINISHED, 0, 0),
                Err(e) => self.fail(batch, e.raw_os_error().unwrap_or(libc::EIO), true),
            }
        }
    }

    fn reset_queue(&mut self) {
        self.out.clear();
        self.out_pos = 0;
        if self.out.capacity() > MAX_IDLE_QUEUE {
            self.out = Vec::new();
        }
    }

    /// Writes `bufs` in order: at once as far as the socket takes them,
    /// the rest queued. Returns the bytes queued afterwards.
    pub fn write(&mut self, bufs: &[&[u8]]) -> io::Result<usize> {
        if self.finished || self.ending {
            return Err(io::Error::from_raw_os_error(libc::EPIPE));
        }
        let mut done = 0;
        let last = std::mem::take(&mut self.fin_next);
        if self.queued() == 0 && !self.failed {
            done = fd::write_all_now(self.fd.as_raw_fd(), bufs, last)?;
        }
        let mut skip = done;
        for b in bufs {
            self.bytes_written += b.len() as u64;
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            self.out.extend_from_slice(&b[skip..]);
            skip = 0;
        }
        if last && self.queued() == 0 && !self.failed {
            // The FIN rides on the segment the `MSG_MORE` write left
            // unsent (the kernel's `tcp_send_fin`): one packet, not two.
            self.ending = true;
            self.send_fin()?;
        }
        Ok(self.queued())
    }

    /// Makes the next `write` the last: sent with `MSG_MORE` and followed
    /// by the FIN in the same call (a closing handshake's close frame).
    pub fn fin_after_write(&mut self) {
        if !self.ending && !self.finished {
            self.fin_next = true;
        }
    }

    /// Ends the write side: the FIN goes out now if nothing is queued, else
    /// once the queue drains (a `FINISHED` record). Returns whether it
    /// went out now.
    pub fn end(&mut self) -> io::Result<bool> {
        if self.finished {
            return Ok(true);
        }
        self.ending = true;
        if self.queued() != 0 {
            return Ok(false);
        }
        self.send_fin()?;
        Ok(true)
    }

    fn send_fin(&mut self) -> io::Result<()> {
        self.finished = true;
        fd::shutdown_write(self.fd.as_raw_fd())
    }

    /// Makes the final close reset the connection.
    pub fn abort(&mut self) {
        // Nothing to do if it fails: the close still happens.
        let _ = fd::set_linger_zero(self.fd.as_raw_fd());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::Options;
    use std::os::fd::{FromRawFd, RawFd};

    fn pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: both descriptors are new and owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn server_options() -> RxOptions {
        RxOptions {
            opts: Options {
                is_server: true,
                ..Options::default()
            },
            inflate: None,
            merge_frames: true,
        }
    }

    fn conn(fd: &OwnedFd, id: u32) -> Conn {
        let mut c = Conn::new(id, fd::dup_nonblocking(fd.as_raw_fd()).unwrap());
        c.attach(&server_options(), &[]);
        c
    }

    /// A masked frame, as a client sends it.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let key = [1u8, 2, 3, 4];
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        assert!(payload.len() < 126);
        out.push(0x80 | payload.len() as u8);
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }

    fn drain(fd: RawFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [MaybeUninit::<u8>::uninit(); 65536];
        while let Ok(Some(n)) = fd::read(fd, &mut buf) {
            if n == 0 {
                break;
            }
            // SAFETY: `read` initialised the first `n` bytes.
            out.extend(buf[..n].iter().map(|b| unsafe { b.assume_init() }));
        }
        out
    }

    fn records(batch: &Batch) -> Vec<[u32; 4]> {
        batch
            .records
            .chunks_exact(4)
            .map(|r| [r[0], r[1], r[2], r[3]])
            .collect()
    }

    #[test]
    fn whole_messages_are_one_record_each() {
        let (a, b) = pair();
        let mut c = conn(&a, 7);
        let mut batch = Batch::with_owned_slab(1 << 20);
        c.on_readable(&mut batch, false);
        assert!(batch.is_empty());
        let mut bytes = frame(true, 1, b"hello");
        bytes.extend(frame(true, 2, b"xy"));
        bytes.extend(frame(true, 2, b""));
        fd::write_all_now(b.as_raw_fd(), &[&bytes], false).unwrap();
        c.on_readable(&mut batch, false);
        let recs = records(&batch);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0][..2], [7, rec::MESSAGE_TEXT]);
        let [_, _, s, e] = recs[0];
        assert_eq!(&batch.data()[s as usize..e as usize], b"hello");
        assert_eq!(recs[1][1], rec::MESSAGE_BINARY);
        let [_, _, s, e] = recs[1];
        assert_eq!(&batch.data()[s as usize..e as usize], b"xy");
        assert_eq!(recs[2], [7, rec::MESSAGE, 1, 0]);
        fd::shutdown_write(b.as_raw_fd()).unwrap();
        c.on_readable(&mut batch, false);
        assert_eq!(records(&batch)[3], [7, rec::EOF, 0, 0]);
        assert_eq!(c.interest(), 0);
    }

    #[test]
    fn a_message_across_reads_comes_in_pieces() {
        let (a, b) = pair();
        let mut c = conn(&a, 1);
        let mut batch = Batch::with_owned_slab(1 << 20);
        let f = frame(true, 2, b"abcdef");
        fd::write_all_now(b.as_raw_fd(), &[&f[..8]], false).unwrap();
        c.on_readable(&mut batch, false);
        fd::write_all_now(b.as_raw_fd(), &[&f[8..]], false).unwrap();
        c.on_readable(&mut batch, false);
        let recs = records(&batch);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0][1], rec::PIECE);
        assert_eq!(recs[1][1], rec::PIECE_CONT);
        assert_eq!(recs[2], [1, rec::MESSAGE, 1, 0]);
        let mut payload = Vec::new();
        for r in &recs[..2] {
            payload.extend_from_slice(&batch.data()[r[2] as usize..r[3] as usize]);
        }
        assert_eq!(payload, b"abcdef");
    }

    #[test]
    fn a_piece_after_a_frame_that_ends_is_a_new_frame() {
        let (a, b) = pair();
        let mut c = conn(&a, 5);
        let mut batch = Batch::with_owned_slab(1 << 20);
        let first = frame(true, 2, b"abcdef");
        let mut rest = first[8..].to_vec();
        rest.extend(frame(false, 1, b"fra"));
        rest.extend(frame(true, 0, b"gm"));
        fd::write_all_now(b.as_raw_fd(), &[&first[..8]], false).unwrap();
        c.on_readable(&mut batch, false);
        fd::write_all_now(b.as_raw_fd(), &[&rest], false).unwrap();
        c.on_readable(&mut batch, false);
        let kinds: Vec<u32> = records(&batch).iter().map(|r| r[1]).collect();
        assert_eq!(
            kinds,
            [
                rec::PIECE,
                rec::PIECE_CONT,
                rec::MESSAGE,
                rec::PIECE,
                rec::PIECE,
                rec::MESSAGE
            ]
        );
    }

    #[test]
    fn control_frames_and_close_then_discard() {
        let (a, b) = pair();
        let mut c = conn(&a, 2);
        let mut batch = Batch::with_owned_slab(1 << 20);
        let mut bytes = frame(false, 1, b"ab");
        bytes.extend(frame(true, 9, b"p"));
        bytes.extend(frame(true, 0, b"cd"));
        bytes.extend(frame(true, 8, &[0x03, 0xe8, b'o', b'k']));
        bytes.extend(frame(true, 1, b"ignored"));
        fd::write_all_now(b.as_raw_fd(), &[&bytes], false).unwrap();
        c.on_readable(&mut batch, false);
        let kinds: Vec<u32> = records(&batch).iter().map(|r| r[1]).collect();
        assert_eq!(
            kinds,
            [
                rec::PIECE,
                rec::CTRL_PIECE,
                rec::PING,
                rec::PIECE,
                rec::MESSAGE,
                rec::CTRL_PIECE,
                rec::CLOSE
            ]
        );
        assert_eq!(records(&batch)[6][2], 1000);
        let used = batch.data().len();
        fd::write_all_now(b.as_raw_fd(), &[&frame(true, 1, b"more")], false).unwrap();
        c.on_readable(&mut batch, false);
        assert_eq!(batch.data().len(), used, "dropped after the close frame");
        assert_eq!(batch.record_count(), 7);
    }

    #[test]
    fn protocol_error_is_a_record() {
        let (a, b) = pair();
        let mut c = conn(&a, 3);
        let mut batch = Batch::with_owned_slab(1 << 20);
        // Unmasked: a server requires masks.
        fd::write_all_now(b.as_raw_fd(), &[&[0x81, 0x01, b'x']], false).unwrap();
        c.on_readable(&mut batch, false);
        let recs = records(&batch);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0][1], rec::ERROR);
    }

    #[test]
    fn handed_over_input_is_parsed_first() {
        let (a, _b) = pair();
        let mut c = Conn::new(4, fd::dup_nonblocking(a.as_raw_fd()).unwrap());
        assert_eq!(c.interest(), 0, "not reading before attach");
        c.attach(&server_options(), &frame(true, 1, b"early"));
        assert!(c.has_input());
        let mut batch = Batch::with_owned_slab(1 << 20);
        assert!(!c.parse_input(&mut batch));
        let recs = records(&batch);
        assert_eq!(recs[0][1], rec::MESSAGE_TEXT);
        assert_eq!(
            &batch.data()[recs[0][2] as usize..recs[0][3] as usize],
            b"early"
        );
    }

    #[test]
    fn unattached_connection_does_not_read() {
        let (a, b) = pair();
        let mut c = Conn::new(1, fd::dup_nonblocking(a.as_raw_fd()).unwrap());
        fd::write_all_now(b.as_raw_fd(), &[b"x"], false).unwrap();
        let mut batch = Batch::with_owned_slab(1 << 20);
        c.on_readable(&mut batch, false);
        assert!(batch.is_empty());
        c.attach(&server_options(), &[]);
        c.set_reading(false);
        assert_eq!(c.interest(), 0);
    }

    #[test]
    fn queue_drains_then_fin() {
        let (a, b) = pair();
        let mut c = conn(&a, 3);
        let big = vec![1u8; 4 << 20];
        let queued = c.write(&[b"hi", &big]).unwrap();
        assert!(queued > 0);
        assert_eq!(c.interest(), WANT_READ | WANT_HANGUP | WANT_WRITE);
        assert!(!c.end().unwrap());
        assert!(c.write(&[b"late"]).is_err());
        let mut batch = Batch::with_owned_slab(1 << 20);
        let mut got = Vec::new();
        // Non-blocking, so that draining stops when nothing is left.
        let b = fd::dup_nonblocking(b.as_raw_fd()).unwrap();
        while c.interest() & WANT_WRITE != 0 {
            got.extend(drain(b.as_raw_fd()));
            c.on_writable(&mut batch);
        }
        got.extend(drain(b.as_raw_fd()));
        assert_eq!(got.len(), 2 + big.len());
        assert_eq!(c.bytes_written, got.len() as u64);
        let n = batch.record_count();
        assert_eq!(
            &batch.records[(n - 2) * 4..],
            &[3, rec::WRITTEN, 0, 0, 3, rec::FINISHED, 0, 0]
        );
        assert_eq!(c.interest(), WANT_READ | WANT_HANGUP);
    }

    #[test]
    fn fin_after_write_goes_with_the_write() {
        let (a, b) = pair();
        let mut c = conn(&a, 4);
        c.fin_after_write();
        assert_eq!(c.write(&[b"close", b" frame"]).unwrap(), 0);
        // The FIN went out with the bytes: `end()` finds it done.
        assert!(c.end().unwrap());
        assert!(c.write(&[b"late"]).is_err());
        let b = fd::dup_nonblocking(b.as_raw_fd()).unwrap();
        assert_eq!(drain(b.as_raw_fd()), b"close frame");
        // The end of stream, not "nothing yet": the FIN is there.
        let mut buf = [MaybeUninit::<u8>::uninit(); 1];
        assert_eq!(fd::read(b.as_raw_fd(), &mut buf).unwrap(), Some(0));
    }

    #[test]
    fn fin_after_a_write_that_queues_waits_for_the_queue() {
        let (a, b) = pair();
        let mut c = conn(&a, 5);
        c.fin_after_write();
        let big = vec![2u8; 4 << 20];
        assert!(c.write(&[&big]).unwrap() > 0);
        assert!(!c.end().unwrap());
        let mut batch = Batch::with_owned_slab(1 << 20);
        let b = fd::dup_nonblocking(b.as_raw_fd()).unwrap();
        let mut got = 0;
        while c.interest() & WANT_WRITE != 0 {
            got += drain(b.as_raw_fd()).len();
            c.on_writable(&mut batch);
        }
        got += drain(b.as_raw_fd()).len();
        assert_eq!(got, big.len());
        let n = batch.record_count();
        assert_eq!(&batch.records[(n - 1) * 4..], &[5, rec::FINISHED, 0, 0]);
    }

    #[test]
    fn write_to_closed_peer_fails() {
        let (a, b) = pair();
        let mut c = conn(&a, 1);
        drop(b);
        assert!(c.write(&[b"x"]).is_err());
        let mut batch = Batch::with_owned_slab(1 << 20);
        c.on_readable(&mut batch, false);
        assert_eq!(batch.records[1], rec::EOF);
    }
}
