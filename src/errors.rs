//! The protocol error table: one row per error the Receiver can report.
//!
//! Each row mirrors what ws 8.23's `receiver.js` builds in `createError`: the
//! error class, the `WS_ERR_*` code, the full message (with the
//! `Invalid WebSocket frame: ` prefix where ws adds it) and the close status
//! code ws sends. Messages that carry a number use the placeholder `%d`; the
//! number travels separately (the ERROR record's `b` field).

/// The JavaScript error class ws uses for an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    RangeError,
    Error,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RangeError => "RangeError",
            ErrorKind::Error => "Error",
        }
    }
}

/// Identifies a row of [`ERROR_TABLE`]. The discriminant is the id JS sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorId {
    Rsv2Rsv3 = 1,
    Rsv1 = 2,
    InvalidOpcode = 3,
    ExpectedFin = 4,
    InvalidControlPayloadLength = 5,
    ExpectedMask = 6,
    UnexpectedMask = 7,
    UnsupportedDataPayloadLength = 8,
    MaxPayloadExceeded = 9,
    TooManyFragments = 10,
    TooManyPieces = 11,
    InvalidUtf8 = 12,
    InvalidCloseCode = 13,
    // permessage-deflate: what zlib says about a compressed message that is
    // not a valid deflate stream (Node's zlib error messages, which ws
    // passes on).
    InflateBlockType = 14,
    InflateStoredLengths = 15,
    InflateTooManySymbols = 16,
    InflateCodeLengthsSet = 17,
    InflateBitLengthRepeat = 18,
    InflateLiteralLengthsSet = 19,
    InflateDistancesSet = 20,
    InflateLiteralLengthCode = 21,
    InflateDistanceCode = 22,
    InflateDistanceTooFarBack = 23,
    InflateMissingEndOfBlock = 24,
    InflateOther = 25,
}

/// One row of the error table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    pub id: ErrorId,
    pub kind: ErrorKind,
    /// ws's `err.code`.
    pub code: &'static str,
    /// ws's `err.message`, with `%d` where a number goes.
    pub message: &'static str,
    /// The close code ws sends for this error.
    pub status_code: u16,
}

const fn row(
    id: ErrorId,
    kind: ErrorKind,
    code: &'static str,
    message: &'static str,
    status_code: u16,
) -> ErrorInfo {
    ErrorInfo {
        id,
        kind,
        code,
        message,
        status_code,
    }
}

use ErrorKind::{Error as E, RangeError as R};

/// All rows, in id order (row `i` has id `i + 1`).
pub const ERROR_TABLE: [ErrorInfo; 25] = [
    row(
        ErrorId::Rsv2Rsv3,
        R,
        "WS_ERR_UNEXPECTED_RSV_2_3",
        "Invalid WebSocket frame: RSV2 and RSV3 must be clear",
        1002,
    ),
    row(
        ErrorId::Rsv1,
        R,
        "WS_ERR_UNEXPECTED_RSV_1",
        "Invalid WebSocket frame: RSV1 must be clear",
        1002,
    ),
    row(
        ErrorId::InvalidOpcode,
        R,
        "WS_ERR_INVALID_OPCODE",
        "Invalid WebSocket frame: invalid opcode %d",
        1002,
    ),
    row(
        ErrorId::ExpectedFin,
        R,
        "WS_ERR_EXPECTED_FIN",
        "Invalid WebSocket frame: FIN must be set",
        1002,
    ),
    row(
        ErrorId::InvalidControlPayloadLength,
        R,
        "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
        "Invalid WebSocket frame: invalid payload length %d",
        1002,
    ),
    row(
        ErrorId::ExpectedMask,
        R,
        "WS_ERR_EXPECTED_MASK",
        "Invalid WebSocket frame: MASK must be set",
        1002,
    ),
    row(
        ErrorId::UnexpectedMask,
        R,
        "WS_ERR_UNEXPECTED_MASK",
        "Invalid WebSocket frame: MASK must be clear",
        1002,
    ),
    row(
        ErrorId::UnsupportedDataPayloadLength,
        R,
        "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
        "Unsupported WebSocket frame: payload length > 2^53 - 1",
        1009,
    ),
    row(
        ErrorId::MaxPayloadExceeded,
        R,
        "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
        "Max payload size exceeded",
        1009,
    ),
    row(
        ErrorId::TooManyFragments,
        R,
        "WS_ERR_TOO_MANY_BUFFERED_PARTS",
        "Too many message fragments",
        1008,
    ),
    row(
        ErrorId::TooManyPieces,
        R,
        "WS_ERR_TOO_MANY_BUFFERED_PARTS",
        "Too many buffered chunks",
        1008,
    ),
    row(
        ErrorId::InvalidUtf8,
        E,
        "WS_ERR_INVALID_UTF8",
        "Invalid WebSocket frame: invalid UTF-8 sequence",
        1007,
    ),
    row(
        ErrorId::InvalidCloseCode,
        R,
        "WS_ERR_INVALID_CLOSE_CODE",
        "Invalid WebSocket frame: invalid status code %d",
        1002,
    ),
    inflate_row(ErrorId::InflateBlockType, "invalid block type"),
    inflate_row(
        ErrorId::InflateStoredLengths,
        "invalid stored block lengths",
    ),
    inflate_row(
        ErrorId::InflateTooManySymbols,
        "too many length or distance symbols",
    ),
    inflate_row(ErrorId::InflateCodeLengthsSet, "invalid code lengths set"),
    inflate_row(ErrorId::InflateBitLengthRepeat, "invalid bit length repeat"),
    inflate_row(
        ErrorId::InflateLiteralLengthsSet,
        "invalid literal/lengths set",
    ),
    inflate_row(ErrorId::InflateDistancesSet, "invalid distances set"),
    inflate_row(
        ErrorId::InflateLiteralLengthCode,
        "invalid literal/length code",
    ),
    inflate_row(ErrorId::InflateDistanceCode, "invalid distance code"),
    inflate_row(
        ErrorId::InflateDistanceTooFarBack,
        "invalid distance too far back",
    ),
    inflate_row(
        ErrorId::InflateMissingEndOfBlock,
        "invalid code -- missing end-of-block",
    ),
    inflate_row(ErrorId::InflateOther, "invalid deflate data"),
];

