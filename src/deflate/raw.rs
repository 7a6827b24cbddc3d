//! A zlib-rs compressor whose idle memory is the pages it uses.
//!
//! zlib-rs's `Deflate` (its safe API) takes no allocator, and its
//! `deflateInit2` writes zeros over the window (2 << windowBits bytes), the
//! chains (`prev`, 2 << windowBits) and the hash table (`head`, 128 KiB
//! whatever `memLevel`), and each block's end over the symbol buffer
//! (3 << (memLevel + 6)): all their pages are resident, about 300 KiB of a
//! window 15 compressor's 371 KiB, where a message of a few KiB writes a
//! page or two of the window and of the chains. So the compressor is made
//! here through zlib-rs's C API (libz-rs-sys, the same code), with
//! `zalloc`/`zfree` callbacks that, on Unix, serve its one large block from
//! a private anonymous mapping of its own. `release_zero_pages` (called
//! once, after a connection's first message) hands the resident pages of
//! that mapping that hold only zeros back to the kernel (`MADV_DONTNEED`):
//! they still read as zeros (such a mapping is refilled with zero pages on
//! demand), so zlib-rs sees the same memory, and only the pages it writes
//! again become resident again. The mapping is unmapped when the compressor
//! is dropped, never reused. zlib-rs does not rely on its allocator zeroing
//! anything (it zeroes what it needs itself).
//!
//! Elsewhere (and when `mmap` fails) zlib-rs's own allocator (or `malloc`)
//! is used and nothing is released.

use std::ffi::{c_int, c_uint, CStr};

use libz_rs_sys::{
    deflate, deflateEnd, deflateInit2_, deflateReset, z_stream, zlibVersion, Z_BUF_ERROR,
    Z_DEFLATED, Z_OK, Z_STREAM_END,
};

/// Outcome of one `compress` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeflateStatus {
    Ok,
    /// No progress was possible (no input, or no output room).
    BufError,
    StreamEnd,
}

/// zlib's error for a failed call (its return code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateError(pub c_int);

/// One raw deflate stream (zlib's `z_stream` after `deflateInit2`).
pub struct RawDeflate {
    /// Boxed: zlib's stream must not move between calls (C zlib checks
    /// it; zlib-rs keeps no pointer to it, but the C API promises nothing).
    strm: Box<z_stream>,
    /// The allocation record `strm.opaque` points to (from `Box::into_raw`,
    /// freed in `drop` after `deflateEnd`).
    #[cfg(unix)]
    slot: *mut lazy::Slot,
    /// Counted here: zlib's own are C `unsigned long`s, 32 bits on Windows.
    total_in: u64,
    total_out: u64,
}

// SAFETY: the stream and its memory (the box, the record, zlib-rs's block)
// belong to this value alone and are only reached through `&mut self` or
// its drop; the allocator callbacks (`mmap`, `munmap`, `malloc`, `free`)
// work from any thread. zlib-rs's own `DeflateStream` is `Send` likewise.
unsafe impl Send for RawDeflate {}

impl RawDeflate {
    /// zlib's `deflateInit2` for a raw stream: `window_bits` 9..=15 (made
    /// negative here), `level` -1..=9, `mem_level` 1..=9, `strategy` 0..=4.
    /// `Err(Z_MEM_ERROR)` when memory cannot be had; other errors mean
    /// invalid settings (validated before, see `DeflateOptions::validate`).
    pub fn new(
        level: c_int,
        window_bits: c_int,
        mem_level: c_int,
        strategy: c_int,
    ) -> Result<Self, DeflateError> {
        let mut strm = Box::new(z_stream::default());
        #[cfg(unix)]
        let slot = {
            let slot = Box::into_raw(Box::new(lazy::Slot::default()));
            strm.zalloc = Some(lazy::zalloc);
            strm.zfree = Some(lazy::zfree);
            strm.opaque = slot.cast();
            slot
        };
        let version = zlibVersion();
        let size = c_int::try_from(std::mem::size_of::<z_stream>()).unwrap_or(c_int::MAX);
        // SAFETY: `strm` is a valid, default-initialised (null state) stream
        // with either no allocator (zlib-rs then takes its own) or our
        // callbacks, whose `opaque` is a live record that outlives the
        // stream (freed in `drop`, after `deflateEnd`); `version` and `size`
        // are libz-rs-sys's own.
        let ret = unsafe {
            deflateInit2_(
                &mut *strm,
                level,
                Z_DEFLATED,
                // Negative: raw deflate, no zlib header.
                -window_bits,
                mem_level,
                strategy,
                version,
                size,
            )
        };
        let raw = RawDeflate {
            strm,
            #[cfg(unix)]
            slot,
            total_in: 0,
            total_out: 0,
        };
        if ret != Z_OK {
            // `drop` frees the record; `deflateEnd` on a stream whose init
            // failed (null state) is a no-op returning an error.
            return Err(DeflateError(ret));
        }
        Ok(raw)
    }

