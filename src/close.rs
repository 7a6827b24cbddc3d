//! Close frames: status code validity and payload parsing, as ws 8.23 does
//! it (`validation.js` `isValidStatusCode`, `receiver.js` `controlMessage`).

use crate::errors::{ErrorId, ProtocolError};
use crate::utf8;

/// The code reported for a close frame with an empty payload.
pub const NO_STATUS_RECEIVED: u16 = 1005;

/// True for the codes a peer may send: 1000-1014 except 1004, 1005 and 1006,
/// and the registered/private range 3000-4999.
pub fn is_valid_status_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parses a complete close payload. Returns the status code (1005 when the
/// payload is empty); the reason is `payload[2..]`.
///
/// Checks, in ws's order: the status code, then (unless `skip_utf8`) the
/// reason's UTF-8.
pub fn parse_payload(payload: &[u8], skip_utf8: bool) -> Result<u16, ProtocolError> {
    match payload {
        [] => Ok(NO_STATUS_RECEIVED),
        [_] => Err(ProtocolError::with_arg(
            ErrorId::InvalidControlPayloadLength,
            1,
        )),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_status_code(code) {
                return Err(ProtocolError::with_arg(
                    ErrorId::InvalidCloseCode,
                    u32::from(code),
                ));
            }
            if !skip_utf8 && !utf8::is_valid(reason) {
                return Err(ProtocolError::new(ErrorId::InvalidUtf8));
            }
            Ok(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ws's predicate, written as ws writes it.
    #[allow(clippy::manual_range_contains)]
    fn ws_is_valid(code: u32) -> bool {
        (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006)
            || (code >= 3000 && code <= 4999)
    }

    #[test]
    fn status_codes_match_ws_exhaustively() {
        for code in 0..=u16::MAX {
            assert_eq!(
                is_valid_status_code(code),
                ws_is_valid(code.into()),
                "{code}"
            );
        }
    }

    #[test]
    fn payloads() {
        assert_eq!(parse_payload(&[], false), Ok(1005));
        assert_eq!(parse_payload(&[0x03, 0xe8], false), Ok(1000));
        assert_eq!(parse_payload(&[0x03, 0xe8, b'o', b'k'], false), Ok(1000));
        assert_eq!(
            parse_payload(&[0x03, 0xed], false),
            Err(ProtocolError::with_arg(ErrorId::InvalidCloseCode, 1005))
        );
        assert_eq!(
            parse_payload(&[0x03, 0xe8, 0xff], false),
            Err(ProtocolError::new(ErrorId::InvalidUtf8))
        );
        // ws skips the reason check too when skipUTF8Validation is set.
        assert_eq!(parse_payload(&[0x03, 0xe8, 0xff], true), Ok(1000));
        // The code is checked before the reason.
        assert_eq!(
            parse_payload(&[0x00, 0x00, 0xff], false),
            Err(ProtocolError::with_arg(ErrorId::InvalidCloseCode, 0))
        );
        assert_eq!(
            parse_payload(&[0x03], false),
            Err(ProtocolError::with_arg(
                ErrorId::InvalidControlPayloadLength,
                1
            ))
        );
    }
}
