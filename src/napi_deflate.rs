//! permessage-deflate exports: `negotiateDeflate` (ws's accept rules and
//! texts), `class Deflater` (compresses outgoing messages, one call per
//! message or fragment, on the main thread or on libuv's thread pool) and
//! `class Inflater` (a standalone decompressor, for
//! `PerMessageDeflate#decompress`; connections inflate inside `Receiver`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{AsyncTask, BufferSlice, Either, Uint8ArraySlice};
use napi::ScopedTask;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;

use crate::deflate::{Compressor, Decompressor, DeflateOptions, InflateError, DEFAULT_WINDOW_BITS};
use crate::errors::ErrorId;
use crate::extension::ParamValue;
use crate::napi_util::{count_option, throw, JsErrorClass};
use crate::permessage_deflate::{
    self, BitsOption, ErrorClass, FlagOption, NegotiationOptions, Value,
};

/// Up to this size, a buffer is copied into a new JS Buffer and the Rust
/// one reused; above, the Rust allocation becomes the Buffer's memory.
const COPY_LIMIT: usize = 64 * 1024;
/// The largest scratch buffer kept between calls.
const MAX_SCRATCH: usize = 256 * 1024;

thread_local! {
    /// The output buffer of `compress` and `inflate`, shared by every
    /// Deflater and Inflater of the thread (the calls are synchronous), so
    /// that idle connections hold none.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn take_scratch() -> Vec<u8> {
    SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

fn give_scratch(buf: Option<Vec<u8>>) {
    if let Some(buf) = buf.filter(|b| b.capacity() <= MAX_SCRATCH) {
        SCRATCH.with(|s| *s.borrow_mut() = buf);
    }
}

/// Turns bytes into a JS Buffer: copied when small (the Vec is returned,
/// to be reused), else handed over without a copy.
pub(crate) fn hand_over(
    env: &Env,
    mut data: Vec<u8>,
) -> Result<(BufferSlice<'_>, Option<Vec<u8>>)> {
    if data.len() <= COPY_LIMIT {
        let buffer = BufferSlice::copy_from(env, &data)?;
        data.clear();
        return Ok((buffer, Some(data)));
    }
    // A growing output may have up to twice the room it needed; the rest
    // would stay allocated as long as the Buffer lives.
    if data.capacity() - data.len() > data.len() / 8 {
        data.shrink_to_fit();
    }
    Ok((BufferSlice::from_data(env, data)?, None))
}

/// The server's or client's options as ws tests them. js/ maps each
/// `*NoContextTakeover` to `false` (exactly `false`), `true` (truthy) or
/// `undefined`, and each `*MaxWindowBits` to its number, `false`, or
/// `undefined` (anything else).
#[napi(object)]
pub struct DeflateNegotiationOptions {
    #[napi(js_name = "serverNoContextTakeover")]
    pub server_no_context_takeover: Option<bool>,
    #[napi(js_name = "clientNoContextTakeover")]
    pub client_no_context_takeover: Option<bool>,
    #[napi(js_name = "serverMaxWindowBits")]
    pub server_max_window_bits: Option<Either<f64, bool>>,
    #[napi(js_name = "clientMaxWindowBits")]
    pub client_max_window_bits: Option<Either<f64, bool>>,
}

/// The agreed parameters, in ws's order (`true` or a window size), and the
/// `Sec-WebSocket-Extensions` value that states them.
#[napi(object)]
pub struct DeflateAgreement {
    pub params: Vec<(String, Either<bool, u32>)>,
    pub header: String,
}

fn flag(v: Option<bool>) -> FlagOption {
    match v {
        Some(true) => FlagOption::True,
        Some(false) => FlagOption::False,
        None => FlagOption::Unset,
    }
}

fn bits(env: &Env, name: &str, v: Option<Either<f64, bool>>) -> Result<BitsOption> {
    match v {
        Some(Either::A(n)) => {
            if n.fract() == 0.0 && (8.0..=15.0).contains(&n) {
                Ok(BitsOption::Bits(n as u8))
            } else {
                Err(throw(
                    env,
                    JsErrorClass::RangeError,
                    &format!("The \"{name}\" option must be an integer from 8 to 15"),
                ))
            }
        }
        Some(Either::B(false)) => Ok(BitsOption::False),
        _ => Ok(BitsOption::Unset),
    }
}

type JsParams = Vec<(String, Either<bool, String>)>;

/// Accepts an offer as ws's server does (`isServer`), or checks a server's
/// response as ws's client does. `configurations` are the permessage-deflate
/// entries of `parseExtensions()`. Throws an Error or a TypeError with ws's
/// message when the offer or response is refused.
#[napi(js_name = "negotiateDeflate")]
pub fn negotiate_deflate(
    env: Env,
    configurations: Vec<JsParams>,
    is_server: bool,
    options: Option<DeflateNegotiationOptions>,
) -> Result<DeflateAgreement> {
    let opts = match options {
        Some(o) => NegotiationOptions {
            server_no_context_takeover: flag(o.server_no_context_takeover),
            client_no_context_takeover: flag(o.client_no_context_takeover),
            server_max_window_bits: bits(&env, "serverMaxWindowBits", o.server_max_window_bits)?,
            client_max_window_bits: bits(&env, "clientMaxWindowBits", o.client_max_window_bits)?,
        },
        None => NegotiationOptions::default(),
    };
    let offers: Vec<_> = configurations
        .into_iter()
        .map(|params| {
            params
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Either::A(_) => ParamValue::True,
                        Either::B(s) => ParamValue::Str(s),
                    };
                    (k, v)
                })
                .collect()
        })
        .collect();
    let result = if is_server {
        permessage_deflate::accept_as_server(&offers, &opts)
    } else {
        permessage_deflate::accept_as_client(&offers, &opts)
    };
    let agreed = result.map_err(|e| {
        let class = match e.class {
            ErrorClass::Error => JsErrorClass::Error,
            ErrorClass::TypeError => JsErrorClass::TypeError,
        };
        throw(&env, class, &e.message)
    })?;
    Ok(DeflateAgreement {
        header: permessage_deflate::format(&agreed),
        params: agreed
            .params
            .iter()
            .map(|&(name, value)| {
                let v = match value {
                    Value::True => Either::A(true),
                    Value::Bits(b) => Either::B(u32::from(b)),
                };
                (name.to_owned(), v)
            })
            .collect(),
    })
}

