//! N-API surface of the native transport (src/transport/, Unix only):
//! functions JS calls to hand a connection over, configure its receiver,
//! send frames, end, pause and close it, and the one callback Rust makes
//! into JS per loop wakeup with the batch of records of every connection
//! (see js/transport/native.js).
//!
//! The transport lives in a thread local: one per Node environment (the
//! main thread and each worker have their own loop and thread). It is
//! borrowed only for the duration of a Rust step and never while JS runs,
//! so JS called from a batch may call back into these functions.

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;

use napi::bindgen_prelude::{Float64ArraySlice, Function, Uint32ArraySlice, Uint8ArraySlice};
use napi::{sys, Env, Error, JsValue, Result, Status};
use napi_derive::napi;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::napi_deflate::hand_over;
use crate::napi_util::{count_option, throw, JsErrorClass};
use crate::receiver::Options;
use crate::transport::{
    listener, socket, untag, uv::Poll, Callbacks, Transport, RECORD_WORDS, TAG_LISTEN, TAG_PENDING,
};

/// Deliveries in a row from one wakeup, when JS calls cause new records.
const MAX_ROUNDS: usize = 4;
/// Size of a slab, the Buffer that reads go into. Below glibc's mmap
/// threshold (128 KiB), so that the memory of slabs JS let go is reused
/// by the next ones instead of being mapped (and faulted in) afresh.
const SLAB_SIZE: usize = 96 * 1024;
/// Records the first records array holds; it grows when a batch has more.
const INITIAL_RECORDS: usize = 1024;

struct Js {
    env: sys::napi_env,
    callback: sys::napi_ref,
    /// The Uint32Array records are copied into (null before the first
    /// batch), and how many `u32`s it holds.
    records: sys::napi_ref,
    records_len: usize,
    recv: sys::napi_ref,
    context: sys::napi_async_context,
    /// The slab reads go into (null before the first read).
    slab: sys::napi_ref,
}

struct State {
    transport: Transport,
    js: Js,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's transport, if there is one and it is not
/// borrowed already.
fn with<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.with(|cell| {
        let mut state = cell.try_borrow_mut().ok()?;
        state.as_mut().map(f)
    })
}

fn ok(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(Status::GenericFailure, "N-API call failed"))
    }
}

fn errno_error(context: &str, errno: i32) -> Error {
    let err = std::io::Error::from_raw_os_error(errno);
    Error::new(Status::GenericFailure, format!("{context}: {err}"))
}

