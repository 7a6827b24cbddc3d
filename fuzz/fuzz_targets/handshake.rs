//! validate_upgrade and accept_key (fuzz_check::handshake).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_native::fuzz_check::handshake(data));