    /// Hands back to the kernel the pages of zlib-rs's block that hold only
    /// zeros (parts of the window and of the chains no message reached yet,
    /// the cleared symbol buffer, the unused end of the output buffer):
    /// they become resident again only when zlib-rs writes them. Costs a
    /// scan of the resident pages and a page fault for each page written
    /// again later, so meant for a context about to sit idle, once (after
    /// its first message), not after every message.
    pub fn release_zero_pages(&mut self) {
        #[cfg(unix)]
        // SAFETY: the stream is initialised (`new` succeeded), so the record
        // describes zlib-rs's block if it was mapped and `state` points to
        // zlib-rs's state; `&mut self` keeps anything else from using the
        // stream meanwhile.
        unsafe {
            lazy::trim(self.slot, self.strm.state.cast());
        }
    }

    /// Bytes consumed since the stream began (or was reset).
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Bytes produced since the stream began (or was reset).
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// zlib's message for the last error, if any.
    pub fn error_message(&self) -> Option<&'static str> {
        if self.strm.msg.is_null() {
            return None;
        }
        // SAFETY: zlib-rs sets `msg` only to its static NUL-terminated
        // messages (`ReturnCode::error_message`).
        unsafe { CStr::from_ptr(self.strm.msg) }.to_str().ok()
    }

    /// Deflates from `input` into `output` with zlib's `flush` (`Z_*`);
    /// progress shows in `total_in`/`total_out`.
    pub fn compress(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: c_int,
    ) -> Result<DeflateStatus, DeflateError> {
        // zlib counts in c_uint: a larger buffer is used in part (callers
        // loop until everything is consumed).
        let strm = &mut *self.strm;
        strm.next_in = input.as_ptr();
        strm.avail_in = c_uint::try_from(input.len()).unwrap_or(c_uint::MAX);
        strm.next_out = output.as_mut_ptr();
        strm.avail_out = c_uint::try_from(output.len()).unwrap_or(c_uint::MAX);
        // SAFETY: the stream was initialised by `deflateInit2_` and has not
        // moved (boxed); `next_in`/`avail_in` describe readable bytes of
        // `input` and `next_out`/`avail_out` writable bytes of `output`,
        // both borrowed for this call, and cleared again below.
        let ret = unsafe { deflate(strm, flush) };
        // zlib advanced the pointers by what it consumed and produced.
        let consumed = (strm.next_in as usize).wrapping_sub(input.as_ptr() as usize);
        let produced = (strm.next_out as usize).wrapping_sub(output.as_ptr() as usize);
        self.total_in += consumed.min(input.len()) as u64;
        self.total_out += produced.min(output.len()) as u64;
        strm.next_in = std::ptr::null();
        strm.avail_in = 0;
        strm.next_out = std::ptr::null_mut();
        strm.avail_out = 0;
        match ret {
            Z_OK => Ok(DeflateStatus::Ok),
            Z_BUF_ERROR => Ok(DeflateStatus::BufError),
            Z_STREAM_END => Ok(DeflateStatus::StreamEnd),
            err => Err(DeflateError(err)),
        }
    }

    /// Starts a new stream with the same settings and memory.
    pub fn reset(&mut self) {
        self.total_in = 0;
        self.total_out = 0;
        // SAFETY: the stream was initialised by `deflateInit2_` and has not
        // moved. Its only failure is an uninitialised stream.
        unsafe { deflateReset(&mut *self.strm) };
    }
}

