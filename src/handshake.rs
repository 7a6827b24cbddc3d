//! Opening handshake helpers: `Sec-WebSocket-Accept` and request validation
//! in ws 8.23.1's order and words (`websocket-server.js` `handleUpgrade`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// RFC 6455's magic GUID.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(sha1(key + GUID))`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    STANDARD.encode(h.finalize())
}

/// A refused upgrade: HTTP status and ws's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub message: &'static str,
}

const INVALID_METHOD: Rejection = Rejection {
    status: 405,
    message: "Invalid HTTP method",
};
const INVALID_UPGRADE: Rejection = Rejection {
    status: 400,
    message: "Invalid Upgrade header",
};
const INVALID_CONNECTION: Rejection = Rejection {
    status: 400,
    message: "Invalid Connection header",
};
const INVALID_KEY: Rejection = Rejection {
    status: 400,
    message: "Missing or invalid Sec-WebSocket-Key header",
};
const INVALID_VERSION: Rejection = Rejection {
    status: 400,
    message: "Missing or invalid Sec-WebSocket-Version header",
};

/// The headers `validate_upgrade` looks at (None = header absent).
#[derive(Clone, Copy, Debug, Default)]
pub struct UpgradeRequest<'a> {
    pub method: Option<&'a str>,
    pub upgrade: Option<&'a str>,
    pub key: Option<&'a str>,
    pub version: Option<&'a str>,
    pub connection: Option<&'a str>,
}

/// Checks an upgrade request in ws's order: method, Upgrade, (with
/// `check_connection`: Connection), key, version. None when valid.
pub fn validate_upgrade(req: &UpgradeRequest<'_>, check_connection: bool) -> Option<Rejection> {
    if req.method != Some("GET") {
        return Some(INVALID_METHOD);
    }
    if !req.upgrade.is_some_and(is_websocket) {
        return Some(INVALID_UPGRADE);
    }
    if check_connection && !req.connection.is_some_and(has_upgrade_token) {
        return Some(INVALID_CONNECTION);
    }
    if !req.key.is_some_and(is_valid_key) {
        return Some(INVALID_KEY);
    }
    if !req.version.is_some_and(is_supported_version) {
        return Some(INVALID_VERSION);
    }
    None
}

/// ws 8.23.1: `version !== '13' && version !== '8'`, the value exactly as
/// Node's parser leaves it (8.23.0 compared `+version`, which also took
/// `'013'`, `'13.0'` or `'0xd'`).
fn is_supported_version(version: &str) -> bool {
    version == "13" || version == "8"
}

/// ws: `upgrade.toLowerCase() === 'websocket'` (the whole value; a list such
/// as `websocket, foo` is refused). Unicode lowercasing as in JS, so that
/// e.g. U+212A KELVIN SIGN lowercases to `k` like it does there.
fn is_websocket(value: &str) -> bool {
    if value.is_ascii() {
        value.eq_ignore_ascii_case("websocket")
    } else {
        value.to_lowercase() == "websocket"
    }
}

/// A comma-separated `Connection` value containing the `upgrade` token
/// (case-insensitive, optional whitespace around elements).
fn has_upgrade_token(value: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case("upgrade"))
}

