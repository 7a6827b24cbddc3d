//! The native transport (Unix): the I/O of plain TCP connections driven
//! from Node's own libuv loop, on the main thread, as uWebSockets.js does.
//!
//! JS hands over a socket's file descriptor after the upgrade
//! (js/native-transport.js); the transport duplicates it and watches the
//! duplicate with a `uv_poll` handle. Reads go straight into one batch
//! buffer shared by every connection; the records of a loop wakeup (see
//! [`socket`]) are handed to JS in one call from a `uv_check` handle, which
//! runs right after the poll phase, so one call covers every connection
//! that was readable in that wakeup (src/napi_native.rs). Writes happen
//! synchronously in the JS call that asks for them; what the socket does
//! not take is queued and written when it becomes writable.
//!
//! Connection ids are slot numbers. A closed slot is reused only once no
//! batch is pending or being delivered, so a record never reaches the
//! wrong connection.

pub mod fd;
pub mod socket;
pub mod uv;

use std::os::fd::{AsRawFd, RawFd};

use napi::sys::uv_loop_s;

use socket::{Batch, Conn, RECORD_LEN};
use uv::{Check, CheckCb, Poll, PollCb};

/// Records one readiness event may add (written, finished, data, end).
const RECORDS_PER_EVENT: usize = 4;

struct Slot {
    conn: Conn,
    poll: Poll,
}

pub struct Transport {
    lp: *mut uv_loop_s,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Slots closed since the last delivery: reused after the next one.
    closed: Vec<u32>,
    pub batch: Batch,
    /// Records the JS array holds.
    record_capacity: usize,
    check: Option<Check>,
    /// Deliver each connection's events from its own poll callback rather
    /// than once per wakeup.
    pub per_socket: bool,
    /// On a hang-up after our FIN, read on to the end of stream in the same
    /// event, as libuv < 1.52 streams do (libuv/libuv#4997 dropped that):
    /// `'end'` then comes in the same loop turn as with a `net.Socket`.
    pub eof_on_hangup: bool,
    poll_cb: PollCb,
    check_cb: CheckCb,
    delivering: bool,
}

impl Transport {
    /// # Safety
    /// `lp` must be the live loop of the current thread; the transport must
    /// be used on this thread only.
    pub unsafe fn new(
        lp: *mut uv_loop_s,
        record_capacity: usize,
        poll_cb: PollCb,
        check_cb: CheckCb,
    ) -> Result<Transport, i32> {
        // SAFETY: the caller vouches for `lp`.
        let check = unsafe { Check::new(lp)? };
        Ok(Transport {
            lp,
            slots: Vec::new(),
            free: Vec::new(),
            closed: Vec::new(),
            batch: Batch::default(),
            record_capacity: record_capacity.max(RECORDS_PER_EVENT),
            check: Some(check),
            per_socket: false,
            eof_on_hangup: true,
            poll_cb,
            check_cb,
            delivering: false,
        })
    }

