//! Helpers shared by the N-API exports: throwing ws-shaped errors (plain
//! `Error` / `RangeError` / `SyntaxError` / `TypeError` objects with no
//! `code` property, unlike napi-rs's default errors) and guarding against
//! aliased JS memory.

use std::ffi::CStr;
use std::ptr;

use napi::{sys, Env, Error, Status};

/// Which global error constructor to use.
#[derive(Clone, Copy)]
pub(crate) enum JsErrorClass {
    Error,
    RangeError,
    SyntaxError,
    TypeError,
}

impl JsErrorClass {
    fn name(self) -> &'static CStr {
        match self {
            JsErrorClass::Error => c"Error",
            JsErrorClass::RangeError => c"RangeError",
            JsErrorClass::SyntaxError => c"SyntaxError",
            JsErrorClass::TypeError => c"TypeError",
        }
    }
}

/// Throws `new <class>(message)` and returns the error to hand back to
/// napi-rs (marked as already pending, so it is not thrown twice). Falls back
/// to napi-rs's own error if the object cannot be built.
pub(crate) fn throw(env: &Env, class: JsErrorClass, message: &str) -> Error {
    let raw = env.raw();
    let Ok(len) = isize::try_from(message.len()) else {
        return Error::new(Status::InvalidArg, message.to_owned());
    };
    let mut msg = ptr::null_mut();
    let mut global = ptr::null_mut();
    let mut ctor = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: `raw` is the env of the N-API call in progress, on its own
    // thread. Every out-pointer is a live local; the message is passed with
    // its byte length (no NUL needed) and the constructor name is a
    // NUL-terminated static string. Each call runs only if the previous one
    // succeeded, so no null handle is ever passed on.
    let thrown = unsafe {
        sys::napi_create_string_utf8(raw, message.as_ptr().cast(), len, &mut msg)
            == sys::Status::napi_ok
            && sys::napi_get_global(raw, &mut global) == sys::Status::napi_ok
            && sys::napi_get_named_property(raw, global, class.name().as_ptr(), &mut ctor)
                == sys::Status::napi_ok
            && sys::napi_new_instance(raw, ctor, 1, &msg, &mut err) == sys::Status::napi_ok
            && sys::napi_throw(raw, err) == sys::Status::napi_ok
    };
    if thrown {
        Error::new(Status::PendingException, message.to_owned())
    } else {
        Error::new(Status::GenericFailure, message.to_owned())
    }
}

/// True when two byte ranges of JS memory overlap (then handing both to Rust
/// as slices, one of them mutable, would alias).
pub(crate) fn overlaps(a: *const u8, a_len: usize, b: *const u8, b_len: usize) -> bool {
    if a_len == 0 || b_len == 0 {
        return false;
    }
    let (a, b) = (a as usize, b as usize);
    a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// A JS number option as a count: NaN, negative or absent means 0 (no limit);
/// fractions are dropped; huge values saturate.
pub(crate) fn count_option(v: Option<f64>) -> u64 {
    match v {
        Some(x) if x >= 1.0 => {
            if x >= u64::MAX as f64 {
                u64::MAX
            } else {
                x as u64
            }
        }
        _ => 0,
    }
}