impl Drop for RawDeflate {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised (or its init failed, leaving a
        // null state, which `deflateEnd` refuses); `deflateEnd` frees
        // zlib-rs's block through our `zfree`, which needs the record, freed
        // only after it.
        unsafe { deflateEnd(&mut *self.strm) };
        #[cfg(unix)]
        // SAFETY: from `Box::into_raw` in `new`, freed once, here; the
        // stream no longer uses it (`deflateEnd` cleared its state).
        drop(unsafe { Box::from_raw(self.slot) });
    }
}

#[cfg(unix)]
pub(super) mod lazy {
    //! The allocator callbacks and the trimming of zero pages.

    use std::cell::Cell;
    use std::ffi::{c_uint, c_void};
    use std::ptr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Blocks at least this large get their own mapping: zlib-rs's
    /// compressor makes one block of 137 KiB or more (the hash table alone
    /// is 128 KiB); anything smaller is `malloc`ed.
    pub const MAP_MIN: usize = 64 * 1024;

    /// What zlib-rs writes at the start of its block (its `State`, about
    /// 3.2 KiB in zlib-rs 0.6) is never read here: it holds padding, bytes
    /// Rust counts as uninitialised. Only pages starting at least this far
    /// past the state's address are examined (the tests check the bound).
    pub const STATE_BOUND: usize = 8 * 1024;

    /// The mapping of one stream (zlib-rs 0.6 makes one block per
    /// compressor; a second large block, if a later version made one, is
    /// `malloc`ed).
    #[derive(Default)]
    pub struct Slot {
        pub map: Cell<Option<(ptr::NonNull<u8>, usize)>>,
    }

    fn page_size() -> usize {
        static PAGE: AtomicUsize = AtomicUsize::new(0);
        let cached = PAGE.load(Ordering::Relaxed);
        if cached != 0 {
            return cached;
        }
        // SAFETY: sysconf only reads a system setting.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let size = usize::try_from(size)
            .ok()
            .filter(|s| s.is_power_of_two())
            .unwrap_or(4096);
        PAGE.store(size, Ordering::Relaxed);
        size
    }