#[napi(object)]
pub struct DeflaterOptions {
    /// This endpoint's agreed window bits (8..=15), 15 if absent.
    #[napi(js_name = "windowBits")]
    pub window_bits: Option<f64>,
    /// Reset the context after each message.
    #[napi(js_name = "noContextTakeover")]
    pub no_context_takeover: Option<bool>,
    /// zlib's level (-1..=9), memLevel (1..=9) and strategy (0..=4).
    pub level: Option<f64>,
    #[napi(js_name = "memLevel")]
    pub mem_level: Option<f64>,
    pub strategy: Option<f64>,
}

/// The compressor state of one connection, shared with the thread-pool job
/// that may be using it (`compressAsync`). js/ never starts a job while
/// another one runs for the same connection, nor compresses synchronously
/// meanwhile (later messages wait for the job), so the lock is never
/// contended in practice; it is what makes that safe regardless.
struct Shared {
    compressor: Mutex<Compressor>,
    /// `close()` was called while a job held the compressor: the job frees
    /// the context when it is done.
    close_pending: AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::result::Result<MutexGuard<'_, Compressor>, Error> {
        // A poisoned lock means a job panicked mid-message: the stream is
        // unusable.
        self.compressor
            .lock()
            .map_err(|_| Error::new(Status::GenericFailure, "the compressor is unusable"))
    }
}

/// The compressor of one connection.
#[napi(js_name = "Deflater")]
pub struct NativeDeflater {
    shared: Arc<Shared>,
}

/// `Deflater#compressAsync`: one message (or fragment) compressed on libuv's
/// thread pool.
pub struct CompressTask {
    shared: Arc<Shared>,
    /// A copy of the data: the caller may reuse its buffer at once.
    input: Vec<u8>,
    fin: bool,
}

impl<'task> ScopedTask<'task> for CompressTask {
    type Output = Vec<u8>;
    type JsValue = BufferSlice<'task>;

    fn compute(&mut self) -> Result<Vec<u8>> {
        let input = std::mem::take(&mut self.input);
        let mut out = Vec::new();
        let mut compressor = self.shared.lock()?;
        let result = compressor.compress(&input, self.fin, &mut out);
        if self.shared.close_pending.swap(false, Ordering::AcqRel) {
            compressor.close();
        }
        drop(compressor);
        drop(input);
        result.map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        Ok(out)
    }

    fn resolve(&mut self, env: &'task Env, output: Vec<u8>) -> Result<BufferSlice<'task>> {
        let (buffer, reusable) = hand_over(env, output)?;
        // On the main thread: the Vec may serve the next synchronous call.
        give_scratch(reusable);
        Ok(buffer)
    }
}

#[napi]
impl NativeDeflater {
    /// Throws a RangeError for options out of zlib's ranges.
    #[napi(constructor)]
    pub fn new(env: Env, options: Option<DeflaterOptions>) -> Result<Self> {
        let defaults = DeflateOptions::default();
        let (opts, nct) = match options {
            Some(o) => {
                // Truncated as Node's zlib does (it passes C ints).
                let int = |v: Option<f64>, d: i32| match v {
                    Some(x) if x.is_finite() => x as i32,
                    Some(x) if x.is_nan() => d,
                    Some(x) if x > 0.0 => i32::MAX,
                    Some(_) => i32::MIN,
                    None => d,
                };
                let window = int(o.window_bits, i32::from(DEFAULT_WINDOW_BITS));
                let opts = DeflateOptions {
                    level: int(o.level, defaults.level),
                    mem_level: int(o.mem_level, defaults.mem_level),
                    strategy: int(o.strategy, defaults.strategy),
                    window_bits: u8::try_from(window).unwrap_or(0),
                };
                (opts, o.no_context_takeover.unwrap_or(false))
            }
            None => (defaults, false),
        };
        opts.validate()
            .map_err(|e| throw(&env, JsErrorClass::RangeError, &e.to_string()))?;
        Ok(NativeDeflater {
            shared: Arc::new(Shared {
                compressor: Mutex::new(Compressor::new(opts, nct)),
                close_pending: AtomicBool::new(false),
            }),
        })
    }