    /// Takes over a duplicate of `fd`; returns the connection id.
    pub fn adopt(&mut self, fd: RawFd) -> Result<u32, i32> {
        let owned = fd::dup_nonblocking(fd).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        if !self.delivering && self.batch.is_empty() {
            self.recycle();
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = u32::try_from(self.slots.len()).map_err(|_| libc::EMFILE)?;
                self.slots.push(None);
                id
            }
        };
        // SAFETY: `self.lp` is this thread's loop (see `new`), and the
        // descriptor is our fresh duplicate, polled by nobody else.
        let poll = match unsafe { Poll::new(self.lp, owned.as_raw_fd(), id as usize) } {
            Ok(p) => p,
            Err(e) => {
                self.free.push(id);
                return Err(e);
            }
        };
        self.slots[id as usize] = Some(Slot {
            conn: Conn::new(id, owned),
            poll,
        });
        self.update(id);
        Ok(id)
    }

    fn slot(&mut self, id: u32) -> Option<&mut Slot> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// Polls for what the connection wants now.
    fn update(&mut self, id: u32) {
        let cb = self.poll_cb;
        let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        let events = slot.conn.interest();
        if let Err(e) = slot.poll.set(events, cb) {
            slot.conn.fail(&mut self.batch, e, false);
            let _ = slot.poll.set(0, cb);
            self.schedule();
        }
    }

    /// A readiness event (from the poll callback).
    pub fn on_poll(&mut self, id: u32, status: i32, events: i32) {
        let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        if status < 0 {
            // libuv reports a socket error (POLLERR) as EBADF: a read
            // finds the real one (or the end of stream).
            slot.conn.on_readable(&mut self.batch, true);
            if !slot.conn.at_eof() {
                slot.conn.fail(&mut self.batch, status, false);
            }
        } else {
            if events & socket::WANT_WRITE != 0 {
                slot.conn.on_writable(&mut self.batch);
            }
            if events & (socket::WANT_READ | socket::WANT_HANGUP) != 0 {
                let hangup = self.eof_on_hangup && events & socket::WANT_HANGUP != 0;
                slot.conn.on_readable(&mut self.batch, hangup);
            }
        }
        self.update(id);
    }

    /// Whether the batch must go to JS before more events are added.
    pub fn must_flush(&self) -> bool {
        self.batch.record_count() + RECORDS_PER_EVENT > self.record_capacity
    }

    /// Whether a read would find too little room in the slab: the batch
    /// then goes to JS and a new slab replaces the current one.
    pub fn needs_slab(&self) -> bool {
        self.batch.room() < socket::MIN_READ_ROOM
    }

    /// Records that fit in the JS array (set again when JS replaces it).
    pub fn set_record_capacity(&mut self, capacity: usize) {
        self.record_capacity = capacity.max(RECORDS_PER_EVENT);
    }

    /// Delivers the batch after the poll phase.
    pub fn schedule(&mut self) {
        if !self.batch.is_empty() {
            let cb = self.check_cb;
            if let Some(check) = self.check.as_mut() {
                check.start(cb);
            }
        }
    }

    /// Called before the batch is handed to JS.
    pub fn begin_delivery(&mut self) {
        self.delivering = true;
        if let Some(check) = self.check.as_mut() {
            check.stop();
        }
    }

    /// Called once JS has seen the batch (its contents were copied out).
    pub fn end_delivery(&mut self) {
        self.delivering = false;
        if self.batch.is_empty() {
            self.recycle();
        }
    }

    fn recycle(&mut self) {
        self.free.append(&mut self.closed);
    }

    /// Writes `bufs` now or queues them; returns the bytes queued.
    pub fn write(&mut self, id: u32, bufs: &[&[u8]]) -> Result<usize, i32> {
        let slot = self.slot(id).ok_or(libc::EBADF)?;
        let before = slot.conn.queued();
        let result = slot
            .conn
            .write(bufs)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO));
        if matches!(result, Ok(q) if (q == 0) != (before == 0)) {
            self.update(id);
        }
        result
    }

    /// Ends the write side; `Ok(true)` if the FIN went out now, else it
    /// goes once the queue drains (a FINISHED record).
    pub fn end(&mut self, id: u32) -> Result<bool, i32> {
        let slot = self.slot(id).ok_or(libc::EBADF)?;
        slot.conn
            .end()
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    pub fn set_reading(&mut self, id: u32, on: bool) {
        if let Some(slot) = self.slot(id) {
            slot.conn.set_reading(on);
            self.update(id);
        }
    }

    pub fn set_ref(&mut self, id: u32, on: bool) {
        if let Some(slot) = self.slot(id) {
            slot.poll.set_ref(on);
        }
    }

    /// Closes the duplicate; `abort` makes the final close of the socket a
    /// reset. Queued bytes are dropped.
    pub fn close(&mut self, id: u32, abort: bool) {
        let Some(mut slot) = self.slots.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        if abort {
            slot.conn.abort();
        }
        slot.poll.close();
        // Dropping the connection closes the descriptor, after the poll
        // stopped watching it.
        drop(slot.conn);
        self.closed.push(id);
    }

    /// Closes everything (the environment is going away).
    pub fn shutdown(&mut self) {
        for id in 0..self.slots.len() {
            self.close(id as u32, false);
        }
        if let Some(check) = self.check.take() {
            check.close();
        }
        self.batch = Batch::default();
    }

    /// Number of open connections (for tests and debugging).
    pub fn open_count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

/// `u32`s per record, for the N-API layer.
pub const RECORD_WORDS: usize = RECORD_LEN;