/// Sets up the transport of this thread: `callback(slab, count, records,
/// extras)` is called once per batch, with `count` records of 4 u32
/// (connection id, type, a, b; src/records.rs) in the Uint32Array
/// `records` (a larger one when a batch outgrows it), and `extras` the
/// Buffers that `MESSAGE_EXTRA` records refer to (or `undefined`). With
/// `perSocket`, each connection's events are delivered from its own poll
/// callback instead of once per loop wakeup. `eofOnHangup` (default true)
/// reads on to the end of stream on a hang-up after our FIN, as libuv
/// streams before 1.52 do. Calling it again replaces the callback.
#[napi(js_name = "nativeInit")]
pub fn native_init(
    env: Env,
    callback: Function<'_>,
    per_socket: Option<bool>,
    eof_on_hangup: Option<bool>,
) -> Result<()> {
    let per_socket = per_socket.unwrap_or(false);
    let eof_on_hangup = eof_on_hangup.unwrap_or(true);
    let raw = env.raw();
    let mut callback_ref = ptr::null_mut();
    let mut recv = ptr::null_mut();
    let mut recv_ref = ptr::null_mut();
    let mut name = ptr::null_mut();
    let mut context = ptr::null_mut();
    // SAFETY: `raw` is the env of this call; the values are live handles of
    // this call's scope and every out-pointer is a live local.
    unsafe {
        ok(sys::napi_create_reference(
            raw,
            callback.raw(),
            1,
            &mut callback_ref,
        ))?;
        ok(sys::napi_create_object(raw, &mut recv))?;
        ok(sys::napi_create_reference(raw, recv, 1, &mut recv_ref))?;
        ok(sys::napi_create_string_utf8(
            raw,
            c"ws-native:transport".as_ptr(),
            -1, // NAPI_AUTO_LENGTH: NUL-terminated
            &mut name,
        ))?;
        ok(sys::napi_async_init(raw, recv, name, &mut context))?;
    }
    let js = Js {
        env: raw,
        callback: callback_ref,
        records: ptr::null_mut(),
        records_len: 0,
        recv: recv_ref,
        context,
        slab: ptr::null_mut(),
    };

    let replaced = STATE.with(|cell| {
        let mut state = cell
            .try_borrow_mut()
            .map_err(|_| Error::new(Status::GenericFailure, "transport busy"))?;
        if let Some(s) = state.as_mut() {
            let mut js = js;
            // The slab and the records array carry over.
            js.slab = std::mem::replace(&mut s.js.slab, ptr::null_mut());
            js.records = std::mem::replace(&mut s.js.records, ptr::null_mut());
            js.records_len = s.js.records_len;
            let old = std::mem::replace(&mut s.js, js);
            s.transport.per_socket = per_socket;
            s.transport.eof_on_hangup = eof_on_hangup;
            return Ok::<_, Error>(Some(old));
        }
        let mut lp = ptr::null_mut();
        // SAFETY: `raw` is the env of this call; `lp` a live local.
        ok(unsafe { sys::napi_get_uv_event_loop(raw, &mut lp) })?;
        // SAFETY: `lp` is the loop of this thread's environment, and the
        // transport stays in this thread's local.
        let mut transport = unsafe {
            Transport::new(
                lp,
                Callbacks {
                    poll: on_poll,
                    check: on_check,
                },
            )
        }
        .map_err(|e| errno_error("uv", e))?;
        transport.per_socket = per_socket;
        transport.eof_on_hangup = eof_on_hangup;
        *state = Some(State { transport, js });
        // SAFETY: `cleanup` only touches this thread's local.
        ok(unsafe { sys::napi_add_env_cleanup_hook(raw, Some(cleanup), ptr::null_mut()) })?;
        Ok(None)
    })?;
    if let Some(old) = replaced {
        release(&old);
    }
    Ok(())
}

/// Drops the references of a `Js` (on re-init and at cleanup).
fn release(js: &Js) {
    // SAFETY: the references and the async context were created on this
    // env and are released once (the `Js` is dropped right after).
    unsafe {
        sys::napi_delete_reference(js.env, js.callback);
        if !js.records.is_null() {
            sys::napi_delete_reference(js.env, js.records);
        }
        sys::napi_delete_reference(js.env, js.recv);
        if !js.slab.is_null() {
            sys::napi_delete_reference(js.env, js.slab);
        }
        sys::napi_async_destroy(js.env, js.context);
    }
}

/// Hands the pending records to JS if any, then gives the transport a new
/// slab to read into.
fn refill() {
    if with(|s| !s.transport.batch.is_empty()) == Some(true) {
        deliver();
    }
    let Some(env) = with(|s| s.js.env) else {
        return;
    };
    let mut scope = ptr::null_mut();
    // SAFETY: this thread's env, on its thread, in a libuv callback.
    if unsafe { sys::napi_open_handle_scope(env, &mut scope) } != sys::Status::napi_ok {
        return;
    }
    let mut data: *mut c_void = ptr::null_mut();
    let mut value = ptr::null_mut();
    let mut reference = ptr::null_mut();
    // SAFETY: same env and scope; out-pointers are live locals.
    let created = unsafe {
        sys::napi_create_buffer(env, SLAB_SIZE, &mut data, &mut value) == sys::Status::napi_ok
            && !data.is_null()
            && sys::napi_create_reference(env, value, 1, &mut reference) == sys::Status::napi_ok
    };
    if created {
        let taken = with(|s| {
            // Records still pending point into the old slab: keep it.
            if !s.transport.batch.is_empty() {
                return false;
            }
            let old = std::mem::replace(&mut s.js.slab, reference);
            if !old.is_null() {
                // SAFETY: a reference of this env, deleted once (replaced).
                unsafe { sys::napi_delete_reference(env, old) };
            }
            // SAFETY: `data` is the backing store of the Buffer just
            // created, `SLAB_SIZE` bytes, kept alive by `reference` until
            // the next slab replaces it; JS sees it only through delivered
            // records, whose bytes Rust never writes again (and JS marks
            // it untransferable before any other code can get it).
            unsafe { s.transport.batch.set_slab(data.cast(), SLAB_SIZE) };
            true
        });
        if taken != Some(true) {
            // SAFETY: the reference just created, deleted once.
            unsafe { sys::napi_delete_reference(env, reference) };
        }
    }
    // SAFETY: the scope opened above.
    unsafe { sys::napi_close_handle_scope(env, scope) };
}