/// ws's `keyRegex`: `/^[+/0-9A-Za-z]{22}==$/`.
fn is_valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b.ends_with(b"==")
        && b.iter()
            .take(22)
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_and_tungstenite() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        for key in [
            "dGhlIHNhbXBsZSBub25jZQ==",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "x",
            "",
        ] {
            assert_eq!(
                accept_key(key),
                tungstenite::handshake::derive_accept_key(key.as_bytes())
            );
        }
    }

    fn req<'a>(
        method: Option<&'a str>,
        upgrade: Option<&'a str>,
        key: Option<&'a str>,
        version: Option<&'a str>,
    ) -> UpgradeRequest<'a> {
        UpgradeRequest {
            method,
            upgrade,
            key,
            version,
            connection: Some("Upgrade"),
        }
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn validates_in_ws_order() {
        let v = |r: UpgradeRequest<'_>| validate_upgrade(&r, false).map(|r| (r.status, r.message));
        assert_eq!(
            v(req(Some("GET"), Some("websocket"), Some(KEY), Some("13"))),
            None
        );
        assert_eq!(
            v(req(Some("GET"), Some("WebSocket"), Some(KEY), Some("8"))),
            None
        );
        assert_eq!(
            v(req(Some("POST"), None, None, None)),
            Some((405, "Invalid HTTP method"))
        );
        assert_eq!(
            v(req(Some("get"), Some("websocket"), Some(KEY), Some("13"))),
            Some((405, "Invalid HTTP method"))
        );
        assert_eq!(
            v(req(None, Some("websocket"), Some(KEY), Some("13"))),
            Some((405, "Invalid HTTP method"))
        );
        assert_eq!(
            v(req(Some("GET"), None, None, None)),
            Some((400, "Invalid Upgrade header"))
        );
        assert_eq!(
            v(req(
                Some("GET"),
                Some("websocket, foo"),
                Some(KEY),
                Some("13")
            )),
            Some((400, "Invalid Upgrade header"))
        );
        assert_eq!(
            v(req(Some("GET"), Some("websocket "), Some(KEY), Some("13"))),
            Some((400, "Invalid Upgrade header"))
        );
        assert_eq!(
            v(req(
                Some("GET"),
                Some("websoc\u{212A}et"),
                Some(KEY),
                Some("13")
            )),
            None
        );
        assert_eq!(
            v(req(Some("GET"), Some("websocket"), None, None)),
            Some((400, "Missing or invalid Sec-WebSocket-Key header"))
        );
        assert_eq!(
            v(req(Some("GET"), Some("websocket"), Some(KEY), None)),
            Some((400, "Missing or invalid Sec-WebSocket-Version header"))
        );
        assert_eq!(
            v(req(Some("GET"), Some("websocket"), Some(KEY), Some("12"))),
            Some((400, "Missing or invalid Sec-WebSocket-Version header"))
        );
    }

    #[test]
    fn connection_check_is_optional() {
        let mut r = req(Some("GET"), Some("websocket"), Some(KEY), Some("13"));
        r.connection = Some("keep-alive");
        assert_eq!(validate_upgrade(&r, false), None);
        assert_eq!(validate_upgrade(&r, true), Some(INVALID_CONNECTION));
        r.connection = None;
        assert_eq!(validate_upgrade(&r, true), Some(INVALID_CONNECTION));
        r.connection = Some("keep-alive, Upgrade");
        assert_eq!(validate_upgrade(&r, true), None);
        r.connection = Some("UPGRADE");
        assert_eq!(validate_upgrade(&r, true), None);
        // After the Upgrade check, before the key check.
        r.connection = Some("close");
        r.key = None;
        assert_eq!(validate_upgrade(&r, true), Some(INVALID_CONNECTION));
        r.upgrade = Some("h2c");
        assert_eq!(validate_upgrade(&r, true), Some(INVALID_UPGRADE));
    }

    #[test]
    fn key_regex() {
        assert!(is_valid_key(KEY));
        assert!(is_valid_key("++++++++++++++++++++++=="));
        assert!(is_valid_key("AAAAAAAAAAAAAAAAAAAAAB==")); // non-canonical bits: ws accepts
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ==\n"));
        assert!(!is_valid_key(" dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZ-=="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ=A"));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQQ="));
        assert!(!is_valid_key("AAAAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!is_valid_key(""));
    }

    #[test]
    fn version_is_compared_as_a_string() {
        let v = |version| {
            validate_upgrade(
                &req(Some("GET"), Some("websocket"), Some(KEY), Some(version)),
                false,
            )
        };
        assert_eq!(v("13"), None);
        assert_eq!(v("8"), None);
        // All version 13 or 8 to `+value`, which ws 8.23.0 compared.
        for version in [
            "013", "13.0", "13.", "+13", "1.3e1", "0xd", "0o15", "0b1101", " 13", "13 ", "\t13",
            "08", "8.0", "0x8", "13, 13", "", "12", "१३",
        ] {
            assert_eq!(v(version), Some(INVALID_VERSION), "{version:?}");
        }
    }
}