    /// zlib's `zalloc`: `items * size` bytes, from a fresh mapping for the
    /// stream's first large block, else from `malloc`.
    ///
    /// # Safety
    ///
    /// `opaque` is the stream's live `Slot` (set up by `RawDeflate::new`).
    pub unsafe extern "C" fn zalloc(
        opaque: *mut c_void,
        items: c_uint,
        size: c_uint,
    ) -> *mut c_void {
        let Some(len) = (items as usize).checked_mul(size as usize) else {
            return ptr::null_mut();
        };
        if len == 0 {
            return ptr::null_mut();
        }
        // SAFETY: per this function's contract, a live `Slot`, only shared
        // (its `Cell` is not `Sync`, but a stream is used by one thread at
        // a time, which is the thread calling).
        let slot = unsafe { &*opaque.cast::<Slot>() };
        if len >= MAP_MIN && slot.map.get().is_none() {
            // SAFETY: a new private anonymous mapping, at an address the
            // kernel chooses: it aliases nothing.
            let p = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                if let Some(nn) = ptr::NonNull::new(p.cast::<u8>()) {
                    // Keep khugepaged (THP "always") from collapsing the
                    // sparse mapping into resident huge pages. Advisory:
                    // failure changes nothing else.
                    // SAFETY: the range is the mapping just made.
                    unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
                    slot.map.set(Some((nn, len)));
                    return p;
                }
            }
            // Out of mappings (vm.max_map_count) or memory: malloc then.
        }
        // SAFETY: plain malloc of a non-zero size.
        unsafe { libc::malloc(len) }
    }

    /// zlib's `zfree`, for what `zalloc` returned.
    ///
    /// # Safety
    ///
    /// `opaque` is the stream's live `Slot`; `p` came from `zalloc` with
    /// that slot and is not used after.
    pub unsafe extern "C" fn zfree(opaque: *mut c_void, p: *mut c_void) {
        // SAFETY: see `zalloc`.
        let slot = unsafe { &*opaque.cast::<Slot>() };
        match slot.map.get() {
            Some((map, len)) if map.as_ptr().cast::<c_void>() == p => {
                slot.map.set(None);
                // SAFETY: the whole mapping `zalloc` made; zlib-rs is done
                // with it (this is its free).
                unsafe { libc::munmap(p, len) };
            }
            // SAFETY: not the mapping, so `malloc`ed by `zalloc` (free
            // accepts null).
            _ => unsafe { libc::free(p) },
        }
    }

    /// Returns to the kernel the whole pages of the stream's mapping that
    /// lie at least `STATE_BOUND` past `state`, are resident and hold only
    /// zeros (pages not resident are not read: reading them would map the
    /// zero page, or bring back a swapped page, for nothing).
    ///
    /// # Safety
    ///
    /// `slot` is the live record of an initialised stream whose `state`
    /// pointer is `state`, and nothing reads or writes the stream's memory
    /// during the call.
    pub unsafe fn trim(slot: *const Slot, state: *const u8) {
        // SAFETY: per the contract, a live record.
        let Some((map, len)) = (unsafe { &*slot }).map.get() else {
            return;
        };
        let page = page_size();
        let base = map.as_ptr() as usize;
        // The mapping runs to the end of its last page.
        let end = base + len.next_multiple_of(page);
        let skip = (state as usize).saturating_add(STATE_BOUND);
        if skip < base || skip >= end {
            // The state is not in the mapping: leave it alone.
            return;
        }
        let first = skip.next_multiple_of(page);
        let mut resident = vec![0u8; (end - first) / page];
        // SAFETY: `first..end` is whole pages of our mapping; `resident`
        // has one byte per page for the kernel to fill.
        let ret = unsafe {
            libc::mincore(
                first as *mut c_void,
                end - first,
                resident.as_mut_ptr().cast(),
            )
        };
        if ret != 0 {
            return;
        }
        let mut at = first;
        let mut run_start = None;
        for flags in resident {
            if flags & 1 == 0 {
                // Not resident: nothing to hand back. It ends a run: a
                // swapped-out page may hold data, which MADV_DONTNEED would
                // discard.
                if let Some(s) = run_start.take() {
                    discard(s, at);
                }
                at += page;
                continue;
            }
            // SAFETY: a whole page inside the mapping (`at` ≥ `base`, page
            // aligned, ends by `end`), which stays mapped until `zfree`
            // (`munmap` of `len` bytes unmaps whole pages).
            // Its bytes are initialised: the kernel zero-fills a fresh
            // mapping, and past its state (ending before `skip`) zlib-rs
            // only writes plain integers (its window, chains, hash table,
            // output and symbol buffers), no padding; nothing writes them
            // meanwhile (contract).
            let bytes = unsafe { std::slice::from_raw_parts(at as *const u8, page) };
            let zero = is_zero(bytes);
            match (zero, run_start) {
                (true, None) => run_start = Some(at),
                (false, Some(s)) => {
                    discard(s, at);
                    run_start = None;
                }
                _ => {}
            }
            at += page;
        }
        if let Some(s) = run_start {
            discard(s, at);
        }
    }

    /// No early exit: the compiler vectorises the fold, and pages here are
    /// mostly zero.
    fn is_zero(bytes: &[u8]) -> bool {
        bytes.iter().fold(0u8, |acc, &b| acc | b) == 0
    }

    /// `MADV_DONTNEED` over pages `[from, to)` that hold only zeros.
    fn discard(from: usize, to: usize) {
        // SAFETY: whole pages of a private anonymous mapping of ours, all
        // zero (checked by the caller, and nothing writes them meanwhile):
        // after MADV_DONTNEED they read as zeros again (fresh zero pages on
        // demand), so their contents, all anyone can observe, are
        // unchanged. No reference into them is live. Failure leaves them
        // as they were.
        unsafe { libc::madvise(from as *mut c_void, to - from, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(window_bits: i32, mem_level: i32) -> Result<RawDeflate, DeflateError> {
        RawDeflate::new(6, window_bits, mem_level, 0)
    }

    #[test]
    fn compresses_and_reports_errors() {
        let mut d = new(15, 8).expect("init");
        let input = b"hello hello hello hello".repeat(100);
        let mut out = vec![0u8; 4096];
        let status = d
            .compress(&input, &mut out, libz_rs_sys::Z_SYNC_FLUSH)
            .expect("deflate");
        assert_eq!(status, DeflateStatus::Ok);
        assert_eq!(d.total_in(), input.len() as u64);
        assert!(d.total_out() > 0 && d.total_out() < 200);
        assert_eq!(d.error_message(), None);
        // An invalid flush is refused without touching the stream.
        assert_eq!(d.compress(&[], &mut out, 99), Err(DeflateError(-2)));
        d.reset();
        assert_eq!(d.total_in(), 0);
        // Invalid settings are an error, not a panic.
        assert!(new(16, 8).is_err());
        assert!(new(15, 10).is_err());
    }

    #[cfg(unix)]
    fn page_size() -> usize {
        // SAFETY: sysconf only reads a system setting.
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
    }

    /// Resident bytes of a mapping (whole pages).
    #[cfg(unix)]
    fn resident(map: std::ptr::NonNull<u8>, len: usize) -> usize {
        let page = page_size();
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: the mapping is live (page aligned, `len` long); `vec` has
        // one byte per page.
        let ret = unsafe { libc::mincore(map.as_ptr().cast(), len, vec.as_mut_ptr().cast()) };
        assert_eq!(ret, 0);
        vec.iter().filter(|&&b| b & 1 != 0).count() * page
    }

    #[cfg(unix)]
    #[test]
    fn zero_pages_are_released() {
        for (bits, mem) in [(15, 8), (15, 9), (10, 4), (9, 1)] {
            let mut d = new(bits, mem).expect("init");
            // SAFETY: the record is live while `d` is.
            let (map, len) = unsafe { &*d.slot }.map.get().expect("mapped");
            // The state is well within STATE_BOUND of the block (zlib-rs's
            // block is the state then its buffers, `len` minus those).
            let w = 1usize << bits;
            let lit = 1usize << (mem + 6);
            let buffers = 2 * w + 2 * w + 128 * 1024 + 4 * lit + 3 * lit;
            assert!(len - buffers < lazy::STATE_BOUND / 2, "{len} {buffers}");
            assert!(d.strm.state as usize - map.as_ptr() as usize <= 256);
            // Released right after init: all but the state's pages (and
            // the bound skipped after it) hold zeros.
            let kept = (lazy::STATE_BOUND + 256).next_multiple_of(page_size());
            assert!(resident(map, len) > buffers / 2);
            d.release_zero_pages();
            let fresh = resident(map, len);
            assert!(
                fresh <= kept,
                "{bits}/{mem}: {fresh} bytes resident after init"
            );
            // A 2 KiB message touches (nearly) all the hash table and the
            // symbol buffer (zlib-rs zeroes it after each block) but a page
            // or two of the window, the chains and the output buffer; the
            // symbol buffer is zero again after the message.
            let input: Vec<u8> = (0..2048u32).map(|i| (i * i % 251) as u8).collect();
            let mut out = vec![0u8; 4096];
            let mut compress = |d: &mut RawDeflate| {
                let before = d.total_out();
                d.compress(&input, &mut out, libz_rs_sys::Z_SYNC_FLUSH)
                    .expect("deflate");
                out[..(d.total_out() - before) as usize].to_vec()
            };
            let first = compress(&mut d);
            assert!(resident(map, len) >= 3 * lit);
            d.release_zero_pages();
            let used = resident(map, len);
            assert!(
                used <= kept + 128 * 1024 + 8 * page_size(),
                "{bits}/{mem}: {used} of {len} bytes resident"
            );
            // The released pages read as zeros: the stream goes on as one
            // never trimmed does.
            let mut plain = new(bits, mem).expect("init");
            assert_eq!(compress(&mut plain), first);
            assert_eq!(compress(&mut d), compress(&mut plain));
        }
    }
}