unsafe extern "C" fn cleanup(_arg: *mut c_void) {
    let state = STATE.with(|cell| cell.try_borrow_mut().ok().and_then(|mut s| s.take()));
    if let Some(mut state) = state {
        state.transport.shutdown();
        release(&state.js);
    }
}

unsafe extern "C" fn on_poll(handle: *mut c_void, status: i32, events: i32) {
    // SAFETY: libuv passes the handle of a live `Poll`.
    let (id, tag) = untag(unsafe { Poll::slot_of(handle) });
    match tag {
        TAG_LISTEN => return on_listen(id),
        TAG_PENDING => return on_pending(id),
        _ => {}
    }
    let reads = status < 0 || events & !socket::WANT_WRITE != 0;
    if reads && with(|s| s.transport.needs_slab()) == Some(true) {
        refill();
    }
    let flush_now = with(|s| {
        s.transport.on_poll(id, status, events);
        // Closing events go to JS at once, in the poll phase, where Node
        // reports a socket's end or error: the close callbacks of the loop
        // then run in the same order as with `net.Socket`s.
        let t = &s.transport;
        let now = !t.batch.is_empty() && (t.per_socket || t.batch.closing);
        if !now {
            s.transport.schedule();
        }
        now
    });
    if flush_now == Some(true) {
        deliver();
    }
}

fn on_listen(id: u32) {
    if with(|s| s.transport.needs_slab()) == Some(true) {
        refill();
    }
    with(|s| {
        s.transport.on_listen(id);
        s.transport.schedule();
    });
}

fn on_pending(id: u32) {
    if with(|s| s.transport.needs_slab()) == Some(true) {
        refill();
    }
    with(|s| {
        s.transport.on_pending(id);
        s.transport.schedule();
    });
}

unsafe extern "C" fn on_check(_handle: *mut c_void) {
    // Bytes handed over at `attach` are parsed here, where a new slab can
    // be had (and the batch delivered first) when they do not fit.
    for _ in 0..MAX_ROUNDS {
        if with(|s| s.transport.parse_inputs()) != Some(true) {
            break;
        }
        refill();
    }
    deliver();
}

/// Hands the pending batch to JS (and again if JS caused new records).
fn deliver() {
    for _ in 0..MAX_ROUNDS {
        if !deliver_once() {
            break;
        }
    }
}

struct Call {
    env: sys::napi_env,
    func: sys::napi_value,
    recv: sys::napi_value,
    context: sys::napi_async_context,
    args: [sys::napi_value; 4],
}

/// A Uint32Array of `len` elements, and a reference to it.
///
/// # Safety
/// `env` must be this thread's env, inside an open handle scope.
unsafe fn new_records_array(
    env: sys::napi_env,
    len: usize,
) -> Option<(sys::napi_value, sys::napi_ref)> {
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut array = ptr::null_mut();
    let mut reference = ptr::null_mut();
    // SAFETY: per the caller; out-pointers are live locals.
    unsafe {
        (sys::napi_create_arraybuffer(env, len * 4, &mut data, &mut buffer) == sys::Status::napi_ok
            && sys::napi_create_typedarray(
                env,
                sys::TypedarrayType::uint32_array,
                len,
                buffer,
                0,
                &mut array,
            ) == sys::Status::napi_ok
            && sys::napi_create_reference(env, array, 1, &mut reference) == sys::Status::napi_ok)
            .then_some((array, reference))
    }
}

