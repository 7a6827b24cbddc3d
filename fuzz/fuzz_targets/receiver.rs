//! The Receiver: config bytes, then a byte stream (fuzz_check::receiver).
#![no_main]

#[path = "../check.rs"]
#[allow(dead_code)]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_check::receiver(data));
