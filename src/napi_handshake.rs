//! Handshake exports: `acceptKey`, `validateUpgrade`, `parseSubprotocols`,
//! `parseExtensions`.

use napi::bindgen_prelude::Either;
use napi::{Env, Result};
use napi_derive::napi;

use crate::extension::{self, ParamValue};
use crate::handshake::{self, UpgradeRequest};
use crate::napi_util::{throw, JsErrorClass};
use crate::subprotocol;

#[napi(js_name = "acceptKey")]
pub fn accept_key(key: String) -> String {
    handshake::accept_key(&key)
}

/// `null` when the request is a valid upgrade, else `[status, message]`.
#[napi(js_name = "validateUpgrade")]
pub fn validate_upgrade(
    method: Option<String>,
    upgrade: Option<String>,
    key: Option<String>,
    version: Option<String>,
    connection: Option<String>,
    check_connection: Option<bool>,
) -> Option<(u32, String)> {
    let req = UpgradeRequest {
        method: method.as_deref(),
        upgrade: upgrade.as_deref(),
        key: key.as_deref(),
        version: version.as_deref(),
        connection: connection.as_deref(),
    };
    handshake::validate_upgrade(&req, check_connection.unwrap_or(false))
        .map(|r| (u32::from(r.status), r.message.to_owned()))
}

/// The protocols in order; throws a SyntaxError worded as ws's.
#[napi(js_name = "parseSubprotocols")]
pub fn parse_subprotocols(env: Env, header: String) -> Result<Vec<String>> {
    subprotocol::parse(&header).map_err(|e| throw(&env, JsErrorClass::SyntaxError, &e.0))
}

type JsParams = Vec<(String, Either<bool, String>)>;

/// `[[name, [[[param, value], ...], ...]], ...]` with value `true` or a
/// string; throws a SyntaxError worded as ws's.
#[napi(js_name = "parseExtensions")]
pub fn parse_extensions(env: Env, header: String) -> Result<Vec<(String, Vec<JsParams>)>> {
    let offers =
        extension::parse(&header).map_err(|e| throw(&env, JsErrorClass::SyntaxError, &e.0))?;
    Ok(offers
        .into_iter()
        .map(|(name, list)| {
            let list = list
                .into_iter()
                .map(|params| {
                    params
                        .into_iter()
                        .map(|(k, v)| {
                            let v = match v {
                                ParamValue::True => Either::A(true),
                                ParamValue::Str(s) => Either::B(s),
                            };
                            (k, v)
                        })
                        .collect()
                })
                .collect();
            (name, list)
        })
        .collect())
}