/// Copies the records into the JS array (a larger one if they outgrew
/// it), makes the extras' Buffers, and gets the slab, within the caller's
/// handle scope. `None` if there is nothing to deliver.
fn prepare(s: &mut State) -> Option<Call> {
    let t = &mut s.transport;
    if t.batch.is_empty() {
        t.begin_delivery();
        t.end_delivery();
        return None;
    }
    let env = s.js.env;
    let mut func = ptr::null_mut();
    let mut recv = ptr::null_mut();
    let mut records = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut count_value = ptr::null_mut();
    let mut extras = ptr::null_mut();
    let words = t.batch.records.len();
    // SAFETY: `env` is this thread's env, called from a libuv callback on
    // its thread inside the handle scope `deliver_once` opened; the
    // references are live (deleted only at cleanup or re-init, which take
    // the state out first, or replaced here); every out-pointer is a live
    // local.
    unsafe {
        sys::napi_get_reference_value(env, s.js.callback, &mut func)
            .eq(&sys::Status::napi_ok)
            .then_some(())?;
        sys::napi_get_reference_value(env, s.js.recv, &mut recv)
            .eq(&sys::Status::napi_ok)
            .then_some(())?;
        if s.js.records.is_null() || s.js.records_len < words {
            let len = words
                .next_power_of_two()
                .max(INITIAL_RECORDS * RECORD_WORDS);
            let (array, reference) = new_records_array(env, len)?;
            if !s.js.records.is_null() {
                sys::napi_delete_reference(env, s.js.records);
            }
            s.js.records = reference;
            s.js.records_len = len;
            records = array;
        } else {
            sys::napi_get_reference_value(env, s.js.records, &mut records)
                .eq(&sys::Status::napi_ok)
                .then_some(())?;
        }
        let mut kind = sys::TypedarrayType::uint32_array;
        let mut length = 0usize;
        let mut data: *mut c_void = ptr::null_mut();
        let mut arraybuffer = ptr::null_mut();
        let mut offset = 0usize;
        sys::napi_get_typedarray_info(
            env,
            records,
            &mut kind,
            &mut length,
            &mut data,
            &mut arraybuffer,
            &mut offset,
        )
        .eq(&sys::Status::napi_ok)
        .then_some(())?;
        if kind != sys::TypedarrayType::uint32_array || data.is_null() || length < words {
            return None;
        }
        // `data` points to the live Uint32Array's `length` elements (the
        // reference keeps it alive, JS does not run during this copy), at
        // least `words`; the source is the batch's own Vec.
        ptr::copy_nonoverlapping(t.batch.records.as_ptr(), data.cast::<u32>(), words);
        let status = if s.js.slab.is_null() {
            sys::napi_get_undefined(env, &mut buffer)
        } else {
            sys::napi_get_reference_value(env, s.js.slab, &mut buffer)
        };
        status.eq(&sys::Status::napi_ok).then_some(())?;
        sys::napi_create_uint32(env, (words / RECORD_WORDS) as u32, &mut count_value)
            .eq(&sys::Status::napi_ok)
            .then_some(())?;
        sys::napi_get_undefined(env, &mut extras)
            .eq(&sys::Status::napi_ok)
            .then_some(())?;
    }
    if !t.batch.extras.is_empty() {
        extras = extras_array(env, std::mem::take(&mut t.batch.extras))?;
    }
    t.batch.clear();
    t.begin_delivery();
    Some(Call {
        env,
        func,
        recv,
        context: s.js.context,
        args: [buffer, count_value, records, extras],
    })
}

