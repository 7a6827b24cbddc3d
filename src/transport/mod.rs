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
pub mod listener;
pub mod socket;
pub mod uv;

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use napi::sys::uv_loop_s;

use crate::frame::{self, EncodeError, Header};
use crate::mask;
use crate::records::{flags, rec};
use listener::Head;
use socket::{Batch, Conn, RxOptions, RECORD_LEN};
use uv::{Check, CheckCb, Poll, PollCb};

struct Slot {
    conn: Conn,
    poll: Poll,
}

/// A listening socket of the native listener.
struct ListenSlot {
    fd: OwnedFd,
    poll: Poll,
}

/// An accepted connection whose request has not been looked at yet.
struct PendingSlot {
    fd: OwnedFd,
    poll: Option<Poll>,
    listener: u32,
    since: Instant,
}

/// What a poll handle watches, in the low bits of its data (the slot id
/// above them): one callback serves them all, so that a pending
/// connection's handle becomes the connection's without a new
/// registration with epoll.
pub const TAG_CONN: usize = 0;
pub const TAG_LISTEN: usize = 1;
pub const TAG_PENDING: usize = 2;
const TAG_BITS: usize = 2;

fn tagged(id: u32, tag: usize) -> usize {
    (id as usize) << TAG_BITS | tag
}

/// Splits a poll handle's data into (slot id, tag).
pub fn untag(data: usize) -> (u32, usize) {
    ((data >> TAG_BITS) as u32, data & ((1 << TAG_BITS) - 1))
}

/// Connections accepted per readiness event of a listener.
const ACCEPTS_PER_EVENT: usize = 64;
/// Listener ids travel in the upper 24 bits of a record's type.
const MAX_LISTENERS: usize = 1 << 24;

pub struct Transport {
    lp: *mut uv_loop_s,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Slots closed since the last delivery: reused after the next one.
    closed: Vec<u32>,
    pub batch: Batch,
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
    listeners: Vec<Option<ListenSlot>>,
    pending: Vec<Option<PendingSlot>>,
    pending_free: Vec<u32>,
    /// Where requests are peeked at.
    peek_buf: Vec<u8>,
    /// A descriptor kept open to be closed when accepting runs out of
    /// descriptors (see `drop_waiting`).
    spare_fd: Option<OwnedFd>,
    /// Receiver configurations JS registered (`configure`), by index.
    configs: Vec<RxOptions>,
    /// Connections with handed-over bytes to parse at the next delivery.
    inputs: Vec<u32>,
    /// Where `send` frames what it does not write from the payloads
    /// themselves (headers, small and masked payloads); kept between calls.
    scratch: Vec<u8>,
}

/// The callbacks of a transport: `poll` for every poll handle (see
/// [`untag`]), `check` after the poll phase.
pub struct Callbacks {
    pub poll: PollCb,
    pub check: CheckCb,
}

