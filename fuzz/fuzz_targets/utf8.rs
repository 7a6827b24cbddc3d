//! The streaming UTF-8 validator against std (fuzz_check::utf8).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_native::fuzz_check::utf8(data));
