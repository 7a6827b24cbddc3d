//! One connection of the native transport and the batch its events go
//! into. No libuv and no N-API here: a connection reads and writes its
//! descriptor when told to and says which readiness it wants next
//! ([`Conn::interest`]); the caller (transport/mod.rs) polls for it.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};

use super::fd;

/// Record types of a batch (the second `u32` of each record).
/// `DATA`: bytes read, `batch.data[a..b]`.
pub const REC_DATA: u32 = 1;
/// The peer ended its side (a read returned 0).
pub const REC_EOF: u32 = 2;
/// A read (`b` = 0) or write (`b` = 1) failed with errno `a`; the
/// connection no longer polls.
pub const REC_ERROR: u32 = 3;
/// Queued bytes were written; `a` + `b` * 2^32 bytes are still queued.
pub const REC_WRITTEN: u32 = 4;
/// The queue drained after `end()` and the FIN went out.
pub const REC_FINISHED: u32 = 5;

/// Records of the native listener (transport/listener.rs); the listener id
/// is in the type's upper 24 bits. `UPGRADE`: connection `id` was accepted
/// with an upgrade request, its head in `batch.data[a..b]`.
pub const REC_UPGRADE: u32 = 6;
/// A connection for Node's HTTP server: `id` is its descriptor, now JS's.
pub const REC_HANDOFF: u32 = 7;
/// Accepting failed with errno `a` (out of descriptors): the listener
/// paused; `id` is the listener id.
pub const REC_LISTEN_ERROR: u32 = 8;

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

/// The events of one loop wakeup, for every connection: the bytes read go
/// back to back into a slab, memory that JS owns (a Buffer the N-API layer
/// creates, see `set_slab`), and records describe them with offsets into
/// it. A slab is filled across batches and never written twice, so the
/// views JS keeps of earlier batches stay valid.
pub struct Batch {
    slab: *mut u8,
    slab_len: usize,
    used: usize,
    /// Backing memory when the slab is not JS memory (unit tests).
    #[cfg_attr(not(test), allow(dead_code))]
    owned: Vec<u8>,
    pub records: Vec<u32>,
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

    /// The bytes read so far into the slab (tests).
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

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn record_count(&self) -> usize {
        self.records.len() / RECORD_LEN
    }

    /// Forgets the records (delivered); the slab keeps its bytes.
    pub fn clear(&mut self) {
        self.records.clear();
        self.closing = false;
    }

