//! The few libuv calls the transport needs, declared here: an addon loaded
//! by Node resolves them from the node binary, which exports libuv. Handles
//! are allocated with `uv_handle_size()`, so no libuv struct layout is
//! assumed (only that `data`, the first field of every handle, is reached
//! through `uv_handle_{get,set}_data`, libuv >= 1.34; Node 20 has 1.46).

use std::alloc::{self, Layout};
use std::ffi::{c_int, c_void};

use napi::sys::uv_loop_s;

/// `uv_handle_type` values (uv.h: `UV_HANDLE_TYPE_MAP` starts at 1).
const UV_CHECK: c_int = 2;
const UV_POLL: c_int = 8;

pub type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
pub type CheckCb = unsafe extern "C" fn(handle: *mut c_void);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_poll_init(lp: *mut uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_check_init(lp: *mut uv_loop_s, handle: *mut c_void) -> c_int;
    fn uv_check_start(handle: *mut c_void, cb: CheckCb) -> c_int;
    fn uv_check_stop(handle: *mut c_void) -> c_int;
    fn uv_close(handle: *mut c_void, cb: Option<CloseCb>);
    fn uv_handle_set_data(handle: *mut c_void, data: *mut c_void);
    fn uv_handle_get_data(handle: *const c_void) -> *mut c_void;
    fn uv_ref(handle: *mut c_void);
    fn uv_unref(handle: *mut c_void);
}

/// Every handle is allocated with this alignment (libuv structs hold
/// pointers and 64-bit integers at most).
const ALIGN: usize = 16;

fn layout_for(kind: c_int) -> Option<Layout> {
    // SAFETY: `uv_handle_size` only reads a static table.
    let size = unsafe { uv_handle_size(kind) };
    if size == 0 {
        return None;
    }
    Layout::from_size_align(size, ALIGN).ok()
}

unsafe extern "C" fn free_poll(handle: *mut c_void) {
    if let Some(layout) = layout_for(UV_POLL) {
        // SAFETY: libuv calls this once, after the handle is closed; the
        // memory came from `alloc` with this same layout (`Poll::new`).
        unsafe { alloc::dealloc(handle.cast(), layout) };
    }
}

unsafe extern "C" fn free_check(handle: *mut c_void) {
    if let Some(layout) = layout_for(UV_CHECK) {
        // SAFETY: as in `free_poll`, for the check handle of `Check::new`.
        unsafe { alloc::dealloc(handle.cast(), layout) };
    }
}

fn check(rc: c_int) -> Result<(), i32> {
    if rc < 0 {
        Err(-rc)
    } else {
        Ok(())
    }
}

/// A `uv_poll_t` watching one descriptor; `data` carries the connection's
/// slot number back to the callback. Closed (and freed by libuv's close
/// callback) by `close`; dropping it without `close` leaks it on purpose,
/// as freeing an open handle would corrupt the loop.
pub struct Poll {
    handle: *mut c_void,
    events: c_int,
}

impl Poll {
    /// # Safety
    /// `lp` must be the live loop of the current thread, and `fd` an open
    /// socket that nothing else in this loop polls.
    pub unsafe fn new(lp: *mut uv_loop_s, fd: c_int, slot: usize) -> Result<Poll, i32> {
        let layout = layout_for(UV_POLL).ok_or(libc::ENOSYS)?;
        // SAFETY: the layout has a non-zero size.
        let handle: *mut c_void = unsafe { alloc::alloc_zeroed(layout) }.cast();
        if handle.is_null() {
            return Err(libc::ENOMEM);
        }
        // SAFETY: `handle` is zeroed memory of the size libuv asked for,
        // and the caller vouches for `lp` and `fd`.
        if let Err(e) = check(unsafe { uv_poll_init(lp, handle, fd) }) {
            // SAFETY: a handle whose init failed is not registered with the
            // loop, so it can be freed directly.
            unsafe { alloc::dealloc(handle.cast(), layout) };
            return Err(e);
        }
        // SAFETY: `handle` is an initialised handle.
        unsafe { uv_handle_set_data(handle, slot as *mut c_void) };
        Ok(Poll { handle, events: 0 })
    }

