//! ws-native: the Rust core of a WebSocket library for Node.js.
#![deny(clippy::all)]

use napi_derive::napi;

/// Placeholder until the core lands.
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