/// The JS array of the Buffers of large messages.
fn extras_array(env: sys::napi_env, list: Vec<Vec<u8>>) -> Option<sys::napi_value> {
    // `env` is this thread's env, in the scope `deliver_once` opened (no
    // JS runs meanwhile).
    let js_env = Env::from_raw(env);
    let mut array = ptr::null_mut();
    // SAFETY: as above; `array` is a live local.
    if unsafe { sys::napi_create_array_with_length(env, list.len(), &mut array) }
        != sys::Status::napi_ok
    {
        return None;
    }
    for (i, data) in list.into_iter().enumerate() {
        let (buffer, _) = hand_over(&js_env, data).ok()?;
        // SAFETY: as above; the element is a live value of this scope.
        unsafe {
            sys::napi_set_element(env, array, i as u32, buffer.raw())
                .eq(&sys::Status::napi_ok)
                .then_some(())?;
        }
    }
    Some(array)
}

fn deliver_once() -> bool {
    let Some(env) = with(|s| s.js.env) else {
        return false;
    };
    let mut scope = ptr::null_mut();
    // SAFETY: `env` is this thread's env and we are on its thread, outside
    // any other N-API call (in a libuv callback).
    if unsafe { sys::napi_open_handle_scope(env, &mut scope) } != sys::Status::napi_ok {
        return false;
    }
    let call = with(prepare).flatten();
    let delivered = call.is_some();
    if let Some(c) = call {
        let mut result = ptr::null_mut();
        // SAFETY: the values are live handles of the open scope; `args` has
        // the 2 values passed. No borrow of the state is held, so JS may
        // call back into the transport.
        let status = unsafe {
            sys::napi_make_callback(
                c.env,
                c.context,
                c.recv,
                c.func,
                c.args.len(),
                c.args.as_ptr(),
                &mut result,
            )
        };
        if status != sys::Status::napi_ok {
            let mut exception = ptr::null_mut();
            // SAFETY: same env and scope; an exception thrown by the batch
            // callback is reported as uncaught, as Node does for one thrown
            // by a socket's 'data' listener.
            unsafe {
                if sys::napi_get_and_clear_last_exception(c.env, &mut exception)
                    == sys::Status::napi_ok
                    && !exception.is_null()
                {
                    sys::napi_fatal_exception(c.env, exception);
                }
            }
        }
        with(|s| s.transport.end_delivery());
    }
    // SAFETY: the scope opened above, closed once.
    unsafe { sys::napi_close_handle_scope(env, scope) };
    delivered
}

/// Takes over a duplicate of the socket descriptor `fd`; returns the
/// connection id. The caller stops reading from the original first.
#[napi(js_name = "nativeAdopt")]
pub fn native_adopt(fd: i32) -> Result<u32> {
    with(|s| s.transport.adopt(fd))
        .ok_or_else(|| Error::new(Status::GenericFailure, "transport not initialised"))?
        .map_err(|e| errno_error("adopt", e))
}

/// Writes `data` at once as far as the socket takes it and queues the
/// rest. Returns the bytes queued, or -errno if the write failed.
#[napi(js_name = "nativeWrite")]
pub fn native_write(id: u32, data: Uint8ArraySlice<'_>) -> f64 {
    let bytes: &[u8] = data.as_ref();
    result_number(with(|s| s.transport.write(id, &[bytes])))
}

/// Frames and writes the messages of a tick. `meta` holds `count` frames
/// of 6 u32: connection id, flags (opcode | FIN | RSV1 | MASK, or RAW for
/// bytes framed already, see
/// src/records.rs), payload source (0xffffffff for `stage`, else an index
/// into `payloads`), offset and length of the payload there, and the
/// masking key (little-endian, with MASK). Each connection's frames go out
/// in order with one `writev` (what the socket does not take is queued);
/// `results[i]` gets what `nativeWrite` would return for frame `i`'s
/// connection (the bytes it has queued, or -errno). Throws a RangeError,
/// having written nothing, if a frame is not valid (a control frame over
/// 125 bytes, ...) or a payload is out of range.
#[napi(js_name = "nativeSend")]
pub fn native_send(
    env: Env,
    stage: Uint8ArraySlice<'_>,
    payloads: Vec<Uint8ArraySlice<'_>>,
    meta: Uint32ArraySlice<'_>,
    count: u32,
    mut results: Float64ArraySlice<'_>,
) -> Result<()> {
    let stage: &[u8] = stage.as_ref();
    let payloads: Vec<&[u8]> = payloads.iter().map(|p| p.as_ref()).collect();
    let meta: &[u32] = meta.as_ref();
    // SAFETY: `results` is a live Float64Array for the duration of this
    // synchronous call, during which no JS runs; only it is written, and
    // the inputs are only read.
    let results = unsafe { results.as_mut() };
    let done = with(|s| {
        s.transport
            .send(stage, &payloads, meta, count as usize, results)
    });
    match done {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(throw(&env, JsErrorClass::RangeError, &e.to_string())),
        None => {
            // No transport: every connection is gone.
            for r in results.iter_mut().take(count as usize) {
                *r = -f64::from(libc::EBADF);
            }
            Ok(())
        }
    }
}

