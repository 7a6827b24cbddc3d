//! Sec-WebSocket-Protocol / -Extensions parsers (fuzz_check::headers).
#![no_main]

#[path = "../check.rs"]
#[allow(dead_code)]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_check::headers(data));
