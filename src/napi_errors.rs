//! Tables JS reads once at load: the protocol errors (`errorTable()`), the
//! record types and flags (`constants()`), and which copy of the addon this
//! is (`instanceId()`).

use napi_derive::napi;

use crate::errors::ERROR_TABLE;

#[napi(object)]
pub struct ErrorTableEntry {
    pub id: u32,
    /// `'RangeError'` or `'Error'`.
    pub kind: String,
    /// ws's `WS_ERR_*` code.
    pub code: String,
    /// ws's message, `%d` where the ERROR record's number goes.
    pub message: String,
    /// The close code ws sends.
    #[napi(js_name = "statusCode")]
    pub status_code: u32,
}

#[napi(js_name = "errorTable")]
pub fn error_table() -> Vec<ErrorTableEntry> {
    ERROR_TABLE
        .iter()
        .map(|row| ErrorTableEntry {
            id: row.id as u32,
            kind: row.kind.as_str().to_owned(),
            code: row.code.to_owned(),
            message: row.message.to_owned(),
            status_code: u32::from(row.status_code),
        })
        .collect()
}

/// `constants()`: the record types and frame flags (src/records.rs), read
/// once at load, as `{ NAME: value }`.
#[napi(js_name = "constants")]
pub fn constants() -> std::collections::HashMap<String, u32> {
    crate::records::ALL
        .iter()
        .map(|&(name, value)| (name.to_owned(), value))
        .collect()
}

/// Tells this copy of the addon from another one loaded in the same
/// process (two package directories): the address of one of its statics,
/// as a string. The same copy loaded twice (a test runner that resets its
/// module registry) gives the same value, and shares its native state.
#[napi(js_name = "instanceId")]
pub fn instance_id() -> String {
    static MARK: u8 = 0;
    format!("{:x}", std::ptr::addr_of!(MARK) as usize)
}