/// A connection's receiver options (ws's, as js/ normalises them).
#[napi(object)]
pub struct NativeReceiverOptions {
    #[napi(js_name = "isServer")]
    pub is_server: bool,
    /// 0 = no limit.
    #[napi(js_name = "maxPayload")]
    pub max_payload: f64,
    #[napi(js_name = "skipUtf8Validation")]
    pub skip_utf8_validation: bool,
    /// 0 = no limit.
    #[napi(js_name = "maxFragments")]
    pub max_fragments: f64,
    /// 0 = no limit.
    #[napi(js_name = "maxPieces")]
    pub max_pieces: f64,
    /// permessage-deflate: the peer's window bits, 0 = off.
    #[napi(js_name = "inflateWindowBits")]
    pub inflate_window_bits: f64,
    #[napi(js_name = "inflateNoContextTakeover")]
    pub inflate_no_context_takeover: bool,
    #[napi(js_name = "mergeFrames")]
    pub merge_frames: bool,
}

/// Registers receiver options; returns their number for `nativeAttach`
/// (the same number for the same options).
#[napi(js_name = "nativeConfigure")]
pub fn native_configure(options: NativeReceiverOptions) -> Result<u32> {
    let clamp32 = |v| u32::try_from(count_option(Some(v))).unwrap_or(u32::MAX);
    let bits = u8::try_from(count_option(Some(options.inflate_window_bits))).unwrap_or(u8::MAX);
    let config = socket::RxOptions {
        opts: Options {
            is_server: options.is_server,
            max_payload: count_option(Some(options.max_payload)),
            skip_utf8_validation: options.skip_utf8_validation,
            max_fragments: clamp32(options.max_fragments),
            max_pieces: clamp32(options.max_pieces),
        },
        inflate: (bits != 0).then_some((bits, options.inflate_no_context_takeover)),
        merge_frames: options.merge_frames,
    };
    with(|s| s.transport.configure(config))
        .ok_or_else(|| Error::new(Status::GenericFailure, "transport not initialised"))
}

/// Starts parsing connection `id` with the options numbered `config`:
/// reading starts, and `input` (bytes read before the takeover) is parsed
/// first, its records delivered with the next batch. 0, or -errno.
#[napi(js_name = "nativeAttach")]
pub fn native_attach(id: u32, config: u32, input: Option<Uint8ArraySlice<'_>>) -> i32 {
    let input: &[u8] = input.as_ref().map_or(&[], |b| b.as_ref());
    match with(|s| s.transport.attach(id, config, input)) {
        Some(Ok(())) => 0,
        Some(Err(e)) => -e,
        None => -libc::EBADF,
    }
}

/// Whether a connection merges the payloads of a message's frames that
/// arrive together (off for `binaryType = 'fragments'`).
#[napi(js_name = "nativeSetMergeFrames")]
pub fn native_set_merge_frames(id: u32, on: bool) {
    with(|s| s.transport.set_merge_frames(id, on));
}

/// `[bytesRead, bytesWritten]` of a connection (`undefined` once closed).
#[napi(js_name = "nativeCounts")]
pub fn native_counts(id: u32) -> Option<Vec<f64>> {
    let (read, written) = with(|s| s.transport.counts(id)).flatten()?;
    Some(vec![read as f64, written as f64])
}

