//! The streaming UTF-8 validator against std (fuzz_check::utf8).
#![no_main]

#[path = "../check.rs"]
#[allow(dead_code)]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_check::utf8(data));