    pub fn push(&mut self, id: u32, kind: u32, a: u32, b: u32) {
        self.records.extend_from_slice(&[id, kind, a, b]);
        if matches!(kind, REC_EOF | REC_ERROR | REC_FINISHED) {
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

    /// Records `slab[start..end]` as read by `id`, extending the previous
    /// record when it is the same connection's bytes just before.
    fn push_data(&mut self, id: u32, start: u32, end: u32) {
        let n = self.records.len();
        if n >= RECORD_LEN {
            let last = &mut self.records[n - RECORD_LEN..];
            if last[0] == id && last[1] == REC_DATA && last[3] == start {
                last[3] = end;
                return;
            }
        }
        self.push(id, REC_DATA, start, end);
    }
}

/// The state of one connection whose descriptor the transport owns.
pub struct Conn {
    id: u32,
    fd: OwnedFd,
    /// Bytes accepted but not written yet, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// JS wants data (not paused).
    reading: bool,
    /// The peer's FIN was read.
    eof: bool,
    /// A read or write failed: the connection is dead, JS destroys it.
    failed: bool,
    /// `end()` was called: send the FIN once the queue drains.
    ending: bool,
    /// The FIN was sent.
    finished: bool,
}

impl Conn {
    pub fn new(id: u32, fd: OwnedFd) -> Self {
        Conn {
            id,
            fd,
            out: Vec::new(),
            out_pos: 0,
            reading: true,
            eof: false,
            failed: false,
            ending: false,
            finished: false,
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

    /// The peer's FIN was read.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    pub fn set_reading(&mut self, on: bool) {
        self.reading = on;
    }

    /// A poll error: the connection is dead.
    pub fn fail(&mut self, batch: &mut Batch, errno: i32, writing: bool) {
        if !self.failed {
            self.failed = true;
            batch.push(self.id, REC_ERROR, errno.unsigned_abs(), u32::from(writing));
        }
    }

    /// Reads what the socket has into the batch. After a short read,
    /// reading goes on to the end of stream only on a full hang-up (the
    /// peer's FIN while ours is sent), as libuv's stream reads do on
    /// POLLHUP, so that `'end'` comes in the same loop turn as with a
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
                    batch.push(self.id, REC_EOF, 0, 0);
                    return;
                }
                Ok(Some(n)) => {
                    batch.used += n;
                    batch.push_data(self.id, start as u32, (start + n) as u32);
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

    /// Writes what the queue holds; reports progress (and the FIN) in the
    /// batch.
    pub fn on_writable(&mut self, batch: &mut Batch) {
        if self.failed {
            return;
        }
        if self.queued() != 0 {
            match fd::write_all_now(self.fd.as_raw_fd(), &[&self.out[self.out_pos..]]) {
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
            batch.push(self.id, REC_WRITTEN, queued as u32, (queued >> 32) as u32);
        }
        if self.queued() == 0 && self.ending && !self.finished {
            match self.send_fin() {
                Ok(()) => batch.push(self.id, REC_FINISHED, 0, 0),
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
        if self.queued() == 0 && !self.failed {
            done = fd::write_all_now(self.fd.as_raw_fd(), bufs)?;
        }
        let mut skip = done;
        for b in bufs {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            self.out.extend_from_slice(&b[skip..]);
            skip = 0;
        }
        Ok(self.queued())
    }

    /// Ends the write side: the FIN goes out now if nothing is queued, else
    /// once the queue drains (a `REC_FINISHED` record). Returns whether it
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
    use std::os::fd::{FromRawFd, RawFd};

    fn pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: both descriptors are new and owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn conn(fd: &OwnedFd, id: u32) -> Conn {
        Conn::new(id, fd::dup_nonblocking(fd.as_raw_fd()).unwrap())
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

    #[test]
    fn reads_merge_and_eof() {
        let (a, b) = pair();
        let mut c = conn(&a, 7);
        let mut batch = Batch::with_owned_slab(1 << 20);
        c.on_readable(&mut batch, false);
        assert!(batch.is_empty());
        fd::write_all_now(b.as_raw_fd(), &[b"abc"]).unwrap();
        c.on_readable(&mut batch, false);
        fd::write_all_now(b.as_raw_fd(), &[b"de"]).unwrap();
        c.on_readable(&mut batch, false);
        assert_eq!(batch.records, vec![7, REC_DATA, 0, 5]);
        assert_eq!(batch.data(), b"abcde");
        fd::shutdown_write(b.as_raw_fd()).unwrap();
        c.on_readable(&mut batch, false);
        assert_eq!(&batch.records[4..], &[7, REC_EOF, 0, 0]);
        assert_eq!(c.interest(), 0);
    }

    #[test]
    fn paused_connection_does_not_read() {
        let (a, b) = pair();
        let mut c = conn(&a, 1);
        c.set_reading(false);
        assert_eq!(c.interest(), 0);
        fd::write_all_now(b.as_raw_fd(), &[b"x"]).unwrap();
        let mut batch = Batch::with_owned_slab(1 << 20);
        c.on_readable(&mut batch, false);
        assert!(batch.is_empty());
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
        let n = batch.record_count();
        assert_eq!(
            &batch.records[(n - 2) * 4..],
            &[3, REC_WRITTEN, 0, 0, 3, REC_FINISHED, 0, 0]
        );
        assert_eq!(c.interest(), WANT_READ | WANT_HANGUP);
    }

    #[test]
    fn write_to_closed_peer_fails() {
        let (a, b) = pair();
        let mut c = conn(&a, 1);
        drop(b);
        assert!(c.write(&[b"x"]).is_err());
        let mut batch = Batch::with_owned_slab(1 << 20);
        c.on_readable(&mut batch, false);
        assert_eq!(batch.records[1], REC_EOF);
    }
}
