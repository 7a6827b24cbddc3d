//! `class Receiver`: one `feed` call per received chunk, parsing in place
//! and reporting through a JS-owned `Uint32Array` (docs/binding.md).

use napi::bindgen_prelude::{Uint32ArraySlice, Uint8ArraySlice};
use napi::{Env, Result};
use napi_derive::napi;

use crate::napi_util::{count_option, overlaps, throw, JsErrorClass};
use crate::receiver::{self, Options};

#[napi(object)]
pub struct ReceiverOptions {
    #[napi(js_name = "isServer")]
    pub is_server: Option<bool>,
    /// 0 (or absent) = no limit.
    #[napi(js_name = "maxPayload")]
    pub max_payload: Option<f64>,
    #[napi(js_name = "skipUtf8Validation")]
    pub skip_utf8_validation: Option<bool>,
    /// 0 (or absent) = no limit.
    #[napi(js_name = "maxFragments")]
    pub max_fragments: Option<f64>,
    /// 0 (or absent) = no limit.
    #[napi(js_name = "maxPieces")]
    pub max_pieces: Option<f64>,
}

#[napi(js_name = "Receiver")]
pub struct NativeReceiver {
    inner: receiver::Receiver,
}

#[napi]
impl NativeReceiver {
    #[napi(constructor)]
    pub fn new(options: Option<ReceiverOptions>) -> Self {
        let o = options.unwrap_or(ReceiverOptions {
            is_server: None,
            max_payload: None,
            skip_utf8_validation: None,
            max_fragments: None,
            max_pieces: None,
        });
        let clamp32 = |v| u32::try_from(count_option(v)).unwrap_or(u32::MAX);
        NativeReceiver {
            inner: receiver::Receiver::new(Options {
                is_server: o.is_server.unwrap_or(false),
                max_payload: count_option(o.max_payload),
                skip_utf8_validation: o.skip_utf8_validation.unwrap_or(false),
                max_fragments: clamp32(o.max_fragments),
                max_pieces: clamp32(o.max_pieces),
            }),
        }
    }

    /// Parses `chunk[start..]` in place; results in `events` (see
    /// docs/binding.md). Throws a RangeError on misuse (events array shorter
    /// than 8, start past the end, chunk and events sharing memory).
    #[napi]
    pub fn feed(
        &mut self,
        env: Env,
        mut chunk: Uint8ArraySlice<'_>,
        start: u32,
        mut events: Uint32ArraySlice<'_>,
    ) -> Result<()> {
        let (c, e): (&[u8], &[u32]) = (chunk.as_ref(), events.as_ref());
        if overlaps(
            c.as_ptr(),
            c.len(),
            e.as_ptr().cast(),
            std::mem::size_of_val(e),
        ) {
            return Err(throw(
                &env,
                JsErrorClass::RangeError,
                "The chunk and the events array must not share memory",
            ));
        }
        // SAFETY: both slices view live typed-array memory for the duration
        // of this synchronous call, during which no JS runs, and the check
        // above guarantees they do not overlap, so these are the only views
        // of their bytes.
        let (chunk, events) = unsafe { (chunk.as_mut(), events.as_mut()) };
        self.inner
            .feed(chunk, start as usize, events)
            .map_err(|e| throw(&env, JsErrorClass::RangeError, &e.to_string()))
    }
}
