//! Sec-WebSocket-Protocol / -Extensions parsers (fuzz_check::headers).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_native::fuzz_check::headers(data));