/// `nativeWrite` for several buffers, written in order with one `writev`.
#[napi(js_name = "nativeWritev")]
pub fn native_writev(id: u32, list: Vec<Uint8ArraySlice<'_>>) -> f64 {
    let bufs: Vec<&[u8]> = list.iter().map(|b| b.as_ref()).collect();
    result_number(with(|s| s.transport.write(id, &bufs)))
}

fn result_number(r: Option<std::result::Result<usize, i32>>) -> f64 {
    match r {
        Some(Ok(queued)) => queued as f64,
        Some(Err(e)) => -f64::from(e),
        None => -f64::from(libc::EBADF),
    }
}

/// Ends the write side: 1 if the FIN went out now, 0 if it goes out once
/// the queue drains (a FINISHED record), or -errno. With `after_write`, only
/// says that the next write (the frames JS is about to hand over) is the
/// last: it goes out with the FIN, in one segment where it fits, and 0 is
/// returned; a second call without it ends for real.
#[napi(js_name = "nativeEnd")]
pub fn native_end(id: u32, after_write: Option<bool>) -> i32 {
    if after_write == Some(true) {
        return match with(|s| s.transport.fin_after_write(id)) {
            Some(()) => 0,
            None => -libc::EBADF,
        };
    }
    match with(|s| s.transport.end(id)) {
        Some(Ok(true)) => 1,
        Some(Ok(false)) => 0,
        Some(Err(e)) => -e,
        None => -libc::EBADF,
    }
}

/// Starts or stops reading (socket `resume()` / `pause()`).
#[napi(js_name = "nativeSetReading")]
pub fn native_set_reading(id: u32, on: bool) {
    with(|s| s.transport.set_reading(id, on));
}

/// Whether the connection keeps the event loop alive (`ref()/unref()`).
#[napi(js_name = "nativeSetRef")]
pub fn native_set_ref(id: u32, on: bool) {
    with(|s| s.transport.set_ref(id, on));
}

/// Closes the connection's descriptor; with `abort`, the socket's final
/// close sends a reset.
#[napi(js_name = "nativeClose")]
pub fn native_close(id: u32, abort: bool) {
    with(|s| s.transport.close(id, abort));
}

/// Open connections of this thread's transport (for tests).
#[napi(js_name = "nativeOpenCount")]
pub fn native_open_count() -> u32 {
    with(|s| s.transport.open_count() as u32).unwrap_or(0)
}

/// A socket address as Node reports it.
#[napi(object)]
pub struct AddressInfo {
    pub address: String,
    pub family: String,
    pub port: u32,
}

fn address_info(addr: SocketAddr) -> AddressInfo {
    AddressInfo {
        address: addr.ip().to_string(),
        family: if addr.is_ipv4() { "IPv4" } else { "IPv6" }.to_string(),
        port: u32::from(addr.port()),
    }
}

/// Listens on `host` (an IP address) and `port` with the native listener
/// of `port` mode; returns the listener id, or -errno. Its connections
/// come in batches as UPGRADE records (a valid upgrade request, already
/// read) and HANDOFF records (a descriptor for Node's HTTP server).
#[napi(js_name = "nativeListen")]
pub fn native_listen(host: String, port: u32, backlog: i32, reuse_port: Option<bool>) -> f64 {
    let Ok(ip) = host.parse::<IpAddr>() else {
        return -f64::from(libc::EINVAL);
    };
    let Ok(port) = u16::try_from(port) else {
        return -f64::from(libc::EINVAL);
    };
    let addr = listener::socket_addr(ip, port);
    match with(|s| {
        s.transport
            .listen(&addr, backlog, reuse_port.unwrap_or(false))
    }) {
        Some(Ok(id)) => f64::from(id),
        Some(Err(e)) => -f64::from(e),
        None => -f64::from(libc::ENOSYS),
    }
}

