//! `errorTable()`: the protocol error table for JS, read once at load.

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
