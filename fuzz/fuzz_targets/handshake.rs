//! validate_upgrade and accept_key (fuzz_check::handshake).
#![no_main]

#[path = "../check.rs"]
#[allow(dead_code)]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_check::handshake(data));
