//! Opening handshake helpers: `Sec-WebSocket-Accept` and request validation
//! in ws 8.23's order and words (`websocket-server.js` `handleUpgrade`).

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
    let version = req.version.map_or(f64::NAN, js_string_to_number);
    if version != 13.0 && version != 8.0 {
        return Some(INVALID_VERSION);
    }
    None
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

/// ECMAScript whitespace and line terminators (what `String.prototype.trim`
/// and `ToNumber` strip).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{0009}'
            | '\u{000A}'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{000D}'
            | '\u{0020}'
            | '\u{00A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// JavaScript's `+string` (ECMAScript StringToNumber): whitespace trimmed,
/// empty is 0, `0x`/`0o`/`0b` integers, decimal literals with optional sign,
/// fraction and exponent, `Infinity`; anything else is NaN. ws compares
/// `+req.headers['sec-websocket-version']` with 13 and 8, so `' 13'`,
/// `'13.0'`, `'0xd'` and `'1.3e1'` are all version 13 there, and here.
pub fn js_string_to_number(s: &str) -> f64 {
    let s = s.trim_matches(is_js_whitespace);
    if s.is_empty() {
        return 0.0;
    }
    let b = s.as_bytes();
    if let [b'0', p, digits @ ..] = b {
        let radix = match p {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            if digits.is_empty() {
                return f64::NAN;
            }
            let mut v = 0f64;
            for &d in digits {
                match (d as char).to_digit(radix) {
                    Some(x) => v = v * f64::from(radix) + f64::from(x),
                    None => return f64::NAN,
                }
            }
            return v;
        }
    }
    let (sign, body) = match b {
        [b'+', rest @ ..] => (1.0, rest),
        [b'-', rest @ ..] => (-1.0, rest),
        _ => (1.0, b),
    };
    if body == b"Infinity" {
        return sign * f64::INFINITY;
    }
    if !is_decimal_literal(body) {
        return f64::NAN;
    }
    // The grammar check leaves only forms Rust's parser reads the same way.
    s.parse::<f64>().unwrap_or(f64::NAN)
}

/// `DecimalDigits . DecimalDigits? Exponent?`, `. DecimalDigits Exponent?`
/// or `DecimalDigits Exponent?` (no sign, no separators).
fn is_decimal_literal(b: &[u8]) -> bool {
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(b);
    let mut rest = b.get(int..).unwrap_or_default();
    let mut frac = 0;
    if let [b'.', tail @ ..] = rest {
        frac = digits(tail);
        rest = tail.get(frac..).unwrap_or_default();
    }
    if int == 0 && frac == 0 {
        return false;
    }
    match rest {
        [] => true,
        [b'e' | b'E', tail @ ..] => {
            let tail = match tail {
                [b'+' | b'-', t @ ..] => t,
                t => t,
            };
            !tail.is_empty() && digits(tail) == tail.len()
        }
        _ => false,
    }
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
    fn js_to_number() {
        let n = js_string_to_number;
        for s in [
            "13",
            " 13 ",
            "\t13\n",
            "+13",
            "13.0",
            "13.",
            "1.3e1",
            "130e-1",
            "0xd",
            "0XD",
            "0o15",
            "0b1101",
            "013",
            "\u{feff}13\u{3000}",
        ] {
            assert_eq!(n(s), 13.0, "{s:?}");
        }
        for s in [
            "0x", "0x1g", "-0xd", "13a", "1_3", "1e", "e1", ".", "+", "inf", "infinity", "NaN",
            "13 13", "１３",
        ] {
            assert!(n(s).is_nan(), "{s:?}");
        }
        assert_eq!(n(""), 0.0);
        assert_eq!(n("   "), 0.0);
        assert_eq!(n(".5"), 0.5);
        assert_eq!(n("-8"), -8.0);
        assert_eq!(n("Infinity"), f64::INFINITY);
        assert_eq!(n("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(n("8.000000000000001"), 8.000000000000002);
        assert_eq!(n("8.0000000000000001"), 8.0);
    }
}
