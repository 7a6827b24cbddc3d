//! The Receiver: config bytes, then a byte stream (fuzz_check::receiver).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_native::fuzz_check::receiver(data));
