//! `encodeFrames`: one call per batch of outgoing frames.

use napi::bindgen_prelude::{Uint32ArraySlice, Uint8ArraySlice};
use napi::{Env, Result};
use napi_derive::napi;

use crate::frame;
use crate::napi_util::{overlaps, throw, JsErrorClass};

/// Writes `count` frames described by `meta` (4 u32 per frame: flags,
/// length, mask offset, payload index) into `out`; returns the bytes
/// written. Throws a RangeError for an invalid frame or a bad argument.
///
/// All buffers arrive as raw typed-array views (`Uint8ArraySlice`, which
/// holds a pointer, not a Rust reference), so the same payload Buffer may
/// appear several times; only `out` becomes a mutable slice, after checking
/// that it shares no memory with the inputs.
#[napi(js_name = "encodeFrames")]
pub fn encode_frames(
    env: Env,
    mut out: Uint8ArraySlice<'_>,
    payloads: Vec<Uint8ArraySlice<'_>>,
    meta: Uint32ArraySlice<'_>,
    count: u32,
    masks: Option<Uint8ArraySlice<'_>>,
) -> Result<u32> {
    let meta: &[u32] = meta.as_ref();
    let masks: Option<&[u8]> = masks.as_ref().map(|m| m.as_ref());
    let out_ptr = out.as_ref().as_ptr();
    let out_len = out.as_ref().len();
    let aliased = payloads
        .iter()
        .map(|p| p.as_ref())
        .chain(masks)
        .any(|p| overlaps(out_ptr, out_len, p.as_ptr(), p.len()))
        || overlaps(
            out_ptr,
            out_len,
            meta.as_ptr().cast(),
            std::mem::size_of_val(meta),
        );
    if aliased {
        return Err(throw(
            &env,
            JsErrorClass::RangeError,
            "The output buffer must not share memory with the inputs",
        ));
    }
    // SAFETY: `out` views live typed-array memory for the duration of this
    // synchronous call (no JS runs meanwhile), and the check above makes this
    // the only view of those bytes: no payload, mask or meta slice overlaps.
    let out: &mut [u8] = unsafe { out.as_mut() };
    let written = frame::encode_frames(
        out,
        |i| payloads.get(i as usize).map(|p| p.as_ref()),
        meta,
        count as usize,
        masks,
    )
    .map_err(|e| throw(&env, JsErrorClass::RangeError, &e.to_string()))?;
    u32::try_from(written).map_err(|_| {
        throw(
            &env,
            JsErrorClass::RangeError,
            "The encoded frames exceed 4 GiB",
        )
    })
}