/// A row for an invalid deflate stream: a plain `Error` with zlib's code
/// (JS adds Node's `errno`, -3), closing with 1007 as ws does.
const fn inflate_row(id: ErrorId, message: &'static str) -> ErrorInfo {
    row(id, E, "Z_DATA_ERROR", message, 1007)
}

impl ErrorId {
    /// The table row for this id.
    pub fn info(self) -> &'static ErrorInfo {
        // Ids are 1-based and dense; the table test checks the layout.
        let index = (self as u32 - 1) as usize;
        &ERROR_TABLE[index]
    }

    /// The row for zlib's message about an invalid deflate stream.
    pub fn from_inflate_message(message: Option<&str>) -> ErrorId {
        match message {
            // zlib-rs words one case differently from zlib.
            Some("invalid distance code too far back") => ErrorId::InflateDistanceTooFarBack,
            Some(m) => ERROR_TABLE
                .iter()
                .find(|row| row.code == "Z_DATA_ERROR" && row.message == m)
                .map_or(ErrorId::InflateOther, |row| row.id),
            None => ErrorId::InflateOther,
        }
    }

    /// The row with this numeric id, if any.
    pub fn from_u32(id: u32) -> Option<ErrorId> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        ERROR_TABLE.get(index).map(|row| row.id)
    }
}

/// A protocol error as the Receiver reports it: the row and the number that
/// fills the row's `%d` (0 when the message has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    pub id: ErrorId,
    pub arg: u32,
}

impl ProtocolError {
    pub fn new(id: ErrorId) -> Self {
        ProtocolError { id, arg: 0 }
    }

    pub fn with_arg(id: ErrorId, arg: u32) -> Self {
        ProtocolError { id, arg }
    }

    /// The full message, as ws words it.
    pub fn message(&self) -> String {
        self.id.info().message.replace("%d", &self.arg.to_string())
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_in_order() {
        for (i, row) in ERROR_TABLE.iter().enumerate() {
            assert_eq!(row.id as u32, i as u32 + 1);
            assert_eq!(row.id.info(), row);
            assert_eq!(ErrorId::from_u32(i as u32 + 1), Some(row.id));
        }
        assert_eq!(ErrorId::from_u32(0), None);
        assert_eq!(ErrorId::from_u32(ERROR_TABLE.len() as u32 + 1), None);
    }

    #[test]
    fn messages_fill_placeholder() {
        let e = ProtocolError::with_arg(ErrorId::InvalidOpcode, 5);
        assert_eq!(e.message(), "Invalid WebSocket frame: invalid opcode 5");
        let e = ProtocolError::new(ErrorId::MaxPayloadExceeded);
        assert_eq!(e.to_string(), "Max payload size exceeded");
    }

    #[test]
    fn inflate_messages() {
        assert_eq!(
            ErrorId::from_inflate_message(Some("invalid block type")),
            ErrorId::InflateBlockType
        );
        assert_eq!(
            ErrorId::from_inflate_message(Some("invalid distance code too far back")),
            ErrorId::InflateDistanceTooFarBack
        );
        assert_eq!(ErrorId::from_inflate_message(None), ErrorId::InflateOther);
        assert_eq!(
            ErrorId::from_inflate_message(Some("unknown")),
            ErrorId::InflateOther
        );
    }

    #[test]
    fn kinds_and_status_codes() {
        assert_eq!(ErrorId::InvalidUtf8.info().kind, ErrorKind::Error);
        assert_eq!(ErrorId::InvalidUtf8.info().status_code, 1007);
        assert_eq!(ErrorId::TooManyFragments.info().status_code, 1008);
        assert_eq!(ErrorId::TooManyPieces.info().status_code, 1008);
        assert_eq!(ErrorId::MaxPayloadExceeded.info().status_code, 1009);
        assert_eq!(
            ErrorId::UnsupportedDataPayloadLength.info().status_code,
            1009
        );
        for row in ERROR_TABLE.iter() {
            if row.code == "Z_DATA_ERROR" {
                assert_eq!((row.kind, row.status_code), (ErrorKind::Error, 1007));
            } else if row.id != ErrorId::InvalidUtf8 {
                assert_eq!(row.kind, ErrorKind::RangeError);
            }
        }
    }
}