    /// Compresses a message (or one fragment of it: `fin` false) and
    /// returns the payload to send with RSV1 on the message's first frame.
    #[napi]
    pub fn compress<'e>(
        &self,
        env: &'e Env,
        data: Uint8ArraySlice<'_>,
        fin: bool,
    ) -> Result<BufferSlice<'e>> {
        let mut out = take_scratch();
        let result = self
            .shared
            .lock()
            .map_err(|e| throw(env, JsErrorClass::Error, &e.reason))?
            .compress(data.as_ref(), fin, &mut out);
        result.map_err(|e| throw(env, JsErrorClass::Error, &e.to_string()))?;
        let (buffer, reusable) = hand_over(env, out)?;
        give_scratch(reusable);
        Ok(buffer)
    }

    /// `compress` on libuv's thread pool: returns a Promise of the payload.
    /// The data is copied first. Calls must not overlap, nor overlap with
    /// `compress` (js/ queues them): the stream's state is per message.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn compress_async(&self, data: Uint8ArraySlice<'_>, fin: bool) -> AsyncTask<CompressTask> {
        AsyncTask::new(CompressTask {
            shared: Arc::clone(&self.shared),
            input: data.as_ref().to_vec(),
            fin,
        })
    }

    /// Frees the compression context (ws's `cleanup()`); if a job is using
    /// it, once the job is done. (`&self`: napi-rs keeps the object
    /// borrowed while a `compressAsync` promise is pending.)
    #[napi]
    pub fn close(&self) {
        match self.shared.compressor.try_lock() {
            Ok(mut compressor) => compressor.close(),
            Err(_) => self.shared.close_pending.store(true, Ordering::Release),
        }
    }
}

#[napi(object)]
pub struct InflaterOptions {
    /// The peer's agreed window bits (8..=15), 15 if absent.
    #[napi(js_name = "windowBits")]
    pub window_bits: Option<f64>,
    /// The peer resets its context after each message.
    #[napi(js_name = "noContextTakeover")]
    pub no_context_takeover: Option<bool>,
    /// The largest inflated message; 0 (or absent) = no limit.
    #[napi(js_name = "maxPayload")]
    pub max_payload: Option<f64>,
}

/// A standalone decompressor (ws's `PerMessageDeflate#decompress`).
#[napi(js_name = "Inflater")]
pub struct NativeInflater {
    inner: Decompressor,
    max_payload: u64,
}

#[napi]
impl NativeInflater {
    #[napi(constructor)]
    pub fn new(options: Option<InflaterOptions>) -> Self {
        let (bits, nct, max) = match options {
            Some(o) => (
                u8::try_from(count_option(o.window_bits)).unwrap_or(DEFAULT_WINDOW_BITS),
                o.no_context_takeover.unwrap_or(false),
                count_option(o.max_payload),
            ),
            None => (DEFAULT_WINDOW_BITS, false, 0),
        };
        NativeInflater {
            inner: Decompressor::new(bits, nct),
            max_payload: max,
        }
    }

    /// Inflates a fragment of a compressed message; with `fin`, the message
    /// ends and the inflated fragment is returned. Returns an error id of
    /// `errorTable()` instead when the data is invalid or the message
    /// exceeds `maxPayload` (the message is then dropped).
    #[napi]
    pub fn inflate<'e>(
        &mut self,
        env: &'e Env,
        data: Uint8ArraySlice<'_>,
        fin: bool,
    ) -> Result<Either<BufferSlice<'e>, u32>> {
        let mut out = take_scratch();
        let mut result = self
            .inner
            .inflate(data.as_ref(), &mut out, self.max_payload);
        if result.is_ok() && fin {
            result = self.inner.finish(&mut out, self.max_payload);
        }
        if let Err(e) = result {
            let id = match e {
                InflateError::TooLarge => ErrorId::MaxPayloadExceeded,
                InflateError::Data(message) => ErrorId::from_inflate_message(message),
            };
            self.inner.close();
            out.clear();
            give_scratch(Some(out));
            return Ok(Either::B(id as u32));
        }
        let (buffer, reusable) = hand_over(env, out)?;
        give_scratch(reusable);
        Ok(Either::A(buffer))
    }

    /// Frees the decompression context.
    #[napi]
    pub fn close(&mut self) {
        self.inner.close();
    }
}
