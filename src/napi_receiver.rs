//! `class Receiver`: one `feed` call per received chunk, parsing in place
//! and reporting through a JS-owned `Uint32Array` (docs/binding.md).

use napi::bindgen_prelude::{BufferSlice, Uint32ArraySlice, Uint8ArraySlice};
use napi::{Env, Result};
use napi_derive::napi;

use crate::napi_deflate::hand_over;
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
    /// permessage-deflate: the peer's window bits (8..=15); 0 (or absent)
    /// = compression off.
    #[napi(js_name = "inflateWindowBits")]
    pub inflate_window_bits: Option<f64>,
    /// permessage-deflate: the peer resets its context after each message.
    #[napi(js_name = "inflateNoContextTakeover")]
    pub inflate_no_context_takeover: Option<bool>,
    /// Report the payloads of a message's frames that arrive in the same
    /// chunk as one PIECE (moved together in place); absent = false.
    #[napi(js_name = "mergeFrames")]
    pub merge_frames: Option<bool>,
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
            inflate_window_bits: None,
            inflate_no_context_takeover: None,
            merge_frames: None,
        });
        let clamp32 = |v| u32::try_from(count_option(v)).unwrap_or(u32::MAX);
        let mut inner = receiver::Receiver::new(Options {
            is_server: o.is_server.unwrap_or(false),
            max_payload: count_option(o.max_payload),
            skip_utf8_validation: o.skip_utf8_validation.unwrap_or(false),
            max_fragments: clamp32(o.max_fragments),
            max_pieces: clamp32(o.max_pieces),
        });
        // Out-of-range window bits are clamped to 9..=15 (js/ validates).
        let bits = u8::try_from(count_option(o.inflate_window_bits)).unwrap_or(u8::MAX);
        if bits != 0 {
            let nct = o.inflate_no_context_takeover.unwrap_or(false);
            inner.set_inflate(Some((bits, nct)));
        }
        inner.set_merge_frames(o.merge_frames.unwrap_or(false));
        NativeReceiver { inner }
    }

    /// Turns `mergeFrames` on or off; it applies to the frames parsed from
    /// then on.
    #[napi(js_name = "setMergeFrames")]
    pub fn set_merge_frames(&mut self, on: bool) {
        self.inner.set_merge_frames(on);
    }

    /// The payload of the next INFLATED record of the last `feed` call, as
    /// a Buffer of its own (`undefined` if none is left).
    #[napi(js_name = "takeInflated")]
    pub fn take_inflated<'e>(&mut self, env: &'e Env) -> Result<Option<BufferSlice<'e>>> {
        let Some(data) = self.inner.take_inflated() else {
            return Ok(None);
        };
        let (buffer, reusable) = hand_over(env, data)?;
        if let Some(buf) = reusable {
            self.inner.recycle(buf);
        }
        Ok(Some(buffer))
    }

    /// Where each frame's output ends in the payload `takeInflated` returned
    /// last, for the frames that inflated to something: writes as many ends
    /// as `ends` holds and returns how many there are (0 for an empty
    /// message, 1 when one frame made all of it).
    #[napi(js_name = "inflatedFrameEnds")]
    pub fn inflated_frame_ends(&self, mut ends: Uint32ArraySlice<'_>) -> u32 {
        // SAFETY: the typed array's memory stays alive for this synchronous
        // call, during which no JS runs; no other view of it is held here.
        let out = unsafe { ends.as_mut() };
        u32::try_from(self.inner.inflated_frame_ends(out)).unwrap_or(u32::MAX)
    }

    /// Frees the decompression state (the connection is gone); later feeds
    /// are ignored as after a close frame.
    #[napi]
    pub fn release(&mut self) {
        self.inner.release();
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