    /// The slot number stored by `new`.
    ///
    /// # Safety
    /// `handle` must be the handle of a live `Poll`, as libuv passes it to
    /// the poll callback.
    pub unsafe fn slot_of(handle: *mut c_void) -> usize {
        // SAFETY: per the contract, `handle` is an initialised handle.
        unsafe { uv_handle_get_data(handle) as usize }
    }

    /// Gives the handle to another slot (its callback is given by the next
    /// `set`, after a `set(0, ..)`).
    pub fn set_slot(&mut self, slot: usize) {
        // SAFETY: an initialised, open handle.
        unsafe { uv_handle_set_data(self.handle, slot as *mut c_void) };
    }

    /// What is polled for now.
    pub fn events(&self) -> c_int {
        self.events
    }

    /// Polls for `events` (`UV_READABLE` 1 | `UV_WRITABLE` 2), or stops
    /// polling if 0. Does nothing if that is already the case.
    pub fn set(&mut self, events: c_int, cb: PollCb) -> Result<(), i32> {
        if events == self.events {
            return Ok(());
        }
        // SAFETY: `self.handle` is an initialised, open poll handle (only
        // `close` closes it, and it consumes `self`).
        let rc = unsafe {
            if events == 0 {
                uv_poll_stop(self.handle)
            } else {
                uv_poll_start(self.handle, events, cb)
            }
        };
        check(rc)?;
        self.events = events;
        Ok(())
    }

    /// Whether the handle keeps the loop alive (`socket.ref()/unref()`).
    pub fn set_ref(&mut self, on: bool) {
        // SAFETY: an initialised, open handle.
        unsafe {
            if on {
                uv_ref(self.handle)
            } else {
                uv_unref(self.handle)
            }
        }
    }

    /// Stops polling and closes the handle; libuv frees it in its close
    /// callback. The descriptor may be closed right after.
    pub fn close(self) {
        // SAFETY: an initialised, open handle, closed once (`self` is
        // consumed); `free_poll` frees it when libuv is done with it.
        unsafe { uv_close(self.handle, Some(free_poll)) };
    }
}

/// A `uv_check_t`: runs right after the loop's poll phase, which is when
/// a batch of I/O events is complete. Unreferenced, so it never keeps the
/// loop alive by itself.
pub struct Check {
    handle: *mut c_void,
    active: bool,
}

impl Check {
    /// # Safety
    /// `lp` must be the live loop of the current thread.
    pub unsafe fn new(lp: *mut uv_loop_s) -> Result<Check, i32> {
        let layout = layout_for(UV_CHECK).ok_or(libc::ENOSYS)?;
        // SAFETY: the layout has a non-zero size.
        let handle: *mut c_void = unsafe { alloc::alloc_zeroed(layout) }.cast();
        if handle.is_null() {
            return Err(libc::ENOMEM);
        }
        // SAFETY: zeroed memory of the right size and the caller's loop.
        if let Err(e) = check(unsafe { uv_check_init(lp, handle) }) {
            // SAFETY: not registered with the loop, so freed directly.
            unsafe { alloc::dealloc(handle.cast(), layout) };
            return Err(e);
        }
        // SAFETY: an initialised handle.
        unsafe { uv_unref(handle) };
        Ok(Check {
            handle,
            active: false,
        })
    }

    pub fn start(&mut self, cb: CheckCb) {
        if !self.active {
            // SAFETY: an initialised, open handle; starting cannot fail
            // for a check handle with a callback.
            self.active = unsafe { uv_check_start(self.handle, cb) } == 0;
        }
    }

    pub fn stop(&mut self) {
        if self.active {
            // SAFETY: an initialised, open handle.
            unsafe { uv_check_stop(self.handle) };
            self.active = false;
        }
    }

    pub fn close(self) {
        // SAFETY: an initialised, open handle, closed once; freed by
        // `free_check`.
        unsafe { uv_close(self.handle, Some(free_check)) };
    }
}