/// A listening socket for Node's own server, bound now (so that its port
/// is known at once, as Bun's `serve()` has it): the descriptor, or
/// -errno. `reusePort` sets `SO_REUSEPORT` (several processes may listen
/// on the port; the kernel spreads the connections).
#[napi(js_name = "nativeBind")]
pub fn native_bind(host: String, port: u32, backlog: i32, reuse_port: Option<bool>) -> f64 {
    use std::os::fd::IntoRawFd;
    let Ok(ip) = host.parse::<IpAddr>() else {
        return -f64::from(libc::EINVAL);
    };
    let Ok(port) = u16::try_from(port) else {
        return -f64::from(libc::EINVAL);
    };
    let addr = listener::socket_addr(ip, port);
    match listener::bind_listen_with(&addr, backlog, reuse_port.unwrap_or(false)) {
        Ok(fd) => f64::from(fd.into_raw_fd()),
        Err(e) => -f64::from(e),
    }
}

/// The address a listener is bound to.
#[napi(js_name = "nativeListenerAddress")]
pub fn native_listener_address(id: u32) -> Option<AddressInfo> {
    with(|s| s.transport.listener_addr(id))
        .flatten()
        .map(address_info)
}

/// Closes a listener (and the connections it has not handed over yet).
#[napi(js_name = "nativeListenerClose")]
pub fn native_listener_close(id: u32) {
    with(|s| s.transport.close_listener(id));
}

/// Pauses or resumes accepting.
#[napi(js_name = "nativeListenerPause")]
pub fn native_listener_pause(id: u32, paused: bool) {
    with(|s| s.transport.pause_listener(id, paused));
}

/// Whether a listener keeps the event loop alive (`unref()`/`ref()`).
#[napi(js_name = "nativeListenerSetRef")]
pub fn native_listener_set_ref(id: u32, on: bool) {
    with(|s| s.transport.set_listener_ref(id, on));
}

/// Descriptors of a listener's connections that have sent nothing for
/// `ms` milliseconds, now JS's (for Node's HTTP server).
#[napi(js_name = "nativeListenerSweep")]
pub fn native_listener_sweep(id: u32, ms: u32) -> Vec<i32> {
    with(|s| s.transport.sweep(id, Duration::from_millis(u64::from(ms)))).unwrap_or_default()
}

/// The peer's and the local address of a connection the listener accepted.
#[napi(object)]
pub struct ConnAddresses {
    pub remote: Option<AddressInfo>,
    pub local: Option<AddressInfo>,
}

#[napi(js_name = "nativeAddresses")]
pub fn native_addresses(id: u32) -> Option<ConnAddresses> {
    let fd = with(|s| s.transport.conn_fd(id)).flatten()?;
    let fd = BorrowedRaw(fd);
    Some(ConnAddresses {
        remote: listener::peer_addr(&fd).map(address_info),
        local: listener::local_addr(&fd).map(address_info),
    })
}

/// A descriptor borrowed for one call.
struct BorrowedRaw(i32);

impl std::os::fd::AsRawFd for BorrowedRaw {
    fn as_raw_fd(&self) -> i32 {
        self.0
    }
}

/// `setNoDelay()` on a connection: 0, or -errno.
#[napi(js_name = "nativeSetNoDelay")]
pub fn native_set_no_delay(id: u32, on: bool) -> i32 {
    match with(|s| s.transport.conn_fd(id)).flatten() {
        Some(fd) => listener::set_no_delay(fd, on)
            .map_or_else(|e| -e.raw_os_error().unwrap_or(libc::EIO), |()| 0),
        None => -libc::EBADF,
    }
}

/// `setKeepAlive()` on a connection (delay in seconds): 0, or -errno.
#[napi(js_name = "nativeSetKeepAlive")]
pub fn native_set_keep_alive(id: u32, on: bool, delay_secs: i32) -> i32 {
    match with(|s| s.transport.conn_fd(id)).flatten() {
        Some(fd) => listener::set_keep_alive(fd, on, delay_secs)
            .map_or_else(|e| -e.raw_os_error().unwrap_or(libc::EIO), |()| 0),
        None => -libc::EBADF,
    }
}