impl Transport {
    /// # Safety
    /// `lp` must be the live loop of the current thread; the transport must
    /// be used on this thread only.
    pub unsafe fn new(lp: *mut uv_loop_s, callbacks: Callbacks) -> Result<Transport, i32> {
        // SAFETY: the caller vouches for `lp`.
        let check = unsafe { Check::new(lp)? };
        Ok(Transport {
            lp,
            slots: Vec::new(),
            free: Vec::new(),
            closed: Vec::new(),
            batch: Batch::default(),
            check: Some(check),
            per_socket: false,
            eof_on_hangup: true,
            poll_cb: callbacks.poll,
            check_cb: callbacks.check,
            delivering: false,
            listeners: Vec::new(),
            pending: Vec::new(),
            pending_free: Vec::new(),
            peek_buf: Vec::new(),
            spare_fd: None,
            configs: Vec::new(),
            inputs: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Takes over a duplicate of `fd`; returns the connection id.
    pub fn adopt(&mut self, fd: RawFd) -> Result<u32, i32> {
        let owned = fd::dup_nonblocking(fd).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        self.adopt_owned(owned, None)
    }

    /// Takes over `owned`, polled by `poll` if given (a pending
    /// connection's), else by a new handle.
    fn adopt_owned(&mut self, owned: OwnedFd, poll: Option<Poll>) -> Result<u32, i32> {
        if !self.delivering && self.batch.is_empty() {
            self.recycle();
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => match u32::try_from(self.slots.len()) {
                Ok(id) => {
                    self.slots.push(None);
                    id
                }
                Err(_) => {
                    // A handle must be closed before its descriptor is.
                    if let Some(p) = poll {
                        p.close();
                    }
                    return Err(libc::EMFILE);
                }
            },
        };
        let poll = match poll {
            Some(mut p) => {
                p.set_slot(tagged(id, TAG_CONN));
                p
            }
            // SAFETY: `self.lp` is this thread's loop (see `new`), and the
            // descriptor is ours, polled by nobody else.
            None => match unsafe { Poll::new(self.lp, owned.as_raw_fd(), tagged(id, TAG_CONN)) } {
                Ok(p) => p,
                Err(e) => {
                    self.free.push(id);
                    return Err(e);
                }
            },
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

    /// Polls for what the connection wants now, except that a connection
    /// taken from the listener keeps its pending poll until JS attaches it
    /// (in the same tick, usually): stopping and restarting would cost
    /// three `epoll_ctl` per connection (libuv's stop is two). A readiness
    /// event that comes meanwhile stops it for real (`on_poll`).
    fn update(&mut self, id: u32) {
        self.apply(id, true);
    }

    fn apply(&mut self, id: u32, lazy: bool) {
        let cb = self.poll_cb;
        let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        let events = slot.conn.interest();
        let reads = socket::WANT_READ | socket::WANT_HANGUP;
        if lazy
            && !slot.conn.attached()
            && slot.conn.live()
            && events & reads == 0
            && slot.poll.events() == events | reads
        {
            return;
        }
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
        if slot.conn.interest() == 0 {
            // Polled only because the poll was kept for JS (`update`): as
            // after a real stop, nothing is looked at until reading starts.
            self.apply(id, false);
            return;
        }
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
        self.apply(id, false);
    }

    /// Whether a read would find too little room in the slab: the batch
    /// then goes to JS and a new slab replaces the current one.
    pub fn needs_slab(&self) -> bool {
        self.batch.room() < socket::MIN_READ_ROOM
    }

    /// Delivers the batch after the poll phase.
    pub fn schedule(&mut self) {
        if !self.batch.is_empty() || !self.inputs.is_empty() {
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

    /// The next write of `id` is its last (see `Conn::fin_after_write`).
    pub fn fin_after_write(&mut self, id: u32) {
        if let Some(slot) = self.slot(id) {
            slot.conn.fin_after_write();
        }
    }

    /// Ends the write side; `Ok(true)` if the FIN went out now, else it
    /// goes once the queue drains (a FINISHED record).
    pub fn end(&mut self, id: u32) -> Result<bool, i32> {
        let slot = self.slot(id).ok_or(libc::EBADF)?;
        slot.conn
            .end()
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// Registers a receiver configuration; returns its index (the same
    /// one for equal configurations: every connection of a server).
    pub fn configure(&mut self, options: RxOptions) -> u32 {
        let same = |o: &RxOptions| {
            o.opts == options.opts
                && o.inflate == options.inflate
                && o.merge_frames == options.merge_frames
        };
        if let Some(i) = self.configs.iter().position(same) {
            return i as u32;
        }
        self.configs.push(options);
        (self.configs.len() - 1) as u32
    }

    /// Starts parsing a connection's bytes with configuration `config`;
    /// `input` (read before the takeover) is parsed at the next delivery.
    pub fn attach(&mut self, id: u32, config: u32, input: &[u8]) -> Result<(), i32> {
        let options = *self.configs.get(config as usize).ok_or(libc::EINVAL)?;
        let slot = self.slot(id).ok_or(libc::EBADF)?;
        slot.conn.attach(&options, input);
        if slot.conn.has_input() {
            self.inputs.push(id);
        }
        self.update(id);
        self.schedule();
        Ok(())
    }

    /// Parses the handed-over bytes of attached connections; returns
    /// whether some are left for want of room in the slab.
    pub fn parse_inputs(&mut self) -> bool {
        while let Some(&id) = self.inputs.last() {
            let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else {
                self.inputs.pop();
                continue;
            };
            if slot.conn.parse_input(&mut self.batch) {
                return true;
            }
            self.inputs.pop();
        }
        false
    }

    /// `binaryType = 'fragments'` on a connection: keep frame boundaries.
    pub fn set_merge_frames(&mut self, id: u32, on: bool) {
        if let Some(slot) = self.slot(id) {
            slot.conn.set_merge_frames(on);
        }
    }

    /// Bytes read and written (accepted) so far on a connection.
    pub fn counts(&self, id: u32) -> Option<(u64, u64)> {
        let slot = self.slots.get(id as usize)?.as_ref()?;
        Some((slot.conn.bytes_read, slot.conn.bytes_written))
    }

    /// Frames and writes the messages of a tick (see `nativeSend` in
    /// src/napi_native.rs for the layout of `meta`): each connection's
    /// frames go out in order with one `writev`, and `results[i]` gets
    /// what `write` returned for frame `i`'s connection (the bytes it has
    /// queued, or -errno). A payload sent to many connections is framed
    /// once: a small one is copied once with its header, a large one is
    /// written from the caller's memory, and the remainder a socket does
    /// not take is what each connection copies. Every frame is checked
    /// before anything is written.
    pub fn send(
        &mut self,
        stage: &[u8],
        payloads: &[&[u8]],
        meta: &[u32],
        count: usize,
        results: &mut [f64],
    ) -> Result<(), EncodeError> {
        let meta = meta
            .get(..count.saturating_mul(SEND_STRIDE))
            .ok_or(EncodeError::MetaTooShort { count })?;
        if results.len() < count {
            return Err(EncodeError::MetaTooShort { count });
        }
        let mut frames: Vec<OutFrame<'_>> = Vec::with_capacity(count);
        for (i, m) in meta.chunks_exact(SEND_STRIDE).enumerate() {
            let &[id, fl, src, offset, len, key] = m else {
                return Err(EncodeError::MetaTooShort { count });
            };
            let raw = fl & flags::RAW != 0;
            let (opcode, fin, rsv1) = if raw {
                (0, true, false)
            } else {
                frame::check_outgoing(i, fl, len)?
            };
            let from = if src == SRC_STAGE {
                stage
            } else {
                payloads
                    .get(src as usize)
                    .copied()
                    .ok_or(EncodeError::NoSuchPayload {
                        frame: i,
                        index: src,
                    })?
            };
            let (start, end) = (offset as usize, offset as usize + len as usize);
            let payload = from.get(start..end).ok_or(EncodeError::PayloadTooShort {
                frame: i,
                len,
                available: from.len().saturating_sub(start),
            })?;
            frames.push(OutFrame {
                id,
                header: Header {
                    fin,
                    rsv1,
                    opcode,
                    mask: (fl & flags::MASK != 0).then(|| key.to_le_bytes()),
                    len: u64::from(len),
                },
                payload,
                shared_key: (src, offset, len, fl),
                raw,
            });
        }
        let mut order: Vec<u32> = (0..count as u32).collect();
        order.sort_by_key(|&i| frames[i as usize].id);

        // First every frame's bytes into the scratch, then the writes: the
        // scratch does not move while slices of it are in use.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut parts: Vec<Part> = Vec::with_capacity(count * 2);
        let mut cache = FrameCache::default();
        let mut groups: Vec<(u32, usize, usize, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let id = frames[order[i] as usize].id;
            let (first_part, first_frame) = (parts.len(), i);
            while i < order.len() && frames[order[i] as usize].id == id {
                let f = &frames[order[i] as usize];
                frame_into(f, &mut scratch, &mut parts, &mut cache, order[i]);
                i += 1;
            }
            groups.push((id, first_part, parts.len(), first_frame, i));
        }
        let mut bufs: Vec<&[u8]> = Vec::with_capacity(16);
        for &(id, p0, p1, f0, f1) in &groups {
            bufs.clear();
            let mut run: Option<(usize, usize)> = None;
            for part in &parts[p0..p1] {
                match *part {
                    Part::Scratch(s, e) => match run {
                        Some((rs, re)) if re == s => run = Some((rs, e)),
                        _ => {
                            if let Some((rs, re)) = run.take() {
                                bufs.push(&scratch[rs..re]);
                            }
                            run = Some((s, e));
                        }
                    },
                    Part::Payload(f) => {
                        if let Some((rs, re)) = run.take() {
                            bufs.push(&scratch[rs..re]);
                        }
                        bufs.push(frames[f as usize].payload);
                    }
                }
            }
            if let Some((rs, re)) = run {
                bufs.push(&scratch[rs..re]);
            }
            let r = match self.write(id, &bufs) {
                Ok(queued) => queued as f64,
                Err(e) => -f64::from(e),
            };
            for &k in &order[f0..f1] {
                results[k as usize] = r;
            }
        }
        drop(bufs);
        if scratch.capacity() > MAX_IDLE_SCRATCH {
            scratch = Vec::new();
        }
        self.scratch = scratch;
        Ok(())
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
        for id in 0..self.listeners.len() {
            self.close_listener(id as u32);
        }
        for id in 0..self.slots.len() {
            self.close(id as u32, false);
        }
        if let Some(check) = self.check.take() {
            check.close();
        }
        self.batch = Batch::default();
    }

    /// The descriptor of a connection (socket options, addresses).
    pub fn conn_fd(&self, id: u32) -> Option<RawFd> {
        self.slots
            .get(id as usize)
            .and_then(Option::as_ref)
            .map(|s| s.conn.raw_fd())
    }

    //
    // The native listener (see listener.rs).
    //

    /// Listens on `addr`; returns the listener id, or the errno.
    pub fn listen(
        &mut self,
        addr: &SocketAddr,
        backlog: i32,
        reuse_port: bool,
    ) -> Result<u32, i32> {
        let fd = listener::bind_listen_with(addr, backlog, reuse_port)?;
        if self.spare_fd.is_none() {
            self.spare_fd = listener::spare_fd();
        }
        let id = match self.listeners.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                if self.listeners.len() >= MAX_LISTENERS {
                    return Err(libc::EMFILE);
                }
                self.listeners.push(None);
                self.listeners.len() - 1
            }
        };
        // SAFETY: this thread's loop (see `new`) and a new descriptor that
        // nothing else polls.
        let mut poll =
            unsafe { Poll::new(self.lp, fd.as_raw_fd(), tagged(id as u32, TAG_LISTEN))? };
        if let Err(e) = poll.set(socket::WANT_READ, self.poll_cb) {
            poll.close();
            return Err(e);
        }
        self.listeners[id] = Some(ListenSlot { fd, poll });
        Ok(id as u32)
    }

    /// The address a listener is bound to.
    pub fn listener_addr(&self, id: u32) -> Option<SocketAddr> {
        let slot = self.listeners.get(id as usize)?.as_ref()?;
        listener::local_addr(&slot.fd)
    }

    /// Stops accepting (for a while, after running out of descriptors) or
    /// starts again.
    pub fn pause_listener(&mut self, id: u32, paused: bool) {
        let cb = self.poll_cb;
        if let Some(slot) = self.listeners.get_mut(id as usize).and_then(Option::as_mut) {
            let _ = slot
                .poll
                .set(if paused { 0 } else { socket::WANT_READ }, cb);
        }
    }

    /// Whether a listener keeps the loop alive.
    pub fn set_listener_ref(&mut self, id: u32, on: bool) {
        if let Some(slot) = self.listeners.get_mut(id as usize).and_then(Option::as_mut) {
            slot.poll.set_ref(on);
        }
    }

    /// Closes a listener and the connections it accepted that are still
    /// pending (Node closes idle connections on `server.close()` too).
    pub fn close_listener(&mut self, id: u32) {
        if let Some(slot) = self.listeners.get_mut(id as usize).and_then(Option::take) {
            slot.poll.close();
            drop(slot.fd);
        }
        for pid in 0..self.pending.len() {
            if matches!(&self.pending[pid], Some(p) if p.listener == id) {
                self.drop_pending(pid as u32);
            }
        }
    }

    /// A listener is readable: accept what waits.
    pub fn on_listen(&mut self, id: u32) {
        for _ in 0..ACCEPTS_PER_EVENT {
            let Some(slot) = self.listeners.get(id as usize).and_then(Option::as_ref) else {
                return;
            };
            let lfd = slot.fd.as_raw_fd();
            match listener::accept(lfd) {
                Ok(Some(fd)) => {
                    // What ws does to every connection (`setNoDelay()`).
                    let _ = listener::set_no_delay(fd.as_raw_fd(), true);
                    self.add_pending(id, fd);
                }
                Ok(None) => return,
                Err(e) if (e == libc::EMFILE || e == libc::ENFILE) && self.drop_waiting(lfd) => {
                    return;
                }
                Err(e)
                    if matches!(
                        e,
                        libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
                    ) =>
                {
                    // Level-triggered: polling on would spin. JS resumes it.
                    self.pause_listener(id, true);
                    self.batch.push(id, rec::LISTEN_ERROR, e as u32, 0);
                    return;
                }
                // The peer gave up before the accept (ECONNABORTED) and the
                // like: next one.
                Err(_) => {}
            }
        }
    }

    /// Out of descriptors: as libuv does for Node's servers, the spare
    /// descriptor kept for this is closed, the connections waiting are
    /// accepted and closed at once (their clients see the connection
    /// close rather than hang), and the spare is taken again. `false` if
    /// there is no spare (the caller then pauses the listener).
    fn drop_waiting(&mut self, lfd: RawFd) -> bool {
        let Some(spare) = self.spare_fd.take() else {
            return false;
        };
        drop(spare);
        while let Ok(Some(conn)) = listener::accept(lfd) {
            drop(conn);
        }
        self.spare_fd = listener::spare_fd();
        true
    }

    fn add_pending(&mut self, listener: u32, fd: OwnedFd) {
        let slot = PendingSlot {
            fd,
            poll: None,
            listener,
            since: Instant::now(),
        };
        let pid = match self.pending_free.pop() {
            Some(p) => {
                self.pending[p as usize] = Some(slot);
                p
            }
            None => {
                self.pending.push(Some(slot));
                (self.pending.len() - 1) as u32
            }
        };
        // The request is usually there already.
        if !self.try_pending(pid) {
            return;
        }
        let cb = self.poll_cb;
        let lp = self.lp;
        let Some(p) = self.pending.get_mut(pid as usize).and_then(Option::as_mut) else {
            return;
        };
        if p.poll.is_none() {
            // SAFETY: this thread's loop, and a descriptor only we poll.
            if let Ok(mut poll) =
                unsafe { Poll::new(lp, p.fd.as_raw_fd(), tagged(pid, TAG_PENDING)) }
            {
                // What the connection will want: the handle then passes
                // to it unchanged.
                if poll
                    .set(socket::WANT_READ | socket::WANT_HANGUP, cb)
                    .is_ok()
                {
                    p.poll = Some(poll);
                    return;
                }
                poll.close();
            }
            // No poll handle: Node's HTTP server takes it.
            self.hand_off(pid);
        }
    }

    /// A pending connection is readable.
    pub fn on_pending(&mut self, pid: u32) {
        self.try_pending(pid);
    }

    /// Looks at what a pending connection sent; returns whether it is
    /// still pending.
    fn try_pending(&mut self, pid: u32) -> bool {
        let Some(p) = self.pending.get(pid as usize).and_then(Option::as_ref) else {
            return false;
        };
        let fd = p.fd.as_raw_fd();
        let listener = p.listener;
        if self.peek_buf.len() != listener::MAX_HEAD + 1 {
            self.peek_buf = vec![0; listener::MAX_HEAD + 1];
        }
        let n = match listener::peek(fd, &mut self.peek_buf) {
            Ok(None) => return true,
            Ok(Some(0)) | Err(_) => {
                // Closed before a request: nothing to answer.
                self.drop_pending(pid);
                return false;
            }
            Ok(Some(n)) => n,
        };
        let (len, accept, index) = match listener::classify(&self.peek_buf[..n]) {
            Head::Upgrade { len, accept, index } => (len, accept, index),
            Head::Incomplete | Head::Other => {
                self.hand_off(pid);
                return false;
            }
        };
        // For JS: the head's index, the accept key, then the head.
        let mut prefix = Vec::with_capacity(index.encoded_len() + listener::ACCEPT_LEN);
        index.encode(len, &mut prefix);
        prefix.extend_from_slice(&accept);
        let total = prefix.len() + len;
        if self.batch.room() < total {
            // The next event comes with a new slab (level-triggered).
            return true;
        }
        let range = self.batch.append_with(total, |buf| {
            let (meta, head) = buf.split_at_mut(prefix.len());
            for (slot, &b) in meta.iter_mut().zip(prefix.iter()) {
                slot.write(b);
            }
            listener::consume(fd, head)
        });
        let Some((start, end)) = range else {
            self.drop_pending(pid);
            return false;
        };
        let Some(p) = self.pending.get_mut(pid as usize).and_then(Option::take) else {
            return false;
        };
        self.pending_free.push(pid);
        match self.adopt_owned(p.fd, p.poll) {
            Ok(cid) => {
                self.batch
                    .push(cid, rec::UPGRADE | (listener << 8), start, end);
            }
            Err(_) => {
                // Out of memory for a poll handle: the socket is dropped
                // (closed), as libuv does with a connection it cannot track.
            }
        }
        false
    }

    /// Gives a pending connection to JS for Node's HTTP server, bytes
    /// unread.
    fn hand_off(&mut self, pid: u32) {
        let Some(p) = self.pending.get_mut(pid as usize).and_then(Option::take) else {
            return;
        };
        self.pending_free.push(pid);
        if let Some(poll) = p.poll {
            // Stops watching the descriptor at once (libuv forgets it), so
            // Node's handle may watch it next.
            poll.close();
        }
        let fd = p.fd.into_raw_fd();
        self.batch
            .push(fd as u32, rec::HANDOFF | (p.listener << 8), 0, 0);
    }

    fn drop_pending(&mut self, pid: u32) {
        if let Some(p) = self.pending.get_mut(pid as usize).and_then(Option::take) {
            self.pending_free.push(pid);
            if let Some(poll) = p.poll {
                poll.close();
            }
            drop(p.fd);
        }
    }

    /// Hands to JS the descriptors of a listener's pending connections
    /// that have sent nothing for `age`: Node's HTTP server then applies
    /// its own timeouts to them.
    pub fn sweep(&mut self, listener: u32, age: Duration) -> Vec<i32> {
        let now = Instant::now();
        let mut fds = Vec::new();
        for pid in 0..self.pending.len() {
            let stale = matches!(&self.pending[pid],
                Some(p) if p.listener == listener && now.duration_since(p.since) >= age);
            if !stale {
                continue;
            }
            if let Some(p) = self.pending[pid].take() {
                self.pending_free.push(pid as u32);
                if let Some(poll) = p.poll {
                    poll.close();
                }
                fds.push(p.fd.into_raw_fd());
            }
        }
        fds
    }

    /// Number of open connections (for tests and debugging).
    pub fn open_count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

/// `u32`s per record, for the N-API layer.
pub const RECORD_WORDS: usize = RECORD_LEN;

/// `u32`s per frame in `send`'s meta: connection id, flags, payload source,
/// offset, length, masking key (little-endian).
pub const SEND_STRIDE: usize = 6;
/// The payload source that means the stage buffer (else an index into the
/// payloads).
pub const SRC_STAGE: u32 = u32::MAX;
/// Payloads up to this size are copied next to their header (one iovec
/// per connection for a tick's small frames); larger ones are written from
/// where they are.
const COPY_PAYLOAD: usize = 4096;
/// The scratch capacity kept between calls.
const MAX_IDLE_SCRATCH: usize = 256 * 1024;

struct OutFrame<'a> {
    id: u32,
    header: Header,
    payload: &'a [u8],
    /// What makes two frames the same bytes: source, offset, length, flags
    /// (masked frames are never shared).
    shared_key: FrameKey,
    /// Bytes framed already, written as they are.
    raw: bool,
}

/// A piece of a connection's output: scratch bytes, or frame `n`'s
/// payload as the caller gave it.
enum Part {
    Scratch(usize, usize),
    Payload(u32),
}

/// What makes two frames the same bytes (see `OutFrame::shared_key`).
type FrameKey = (u32, u32, u32, u32);

/// The last frames framed, for a payload sent to many connections in one
/// call (sorted by connection, a broadcast's frames recur every few
/// entries): (key, scratch range, whether the range includes the payload).
#[derive(Default)]
struct FrameCache {
    entries: Vec<(FrameKey, usize, usize, bool)>,
    next: usize,
}

const FRAME_CACHE: usize = 16;

impl FrameCache {
    fn get(&self, key: FrameKey) -> Option<(usize, usize, bool)> {
        self.entries
            .iter()
            .find(|e| e.0 == key)
            .map(|e| (e.1, e.2, e.3))
    }

    fn put(&mut self, key: FrameKey, start: usize, end: usize, whole: bool) {
        let entry = (key, start, end, whole);
        if self.entries.len() < FRAME_CACHE {
            self.entries.push(entry);
        } else {
            self.entries[self.next] = entry;
            self.next = (self.next + 1) % FRAME_CACHE;
        }
    }
}

/// Frames `f` (number `n`): its bytes into `scratch` (or found there) and
/// its parts.
fn frame_into(
    f: &OutFrame<'_>,
    scratch: &mut Vec<u8>,
    parts: &mut Vec<Part>,
    cache: &mut FrameCache,
    n: u32,
) {
    if f.raw {
        parts.push(Part::Payload(n));
        return;
    }
    let masked = f.header.mask.is_some();
    if !masked {
        if let Some((s, e, whole)) = cache.get(f.shared_key) {
            parts.push(Part::Scratch(s, e));
            if !whole && !f.payload.is_empty() {
                parts.push(Part::Payload(n));
            }
            return;
        }
    }
    let start = scratch.len();
    let hlen = frame::header_len(f.header.len, masked);
    scratch.resize(start + hlen, 0);
    // Cannot fail: the room was just made.
    let _ = frame::write_header(&mut scratch[start..], &f.header);
    let whole = masked || f.payload.len() <= COPY_PAYLOAD;
    if whole {
        let at = scratch.len();
        scratch.extend_from_slice(f.payload);
        if let Some(key) = f.header.mask {
            mask::apply(&mut scratch[at..], key, 0);
        }
    }
    let end = scratch.len();
    parts.push(Part::Scratch(start, end));
    if !whole {
        parts.push(Part::Payload(n));
    }
    if !masked {
        cache.put(f.shared_key, start, end, whole);
    }
}
