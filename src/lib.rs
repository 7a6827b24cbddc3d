//! ws-native: the Rust core of a WebSocket library for Node.js.
//!
//! The protocol core is sans-I/O (bytes in, events out; messages in, bytes
//! out) and usable without N-API:
//!
//! - [`receiver`]: the receiving state machine (see docs/binding.md),
//! - [`frame`]: frame layout and the frame encoder,
//! - [`mask`], [`utf8`], [`close`]: masking, streaming UTF-8 validation,
//!   close payloads,
//! - [`handshake`], [`subprotocol`], [`extension`]: opening-handshake
//!   helpers and header parsers,
//! - [`deflate`], [`permessage_deflate`]: permessage-deflate compression
//!   state and negotiation,
//! - [`errors`]: the protocol error table.
//!
//! The `napi_*` modules are the thin N-API surface over it.
#![deny(clippy::all)]

pub mod close;
pub mod deflate;
pub mod errors;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod permessage_deflate;
pub mod receiver;
pub mod records;
pub mod subprotocol;
pub mod token;
#[cfg(all(unix, not(fuzzing)))]
#[cfg_attr(test, allow(dead_code))]
pub mod transport;
pub mod utf8;

// The deterministic fuzzing pass and the harnesses it shares with the
// cargo-fuzz targets live in fuzz/ (smoke.rs, check.rs); `cargo test` runs
// the pass as a module of the crate, where `ws_native::` names the crate.
#[cfg(test)]
extern crate self as ws_native;
#[cfg(test)]
#[path = "../fuzz/smoke.rs"]
mod fuzz_smoke;

// The exports are reached only through N-API registration, which unit test
// builds do not see. Fuzzing builds (executables that drive the sans-I/O
// core only) leave them and the transport out: Node provides their N-API
// and libuv symbols, which an executable cannot link.
#[cfg(not(fuzzing))]
#[cfg_attr(test, allow(dead_code))]
mod napi_deflate;
#[cfg(not(fuzzing))]
#[cfg_attr(test, allow(dead_code))]
mod napi_encode;
#[cfg(not(fuzzing))]
#[cfg_attr(test, allow(dead_code))]
mod napi_errors;
#[cfg(not(fuzzing))]
#[cfg_attr(test, allow(dead_code))]
mod napi_handshake;
#[cfg(all(unix, not(fuzzing)))]
#[cfg_attr(test, allow(dead_code))]
mod napi_native;
#[cfg(not(fuzzing))]
#[cfg_attr(test, allow(dead_code))]
mod napi_receiver;
#[cfg(not(fuzzing))]
#[cfg_attr(test, allow(dead_code))]
mod napi_util;
